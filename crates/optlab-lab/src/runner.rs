//! The runner: the plan's runs not yet in the store, on a bounded pool of worker threads, each
//! finished run committed to the store at once (by the calling thread, in one transaction).
//!
//! Safe against interruption by construction: a run is in the store completely or not at all, so
//! after Ctrl-C or `kill -9` the same command skips what is stored (by hash) and does the rest.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{LabError, Result};
use crate::plan::{Plan, Shard};
use crate::record::Status;
use crate::store::Store;
use crate::task::{make_record, RunOutput, TaskRunner};

/// How to run a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Worker threads (at least 1).
    pub jobs: usize,
    pub shard: Option<Shard>,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { jobs: default_jobs(), shard: None, progress: true }
    }
}

/// The number of cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What a call of [`run`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Runs of the plan (or of the shard).
    pub total: usize,
    /// Runs done now.
    pub ran: usize,
    /// Runs found in the store and skipped.
    pub skipped: usize,
    /// Of the runs done now: how they ended.
    pub ok: usize,
    pub diverged: usize,
    pub failed: usize,
    pub db: PathBuf,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} runs: {} ran ({} ok, {} diverged, {} failed), {} skipped (already done); results in {}",
            self.total,
            self.ran,
            self.ok,
            self.diverged,
            self.failed,
            self.skipped,
            self.db.display()
        )
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs the plan's runs (of `opts.shard`) that are not in `store` yet.
pub fn run(plan: &Plan, store: &mut Store, tasks: &dyn TaskRunner, opts: &RunOptions) -> Result<RunSummary> {
    if opts.jobs == 0 {
        return Err(LabError::Usage("--jobs must be at least 1".into()));
    }
    store.set_experiment(&plan.info)?;
    let done = store.done_hashes()?;
    let selected = plan.select(opts.shard);
    let todo: Vec<_> = selected.iter().copied().filter(|r| !done.contains(&r.hash)).collect();
    let mut summary = RunSummary {
        total: selected.len(),
        skipped: selected.len() - todo.len(),
        db: store.path().to_path_buf(),
        ..RunSummary::default()
    };
    let bar = if opts.progress {
        ProgressBar::with_draw_target(Some(todo.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs  elapsed {elapsed}  ETA {eta}  {msg}")
            .expect("valid template"),
    );
    let next = AtomicUsize::new(0);
    let cancel = AtomicBool::new(false);
    let jobs = opts.jobs.min(todo.len().max(1));
    let (tx, rx) = mpsc::sync_channel(jobs * 2);
    let result = std::thread::scope(|s| -> Result<()> {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (todo, next, cancel) = (&todo, &next, &cancel);
            s.spawn(move || loop {
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(spec) = todo.get(i) else { break };
                let t0 = Instant::now();
                let out = catch_unwind(AssertUnwindSafe(|| tasks.run(spec, cancel)))
                    .unwrap_or_else(|p| RunOutput::failed(format!("the task panicked: {}", panic_text(&*p))));
                let wall = t0.elapsed().as_secs_f64();
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                if tx.send((spec.index, make_record(spec, out, wall))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (index, rec) in rx {
            let status = rec.status;
            if let Err(e) = store.insert(index, &rec) {
                cancel.store(true, Ordering::Relaxed);
                return Err(e);
            }
            summary.ran += 1;
            match status {
                Status::Ok => summary.ok += 1,
                Status::Diverged => summary.diverged += 1,
                Status::Failed => summary.failed += 1,
            }
            bar.set_message(format!("{} diverged, {} failed", summary.diverged, summary.failed));
            bar.inc(1);
        }
        Ok(())
    });
    bar.finish_and_clear();
    result?;
    Ok(summary)
}
