//! The task runner of `optlab run`: test functions with optlab-lab's
//! [`crate::function_task::run_function`], network tasks through optlab-nn (see
//! [`run_network`]).

use std::sync::atomic::AtomicBool;
use std::sync::RwLock;

use crate::function_task::run_function;
use crate::plan::{RunSpec, TaskSettings};
use crate::prune::Pruner;
use crate::record::{Point, Status, StepPoint, Summary};
use crate::task::{NetworkJob, RunOutput, TaskRunner};

/// Runs every kind of task of an experiment.
#[derive(Clone, Copy, Debug, Default)]
pub struct LabTasks {
    /// Threads each network run computes with (burn-flex's kernels and the optimizer step run
    /// on a pool of this size); None: rayon's global pool (one thread per core). Test-function
    /// runs always use one thread.
    pub threads: Option<usize>,
}

impl LabTasks {
    /// The task runner of `optlab run` on `cores` cores: network runs train one at a time (see
    /// [`NETWORK_RUN`]) on a pool of all `cores` threads, test-function runs on one thread each,
    /// so runs × threads stay within the cores whatever `--jobs` is (up to `--jobs` = cores).
    pub fn for_cores(cores: usize) -> LabTasks {
        LabTasks { threads: Some(cores.max(1)) }
    }
}

/// Runs `f` on a rayon pool of `threads` threads (burn-flex and gemm size their parallel work by
/// the pool they run in, `rayon::current_num_threads()`).
pub fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R, String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("optlab-run-{i}"))
        .build()
        .map_err(|e| format!("cannot start a pool of {threads} threads: {e}"))?;
    Ok(pool.install(f))
}

/// Network runs train one at a time, each on every core, and no test-function run runs meanwhile
/// (they take this lock shared, a network run takes it exclusively). Two trainings in one process
/// run much slower side by side than one after the other: burn-autodiff registers every operation
/// under one process-wide lock (`STATE` in its `runtime/graph.rs`), so parallel network runs
/// contend on it (measured: docs/experiments.md, "Runs at a time and threads").
static NETWORK_RUN: RwLock<()> = RwLock::new(());

impl TaskRunner for LabTasks {
    fn run(&self, spec: &RunSpec, cancel: &AtomicBool) -> RunOutput {
        self.run_with(spec, None, cancel)
    }

    /// Network trials stop training where the pruner says; others run whole.
    fn run_pruned(&self, spec: &RunSpec, pruner: &Pruner, cancel: &AtomicBool) -> RunOutput {
        self.run_with(spec, Some(pruner), cancel)
    }
}

impl LabTasks {
    fn run_with(&self, spec: &RunSpec, pruner: Option<&Pruner>, cancel: &AtomicBool) -> RunOutput {
        match &spec.settings {
            TaskSettings::Function(f) => {
                let _shared = NETWORK_RUN.read().unwrap_or_else(|e| e.into_inner());
                run_function(spec, f)
            }
            TaskSettings::Network(_) => match NetworkJob::from_spec(spec) {
                Some(job) => {
                    let _exclusive = NETWORK_RUN.write().unwrap_or_else(|e| e.into_inner());
                    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                        return RunOutput::failed("cancelled before it started");
                    }
                    match self.threads {
                        Some(n) => in_pool(n, || run_network(&job, pruner, cancel)).unwrap_or_else(RunOutput::failed),
                        None => run_network(&job, pruner, cancel),
                    }
                }
                None => RunOutput::failed("a network run without network settings"),
            },
        }
    }
}

/// Trains a network task with optlab-nn: one point per epoch (train loss, validation loss and
/// accuracy; no validation values with `val_fraction = 0`), one step point every `log_every`
/// steps (batch loss, learning rate, gradient norm), status `diverged` when training
/// diverged (a non-finite loss or gradient, or a loss above `optlab_nn::train::DIVERGENCE_FACTOR`
/// times the first; the error says which), `failed` when the job cannot be carried out (bad data
/// path, a setting optlab-nn refuses). The summary's `min_loss` is the smallest finite logged
/// batch loss (the smallest per-epoch mean when no step was logged). With a `pruner`, training
/// stops after the first epoch it prunes at: status `pruned`, termination `pruned`, the reason
/// as the error, `epochs` the epoch reached.
pub fn run_network(job: &NetworkJob, pruner: Option<&Pruner>, _cancel: &AtomicBool) -> RunOutput {
    let cfg = optlab_nn::TrainConfig {
        seed: job.seed,
        ..optlab_nn::TrainConfig::with(&job.task, job.optimizer.clone(), job.net.clone())
    };
    let mut series = Vec::new();
    let mut elapsed = 0.0;
    let (mut own, mut pruned) = (Vec::new(), None);
    let report = optlab_nn::train_until(&cfg, &mut |e: &optlab_nn::EpochReport| {
        elapsed += e.time_s;
        let p = Point {
            step: e.step,
            epoch: Some(e.epoch),
            time_s: elapsed,
            loss: e.train_loss,
            val_loss: e.validated().then_some(e.val_loss),
            accuracy: e.validated().then(|| e.accuracy()),
            x: None,
        };
        own.push(crate::prune::metric(&p));
        series.push(p);
        match pruner.and_then(|pr| pr.decide(&own)) {
            Some(why) => {
                pruned = Some(why);
                false
            }
            None => true,
        }
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => return RunOutput::failed(e.to_string()),
    };
    use optlab_nn::StopReason;
    let termination = match &report.stopped {
        StopReason::Completed => "completed",
        StopReason::StepBudget => "step_budget",
        StopReason::TimeBudget => "time_budget",
        StopReason::EarlyStopped => "early_stopped",
        StopReason::Diverged { .. } => "diverged",
        StopReason::Stopped { .. } => "pruned",
    };
    let (status, error) = match report.stopped {
        StopReason::Diverged { epoch, why } => (Status::Diverged, Some(format!("epoch {epoch}: {why}"))),
        StopReason::Stopped { epoch } => {
            (Status::Pruned, Some(pruned.unwrap_or_else(|| format!("pruned after epoch {epoch}"))))
        }
        _ => (Status::Ok, None),
    };
    let step_series: Vec<StepPoint> = report
        .step_log
        .iter()
        .map(|s| StepPoint { step: s.step, epoch: s.epoch, loss: s.loss, lr: s.lr, grad_norm: s.grad_norm })
        .collect();
    let fin = |f: fn(&Point) -> Option<f64>| series.last().and_then(f);
    let min = |f: fn(&Point) -> Option<f64>| series.iter().filter_map(f).filter(|v| v.is_finite()).reduce(f64::min);
    let max = |f: fn(&Point) -> Option<f64>| series.iter().filter_map(f).filter(|v| v.is_finite()).reduce(f64::max);
    let summary = Summary {
        steps: report.steps,
        epochs: Some(series.last().and_then(|p| p.epoch).unwrap_or(0)),
        final_loss: fin(|p| Some(p.loss)).unwrap_or(f64::NAN),
        min_loss: step_series
            .iter()
            .map(|p| p.loss)
            .filter(|v| v.is_finite())
            .reduce(f64::min)
            .or_else(|| min(|p| Some(p.loss)))
            .unwrap_or(f64::NAN),
        final_val_loss: fin(|p| p.val_loss),
        min_val_loss: min(|p| p.val_loss),
        final_accuracy: fin(|p| p.accuracy),
        best_accuracy: max(|p| p.accuracy),
        termination: Some(termination.to_string()),
        ..Summary::default()
    };
    // `landscape = true`: the loss around the final weights (a failure to compute it fails the
    // run, naming why: a stored run either has its landscape or says why not).
    let landscape = if job.net.landscape && status == Status::Ok {
        match optlab_nn::landscape::report_grid(&cfg, &report.weights) {
            Ok(s) => Some(s),
            Err(e) => return RunOutput::failed(format!("landscape: {e}")),
        }
    } else {
        None
    };
    RunOutput { status, error, summary, series, step_series, histograms: report.histograms, landscape }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function_task::{random_starts, Problem, StartStream, MAX_POINTS};
    use crate::plan::Start;
    use crate::spec::parse;
    use crate::Plan;

    fn plan(body: &str) -> Plan {
        let text = format!("[experiment]\nname = \"t\"\n[[comparison]]\nname = \"c\"\n{body}");
        Plan::new(&parse(&text, "t.toml", "t").unwrap()).unwrap()
    }

    #[test]
    fn long_runs_are_thinned_keeping_first_and_last() {
        let p = plan("tasks = [\"rosenbrock\"]\nstart = [-1.5, 2.0]\nsteps = 5000\nxtol = 0\npoints = 2000\noptimizers = [{ name = \"sgd\", set = { lr = 1e-6 } }]\n");
        let out = LabTasks::default().run(&p.runs[0], &AtomicBool::new(false));
        assert_eq!(out.status, Status::Ok);
        assert_eq!(out.summary.steps, 5000);
        assert_eq!(out.summary.termination.as_deref(), Some("max_steps"));
        assert!(out.series.len() <= MAX_POINTS && out.series.len() > MAX_POINTS - 10, "{}", out.series.len());
        let (first, last) = (&out.series[0], out.series.last().unwrap());
        assert_eq!((first.step, last.step), (0, 5000));
        assert_eq!(first.x.as_deref(), Some(&[-1.5, 2.0][..]));
        let f = optlab_functions::by_name("rosenbrock", None).unwrap();
        assert_eq!(first.loss, f.value(&[-1.5, 2.0]));
        assert_eq!(last.loss, out.summary.final_loss);
        assert_eq!(last.loss, f.value(last.x.as_deref().unwrap()));
        assert!(out.summary.min_loss <= last.loss);
        assert!(out.series.windows(2).all(|w| w[0].step < w[1].step && w[0].time_s <= w[1].time_s));
    }

    #[test]
    fn points_bounds_the_series() {
        let p = plan("tasks = [\"rosenbrock\"]\nstart = [-1.5, 2.0]\nsteps = 5000\nxtol = 0\npoints = 50\noptimizers = [{ name = \"sgd\", set = { lr = 1e-6 } }]\n");
        let out = LabTasks::default().run(&p.runs[0], &AtomicBool::new(false));
        assert_eq!(out.series.len(), 50);
        assert_eq!(out.series.last().unwrap().step, 5000);
    }

    #[test]
    fn divergence_is_a_status_with_the_reason() {
        let p = plan(
            "tasks = [\"rosenbrock\"]\nstart = [-1.5, 2.0]\noptimizers = [{ name = \"sgd\", set = { lr = 10 } }]\n",
        );
        let out = LabTasks::default().run(&p.runs[0], &AtomicBool::new(false));
        assert_eq!(out.status, Status::Diverged);
        assert_eq!(out.summary.termination.as_deref(), Some("diverged"));
        assert!(out.error.as_deref().unwrap_or("").contains("step"), "{:?}", out.error);
    }

    #[test]
    fn random_starts_follow_the_seed_and_the_study_stream() {
        let p = plan(
            "tasks = [\"himmelblau\"]\nseeds = [4, 9]\nstarts = 3\nsteps = 1\noptimizers = [{ name = \"adam\" }]\n",
        );
        assert_eq!(p.runs.len(), 6);
        let prob = Problem::new("himmelblau", 1e-6).unwrap();
        for r in &p.runs {
            let out = LabTasks::default().run(r, &AtomicBool::new(false));
            let TaskSettings::Function(f) = &r.settings else { panic!() };
            let Start::Random { index, of } = f.start else { panic!() };
            let expect = random_starts(&prob, r.seed, StartStream::Evaluation, of as usize)[index as usize].clone();
            assert_eq!(out.series[0].x.as_deref(), Some(&expect[..]));
        }
    }

    #[test]
    fn network_runs_train_and_record_one_point_per_epoch() {
        let p = plan(
            "tasks = [\"blobs-two-layer\"]\nepochs = 3\nbatch_size = 16\noptimizers = [{ name = \"adam\", set = { lr = 0.01 } }]\n",
        );
        let out = LabTasks::default().run(&p.runs[0], &AtomicBool::new(false));
        assert_eq!(out.status, Status::Ok, "{:?}", out.error);
        assert_eq!(out.series.len(), 3);
        assert_eq!(out.series.iter().map(|p| p.epoch).collect::<Vec<_>>(), [Some(1), Some(2), Some(3)]);
        let last = out.series.last().unwrap();
        assert_eq!(out.summary.final_loss, last.loss);
        assert_eq!(out.summary.final_accuracy, last.accuracy);
        assert_eq!(out.summary.epochs, Some(3));
        assert_eq!(out.summary.termination.as_deref(), Some("completed"));
        assert!(out.summary.min_loss <= out.series[0].loss);
        // Two separated Gaussian clusters: a trained two-layer net classifies most points.
        assert!(last.accuracy.unwrap() > 0.8, "{:?}", last.accuracy);
        assert!(out.series.windows(2).all(|w| w[0].step < w[1].step && w[0].time_s <= w[1].time_s));
        // Same seed, same run.
        let again = LabTasks::default().run(&p.runs[0], &AtomicBool::new(false));
        let losses = |o: &RunOutput| o.series.iter().map(|p| (p.loss, p.val_loss)).collect::<Vec<_>>();
        assert_eq!(losses(&out), losses(&again));
    }

    /// `landscape = true`: the run stores the loss on the report's grid around its final weights,
    /// centred on a loss below the grid's corners' largest; without it, none.
    #[test]
    fn landscape_runs_store_the_grid() {
        let text = "tasks = [\"blobs-two-layer\"]\nepochs = 3\nbatch_size = 16\nlandscape = true\noptimizers = [{ name = \"adam\", set = { lr = 0.01 } }]\n";
        let p = plan(text);
        let out = LabTasks::default().run(&p.runs[0], &AtomicBool::new(false));
        assert_eq!(out.status, Status::Ok, "{:?}", out.error);
        let s = out.landscape.expect("a landscape");
        let n = optlab_nn::landscape::REPORT_GRID;
        assert_eq!((s.a.len(), s.b.len(), s.loss.len()), (n, n, n * n));
        assert!(s.loss.iter().all(|v| v.is_finite()));
        let centre = s.at(n / 2, n / 2);
        let corners = [s.at(0, 0), s.at(n - 1, 0), s.at(0, n - 1), s.at(n - 1, n - 1)];
        assert!(corners.iter().any(|&c| c > centre), "{centre} vs {corners:?}");
        let p = plan(&text.replace("landscape = true\n", ""));
        assert!(LabTasks::default().run(&p.runs[0], &AtomicBool::new(false)).landscape.is_none());
    }

    /// Network runs log the batch loss, the learning rate and the gradient norm every
    /// `log_every` steps (default: about 100 points), and their `min_loss` is the smallest of
    /// those batch losses, not of the epochs' means.
    #[test]
    fn network_runs_log_steps_and_their_min_loss_is_over_the_logged_steps() {
        // 800 training samples in batches of 16: 50 steps per epoch, 150 in all; by default every
        // ⌈150 / 100⌉ = 2nd step is logged: steps 0, 2, ..., 148.
        let body = "tasks = [\"blobs-two-layer\"]\nepochs = 3\nbatch_size = 16\noptimizers = [{ name = \"adam\", set = { lr = 0.01 } }]\n";
        let out = LabTasks::default().run(&plan(body).runs[0], &AtomicBool::new(false));
        assert_eq!(out.status, Status::Ok, "{:?}", out.error);
        let steps: Vec<u64> = out.step_series.iter().map(|p| p.step).collect();
        assert_eq!(steps, (0..150).step_by(2).collect::<Vec<u64>>());
        assert_eq!(
            out.step_series.iter().map(|p| p.epoch).collect::<Vec<_>>(),
            steps.iter().map(|s| 1 + (*s / 50) as u32).collect::<Vec<_>>()
        );
        assert!(out
            .step_series
            .iter()
            .all(|p| p.lr == Some(0.01) && p.grad_norm.is_some_and(|g| g.is_finite() && g > 0.0)));
        let min_step = out.step_series.iter().map(|p| p.loss).fold(f64::INFINITY, f64::min);
        let min_epoch = out.series.iter().map(|p| p.loss).fold(f64::INFINITY, f64::min);
        assert_eq!(out.summary.min_loss, min_step);
        assert!(
            min_step < min_epoch,
            "the smallest batch loss {min_step} lies below the smallest epoch mean {min_epoch}"
        );
        // `log_every` from the experiment file.
        let body = body.replace("epochs = 3", "epochs = 3\nlog_every = 40");
        let out = LabTasks::default().run(&plan(&body).runs[0], &AtomicBool::new(false));
        assert_eq!(out.step_series.iter().map(|p| p.step).collect::<Vec<_>>(), [0, 40, 80, 120]);
    }

    /// A network run whose loss blows up (finite, above 1e3 x the first) is stored `diverged`
    /// with the reason, like a test-function run, not `ok`.
    #[test]
    fn network_run_whose_loss_blows_up_is_diverged() {
        let p = plan(
            "tasks = [\"blobs-neuron\"]\nepochs = 5\nbatch_size = 100\noptimizers = [{ name = \"sgd\", set = { lr = 1e5 } }]\n",
        );
        let out = LabTasks::default().run(&p.runs[0], &AtomicBool::new(false));
        assert_eq!(out.status, Status::Diverged, "{:?}", out.error);
        let why = out.error.as_deref().unwrap_or("");
        assert!(why.contains("epoch ") && why.contains("first loss"), "{why}");
    }

    /// `val_fraction = 0`: the run trains on every sample and stores no validation values.
    #[test]
    fn network_run_without_validation_stores_no_validation_values() {
        let p = plan(
            "tasks = [\"blobs-two-layer\"]\nepochs = 2\nbatch_size = 50\nval_fraction = 0.0\noptimizers = [{ name = \"adam\", set = { lr = 0.01 } }]\n",
        );
        let out = LabTasks::default().run(&p.runs[0], &AtomicBool::new(false));
        assert_eq!(out.status, Status::Ok, "{:?}", out.error);
        assert_eq!(out.series.len(), 2);
        assert!(out.series.iter().all(|p| p.val_loss.is_none() && p.accuracy.is_none() && p.loss.is_finite()));
        assert_eq!((out.summary.final_val_loss, out.summary.final_accuracy), (None, None));
        assert_eq!(out.summary.steps, 2 * 20);
    }

    #[test]
    fn parallel_runs_share_the_cores() {
        assert_eq!(LabTasks::for_cores(4).threads, Some(4));
        assert_eq!(LabTasks::for_cores(0).threads, Some(1));
        // burn-flex and gemm size their work by the pool they run in.
        assert_eq!(in_pool(3, rayon::current_num_threads), Ok(3));
        assert_eq!(in_pool(1, rayon::current_num_threads), Ok(1));
        // A network run on one thread trains as on the global pool.
        let p = plan(
            "tasks = [\"blobs-two-layer\"]\nepochs = 2\nbatch_size = 16\noptimizers = [{ name = \"adam\", set = { lr = 0.01 } }]\n",
        );
        let one = LabTasks { threads: Some(1) }.run(&p.runs[0], &AtomicBool::new(false));
        assert_eq!(one.status, Status::Ok, "{:?}", one.error);
        assert_eq!(one.series.len(), 2);
    }

    #[test]
    fn network_runs_exclude_every_other_run() {
        // While the lock is held exclusively (a network run trains), no other run can start.
        let guard = NETWORK_RUN.write().unwrap();
        assert!(NETWORK_RUN.try_read().is_err());
        assert!(NETWORK_RUN.try_write().is_err());
        drop(guard);
        // A test-function run (shared) keeps a network run from starting.
        let a = NETWORK_RUN.read().unwrap();
        assert!(NETWORK_RUN.try_write().is_err());
        drop(a);
    }

    #[test]
    fn network_run_with_a_missing_data_folder_fails_naming_it() {
        let p = plan(
            "tasks = [\"mnist-mlp\"]\ndata = \"/nonexistent/mnist\"\nepochs = 1\noptimizers = [{ name = \"adam\" }]\n",
        );
        let out = LabTasks::default().run(&p.runs[0], &AtomicBool::new(false));
        assert_eq!(out.status, Status::Failed);
        assert!(out.error.as_deref().unwrap_or("").contains("/nonexistent/mnist"), "{:?}", out.error);
    }
}
