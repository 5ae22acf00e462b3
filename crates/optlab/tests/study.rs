//! The test-function study: stopping rules, the learning-rate protocol, determinism, starts,
//! tables, and the `optlab functions study` command.

use optlab_lab::function_task::{random_starts, run_one, Limits, Outcome, Problem, StartStream};
use optlab_lab::study::{log_grid, LrChoice, OptimizerSpec, Study, StudyConfig};
use optlab_report::study_tables as table;
use std::process::Command;
use std::time::Duration;

/// The study run into a new temporary folder (its store).
fn run_study(cfg: &StudyConfig) -> optlab_lab::Result<Study> {
    optlab_lab::study::run_study(cfg, tempfile::tempdir().unwrap().path())
}

fn limits(max_steps: u64) -> Limits {
    Limits { max_steps, xtol: 1e-8, patience: 10, time_limit: Some(Duration::from_secs(60)) }
}

fn opt(text: &str) -> OptimizerSpec {
    OptimizerSpec::parse(text).unwrap()
}

fn small(optimizers: &[&str], functions: &[&str]) -> StudyConfig {
    StudyConfig {
        optimizers: optimizers.iter().map(|s| s.to_string()).collect(),
        functions: functions.iter().map(|s| s.to_string()).collect(),
        random_starts: 3,
        tune_starts: 2,
        steps: 150,
        lr_grid: log_grid(1e-3, 1.0, 4),
        threads: Some(1),
        ..StudyConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Stopping rules
// ---------------------------------------------------------------------------------------------

#[test]
fn tolerance_on_f_stops_the_run() {
    // SGD with lr 0.5 on x² + y² jumps to the minimum in one step.
    let p = Problem::new("sphere", 1e-6).unwrap();
    let r = run_one(&p, &opt("sgd:lr=0.5").config, &[3.0, -4.0], &limits(100), None).unwrap();
    assert_eq!(r.outcome, Outcome::Reached);
    assert_eq!(r.steps, 1);
    assert!(r.final_f.abs() <= 1e-6);
    // The tolerance is relative for |f*| > 1: Goldstein-Price (f* = 3) allows 3e-6.
    let gp = Problem::new("goldstein_price", 1e-6).unwrap();
    assert_eq!(gp.ftol_abs, 3e-6);
    let r = run_one(&gp, &opt("adam").config, &[0.0, -1.0], &limits(100), None).unwrap();
    assert_eq!((r.outcome, r.steps), (Outcome::Reached, 0), "a start at the minimum succeeds at once");
}

#[test]
fn tolerance_on_theta_stops_the_run() {
    // lr 1e-12: θ moves by ~1e-11 per step, far below xtol·max(1, |θ|) = 4e-8.
    let p = Problem::new("sphere", 1e-6).unwrap();
    let r = run_one(&p, &opt("sgd:lr=1e-12").config, &[3.0, -4.0], &limits(1000), None).unwrap();
    assert_eq!(r.outcome, Outcome::Stalled);
    assert_eq!(r.steps, 10, "stalled after `patience` consecutive small steps");
}

#[test]
fn max_steps_stops_the_run() {
    let p = Problem::new("rosenbrock", 1e-6).unwrap();
    let mut trace = Vec::new();
    let r = run_one(&p, &opt("adam:lr=0.001").config, &[-1.5, 2.0], &limits(50), Some(&mut trace)).unwrap();
    assert_eq!(r.outcome, Outcome::MaxSteps);
    assert_eq!(r.steps, 50);
    assert_eq!(trace.len(), 51 * 3, "f, x, y of every iterate, start and last included");
    assert_eq!(&trace[1..3], &[-1.5, 2.0]);
    assert_eq!(trace[150], r.final_f);
}

#[test]
fn divergence_far_outside_the_domain_is_a_failure_not_a_panic() {
    // SGD with lr 10 on the sphere multiplies θ by -19 per step.
    let p = Problem::new("sphere", 1e-6).unwrap();
    let r = run_one(&p, &opt("sgd:lr=10").config, &[3.0, -4.0], &limits(100), None).unwrap();
    assert_eq!(r.outcome, Outcome::Diverged);
    assert!(!r.outcome.success());
    assert_eq!(r.steps, 2, "|θ| = 76 is inside 10 widths (5.12 + 102.4); 1444 is not");
    assert!(r.note.as_deref().unwrap().contains("domain widths"), "{:?}", r.note);
    assert_eq!(r.gap(&p), f64::INFINITY);
    assert_eq!(r.score(&p), f64::INFINITY);
}

#[test]
fn non_finite_values_are_a_failure_not_a_panic() {
    let p = Problem::new("rosenbrock", 1e-6).unwrap();
    let r = run_one(&p, &opt("adam").config, &[1e100, 1e100], &limits(100), None).unwrap();
    assert_eq!(r.outcome, Outcome::Diverged);
    assert!(r.note.as_deref().unwrap().contains("non-finite"), "{:?}", r.note);
    // And through a whole study: every run of a diverging optimizer is recorded.
    let mut cfg = small(&["sgd:lr=10"], &["sphere"]);
    cfg.random_starts = 2;
    let s = run_study(&cfg).unwrap();
    assert!(s.runs.iter().all(|r| r.result.outcome == Outcome::Diverged));
    let t = table::function_tables(&s);
    assert_eq!(t[0].rows[0].successes, 0);
    assert_eq!(t[0].rows[0].gap.median, f64::INFINITY);
}

#[test]
fn leaving_the_domain_of_an_unbounded_function_is_an_escape() {
    let p = Problem::new("saddle", 1e-6).unwrap();
    assert_eq!(p.fstar, None);
    assert_eq!(p.f_floor, -4.0);
    let r = run_one(&p, &opt("adam:lr=0.1").config, &[1.5, 1e-3], &limits(1000), None).unwrap();
    assert_eq!(r.outcome, Outcome::Escaped);
    assert!(r.outcome.success());
    assert!(r.final_x[1].abs() > 2.0);
    assert_eq!(r.score(&p), -4.0);
    // On the stable manifold (y = 0) plain gradient descent converges to the saddle and stalls.
    let r = run_one(&p, &opt("sgd:lr=0.1").config, &[1.8, 0.0], &limits(1000), None).unwrap();
    assert_eq!(r.outcome, Outcome::Stalled);
}

#[test]
fn wall_time_budget_stops_the_run() {
    let p = Problem::new("rosenbrock", 1e-6).unwrap();
    let lim = Limits { time_limit: Some(Duration::ZERO), ..limits(1_000_000) };
    let r = run_one(&p, &opt("adam").config, &[-1.5, 2.0], &lim, None).unwrap();
    assert_eq!(r.outcome, Outcome::TimeLimit);
    assert_eq!(r.steps, 0);
}

#[test]
fn the_hessian_diagonal_is_passed_to_optimizers_that_need_it() {
    let Ok(o) = OptimizerSpec::parse("adam_curvature") else {
        eprintln!("adam_curvature is not registered; skipped");
        return;
    };
    assert!(o.needs_hessian);
    let p = Problem::new("sphere", 1e-6).unwrap();
    let r = run_one(&p, &o.with_lr(Some(0.1)), &[3.0, -4.0], &limits(2000), None).unwrap();
    assert_ne!(r.outcome, Outcome::Diverged);
    assert!(r.final_f < 25.0);
}

// ---------------------------------------------------------------------------------------------
// Learning-rate protocol
// ---------------------------------------------------------------------------------------------

#[test]
fn lr_protocol_picks_the_best_grid_value() {
    // SGD on x² + y²: θ ← (1 − 2 lr) θ. lr = 0.5 lands on the minimum in one step, lr = 1 bounces
    // forever, small lr are slow.
    let mut cfg = small(&["sgd"], &["sphere"]);
    cfg.lr_grid = vec![0.1, 0.25, 0.5, 1.0];
    let s = run_study(&cfg).unwrap();
    match &s.lr[0][0] {
        LrChoice::Tuned { lr, trials } => {
            assert_eq!(*lr, 0.5);
            assert_eq!(trials.len(), 4);
            let t = trials.iter().find(|t| t.lr == 0.5).unwrap();
            assert_eq!((t.median_steps, t.successes, t.runs), (1.0, 2, 2));
            let bounce = trials.iter().find(|t| t.lr == 1.0).unwrap();
            assert_eq!(bounce.successes, 0);
        }
        other => panic!("expected a tuned lr, got {other:?}"),
    }
    // On the default grid the best is the value nearest 0.5 from below, 10^(-1/3).
    let mut cfg = small(&["sgd"], &["sphere"]);
    cfg.lr_grid = log_grid(1e-4, 1.0, 13);
    let s = run_study(&cfg).unwrap();
    let lr = s.lr[0][0].lr().unwrap();
    assert!((lr - 10f64.powf(-1.0 / 3.0)).abs() < 1e-12, "{lr}");
}

#[test]
fn lr_protocol_ties_go_to_fewer_steps_then_smaller_lr() {
    use optlab_lab::study::{pick_lr, LrTrial};
    let t = |lr: f64, score: f64, steps: f64| LrTrial {
        lr,
        median_score: score,
        median_steps: steps,
        successes: 1,
        runs: 1,
        invalid: false,
    };
    assert_eq!(pick_lr(&[t(0.1, 1e-6, 50.0), t(0.2, 1e-6, 20.0), t(0.3, 1e-3, 1.0)]), Some(0.2));
    assert_eq!(pick_lr(&[t(0.3, 1e-6, 20.0), t(0.2, 1e-6, 20.0)]), Some(0.2));
    assert_eq!(pick_lr(&[t(0.3, f64::INFINITY, f64::INFINITY), t(0.2, 5.0, f64::INFINITY)]), Some(0.2));
}

#[test]
fn a_fixed_lr_is_used_as_given() {
    let s = run_study(&small(&["sgd:lr=0.1:momentum=0.5"], &["booth"])).unwrap();
    assert_eq!(s.lr[0][0], LrChoice::Fixed(0.1));
    assert_eq!(s.timing.tune_runs, 0);
}

// ---------------------------------------------------------------------------------------------
// Starts, determinism, tables
// ---------------------------------------------------------------------------------------------

#[test]
fn random_starts_lie_inside_the_domain() {
    for name in optlab_lab::study::DEFAULT_FUNCTIONS.iter().chain(&["cubic", "rastrigin", "ackley"]) {
        let p = Problem::new(name, 1e-6).unwrap();
        for stream in [StartStream::Evaluation, StartStream::Tuning] {
            let starts = random_starts(&p, 7, stream, 200);
            assert_eq!(starts.len(), 200);
            for s in &starts {
                assert_eq!(s.len(), p.f.dim());
                for (i, v) in s.iter().enumerate() {
                    let (lo, hi) = p.domain[i];
                    let (a, b) = p.start_box[i];
                    assert!(lo <= a && b <= hi, "{name}: start box inside the domain");
                    assert!(*v >= a && *v <= b, "{name}: {v} outside [{a}, {b}]");
                }
            }
        }
        assert_ne!(random_starts(&p, 7, StartStream::Evaluation, 3), random_starts(&p, 7, StartStream::Tuning, 3));
        assert_eq!(random_starts(&p, 7, StartStream::Evaluation, 3), random_starts(&p, 7, StartStream::Evaluation, 3));
        assert_ne!(random_starts(&p, 7, StartStream::Evaluation, 3), random_starts(&p, 8, StartStream::Evaluation, 3));
    }
    // Easom's starts are drawn in its plot box, not in its flat [-100, 100]² domain.
    let e = Problem::new("easom", 1e-6).unwrap();
    assert_eq!(e.start_box, vec![(-1.0, 7.0), (-1.0, 7.0)]);
}

fn outputs(cfg: &StudyConfig) -> (String, String, String, String) {
    let s = run_study(cfg).unwrap();
    let t = table::function_tables(&s);
    let sum = table::summary(&s, &t);
    (table::markdown(&s, &t, &sum), table::tables_csv(&t), table::runs_csv(&s), table::lr_csv(&s))
}

#[test]
fn results_depend_on_the_seed_only_not_on_threads() {
    let mut cfg = small(&["adam", "rmsprop", "sgd:momentum=0.9"], &["himmelblau", "beale", "saddle"]);
    cfg.threads = Some(1);
    let one = outputs(&cfg);
    cfg.threads = Some(3);
    let three = outputs(&cfg);
    assert_eq!(one, three, "thread count changed the results");
    assert_eq!(outputs(&cfg), three, "same seed, same results");
    cfg.seed = 1;
    assert_ne!(outputs(&cfg).2, three.2, "another seed draws other starts");
}

#[test]
fn tables_contain_every_optimizer_and_function() {
    let opts = ["adam", "adadelta", "sgd:momentum=0.9"];
    let fns = ["booth", "saddle", "easom"];
    let s = run_study(&small(&opts, &fns)).unwrap();
    let t = table::function_tables(&s);
    let sum = table::summary(&s, &t);
    let md = table::markdown(&s, &t, &sum);
    let csv = table::tables_csv(&t);
    assert_eq!(csv.lines().count(), 1 + opts.len() * fns.len());
    for f in fns {
        assert!(md.contains(&format!("## `{f}`")), "{f} missing");
        for o in opts {
            assert!(csv.lines().any(|l| l.starts_with(&format!("{f},{o},"))), "{f} × {o} missing");
        }
    }
    assert_eq!(sum.len(), opts.len());
    assert!(t.iter().all(|ft| !ft.winners.is_empty()));
    let runs = table::runs_csv(&s);
    // 3 default starts + 3 random starts per function.
    assert_eq!(runs.lines().count(), 1 + opts.len() * fns.len() * 6);
    // Every run's lr is the one reported for its optimizer and function.
    for (oi, o) in opts.iter().enumerate() {
        for (fi, _) in fns.iter().enumerate() {
            assert_eq!(t[fi].rows[oi].optimizer, *o);
            assert_eq!(t[fi].rows[oi].lr, s.lr[oi][fi].lr());
        }
    }
}

#[test]
fn bad_configurations_are_refused_with_one_line() {
    let check = |cfg: StudyConfig, want: &str| {
        let e = run_study(&cfg).err().expect("refused").to_string();
        assert!(e.contains(want), "`{e}` should mention `{want}`");
        assert!(!e.contains('\n'), "one line: {e}");
    };
    check(small(&["adam", "no_such_optimizer"], &["booth"]), "unknown optimizer `no_such_optimizer`");
    check(small(&["adam"], &["booth", "no_such_function"]), "no_such_function");
    check(small(&["adam:no_such_key=1"], &["booth"]), "no_such_key");
    check(small(&["adam", "adam"], &["booth"]), "listed twice");
    check(small(&[], &["booth"]), "no optimizer");
    check(StudyConfig { steps: 0, ..small(&["adam"], &["booth"]) }, "--steps");
    check(StudyConfig { ftol: 0.0, ..small(&["adam"], &["booth"]) }, "--tol");
    check(StudyConfig { tune_starts: 0, ..small(&["adam"], &["booth"]) }, "--tune-starts");
}

// ---------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------

fn optlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().expect("runs optlab")
}

#[test]
fn cli_writes_tables_trajectories_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let o = optlab(&[
        "functions",
        "study",
        "--functions",
        "rosenbrock,saddle",
        "--optimizers",
        "adam,sgd:momentum=0.9",
        "--starts",
        "2",
        "--tune-starts",
        "2",
        "--steps",
        "100",
        "--lr-points",
        "3",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("tables.md") && stdout.contains("ns per step"), "{stdout}");
    for f in ["tables.md", "tables.csv", "summary.csv", "lr_tuning.csv", "runs.csv", "study.json"] {
        let p = out.join(f);
        assert!(std::fs::metadata(&p).map(|m| m.len() > 0).unwrap_or(false), "{} missing", p.display());
    }
    for f in ["rosenbrock", "saddle"] {
        let traj = std::fs::read_to_string(out.join("trajectories").join(format!("{f}.csv"))).unwrap();
        assert!(traj.starts_with("optimizer,start,step,loss,x0,x1\n"));
        assert!(traj.lines().any(|l| l.starts_with("sgd:momentum=0.9,0,0,")));
        for kind in ["contour", "loss"] {
            let png = std::fs::read(out.join("plots").join(format!("{f}_{kind}.png"))).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            let svg = std::fs::read_to_string(out.join("plots").join(format!("{f}_{kind}.svg"))).unwrap();
            assert!(svg.contains("<svg") && svg.contains("sgd:momentum=0.9"), "legend text in the SVG");
        }
    }
    let md = std::fs::read_to_string(out.join("tables.md")).unwrap();
    assert!(md.contains("## `rosenbrock`") && md.contains("## `saddle`"));
}

#[test]
fn cli_accepts_zero_random_starts() {
    let dir = tempfile::tempdir().unwrap();
    let o = optlab(&[
        "functions",
        "study",
        "--functions",
        "booth",
        "--optimizers",
        "adam",
        "--starts",
        "0",
        "--steps",
        "50",
        "--lr-points",
        "2",
        "--no-plots",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let runs = std::fs::read_to_string(dir.path().join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 1 + 3, "the 3 default starts only");
}

#[test]
fn cli_bad_input_is_one_line_and_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (args, want) in [
        (vec!["--optimizers", "adam,nope"], "unknown optimizer `nope`"),
        (vec!["--functions", "booth,nope"], "unknown test function 'nope'"),
        (vec!["--steps", "0"], "--steps"),
        (vec!["--tol", "0"], "--tol"),
        (vec!["--tol=-1"], "--tol"),
        (vec!["--tune-starts", "0"], "--tune-starts"),
        (vec!["--lr-min", "0"], "--lr-min"),
        (vec!["--optimizers", "adam:lr=abc"], "lr"),
        (vec!["--optimizers", "adam:lr=0.1:lr=0.2"], "--optimizers `adam:lr=0.1:lr=0.2`: lr given twice"),
    ] {
        let mut all = vec!["functions", "study", "--out", d, "--no-plots"];
        if !args.contains(&"--steps") {
            all.extend(["--steps", "10"]);
        }
        all.extend(args.iter().copied());
        let o = optlab(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(err.contains(want), "{args:?}: `{err}` should mention `{want}`");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line: `{err}`");
    }
}

#[test]
fn cli_a_second_study_into_the_same_folder_runs_nothing_and_writes_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let args = [
        "functions",
        "study",
        "--functions",
        "booth,saddle",
        "--optimizers",
        "adam,sgd:lr=0.1",
        "--starts",
        "2",
        "--tune-starts",
        "2",
        "--steps",
        "60",
        "--lr-points",
        "3",
        "--no-plots",
        "--out",
        out.to_str().unwrap(),
    ];
    let first = optlab(&args);
    assert!(first.status.success(), "stderr: {}", String::from_utf8_lossy(&first.stderr));
    let stdout = String::from_utf8_lossy(&first.stdout);
    // adam: 2 functions × 3 lr values × 2 tuning starts; sgd's lr is fixed (no tuning runs).
    assert!(stdout.contains("runs: 12 tuning + "), "{stdout}");
    assert!(out.join("results.sqlite").is_file());
    let files = ["tables.md", "tables.csv", "summary.csv", "lr_tuning.csv", "runs.csv", "trajectories/booth.csv"];
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(out.join(f)).unwrap()).collect();
    let second = optlab(&args);
    assert!(second.status.success(), "stderr: {}", String::from_utf8_lossy(&second.stderr));
    let stdout = String::from_utf8_lossy(&second.stdout);
    let count = |after: &str, upto: &str| -> usize {
        let i = stdout.find(after).unwrap() + after.len();
        stdout[i..i + stdout[i..].find(upto).unwrap()].trim().parse().unwrap()
    };
    let total = count("functions; runs: ", " tuning") + count(" tuning + ", " evaluation");
    assert!(stdout.contains(&format!("(0 run now, {total} stored before)")), "{stdout}");
    for (f, b) in files.iter().zip(&before) {
        assert_eq!(&std::fs::read(out.join(f)).unwrap(), b, "{f} changed");
    }
}
