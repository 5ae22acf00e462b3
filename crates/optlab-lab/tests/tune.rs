//! Tuning protocols (`[comparison.tune]`): the file's table and its errors, the two-phase plan
//! run end to end (the chosen value is the study's `pick_lr` on the same runs), resume, shards
//! while phase one is incomplete, and a network task.

use optlab_lab::function_task::{random_starts, run_one, Limits, Problem, StartStream};
use optlab_lab::lab_tasks::LabTasks;
use optlab_lab::plan::{Plan, Shard, TaskSettings};
use optlab_lab::record::RunRecord;
use optlab_lab::runner::{run_experiment, RunOptions};
use optlab_lab::spec::parse;
use optlab_lab::stats::median;
use optlab_lab::store::Store;
use optlab_lab::study::{pick_lr, LrTrial};
use optlab_optim::OptimConfig;

const EXP: &str = r#"[experiment]
name = "tuned"

[[comparison]]
name = "fns"
tasks = ["sphere", "rosenbrock"]
start = "defaults"
starts = 2
steps = 150
optimizers = [{ name = "sgd" }, { name = "adam" }, { name = "sgd", set = { lr = 0.1 }, label = "sgd-fixed" }]

[comparison.tune]
values = [0.1, 0.25, 0.5, 1.0]
starts = 2
"#;

fn err(text: &str) -> String {
    match parse(text, "t.toml", "t") {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn opts(jobs: usize, shard: Option<Shard>) -> RunOptions {
    RunOptions { jobs, shard, progress: false, retry_failed: true }
}

#[test]
fn the_tune_table_parses_with_its_defaults() {
    let exp = parse(EXP, "t.toml", "t").unwrap();
    let t = exp.comparisons[0].tune.as_ref().unwrap();
    assert_eq!(t.info.key, "lr");
    assert_eq!(t.info.values, ["0.1", "0.25", "0.5", "1"]);
    assert_eq!((t.info.starts, t.info.seeds.clone()), (2, vec![0]));
    assert_eq!((t.info.protocol.as_str(), t.info.rule.as_str()), ("equal_budget", "median_score"));
    assert_eq!(t.line, 12);
    assert_eq!(exp.info.comparisons[0].tune.as_ref(), Some(&t.info));
    let g = parse(
        &EXP.replace("values = [0.1, 0.25, 0.5, 1.0]", "log_grid = { from = 1e-4, to = 1, points = 13 }"),
        "t.toml",
        "t",
    )
    .unwrap();
    let values = &g.comparisons[0].tune.as_ref().unwrap().info.values;
    assert_eq!(values.len(), 13);
    assert_eq!((values[0].as_str(), values[12].as_str()), ("1e-4", "1"));
    assert_eq!(values[4], optlab_optim::fmt_num(optlab_lab::spec::log_grid(1e-4, 1.0, 13)[4]));
}

#[test]
fn tune_errors_name_the_file_line_and_key() {
    let cases = [
        (format!("{EXP}what = 1\n"), "t.toml:15", "what"),
        (
            EXP.replace("values = [0.1, 0.25, 0.5, 1.0]\n", ""),
            "t.toml:12",
            "key `tune` in comparison `fns`: the grid is missing",
        ),
        (
            EXP.replace(
                "values = [0.1, 0.25, 0.5, 1.0]",
                "values = [0.1]\nlog_grid = { from = 1e-3, to = 1, points = 3 }",
            ),
            "t.toml:13",
            "give `values` or `log_grid`, not both",
        ),
        (
            EXP.replace("values = [0.1, 0.25, 0.5, 1.0]", "values = [0.1, 0.1]"),
            "t.toml:13",
            "value 0.1 is listed twice",
        ),
        (EXP.replace("values = [0.1, 0.25, 0.5, 1.0]", "values = []"), "t.toml:13", "the list of values is empty"),
        (
            EXP.replace("values = [0.1, 0.25, 0.5, 1.0]", "log_grid = { from = 1, to = 0.1, points = 3 }"),
            "t.toml:13",
            "key `tune.log_grid` in comparison `fns`: from = 1, to = 0.1, points = 3",
        ),
        (format!("{EXP}rule = \"best\"\n"), "t.toml:15", "unknown rule `best`"),
        (EXP.replace("1.0]\nstarts = 2", "1.0]\nstarts = 0"), "t.toml:14", "key `tune.starts`"),
        (
            EXP.replace("[comparison.tune]\n", "[comparison.tune]\nkey = \"gamma\"\n"),
            "t.toml:13",
            "key `tune.key` in comparison `fns`: no optimizer of the comparison has `gamma`",
        ),
        (
            EXP.replace("[comparison.tune]\n", "[comparison.grid]\nlr = [0.1, 0.2]\n[comparison.tune]\n"),
            "t.toml:14",
            "`lr` is tuned and swept",
        ),
    ];
    for (text, at, want) in cases {
        let e = err(&text);
        assert!(e.starts_with(at) && e.contains(want), "`{e}` should start with {at} and mention `{want}`");
    }
    // Network tasks: the tuning runs need seeds of their own.
    let net = "[experiment]\nname = \"n\"\n[[comparison]]\nname = \"net\"\ntasks = [\"blobs-two-layer\"]\nseeds = [0, 1]\noptimizers = [{ name = \"adam\" }]\n[comparison.tune]\nvalues = [0.01, 0.1]\n";
    let e = err(net);
    assert!(
        e.starts_with("t.toml:8: key `tune.seeds` in comparison `net`: seed 0 is a tuning seed and an evaluation seed"),
        "{e}"
    );
    let e = err(&format!("{net}seeds = [1, 5]\n"));
    assert!(e.starts_with("t.toml:10: key `tune.seeds`") && e.contains("seed 1"), "{e}");
    let e = err(&format!("{net}seeds = [5]\nstarts = 3\n"));
    assert!(e.starts_with("t.toml:11: key `tune.starts`") && e.contains("network tasks tune over `seeds`"), "{e}");
    assert!(parse(&format!("{net}seeds = [5, 6]\n"), "t.toml", "t").is_ok());
    // No value valid for an optimizer: refused when planned, naming the configuration.
    let exp = parse(&EXP.replace("values = [0.1, 0.25, 0.5, 1.0]", "values = [-1.0, -2.0]"), "t.toml", "t").unwrap();
    let e = Plan::new(&exp).unwrap_err().to_string();
    assert!(
        e.starts_with("t.toml:12: key `tune.values` in comparison `fns`: `sgd` accepts none of the values of `lr`"),
        "{e}"
    );
}

#[test]
fn phase_one_is_the_tuning_runs_and_phase_two_waits_for_them() {
    let exp = parse(EXP, "t.toml", "t").unwrap();
    let plan = Plan::new(&exp).unwrap();
    // 2 tasks × 2 tuned optimizers × 4 values × 2 tuning starts; the fixed-lr entry is not tuned.
    assert_eq!(plan.runs.len(), 32);
    assert!(plan.runs.iter().all(|r| r.tune.is_some() && r.config().get("tune").is_some()));
    assert!(plan.runs.iter().all(|r| r.label.contains(" lr=") && r.swept.contains_key("lr")));
    let w = plan.waiting.as_ref().unwrap();
    assert_eq!((w.tuning, w.stored, w.failed), (32, 0, 0));
    assert!(
        w.to_string().contains("comparison `fns` are planned once every tuning run is in the store: 0 of 32"),
        "{w}"
    );
    // Tuning starts come from the tuning stream, and keep only their first and last points.
    for r in &plan.runs {
        let TaskSettings::Function(f) = &r.settings else { panic!() };
        assert!(matches!(f.start, optlab_lab::plan::Start::Tuning { of: 2, .. }));
        assert_eq!(f.points, 2);
    }
}

/// The study's protocol by hand: every grid value from the tuning starts, scored, `pick_lr`.
fn study_choice(task: &str, values: &[f64], starts: usize) -> f64 {
    let p = Problem::new(task, 1e-6).unwrap();
    let lim = Limits { max_steps: 150, xtol: 1e-8, patience: 10, time_limit: None };
    let trials: Vec<LrTrial> = values
        .iter()
        .map(|&lr| {
            let rs: Vec<_> = random_starts(&p, 0, StartStream::Tuning, starts)
                .iter()
                .map(|x| run_one(&p, &OptimConfig::new("sgd").set("lr", lr), x, &lim, None).unwrap())
                .collect();
            LrTrial {
                lr,
                median_score: median(rs.iter().map(|r| r.score(&p))),
                median_steps: median(rs.iter().map(|r| r.steps_to_success())),
                successes: rs.iter().filter(|r| r.outcome.success()).count(),
                runs: rs.len(),
                invalid: false,
            }
        })
        .collect();
    pick_lr(&trials).unwrap()
}

fn eval_runs<'a>(runs: &'a [RunRecord], task: &str, label: &str) -> Vec<&'a RunRecord> {
    runs.iter().filter(|r| r.tuning().is_none() && r.task == task && r.label == label).collect()
}

#[test]
fn a_tuned_experiment_runs_both_phases_chooses_as_the_study_and_resumes_doing_nothing() {
    let exp = parse(EXP, "t.toml", "t").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    let done = run_experiment(&exp, &mut st, &LabTasks::default(), &opts(2, None)).unwrap();
    assert_eq!(done.phases.len(), 2);
    assert!(done.waiting().is_none());
    // Phase two: 3 configurations × 2 tasks × (default starts + 2 random starts).
    let defaults = |t: &str| optlab_functions::by_name(t, None).unwrap().default_starts().len();
    let eval = 3 * (defaults("sphere") + 2 + defaults("rosenbrock") + 2);
    assert_eq!(done.plan.runs.len(), 32 + eval);
    assert_eq!(done.summary().ran, 32 + eval);
    let runs = st.runs().unwrap();
    assert_eq!(runs.len(), 32 + eval);
    assert!(runs.iter().all(|r| r.summary.termination.is_some()));
    for task in ["sphere", "rosenbrock"] {
        let want = study_choice(task, &[0.1, 0.25, 0.5, 1.0], 2);
        let ev = eval_runs(&runs, task, "sgd");
        assert_eq!(ev.len(), defaults(task) + 2);
        for r in &ev {
            let lr: f64 = r.config["optimizer"]["set"]["lr"].as_str().unwrap().parse().unwrap();
            assert_eq!(lr, want, "{task}: the evaluation runs use the study's choice");
        }
        let fixed = eval_runs(&runs, task, "sgd-fixed");
        assert!(fixed.iter().all(|r| r.config["optimizer"]["set"]["lr"] == "0.1"));
    }
    // On the sphere, lr 0.5 lands on the minimum in one step (θ ← (1 − 2 lr) θ).
    assert_eq!(study_choice("sphere", &[0.1, 0.25, 0.5, 1.0], 2), 0.5);
    // Again into the same store: nothing is run.
    let again = run_experiment(&exp, &mut st, &LabTasks::default(), &opts(2, None)).unwrap();
    assert_eq!(again.phases.len(), 1);
    assert_eq!((again.summary().ran, again.summary().skipped), (0, 32 + eval));
    assert_eq!(again.plan, done.plan);
    // The choice from the stored tuning runs: every value of the grid, each from both starts.
    let tuning: Vec<&RunRecord> = runs.iter().filter(|r| r.tuning().is_some()).collect();
    let chosen = optlab_lab::tune::choose(&exp.comparisons[0].tune.as_ref().unwrap().info, &tuning);
    assert_eq!(chosen.len(), 4, "2 tasks × 2 tuned configurations");
    assert!(chosen.iter().all(|c| c.trials.len() == 4 && c.trials.iter().all(|t| t.runs == 2)));
}

#[test]
fn a_shard_with_phase_one_incomplete_stops_with_a_message_and_the_merged_store_finishes() {
    let exp = parse(EXP, "t.toml", "t").unwrap();
    let (a, b, m) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut sa = Store::open_dir(a.path()).unwrap();
    let one = run_experiment(&exp, &mut sa, &LabTasks::default(), &opts(1, Some(Shard::new(1, 2).unwrap()))).unwrap();
    assert_eq!(one.summary().ran, 16);
    let w = one.waiting().expect("phase two waits");
    assert_eq!((w.tuning, w.stored), (32, 16));
    let mut sb = Store::open_dir(b.path()).unwrap();
    let two = run_experiment(&exp, &mut sb, &LabTasks::default(), &opts(1, Some(Shard::new(2, 2).unwrap()))).unwrap();
    assert_eq!(two.waiting().map(|w| w.stored), Some(16));
    let mut merged = Store::open_dir(m.path()).unwrap();
    merged.merge_from(&sa).unwrap();
    merged.merge_from(&sb).unwrap();
    // Each shard again on the merged store: phase two is planned, and split between them.
    let p1 =
        run_experiment(&exp, &mut merged, &LabTasks::default(), &opts(1, Some(Shard::new(1, 2).unwrap()))).unwrap();
    assert!(p1.waiting().is_none());
    let p2 =
        run_experiment(&exp, &mut merged, &LabTasks::default(), &opts(1, Some(Shard::new(2, 2).unwrap()))).unwrap();
    assert_eq!(p1.plan, p2.plan);
    assert_eq!(p1.summary().ran + p2.summary().ran, p1.plan.runs.len() - 32);
    // The same results as one whole run.
    let w = tempfile::tempdir().unwrap();
    let mut whole = Store::open_dir(w.path()).unwrap();
    let all = run_experiment(&exp, &mut whole, &LabTasks::default(), &opts(2, None)).unwrap();
    assert_eq!(all.plan, p1.plan);
    let key = |rs: Vec<RunRecord>| {
        let mut v: Vec<(String, u64, String)> =
            rs.into_iter().map(|r| (r.hash, r.summary.steps, format!("{:?}", r.summary.final_loss))).collect();
        v.sort();
        v
    };
    assert_eq!(key(merged.runs().unwrap()), key(whole.runs().unwrap()));
}

#[test]
fn a_network_comparison_with_a_tuning_protocol_works() {
    let text = r#"[experiment]
name = "net"
[[comparison]]
name = "blobs"
tasks = ["blobs-two-layer"]
epochs = 1
batch_size = 50
optimizers = [{ name = "adam" }]
[comparison.tune]
values = [0.001, 0.1]
seeds = [100]
"#;
    let exp = parse(text, "n.toml", "n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    let done = run_experiment(&exp, &mut st, &LabTasks { threads: Some(1) }, &opts(1, None)).unwrap();
    assert_eq!(done.phases.len(), 2);
    let runs = st.runs().unwrap();
    assert_eq!(runs.len(), 3);
    let tuning: Vec<&RunRecord> = runs.iter().filter(|r| r.tuning().is_some()).collect();
    assert!(tuning.iter().all(|r| r.seed == 100 && r.summary.termination.as_deref() == Some("completed")));
    let chosen = optlab_lab::tune::choose(&exp.comparisons[0].tune.as_ref().unwrap().info, &tuning);
    let lowest = tuning
        .iter()
        .min_by(|a, b| a.summary.final_val_loss.unwrap().total_cmp(&b.summary.final_val_loss.unwrap()))
        .unwrap();
    assert_eq!(chosen[0].chosen_value(), Some(lowest.tuning().unwrap().value.as_str()));
    let ev = eval_runs(&runs, "blobs-two-layer", "adam");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].seed, 0);
    assert_eq!(ev[0].config["optimizer"]["set"]["lr"].as_str(), chosen[0].chosen_value());
}

/// A tuning run stored as failed holds phase two back (the message counts it); once it is
/// stored ok, phase two is planned.
#[test]
fn a_failed_tuning_run_holds_phase_two_back() {
    let exp = parse(EXP, "t.toml", "t").unwrap();
    let plan = Plan::new(&exp).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut st = Store::open_dir(dir.path()).unwrap();
    run_experiment(&exp, &mut st, &LabTasks::default(), &opts(2, None)).unwrap();
    let mut runs = st.summaries().unwrap();
    let first = runs.iter_mut().find(|r| r.hash == plan.runs[0].hash).unwrap();
    first.status = optlab_lab::record::Status::Failed;
    let held = Plan::with_results(&exp, &runs).unwrap();
    let w = held.waiting.as_ref().expect("phase two waits");
    assert_eq!((w.tuning, w.stored, w.failed), (32, 31, 1));
    assert!(w.to_string().contains("31 of 32 are (1 failed and are run again by the next `optlab run`)"), "{w}");
    assert_eq!(held.runs, plan.runs);
    runs.retain(|r| r.hash != plan.runs[0].hash);
    assert_eq!(Plan::with_results(&exp, &runs).unwrap().waiting.map(|w| w.stored), Some(31));
}
