//! Tables, plot data, HTML and files of `render` on synthetic records.

mod common;

use optlab_lab::record::{
    ComparisonInfo, ExperimentInfo, PlotSettings, PlotX, Point, RunRecord, Status, StepPoint, Summary,
};
use optlab_report::group::group;
use optlab_report::plots::{heatmap, heatmaps, profile, HeatCell};
use optlab_report::{render, table, ReportError};
use std::collections::BTreeMap;
use std::path::Path;

#[allow(clippy::too_many_arguments)]
fn net_run(
    b1: &str,
    b2: &str,
    seed: u64,
    status: Status,
    wall: f64,
    fin: f64,
    min: f64,
    extra: Option<(f64, f64, f64, f64)>,
    to: Option<(u64, f64)>,
) -> RunRecord {
    let summary = Summary {
        steps: 1000,
        epochs: Some(10),
        final_loss: fin,
        min_loss: min,
        final_val_loss: extra.map(|e| e.0),
        min_val_loss: extra.map(|e| e.1),
        final_accuracy: extra.map(|e| e.2),
        best_accuracy: extra.map(|e| e.3),
        steps_to_target: to.map(|t| t.0),
        time_to_target: to.map(|t| t.1),
        termination: None,
        evals: None,
    };
    let series = vec![
        Point { step: 0, epoch: Some(0), time_s: 0.0, loss: 2.0, val_loss: Some(2.1), accuracy: Some(0.1), x: None },
        Point {
            step: 1000,
            epoch: Some(10),
            time_s: wall,
            loss: fin,
            val_loss: extra.map(|e| e.0),
            accuracy: extra.map(|e| e.2),
            x: None,
        },
    ];
    let error = match status {
        Status::Ok => None,
        Status::Diverged => Some("loss became NaN in epoch 3".to_string()),
        Status::Failed => Some("data file missing".to_string()),
        Status::Pruned => Some("pruned after epoch 2".to_string()),
    };
    common::record(
        "grid",
        "net",
        "adam",
        &format!("adam b1={b1} b2={b2}"),
        &[("beta1", b1.into()), ("beta2", b2.into())],
        seed,
        status,
        error,
        wall,
        summary,
        series,
    )
}

fn fn_run(label: &str, task: &str, seed: u64, steps_to: Option<u64>) -> RunRecord {
    let summary = Summary {
        steps: 500,
        final_loss: 1e-3,
        min_loss: 1e-3,
        steps_to_target: steps_to,
        time_to_target: steps_to.map(|s| s as f64 * 1e-3),
        ..Summary::default()
    };
    let series = vec![Point { step: 0, loss: 1.0, x: Some(vec![0.0, 0.0]), ..Point::default() }];
    common::record("fns", task, label, label, &[], seed, Status::Ok, None, 0.5, summary, series)
}

/// A hand-made experiment: a beta1 × beta2 grid on a network task, and two optimizers on three
/// functions with targets.
fn hand_made() -> (ExperimentInfo, Vec<RunRecord>) {
    let info = ExperimentInfo {
        name: "hand".into(),
        title: "Hand-made".into(),
        description: "x".into(),
        source: "src".into(),
        comparisons: vec![
            ComparisonInfo {
                name: "grid".into(),
                title: "Grid".into(),
                description: String::new(),
                tasks: vec!["net".into()],
                swept: vec!["beta1".into(), "beta2".into()],
                targets: [("net".to_string(), 0.5)].into(),
                plot: Default::default(),
                tune: None,
                baseline: None,
            },
            ComparisonInfo {
                name: "fns".into(),
                title: "Functions".into(),
                description: String::new(),
                tasks: vec!["sphere".into(), "booth".into(), "matyas".into()],
                swept: vec![],
                targets: [("sphere".to_string(), 1e-3), ("booth".to_string(), 1e-3), ("matyas".to_string(), 1e-3)]
                    .into(),
                plot: Default::default(),
                tune: None,
                baseline: None,
            },
        ],
    };
    let ok = Status::Ok;
    let runs = vec![
        net_run("0.9", "0.99", 1, ok, 12.0, 0.1, 0.1, Some((0.5, 0.5, 0.92, 0.92)), Some((100, 1.0))),
        net_run("0.95", "0.99", 0, ok, 9.0, 0.5, 0.4, Some((0.6, 0.55, 0.80, 0.85)), None),
        net_run("0.9", "0.99", 0, ok, 10.0, 0.3, 0.25, Some((0.4, 0.4, 0.90, 0.90)), Some((200, 2.0))),
        net_run("0.8", "0.999", 0, Status::Failed, 0.0, f64::NAN, f64::NAN, None, None),
        net_run("0.95", "0.99", 1, Status::Diverged, 3.0, f64::NAN, 0.9, None, None),
        net_run("0.9", "0.99", 2, ok, 11.0, 0.2, 0.2, Some((0.45, 0.45, 0.91, 0.91)), None),
        net_run("0.8", "0.999", 1, Status::Failed, 0.0, f64::NAN, f64::NAN, None, None),
        // Steps to target: X = (100, 400, never), Y = (200, 100, 300) → ratios X (1, 4, ∞), Y (2, 1, 1).
        fn_run("X", "sphere", 0, Some(100)),
        fn_run("X", "booth", 0, Some(400)),
        fn_run("X", "matyas", 0, None),
        fn_run("Y", "sphere", 0, Some(200)),
        fn_run("Y", "booth", 0, Some(100)),
        fn_run("Y", "matyas", 0, Some(300)),
    ];
    (info, runs)
}

#[test]
fn markdown_rows_are_medians_with_ranges_and_statuses() {
    let (info, runs) = hand_made();
    let cmps = group(&info, &runs).unwrap();
    let t = table::build(&cmps[0]);
    let md = t.markdown();
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(
        lines[0],
        "| task | beta1 | beta2 | optimizer | seeds ok | steps | time (s) | final loss | min loss | final val loss | min val loss | final accuracy | best accuracy | target | steps to target | time to target (s) |"
    );
    assert_eq!(lines[1], "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    assert_eq!(
        lines[2],
        "| net | 0.8 | 0.999 | adam | 0/2 (2 failed) | failed | failed | failed | failed | failed | failed | failed | failed | 0.5 | failed | failed |"
    );
    assert_eq!(
        lines[3],
        "| net | 0.9 | 0.99 | adam | 3/3 | 1000 | 11 (10–12) | 0.2 (0.1–0.3) | 0.2 (0.1–0.25) | 0.45 (0.4–0.5) | 0.45 (0.4–0.5) | 91% (90%–92%) | 91% (90%–92%) | 0.5 | 200 (100–∞) | 2 (1–∞) |"
    );
    assert_eq!(
        lines[4],
        "| net | 0.95 | 0.99 | adam | 1/2 (1 diverged) | 1000 | 9 | 0.5 | 0.4 | 0.6 | 0.55 | 80% | 85% | 0.5 | not reached | not reached |"
    );
    assert_eq!(lines.len(), 5);
    assert!(!md.contains("NaN") && !md.contains("nan"));
}

#[test]
fn csv_has_full_precision_numbers_one_column_per_quantity() {
    let (info, runs) = hand_made();
    let cmps = group(&info, &runs).unwrap();
    let csv = table::build(&cmps[0]).csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "task,beta1,beta2,optimizer,label,seeds_total,seeds_ok,seeds_diverged,seeds_failed,target,\
         steps_median,steps_min,steps_max,time_s_median,time_s_min,time_s_max,final_loss_median,final_loss_min,final_loss_max,\
         min_loss_median,min_loss_min,min_loss_max,final_val_loss_median,final_val_loss_min,final_val_loss_max,\
         min_val_loss_median,min_val_loss_min,min_val_loss_max,final_accuracy_median,final_accuracy_min,final_accuracy_max,\
         best_accuracy_median,best_accuracy_min,best_accuracy_max,steps_to_target_median,steps_to_target_min,steps_to_target_max,\
         time_to_target_s_median,time_to_target_s_min,time_to_target_s_max"
    );
    assert_eq!(lines[1], format!("net,0.8,0.999,adam,adam b1=0.8 b2=0.999,2,0,0,2,0.5{}", ",".repeat(30)));
    assert_eq!(
        lines[2],
        "net,0.9,0.99,adam,adam b1=0.9 b2=0.99,3,3,0,0,0.5,1000.0,1000.0,1000.0,11.0,10.0,12.0,0.2,0.1,0.3,0.2,0.1,0.25,\
         0.45,0.4,0.5,0.45,0.4,0.5,0.91,0.9,0.92,0.91,0.9,0.92,200.0,100.0,inf,2.0,1.0,inf"
    );
    let header_cols = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == header_cols), "{csv}");
}

#[test]
fn heatmap_cells_hold_the_median_and_the_seed_counts() {
    let (info, runs) = hand_made();
    let cmps = group(&info, &runs).unwrap();
    let h = heatmap(&cmps[0], "net", "adam").unwrap();
    assert_eq!((h.y_key.as_str(), h.x_key.as_str()), ("beta1", "beta2"));
    assert_eq!(h.ys, vec!["0.8", "0.9", "0.95"]);
    assert_eq!(h.xs, vec!["0.99", "0.999"]);
    assert_eq!(h.cells[0][0], HeatCell::default(), "no runs at beta1 = 0.8, beta2 = 0.99");
    assert_eq!(h.cells[0][1], HeatCell { median: None, ok: 0, diverged: 0, failed: 2 });
    assert_eq!(h.cells[1][0], HeatCell { median: Some(0.2), ok: 3, diverged: 0, failed: 0 });
    assert_eq!(h.cells[2][0], HeatCell { median: Some(0.5), ok: 1, diverged: 1, failed: 0 });
    assert!(heatmap(&cmps[1], "sphere", "X").is_none(), "nothing swept: no heatmap");
}

#[test]
fn a_third_swept_key_gives_one_heatmap_per_value() {
    let (mut info, runs) = hand_made();
    let name = info.comparisons[0].name.clone();
    info.comparisons[0].swept.push("batch_size".into());
    let mut sliced = Vec::new();
    for r in runs {
        if r.comparison != name {
            sliced.push(r);
            continue;
        }
        for (bs, factor) in [("8", 1.0), ("32", 2.0)] {
            let mut r = r.clone();
            r.swept.insert("batch_size".into(), bs.into());
            r.label = format!("{} bs={bs}", r.label);
            r.summary.final_loss *= factor;
            sliced.push(r);
        }
    }
    let cmps = group(&info, &sliced).unwrap();
    assert!(heatmap(&cmps[0], "net", "adam").is_none(), "three keys: no single heatmap");
    let hs = heatmaps(&cmps[0], "net", "adam");
    let labels: Vec<&str> = hs.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["batch_size=8", "batch_size=32"]);
    let (_, h8) = &hs[0];
    let (_, h32) = &hs[1];
    assert_eq!((h8.y_key.as_str(), h8.x_key.as_str()), ("beta1", "beta2"));
    assert_eq!(h8.cells[1][0], HeatCell { median: Some(0.2), ok: 3, diverged: 0, failed: 0 });
    assert_eq!(h32.cells[1][0], HeatCell { median: Some(0.4), ok: 3, diverged: 0, failed: 0 });
    assert!(h32.title.contains("batch_size=32"), "{}", h32.title);
    let (_, h1) = (&cmps[1], heatmaps(&cmps[1], "sphere", "X"));
    assert!(h1.is_empty(), "nothing swept: no heatmap");
}

#[test]
fn performance_profile_from_records() {
    let (info, runs) = hand_made();
    let cmps = group(&info, &runs).unwrap();
    let t = table::build(&cmps[1]);
    let p = profile(&cmps[1], &t).unwrap();
    assert_eq!(p.tasks, vec!["sphere", "booth", "matyas"]);
    assert_eq!(p.solvers.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), vec!["X", "Y"]);
    let inf = f64::INFINITY;
    assert_eq!(p.steps, vec![vec![1.0, 4.0, inf], vec![2.0, 1.0, 1.0]]);
    assert_eq!(p.time, p.steps, "time is proportional to steps here");
    assert!(profile(&cmps[0], &table::build(&cmps[0])).is_none(), "one task: no profile");
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn the_sample_report_has_every_table_and_plot_and_self_contained_html() {
    let (info, runs) = common::sample();
    let dir = tempfile::tempdir().unwrap();
    let rep = render(&info, &runs, dir.path()).unwrap();
    assert_eq!(rep.html, dir.path().join("report.html"));
    let on_disk = files_under(dir.path());
    let mut listed = rep.files.clone();
    listed.sort();
    assert_eq!(on_disk, listed, "render lists exactly the files it wrote (no temp files left)");
    let names: Vec<String> =
        on_disk.iter().map(|p| p.strip_prefix(dir.path()).unwrap().to_string_lossy().into_owned()).collect();
    for want in [
        "tables/optimizers-2d.md",
        "tables/optimizers-2d.csv",
        "tables/adam-grid.md",
        "tables/lr-sweep.csv",
        "plots/optimizers-2d-rosenbrock-loss.svg",
        "plots/optimizers-2d-rosenbrock-trajectories.svg",
        "plots/optimizers-2d-himmelblau-trajectories.png",
        "plots/optimizers-2d-rosenbrock-target.svg",
        "plots/optimizers-2d-profile.svg",
        "plots/adam-grid-mnist-mlp-loss.svg",
        "plots/adam-grid-mnist-mlp-val-loss.svg",
        "plots/adam-grid-mnist-mlp-val-accuracy.svg",
        "plots/adam-grid-mnist-mlp-val-accuracy.png",
        "plots/adam-grid-mnist-mlp-adam-heatmap.svg",
        "plots/adam-grid-mnist-mlp-adam-heatmap.png",
        "plots/lr-sweep-rosenbrock-lr-sensitivity.svg",
        "plots/lr-sweep-himmelblau-lr-sensitivity.svg",
        "plots/lr-sweep-profile.svg",
    ] {
        assert!(names.iter().any(|n| n == want), "missing {want} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("adam-grid") && n.contains("trajectories")), "no landscape for a network");
    let html = std::fs::read_to_string(&rep.html).unwrap();
    let svgs = names.iter().filter(|n| n.ends_with(".svg")).count();
    assert_eq!(html.matches("<svg ").count(), svgs, "every plot inline");
    assert_eq!(html.matches("</svg>").count(), svgs, "every SVG closed");
    for tag in ["section", "figure", "table", "details", "ul", "main", "tr"] {
        assert_eq!(
            html.matches(&format!("<{tag}")).count(),
            html.matches(&format!("</{tag}>")).count(),
            "<{tag}> balanced"
        );
    }
    for bad in ["http:", "https:", "<script", "src=", "url(", "@import", ">NaN", "NaN<", ">inf<"] {
        assert!(!html.contains(bad), "the report contains {bad}");
    }
    for svg in on_disk.iter().filter(|p| p.extension().is_some_and(|e| e == "svg")) {
        let text = std::fs::read_to_string(svg).unwrap();
        assert!(!text.contains("NaN") && !text.contains("inf"), "{} has non-finite coordinates", svg.display());
    }
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    assert!(html.contains("Markup such as &lt;b&gt;this&lt;/b&gt; &amp; that"), "description escaped");
    assert!(html.contains("<title>Sample: optimizers on test functions &amp; a made-up network</title>"));
    assert!(html.contains("<details id=\"source\">"));
    assert!(
        html.contains("title = &quot;Sample: optimizers on test functions &amp; a made-up network&quot;"),
        "source escaped"
    );
    assert!(
        html.contains("could not open data file `data/mnist/train-images-idx3-ubyte`"),
        "failed run's error listed"
    );
    assert!(html.contains("loss became NaN in epoch 3"), "diverged run's error listed");
    let md = std::fs::read_to_string(dir.path().join("tables/adam-grid.md")).unwrap();
    assert!(md.contains("| mnist-mlp | 0.95 | 0.99 | adam | 0/3 (3 diverged) | diverged |"), "{md}");
    assert!(md.contains("| 2/3 (1 failed) |"), "{md}");
}

#[test]
fn stale_temporary_files_of_a_killed_render_are_removed_and_live_ones_kept() {
    let (info, runs) = hand_made();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    std::fs::create_dir_all(out.join("plots")).unwrap();
    std::fs::create_dir_all(out.join("tables")).unwrap();
    // A process id that is no longer alive: a child that has been reaped.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = [
        out.join(format!(".report.html.tmp{dead}")),
        out.join("plots").join(format!(".grid-net-loss.tmp{dead}.png")),
        out.join("plots").join(format!(".grid-net-loss.svg.tmp{dead}")),
        out.join("tables").join(format!(".grid.csv.tmp{dead}")),
    ];
    for p in &stale {
        std::fs::write(p, b"half a file").unwrap();
    }
    // Process 1 (init) is alive: its file may be another render's and is kept; so is any other
    // hidden file.
    let live = out.join("plots").join(".grid-net-loss.tmp1.png");
    let other = out.join(".keep.tmp");
    std::fs::write(&live, b"x").unwrap();
    std::fs::write(&other, b"x").unwrap();
    render(&info, &runs, out).unwrap();
    let alive_known = optlab_lab::process::pid_alive(1).is_some();
    for p in &stale {
        assert_eq!(p.exists(), !alive_known, "{}", p.display());
    }
    assert!(live.exists() && other.exists());
    let left: Vec<_> =
        files_under(out).into_iter().filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp")).collect();
    if alive_known {
        assert_eq!(left, {
            let mut v = vec![other.clone(), live.clone()];
            v.sort();
            v
        });
    }
}

#[test]
fn output_is_deterministic_whatever_the_run_order() {
    let (info, runs) = common::sample();
    let mut reversed = runs.clone();
    reversed.reverse();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ra = render(&info, &runs, a.path()).unwrap();
    let rb = render(&info, &reversed, b.path()).unwrap();
    assert_eq!(ra.files.len(), rb.files.len());
    for (fa, fb) in ra.files.iter().zip(&rb.files) {
        assert_eq!(fa.strip_prefix(a.path()).unwrap(), fb.strip_prefix(b.path()).unwrap());
        assert!(std::fs::read(fa).unwrap() == std::fs::read(fb).unwrap(), "{} differs", fa.display());
    }
}

#[test]
fn bad_input_is_named() {
    let (info, mut runs) = hand_made();
    let dir = tempfile::tempdir().unwrap();
    runs[3].comparison = "gone".into();
    let e = render(&info, &runs, dir.path()).unwrap_err();
    assert!(matches!(e, ReportError::UnknownComparison { .. }));
    let msg = e.to_string();
    assert!(msg.contains("`gone`") && msg.contains("seed 0") && msg.contains("experiment `hand`"), "{msg}");

    let (mut info, runs) = hand_made();
    info.comparisons[0].targets.insert("net".into(), f64::NAN);
    let msg = render(&info, &runs, dir.path()).unwrap_err().to_string();
    assert!(msg.contains("comparison `grid`") && msg.contains("task `net`") && msg.contains("NaN"), "{msg}");

    let (mut info, runs) = hand_made();
    info.comparisons[1].name = "grid".into();
    let msg = render(&info, &runs, dir.path()).unwrap_err().to_string();
    assert!(msg.contains("comparison `grid` more than once"), "{msg}");

    let (mut info, _) = hand_made();
    info.comparisons[1].name = "gr/id".into();
    info.comparisons[0].name = "gr_id".into();
    let msg = render(&info, &[], dir.path()).unwrap_err().to_string();
    assert!(msg.contains("`gr_id` and `gr/id`") && msg.contains("file name `gr_id`"), "{msg}");

    // The output directory is a file.
    let (info, runs) = hand_made();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let msg = render(&info, &runs, &file).unwrap_err().to_string();
    assert!(msg.contains("not-a-dir"), "{msg}");
}

#[test]
fn an_experiment_without_runs_still_renders() {
    let (info, _) = hand_made();
    let dir = tempfile::tempdir().unwrap();
    let rep = render(&info, &[], dir.path()).unwrap();
    let html = std::fs::read_to_string(rep.html).unwrap();
    assert!(html.contains("No runs recorded for this comparison yet."));
    assert!(!html.contains("<svg"));
    let _ = BTreeMap::<String, String>::new();
}

#[test]
fn loss_curves_use_epochs_for_networks_and_mark_diverged_ends() {
    let (info, runs) = hand_made();
    let cmps = group(&info, &runs).unwrap();
    let c = optlab_report::plots::curves(&cmps[0], "net", optlab_report::plots::Metric::Loss).unwrap();
    assert_eq!(c.x_desc, "epoch");
    assert!(c.log_y);
    // Failed configurations have no curve; the others are in table order.
    let labels: Vec<&str> = c.curves.iter().map(|k| k.label.as_str()).collect();
    assert_eq!(labels, vec!["adam b1=0.9 b2=0.99", "adam b1=0.95 b2=0.99"]);
    // Epoch 10 of the three OK seeds: final losses 0.3, 0.1, 0.2.
    assert_eq!(c.curves[0].band, vec![(0.0, 2.0, 2.0, 2.0), (10.0, 0.2, 0.1, 0.3)]);
    assert_eq!(c.curves[0].seeds, 3);
    // The diverged seed's NaN at epoch 10 is dropped; its last finite point is marked.
    assert_eq!(c.curves[1].diverged_ends, vec![(0.0, 2.0)]);
    let v = optlab_report::plots::curves(&cmps[0], "net", optlab_report::plots::Metric::ValLoss).unwrap();
    assert_eq!(v.curves[0].band.last().unwrap(), &(10.0, 0.45, 0.4, 0.5));
    let f = optlab_report::plots::curves(&cmps[1], "sphere", optlab_report::plots::Metric::Loss).unwrap();
    assert_eq!(f.x_desc, "step");
}

/// With logged steps, the training loss is drawn against them (unless `plot.x = "epochs"`),
/// each seed smoothed first when `plot.smooth` is set; the validation accuracy per epoch, in
/// percent on a linear axis.
#[test]
fn loss_curves_follow_the_logged_steps_and_the_smoothing_and_accuracy_is_per_epoch() {
    let (mut info, mut runs) = hand_made();
    // The three OK seeds of `adam b1=0.9 b2=0.99` log a batch loss at steps 0, 100, 200.
    let losses = [[2.0, 1.0, 0.5], [2.2, 1.2, 0.4], [1.8, 0.8, 0.6]];
    for (k, r) in runs.iter_mut().filter(|r| r.label == "adam b1=0.9 b2=0.99").enumerate() {
        r.step_series = (0..3)
            .map(|i| StepPoint {
                step: 100 * i as u64,
                epoch: 1,
                loss: losses[k][i],
                lr: Some(1e-3),
                grad_norm: Some(1.0),
            })
            .collect();
    }
    let curves = |info: &ExperimentInfo, runs: &[RunRecord], m| {
        let cmps = group(info, runs).unwrap();
        optlab_report::plots::curves(&cmps[0], "net", m).unwrap()
    };
    use optlab_report::plots::Metric;
    let c = curves(&info, &runs, Metric::Loss);
    assert_eq!((c.x_desc.as_str(), c.logged_steps, c.smooth), ("step", true, 0.0));
    // Median and range over the seeds at each logged step; the diverged config logged none.
    assert_eq!(c.curves.len(), 1);
    assert_eq!(c.curves[0].band, vec![(0.0, 2.0, 1.8, 2.2), (100.0, 1.0, 0.8, 1.2), (200.0, 0.5, 0.4, 0.6)]);
    // Smoothed: each seed's debiased EMA, then the median.
    info.comparisons[0].plot = PlotSettings { x: None, smooth: 0.5 };
    let c = curves(&info, &runs, Metric::Loss);
    assert!(c.title.contains("EMA-smoothed 0.5"), "{}", c.title);
    let sm: Vec<Vec<f64>> = losses.iter().map(|l| optlab_report::stats::ema_smooth(l, 0.5)).collect();
    // By hand, the first seed (2, 1, 0.5): a = 1, 1, 0.75; s = 1 / 0.5, 1 / 0.75, 0.75 / 0.875.
    assert_eq!(sm[0], vec![2.0, 1.0 / 0.75, 0.75 / 0.875]);
    for (i, p) in c.curves[0].band.iter().enumerate() {
        let mut col: Vec<f64> = sm.iter().map(|s| s[i]).collect();
        col.sort_by(f64::total_cmp);
        assert_eq!((p.1, p.2, p.3), (col[1], col[0], col[2]), "point {i}");
    }
    // Against epochs: the per-epoch series, as without logged steps.
    info.comparisons[0].plot = PlotSettings { x: Some(PlotX::Epochs), smooth: 0.0 };
    let c = curves(&info, &runs, Metric::Loss);
    assert_eq!((c.x_desc.as_str(), c.logged_steps), ("epoch", false));
    assert_eq!(c.curves[0].band, vec![(0.0, 2.0, 2.0, 2.0), (10.0, 0.2, 0.1, 0.3)]);
    // Validation accuracy per epoch, in percent, linear; at chance (0 %) at epoch 0.
    for r in &mut runs {
        r.series[0].accuracy = Some(0.0);
    }
    let a = curves(&info, &runs, Metric::Accuracy);
    assert_eq!((a.x_desc.as_str(), a.log_y, a.bounded), ("epoch", false, true));
    // The range holds the whole curve (0 % at epoch 0 to 92 % at epoch 10), not capped near its
    // start as a loss that blows up is.
    let (lo, hi) = a.y_range();
    assert!(lo < 10.0 && hi > 92.0, "{lo} {hi}");
    let last = a.curves[0].band.last().unwrap();
    assert_eq!(last.0, 10.0);
    assert!((last.1 - 91.0).abs() < 1e-9 && (last.2 - 90.0).abs() < 1e-9 && (last.3 - 92.0).abs() < 1e-9, "{last:?}");
    // The plots are written, with the accuracy plot among them.
    let dir = tempfile::tempdir().unwrap();
    let rep = render(&info, &runs, dir.path()).unwrap();
    assert!(rep.files.iter().any(|f| f.ends_with("plots/grid-net-val-accuracy.png")), "{:?}", rep.files);
    // The table says what `min loss` is for runs with logged steps; without them, nothing.
    let note = "smallest training loss over its logged steps";
    let md = std::fs::read_to_string(dir.path().join("tables/grid.md")).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(md.contains(note) && html.contains(note), "{md}");
    let (info, runs) = hand_made();
    let dir = tempfile::tempdir().unwrap();
    render(&info, &runs, dir.path()).unwrap();
    let md = std::fs::read_to_string(dir.path().join("tables/grid.md")).unwrap();
    assert!(!md.contains(note), "{md}");
}

#[test]
fn sensitivity_has_one_line_per_optimizer_and_gaps_where_nothing_ran_ok() {
    let (info, runs) = common::sample();
    let cmps = group(&info, &runs).unwrap();
    let lr = cmps.iter().find(|c| c.info.name == "lr-sweep").unwrap();
    let t = table::build(lr);
    let s = optlab_report::plots::sensitivity(lr, &t, "rosenbrock").unwrap();
    let names: Vec<&str> = s.lines.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, vec!["adam", "sgd"]);
    let lrs: Vec<f64> = s.lines[1].points.iter().map(|p| p.0).collect();
    assert_eq!(lrs, vec![1e-4, 1e-3, 1e-2, 1e-1]);
    let sgd_ok: Vec<bool> = s.lines[1].points.iter().map(|p| p.1.is_some()).collect();
    assert_eq!(sgd_ok, vec![true, true, false, false], "large SGD steps diverge on Rosenbrock");
    let row = t.rows.iter().find(|r| r.task == "rosenbrock" && r.label == "adam lr=0.01").unwrap();
    assert_eq!(s.lines[0].points[2].1, row.final_loss);
    let grid = cmps.iter().find(|c| c.info.name == "adam-grid").unwrap();
    assert!(optlab_report::plots::sensitivity(grid, &table::build(grid), "mnist-mlp").is_none(), "lr not swept");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn status_of(k: u8) -> Status {
        match k % 3 {
            0 => Status::Ok,
            1 => Status::Diverged,
            _ => Status::Failed,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Whatever the statuses and values (NaN and ∞ included), every Markdown row has the
        /// header's cells, no cell says NaN, and the CSV keeps one column per header.
        #[test]
        fn tables_stay_rectangular_and_nan_free(
            runs in proptest::collection::vec(
                (0u8..3, 0u8..3, 0u8..3, prop_oneof![Just(f64::NAN), Just(f64::INFINITY), 0.0f64..10.0], proptest::option::of(0u64..1000)),
                1..20,
            )
        ) {
            let (info, _) = hand_made();
            let records: Vec<RunRecord> = runs
                .iter()
                .enumerate()
                .map(|(i, &(b1, b2, st, loss, to))| {
                    let status = status_of(st);
                    let mut r = net_run(&format!("0.{}", 7 + b1), &format!("0.9{}", b2), i as u64, status, 1.0, loss, loss, None, to.map(|s| (s, s as f64)));
                    r.summary.final_accuracy = (b1 == 1).then_some(0.5);
                    r
                })
                .collect();
            let cmps = group(&info, &records).unwrap();
            let t = table::build(&cmps[0]);
            let md = t.markdown();
            prop_assert!(!md.contains("NaN"));
            let n = t.headers().len();
            for line in md.lines() {
                prop_assert_eq!(line.matches('|').count(), n + 1, "{}", line);
            }
            let csv = t.csv();
            let cols = csv.lines().next().unwrap().split(',').count();
            for line in csv.lines() {
                prop_assert_eq!(line.split(',').count(), cols);
                prop_assert!(!line.to_lowercase().contains("nan"));
            }
            let seeds: usize = t.rows.iter().map(|r| r.total()).sum();
            prop_assert_eq!(seeds, records.len());
        }
    }
}

/// Runs with gradient histograms (`grad_histograms = true`) get a `-histograms` plot per task, in
/// the HTML too: one row per configuration, from its first seed that has them; without, none.
#[test]
fn gradient_histograms_are_drawn_when_the_runs_have_them() {
    let (info, mut runs) = hand_made();
    let dir = tempfile::tempdir().unwrap();
    let rep = render(&info, &runs, dir.path()).unwrap();
    assert!(!rep.files.iter().any(|f| f.to_string_lossy().contains("-histograms")));
    let bins = optlab_nn::histogram::BINS;
    for r in runs.iter_mut().filter(|r| r.label == "adam b1=0.9 b2=0.99") {
        r.histograms = (0..3)
            .map(|i| {
                let (mut grad, mut update) = (vec![0; bins], vec![0; bins]);
                grad[20 + i] = 10;
                update[0] = 4;
                update[30] = 6;
                optlab_nn::StepHistogram { step: 100 * i as u64, grad, update }
            })
            .collect();
    }
    let cmps = group(&info, &runs).unwrap();
    let h = optlab_report::plots::histograms(&cmps[0], "net").unwrap();
    assert_eq!(h.runs.len(), 1);
    assert_eq!((h.runs[0].0.as_str(), h.runs[0].1.len()), ("adam b1=0.9 b2=0.99", 3));
    let dir = tempfile::tempdir().unwrap();
    let rep = render(&info, &runs, dir.path()).unwrap();
    let png = rep.files.iter().find(|f| f.to_string_lossy().ends_with("-net-histograms.png")).expect("the plot");
    assert!(std::fs::metadata(png).unwrap().len() > 1000);
    let html = std::fs::read_to_string(&rep.html).unwrap();
    assert!(html.contains("Histograms of |g|") && html.contains("-net-histograms.svg"));
}

/// Runs with a stored landscape (`landscape = true`) get a `-landscape` plot per task, in the
/// HTML too: one contour panel per configuration, from its first seed that has one; without,
/// none.
#[test]
fn landscapes_are_drawn_when_the_runs_have_them() {
    let (info, mut runs) = hand_made();
    let dir = tempfile::tempdir().unwrap();
    let rep = render(&info, &runs, dir.path()).unwrap();
    assert!(!rep.files.iter().any(|f| f.to_string_lossy().contains("-landscape")));
    let a = optlab_nn::landscape::linspace(-1.0, 1.0, 7);
    let bowl: Vec<f64> = a.iter().flat_map(|&y| a.iter().map(move |&x| 0.2 + x * x + 0.5 * y * y)).collect();
    for r in runs.iter_mut().filter(|r| r.label == "adam b1=0.9 b2=0.99") {
        r.landscape = Some(optlab_nn::landscape::Surface { a: a.clone(), b: a.clone(), loss: bowl.clone() });
    }
    let cmps = group(&info, &runs).unwrap();
    let l = optlab_report::plots::landscapes(&cmps[0], "net").unwrap();
    assert_eq!(l.runs.len(), 1);
    assert_eq!(l.runs[0].0, "adam b1=0.9 b2=0.99");
    let dir = tempfile::tempdir().unwrap();
    let rep = render(&info, &runs, dir.path()).unwrap();
    let png = rep.files.iter().find(|f| f.to_string_lossy().ends_with("-net-landscape.png")).expect("the plot");
    assert!(std::fs::metadata(png).unwrap().len() > 1000);
    let html = std::fs::read_to_string(&rep.html).unwrap();
    assert!(html.contains("Loss landscapes on net") && html.contains("-net-landscape.svg"));
}

/// Pruned tuning trials (`pruner = "median"`): the report counts them apart from diverged and
/// failed runs, lists each with the epoch it reached and why, and the tuning table shows them.
#[test]
fn pruned_trials_are_counted_and_listed_apart_from_failures() {
    use optlab_lab::lab_tasks::LabTasks;
    use optlab_lab::runner::{run_experiment, RunOptions};
    let text = r#"[experiment]
name = "p"
seed = 1
[[comparison]]
name = "blobs"
tasks = ["blobs-two-layer"]
seeds = [0]
epochs = 4
batch_size = 50
trials = 6
protocol = "deepobs"
pruner = "median"
prune_startup_trials = 1
optimizers = [{ name = "sgd" }]
[comparison.search]
lr = { log_uniform = [1e-4, 1.0] }
[comparison.tune]
seeds = [100]
"#;
    let exp = optlab_lab::spec::parse(text, "p.toml", "p").unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let mut st = optlab_lab::Store::open_dir(store_dir.path()).unwrap();
    let opts = RunOptions { jobs: 1, shard: None, progress: false, retry_failed: true };
    run_experiment(&exp, &mut st, &LabTasks { threads: Some(1) }, &opts).unwrap();
    let runs = st.runs().unwrap();
    let pruned: Vec<&RunRecord> = runs.iter().filter(|r| r.status == Status::Pruned).collect();
    assert!(!pruned.is_empty(), "some trial is pruned");
    let dir = tempfile::tempdir().unwrap();
    let rep = render(&st.experiment().unwrap(), &runs, dir.path()).unwrap();
    let html = std::fs::read_to_string(&rep.html).unwrap();
    assert!(html.contains(&format!(", {} tuning trials pruned</p>", pruned.len())), "header count");
    assert!(html.contains(&format!("Tuning trials pruned: {} of 6 tuning runs", pruned.len())), "the list");
    for r in &pruned {
        let row = format!(
            "<td class=\"t\">{}</td><td>100</td><td>{}</td><td>{}</td>",
            r.label,
            r.summary.epochs.unwrap(),
            r.summary.steps
        );
        assert!(html.contains(&row), "{row}");
    }
    assert!(!html.contains("Runs that diverged or failed"), "pruned runs are not failures");
    let md = std::fs::read_to_string(dir.path().join("tables/blobs-tuning.md")).unwrap();
    assert!(md.contains("| pruned |"), "{md}");
    assert!(md.contains(&format!("after epoch {}", pruned[0].summary.epochs.unwrap())), "{md}");
    let csv = std::fs::read_to_string(dir.path().join("tables/blobs-tuning.csv")).unwrap();
    assert!(csv.starts_with("task,configuration,key,value,valid,runs,successes,pruned,"), "{csv}");
}
