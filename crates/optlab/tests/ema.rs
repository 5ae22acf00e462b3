//! `optlab ema`: the shipped temperature series or a CSV column, its files, and bad input.

use std::process::{Command, Output};

fn optlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().expect("run optlab")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn ema_of_the_shipped_temperatures_writes_csv_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ema");
    let o = optlab(&["ema", "--out", out.to_str().unwrap(), "--steps", "50"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1461 values"), "{}", text(&o));
    for f in ["ema.csv", "ema.png", "ema.svg", "momentum.csv", "momentum.png", "momentum.svg"] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 100, "{f}");
    }
    let csv = std::fs::read_to_string(out.join("ema.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "k,x,ema_0.5,ema_0.5_corrected,ema_0.9,ema_0.9_corrected,ema_0.98,ema_0.98_corrected"
    );
    // Day 1 (12.8 °C): v1 = (1 − β) x1, corrected v1 = x1.
    let row: Vec<f64> = lines.next().unwrap().split(',').map(|t| t.parse().unwrap()).collect();
    assert_eq!(row[1], 12.8);
    for (i, b) in [0.5, 0.9, 0.98].iter().enumerate() {
        assert!((row[2 + 2 * i] - (1.0 - b) * 12.8).abs() < 1e-12);
        assert!((row[3 + 2 * i] - 12.8).abs() < 1e-12);
    }
    assert_eq!(csv.lines().count(), 1 + 1461);
    let m = std::fs::read_to_string(out.join("momentum.csv")).unwrap();
    assert_eq!(m.lines().count(), 1 + 51);
    assert!(m.starts_with("step,a_x0,a_x1,a_f,b_x0"));
}

#[test]
fn ema_of_a_csv_column_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s.csv");
    std::fs::write(&csv, "t,y\n1,2\n2,4\n3,oops\n").unwrap();
    let out = dir.path().join("o");
    let (c, o) = (csv.to_str().unwrap(), out.to_str().unwrap());
    let r = optlab(&["ema", "--csv", c, "--column", "y", "--out", o]);
    assert!(!r.status.success());
    let e = text(&r);
    assert!(e.contains("s.csv") && e.contains("line 4") && e.contains("`oops`"), "{e}");
    assert!(!out.exists(), "nothing written on bad input");
    let r = optlab(&["ema", "--csv", c, "--out", o]);
    assert!(!r.status.success() && text(&r).contains("--column"), "{}", text(&r));
    let r = optlab(&["ema", "--csv", c, "--column", "z", "--out", o]);
    assert!(text(&r).contains("no column `z`") && text(&r).contains("t, y"), "{}", text(&r));
    let r = optlab(&["ema", "--betas", "0.9,1", "--out", o]);
    assert!(!r.status.success() && text(&r).contains("--betas: beta 1 is not in [0, 1)"), "{}", text(&r));
    std::fs::write(&csv, "t,y\n1,2\n2,4\n3,8\n").unwrap();
    let r = optlab(&["ema", "--csv", c, "--column", "y", "--betas", "0.5", "--out", o, "--steps", "5"]);
    assert!(r.status.success(), "{}", text(&r));
    let got = std::fs::read_to_string(out.join("ema.csv")).unwrap();
    // v = 1, 2.5, 5.25; corrected by 1 − 0.5^k: 2, 10/3, 6.
    assert_eq!(got, "k,x,ema_0.5,ema_0.5_corrected\n1,2,1,2\n2,4,2.5,3.3333333333333335\n3,8,5.25,6\n");
}
