//! The `optlab` command line.

use crate::error::{Error, Result};
use crate::trace::{self, Dtype, TraceSpec};
use clap::{Parser, Subcommand};
use optlab_optim::{NonFinite, OptimConfig};

#[derive(Parser, Debug)]
#[command(name = "optlab", version, about = "A laboratory for first-order optimizers of deep learning")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every optimizer with its hyperparameters, defaults, valid ranges and conventions.
    Optimizers {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Test functions.
    Functions {
        #[command(subcommand)]
        command: FunctionsCommand,
    },
    /// Run one optimizer on one test function; print CSV `step,evals,loss,x0,x1,...` to stdout.
    Trace(TraceArgs),
    /// Train a network written as expressions (`xw = sigmoid(ap*xp + aq*xq + b)`) on a CSV table;
    /// print CSV `step,loss` to stdout and a summary to stderr (docs/formulas.md).
    Exprnet(crate::exprnet::ExprNetArgs),
    /// Train a network (optlab-nn on burn): log lines per epoch, CSV and loss-curve plots in --out.
    Train(Box<crate::train::TrainArgs>),
    /// Loss landscape of a trained network (a checkpoint folder of `optlab train --checkpoint`):
    /// the loss on a grid θ + a·d1 + b·d2 along filter-normalised random directions, in 1-D and
    /// 2-D, and optionally the training path on the PCA plane of the iterates (docs/landscape.md).
    Landscape(Box<crate::landscape::LandscapeArgs>),
    /// EMA of a series (default: Seattle daily temperatures) for several β, with and without bias
    /// correction, and the three momentum formulations compared: CSVs and plots in --out.
    Ema(crate::ema::EmaArgs),
    /// Benchmarks (speed against the memory-bandwidth limit and against torch).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    // ---- experiments (optlab-lab): `run` and `merge`; see crate::lab_cli ----
    /// Run an experiment file (default: the built-in experiment) into an output folder; resumes
    /// where a previous run of the same command stopped.
    Run(crate::lab_cli::RunArgs),
    /// Merge the output folders of `run --shard I/N` processes into one.
    Merge(crate::lab_cli::MergeArgs),
    /// Re-render the report (tables, plots, report.html) of an output folder from its store.
    Report(crate::lab_cli::ReportArgs),
    /// Write the sbatch scripts that run an experiment as a Slurm job array of shards and merge
    /// them (docs/cluster.md).
    Slurm(crate::slurm_cli::SlurmArgs),
    // ---- end of experiments ----
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Optimizer step time on f32 parameters next to a bandwidth probe (and torch.optim if found).
    Step {
        /// Optimizers as NAME or NAME:KEY=VALUE,... separated by spaces or ';' (default: all, plus variants).
        #[arg(long, value_delimiter = ';')]
        optimizers: Vec<String>,
        /// Layouts COUNTxSIZE, e.g. 1x10M,200x50k.
        #[arg(long, value_delimiter = ',', default_value = "1x10M,200x50k")]
        layouts: Vec<String>,
        /// Thread counts.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        threads: Vec<usize>,
        /// Timed steps per configuration (after 5 warm-up steps).
        #[arg(long, default_value_t = 15)]
        repeats: usize,
        /// Kernel instruction set: auto, base, avx2 or avx512 (results are identical; speed is not).
        #[arg(long, default_value = "auto")]
        simd: String,
        /// Python with torch for the side-by-side comparison: a path, or `none` (default: $OPTLAB_TORCH_PYTHON, else python3 if it has torch).
        #[arg(long)]
        torch: Option<String>,
        /// Hessian diagonal given to optimizers that need one (adam_curvature): H + 0.1·(i mod 5)
        /// for element i. The default keeps every |h| in (eps, 1), where adam_curvature needs no
        /// power; e.g. 2 makes it compute both powers for every element.
        #[arg(long, default_value_t = 0.5)]
        hessian: f64,
    },
    /// Peak memory (RSS) of steps of one optimizer on N f32 parameters, against parameters +
    /// gradients + the optimizer's declared state. Run it alone: it reports this process's peak.
    Memory {
        #[arg(long, default_value = "adam")]
        optimizer: String,
        /// Number of parameters (k and M suffixes allowed).
        #[arg(long, default_value = "10M")]
        params: String,
        #[arg(long, default_value_t = 10)]
        steps: usize,
    },
    /// Training samples per second of the study's networks (Adam, lr 1e-3) with 1 and 2 threads,
    /// each row in a process of its own (median and minimum of the runs, peak RSS), next to torch
    /// doing the same work; then whole `optlab train` processes on the shipped subset against
    /// torch's loop.
    Train {
        /// Rows as TASK:BATCH (tasks: mnist-mlp, mnist-cnn, cifar-cnn).
        #[arg(long, value_delimiter = ',', default_value = crate::bench_train::DEFAULT_ROWS)]
        rows: Vec<String>,
        /// Thread counts.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        threads: Vec<usize>,
        /// Timed runs per row and thread count (at least 3 for a median and a minimum).
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Samples trained per timed run (default: 32,768 for the MLP, 2,048 for the CNNs).
        #[arg(long)]
        samples: Option<usize>,
        /// Epochs of the whole-process comparison on the shipped subset (0 leaves it out).
        #[arg(long, default_value_t = 1)]
        shipped_epochs: u32,
        /// Python with torch for the side-by-side comparison: a path, or `none` (default: $OPTLAB_TORCH_PYTHON, else python3 if it has torch).
        #[arg(long)]
        torch: Option<String>,
        /// Internal: measure one row in this process (TASK:BATCH:STEPS:REPEATS) and print JSON.
        #[arg(long, hide = true)]
        child: Option<String>,
    },
    /// Per-step overhead on a tiny problem: Adam steps on 2-D Rosenbrock with the analytic gradient.
    Tiny {
        #[arg(long, default_value_t = 10_000)]
        steps: usize,
        /// Repetitions (the median is reported).
        #[arg(long, default_value_t = 21)]
        repeats: usize,
    },
    /// Muon's step time on f32 matrices against torch.optim.Muon on the same shapes (Muon takes
    /// only matrices, so `bench step`'s vector layouts leave it out).
    Muon(crate::bench_muon::MuonArgs),
}

#[derive(Subcommand, Debug)]
pub enum FunctionsCommand {
    /// List the test functions with formula, dimension, domain and minima.
    List,
    /// Optimizers × test functions × starts: tuned learning rates, tables, trajectories and plots.
    Study(crate::study::StudyArgs),
}

#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    /// Optimizer name (see `optlab optimizers`).
    #[arg(long)]
    pub optimizer: String,
    /// Hyperparameter KEY=VALUE (repeatable), e.g. --set lr=0.01 --set amsgrad=true.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Schedule KEY=SCHEDULE (repeatable), e.g. --schedule 'lr=cosine(t_max=100)'; add @epoch for
    /// per-epoch time.
    #[arg(long = "schedule", value_name = "KEY=SCHEDULE")]
    pub schedule: Vec<String>,
    /// Test function name (see `optlab functions list`), or a formula such as
    /// 'f(x, y) = (1 - x)^2 + 100*(y - x^2)^2' (docs/formulas.md).
    #[arg(long, allow_hyphen_values = true)]
    pub function: String,
    /// Start point X,Y,... (default: the function's first default start). Use --start=-1,2 for negatives.
    #[arg(long, allow_hyphen_values = true, value_name = "X,Y,...")]
    pub start: Option<String>,
    /// Dimension of a d-dimensional function (sphere, styblinski_tang, rosenbrock, rastrigin, ackley).
    #[arg(long)]
    pub dim: Option<usize>,
    /// Number of optimizer steps.
    #[arg(long, default_value_t = 100)]
    pub steps: u64,
    /// Print every K-th step (step 0 and the last step are always printed).
    #[arg(long, default_value_t = 1)]
    pub every: u64,
    /// Element type: f64 or f32.
    #[arg(long, default_value = "f64")]
    pub dtype: String,
    /// What to do with a non-finite gradient: error, skip or unchecked.
    #[arg(long, default_value = "error")]
    pub non_finite: String,
    /// Clip gradients by global norm before every step (torch's clip_grad_norm_; > 0).
    #[arg(long, allow_hyphen_values = true)]
    pub clip_norm: Option<f64>,
    /// Clamp gradient elements to [-V, V] before every step (torch's clip_grad_value_; > 0).
    #[arg(long, allow_hyphen_values = true)]
    pub clip_value: Option<f64>,
    /// Weight averaging (SWA/EMA): the printed points are the averaged iterates.
    #[command(flatten)]
    pub average: crate::average_args::AverageArgs,
}

/// Parses `X,Y,...`.
pub fn parse_point(s: &str) -> Result<Vec<f64>> {
    s.split(',')
        .map(|t| {
            t.trim().parse::<f64>().map_err(|_| Error::Usage(format!("--start `{s}`: `{}` is not a number", t.trim())))
        })
        .collect()
}

pub use optlab_lab::study::repeated_key;

/// Refuses a key given twice to the repeatable option `option` (`--set lr=0.1 --set lr=0.5`),
/// which would otherwise silently keep the last value: "--set lr given twice".
pub fn check_repeated_keys(option: &str, texts: &[String]) -> Result<()> {
    match repeated_key(texts.iter().map(String::as_str)) {
        Some(k) => Err(Error::Usage(format!("{option} {k} given twice; give each key once"))),
        None => Ok(()),
    }
}

/// Builds an optimizer configuration from a name and `--set`/`--schedule` texts; a key given
/// twice to `--set` or to `--schedule` is refused.
pub fn optim_config(name: &str, set: &[String], schedules: &[String]) -> Result<OptimConfig> {
    // Check the name first, so an unknown optimizer is reported as such.
    optlab_optim::registry::spec(name)?;
    check_repeated_keys("--set", set)?;
    check_repeated_keys("--schedule", schedules)?;
    let mut cfg = OptimConfig::new(name);
    for s in set {
        cfg = cfg.set_assignment(s).map_err(|e| Error::Usage(format!("--set: {e}")))?;
    }
    for s in schedules {
        cfg = cfg.schedule_assignment(s).map_err(|e| Error::Usage(format!("--schedule: {e}")))?;
    }
    Ok(cfg)
}

impl TraceArgs {
    pub fn to_spec(&self) -> Result<(TraceSpec, Dtype)> {
        let mut optimizer = optim_config(&self.optimizer, &self.set, &self.schedule)?;
        optimizer.non_finite = self.non_finite.parse::<NonFinite>()?;
        optimizer.clip_norm = self.clip_norm;
        optimizer.clip_value = self.clip_value;
        optimizer.check_clipping().map_err(|e| Error::Usage(format!("--clip-norm/--clip-value: {e}")))?;
        optimizer.average = self.average.to_config()?;
        let start = self.start.as_deref().map(parse_point).transpose()?;
        let spec = TraceSpec {
            optimizer,
            function: self.function.clone(),
            dim: self.dim,
            start,
            steps: self.steps,
            every: self.every,
        };
        Ok((spec, self.dtype.parse()?))
    }
}

fn functions_list() -> String {
    let mut out = String::new();
    for name in optlab_functions::NAMES {
        let f = optlab_functions::by_name(name, None).expect("every listed function builds");
        let minima: Vec<String> = f.minima().iter().map(|m| format!("({})", fmt_point(m))).collect();
        out.push_str(&format!(
            "{:17} {}-D{}  f = {}\n  domain {}  minima {}  f* = {}\n",
            name,
            f.dim(),
            if optlab_functions::is_variable_dim(name) { " (any --dim)" } else { "" },
            f.formula(),
            f.domain().iter().map(|(a, b)| format!("[{a}, {b}]")).collect::<Vec<_>>().join("×"),
            if minima.is_empty() { "none".to_string() } else { minima.join(" ") },
            f.min_value().map(|v| format!("{v}")).unwrap_or_else(|| "none (unbounded below)".into()),
        ));
    }
    out
}

fn fmt_point(p: &[f64]) -> String {
    p.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(", ")
}

/// Runs the CLI; returns the process exit code.
pub fn main_with(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Optimizers { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&crate::describe::optimizers_json()).expect("JSON"));
            } else {
                print!("{}", crate::describe::optimizers_text());
            }
            Ok(())
        }
        Command::Functions { command: FunctionsCommand::List } => {
            print!("{}", functions_list());
            Ok(())
        }
        Command::Functions { command: FunctionsCommand::Study(args) } => crate::study::cli_run(&args),
        Command::Bench { command } => run_bench(command),
        Command::Run(args) => crate::lab_cli::run(&args),
        Command::Merge(args) => crate::lab_cli::merge(&args),
        Command::Report(args) => crate::lab_cli::report(&args),
        Command::Slurm(args) => crate::slurm_cli::slurm(&args),
        Command::Train(args) => crate::train::cli_run(&args),
        Command::Landscape(args) => crate::landscape::cli_run(&args),
        Command::Exprnet(args) => crate::exprnet::cli_run(&args),
        Command::Ema(args) => crate::ema::cli_run(&args),
        Command::Trace(args) => {
            let (spec, dtype) = args.to_spec()?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let r = trace::run_csv(&spec, dtype, &mut out);
            use std::io::Write;
            let _ = out.flush();
            r
        }
    }
}

fn run_bench(cmd: BenchCommand) -> Result<()> {
    use crate::bench;
    match cmd {
        BenchCommand::Step { optimizers, layouts, threads, repeats, simd, torch, hessian } => {
            let _ = bench::SIMD.set(simd.parse()?);
            eprintln!("kernels: {:?}", bench::SIMD.get().copied().unwrap_or_default().resolve());
            if repeats == 0 || threads.contains(&0) {
                return Err(Error::Usage("--repeats and --threads must be at least 1".into()));
            }
            if !hessian.is_finite() {
                return Err(Error::Usage(format!("--hessian must be a finite number, not {hessian}")));
            }
            let variants = if optimizers.is_empty() {
                eprintln!(
                    "not in the default list (they take only matrices; see `optlab bench muon`): {}",
                    optlab_optim::measure::matrix_only().join(", ")
                );
                bench::default_variants()
            } else {
                optimizers
                    .iter()
                    .flat_map(|s| s.split_whitespace())
                    .map(bench::Variant::parse)
                    .collect::<Result<Vec<_>, _>>()?
            };
            let shapes = layouts.iter().map(|s| bench::Shape::parse(s)).collect::<Result<Vec<_>, _>>()?;
            let torch_python = bench::find_torch_python(torch.as_deref());
            let torch_script =
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/bench/torch_step.py");
            match &torch_python {
                Some(p) => eprintln!("torch.optim measured with {p} ({})", torch_script.display()),
                None => eprintln!("no Python with torch found: torch columns omitted (set --torch PATH)"),
            }
            let b = bench::StepBench { variants, shapes, threads, repeats, hessian, torch_python, torch_script };
            bench::run_step_bench(&b, &mut std::io::stdout())?;
            Ok(())
        }
        BenchCommand::Muon(a) => crate::bench_muon::run(&a, &mut std::io::stdout()),
        BenchCommand::Memory { optimizer, params, steps } => {
            let v = bench::Variant::parse(&optimizer)?;
            let n = bench::Shape::parse(&format!("1x{params}"))?.sizes[0];
            let (base, peak, expected) = bench::memory(&v, n, steps)?;
            let mb = |b: u64| b as f64 / 1e6;
            println!(
                "{} on {n} f32 parameters, {steps} steps: peak RSS {:.1} MB = {:.1} MB before allocating + {:.1} MB; parameters + gradients + declared state = {:.1} MB (extra {:.1} MB, {:.1}%)",
                v.label(),
                mb(peak),
                mb(base),
                mb(peak - base),
                mb(expected),
                mb(peak - base) - mb(expected),
                100.0 * ((peak - base) as f64 / expected as f64 - 1.0)
            );
            Ok(())
        }
        BenchCommand::Train { rows, threads, repeats, samples, shipped_epochs, torch, child } => {
            use crate::bench_train;
            if let Some(spec) = child {
                return bench_train::child(&spec, &mut std::io::stdout());
            }
            if repeats < 3 {
                return Err(Error::Usage(format!(
                    "--repeats {repeats}: at least 3 runs are needed (median and minimum)"
                )));
            }
            if threads.is_empty() || threads.contains(&0) {
                return Err(Error::Usage("--threads: every thread count must be at least 1".into()));
            }
            if samples == Some(0) {
                return Err(Error::Usage("--samples 0: a run must train at least one sample".into()));
            }
            let rows = rows.iter().map(|s| bench_train::TrainRow::parse(s, samples)).collect::<Result<Vec<_>, _>>()?;
            let torch_python = bench::find_torch_python(torch.as_deref());
            let torch_script = bench_train::torch_script();
            match &torch_python {
                Some(p) => eprintln!("torch measured with {p} ({})", torch_script.display()),
                None => eprintln!("no Python with torch found: torch columns omitted (set --torch PATH)"),
            }
            let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
            let b = bench_train::TrainBench {
                rows,
                threads,
                repeats,
                torch_python,
                torch_script,
                shipped_epochs: (shipped_epochs > 0).then_some(shipped_epochs),
                root,
            };
            bench_train::run(&b, &mut std::io::stdout())
        }
        BenchCommand::Tiny { steps, repeats } => {
            let mut times = Vec::new();
            let mut end = [0.0; 2];
            for _ in 0..repeats.max(1) {
                let (t, x) = bench::tiny_rosenbrock(steps)?;
                times.push(t);
                end = x;
            }
            times.sort_by(|a, b| a.total_cmp(b));
            let med = times[times.len() / 2];
            println!(
                "{steps} Adam steps (lr 0.01) on 2-D Rosenbrock from (-1.5, 2) with the analytic gradient: median {:.3} ms total, {:.0} ns/step (min {:.3} ms over {} runs); end point ({:.6}, {:.6})",
                med * 1e3,
                med * 1e9 / steps as f64,
                times[0] * 1e3,
                times.len(),
                end[0],
                end[1]
            );
            Ok(())
        }
    }
}
