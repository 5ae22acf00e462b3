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
    for f in ["loss.png", "loss.svg"] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 1000, "{f}");
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
