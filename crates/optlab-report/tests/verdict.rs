//! The verdict (winner per task, margins, intervals, tests), the AlgoPerf scores, the speed-ups
//! against a baseline and the hyperparameter sensitivity, on hand-made records whose answers are
//! worked out in the comments; and where they go in the rendered page.

mod common;

use common::record;
use optlab_lab::record::{ComparisonInfo, ExperimentInfo, RunRecord, Status, Summary};
use optlab_report::group::group;
use optlab_report::verdict::{self, Criterion};
use optlab_report::{html, render_with, table};
use std::collections::BTreeMap;

/// A run with a final loss and (when given) steps to the target; hyperparameters in `set`.
#[allow(clippy::too_many_arguments)]
fn run(
    cmp: &str,
    task: &str,
    opt: &str,
    label: &str,
    set: &[(&str, &str)],
    seed: u64,
    loss: f64,
    to: Option<u64>,
) -> RunRecord {
    let status = if loss.is_finite() { Status::Ok } else { Status::Diverged };
    let summary = Summary { steps: 1000, final_loss: loss, min_loss: loss, steps_to_target: to, ..Summary::default() };
    let mut r = record(cmp, task, opt, label, &[], seed, status, None, 1.0, summary, vec![]);
    let set: serde_json::Map<String, serde_json::Value> =
        set.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect();
    r.config = serde_json::json!({"task": task, "seed": seed, "label": label, "optimizer": {"name": opt, "set": set}});
    r.hash = format!("{cmp}-{task}-{label}-{seed}");
    r
}

fn info(cmps: Vec<ComparisonInfo>) -> ExperimentInfo {
    ExperimentInfo {
        name: "v".into(),
        title: "V".into(),
        description: String::new(),
        source: String::new(),
        comparisons: cmps,
    }
}

fn cmp_info(name: &str, tasks: &[&str], targets: &[(&str, f64)], baseline: Option<&str>) -> ComparisonInfo {
    ComparisonInfo {
        name: name.into(),
        tasks: tasks.iter().map(|t| t.to_string()).collect(),
        targets: targets.iter().map(|(t, v)| (t.to_string(), *v)).collect::<BTreeMap<_, _>>(),
        baseline: baseline.map(String::from),
        ..ComparisonInfo::default()
    }
}

#[test]
fn the_winner_reaches_the_target_first_and_the_margin_is_tested() {
    // Five seeds each. fast: 100, 110, 120, 130, 140 steps (median 120); slow: 300..340 (median
    // 320). Ratio 320 / 120 = 2.67×; every fast run beats every slow one: exact two-sided
    // Mann–Whitney p = 2 / C(10, 5) = 2/252 < 0.05.
    let mut runs = Vec::new();
    for s in 0..5u64 {
        runs.push(run("c", "rosenbrock", "adam", "fast", &[], s, 1e-7, Some(100 + 10 * s)));
        runs.push(run("c", "rosenbrock", "sgd", "slow", &[], s, 1e-7, Some(300 + 10 * s)));
    }
    let info = info(vec![cmp_info("c", &["rosenbrock"], &[("rosenbrock", 1e-6)], None)]);
    let cmps = group(&info, &runs).unwrap();
    let v = verdict::task_verdict(&cmps[0], "rosenbrock").unwrap();
    assert_eq!(v.criterion, Criterion::Steps { target: 1e-6 });
    assert_eq!((v.entries[0].family.as_str(), v.entries[0].median), ("fast", 120.0));
    assert_eq!((v.entries[1].family.as_str(), v.entries[1].median), ("slow", 320.0));
    let m = v.margin.as_ref().unwrap();
    assert!((m.value - 320.0 / 120.0).abs() < 1e-12);
    let t = m.test.unwrap();
    assert!(t.exact && (t.p - 2.0 / 252.0).abs() < 1e-12 && t.significant(), "{t:?}");
    // The intervals: the winner's median lies within 100–140, the ratio's interval holds the ratio.
    let ci = v.entries[0].ci.unwrap();
    assert!(ci.lo >= 100.0 && ci.hi <= 140.0 && ci.contains(120.0), "{ci:?}");
    let mci = m.ci.unwrap();
    assert!(mci.contains(m.value) && mci.lo > 2.0 && mci.hi < 3.5, "{mci:?}");
    let text = verdict::sentence(&v);
    assert!(text.starts_with("fast reaches loss 1.00e-6 first: median 120 steps (95% CI "), "{text}");
    assert!(
        text.contains("2.67× fewer steps than slow")
            && text.contains("significant at 0.05 (two-sided Mann–Whitney U, exact, p = 0.00794, 5 vs 5 runs)"),
        "{text}"
    );
    // Deterministic: the same records give the same intervals.
    assert_eq!(verdict::task_verdict(&cmps[0], "rosenbrock").unwrap(), v);
}

#[test]
fn without_a_target_the_lowest_final_loss_wins_and_few_seeds_cannot_be_significant() {
    // Three seeds each: a ends at 0.1, 0.2, 0.3; b at 0.5, 0.6, diverged (+∞). Medians 0.2 and 0.6;
    // a is lower by 0.4. Separated samples of 3 and 3: exact p = 2/20 = 0.1, also the smallest
    // possible, so the sentence says no outcome could have been significant.
    let mut runs = Vec::new();
    for (s, (x, y)) in [(0.1, 0.5), (0.2, 0.6), (0.3, f64::INFINITY)].into_iter().enumerate() {
        runs.push(run("c", "mnist-mlp", "adam", "a", &[], s as u64, x, None));
        runs.push(run("c", "mnist-mlp", "sgd", "b", &[], s as u64, y, None));
    }
    let info = info(vec![cmp_info("c", &["mnist-mlp"], &[], None)]);
    let cmps = group(&info, &runs).unwrap();
    let v = verdict::task_verdict(&cmps[0], "mnist-mlp").unwrap();
    assert_eq!(v.criterion, Criterion::FinalLoss);
    assert_eq!(v.entries[1].diverged, 1);
    let m = v.margin.as_ref().unwrap();
    assert!((m.value - 0.4).abs() < 1e-12, "{m:?}");
    let t = m.test.unwrap();
    assert!((t.p - 0.1).abs() < 1e-12 && (t.min_p - 0.1).abs() < 1e-12 && !t.significant());
    let text = verdict::sentence(&v);
    assert!(text.starts_with("a ends lowest: median final loss 0.2"), "{text}");
    assert!(text.contains("0.4 lower than b") && text.contains("not significant at 0.05"), "{text}");
    assert!(text.contains("with 3 and 3 runs no outcome could be (smallest possible p = 0.1)"), "{text}");
}

#[test]
fn a_target_nobody_reached_falls_back_to_the_final_loss() {
    let runs =
        vec![run("c", "beale", "adam", "a", &[], 0, 0.5, None), run("c", "beale", "sgd", "b", &[], 0, 0.25, None)];
    let info = info(vec![cmp_info("c", &["beale"], &[("beale", 1e-9)], None)]);
    let cmps = group(&info, &runs).unwrap();
    let v = verdict::task_verdict(&cmps[0], "beale").unwrap();
    assert_eq!(v.criterion, Criterion::FinalLoss);
    assert_eq!(v.entries[0].family, "b");
}

/// Two tasks with a target; adam is the baseline. sgd: task 1 in 50 steps (adam 100) → 2×; task 2
/// in 400 (adam 100) → 0.25×; geometric mean √(2 · 0.25) = 0.707×. lion reaches task 1 only
/// (25 steps → 4×), misses task 2: geometric mean over one task = 4, one one-sided task.
fn speed_runs() -> (ExperimentInfo, Vec<RunRecord>) {
    let mut runs = Vec::new();
    for s in 0..3 {
        for (task, a, g, l) in [("booth", 100, 50, Some(25)), ("sphere", 100, 400, None)] {
            runs.push(run("s", task, "adam", "adam", &[], s, 1e-9, Some(a)));
            runs.push(run("s", task, "sgd", "sgd", &[], s, 1e-9, Some(g)));
            runs.push(run("s", task, "lion", "lion", &[], s, 1e-3, l));
        }
    }
    let info = info(vec![cmp_info("s", &["booth", "sphere"], &[("booth", 1e-6), ("sphere", 1e-6)], Some("adam"))]);
    (info, runs)
}

#[test]
fn speed_ups_against_the_baseline_and_algoperf_scores() {
    let (info, runs) = speed_runs();
    let cmps = group(&info, &runs).unwrap();
    let sp = verdict::speedups(&cmps[0]).unwrap();
    let sgd = sp.iter().find(|s| s.family == "sgd").unwrap();
    assert!((sgd.geomean - 0.5f64.sqrt()).abs() < 1e-12 && sgd.tasks == 2 && sgd.one_sided == 0, "{sgd:?}");
    // Every seed is the same: the interval is the point.
    let ci = sgd.ci.unwrap();
    assert!((ci.lo - 0.5f64.sqrt()).abs() < 1e-12 && (ci.hi - 0.5f64.sqrt()).abs() < 1e-12);
    let lion = sp.iter().find(|s| s.family == "lion").unwrap();
    assert!((lion.geomean - 4.0).abs() < 1e-12 && lion.tasks == 1 && lion.one_sided == 1, "{lion:?}");
    assert!(sp.iter().all(|s| s.family != "adam"));
    // AlgoPerf: booth costs 100 / 50 / 25 → ratios adam 4, sgd 2, lion 1; sphere 100 / 400 / ∞ →
    // adam 1, sgd 4, lion ∞. B = 1/3 · mean over tasks of (4 − r)⁺:
    // adam (0 + 3)/2/3 = 0.5; sgd (2 + 0)/2/3 = 1/3; lion (3 + 0)/2/3 = 0.5.
    let t = table::build(&cmps[0]);
    let (_, scores) = verdict::algoperf_scores(&cmps[0], &t).unwrap();
    let get = |n: &str| scores.iter().find(|s| s.0 == n).unwrap().1;
    assert!(
        (get("adam") - 0.5).abs() < 1e-12
            && (get("sgd") - 1.0 / 3.0).abs() < 1e-12
            && (get("lion") - 0.5).abs() < 1e-12,
        "{scores:?}"
    );
    // No target, or a baseline without runs: said so.
    let mut no_target = info.clone();
    no_target.comparisons[0].targets.clear();
    let cmps = group(&no_target, &runs).unwrap();
    assert!(verdict::speedups(&cmps[0]).unwrap_err().contains("no task has a target"));
    let mut other = info.clone();
    other.comparisons[0].baseline = Some("rmsprop".into());
    let cmps = group(&other, &runs).unwrap();
    assert!(verdict::speedups(&cmps[0]).unwrap_err().contains("the baseline `rmsprop` has no runs"));
}

#[test]
fn the_key_that_matters_ranks_first() {
    // adam on a 3 × 2 grid of lr × beta1: the loss depends on lr only (1e-3 → 0.3, 1e-2 → 0.1,
    // 1e-1 → diverged), beta1 changes nothing. Ranks of the six configurations' losses: 3.5, 3.5,
    // 1.5, 1.5, 5.5, 5.5; lr explains all their variance (η² = 1), beta1 none (η² = 0).
    let mut runs = Vec::new();
    for (lr, loss) in [("0.001", 0.3), ("0.01", 0.1), ("0.1", f64::INFINITY)] {
        for b1 in ["0.8", "0.9"] {
            let label = format!("adam lr={lr} beta1={b1}");
            let mut r = run("h", "mnist-mlp", "adam", &label, &[("lr", lr), ("beta1", b1)], 0, loss, None);
            r.swept = [("lr".to_string(), lr.to_string()), ("beta1".to_string(), b1.to_string())].into();
            runs.push(r);
        }
    }
    let mut info = info(vec![cmp_info("h", &["mnist-mlp"], &[], None)]);
    info.comparisons[0].swept = vec!["lr".into(), "beta1".into()];
    let cmps = group(&info, &runs).unwrap();
    assert_eq!(cmps[0].families, ["adam"]);
    assert_eq!(verdict::varying_keys(&cmps[0], "mnist-mlp", None), ["lr", "beta1"]);
    let (rows, imp) = verdict::sensitivity(&cmps[0]);
    let lr = rows.iter().find(|r| r.key == "lr").unwrap();
    assert_eq!((lr.best.0.as_str(), lr.best.1), ("0.01", 0.1));
    assert_eq!((lr.worst.0.as_str(), lr.worst.1), ("0.1", f64::INFINITY));
    assert_eq!(imp.len(), 2, "{imp:?}");
    assert_eq!((imp[0].1.as_str(), imp[0].2), ("lr", 1.0));
    assert_eq!((imp[1].1.as_str(), imp[1].2), ("beta1", 0.0));
    // The parallel-coordinates plot: axes lr, beta1 and the loss; diverged lines above the loss axis.
    let p = optlab_report::parallel::parallel(&cmps[0], "mnist-mlp").unwrap();
    let names: Vec<&str> = p.axes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["lr", "beta1", "final loss (median)"]);
    assert_eq!(p.lines.iter().filter(|l| l.diverged).count(), 2);
    assert!(p.lines.iter().filter(|l| l.diverged).all(|l| l.pos[2] == Some(1.12)));
    // A hyperparameter that differs only between optimizers (each with one value) does not vary.
    let two = vec![
        run("h", "mnist-mlp", "adam", "adam", &[("lr", "0.001")], 0, 0.2, None),
        run("h", "mnist-mlp", "sgd", "sgd", &[("lr", "0.1")], 0, 0.3, None),
    ];
    let info = self::info(vec![cmp_info("h", &["mnist-mlp"], &[], None)]);
    let cmps = group(&info, &two).unwrap();
    assert!(verdict::varying_keys(&cmps[0], "mnist-mlp", None).is_empty());
    assert!(optlab_report::parallel::parallel(&cmps[0], "mnist-mlp").is_none());
}

#[test]
fn the_page_opens_with_the_verdict_and_a_live_page_reloads_itself() {
    let (info, runs) = speed_runs();
    let dir = tempfile::tempdir().unwrap();
    let rep = render_with(&info, &runs, dir.path(), None).unwrap();
    let page = std::fs::read_to_string(&rep.html).unwrap();
    let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    assert!(at("<section id=\"verdict\">") < at("<section id=\"status\">"));
    assert!(at("<section id=\"status\">") < at("<h3>Plots</h3>"));
    assert!(at("<h3>Plots</h3>") < at("<h3>Table</h3>"));
    assert!(page.contains("reaches loss 1.00e-6 first"), "verdict sentence");
    assert!(page.contains("Speed-up against the baseline <code>adam</code>") && page.contains("AlgoPerf score"));
    assert!(!page.contains("http-equiv=\"refresh\""));
    assert!(dir.path().join("tables/s-verdict.md").is_file());
    let md = std::fs::read_to_string(dir.path().join("tables/s-verdict.md")).unwrap();
    assert!(md.contains("| sgd | 0.707× |"), "{md}");
    let live = html::Live { every_s: 7, stored: 3, planned: 18 };
    render_with(&info, &runs, dir.path(), Some(live)).unwrap();
    let page = std::fs::read_to_string(&rep.html).unwrap();
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"7\">"), "meta refresh");
    assert!(page.contains("Running: 3 of 18 runs stored"));
    assert!(!page.contains("<script"), "no script");
}
