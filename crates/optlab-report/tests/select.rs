//! Many configurations: the plots draw each optimizer's best one, the tables keep all.

mod common;

use optlab_lab::record::{ComparisonInfo, ExperimentInfo, Point, RunRecord, Status, Summary};
use optlab_report::group::group;
use optlab_report::plots::{curves, profile, target_bars, trajectories, Curve, Curves, Metric};
use optlab_report::select::{best_per_family, drawn, MAX_DRAWN};
use optlab_report::{render, table};
use std::collections::BTreeMap;

const LRS: [&str; 4] = ["1e-3", "1e-2", "0.1", "1"];

#[allow(clippy::too_many_arguments)]
/// One run of `family` (entry label) at `lr` on `task`: final loss `fin`, `steps` steps, a
/// loss curve from 10 down to `fin`, and iterates from a start that depends on `start` only.
fn run(
    task: &str,
    family: &str,
    optimizer: &str,
    lr: &str,
    start: u64,
    status: Status,
    fin: f64,
    steps: u64,
) -> RunRecord {
    let x0 = -1.5 + 0.1 * start as f64;
    let series: Vec<Point> = (0..=steps)
        .step_by(10)
        .map(|s| {
            let t = s as f64 / steps.max(1) as f64;
            Point {
                step: s,
                loss: 10.0 * (1.0 - t) + fin * t,
                x: Some(vec![x0 * (1.0 - t) + t, 2.0 * (1.0 - t) + t]),
                ..Point::default()
            }
        })
        .collect();
    let summary = Summary {
        steps,
        final_loss: fin,
        min_loss: fin,
        steps_to_target: (fin <= 1e-3).then_some(steps),
        time_to_target: (fin <= 1e-3).then_some(steps as f64 * 1e-3),
        ..Summary::default()
    };
    let error = (status != Status::Ok).then(|| format!("{} at step {steps}", status.as_str()));
    common::record(
        "many",
        task,
        optimizer,
        &format!("{family} lr={lr}"),
        &[("lr", lr.to_string())],
        0,
        status,
        error,
        steps as f64 * 1e-3,
        summary,
        series,
    )
}

/// Three starts per configuration (all seed 0, as the runner's random starts).
fn three(task: &str, family: &str, optimizer: &str, lr: &str, runs: [(Status, f64, u64); 3]) -> Vec<RunRecord> {
    runs.iter()
        .enumerate()
        .map(|(k, &(st, fin, steps))| run(task, family, optimizer, lr, k as u64, st, fin, steps))
        .collect()
}

fn experiment() -> (ExperimentInfo, Vec<RunRecord>) {
    let (ok, div, fail) = (Status::Ok, Status::Diverged, Status::Failed);
    let mut runs = Vec::new();
    for task in ["rosenbrock", "booth"] {
        // adam: lr=1e-2 and lr=0.1 tie on the median final loss (0.1); lr=0.1 needs fewer steps.
        runs.extend(three(task, "adam", "adam", "1e-3", [(ok, 0.5, 500); 3]));
        runs.extend(three(task, "adam", "adam", "1e-2", [(ok, 0.1, 500), (ok, 0.2, 500), (ok, 0.1, 500)]));
        runs.extend(three(task, "adam", "adam", "0.1", [(ok, 0.05, 200), (ok, 0.1, 200), (ok, 0.3, 200)]));
        // A diverged run's last loss may be tiny: it never counts.
        runs.extend(three(task, "adam", "adam", "1", [(div, 1e-9, 20); 3]));
        // sgd+momentum: only lr=1e-3 has an OK seed (a poor one); it is chosen all the same.
        runs.extend(three(task, "sgd+momentum", "sgd", "1e-3", [(ok, 2.0, 2000), (div, 1e-9, 30), (div, 1e-9, 30)]));
        for lr in &LRS[1..] {
            runs.extend(three(task, "sgd+momentum", "sgd", lr, [(div, 1e-12, 10); 3]));
        }
        // rmsprop: nothing ran OK anywhere; still one (the first) configuration is drawn.
        for lr in LRS {
            runs.extend(three(task, "rmsprop", "rmsprop", lr, [(fail, f64::NAN, 0), (div, 0.0, 5), (div, 0.0, 5)]));
        }
    }
    // A third task with few configurations: every one of them is drawn.
    runs.extend(three("matyas", "adam", "adam", "1e-2", [(ok, 1e-4, 300); 3]));
    runs.extend(three("matyas", "adam", "adam", "0.1", [(ok, 1e-5, 100); 3]));
    let targets: BTreeMap<String, f64> =
        ["rosenbrock", "booth", "matyas"].iter().map(|t| (t.to_string(), 1e-3)).collect();
    let info = ExperimentInfo {
        name: "many".into(),
        title: "Many configurations".into(),
        description: String::new(),
        source: String::new(),
        comparisons: vec![ComparisonInfo {
            name: "many".into(),
            title: String::new(),
            description: String::new(),
            tasks: vec!["rosenbrock".into(), "booth".into(), "matyas".into()],
            swept: vec!["lr".into()],
            targets,
            plot: Default::default(),
            tune: None,
            baseline: None,
        }],
    };
    (info, runs)
}

#[test]
fn the_best_configuration_per_optimizer() {
    let (info, runs) = experiment();
    let cmps = group(&info, &runs).unwrap();
    let cmp = &cmps[0];
    assert_eq!(cmp.families, vec!["adam", "rmsprop", "sgd+momentum"]);
    for task in ["rosenbrock", "booth"] {
        let best: Vec<&str> = best_per_family(cmp, task).iter().map(|c| c.label.as_str()).collect();
        assert_eq!(best, vec!["adam lr=0.1", "rmsprop lr=1e-3", "sgd+momentum lr=1e-3"], "{task}");
        assert_eq!(cmp.configs_of(task).count(), 12);
        const { assert!(12 > MAX_DRAWN) };
        let d = drawn(cmp, task);
        assert!(d.reduced);
        assert_eq!(d.configs.len(), 3);
    }
    let d = drawn(cmp, "matyas");
    assert!(!d.reduced, "two configurations: all drawn");
    assert_eq!(d.configs.len(), 2);
}

#[test]
fn reduced_plots_say_so_and_the_tables_keep_everything() {
    let (info, runs) = experiment();
    let cmps = group(&info, &runs).unwrap();
    let cmp = &cmps[0];
    let t = table::build(cmp);
    assert_eq!(t.rows.len(), 12 + 12 + 2, "the table keeps every configuration");

    let c = curves(cmp, "rosenbrock", Metric::Loss).unwrap();
    assert!(c.reduced);
    assert!(c.title.contains("best lr per optimizer"), "{}", c.title);
    // rmsprop's runs are failed or diverged at step 0..5: its curve is drawn from those.
    let labels: Vec<&str> = c.curves.iter().map(|k| k.label.as_str()).collect();
    assert_eq!(labels, vec!["adam lr=0.1", "rmsprop lr=1e-3", "sgd+momentum lr=1e-3"]);
    let m = curves(cmp, "matyas", Metric::Loss).unwrap();
    assert!(!m.reduced && !m.title.contains("best"), "{}", m.title);
    assert_eq!(m.curves.len(), 2);

    let tr = trajectories(cmp, "rosenbrock").unwrap();
    assert!(tr.reduced && tr.title.contains("best lr per optimizer"), "{}", tr.title);
    assert_eq!(tr.paths.len(), 3);
    // Every configuration is drawn from its lowest start (start 0: x₁ = −1.5).
    assert!(
        tr.paths.iter().all(|p| p.points[0] == (-1.5, 2.0)),
        "{:?}",
        tr.paths.iter().map(|p| p.points[0]).collect::<Vec<_>>()
    );

    let bars = target_bars(cmp, &t, "booth").unwrap();
    assert_eq!(bars.rows.len(), 3);

    // The profile: one solver per optimizer, with its best configuration on each task.
    let p = profile(cmp, &t).unwrap();
    assert!(p.by_family);
    assert_eq!(p.solvers.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), vec!["adam", "rmsprop", "sgd+momentum"]);

    let best = table::best(cmp, &t).unwrap();
    let md = best.markdown();
    assert!(md.contains("| rosenbrock | 0.1 | adam | 3/3 |"), "{md}");
    assert!(md.contains("| booth | 1e-3 | sgd+momentum | 1/3 (2 diverged) |"), "{md}");
    assert!(md.contains("| booth | 1e-3 | rmsprop | 0/3 (2 diverged, 1 failed) | diverged |"), "{md}");
    assert!(md.contains("| matyas | 0.1 | adam | 3/3 |"), "{md}");
    assert_eq!(best.rows.len(), 3 + 3 + 1);
    // Compact in Markdown (the answer at a glance), complete in CSV.
    assert!(
        md.starts_with("| task | lr | optimizer | seeds ok | steps | final loss | target | steps to target |\n"),
        "{md}"
    );
    assert!(best.csv().lines().next().unwrap().contains("time_s_median"));

    let dir = tempfile::tempdir().unwrap();
    let rep = render(&info, &runs, dir.path()).unwrap();
    let html = std::fs::read_to_string(&rep.html).unwrap();
    assert!(html.contains("Best configuration per optimizer"));
    assert!(html.contains("all configurations are in the table and the sensitivity plot"), "caption says so");
    assert!(dir.path().join("tables/many-best.md").exists() && dir.path().join("tables/many-best.csv").exists());
    // Diverged and failed runs are listed per configuration and status, not one line each.
    assert!(
        html.contains("<td class=\"t\">rmsprop lr=1e-3</td><td class=\"t diverged\">diverged</td><td>2</td>"),
        "grouped"
    );
}

#[test]
fn without_choices_there_is_no_best_table() {
    let (info, runs) = experiment();
    let runs: Vec<RunRecord> = runs.into_iter().filter(|r| r.label == "adam lr=0.1").collect();
    let cmps = group(&info, &runs).unwrap();
    assert!(table::best(&cmps[0], &table::build(&cmps[0])).is_none());
}

#[test]
fn the_loss_axis_follows_the_medians_not_a_seed_that_blew_up() {
    let curve = |band: Vec<(f64, f64, f64, f64)>| Curve {
        label: "x".into(),
        color: plotters::style::RGBColor(0, 0, 0),
        band,
        diverged_ends: vec![(5.0, 1e30)],
        seeds: 3,
    };
    let c = Curves {
        title: String::new(),
        x_desc: "step".into(),
        y_desc: "loss".into(),
        log_y: true,
        floor: 1e-8,
        reduced: false,
        logged_steps: false,
        smooth: 0.0,
        bounded: false,
        curves: vec![
            curve(vec![(0.0, 10.0, 1.0, 1e6), (10.0, 0.01, 1e-8, 1e12)]),
            curve(vec![(0.0, 5.0, 5.0, 5.0), (10.0, 1.0, 1.0, 1.0)]),
        ],
    };
    let (lo, hi) = c.y_range();
    // Medians span 1e-2..10 (log10: −2..1), padded by 4 %.
    assert!((lo - (-2.12)).abs() < 1e-9 && (hi - 1.12).abs() < 1e-9, "{lo} {hi}");
    // A median that blows up is capped a decade above the highest start (10).
    let mut up = c.clone();
    up.curves[1].band.push((20.0, 1e20, 1e20, 1e20));
    let (_, hi) = up.y_range();
    assert!((hi - (2.0 + 0.04 * 4.0)).abs() < 1e-9, "{hi}");
}

/// One curve that blew up in its first epoch (a single median of 2.7e13) does not set the
/// range: it is clipped to the top edge, the other curves keep the plot.
#[test]
fn one_outlier_curve_does_not_set_the_loss_axis() {
    let curve = |band: Vec<(f64, f64, f64, f64)>| Curve {
        label: "x".into(),
        color: plotters::style::RGBColor(0, 0, 0),
        band,
        diverged_ends: vec![],
        seeds: 1,
    };
    let normal = |k: f64| curve((1..=10).map(|e| (e as f64, k / e as f64, k / e as f64, k / e as f64)).collect());
    let c = Curves {
        title: String::new(),
        x_desc: "epoch".into(),
        y_desc: "loss".into(),
        log_y: true,
        floor: 1e-8,
        reduced: false,
        logged_steps: false,
        smooth: 0.0,
        bounded: false,
        curves: vec![normal(2.3), normal(1.5), normal(0.9), curve(vec![(1.0, 2.7e13, 2.7e13, 2.7e13)])],
    };
    let (lo, hi) = c.y_range();
    assert!((lo - 0.09f64.log10()).abs() < 0.2, "{lo}");
    // At most the far-out fence (3 decades above the upper quartile), far below 1e13.
    assert!(hi < 4.0, "{hi}");
    assert!(hi > 2.3f64.log10(), "{hi}");
}
