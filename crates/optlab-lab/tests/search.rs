//! Search spaces (`[comparison.search]`, `trials`, `sampler`, `[experiment] seed`) and the
//! protocols that tune over them (`protocol = "deepobs"`, `"algoperf"`): parsing and errors,
//! the sampled trials, the two-phase plans run end to end (choices checked by hand from the
//! stored tuning runs), shards before and after a merge, and `random_points`.

use std::collections::HashMap;

use optlab_lab::lab_tasks::LabTasks;
use optlab_lab::plan::{Plan, Shard, Start, TaskSettings};
use optlab_lab::record::RunRecord;
use optlab_lab::runner::{run_experiment, RunOptions};
use optlab_lab::spec::parse;
use optlab_lab::stats::median;
use optlab_lab::store::Store;
use optlab_lab::tune::{choose, score, Problems};

const SEARCH: &str = r#"[experiment]
name = "s"
seed = 3

[[comparison]]
name = "fns"
tasks = ["sphere"]
steps = 100
trials = 5
sampler = "halton"
optimizers = [{ name = "adam" }, { name = "adamw" }]

[comparison.search]
lr = { log_uniform = [1e-3, 1] }
beta1 = { uniform = [0.8, 0.99] }
"#;

fn err(text: &str) -> String {
    match parse(text, "s.toml", "s") {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn opts(jobs: usize, shard: Option<Shard>) -> RunOptions {
    RunOptions { jobs, shard, progress: false, retry_failed: true }
}

fn lr_of(r: &RunRecord) -> String {
    r.config["optimizer"]["set"]["lr"].as_str().unwrap().to_string()
}

#[test]
fn a_search_without_a_protocol_is_a_list_of_its_trials_the_same_for_every_optimizer() {
    let exp = parse(SEARCH, "s.toml", "s").unwrap();
    let c = &exp.comparisons[0];
    assert!(c.tune.is_none());
    assert_eq!(c.sweep.len(), 5);
    assert!(c.sweep.zipped);
    assert_eq!(c.info.swept, ["lr", "beta1"]);
    let plan = Plan::new(&exp).unwrap();
    assert_eq!(plan.runs.len(), 10, "5 trials × 2 optimizers");
    let trials = |o: &str| -> Vec<(String, String)> {
        plan.runs
            .iter()
            .filter(|r| r.optimizer.name == o)
            .map(|r| (r.swept["lr"].clone(), r.swept["beta1"].clone()))
            .collect()
    };
    assert_eq!(trials("adam"), trials("adamw"), "the same trials for every optimizer");
    for (lr, b1) in trials("adam") {
        let (lr, b1): (f64, f64) = (lr.parse().unwrap(), b1.parse().unwrap());
        assert!((1e-3..=1.0).contains(&lr) && (0.8..=0.99).contains(&b1), "{lr} {b1}");
    }
    // Deterministic given the experiment's seed; another seed or sampler draws other trials.
    let again = Plan::new(&parse(SEARCH, "s.toml", "s").unwrap()).unwrap();
    assert_eq!(
        again.runs.iter().map(|r| &r.hash).collect::<Vec<_>>(),
        plan.runs.iter().map(|r| &r.hash).collect::<Vec<_>>()
    );
    let hashes = |text: &str| -> Vec<String> {
        Plan::new(&parse(text, "s.toml", "s").unwrap()).unwrap().runs.into_iter().map(|r| r.hash).collect()
    };
    let base = hashes(SEARCH);
    for other in [
        SEARCH.replace("seed = 3", "seed = 4"),
        SEARCH.replace("\"halton\"", "\"sobol\""),
        SEARCH.replace("\"halton\"", "\"random\""),
    ] {
        let h = hashes(&other);
        assert_eq!(h.len(), base.len());
        assert!(h.iter().all(|x| !base.contains(x)), "other trials");
    }
    // int and choice distributions.
    let text = SEARCH.replace("beta1 = { uniform = [0.8, 0.99] }", "amsgrad = { choice = [true, false] }\n");
    let exp = parse(&text.replace("trials = 5", "trials = 2"), "s.toml", "s").unwrap();
    let vals: Vec<&str> = exp.comparisons[0].sweep.values[1].iter().map(String::as_str).collect();
    assert!(vals.iter().all(|v| *v == "true" || *v == "false"), "{vals:?}");
}

#[test]
fn search_errors_name_the_file_line_and_key() {
    let line = |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let cases: Vec<(String, &str, &str)> = vec![
        (
            SEARCH.replace("{ name = \"adamw\" }", "{ name = \"sgd\" }"),
            "beta1 = {",
            "key `beta1` in comparison `fns`: optimizer `sgd` (line 11) has no hyperparameter `beta1`",
        ),
        (
            SEARCH.replace("{ name = \"adamw\" }", "{ name = \"adamw\", set = { lr = 0.1 } }"),
            "lr = {",
            "key `lr` in comparison `fns`: optimizer `adamw lr=0.1` (line 11) sets `lr` itself",
        ),
        (SEARCH.replace("trials = 5\n", ""), "lr = {", "key `trials` in comparison `fns`: a search needs `trials = N`"),
        (
            SEARCH.replace("trials = 5", "trials = 0"),
            "trials = 0",
            "key `trials` in comparison `fns`: value 0 out of range",
        ),
        (SEARCH.replace("\"halton\"", "\"grid\""), "sampler =", "unknown sampler `grid`; known: halton, sobol, random"),
        (
            SEARCH.replace("[1e-3, 1]", "[0, 1]"),
            "lr = {",
            "key `lr` in comparison `fns`: `log_uniform` takes [lo, hi] with lo < hi finite and lo > 0",
        ),
        (
            SEARCH.replace("[0.8, 0.99]", "[0.8, 1.5]"),
            "beta1 = {",
            "key `beta1` in comparison `fns`: value 1.5 out of range [0, 1)",
        ),
        (
            SEARCH.replace("{ uniform = [0.8, 0.99] }", "{ uniform = [0.8, 0.99], choice = [0.9] }"),
            "beta1 = {",
            "give exactly one of",
        ),
        (
            SEARCH.replace("{ uniform = [0.8, 0.99] }", "{ normal = [0.8, 0.99] }"),
            "beta1 = {",
            "unknown field `normal`",
        ),
        (
            SEARCH.replace(
                "lr = { log_uniform = [1e-3, 1] }\nbeta1 = { uniform = [0.8, 0.99] }",
                "amsgrad = { choice = [true, false] }",
            ),
            "trials = 5",
            "repeats an earlier one (amsgrad=",
        ),
        (
            format!("{SEARCH}[comparison.grid]\neps = [1e-8]\n"),
            "eps = [",
            "a comparison has a search or a grid/list, not both",
        ),
        (
            SEARCH.replace("lr = {", "batch_size = { int = [8, 9] }\nlr = {"),
            "batch_size =",
            "only hyperparameters can be searched",
        ),
        (
            SEARCH.replace(
                "[comparison.search]\nlr = { log_uniform = [1e-3, 1] }\nbeta1 = { uniform = [0.8, 0.99] }\n",
                "",
            ),
            "trials = 5",
            "key `trials` in comparison `fns`: `trials` is a setting of a search",
        ),
        (SEARCH.replace("seed = 3", "seed = -1"), "seed = -1", "key `seed`: value -1 out of range"),
        (
            SEARCH.replace("sampler = \"halton\"", "sampler = \"halton\"\nprotocol = \"best\""),
            "protocol =",
            "key `protocol` in comparison `fns`: unknown protocol `best`; known: equal_budget, deepobs, algoperf",
        ),
        (
            format!(
                "{}\n[comparison.tune]\nvalues = [0.1]\n",
                SEARCH.replace("sampler = \"halton\"", "sampler = \"halton\"\nprotocol = \"deepobs\"")
            ),
            "values = [0.1]",
            "key `tune.values` in comparison `fns`: the comparison has a `[comparison.search]`",
        ),
        (
            format!(
                "{}\n[comparison.tune]\ntarget_accuracy = 0.9\n",
                SEARCH.replace("sampler = \"halton\"", "sampler = \"halton\"\nprotocol = \"deepobs\"")
            ),
            "target_accuracy",
            "key `tune.target_accuracy` in comparison `fns`: a validation target is for protocol `algoperf`",
        ),
    ];
    for (text, needle, want) in cases {
        let e = err(&text);
        let at = format!("s.toml:{}:", line(&text, needle));
        assert!(e.starts_with(&at) && e.contains(want), "`{e}` should start with {at} and mention `{want}`");
    }
}

/// A DeepOBS comparison: 4 trials of a search over lr for two optimizers on two functions.
const DEEPOBS: &str = r#"[experiment]
name = "d"

[[comparison]]
name = "fns"
tasks = ["sphere", "rosenbrock"]
start = "defaults"
starts = 1
steps = 120
seeds = [0, 1]
trials = 4
protocol = "deepobs"
optimizers = [{ name = "sgd" }, { name = "adam" }]

[comparison.search]
lr = { log_uniform = [1e-2, 1] }

[comparison.tune]
starts = 2
seeds = [7]
"#;

/// The DeepOBS choice by hand: per task and optimizer, the trial with the lowest median score
/// over its runs (ties: fewer median steps to success, then the earlier trial).
fn deepobs_by_hand(runs: &[RunRecord]) -> HashMap<(String, String), String> {
    let mut problems = Problems::default();
    // Per task and optimizer: each trial with its runs' (step, value) points.
    type Curves = Vec<(String, Vec<(f64, f64)>)>;
    let mut by: HashMap<(String, String), Curves> = HashMap::new();
    for r in runs {
        let Some(m) = r.tuning() else { continue };
        let v = by.entry((r.task.clone(), m.base.clone())).or_default();
        let s = score(r, &mut problems);
        match v.iter_mut().find(|(val, _)| *val == m.value) {
            Some((_, xs)) => xs.push(s),
            None => v.push((m.value.clone(), vec![s])),
        }
    }
    by.into_iter()
        .map(|(k, trials)| {
            let best = trials
                .iter()
                .map(|(v, xs)| (median(xs.iter().map(|x| x.0)), median(xs.iter().map(|x| x.1)), v))
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)))
                .unwrap();
            (k, best.2.clone())
        })
        .collect()
}

#[test]
fn deepobs_tunes_the_search_then_reruns_the_best_trial_with_the_comparisons_seeds() {
    let exp = parse(DEEPOBS, "d.toml", "d").unwrap();
    let t = &exp.comparisons[0].tune.as_ref().unwrap().info;
    assert_eq!((t.protocol.as_str(), t.search.clone(), t.values.len()), ("deepobs", vec!["lr".to_string()], 4));
    assert!(t.values.iter().all(|v| v.starts_with("lr=")));
    let plan = Plan::new(&exp).unwrap();
    // Phase one: 2 tasks × 2 optimizers × 4 trials × 1 tuning seed × 2 tuning starts.
    assert_eq!(plan.runs.len(), 32);
    assert!(plan.waiting.is_some());
    // At most: 32 tuning runs and 2 optimizers × 2 seeds × (default starts + 1) per task.
    assert!(optlab_lab::plan::count_runs(&exp)[0] >= 32);
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    let done = run_experiment(&exp, &mut st, &LabTasks::default(), &opts(2, None)).unwrap();
    assert!(done.waiting().is_none());
    let runs = st.runs().unwrap();
    let want = deepobs_by_hand(&runs);
    assert_eq!(want.len(), 4);
    let defaults = |t: &str| optlab_functions::by_name(t, None).unwrap().default_starts().len();
    for ((task, base), trial) in &want {
        let ev: Vec<&RunRecord> =
            runs.iter().filter(|r| r.tuning().is_none() && &r.task == task && &r.label == base).collect();
        // K = 2 seeds × (default starts + 1 random start).
        assert_eq!(ev.len(), 2 * (defaults(task) + 1), "{task} {base}");
        assert!(ev.iter().all(|r| format!("lr={}", lr_of(r)) == *trial), "{task} {base}: {trial}");
        assert_eq!(ev.iter().map(|r| r.seed).collect::<std::collections::BTreeSet<_>>(), [0, 1].into());
    }
    // choose() agrees, and the tuning runs were run with the tuning seed only.
    let tuning: Vec<&RunRecord> = runs.iter().filter(|r| r.tuning().is_some()).collect();
    assert!(tuning.iter().all(|r| r.seed == 7));
    for c in choose(t, &tuning) {
        assert_eq!(c.chosen_value(), Some(want[&(c.task.clone(), c.base.clone())].as_str()));
        assert_eq!(c.score, None);
    }
    // Resume: nothing new.
    let again = run_experiment(&exp, &mut st, &LabTasks::default(), &opts(2, None)).unwrap();
    assert_eq!(again.summary().ran, 0);
    assert_eq!(again.plan, done.plan);
}

#[test]
fn the_grid_form_of_deepobs_is_the_equal_budget_protocol() {
    // One code path: the same grid under either name plans the same runs (same hashes).
    let grid = "[experiment]\nname = \"g\"\n[[comparison]]\nname = \"c\"\ntasks = [\"sphere\"]\nsteps = 50\noptimizers = [{ name = \"sgd\" }]\n[comparison.tune]\nprotocol = \"equal_budget\"\nlog_grid = { from = 1e-3, to = 1, points = 36 }\nstarts = 1\n";
    let a = Plan::new(&parse(grid, "g.toml", "g").unwrap()).unwrap();
    let b = Plan::new(&parse(&grid.replace("equal_budget", "deepobs"), "g.toml", "g").unwrap()).unwrap();
    assert_eq!(a.runs.len(), 36);
    assert_eq!(a.runs, b.runs);
    // The comparison-level `protocol` is the same as the table's; both at once is an error.
    let top = grid
        .replace("steps = 50\n", "steps = 50\nprotocol = \"deepobs\"\n")
        .replace("protocol = \"equal_budget\"\n", "");
    assert_eq!(Plan::new(&parse(&top, "g.toml", "g").unwrap()).unwrap().runs, b.runs);
    let both = grid.replace("steps = 50\n", "steps = 50\nprotocol = \"deepobs\"\n");
    let e = err(&both);
    assert!(e.starts_with("s.toml:7: key `protocol` in comparison `c`: the protocol is given twice"), "{e}");
}

/// An AlgoPerf comparison on test functions: 3 studies (one per tuning seed) of 3 trials.
const ALGOPERF: &str = r#"[experiment]
name = "a"
seed = 1

[[comparison]]
name = "fns"
tasks = ["rosenbrock"]
start = "default"
steps = 300
trials = 3
sampler = "sobol"
protocol = "algoperf"
optimizers = [{ name = "adam" }, { name = "rmsprop" }]

[comparison.search]
lr = { log_uniform = [1e-3, 0.5] }

[comparison.tune]
seeds = [10, 11, 12]
starts = 1
"#;

#[test]
fn algoperf_runs_trials_per_study_and_takes_the_best_trial_of_the_median_study() {
    let exp = parse(ALGOPERF, "a.toml", "a").unwrap();
    let t = &exp.comparisons[0].tune.as_ref().unwrap().info;
    assert_eq!((t.studies, t.values.len()), (3, 9));
    // Each study draws trials of its own.
    assert_ne!(t.values[0..3], t.values[3..6]);
    let plan = Plan::new(&exp).unwrap();
    // 2 optimizers × 3 studies × 3 trials × 1 seed (the study's) × 1 tuning start.
    assert_eq!(plan.runs.len(), 18);
    assert_eq!(optlab_lab::plan::count_runs(&exp)[0], 18 + 2);
    for r in &plan.runs {
        let m = r.tune.as_ref().unwrap();
        assert_eq!(r.seed, [10, 11, 12][m.study.unwrap() as usize]);
        assert!(r.label.ends_with(&format!("study={}", m.study.unwrap() + 1)), "{}", r.label);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    let done = run_experiment(&exp, &mut st, &LabTasks::default(), &opts(2, None)).unwrap();
    assert!(done.waiting().is_none());
    let runs = st.runs().unwrap();
    assert_eq!(runs.len(), 18 + 2);
    // By hand: per optimizer and study, the trial with the fewest steps to success (the
    // tolerance; +inf on a miss), then the median study.
    let mut problems = Problems::default();
    let tuning: Vec<&RunRecord> = runs.iter().filter(|r| r.tuning().is_some()).collect();
    for base in ["adam", "rmsprop"] {
        let mut best: Vec<(f64, f64, String)> = (0..3u32)
            .map(|s| {
                tuning
                    .iter()
                    .filter(|r| r.tuning().unwrap().base == base && r.tuning().unwrap().study == Some(s))
                    .map(|r| {
                        let (sc, steps) = score(r, &mut problems);
                        (steps, sc, r.tuning().unwrap().value)
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)))
                    .unwrap()
            })
            .collect();
        best.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let c = choose(t, &tuning).into_iter().find(|c| c.base == base).unwrap();
        assert_eq!(c.score, Some(best[1].0), "{base}: the median over studies of the best trial's steps");
        assert_eq!(c.chosen_value(), Some(best[1].2.as_str()), "{base}");
        let ev: Vec<&RunRecord> = runs.iter().filter(|r| r.tuning().is_none() && r.label == base).collect();
        assert_eq!(ev.len(), 1);
        assert_eq!(format!("lr={}", lr_of(ev[0])), best[1].2);
    }
}

#[test]
fn algoperf_phase_two_waits_for_every_shard_and_starts_after_the_merge() {
    let exp = parse(ALGOPERF, "a.toml", "a").unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut a = Store::open_dir(dirs[0].path()).unwrap();
    let mut b = Store::open_dir(dirs[1].path()).unwrap();
    let one = run_experiment(&exp, &mut a, &LabTasks::default(), &opts(1, Some(Shard::new(1, 2).unwrap()))).unwrap();
    assert_eq!(one.waiting().map(|w| (w.tuning, w.stored)), Some((18, 9)));
    let two = run_experiment(&exp, &mut b, &LabTasks::default(), &opts(1, Some(Shard::new(2, 2).unwrap()))).unwrap();
    assert_eq!(two.waiting().map(|w| w.stored), Some(9));
    let mut m = Store::open_dir(dirs[2].path()).unwrap();
    m.merge_from(&a).unwrap();
    m.merge_from(&b).unwrap();
    let p1 = run_experiment(&exp, &mut m, &LabTasks::default(), &opts(1, Some(Shard::new(1, 2).unwrap()))).unwrap();
    let p2 = run_experiment(&exp, &mut m, &LabTasks::default(), &opts(1, Some(Shard::new(2, 2).unwrap()))).unwrap();
    assert!(p1.waiting().is_none() && p2.waiting().is_none());
    assert_eq!(p1.summary().ran + p2.summary().ran, 2);
    let w = tempfile::tempdir().unwrap();
    let mut whole = Store::open_dir(w.path()).unwrap();
    let all = run_experiment(&exp, &mut whole, &LabTasks::default(), &opts(2, None)).unwrap();
    assert_eq!(all.plan, p1.plan);
    let key = |rs: Vec<RunRecord>| {
        let mut v: Vec<(String, u64)> = rs.into_iter().map(|r| (r.hash, r.summary.steps)).collect();
        v.sort();
        v
    };
    assert_eq!(key(m.runs().unwrap()), key(whole.runs().unwrap()));
}

#[test]
fn algoperf_on_a_network_measures_steps_to_the_validation_target() {
    let text = r#"[experiment]
name = "net"
[[comparison]]
name = "blobs"
tasks = ["blobs-two-layer"]
epochs = 3
batch_size = 50
trials = 2
protocol = "algoperf"
optimizers = [{ name = "adam" }]
[comparison.search]
lr = { log_uniform = [1e-3, 0.1] }
[comparison.tune]
seeds = [100, 101]
target_accuracy = 0.8
"#;
    let e = err(&text.replace("target_accuracy = 0.8\n", ""));
    assert!(e.contains("key `tune` in comparison `blobs`: protocol `algoperf` on network tasks needs a target"), "{e}");
    let e = err(&text.replace("0.8", "1.5"));
    assert!(e.contains("key `tune.target_accuracy` in comparison `blobs`: value 1.5 out of range (0, 1]"), "{e}");
    let exp = parse(text, "n.toml", "n").unwrap();
    let t = &exp.comparisons[0].tune.as_ref().unwrap().info;
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    let done = run_experiment(&exp, &mut st, &LabTasks { threads: Some(1) }, &opts(1, None)).unwrap();
    assert!(done.waiting().is_none());
    let runs = st.runs().unwrap();
    assert_eq!(runs.len(), 4 + 1);
    let tuning: Vec<&RunRecord> = runs.iter().filter(|r| r.tuning().is_some()).collect();
    let target = t.target.unwrap();
    let c = &choose(t, &tuning)[0];
    for tr in &c.trials {
        let run = tuning
            .iter()
            .find(|r| r.tuning().unwrap().value == tr.value && r.tuning().unwrap().study == tr.study)
            .unwrap();
        let first =
            run.series.iter().find(|p| p.accuracy.is_some_and(|a| a >= 0.8)).map_or(f64::INFINITY, |p| p.step as f64);
        assert_eq!(tr.median_steps, first);
        assert_eq!(optlab_lab::tune::steps_to_val_target(run, &target), first);
    }
    assert!(c.chosen.is_some() && c.score.is_some());
    // The plan chose the same trial (from the stored series: its summaries alone have no steps
    // to the validation target).
    let eval = runs.iter().find(|r| r.tuning().is_none()).unwrap();
    assert_eq!(eval.config["tuned"]["value"].as_str(), c.chosen_value());
    assert!(c.score.unwrap().is_finite(), "a study met the target: {:?}", c.score);
}

#[test]
fn random_points_thins_the_runs_from_random_starts_only() {
    let text = "[experiment]\nname = \"p\"\n[[comparison]]\nname = \"c\"\ntasks = [\"rosenbrock\"]\nstart = \"defaults\"\nstarts = 2\nrandom_points = 2\npoints = 500\noptimizers = [{ name = \"adam\" }]\n";
    let plan = Plan::new(&parse(text, "p.toml", "p").unwrap()).unwrap();
    for r in &plan.runs {
        let TaskSettings::Function(f) = &r.settings else { panic!() };
        let want = if matches!(f.start, Start::Random { .. }) { 2 } else { 500 };
        assert_eq!(f.points, want, "{:?}", f.start);
    }
    let e = err(&text.replace("random_points = 2", "random_points = 1"));
    assert!(e.starts_with("s.toml:8: key `random_points` in comparison `c`: value 1 out of range"), "{e}");
}

/// The study regression: its evaluation runs from random starts stored their whole trajectory
/// (209 MB for the default study); they keep their first and last points now, the runs from
/// default starts (drawn and written as trajectories) keep every point.
#[test]
fn the_study_keeps_whole_trajectories_of_default_starts_only() {
    use optlab_lab::study::{run_study, StudyConfig};
    let cfg = StudyConfig {
        optimizers: vec!["adam".into()],
        functions: vec!["rosenbrock".into()],
        random_starts: 3,
        tune_starts: 1,
        steps: 60,
        lr_grid: vec![0.01, 0.1],
        threads: Some(1),
        ..StudyConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let study = run_study(&cfg, dir.path()).unwrap();
    let runs = Store::open_dir(dir.path()).unwrap().runs().unwrap();
    let mut random = 0;
    for r in runs.iter().filter(|r| r.tuning().is_none()) {
        let Some(TaskSettings::Function(f)) =
            r.config.get("settings").and_then(|s| serde_json::from_value::<TaskSettings>(s.clone()).ok())
        else {
            panic!("a function run")
        };
        match f.start {
            Start::Random { .. } => {
                random += 1;
                assert!(r.series.len() <= 2, "{} points", r.series.len());
                assert_eq!(r.series.last().map(|p| p.step), Some(r.summary.steps), "the last point is kept");
            }
            _ => assert_eq!(r.series.len() as u64, r.summary.steps + 1, "every iterate of a default start"),
        }
    }
    assert_eq!(random, 3);
    // The study's own view still has every result and the default starts' traces.
    assert_eq!(study.runs.len(), 3 + optlab_functions::by_name("rosenbrock", None).unwrap().default_starts().len());
    assert!(study.runs.iter().filter(|r| r.trace.is_some()).all(|r| r.trace.as_ref().unwrap().len() > 6));
}
