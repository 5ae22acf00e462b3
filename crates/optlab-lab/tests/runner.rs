//! The runner with fake task runners: every run stored once, resume skips what is done, shards
//! plus merge equal one run, panics become failed runs.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};

use optlab_lab::plan::{Plan, RunSpec, Shard};
use optlab_lab::record::{Point, Status, Summary};
use optlab_lab::runner::{run, RunOptions};
use optlab_lab::spec::parse;
use optlab_lab::store::Store;
use optlab_lab::task::{RunOutput, TaskRunner};

const EXP: &str = r#"
[experiment]
name = "fake"

[[comparison]]
name = "c"
tasks = ["sphere", "booth"]
seeds = 3
targets = { sphere = 0.5 }
optimizers = [{ name = "adam" }, { name = "sgd" }]

[comparison.grid]
lr = [0.1, 0.01]
"#;

/// A deterministic fake: the loss decays from a value derived from the hash; runs whose seed is
/// 2 diverge, and `fail_on` makes one task fail.
struct Fake {
    calls: AtomicUsize,
    seen: Mutex<Vec<String>>,
    panic_on: Option<String>,
    fail_on: Option<String>,
    /// The first `n` calls wait at the barrier (so that two runners are provably mid-run at once).
    gate: Option<(usize, Barrier)>,
}

impl Fake {
    fn new() -> Fake {
        Fake { calls: AtomicUsize::new(0), seen: Mutex::new(Vec::new()), panic_on: None, fail_on: None, gate: None }
    }
}

impl TaskRunner for Fake {
    fn run(&self, spec: &RunSpec, _cancel: &AtomicBool) -> RunOutput {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(spec.hash.clone());
        if let Some((n, barrier)) = &self.gate {
            if call < *n {
                barrier.wait();
            }
        }
        if self.panic_on.as_deref() == Some(spec.task.as_str()) {
            panic!("boom on {}", spec.task);
        }
        if self.fail_on.as_deref() == Some(spec.task.as_str()) {
            return RunOutput::failed(format!("data of {} not found", spec.task));
        }
        let start = u8::from_str_radix(&spec.hash[..2], 16).unwrap() as f64 / 100.0 + 1.0;
        let series: Vec<Point> = (0..5)
            .map(|i| Point { step: i, time_s: i as f64 * 0.1, loss: start / (1 + i) as f64, ..Point::default() })
            .collect();
        let diverged = spec.seed == 2;
        RunOutput {
            status: if diverged { Status::Diverged } else { Status::Ok },
            error: diverged.then(|| "fake divergence".to_string()),
            summary: Summary {
                steps: 4,
                final_loss: if diverged { f64::NAN } else { series[4].loss },
                min_loss: series[4].loss,
                ..Summary::default()
            },
            series,
            step_series: Vec::new(),
            histograms: Vec::new(),
            landscape: None,
        }
    }
}

fn plan() -> Plan {
    Plan::new(&parse(EXP, "fake.toml", "fake").unwrap()).unwrap()
}

fn opts(jobs: usize, shard: Option<Shard>) -> RunOptions {
    RunOptions { jobs, shard, progress: false, retry_failed: true }
}

fn debug_without_wall(st: &Store) -> Vec<String> {
    st.runs()
        .unwrap()
        .into_iter()
        .map(|mut r| {
            r.wall_s = 0.0;
            format!("{r:?}")
        })
        .collect()
}

#[test]
fn runs_everything_once_then_resumes_with_nothing_to_do() {
    let p = plan();
    assert_eq!(p.runs.len(), 2 * 2 * 2 * 3);
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    let fake = Fake::new();
    let s = run(&p, &mut st, &fake, &opts(3, None)).unwrap();
    assert_eq!((s.total, s.ran, s.skipped, s.ok, s.diverged, s.failed), (24, 24, 0, 16, 8, 0));
    assert_eq!(fake.calls.load(Ordering::SeqCst), 24);
    let runs = st.runs().unwrap();
    let hashes: Vec<&str> = runs.iter().map(|r| r.hash.as_str()).collect();
    let planned: Vec<&str> = p.runs.iter().map(|r| r.hash.as_str()).collect();
    assert_eq!(hashes, planned, "stored in plan order, each once");
    // Targets filled from the series: the first point at or below 0.5.
    for r in &runs {
        let expect = if r.task == "sphere" { r.series.iter().find(|q| q.loss <= 0.5).map(|q| q.step) } else { None };
        assert_eq!(r.summary.steps_to_target, expect, "{}", r.label);
    }
    assert!(runs.iter().any(|r| r.summary.steps_to_target.is_some()));
    let again = Fake::new();
    let s = run(&p, &mut st, &again, &opts(2, None)).unwrap();
    assert_eq!((s.ran, s.skipped), (0, 24));
    assert_eq!(again.calls.load(Ordering::SeqCst), 0);
    assert_eq!(st.count().unwrap(), 24);
    assert!(s.to_string().contains("24 runs: 0 ran (0 ok, 0 diverged, 0 failed), 24 skipped"), "{s}");
}

#[test]
fn resume_after_a_partial_run_does_only_the_rest() {
    let p = plan();
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    // Simulate an interrupted run: only shard 1/3 was stored.
    run(&p, &mut st, &Fake::new(), &opts(2, Some(Shard::new(1, 3).unwrap()))).unwrap();
    assert_eq!(st.count().unwrap(), 8);
    let fake = Fake::new();
    let s = run(&p, &mut st, &fake, &opts(2, None)).unwrap();
    assert_eq!((s.ran, s.skipped), (16, 8));
    let seen = fake.seen.lock().unwrap().clone();
    assert!(seen.iter().all(|h| p.runs.iter().any(|r| &r.hash == h && r.index % 3 != 0)));
    let full_dir = tempfile::tempdir().unwrap();
    let mut full = Store::open_dir(full_dir.path()).unwrap();
    run(&p, &mut full, &Fake::new(), &opts(1, None)).unwrap();
    assert_eq!(debug_without_wall(&st), debug_without_wall(&full));
}

#[test]
fn shards_merged_equal_one_run() {
    let p = plan();
    let root = tempfile::tempdir().unwrap();
    let mut merged = Store::open(&root.path().join("merged.sqlite")).unwrap();
    for i in 1..=3 {
        let mut st = Store::open(&root.path().join(format!("s{i}.sqlite"))).unwrap();
        let s = run(&p, &mut st, &Fake::new(), &opts(2, Some(Shard::new(i, 3).unwrap()))).unwrap();
        assert_eq!(s.total, 8);
        merged.merge_from(&st).unwrap();
    }
    let mut one = Store::open(&root.path().join("one.sqlite")).unwrap();
    run(&p, &mut one, &Fake::new(), &opts(2, None)).unwrap();
    assert_eq!(debug_without_wall(&merged), debug_without_wall(&one));
    assert_eq!(merged.experiment().unwrap(), one.experiment().unwrap());
}

#[test]
fn a_panicking_task_is_a_failed_run() {
    let p = plan();
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    let fake = Fake { panic_on: Some("booth".into()), ..Fake::new() };
    let s = run(&p, &mut st, &fake, &opts(2, None)).unwrap();
    assert_eq!(s.failed, 12);
    let failed: Vec<_> = st.runs().unwrap().into_iter().filter(|r| r.status == Status::Failed).collect();
    assert_eq!(failed.len(), 12);
    assert!(failed.iter().all(|r| r.task == "booth" && r.error.as_deref() == Some("the task panicked: boom on booth")));
}

#[test]
fn zero_jobs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    let e = run(&plan(), &mut st, &Fake::new(), &opts(0, None)).unwrap_err().to_string();
    assert!(e.contains("--jobs"), "{e}");
}

#[test]
fn two_runners_at_once_on_one_store_run_each_run_once() {
    let p = plan();
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open_dir(dir.path()).unwrap());
    // Each runner has two workers; the first four calls wait for each other, so both runners are
    // mid-run together (without claims, both would run all 24 runs).
    let fake = Fake { gate: Some((4, Barrier::new(4))), ..Fake::new() };
    let (a, b) = std::thread::scope(|s| {
        let go = || {
            let mut st = Store::open_dir(dir.path()).unwrap();
            run(&p, &mut st, &fake, &opts(2, None)).unwrap()
        };
        let a = s.spawn(go);
        let b = s.spawn(go);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.ran + b.ran, 24, "{a}\n{b}");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 24, "no run done twice");
    for s in [&a, &b] {
        assert_eq!(s.total, s.ran + s.skipped + s.elsewhere, "{s}");
    }
    assert!(a.elsewhere + b.elsewhere >= 2, "each saw the other's claims: {a}\n{b}");
    let text = format!("{a}\n{b}");
    assert!(text.contains("being run by another process"), "{text}");
    let st = Store::open_dir(dir.path()).unwrap();
    assert_eq!(st.count().unwrap(), 24);
    // Nothing is left claimed: a third runner has nothing to do.
    let mut st = st;
    let again = Fake::new();
    let s = run(&p, &mut st, &again, &opts(2, None)).unwrap();
    assert_eq!((s.ran, s.skipped, s.elsewhere), (0, 24, 0));
}

#[test]
fn failed_runs_are_retried_unless_told_not_to_and_diverged_runs_are_kept() {
    let p = plan();
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    let broken = Fake { fail_on: Some("booth".into()), ..Fake::new() };
    let s = run(&p, &mut st, &broken, &opts(2, None)).unwrap();
    // booth: 12 runs, all failed; sphere: 8 ok, 4 diverged (seed 2).
    assert_eq!((s.ran, s.ok, s.diverged, s.failed), (24, 8, 4, 12));
    let keep = Fake::new();
    let s = run(&p, &mut st, &keep, &RunOptions { retry_failed: false, ..opts(2, None) }).unwrap();
    assert_eq!((s.ran, s.skipped, s.retried), (0, 24, 0));
    assert_eq!(keep.calls.load(Ordering::SeqCst), 0);
    let fixed = Fake::new();
    let s = run(&p, &mut st, &fixed, &opts(2, None)).unwrap();
    assert_eq!((s.ran, s.skipped, s.retried, s.failed), (12, 12, 12, 0), "{s}");
    assert!(s.to_string().contains("12 of the runs had failed before and were retried"), "{s}");
    assert!(fixed.seen.lock().unwrap().iter().all(|h| p.runs.iter().any(|r| &r.hash == h && r.task == "booth")));
    let runs = st.runs().unwrap();
    assert_eq!(runs.len(), 24);
    assert!(runs.iter().all(|r| r.status != Status::Failed));
    assert_eq!(runs.iter().filter(|r| r.status == Status::Diverged).count(), 8, "diverged runs are results");
    let full_dir = tempfile::tempdir().unwrap();
    let mut full = Store::open_dir(full_dir.path()).unwrap();
    run(&p, &mut full, &Fake::new(), &opts(1, None)).unwrap();
    assert_eq!(debug_without_wall(&st), debug_without_wall(&full), "retried runs in plan order, as one clean run");
}

#[test]
fn a_renamed_comparison_is_refused_before_anything_runs() {
    let p = plan();
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    run(&p, &mut st, &Fake::new(), &opts(2, None)).unwrap();
    let renamed =
        Plan::new(&parse(&EXP.replace("name = \"c\"", "name = \"cc\""), "fake.toml", "fake").unwrap()).unwrap();
    let fake = Fake::new();
    let e = run(&renamed, &mut st, &fake, &opts(2, None)).unwrap_err().to_string();
    assert!(
        e.contains("holds 24 runs of comparison `c`, which experiment `fake` no longer declares (it declares `cc` instead: renamed?)")
            && e.contains("--force"),
        "{e}"
    );
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
    assert_eq!(st.count().unwrap(), 24);
    assert_eq!(st.experiment().unwrap(), p.info);
}
