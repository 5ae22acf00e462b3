//! `optlab landscape` end to end on the shipped MNIST subset: a checkpoint with iterates, a
//! small grid, every file, and errors that name the value.

use std::process::{Command, Output};

fn optlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().expect("run optlab")
}

#[test]
fn landscape_of_a_checkpoint_writes_the_grids_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let out = dir.path().join("land");
    let o = optlab(&[
        "train",
        "--task",
        "mnist-mlp",
        "--widths",
        "784-16-10",
        "--train-limit",
        "300",
        "--epochs",
        "3",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--keep-iterates",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(ck.join("iterates.bin").is_file());
    let o = optlab(&[
        "landscape",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--grid",
        "5",
        "--points-1d",
        "7",
        "--samples",
        "100",
        "--widths",
        "784-16-10",
        "--trajectory",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("mnist-mlp after 3 epochs: loss at θ"), "{stdout}");
    assert!(stdout.contains("train, 100 of 300 samples"), "{stdout}");
    assert!(stdout.contains("trajectory: 4 iterates; explained variance PC1"), "{stdout}");
    let grid = std::fs::read_to_string(out.join("grid.csv")).unwrap();
    assert_eq!(grid.lines().count(), 1 + 25);
    assert!(grid.starts_with("a,b,loss\n-1,-1,"), "{grid}");
    assert_eq!(std::fs::read_to_string(out.join("curve.csv")).unwrap().lines().count(), 1 + 7);
    assert_eq!(std::fs::read_to_string(out.join("trajectory.csv")).unwrap().lines().count(), 1 + 4);
    for f in ["contour", "surface", "curve", "trajectory"] {
        for ext in ["png", "svg"] {
            let p = out.join(format!("{f}.{ext}"));
            assert!(std::fs::metadata(&p).map(|m| m.len() > 1000).unwrap_or(false), "{}", p.display());
        }
    }
}

#[test]
fn the_default_subset_depends_on_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let o = optlab(&[
        "train",
        "--task",
        "mnist-cnn",
        "--train-limit",
        "200",
        "--epochs",
        "1",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let land = |extra: &[&str]| {
        let out = dir.path().join("land");
        let mut a = vec!["landscape", "--checkpoint", ck.to_str().unwrap(), "--out", out.to_str().unwrap()];
        a.extend_from_slice(&["--grid", "3", "--points-1d", "3"]);
        a.extend_from_slice(extra);
        let o = optlab(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // 200 training samples (--train-limit): the CNN's default takes 50 of them, an explicit
    // --samples and `all` override it.
    let s = land(&[]);
    assert!(s.contains("(train, 50 of 200 samples)"), "{s}");
    let s = land(&["--samples", "120"]);
    assert!(s.contains("(train, 120 of 200 samples)"), "{s}");
    let s = land(&["--samples", "all"]);
    assert!(s.contains("(train, 200 of 200 samples)"), "{s}");
}

#[test]
fn bad_inputs_name_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-run");
    let o = optlab(&["landscape", "--checkpoint", missing.to_str().unwrap(), "--out", "x"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("no-such-run") && err.contains("checkpoint.bin"), "{err}");
    let o = optlab(&["landscape", "--checkpoint", missing.to_str().unwrap(), "--out", "x", "--grid", "1"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--grid 1"), "{err}");
    let o = optlab(&["landscape", "--checkpoint", missing.to_str().unwrap(), "--out", "x", "--eval", "test"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--eval") && err.contains("test"), "{err}");
}
