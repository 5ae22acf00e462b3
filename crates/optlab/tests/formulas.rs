//! `--function` with a formula: `optlab trace` and `optlab functions study`.

use std::process::{Command, Output};

fn optlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().expect("run optlab")
}

fn rows(o: &Output) -> Vec<Vec<f64>> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn trace_of_a_formula_follows_the_named_function() {
    let common = ["--optimizer", "adam", "--set", "lr=0.01", "--steps", "200", "--start=-1.5,2"];
    let named = rows(&optlab(&[&["trace", "--function", "rosenbrock"][..], &common].concat()));
    let formula =
        rows(&optlab(&[&["trace", "--function", "f(x, y) = (1 - x)^2 + 100*(y - x^2)^2"][..], &common].concat()));
    assert_eq!(named.len(), 201);
    assert_eq!(named.len(), formula.len());
    for (a, b) in named.iter().zip(&formula) {
        for (u, v) in a.iter().zip(b) {
            assert!((u - v).abs() <= 1e-10 * (1.0 + u.abs()), "{a:?} vs {b:?}");
        }
    }
}

#[test]
fn a_bad_formula_is_an_error_naming_the_column() {
    let o = optlab(&["trace", "--optimizer", "sgd", "--function", "f(x, y) = (1 - x^2 + y"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("formula `f(x, y) = (1 - x^2 + y`: column 23: expected `)`, found the end"), "{err}");
    assert!(o.stdout.is_empty(), "nothing written on stdout");
}

#[test]
fn study_of_a_formula_draws_its_contour_plot() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("study");
    let f = "f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2; x in [-5, 5]; y in [-5, 5]; start (0, 0); min (3, 2)";
    let o = optlab(&[
        "functions",
        "study",
        "--function",
        f,
        "--optimizers",
        "adam,sgd:momentum=0.9",
        "--starts",
        "2",
        "--tune-starts",
        "1",
        "--steps",
        "300",
        "--lr-points",
        "3",
        "--lr-min",
        "0.001",
        "--lr-max",
        "0.1",
        "--threads",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stem = optlab_functions::file_stem(f);
    assert!(stem.starts_with("formula_"));
    let mut found = Vec::new();
    for e in walk(&out) {
        let name = e.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with(&stem) {
            found.push(name);
        }
    }
    found.sort();
    assert!(found.contains(&format!("{stem}_contour.png")), "{found:?}");
    assert!(found.contains(&format!("{stem}.csv")), "{found:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn primer(file: &str) -> String {
    format!("{}/../../data/primer/{file}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn exprnet_trains_the_shipped_multi_neuron_classifier() {
    let (net, data) = (primer("multi-neuron.net"), format!("csv:{}", primer("primer-4d.csv")));
    let o = optlab(&[
        "exprnet",
        "--net",
        &net,
        "--data",
        &data,
        "--label",
        "label",
        "--optimizer",
        "adam",
        "--set",
        "lr=0.02",
        "--steps",
        "2000",
        "--every",
        "500",
    ]);
    let curve = rows(&o);
    assert_eq!(curve.iter().map(|r| r[0]).collect::<Vec<_>>(), [0.0, 500.0, 1000.0, 1500.0, 1999.0]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("loss on the 400 rows: "), "{err}");
    let acc: f64 = err.split("accuracy ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(acc > 0.9, "{err}");
    assert!(err.contains("parameters: ap="), "{err}");
}

#[test]
fn exprnet_errors_name_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let net = tmp.path().join("bad.net");
    std::fs::write(&net, "xw = sigmoid(ap*xp + aq*xq\n").unwrap();
    let data = format!("csv:{}", primer("primer-4d.csv"));
    let o =
        optlab(&["exprnet", "--net", net.to_str().unwrap(), "--data", &data, "--label", "label", "--optimizer", "sgd"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("--net {}: line 1, column 27: expected `)`, found the end", net.display())), "{err}");
    let csv = tmp.path().join("bad.csv");
    std::fs::write(&csv, "xp,label\n1,0\n2,one\n").unwrap();
    let good = primer("one-neuron.net");
    let o = optlab(&[
        "exprnet",
        "--net",
        &good,
        "--data",
        &format!("csv:{}", csv.display()),
        "--label",
        "label",
        "--optimizer",
        "sgd",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("--data: {}:3:3: `one` in column `label` is not a number", csv.display())), "{err}");
    let o = optlab(&["exprnet", "--net", &good, "--data", &data, "--label", "class", "--optimizer", "sgd"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no label column `class`; the columns are xp, xq, xr, xs, label"), "{err}");
    // A net using the label outside the `loss` line is refused.
    std::fs::write(&net, "xo = sigmoid(a*xp + y)\n").unwrap();
    let o =
        optlab(&["exprnet", "--net", net.to_str().unwrap(), "--data", &data, "--label", "label", "--optimizer", "sgd"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 1, column 21: the label `y` can only be used in the `loss` line"), "{err}");
}

#[test]
fn train_takes_a_csv_table_and_the_gaussian_settings() {
    let data = format!("csv:{}", primer("primer-4d.csv"));
    let o = optlab(&[
        "train",
        "--task",
        "blobs-two-layer",
        "--data",
        &data,
        "--label",
        "label",
        "--epochs",
        "2",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = optlab(&["train", "--task", "blobs-neuron", "--data", &data, "--epochs", "1", "--quiet"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("a CSV table needs `label`"));
    let o = optlab(&[
        "train",
        "--task",
        "blobs-neuron",
        "--blobs-samples",
        "300",
        "--blobs-dim",
        "3",
        "--blobs-separation",
        "4",
        "--epochs",
        "1",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = optlab(&["train", "--task", "mnist-mlp", "--blobs-dim", "3", "--epochs", "1", "--quiet"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("invalid setting `blobs_dim` = `3`: is a setting of the blobs tasks, not of mnist-mlp"),
        "{err}"
    );
}
