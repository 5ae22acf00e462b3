//! `optlab run` refuses, before anything is written, what would fail later: plans over the size
//! limit (counted without building them), missing data paths, val_fraction 0 with what needs a
//! validation set; and it accepts what the trainer accepts (lookahead with its inner optimizer's
//! keys, val_fraction 0).

use std::path::Path;
use std::process::{Command, Output};

use optlab_lab::store::{Store, DB_FILE};

fn optlab(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_optlab"));
    c.current_dir(dir);
    c
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn ok(o: Output) -> String {
    let (out, err) = text(&o);
    assert!(o.status.success(), "optlab failed:\n{out}\n{err}");
    out
}

fn fails(o: Output) -> String {
    let (out, err) = text(&o);
    assert!(!o.status.success(), "optlab succeeded:\n{out}\n{err}");
    err
}

/// A grid of adam on sphere with `sizes[i]` values per key (lr, beta1, beta2, eps).
fn grid_file(dir: &Path, sizes: &[usize], extra: &str) -> std::path::PathBuf {
    let mut t = format!(
        "[experiment]\nname = \"big\"\n[[comparison]]\nname = \"c\"\ntasks = [\"sphere\"]\n{extra}\noptimizers = [{{ name = \"adam\" }}]\n[comparison.grid]\n"
    );
    for (key, n) in ["lr", "beta1", "beta2", "eps"].iter().zip(sizes) {
        let vals: Vec<String> = (0..*n).map(|i| format!("{:?}", (i + 1) as f64 / (*n as f64 + 1.0))).collect();
        t.push_str(&format!("{key} = [{}]\n", vals.join(", ")));
    }
    let p = dir.join("big.toml");
    std::fs::write(&p, t).unwrap();
    p
}

#[test]
fn a_1e7_run_plan_is_refused_with_its_size_and_the_limit_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let f = grid_file(dir.path(), &[100, 100, 100, 10], "");
    for args in [&["run", "big.toml", "--check"][..], &["run", "big.toml"][..]] {
        let err = fails(optlab(dir.path()).args(args).output().unwrap());
        assert!(
            err.contains("big.toml:4: the plan has 10000000 runs, more than the limit of 500000 runs per experiment"),
            "{err}"
        );
    }
    assert!(!dir.path().join("results").exists());
    drop(f);
}

#[test]
fn a_1e5_run_plan_checks() {
    let dir = tempfile::tempdir().unwrap();
    grid_file(dir.path(), &[100, 100], "seeds = 10");
    let out = ok(optlab(dir.path()).args(["run", "big.toml", "--check", "--shard", "3/7"]).output().unwrap());
    assert_eq!(out.trim(), "big.toml: 100000 runs in 1 comparisons (14286 in shard 3/7)");
}

#[test]
fn a_missing_data_path_stops_run_and_check_naming_file_comparison_task_and_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("d.toml"),
        "[experiment]\nname = \"d\"\n[[comparison]]\nname = \"mn\"\ntasks = [\"mnist-mlp\"]\nepochs = 1\ndata = \"/nonexistent/mnist\"\noptimizers = [{ name = \"adam\" }]\n",
    )
    .unwrap();
    let want =
        "d.toml:7: key `data` in comparison `mn`: data path `/nonexistent/mnist` of task `mnist-mlp` does not exist";
    let err = fails(optlab(dir.path()).args(["run", "d.toml", "--check"]).output().unwrap());
    assert!(err.contains(want), "{err}");
    let err = fails(optlab(dir.path()).args(["run", "d.toml", "--out", "out"]).output().unwrap());
    assert!(err.contains(want), "{err}");
    // Nothing ran and nothing was written (no failed run stored).
    assert!(!dir.path().join("out").exists());
}

#[test]
fn val_fraction_zero_passes_the_check_unless_something_needs_validation() {
    let dir = tempfile::tempdir().unwrap();
    let body = "[experiment]\nname = \"v\"\n[[comparison]]\nname = \"b\"\ntasks = [\"blobs-two-layer\"]\nepochs = 2\nval_fraction = 0.0\noptimizers = [{ name = \"adam\" }]\n";
    std::fs::write(dir.path().join("v.toml"), body).unwrap();
    let out = ok(optlab(dir.path()).args(["run", "v.toml", "--check"]).output().unwrap());
    assert_eq!(out.trim(), "v.toml: 1 runs in 1 comparisons");
    std::fs::write(dir.path().join("v.toml"), body.replace("epochs = 2", "epochs = 2\npatience = 2")).unwrap();
    let err = fails(optlab(dir.path()).args(["run", "v.toml", "--check"]).output().unwrap());
    assert!(err.contains("v.toml:8: key `val_fraction` in comparison `b`: val_fraction = 0 trains on every sample and leaves no validation set, and `patience` (line 7: early stopping"), "{err}");
}

#[test]
fn lookahead_runs_with_its_inner_optimizers_lr_sweep_and_schedule() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("la.toml"),
        r#"[experiment]
name = "la"
[[comparison]]
name = "lr"
tasks = ["sphere"]
start = "default"
steps = 40
optimizers = [{ name = "lookahead", set = { inner = "sgd", k = 2 } }]
[comparison.grid]
lr = [0.001, 0.1]
lr_schedule = ["none", "step(step_size=1, gamma=0.5)"]
"#,
    )
    .unwrap();
    let out = ok(optlab(dir.path()).args(["run", "la.toml", "--check"]).output().unwrap());
    assert_eq!(out.trim(), "la.toml: 4 runs in 1 comparisons");
    ok(optlab(dir.path()).args(["run", "la.toml", "--out", "out", "--jobs", "1"]).output().unwrap());
    let runs = Store::open(&dir.path().join("out").join(DB_FILE)).unwrap().runs().unwrap();
    assert_eq!(runs.len(), 4);
    let fin = |lr: &str, sch: &str| {
        runs.iter()
            .find(|r| r.swept["lr"] == lr && r.swept["lr_schedule"] == sch)
            .map(|r| (r.status, r.summary.final_loss))
            .unwrap()
    };
    let (slow, fast) = (fin("0.001", "none"), fin("0.1", "none"));
    let halved = fin("0.1", "step(step_size=1, gamma=0.5)");
    assert!(slow.1.is_finite() && fast.1.is_finite() && halved.1.is_finite(), "{slow:?} {fast:?} {halved:?}");
    // SGD on the sphere: a larger learning rate gets closer to the minimum in 40 steps; one that
    // halves every step stalls early. So lr and its schedule reached the inner optimizer.
    assert!(fast.1 < slow.1, "{fast:?} {slow:?}");
    assert!(fast.1 < halved.1 && halved.1 < slow.1 * 1.000001, "{fast:?} {halved:?} {slow:?}");
}
