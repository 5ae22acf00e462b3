//! Synthetic run records for tests and the sample report (`cargo run -p optlab-report --example
//! sample_report -- DIR`).
//!
//! - `optimizers-2d`: gradient descent, heavy-ball momentum and Adam (written out here, a few
//!   lines each) really run on Rosenbrock and Himmelblau from the default start moved a little per
//!   seed, 3 seeds, with targets (so: trajectories, steps/time to target, performance profile);
//! - `adam-grid`: a network-like task (`mnist-mlp`) with per-epoch loss, validation loss and
//!   accuracy and a noisy batch loss every 47 steps made up from a formula, an Adam beta1 × beta2
//!   grid with 3 seeds, drawn smoothed (`plot.smooth = 0.6`); one cell diverges on every seed,
//!   one run fails;
//! - `lr-sweep`: SGD and Adam over four learning rates on both functions, 2 seeds; large SGD
//!   steps diverge on Rosenbrock.
#![allow(dead_code)]

use optlab_functions::by_name;
use optlab_lab::record::{ComparisonInfo, ExperimentInfo, PlotSettings, Point, RunRecord, Status, StepPoint, Summary};
use std::collections::BTreeMap;

/// A deterministic number in [-1, 1) from a seed and an index (splitmix64).
pub fn noise(seed: u64, k: u64) -> f64 {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(k.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

#[derive(Clone, Copy, Debug)]
pub enum Method {
    Gd,
    Momentum(f64),
    Adam,
}

/// Runs `method` on a 2-D test function; returns the record (series thinned to every 5th step).
#[allow(clippy::too_many_arguments)]
pub fn run_function(
    comparison: &str,
    task: &str,
    optimizer: &str,
    label: &str,
    swept: &[(&str, String)],
    method: Method,
    lr: f64,
    seed: u64,
    steps: u64,
    target: Option<f64>,
) -> RunRecord {
    let f = by_name(task, Some(2)).unwrap();
    let mut x = f.default_starts()[0].clone();
    x[0] += 0.15 * noise(seed, 1);
    x[1] += 0.15 * noise(seed, 2);
    let mut g = vec![0.0; 2];
    let (mut m, mut v) = (vec![0.0; 2], vec![0.0; 2]);
    let mut series = Vec::new();
    let mut summary = Summary { min_loss: f64::INFINITY, ..Summary::default() };
    let mut status = Status::Ok;
    let mut error = None;
    let sec_per_step = 2e-5 * (1.0 + 0.1 * noise(seed, 3)) * if matches!(method, Method::Adam) { 1.5 } else { 1.0 };
    for k in 0..=steps {
        let loss = f.value_and_gradient(&x, &mut g);
        let t = k as f64 * sec_per_step;
        let bad = !loss.is_finite() || x.iter().any(|c| !c.is_finite() || c.abs() > 1e6);
        if k % 5 == 0 || k == steps || bad {
            series.push(Point { step: k, time_s: t, loss, x: Some(x.clone()), ..Point::default() });
        }
        summary.steps = k;
        summary.final_loss = loss;
        if bad {
            status = Status::Diverged;
            error = Some(format!("the iterate left the box |x| ≤ 1e6 at step {k} (loss {loss:e})"));
            break;
        }
        summary.min_loss = summary.min_loss.min(loss);
        if let Some(tg) = target {
            if loss <= tg && summary.steps_to_target.is_none() {
                summary.steps_to_target = Some(k);
                summary.time_to_target = Some(t);
            }
        }
        if k == steps {
            break;
        }
        match method {
            Method::Gd => (0..2).for_each(|i| x[i] -= lr * g[i]),
            Method::Momentum(mu) => (0..2).for_each(|i| {
                m[i] = mu * m[i] + g[i];
                x[i] -= lr * m[i];
            }),
            Method::Adam => {
                let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
                let n = (k + 1) as i32;
                for i in 0..2 {
                    m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                    v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                    let mh = m[i] / (1.0 - b1.powi(n));
                    let vh = v[i] / (1.0 - b2.powi(n));
                    x[i] -= lr * mh / (vh.sqrt() + eps);
                }
            }
        }
    }
    let wall_s = summary.steps as f64 * sec_per_step;
    record(comparison, task, optimizer, label, swept, seed, status, error, wall_s, summary, series)
}

#[allow(clippy::too_many_arguments)]
pub fn record(
    comparison: &str,
    task: &str,
    optimizer: &str,
    label: &str,
    swept: &[(&str, String)],
    seed: u64,
    status: Status,
    error: Option<String>,
    wall_s: f64,
    summary: Summary,
    series: Vec<Point>,
) -> RunRecord {
    let swept: BTreeMap<String, String> = swept.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let config = serde_json::json!({"task": task, "optimizer": optimizer, "swept": swept, "seed": seed});
    RunRecord {
        hash: format!("{:016x}", (noise(seed, label.len() as u64 * 7919 + task.len() as u64) * 1e15).abs() as u64),
        comparison: comparison.into(),
        task: task.into(),
        optimizer: optimizer.into(),
        label: label.into(),
        swept,
        seed,
        config,
        status,
        error,
        wall_s,
        summary,
        series,
        step_series: Vec::new(),
        histograms: Vec::new(),
        landscape: None,
    }
}

/// A made-up network run: `epochs` epochs of 469 steps.
pub fn run_network(beta1: f64, beta2: f64, seed: u64, target: f64) -> RunRecord {
    let epochs = 12u32;
    let rate = 0.45 * (1.0 - 3.0 * (beta1 - 0.9f64).abs()) * if beta2 > 0.995 { 1.1 } else { 0.95 };
    let floor = 0.04 + 0.5 * (beta1 - 0.9f64).abs();
    let steps_per_epoch = 469u64;
    let diverges = beta1 == 0.95 && beta2 == 0.99;
    let mut series = Vec::new();
    let mut s = Summary { min_loss: f64::INFINITY, min_val_loss: Some(f64::INFINITY), ..Summary::default() };
    let mut best_acc: f64 = 0.0;
    let mut status = Status::Ok;
    let mut error = None;
    for e in 0..=epochs {
        let step = e as u64 * steps_per_epoch;
        let t = e as f64 * 2.1 * (1.0 + 0.05 * noise(seed, 10));
        let mut loss = floor + (2.3 - floor) * (-rate * e as f64).exp() * (1.0 + 0.06 * noise(seed, 100 + e as u64));
        if diverges && e >= 3 + seed as u32 {
            loss = f64::NAN;
        }
        let val = loss * 1.08 + 0.004 * e as f64;
        let acc = (1.0 - val / 2.4).clamp(0.0, 1.0);
        s.steps = step;
        s.epochs = Some(e);
        s.final_loss = loss;
        if !loss.is_finite() {
            series.push(Point { step, epoch: Some(e), time_s: t, loss, ..Point::default() });
            status = Status::Diverged;
            error = Some(format!("loss became NaN in epoch {e} (step {step})"));
            break;
        }
        series.push(Point { step, epoch: Some(e), time_s: t, loss, val_loss: Some(val), accuracy: Some(acc), x: None });
        s.min_loss = s.min_loss.min(loss);
        s.min_val_loss = s.min_val_loss.map(|m| m.min(val));
        s.final_val_loss = Some(val);
        s.final_accuracy = Some(acc);
        best_acc = best_acc.max(acc);
        s.best_accuracy = Some(best_acc);
        if loss <= target && s.steps_to_target.is_none() {
            s.steps_to_target = Some(step);
            s.time_to_target = Some(t);
        }
    }
    // The batch loss every 47 steps: the epoch curve, continued between epochs, with more noise.
    let last_step = series.last().map_or(0, |p| p.step);
    let mut steps = Vec::new();
    for k in (0..last_step.max(1)).step_by(47) {
        let t = k as f64 / steps_per_epoch as f64;
        let loss = floor + (2.3 - floor) * (-rate * t).exp() * (1.0 + 0.25 * noise(seed, 1000 + k));
        steps.push(StepPoint {
            step: k,
            epoch: 1 + (k / steps_per_epoch) as u32,
            loss,
            lr: Some(1e-3),
            grad_norm: Some(2.0 * loss),
        });
    }
    if status == Status::Diverged {
        steps.push(StepPoint {
            step: last_step,
            epoch: 1 + (last_step / steps_per_epoch) as u32,
            loss: f64::NAN,
            lr: Some(1e-3),
            grad_norm: None,
        });
    }
    // As the lab records it: the smallest logged batch loss.
    s.min_loss = steps.iter().map(|p| p.loss).filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
    let wall = series.last().map_or(0.0, |p| p.time_s);
    let label = format!("adam beta1={beta1} beta2={beta2}");
    let swept = [("beta1", beta1.to_string()), ("beta2", beta2.to_string())];
    let mut r = record("adam-grid", "mnist-mlp", "adam", &label, &swept, seed, status, error, wall, s, series);
    r.step_series = steps;
    r
}

pub const SOURCE: &str = r#"# sample experiment (synthetic records for the report's tests)
title = "Sample: optimizers on test functions & a made-up network"

[[comparison]]
name = "optimizers-2d"
tasks = ["rosenbrock", "himmelblau"]
optimizers = ["sgd lr=1e-3", "momentum lr=1e-3", "adam lr=0.02"]
seeds = 3
targets = { rosenbrock = 1e-2, himmelblau = 1e-4 }

[[comparison]]
name = "adam-grid"
tasks = ["mnist-mlp"]
sweep = { beta1 = [0.8, 0.9, 0.95], beta2 = [0.99, 0.999] }
seeds = 3

[[comparison]]
name = "lr-sweep"
sweep = { lr = [1e-4, 1e-3, 1e-2, 1e-1] }
"#;

/// The sample experiment and its records.
pub fn sample() -> (ExperimentInfo, Vec<RunRecord>) {
    let f_targets: BTreeMap<String, f64> = [("rosenbrock".to_string(), 1e-2), ("himmelblau".to_string(), 1e-4)].into();
    let info = ExperimentInfo {
        name: "sample".into(),
        title: "Sample: optimizers on test functions & a made-up network".into(),
        description: "Synthetic records that exercise every part of the report.\n\n\
                      - **optimizers-2d**: three optimizers on two landscapes\n\
                      - **adam-grid**: a `beta1 × beta2` grid on a network-like task\n\
                      - **lr-sweep**: learning-rate sensitivity\n\n\
                      Markup such as <b>this</b> & that is shown as text."
            .into(),
        source: SOURCE.into(),
        comparisons: vec![
            ComparisonInfo {
                name: "optimizers-2d".into(),
                title: "Three optimizers on Rosenbrock and Himmelblau".into(),
                description: "Gradient descent, heavy-ball momentum and Adam from the default start, moved by up to 0.15 per seed.".into(),
                tasks: vec!["rosenbrock".into(), "himmelblau".into()],
                swept: vec![],
                targets: f_targets.clone(),
                plot: PlotSettings::default(),
                tune: None,
                baseline: None,
            },
            ComparisonInfo {
                name: "adam-grid".into(),
                title: "Adam beta1 × beta2 on mnist-mlp".into(),
                description: "A made-up network task: loss, validation loss and accuracy per epoch.".into(),
                tasks: vec!["mnist-mlp".into()],
                swept: vec!["beta1".into(), "beta2".into()],
                targets: [("mnist-mlp".to_string(), 0.3)].into(),
                plot: PlotSettings { x: None, smooth: 0.6 },
                tune: None,
                baseline: None,
            },
            ComparisonInfo {
                name: "lr-sweep".into(),
                title: "Learning-rate sweep".into(),
                description: "SGD and Adam over four learning rates.".into(),
                tasks: vec!["rosenbrock".into(), "himmelblau".into()],
                swept: vec!["lr".into()],
                targets: f_targets.clone(),
                plot: PlotSettings::default(),
                tune: None,
                baseline: Some("sgd".into()),
            },
        ],
    };
    let mut runs = Vec::new();
    for task in ["rosenbrock", "himmelblau"] {
        let target = f_targets.get(task).copied();
        for seed in 0..3 {
            runs.push(run_function(
                "optimizers-2d",
                task,
                "sgd",
                "sgd lr=1e-3",
                &[],
                Method::Gd,
                1e-3,
                seed,
                1500,
                target,
            ));
            runs.push(run_function(
                "optimizers-2d",
                task,
                "momentum",
                "momentum lr=1e-3",
                &[],
                Method::Momentum(0.9),
                1e-3,
                seed,
                1500,
                target,
            ));
            runs.push(run_function(
                "optimizers-2d",
                task,
                "adam",
                "adam lr=0.02",
                &[],
                Method::Adam,
                0.02,
                seed,
                1500,
                target,
            ));
        }
        for lr in [1e-4, 1e-3, 1e-2, 1e-1] {
            for (opt, method) in [("sgd", Method::Gd), ("adam", Method::Adam)] {
                for seed in 0..2 {
                    let label = format!("{opt} lr={lr}");
                    runs.push(run_function(
                        "lr-sweep",
                        task,
                        opt,
                        &label,
                        &[("lr", lr.to_string())],
                        method,
                        lr,
                        seed,
                        1000,
                        target,
                    ));
                }
            }
        }
    }
    for beta1 in [0.8, 0.9, 0.95] {
        for beta2 in [0.99, 0.999] {
            for seed in 0..3 {
                if beta1 == 0.8 && beta2 == 0.999 && seed == 1 {
                    let swept = [("beta1", "0.8".to_string()), ("beta2", "0.999".to_string())];
                    runs.push(record(
                        "adam-grid",
                        "mnist-mlp",
                        "adam",
                        "adam beta1=0.8 beta2=0.999",
                        &swept,
                        seed,
                        Status::Failed,
                        Some(
                            "could not open data file `data/mnist/train-images-idx3-ubyte`: No such file or directory"
                                .into(),
                        ),
                        0.0,
                        Summary { final_loss: f64::NAN, min_loss: f64::NAN, ..Summary::default() },
                        vec![],
                    ));
                    continue;
                }
                runs.push(run_network(beta1, beta2, seed, 0.3));
            }
        }
    }
    (info, runs)
}
