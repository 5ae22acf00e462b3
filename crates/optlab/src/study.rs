//! `optlab functions study`: the command line of the test-function study. The study itself (an
//! experiment with a tuning protocol, run into the store of `--out`) is `optlab_lab::study`; its
//! tables and pictures are `optlab_report::study_tables` and `optlab_report::study_plots` (see
//! `docs/study.md`).

use std::path::PathBuf;
use std::time::Instant;

use crate::error::Result;
use optlab_lab::store::remove_store;
use optlab_lab::study::{lr_grid as study_lr_grid, run_study, time_limit as study_time_limit, StudyConfig};
use optlab_report::{study_plots, study_tables};

/// `optlab functions study` options.
#[derive(clap::Args, Debug, Clone)]
pub struct StudyArgs {
    /// Test functions, comma-separated (default: the 12 classic 2-D landscapes).
    #[arg(long, value_delimiter = ',')]
    pub functions: Option<Vec<String>>,
    /// A test function written as a formula, e.g. `--function 'f(x, y) = x^2 + 3*y^2; min (0, 0)'`
    /// (repeatable; added to --functions, or instead of the default list; docs/formulas.md).
    #[arg(long = "function")]
    pub formulas: Vec<String>,
    /// Optimizers, comma-separated, each `name[:key=value...]` (e.g. `sgd:momentum=0.9`; setting lr
    /// fixes it instead of tuning it). Default: adam_curvature, adam, adadelta, rmsprop,
    /// adam_scheduled_betas, adam_skew, adam_third, sgd:momentum=0.9.
    #[arg(long, value_delimiter = ',')]
    pub optimizers: Option<Vec<String>>,
    /// Random evaluation starts per function, in addition to its default starts.
    #[arg(long, default_value_t = 20)]
    pub starts: usize,
    /// Random tuning starts per function (learning-rate protocol; a separate random stream).
    #[arg(long, default_value_t = 8)]
    pub tune_starts: usize,
    /// Step budget of every run.
    #[arg(long, default_value_t = 2000)]
    pub steps: u64,
    /// Tolerance on f: a run succeeds when |f − f*| <= tol·max(1, |f*|).
    #[arg(long, default_value_t = 1e-6)]
    pub tol: f64,
    /// Tolerance on θ: a run stalls when max|Δθ| <= xtol·max(1, max|θ|) on 10 consecutive steps.
    #[arg(long, default_value_t = 1e-8)]
    pub xtol: f64,
    /// Seed of the random starts.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Smallest learning rate of the grid.
    #[arg(long, default_value_t = 1e-4)]
    pub lr_min: f64,
    /// Largest learning rate of the grid.
    #[arg(long, default_value_t = 1.0)]
    pub lr_max: f64,
    /// Points of the log-spaced learning-rate grid.
    #[arg(long, default_value_t = 13)]
    pub lr_points: usize,
    /// Wall-time budget of each run, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub time_limit: f64,
    /// Runs at a time (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output directory; its results.sqlite holds the runs, so running the same study again
    /// into it runs nothing new.
    #[arg(long, default_value = "out/study")]
    pub out: PathBuf,
    /// Discard the runs stored in the output directory first.
    #[arg(long)]
    pub force: bool,
    /// Do not draw plots (tables and CSVs only).
    #[arg(long)]
    pub no_plots: bool,
}

impl StudyArgs {
    pub fn to_config(&self) -> Result<StudyConfig> {
        let d = StudyConfig::default();
        let lr_grid = study_lr_grid(self.lr_min, self.lr_max, self.lr_points)?;
        Ok(StudyConfig {
            optimizers: self.optimizers.clone().unwrap_or(d.optimizers),
            functions: match (&self.functions, self.formulas.is_empty()) {
                (None, true) => d.functions,
                (None, false) => self.formulas.clone(),
                (Some(f), _) => f.iter().chain(&self.formulas).cloned().collect(),
            },
            random_starts: self.starts,
            tune_starts: self.tune_starts,
            steps: self.steps,
            ftol: self.tol,
            xtol: self.xtol,
            patience: d.patience,
            seed: self.seed,
            lr_grid,
            time_limit: Some(study_time_limit(self.time_limit)?),
            threads: self.threads,
            progress: true,
        })
    }
}

/// `optlab functions study`: runs the study into the store of `--out` (what is stored is not run
/// again), writes tables, CSVs and plots from the stored runs, prints a summary.
pub fn cli_run(args: &StudyArgs) -> Result<()> {
    let cfg = args.to_config()?;
    if args.force {
        remove_store(&args.out)?;
    }
    let t0 = Instant::now();
    let study = run_study(&cfg, &args.out)?;
    let t_write = Instant::now();
    let written = study_tables::write_all(&study, &args.out)?;
    let write_time = t_write.elapsed();
    let t_plot = Instant::now();
    let plots = if args.no_plots { Vec::new() } else { study_plots::write_all(&study, &args.out.join("plots"))? };
    let plot_time = t_plot.elapsed();
    let tm = &study.timing;
    println!("optlab functions study: wrote into {}", args.out.display());
    println!("  runs: {}", study.ran.db.display());
    for (what, path) in &written {
        println!("  {what}: {}", path.display());
    }
    if !plots.is_empty() {
        println!(
            "  plots: {} files in {} (contour and loss curves, PNG and SVG, per function)",
            plots.len(),
            args.out.join("plots").display()
        );
    }
    println!(
        "{} optimizers × {} functions; runs: {} tuning + {} evaluation ({} run now, {} stored before); steps: {} + {} = {}",
        study.optimizers.len(),
        study.functions.len(),
        tm.tune_runs,
        tm.eval_runs,
        study.ran.ran,
        study.ran.skipped,
        tm.tune_steps,
        tm.eval_steps,
        tm.steps()
    );
    println!(
        "run time, added over the runs: tuning {:.2} s + evaluation {:.2} s ({:.0} ns per step; {} run{} at a time); \
         tables {:.2} s; plots {:.2} s; wall time of this call {:.2} s",
        tm.tune.as_secs_f64(),
        tm.eval.as_secs_f64(),
        tm.ns_per_step(),
        tm.threads,
        if tm.threads == 1 { "" } else { "s" },
        write_time.as_secs_f64(),
        plot_time.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    print!("{}", study_tables::summary_text(&study));
    Ok(())
}
