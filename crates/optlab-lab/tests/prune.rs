//! Pruning of tuning trials (`pruner = "median"` / `"asha"`): spec errors, pruned runs stored
//! with status `pruned` and the epoch reached, every stored decision re-derived by hand from the
//! stored earlier trials, and the same records after an interrupted run is resumed, with more
//! jobs, and for a shard run again on a store that merged the other shards.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use optlab_lab::lab_tasks::LabTasks;
use optlab_lab::plan::{Plan, RunSpec, Shard};
use optlab_lab::prune::{group_of, Curve, Pruner};
use optlab_lab::record::{PruneRule, RunRecord, Status};
use optlab_lab::runner::{run_experiment, RunOptions};
use optlab_lab::spec::parse;
use optlab_lab::store::Store;
use optlab_lab::task::{RunOutput, TaskRunner};

const EXP: &str = r#"[experiment]
name = "p"
seed = 1

[[comparison]]
name = "blobs"
tasks = ["blobs-two-layer"]
seeds = [0]
epochs = 6
batch_size = 50
trials = 8
protocol = "deepobs"
pruner = "median"
optimizers = [{ name = "adam" }, { name = "sgd" }]

[comparison.search]
lr = { log_uniform = [1e-4, 1.0] }

[comparison.tune]
seeds = [100]
"#;

fn asha() -> String {
    EXP.replace("pruner = \"median\"", "pruner = \"asha\"\nasha_reduction = 2")
}

fn err(text: &str) -> String {
    match parse(text, "p.toml", "p") {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn opts(jobs: usize, shard: Option<Shard>) -> RunOptions {
    RunOptions { jobs, shard, progress: false, retry_failed: true }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn pruner_settings_are_checked_with_the_key_and_line() {
    let exp = parse(EXP, "p.toml", "p").unwrap();
    let t = &exp.comparisons[0].tune.as_ref().unwrap().info;
    assert_eq!(t.prune, Some(PruneRule::Median { warmup_epochs: 1, startup_trials: 2 }));
    let a = parse(&asha(), "p.toml", "p").unwrap();
    assert_eq!(
        a.comparisons[0].tune.as_ref().unwrap().info.prune,
        Some(PruneRule::Asha { min_epochs: 1, reduction: 2 })
    );
    let cases: Vec<(String, &str, &str)> = vec![
        (EXP.replace("\"median\"", "\"hyperband\""), "pruner =", "key `pruner` in comparison `blobs`: unknown pruner `hyperband`; known: median, asha"),
        (
            EXP.replace("protocol = \"deepobs\"\n", "").replace("[comparison.tune]\nseeds = [100]\n", ""),
            "pruner =",
            "key `pruner` in comparison `blobs`: a pruner stops tuning trials, and the comparison has no tuning protocol",
        ),
        (
            EXP.replace("[\"blobs-two-layer\"]", "[\"sphere\"]").replace("epochs = 6\nbatch_size = 50\n", ""),
            "pruner =",
            "key `pruner` in comparison `blobs`: a pruner decides between epochs of network runs, and the comparison has no network task",
        ),
        (
            EXP.replace("pruner = \"median\"\n", "asha_reduction = 3\n"),
            "asha_reduction",
            "key `asha_reduction` in comparison `blobs`: a setting of a pruner, and the comparison has none",
        ),
        (
            EXP.replace("pruner = \"median\"", "pruner = \"median\"\nasha_min_epochs = 2"),
            "asha_min_epochs",
            "key `asha_min_epochs` in comparison `blobs`: not a setting of `pruner = \"median\"`",
        ),
        (
            asha().replace("asha_reduction = 2", "prune_startup_trials = 3"),
            "prune_startup_trials",
            "key `prune_startup_trials` in comparison `blobs`: not a setting of `pruner = \"asha\"`",
        ),
        (
            EXP.replace("pruner = \"median\"", "pruner = \"median\"\nprune_warmup_epochs = 5"),
            "prune_warmup_epochs",
            "key `prune_warmup_epochs` in comparison `blobs`: the median rule decides after epochs 6..5",
        ),
        (
            EXP.replace("pruner = \"median\"", "pruner = \"median\"\nprune_startup_trials = 0"),
            "prune_startup_trials",
            "key `prune_startup_trials` in comparison `blobs`: value 0 out of range",
        ),
        (
            asha().replace("asha_reduction = 2", "asha_reduction = 1"),
            "asha_reduction",
            "key `asha_reduction` in comparison `blobs`: value 1 out of range (integer in [2, 1000])",
        ),
        (
            asha().replace("asha_reduction = 2", "asha_min_epochs = 6"),
            "asha_min_epochs",
            "key `asha_min_epochs` in comparison `blobs`: ASHA's first rung is at epoch 6, and with `epochs = 6` no rung",
        ),
        (
            EXP.replace("epochs = 6", "epochs = 1"),
            "pruner =",
            "key `pruner` in comparison `blobs`: the median rule decides after epochs 2..0",
        ),
    ];
    for (text, needle, want) in cases {
        let e = err(&text);
        let line = line_of(&text, needle);
        assert!(e.starts_with(&format!("p.toml:{line}: ")), "line {line}: {e}");
        assert!(e.contains(want), "{e}\nwanted: {want}");
    }
}

/// The pruner is part of a trial's identity; evaluation runs and test functions are not pruned.
#[test]
fn only_network_tuning_runs_carry_the_pruner() {
    let plain = Plan::new(&parse(&EXP.replace("pruner = \"median\"\n", ""), "p.toml", "p").unwrap()).unwrap();
    let pruned = Plan::new(&parse(EXP, "p.toml", "p").unwrap()).unwrap();
    assert_eq!(plain.runs.len(), pruned.runs.len());
    for (a, b) in plain.runs.iter().zip(&pruned.runs) {
        assert_ne!(a.hash, b.hash);
        assert!(group_of(b).is_some() && group_of(a).is_none());
    }
    let mixed = EXP.replace("[\"blobs-two-layer\"]", "[\"blobs-two-layer\", \"sphere\"]");
    let plan = Plan::new(&parse(&mixed, "p.toml", "p").unwrap()).unwrap();
    for r in &plan.runs {
        assert_eq!(group_of(r).is_some(), r.task == "blobs-two-layer", "{}", r.label);
    }
}

/// Every stored tuning run agrees with the rule applied by hand to the earlier trials of its
/// group as stored: a pruned run is pruned exactly at the epoch it reached (and at none before),
/// a completed one at no epoch.
fn check_decisions(exp_text: &str, runs: &[RunRecord]) -> usize {
    let exp = parse(exp_text, "p.toml", "p").unwrap();
    let plan = Plan::with_results(&exp, runs).unwrap();
    let by_hash = |h: &str| runs.iter().find(|r| r.hash == h).unwrap();
    let mut pruned = 0;
    for (i, spec) in plan.runs.iter().enumerate() {
        let Some(g) = group_of(spec) else { continue };
        let earlier: Vec<Curve> = plan.runs[..i]
            .iter()
            .filter(|o| group_of(o) == Some(g))
            .map(|o| {
                let r = by_hash(&o.hash);
                Curve::of(r.status, &r.series)
            })
            .collect();
        let rule = spec.tune.as_ref().unwrap().prune.unwrap();
        let p = Pruner { rule, epochs: 6, earlier };
        let r = by_hash(&spec.hash);
        let own: Vec<f64> = r.series.iter().map(optlab_lab::prune::metric).collect();
        let first = (1..=own.len()).find(|&e| p.decide(&own[..e]).is_some());
        match r.status {
            Status::Pruned => {
                pruned += 1;
                let e = r.summary.epochs.unwrap();
                assert_eq!(first, Some(e as usize), "{}", r.label);
                assert_eq!(r.series.len(), e as usize);
                assert!(e < 6);
                assert_eq!(r.summary.termination.as_deref(), Some("pruned"));
                assert_eq!(r.summary.steps, u64::from(e) * 16, "800 training points in batches of 50");
                assert_eq!(r.error, p.decide(&own));
            }
            Status::Ok => {
                assert_eq!(first, None, "{}", r.label);
                assert_eq!(r.series.len(), 6);
            }
            Status::Diverged => {
                // No decision before the epoch it diverged in.
                let full = own.len() - 1;
                assert_eq!((1..=full).find(|&e| p.decide(&own[..e]).is_some()), None, "{}", r.label);
            }
            Status::Failed => panic!("{}: failed: {:?}", r.label, r.error),
        }
    }
    pruned
}

fn run_all(text: &str, jobs: usize) -> (tempfile::TempDir, Vec<RunRecord>) {
    let exp = parse(text, "p.toml", "p").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    let done = run_experiment(&exp, &mut st, &LabTasks { threads: Some(1) }, &opts(jobs, None)).unwrap();
    assert!(done.waiting().is_none());
    let runs = st.runs().unwrap();
    (dir, runs)
}

/// The figures of runs that do not depend on the machine (wall times left out).
type Key = (String, Status, Option<u32>, Vec<(u64, f64, Option<f64>)>);

fn key(runs: &[RunRecord]) -> Vec<Key> {
    let mut v: Vec<_> = runs
        .iter()
        .map(|r| {
            (
                r.hash.clone(),
                r.status,
                r.summary.epochs,
                r.series.iter().map(|p| (p.step, p.loss, p.val_loss)).collect(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn the_median_rule_prunes_bad_trials_and_stores_status_and_epoch() {
    let (_d, runs) = run_all(EXP, 1);
    // 2 optimizers x 8 trials, then each chosen trial rerun with seed 0.
    assert_eq!(runs.len(), 16 + 2);
    let pruned = check_decisions(EXP, &runs);
    assert!(pruned > 0 && pruned < 12, "{pruned} pruned");
    // The first two trials of each optimizer (the startup trials) ran through.
    for opt in ["adam", "sgd"] {
        let mine: Vec<&RunRecord> = runs.iter().filter(|r| r.optimizer == opt && r.tuning().is_some()).collect();
        assert!(mine[..2].iter().all(|r| r.status != Status::Pruned));
    }
    // Evaluation runs are never pruned; a pruned trial is never chosen.
    let evals: Vec<&RunRecord> = runs.iter().filter(|r| r.tuning().is_none()).collect();
    assert!(evals.iter().all(|r| r.status == Status::Ok && r.series.len() == 6));
    for e in evals {
        let v = e.config["tuned"]["value"].as_str().unwrap();
        let chosen = runs.iter().find(|r| r.tuning().is_some_and(|m| m.base == e.label && m.value == v));
        assert_eq!(chosen.map(|r| r.status), Some(Status::Ok), "{}", e.label);
    }
}

#[test]
fn asha_prunes_at_its_rungs_only() {
    let text = asha();
    let (_d, runs) = run_all(&text, 1);
    let pruned = check_decisions(&text, &runs);
    assert!(pruned > 0, "{pruned} pruned");
    // Rungs at epochs 1, 2, 4.
    for r in runs.iter().filter(|r| r.status == Status::Pruned) {
        assert!([1, 2, 4].contains(&r.summary.epochs.unwrap()), "{:?}", r.summary.epochs);
    }
}

/// Interrupts a run after `budget` trainings: later runs fail (as a killed process leaves them
/// unstored, they are run again by the next call).
struct Interrupted {
    budget: usize,
    calls: AtomicUsize,
    inner: LabTasks,
}

impl TaskRunner for Interrupted {
    fn run(&self, spec: &RunSpec, cancel: &AtomicBool) -> RunOutput {
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.budget {
            return RunOutput::failed("interrupted");
        }
        self.inner.run(spec, cancel)
    }
    fn run_pruned(&self, spec: &RunSpec, pruner: &Pruner, cancel: &AtomicBool) -> RunOutput {
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.budget {
            return RunOutput::failed("interrupted");
        }
        self.inner.run_pruned(spec, pruner, cancel)
    }
}

#[test]
fn pruning_is_the_same_after_a_resume_with_more_jobs_and_for_a_shard_on_a_merged_store() {
    let (_d, whole) = run_all(EXP, 1);
    assert!(whole.iter().any(|r| r.status == Status::Pruned));
    let exp = parse(EXP, "p.toml", "p").unwrap();
    let tasks = LabTasks { threads: Some(1) };
    // Interrupted after 5 trainings, then resumed with two jobs.
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    let cut = Interrupted { budget: 5, calls: AtomicUsize::new(0), inner: tasks };
    let first = run_experiment(&exp, &mut st, &cut, &opts(1, None)).unwrap();
    assert!(first.waiting().is_some());
    assert_eq!(first.summary().failed, 11);
    let again = run_experiment(&exp, &mut st, &tasks, &opts(2, None)).unwrap();
    assert!(again.waiting().is_none());
    assert_eq!(key(&st.runs().unwrap()), key(&whole));
    // Two jobs from the start.
    let (_d2, two) = run_all(EXP, 2);
    assert_eq!(key(&two), key(&whole));

    // Shards decide with their own trials only: shard 1/2 run on a store that holds shard 2/2's
    // runs gives the records it gives alone.
    let shard = |i: usize, into: &mut Store| {
        run_experiment(&exp, into, &tasks, &opts(1, Some(Shard::new(i, 2).unwrap()))).unwrap();
    };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut s1 = Store::open_dir(d1.path()).unwrap();
    shard(1, &mut s1);
    let mut s2 = Store::open_dir(d2.path()).unwrap();
    shard(2, &mut s2);
    let tuning =
        |s: &Store| -> Vec<RunRecord> { s.runs().unwrap().into_iter().filter(|r| r.tuning().is_some()).collect() };
    let alone = key(&tuning(&s1));
    let d3 = tempfile::tempdir().unwrap();
    let mut s3 = Store::open_dir(d3.path()).unwrap();
    s3.merge_from(&s2).unwrap();
    shard(1, &mut s3);
    let mut mixed = key(&tuning(&s3));
    let theirs = key(&tuning(&s2));
    mixed.retain(|r| !theirs.contains(r));
    assert_eq!(mixed, alone);
    // Each shard's decisions follow the rule over its own earlier trials.
    let plan = Plan::new(&exp).unwrap();
    for (i, s) in [(1, &s1), (2, &s2)] {
        let runs = s.runs().unwrap();
        let sel = plan.select(Some(Shard::new(i, 2).unwrap()));
        for (k, spec) in sel.iter().enumerate() {
            let Some(g) = group_of(spec) else { continue };
            let earlier: Vec<Curve> = sel[..k]
                .iter()
                .filter(|o| group_of(o) == Some(g))
                .map(|o| {
                    let r = runs.iter().find(|r| r.hash == o.hash).unwrap();
                    Curve::of(r.status, &r.series)
                })
                .collect();
            let p = Pruner { rule: spec.tune.as_ref().unwrap().prune.unwrap(), epochs: 6, earlier };
            let r = runs.iter().find(|r| r.hash == spec.hash).unwrap();
            let own: Vec<f64> = r.series.iter().map(optlab_lab::prune::metric).collect();
            let first = (1..=own.len()).find(|&e| p.decide(&own[..e]).is_some());
            assert_eq!(first.map(|e| e as u32), (r.status == Status::Pruned).then(|| r.summary.epochs.unwrap()));
        }
    }
}

/// The default `run_pruned` of a task runner cuts a whole run where the pruner stops it.
#[test]
fn the_default_run_pruned_cuts_the_whole_run() {
    let plan = Plan::new(&parse(EXP, "p.toml", "p").unwrap()).unwrap();
    let spec = &plan.runs[0];
    let tasks = LabTasks { threads: Some(1) };
    let whole = tasks.run(spec, &AtomicBool::new(false));
    assert_eq!(whole.series.len(), 6);
    // An earlier trial far better at every epoch: pruned after the warm-up epoch.
    let p = Pruner {
        rule: PruneRule::Median { warmup_epochs: 1, startup_trials: 1 },
        epochs: 6,
        earlier: vec![Curve { status: Status::Ok, values: vec![1e-9; 6] }],
    };
    let cut = optlab_lab::task::cut_at_pruning(whole.clone(), &p);
    let real = tasks.run_pruned(spec, &p, &AtomicBool::new(false));
    assert_eq!(cut.status, Status::Pruned);
    assert_eq!(cut.summary.epochs, Some(2));
    assert_eq!(cut.series, whole.series[..2]);
    for o in [&cut, &real] {
        assert_eq!(o.status, Status::Pruned);
        assert_eq!(o.summary.epochs, Some(2));
        assert_eq!(o.summary.steps, 32);
        assert_eq!(o.summary.termination.as_deref(), Some("pruned"));
        assert!(o.error.as_deref().unwrap().starts_with("pruned after epoch 2 by the median rule"), "{:?}", o.error);
    }
    assert_eq!(
        real.series.iter().map(|p| p.val_loss).collect::<Vec<_>>(),
        cut.series.iter().map(|p| p.val_loss).collect::<Vec<_>>()
    );
    assert_eq!(real.summary.final_val_loss, cut.summary.final_val_loss);
    assert_eq!(real.summary.min_loss, cut.summary.min_loss);
}
