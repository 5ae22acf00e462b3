//! `optlab run` and `optlab merge`: experiments with optlab-lab's plan, runner and store.

use std::path::{Path, PathBuf};

use optlab_lab::runner::{self, RunOptions};
use optlab_lab::store::{self, Store, DB_FILE};
use optlab_lab::{spec, Plan, Shard};

use crate::error::{Error, Result};
use crate::lab_tasks::LabTasks;

/// The built-in experiment of `optlab run` without a file.
pub const DEFAULT_EXPERIMENT: &str = include_str!("../../../experiments/default.toml");

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Experiment file (TOML, see docs/experiments.md). Default: the built-in experiment
    /// (experiments/default.toml).
    pub experiment: Option<PathBuf>,
    /// Output folder (default: results/<experiment name>, or results/<name>-shard-I-of-N).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only the runs whose plan index is I-1 modulo N (I is 1-based), e.g. from a Slurm
    /// array job: --shard $((SLURM_ARRAY_TASK_ID+1))/$SLURM_ARRAY_TASK_COUNT.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Discard the results already in the output folder (also those of another experiment).
    #[arg(long)]
    pub force: bool,
    /// Check the experiment file and print the number of runs; run nothing.
    #[arg(long)]
    pub check: bool,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Output folder of `optlab run` (holds results.sqlite); the report is written beside it.
    pub dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Output folder of the merged results (created; runs already there are kept).
    #[arg(long)]
    pub out: PathBuf,
    /// Output folders of the shards.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
}

/// Reads an experiment file, or the built-in one.
pub fn load_experiment(path: Option<&Path>) -> Result<spec::Experiment> {
    Ok(match path {
        Some(p) => spec::load(p)?,
        None => spec::parse(DEFAULT_EXPERIMENT, "experiments/default.toml (built in)", "default")?,
    })
}

/// `optlab run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let exp = load_experiment(args.experiment.as_deref())?;
    let plan = Plan::new(&exp)?;
    spec::check_data_paths(&exp)?;
    let shard = args.shard.as_deref().map(str::parse::<Shard>).transpose()?;
    if args.check {
        println!(
            "{}: {} runs in {} comparisons{}",
            exp.file,
            plan.runs.len(),
            exp.comparisons.len(),
            shard
                .map(|s| format!(" ({} in shard {}/{})", plan.select(Some(s)).len(), s.index, s.count))
                .unwrap_or_default()
        );
        return Ok(());
    }
    let out = match (&args.out, shard) {
        (Some(o), _) => o.clone(),
        (None, None) => PathBuf::from("results").join(&plan.info.name),
        (None, Some(s)) => {
            PathBuf::from("results").join(format!("{}-shard-{}-of-{}", plan.info.name, s.index, s.count))
        }
    };
    if args.force {
        store::remove_store(&out)?;
    }
    let mut st = Store::open_dir(&out)?;
    let jobs = args.jobs.unwrap_or_else(runner::default_jobs);
    if jobs == 0 {
        return Err(Error::Usage("--jobs must be at least 1".into()));
    }
    let opts = RunOptions { jobs, shard, progress: true };
    let selected = plan.select(shard).len();
    // Network runs one at a time on every core; test-function runs on one thread each.
    let tasks = LabTasks::for_cores(runner::default_jobs());
    eprintln!(
        "experiment `{}`: {selected} runs{}, {jobs} workers (network runs one at a time on {} threads), output {}",
        plan.info.name,
        shard.map(|s| format!(" (shard {}/{} of {})", s.index, s.count, plan.runs.len())).unwrap_or_default(),
        tasks.threads.unwrap_or(1),
        out.display()
    );
    let summary = runner::run(&plan, &mut st, &tasks, &opts)?;
    println!("{summary}");
    if shard.is_some() {
        println!("merge the shards with: optlab merge --out DIR SHARD_DIR...");
        return Ok(());
    }
    finish(&st, &out)
}

/// After a complete run or a merge: renders the report and prints its path.
fn finish(st: &Store, out: &Path) -> Result<()> {
    let info = st.experiment()?;
    let runs = st.runs()?;
    let report = optlab_report::render(&info, &runs, out)?;
    println!("{} runs of experiment `{}` in {}", runs.len(), info.name, out.join(DB_FILE).display());
    println!("report: {}", report.html.display());
    Ok(())
}

/// `optlab report DIR`: re-renders the tables, plots and HTML from the store, running nothing.
pub fn report(args: &ReportArgs) -> Result<()> {
    let db = args.dir.join(DB_FILE);
    if !db.is_file() {
        return Err(Error::Usage(format!(
            "`{}` has no {DB_FILE}: give the output folder of `optlab run`",
            args.dir.display()
        )));
    }
    let st = Store::open(&db)?;
    finish(&st, &args.dir)
}

/// `optlab merge`.
pub fn merge(args: &MergeArgs) -> Result<()> {
    let mut dest = Store::open_dir(&args.out)?;
    for dir in &args.shards {
        let db = dir.join(DB_FILE);
        if !db.is_file() {
            return Err(Error::Usage(format!("shard folder `{}` has no {DB_FILE}", dir.display())));
        }
        if db.canonicalize().ok() == dest.path().canonicalize().ok() {
            return Err(Error::Usage(format!("shard folder `{}` is the output folder", dir.display())));
        }
        let src = Store::open(&db)?;
        let stats = dest.merge_from(&src)?;
        println!("{}: {} runs added, {} already present", dir.display(), stats.added, stats.skipped);
    }
    finish(&dest, &args.out)
}
