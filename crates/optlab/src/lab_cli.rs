//! `optlab run` and `optlab merge`: experiments with optlab-lab's plan, runner and store.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use optlab_lab::runner::{self, RunOptions};
use optlab_lab::store::{self, PlanEntry, Store, DB_FILE};
use optlab_lab::{spec, Plan, Shard};

use crate::error::{Error, Result};
use optlab_lab::lab_tasks::LabTasks;

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
    /// Keep the runs stored as failed (by default they are run again; diverged runs are kept).
    #[arg(long)]
    pub no_retry_failed: bool,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Output folder of `optlab run` (holds results.sqlite); the report is written beside it.
    pub dir: PathBuf,
    /// Re-render every --every seconds while the experiment runs (the page reloads itself by a
    /// meta refresh); ends with the final report once every run of the plan is stored.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between renders (and the page's reload interval) with --watch.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub every: u32,
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
        if let Some(w) = &plan.waiting {
            println!("of which {} tuning runs; {w}", w.tuning);
        }
        return Ok(());
    }
    // Every argument is checked before anything is created or removed.
    let jobs = args.jobs.unwrap_or_else(runner::default_jobs);
    if jobs == 0 {
        return Err(Error::Usage("--jobs must be at least 1".into()));
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
    let opts = RunOptions { jobs, shard, progress: true, retry_failed: !args.no_retry_failed };
    let selected = plan.select(shard).len();
    // Network runs one at a time on every core; test-function runs on one thread each.
    let tasks = LabTasks::for_cores(runner::default_jobs());
    eprintln!(
        "experiment `{}`: {selected} runs{}{}, {jobs} workers (network runs one at a time on {} threads), output {}",
        plan.info.name,
        if plan.waiting.is_some() { " before the tuning protocol's evaluation runs" } else { "" },
        shard.map(|s| format!(" (shard {}/{} of {})", s.index, s.count, plan.runs.len())).unwrap_or_default(),
        tasks.threads.unwrap_or(1),
        out.display()
    );
    let done = runner::run_experiment(&exp, &mut st, &tasks, &opts)?;
    let summary = done.summary();
    println!("{summary}");
    if let Some(w) = done.waiting() {
        println!("{w}");
        if shard.is_some() {
            println!(
                "phase two (evaluation) needs every shard's tuning runs: merge the shards (optlab merge --out DIR SHARD_DIR...), \
                 then run each shard again with --out on a copy of the merged folder (or run the merged folder without --shard)"
            );
        }
    }
    if summary.elsewhere > 0 {
        println!(
            "{} runs are being run by another process: `optlab report {}` once it has finished",
            summary.elsewhere,
            out.display()
        );
    }
    if shard.is_some() {
        println!("merge the shards with: optlab merge --out DIR SHARD_DIR...");
        return Ok(());
    }
    finish(&st, &out, &runner::plan_entries(&done.plan), None)
}

/// After a complete run or a merge: renders the report of the runs of `plan` (all stored runs
/// when the store recorded no plan: one of an older optlab) and prints its path, how many
/// stored runs belong to older versions of the experiment and are left out, and how many of the
/// plan's runs are missing.
fn finish(st: &Store, out: &Path, plan: &[PlanEntry], live: Option<u32>) -> Result<()> {
    let info = st.experiment()?;
    let stored = st.runs()?;
    let total = stored.len();
    let runs: Vec<_> = if plan.is_empty() {
        stored
    } else {
        let current: HashSet<&str> = plan.iter().map(|e| e.hash.as_str()).collect();
        stored.into_iter().filter(|r| current.contains(r.hash.as_str())).collect()
    };
    let live = live.map(|every_s| optlab_report::html::Live { every_s, stored: runs.len(), planned: plan.len() });
    let report = optlab_report::render_with(&info, &runs, out, live)?;
    println!("{} runs of experiment `{}` in {}", runs.len(), info.name, out.join(DB_FILE).display());
    if total > runs.len() {
        println!(
            "{} stored runs belong to older versions of the experiment file and are left out of the report",
            total - runs.len()
        );
    }
    if !plan.is_empty() && runs.len() < plan.len() {
        println!(
            "{} of the plan's {} runs are not in the store yet (not in the report)",
            plan.len() - runs.len(),
            plan.len()
        );
    }
    println!("report: {}", report.html.display());
    Ok(())
}

/// `optlab report DIR`: re-renders the tables, plots and HTML from the store, running nothing
/// (the store is opened read-only).
pub fn report(args: &ReportArgs) -> Result<()> {
    let db = args.dir.join(DB_FILE);
    if !db.is_file() {
        return Err(Error::Usage(format!(
            "`{}` has no {DB_FILE}: give the output folder of `optlab run`",
            args.dir.display()
        )));
    }
    if !args.watch {
        let st = Store::open_read_only(&db)?;
        return finish(&st, &args.dir, &st.plan_entries()?, None);
    }
    if args.every == 0 {
        return Err(Error::Usage("--every must be at least 1 second".into()));
    }
    loop {
        let st = Store::open_read_only(&db)?;
        let plan = st.plan_entries()?;
        let done = st.done_hashes()?;
        let missing = plan.iter().filter(|e| !done.contains(&e.hash)).count();
        if missing == 0 {
            println!("every run of the plan is stored: the final report");
            return finish(&st, &args.dir, &plan, None);
        }
        finish(&st, &args.dir, &plan, Some(args.every))?;
        drop(st);
        std::thread::sleep(std::time::Duration::from_secs(args.every.into()));
    }
}

/// `optlab merge`: the shards are opened read-only, after checking that each exists; then the
/// merged store is checked for runs of the plan that no shard had.
pub fn merge(args: &MergeArgs) -> Result<()> {
    for dir in &args.shards {
        if !dir.join(DB_FILE).is_file() {
            return Err(Error::Usage(format!("shard folder `{}` has no {DB_FILE}", dir.display())));
        }
    }
    let mut dest = Store::open_dir(&args.out)?;
    let mut shards: Vec<(String, Option<optlab_lab::Shard>)> = Vec::new();
    for dir in &args.shards {
        let db = dir.join(DB_FILE);
        if db.canonicalize().ok() == dest.path().canonicalize().ok() {
            return Err(Error::Usage(format!("shard folder `{}` is the output folder", dir.display())));
        }
        let src = Store::open_read_only(&db)?;
        let stats = dest.merge_from(&src)?;
        shards.push((dir.display().to_string(), src.shard()?));
        println!("{}: {} runs added, {} already present", dir.display(), stats.added, stats.skipped);
    }
    let plan = dest.plan_entries()?;
    for line in store::merge_warnings(&shards, &plan, &dest.done_hashes()?, &args.out) {
        eprintln!("warning: {line}");
    }
    finish(&dest, &args.out, &plan, None)
}
