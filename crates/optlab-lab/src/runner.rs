//! The runner: the plan's runs not yet in the store, on a bounded pool of worker threads, each
//! finished run committed to the store at once (by the calling thread, in one transaction).
//!
//! Safe against interruption by construction: a run is in the store completely or not at all, so
//! after Ctrl-C or `kill -9` the same command skips what is stored (by hash) and does the rest.
//!
//! Safe to run twice at once on one store: each run is claimed in the store (table `claims`, in a
//! write transaction) just before it is handed to a worker; a run that is stored or claimed by
//! another live process is skipped and counted as such, never run twice. The claims of a killed
//! process are taken over (see [`crate::store::Store::claim`]).
//!
//! Failed runs (status `failed`: the run could not be carried out) are run again unless
//! [`RunOptions::retry_failed`] is off; diverged runs are results and are kept.

use std::collections::{HashSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{LabError, Result};
use crate::plan::{Plan, RunSpec, Shard, Waiting};
use crate::prune::{Curve, Pruner};
use crate::record::Status;
use crate::spec::Experiment;
use crate::store::{Claim, Owner, PlanEntry, Store};
use crate::task::{make_record, RunOutput, TaskRunner};

/// How to run a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Worker threads (at least 1).
    pub jobs: usize,
    pub shard: Option<Shard>,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Run again the runs stored as failed (`optlab run --no-retry-failed` turns this off).
    pub retry_failed: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { jobs: default_jobs(), shard: None, progress: true, retry_failed: true }
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
    /// Runs found in the store and skipped (also those another process stored meanwhile).
    pub skipped: usize,
    /// Runs skipped because another live process had claimed them (it is running them).
    pub elsewhere: usize,
    /// Of the runs done now: how many had been stored as failed and were run again.
    pub retried: usize,
    /// Of the runs done now: how they ended.
    pub ok: usize,
    pub diverged: usize,
    pub failed: usize,
    /// Tuning trials stopped by the comparison's pruner ([`crate::prune`]).
    pub pruned: usize,
    /// Pruned trials not run now because an earlier trial of their group is neither stored nor
    /// run by this call (another process is running it): the next `optlab run` runs them.
    pub deferred: usize,
    pub db: PathBuf,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} runs: {} ran ({} ok, {} diverged, {} failed), {} skipped (already done)",
            self.total, self.ran, self.ok, self.diverged, self.failed, self.skipped,
        )?;
        if self.pruned > 0 {
            write!(f, ", {} of the ran pruned", self.pruned)?;
        }
        if self.deferred > 0 {
            write!(
                f,
                ", {} trials wait for earlier trials of their pruning group that another process is running",
                self.deferred
            )?;
        }
        if self.elsewhere > 0 {
            write!(f, ", {} being run by another process", self.elsewhere)?;
        }
        if self.retried > 0 {
            write!(f, "; {} of the runs had failed before and were retried", self.retried)?;
        }
        write!(f, "; results in {}", self.db.display())
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

/// The plan as the store records it.
pub fn plan_entries(plan: &Plan) -> Vec<PlanEntry> {
    plan.runs
        .iter()
        .map(|r| PlanEntry {
            hash: r.hash.clone(),
            plan_index: r.index,
            comparison: r.comparison.clone(),
            task: r.task.clone(),
            label: r.label.clone(),
            seed: r.seed,
        })
        .collect()
}

/// Runs the plan's runs (of `opts.shard`) that are not in `store` yet (and, with
/// `opts.retry_failed`, those stored as failed), skipping those another process is running.
pub fn run(plan: &Plan, store: &mut Store, tasks: &dyn TaskRunner, opts: &RunOptions) -> Result<RunSummary> {
    if opts.jobs == 0 {
        return Err(LabError::Usage("--jobs must be at least 1".into()));
    }
    store.set_experiment(&plan.info)?;
    store.set_plan(&plan_entries(plan))?;
    store.set_shard(opts.shard)?;
    let stored = store.stored_runs()?;
    let selected = plan.select(opts.shard);
    let mut summary = RunSummary { total: selected.len(), db: store.path().to_path_buf(), ..RunSummary::default() };
    let mut todo: VecDeque<(&RunSpec, Option<i64>)> = VecDeque::new();
    for &r in &selected {
        match stored.get(&r.hash) {
            None => todo.push_back((r, None)),
            Some(s) if s.failed && opts.retry_failed => todo.push_back((r, Some(s.id))),
            Some(_) => summary.skipped += 1,
        }
    }
    let bar = if opts.progress {
        ProgressBar::with_draw_target(Some(todo.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs  elapsed {elapsed}  ETA {eta}  {msg}")
            .expect("valid template"),
    );
    let owner = Owner::new();
    let cancel = AtomicBool::new(false);
    let jobs = opts.jobs.min(todo.len().max(1));
    // Pruned trials: each decides with the earlier trials of its group in this selection, and
    // starts only once they are all stored (crate::prune).
    let earlier = crate::prune::earlier_trials(&selected);
    let mut in_flight: HashSet<String> = HashSet::new();
    let (work_tx, work_rx) = mpsc::channel::<(&RunSpec, Option<Pruner>)>();
    let work_rx = Mutex::new(work_rx);
    let (res_tx, res_rx) = mpsc::channel();
    let result = std::thread::scope(|s| -> Result<()> {
        for _ in 0..jobs {
            let tx = res_tx.clone();
            let (work_rx, cancel) = (&work_rx, &cancel);
            s.spawn(move || loop {
                let next = work_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((spec, pruner)) = next else { break };
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let t0 = Instant::now();
                let out = catch_unwind(AssertUnwindSafe(|| match &pruner {
                    Some(p) => tasks.run_pruned(spec, p, cancel),
                    None => tasks.run(spec, cancel),
                }))
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
        drop(res_tx);
        let work_tx = work_tx;
        let mut outstanding = 0usize;
        let mut step = || -> Result<bool> {
            // Claim runs (one at a time, just before handing them out) until every worker has one.
            while outstanding < jobs {
                let Some(&(spec, retry)) = todo.front() else { break };
                let pruner = match (crate::prune::rule_of(spec), earlier.get(&spec.index)) {
                    (Some((rule, epochs)), Some(before)) => {
                        if before.iter().any(|b| in_flight.contains(&b.hash)) {
                            // Wait until the earlier trials being run here are stored.
                            break;
                        }
                        let hashes: Vec<&str> = before.iter().map(|b| b.hash.as_str()).collect();
                        let curves = store.curves(&hashes)?;
                        if curves.len() < hashes.len() {
                            todo.pop_front();
                            summary.deferred += 1;
                            bar.dec_length(1);
                            continue;
                        }
                        let earlier = hashes.iter().map(|h| Curve::of(curves[*h].0, &curves[*h].1)).collect();
                        Some(Pruner { rule, epochs, earlier })
                    }
                    _ => None,
                };
                todo.pop_front();
                match store.claim(&spec.hash, &owner, retry)? {
                    Claim::Claimed => {
                        if work_tx.send((spec, pruner)).is_err() {
                            return Ok(false);
                        }
                        in_flight.insert(spec.hash.clone());
                        outstanding += 1;
                        if retry.is_some() {
                            summary.retried += 1;
                        }
                    }
                    Claim::Stored => {
                        summary.skipped += 1;
                        bar.dec_length(1);
                    }
                    Claim::Busy(_) => {
                        summary.elsewhere += 1;
                        bar.dec_length(1);
                    }
                }
            }
            if outstanding == 0 {
                return Ok(false);
            }
            let Ok((index, rec)) = res_rx.recv() else { return Ok(false) };
            outstanding -= 1;
            let status = rec.status;
            let stored = store.insert_claimed(index, &rec, &owner)?;
            in_flight.remove(&rec.hash);
            if !stored {
                summary.skipped += 1;
                bar.dec_length(1);
                return Ok(true);
            }
            summary.ran += 1;
            match status {
                Status::Ok => summary.ok += 1,
                Status::Diverged => summary.diverged += 1,
                Status::Failed => summary.failed += 1,
                Status::Pruned => summary.pruned += 1,
            }
            bar.set_message(format!("{} diverged, {} failed", summary.diverged, summary.failed));
            bar.inc(1);
            Ok(true)
        };
        let r = loop {
            match step() {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        if r.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        drop(work_tx);
        r
    });
    bar.finish_and_clear();
    let released = store.release_claims(&owner);
    owner.retire();
    result?;
    released?;
    Ok(summary)
}

/// What [`run_experiment`] did: one summary per phase it ran, and the plan it ended with.
#[derive(Clone, Debug)]
pub struct ExperimentRun {
    /// The summary of each call of [`run`]: phase one (or the whole plan), then phase two when
    /// it was planned in this call.
    pub phases: Vec<RunSummary>,
    /// The plan as far as it is known now; `plan.waiting` says why phase two is not planned yet
    /// (a shard, or tuning runs that failed or are being run by another process).
    pub plan: Plan,
}

impl ExperimentRun {
    /// The phases' counts added up (`total`: the runs of the last plan, or of its shard).
    pub fn summary(&self) -> RunSummary {
        let mut s = self.phases.last().cloned().unwrap_or_default();
        for p in &self.phases[..self.phases.len().saturating_sub(1)] {
            s.ran += p.ran;
            s.retried += p.retried;
            s.ok += p.ok;
            s.diverged += p.diverged;
            s.failed += p.failed;
            s.pruned += p.pruned;
            s.deferred += p.deferred;
            s.skipped = s.skipped.saturating_sub(p.ran);
        }
        s
    }

    /// Why phase two is not planned yet, if it is not.
    pub fn waiting(&self) -> Option<&Waiting> {
        self.plan.waiting.as_ref()
    }
}

/// Runs an experiment into `store`, both phases of a tuning protocol: the plan as far as the
/// stored runs allow (see [`Plan::with_results`]), then, if phase two could not be planned before
/// and can now (every tuning run is stored), the whole plan, which skips what is stored. A
/// shard stops after phase one unless the store holds every tuning run (merged from all shards):
/// [`ExperimentRun::waiting`] says so.
pub fn run_experiment(
    exp: &Experiment,
    store: &mut Store,
    tasks: &dyn TaskRunner,
    opts: &RunOptions,
) -> Result<ExperimentRun> {
    let plan = Plan::with_results(exp, &stored_for_choice(exp, store)?)?;
    let first = run(&plan, store, tasks, opts)?;
    if plan.waiting.is_none() {
        return Ok(ExperimentRun { phases: vec![first], plan });
    }
    let whole = Plan::with_results(exp, &stored_for_choice(exp, store)?)?;
    if whole.waiting.is_some() {
        return Ok(ExperimentRun { phases: vec![first], plan: whole });
    }
    let second = run(&whole, store, tasks, opts)?;
    Ok(ExperimentRun { phases: vec![first, second], plan: whole })
}

/// The stored runs the tuning protocols choose from: their summaries, with the per-epoch series
/// when a comparison has the AlgoPerf protocol with a validation target (its steps to the target
/// are read from the series; without them every trial would count as a miss).
pub fn stored_for_choice(exp: &Experiment, store: &Store) -> Result<Vec<crate::record::RunRecord>> {
    let needs_series = exp.comparisons.iter().any(|c| c.tune.as_ref().is_some_and(|t| t.info.target.is_some()));
    if needs_series {
        store.runs()
    } else {
        store.summaries()
    }
}
