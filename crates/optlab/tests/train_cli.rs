//! `optlab train` end to end: log lines, CSV and loss plots, clear errors.

use std::process::{Command, Output};

fn optlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().expect("run optlab")
}

#[test]
fn train_writes_log_lines_csv_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = optlab(&[
        "train",
        "--task",
        "blobs-two-layer",
        "--optimizer",
        "adam",
        "--set",
        "lr=0.05",
        "--epochs",
        "4",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let epochs: Vec<&str> = stdout.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 4, "{stdout}");
    assert!(
        epochs[3].starts_with("epoch 4: train ") && epochs[3].contains("accuracy ") && epochs[3].contains("/200 (")
    );
    let csv = std::fs::read_to_string(out.join("epochs.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5);
    assert!(csv.starts_with("epoch,step,train_loss,val_loss,correct,total,accuracy,time_s\n"));
    for f in ["loss.png", "loss.svg", "accuracy.png", "accuracy.svg"] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 1000, "{f}");
    }
    // 800 training points in batches of 64: 13 steps per epoch, 52 in all, each logged (by
    // default every max(1, ⌈52 / 100⌉) = 1 step).
    let steps = std::fs::read_to_string(out.join("steps.csv")).unwrap();
    assert!(steps.starts_with("step,epoch,loss,lr,grad_norm\n"), "{steps}");
    assert_eq!(steps.lines().count(), 1 + 52);
    assert!(stdout.contains("wrote ") && stdout.contains("steps.csv"), "{stdout}");
}

/// `--log-every N`: steps.csv has a row for the steps 0, N, 2N, ... with the batch loss, the
/// learning rate and the gradient norm; `--plot-x` and `--smooth` choose the loss plot; bad
/// values are refused naming the option.
#[test]
fn train_log_every_writes_the_logged_steps() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = |extra: &[&'static str]| {
        let mut a: Vec<String> = ["train", "--task", "blobs-two-layer", "--set", "lr=0.05", "--epochs", "4", "--quiet"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&'static str]| {
        let a = args(extra);
        let mut a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        a.extend(["--out", out.to_str().unwrap()]);
        optlab(&a)
    };
    let o = run(&["--log-every", "5", "--plot-x", "epochs", "--smooth", "0.9"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let csv = std::fs::read_to_string(out.join("steps.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    // 52 steps: 0, 5, ..., 50.
    assert_eq!(rows.len(), 11, "{csv}");
    assert_eq!((rows[0][0], rows[10][0]), ("0", "50"));
    assert_eq!((rows[0][1], rows[10][1]), ("1", "4"));
    for r in &rows {
        assert_eq!(r.len(), 5, "{r:?}");
        assert!(r[2].parse::<f64>().unwrap().is_finite() && r[2].parse::<f64>().unwrap() > 0.0, "{r:?}");
        assert_eq!(r[3], "0.05", "{r:?}");
        assert!(r[4].parse::<f64>().unwrap() > 0.0, "{r:?}");
    }
    for f in ["loss.png", "loss.svg", "accuracy.png", "accuracy.svg"] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 1000, "{f}");
    }
    for (bad, says) in [
        (&["--log-every", "0"][..], "--log-every 0"),
        (&["--smooth", "1"][..], "--smooth 1"),
        (&["--plot-x", "time"][..], "--plot-x `time`"),
    ] {
        let o = run(bad);
        let e = text(&o.stderr);
        assert!(!o.status.success() && e.contains(says), "{bad:?}: {e}");
    }
}

#[test]
fn train_errors_name_the_input() {
    let o = optlab(&["train", "--task", "mnist-rnn", "--quiet"]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("mnist-rnn") && e.contains("mnist-cnn"), "{e}");
    let o = optlab(&["train", "--task", "mnist-mlp", "--set", "lr=-1", "--quiet"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("lr"), "{e}");
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `--val-fraction 0`: trains on every sample, prints no validation figures and leaves the CSV's
/// validation columns empty; early stopping without validation is refused.
#[test]
fn val_fraction_zero_skips_validation() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = optlab(&[
        "train",
        "--task",
        "blobs-two-layer",
        "--set",
        "lr=0.05",
        "--epochs",
        "2",
        "--val-fraction",
        "0",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", text(&o.stderr));
    let epochs: Vec<&str> = stdout.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 2, "{stdout}");
    assert!(epochs.iter().all(|l| l.ends_with("(no validation)") && !l.contains("val loss")), "{stdout}");
    let csv = std::fs::read_to_string(out.join("epochs.csv")).unwrap();
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 8, "{line}");
        assert!(cells[3..7].iter().all(|c| c.is_empty()), "{line}");
        assert!(cells[2].parse::<f64>().unwrap().is_finite(), "{line}");
    }
    assert!(!csv.contains("NaN"), "{csv}");
    // No validation, no accuracy plot.
    assert!(!out.join("accuracy.png").exists() && out.join("loss.png").exists() && out.join("steps.csv").exists());
    let o = optlab(&["train", "--task", "blobs-two-layer", "--val-fraction", "0", "--patience", "2", "--quiet"]);
    let e = text(&o.stderr);
    assert!(!o.status.success() && e.contains("patience") && e.contains("val_fraction = 0"), "{e}");
}

/// A resumed `optlab train --checkpoint` with another `--set lr=` says on stderr that it applies it.
#[test]
fn resumed_train_says_it_applies_a_changed_lr() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().to_str().unwrap();
    let args = |epochs: &'static str, lr: &'static str| {
        vec!["train", "--task", "blobs-neuron", "--set", lr, "--epochs", epochs, "--checkpoint", ck, "--quiet"]
    };
    let o = optlab(&args("1", "lr=0.05"));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = optlab(&args("2", "lr=0.5"));
    let e = text(&o.stderr);
    assert!(o.status.success(), "{e}");
    assert!(e.contains("`lr` 0.05 -> 0.5") && e.contains("applied from step") && e.contains("checkpoint.bin"), "{e}");
    let o = optlab(&["train", "--task", "blobs-neuron", "--mse", "--epochs", "3", "--checkpoint", ck, "--quiet"]);
    let e = text(&o.stderr);
    assert!(!o.status.success() && e.contains("loss") && e.contains("squared error"), "{e}");
}

#[test]
fn train_refuses_a_key_given_twice() {
    // The last value used to win silently.
    for (args, want) in [
        (["--set", "lr=0.1", "--set", "lr=0.5"], "--set lr given twice"),
        (["--schedule", "lr=cosine(t_max=9)", "--schedule", "lr=step(step_size=1)@epoch"], "--schedule lr given twice"),
    ] {
        let o = optlab(&[&["train", "--task", "blobs-neuron", "--epochs", "1", "--quiet"][..], &args[..]].concat());
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && e.contains(want), "{args:?}: {e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
        assert!(o.stdout.is_empty(), "nothing trained: {}", String::from_utf8_lossy(&o.stdout));
    }
}

/// `--log-format study`: the study documents' per-epoch line, one per epoch; a bad value is named.
#[test]
fn study_log_format_prints_the_documents_lines() {
    let o = optlab(&[
        "train",
        "--task",
        "blobs-two-layer",
        "--set",
        "lr=0.05",
        "--epochs",
        "3",
        "--log-format",
        "study",
        "--quiet",
    ]);
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", text(&o.stderr));
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("Validation set: Average loss: ")).collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for l in &lines {
        // e.g. "Validation set: Average loss: 0.4521, Accuracy: 171/200 (86%)"
        let (loss, acc) = l["Validation set: Average loss: ".len()..].split_once(", Accuracy: ").unwrap();
        assert_eq!(loss.split_once('.').unwrap().1.len(), 4, "{l}");
        let (count, pct) = acc.split_once(" (").unwrap();
        let (c, t) = count.split_once('/').unwrap();
        let (c, t): (f64, f64) = (c.parse().unwrap(), t.parse().unwrap());
        assert_eq!(t, 200.0, "{l}");
        assert_eq!(pct, format!("{:.0}%)", 100.0 * c / t), "{l}");
    }
    assert!(!stdout.lines().any(|l| l.starts_with("epoch ")), "{stdout}");
    let o = optlab(&["train", "--task", "blobs-two-layer", "--log-format", "torch", "--quiet"]);
    let e = text(&o.stderr);
    assert!(!o.status.success() && e.contains("torch") && e.contains("study"), "{e}");
}

/// `--grad-histograms`: histograms.csv (one row per logged step, kind and bin; the counts of a
/// step and kind add up to the parameter count) and the heatmaps; without it, none.
#[test]
fn train_grad_histograms_writes_the_csv_and_the_heatmaps() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let base =
        ["train", "--task", "blobs-two-layer", "--set", "lr=0.05", "--epochs", "2", "--quiet", "--log-every", "10"];
    let mut a: Vec<&str> = base.to_vec();
    a.extend(["--grad-histograms", "--out", out.to_str().unwrap()]);
    let o = optlab(&a);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let params: u64 = text(&o.stdout)
        .lines()
        .find_map(|l| l.split(" parameters").next().and_then(|h| h.rsplit(' ').next()?.parse().ok()))
        .expect("the parameter count in the summary line");
    let csv = std::fs::read_to_string(out.join("histograms.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("step,kind,bin,lower,upper,count"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // 800 training blobs at batch 64: 13 steps per epoch, 26 in all; logged: 0, 10, 20.
    assert_eq!(rows.len(), 3 * 2 * 58, "{csv}");
    for step in ["0", "10", "20"] {
        for kind in ["grad", "update"] {
            let sum: u64 =
                rows.iter().filter(|r| r[0] == step && r[1] == kind).map(|r| r[5].parse::<u64>().unwrap()).sum();
            assert_eq!(sum, params, "step {step} {kind}");
        }
    }
    for f in ["histograms.png", "histograms.svg"] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 1000, "{f}");
    }
    let out2 = dir.path().join("plain");
    let mut a: Vec<&str> = base.to_vec();
    a.extend(["--out", out2.to_str().unwrap()]);
    assert!(optlab(&a).status.success());
    assert!(!out2.join("histograms.csv").exists());
}
