//! The `optlab` binary: `optimizers`, `functions list` and `trace`, including bad input.

use std::process::{Command, Output};

fn optlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().expect("run optlab")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn optimizers_lists_every_registered_optimizer_with_hyperparameters() {
    let o = optlab(&["optimizers"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for name in optlab_optim::registry::names() {
        assert!(text.contains(&format!("{name} — ")), "{name} missing");
    }
    assert!(text.contains("beta1") && text.contains("valid [0, 1)") && text.contains("convention:"));
    let o = optlab(&["optimizers", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), optlab_optim::registry::names().len());
}

#[test]
fn functions_list_names_every_function() {
    let text = stdout(&optlab(&["functions", "list"]));
    for name in optlab_functions::NAMES {
        assert!(text.contains(name), "{name} missing");
    }
}

#[test]
fn trace_prints_start_every_kth_step_and_the_last() {
    let o = optlab(&[
        "trace",
        "--optimizer",
        "adam",
        "--set",
        "lr=0.1",
        "--function",
        "rosenbrock",
        "--steps",
        "7",
        "--every",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "step,evals,loss,x0,x1");
    let steps: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(steps, ["0", "3", "6", "7"]);
    // Step 0 is the function's first default start, before any update.
    assert_eq!(lines[1], "0,1,12.5,-1.5,2.0");
}

#[test]
fn trace_matches_the_library_and_honours_start_dim_dtype_and_schedule() {
    let o = optlab(&[
        "trace",
        "--optimizer",
        "sgd",
        "--set",
        "lr=0.1",
        "--function",
        "sphere",
        "--dim",
        "3",
        "--start=1,-2,3",
        "--steps",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Gradient 2x, lr 0.1: x <- 0.8 x each step.
    let (a, b, c) = (0.64f64, -1.28f64, 1.92f64);
    assert_eq!(stdout(&o).lines().last().unwrap(), format!("2,3,{:?},{a:?},{b:?},{c:?}", a * a + b * b + c * c));
    let o = optlab(&[
        "trace",
        "--optimizer",
        "sgd",
        "--set",
        "lr=0.1",
        "--function",
        "sphere",
        "--start=1,1",
        "--steps",
        "1",
        "--dtype",
        "f32",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let x = 0.8f32 as f64;
    assert_eq!(stdout(&o).lines().last().unwrap(), format!("1,2,{:?},{x:?},{x:?}", x * x + x * x));
    let o = optlab(&[
        "trace",
        "--optimizer",
        "sgd",
        "--set",
        "lr=0.1",
        "--schedule",
        "lr=step(step_size=1, gamma=0.5)",
        "--function",
        "sphere",
        "--start=1,1",
        "--steps",
        "2",
    ]);
    // lr 0.1 then 0.05 (SGD: x <- x + (-lr) * 2x).
    let x1 = 1.0 + -0.1 * 2.0;
    let x2: f64 = x1 + -0.05 * (2.0 * x1);
    let last = stdout(&o).lines().last().unwrap().to_string();
    assert!(last.ends_with(&format!(",{x2:?},{x2:?}")), "{last}");
    // The Hessian diagonal reaches the optimizers that need it.
    let o = optlab(&["trace", "--optimizer", "adam_curvature", "--function", "booth", "--steps", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn fails_with(args: &[&str], needle: &str) {
    let o = optlab(args);
    assert!(!o.status.success(), "{args:?} should fail");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
    assert!(err.contains(needle), "{args:?}: `{err}` lacks `{needle}`");
    assert!(stdout(&o).is_empty(), "{args:?}: nothing on stdout before the error");
}

#[test]
fn bad_input_exits_non_zero_with_one_clear_line() {
    fails_with(&["trace", "--optimizer", "adm", "--function", "booth"], "unknown optimizer `adm`");
    fails_with(&["trace", "--optimizer", "adam", "--function", "boot"], "unknown test function 'boot'");
    fails_with(&["trace", "--optimizer", "adam", "--set", "lr", "--function", "booth"], "expected KEY=VALUE");
    fails_with(&["trace", "--optimizer", "adam", "--set", "lr=-1", "--function", "booth"], "`lr`");
    fails_with(
        &["trace", "--optimizer", "adam", "--set", "betas=0.9", "--function", "booth"],
        "unknown hyperparameter `betas`",
    );
    fails_with(&["trace", "--optimizer", "adam", "--function", "booth", "--start=1,2,3"], "--start has 3 coordinates");
    fails_with(&["trace", "--optimizer", "adam", "--function", "booth", "--start=1,x"], "`x` is not a number");
    fails_with(&["trace", "--optimizer", "adam", "--function", "booth", "--every", "0"], "--every");
    fails_with(&["trace", "--optimizer", "adam", "--function", "booth", "--dtype", "f16"], "--dtype");
    fails_with(&["trace", "--optimizer", "adam", "--schedule", "lr=cosine(tmax=3)", "--function", "booth"], "tmax");
}

#[test]
fn trace_dimension_above_the_limit_is_an_error_not_a_panic_or_an_abort() {
    // usize::MAX used to panic ("capacity overflow"), 1e9 to abort on the failed allocation, and
    // 1e6+1 to run although experiment files cap `dim` at 1e6.
    for d in ["18446744073709551615", "1000000000", "1000001"] {
        for f in ["sphere", "rosenbrock", "booth"] {
            fails_with(
                &["trace", "--optimizer", "adam", "--function", f, "--dim", d],
                &format!("--dim {d}: invalid dim {d}: dim must be at most 1000000"),
            );
        }
    }
    fails_with(&["trace", "--optimizer", "adam", "--function", "sphere", "--dim", "0"], "--dim 0: invalid dim 0");
    let o = optlab(&["trace", "--optimizer", "adam", "--function", "sphere", "--dim", "1000", "--steps", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().next().unwrap().split(',').count(), 3 + 1000);
}

#[test]
fn trace_refuses_a_key_given_twice() {
    // The last value used to win silently.
    let t = ["trace", "--optimizer", "adam", "--function", "booth", "--steps", "2"];
    fails_with(&[&t[..], &["--set", "lr=0.1", "--set", "lr=0.5"]].concat(), "--set lr given twice");
    fails_with(
        &[&t[..], &["--set", "lr=0.1", "--set", "beta1=0.8", "--set", " lr =0.5"]].concat(),
        "--set lr given twice",
    );
    fails_with(
        &[&t[..], &["--schedule", "lr=cosine(t_max=5)", "--schedule", "lr=step(step_size=1)@epoch"]].concat(),
        "--schedule lr given twice",
    );
    // Different keys, and a key that is both set and scheduled, are fine.
    let o = optlab(&[&t[..], &["--set", "lr=0.1", "--set", "beta1=0.8", "--schedule", "lr=cosine(t_max=5)"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bench_refuses_a_key_given_twice() {
    for args in [
        &["bench", "step", "--optimizers", "adam:lr=0.1,lr=0.2", "--torch", "none"][..],
        &["bench", "memory", "--optimizer", "adam:lr=0.1,lr=0.2", "--params", "1k", "--steps", "1"][..],
    ] {
        let o = optlab(args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains("`adam:lr=0.1,lr=0.2`: lr given twice"), "{args:?}: {}", stderr(&o));
        assert!(!stdout(&o).contains('|'), "nothing measured: {}", stdout(&o));
    }
}

#[test]
fn deeply_nested_schedule_is_an_error_not_a_stack_overflow() {
    // 10,000 levels of `chained(` used to overflow the stack of the recursive parser.
    let depth = 10_000;
    let text = format!("lr={}cosine(t_max=9){}", "chained(".repeat(depth), ")".repeat(depth));
    let o = optlab(&["trace", "--optimizer", "adam", "--function", "booth", "--schedule", &text]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--schedule") && err.contains("schedules nested 33 deep"), "{err}");
    assert!(err.contains("at most 32 levels") && err.contains("at column 257"), "{err}");
    assert!(err.len() < 400, "the message quotes only the start of the text: {err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn divergence_is_reported_after_the_rows_so_far() {
    let o = optlab(&["trace", "--optimizer", "sgd", "--set", "lr=10", "--function", "rosenbrock", "--steps", "50"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("diverged at step"), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("step,evals,loss,x0,x1\n0,"));
}

/// lbfgs re-evaluates the function inside a step: trace's `evals` column counts every
/// evaluation (line search included), apart from the steps.
#[test]
fn trace_of_lbfgs_counts_evaluations_apart_from_steps() {
    let args = ["trace", "--optimizer", "lbfgs", "--set", "line_search_fn=strong_wolfe", "--function", "rosenbrock"];
    let o = optlab(&[&args[..], &["--steps", "3"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.iter().map(|r| r[0]).collect::<Vec<_>>(), ["0", "1", "2", "3"]);
    let evals: Vec<u64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(evals[0], 1);
    // torch's first step from (-1.5, 2) with the strong-Wolfe search: 25 evaluations
    // (tests/golden/torch_lbfgs.json, rosenbrock-strong_wolfe-h100).
    assert_eq!(evals[1], 1 + 25, "{text}");
    assert!(evals.windows(2).all(|w| w[1] > w[0]), "{evals:?}");
}

/// `bench step` on a small layout: one row per optimizer, layout and thread count, each with its
/// own interleaved probe and a positive ratio; bad names and layouts are refused.
#[test]
fn bench_step_prints_a_row_per_configuration_with_its_probe() {
    let o = optlab(&[
        "bench",
        "step",
        "--optimizers",
        "sgd adam:amsgrad=true;adam_curvature",
        "--layouts",
        "1x100k,4x20k",
        "--threads",
        "1,2",
        "--repeats",
        "3",
        "--torch",
        "none",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let rows: Vec<Vec<String>> = text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| optimizer"))
        .map(|l| l.split('|').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect())
        .collect();
    assert_eq!(rows.len(), 3 * 2 * 2, "{text}");
    for r in &rows {
        assert_eq!(r.len(), 10, "{r:?}");
        let probe: f64 = r[7].parse().unwrap();
        let ratio: f64 = r[8].parse().unwrap();
        assert!(probe > 0.0 && ratio > 0.0 && ratio.is_finite(), "{r:?}");
    }
    assert!(rows.iter().any(|r| r[0] == "adam:amsgrad=true" && r[1] == "4x20k" && r[2] == "2" && r[3] == "36"));
    let o = optlab(&["bench", "step", "--optimizers", "adamm", "--torch", "none"]);
    assert!(!o.status.success() && stderr(&o).contains("unknown optimizer `adamm`"), "{}", stderr(&o));
    let o = optlab(&["bench", "step", "--layouts", "10M", "--torch", "none"]);
    assert!(!o.status.success() && stderr(&o).contains("layout `10M`"), "{}", stderr(&o));
    // A Hessian outside (eps, 1) makes adam_curvature compute its powers: still a valid row.
    let args = ["bench", "step", "--optimizers", "adam_curvature", "--layouts", "1x50k", "--threads", "1"];
    let o = optlab(&[&args[..], &["--repeats", "2", "--torch", "none", "--hessian", "2"]].concat());
    assert!(o.status.success() && stdout(&o).contains("| adam_curvature | 1x50k | 1 | 32 |"), "{}", stderr(&o));
    let o = optlab(&[&args[..], &["--torch", "none", "--hessian", "inf"]].concat());
    assert!(!o.status.success() && stderr(&o).contains("--hessian must be a finite number"), "{}", stderr(&o));
}

/// `bench train` measures each row in a child process and prints samples/s, minimum and peak RSS
/// per row and thread count; bad rows, repeats and sample counts are refused, naming the flag.
#[test]
fn bench_train_prints_a_row_per_network_and_thread_count() {
    let args = ["bench", "train", "--rows", "mnist-mlp:16,cifar-cnn:4", "--threads", "1,2", "--samples", "16"];
    let o = optlab(&[&args[..], &["--torch", "none", "--shipped-epochs", "0"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let rows: Vec<Vec<String>> = text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| network"))
        .map(|l| l.split('|').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect())
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    for r in &rows {
        assert_eq!(r.len(), 7, "{r:?}");
        let (median, min, rss): (f64, f64, f64) = (r[4].parse().unwrap(), r[5].parse().unwrap(), r[6].parse().unwrap());
        assert!(min > 0.0 && median >= min && rss > 1.0, "{r:?}");
    }
    assert_eq!(rows[0][..4], ["mnist-mlp", "16", "1", "64"]);
    assert_eq!(rows[3][..4], ["cifar-cnn", "4", "2", "16"]);
    for (bad, says) in [
        (vec!["--rows", "mnist-cnn"], "is not TASK:BATCH"),
        (vec!["--rows", "resnet:8"], "unknown task `resnet`"),
        (vec!["--repeats", "2"], "--repeats 2"),
        (vec!["--samples", "0"], "--samples 0"),
        (vec!["--threads", "0"], "--threads"),
    ] {
        let o = optlab(&[&["bench", "train", "--torch", "none"][..], &bad[..]].concat());
        assert!(!o.status.success() && stderr(&o).contains(says), "{bad:?}: {}", stderr(&o));
    }
}
