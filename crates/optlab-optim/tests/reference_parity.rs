//! Every optimizer whose registry entry names a reference package, against golden trajectories
//! written in float64 by tools/torch_golden/gen_reference_optimizers.py: `reference_optimizers.json`
//! (AdaBelief, NovoGrad, YellowFin: adabelief-pytorch, torch-optimizer, and the YellowFin authors'
//! PyTorch code) and the other `tests/golden/reference_*.json` (Lion, Adan, LAMB, LARS,
//! Schedule-Free; Schedule-Free's cases also record the evaluation weights).
//!
//! - Closed loop (the parity claim): gradients from the formulas below at our own iterates; every
//!   point of every trajectory is within 1e-9 relative (absolute floor 1e-12) of the reference's.
//! - Open loop: fed the exact autograd gradients the reference saw; same tolerance.
//! - The formulas agree with the recorded autograd gradients at the reference's points.
//!
//! Every case listed in `EXPECTED` must be in reference_optimizers.json (and no other): a missing
//! case fails. Every reference-parity optimizer of the registry must have cases, its package
//! recorded, and every case must be of such an optimizer.

#[path = "common/golden.rs"]
mod golden;

use golden::Golden;
use optlab_optim::{registry, Layout, OptimConfig, Parity};
use serde_json::Value;

const RTOL: f64 = 1e-9;
const ATOL: f64 = 1e-12;

const EXPECTED: &[&str] = &[
    "adabelief_rosenbrock_paper",
    "adabelief_beale_l2",
    "adabelief_booth_decoupled",
    "adabelief_rosenbrock_fixed_decay",
    "adabelief_beale_amsgrad",
    "adabelief_booth_amsgrad_l2",
    "adabelief_rosenbrock_rectify",
    "adabelief_booth_rectify_no_sgd",
    "adabelief_beale_rectify_l2",
    "adabelief_booth_maximize",
    "adabelief_rosenbrock_large_eps",
    "adabelief_beale_amsgrad_large_eps",
    "adabelief_torch_optimizer_rosenbrock",
    "adabelief_torch_optimizer_beale_l2",
    "novograd_rosenbrock",
    "novograd_beale_weight_decay",
    "novograd_booth_grad_averaging",
    "novograd_rosenbrock_amsgrad",
    "novograd_booth_beta2_zero",
    "novograd_beale_maximize",
    "novograd_booth_large_eps",
    "yellowfin_rosenbrock_default",
    "yellowfin_booth_default",
    "yellowfin_beale_default",
    "yellowfin_beale_no_clip",
    "yellowfin_rosenbrock_init_momentum",
    "yellowfin_booth_weight_decay_lr_factor",
    "yellowfin_rosenbrock_linear_smooth",
    "yellowfin_beale_no_debias",
    "yellowfin_rosenbrock_exploding_clip",
    "yellowfin_booth_catastrophic_move",
    "yellowfin_beale_clipped",
    "yellowfin_rosenbrock_maximize",
];

/// Gradient of a test function at `v`.
fn gradient(function: &str, v: &[f64]) -> [f64; 2] {
    let (x, y) = (v[0], v[1]);
    match function {
        // (1 - x)^2 + 100 (y - x^2)^2
        "rosenbrock" => [-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)],
        // (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2
        "beale" => {
            let (y2, y3) = (y * y, y * y * y);
            let t1 = 1.5 - x + x * y;
            let t2 = 2.25 - x + x * y2;
            let t3 = 2.625 - x + x * y3;
            [
                2.0 * t1 * (y - 1.0) + 2.0 * t2 * (y2 - 1.0) + 2.0 * t3 * (y3 - 1.0),
                2.0 * t1 * x + 2.0 * t2 * (2.0 * x * y) + 2.0 * t3 * (3.0 * x * y2),
            ]
        }
        // (x + 2y - 7)^2 + (2x + y - 5)^2
        "booth" => {
            let (t1, t2) = (x + 2.0 * y - 7.0, 2.0 * x + y - 5.0);
            [2.0 * t1 + 4.0 * t2, 4.0 * t1 + 2.0 * t2]
        }
        other => panic!("unknown test function `{other}`"),
    }
}

const FIRST: &str = "reference_optimizers.json";

/// Every reference golden file, by file name (sorted).
fn goldens() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("golden directory")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("reference_") && n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(
        names.iter().any(|n| n == FIRST),
        "{FIRST} is missing (regenerate with tools/torch_golden/gen_reference_optimizers.py)"
    );
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(format!("{dir}/{n}")).expect("golden file");
            let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{n}: {e}"));
            (n, v)
        })
        .collect()
}

/// The reference-parity optimizers of the registry and their packages. Those that need the
/// Hessian diagonal (adahessian, sophia) are replayed with it by tests/curvature_parity.rs
/// (golden file curvature_pytorch_optimizer.json), not here.
fn reference_optimizers() -> Vec<(&'static str, &'static str)> {
    registry::REGISTRY
        .iter()
        .filter(|e| !(e.spec)().needs_hessian)
        .filter_map(|e| match (e.spec)().parity {
            Parity::Reference(p) => Some(((e.spec)().name, p)),
            _ => None,
        })
        .collect()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()).collect()
}

/// Runs one case; returns the worst relative error and its step.
fn run_case(case: &Value, open_loop: bool) -> Result<(f64, usize), String> {
    let id = case["id"].as_str().unwrap();
    let function = case["function"].as_str().unwrap();
    let negate = case["negate"].as_bool().unwrap_or(false);
    let steps = case["steps"].as_u64().unwrap() as usize;
    let traj = rows(&case["trajectory"]);
    let grads = rows(&case["grads"]);
    if traj.len() != steps + 1 || grads.len() != steps {
        return Err(format!(
            "{id}: {} trajectory rows and {} gradient rows for {steps} steps",
            traj.len(),
            grads.len()
        ));
    }
    let mut cfg = OptimConfig::new(case["optimizer"].as_str().unwrap());
    for (k, v) in case["set"].as_object().unwrap() {
        cfg = cfg.set(k, value_text(v));
    }
    let mut opt = registry::build::<f64>(Layout::single("x", 2), &cfg).map_err(|e| format!("{id}: {e}"))?;
    let x: Vec<f64> = case["start"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    // The recorded gradients are of f, the reference's objective; with `negate` ours is -f.
    let sign = if negate { -1.0 } else { 1.0 };
    let f = optlab_functions::by_name(function, Some(2)).map_err(|e| format!("{id}: {e}"))?;
    let value = |x: &[f64]| sign * f.value(x);
    let mut from_rows = golden::recorded(&grads);
    let mut grad = |k: usize, x: &[f64], g: &mut [f64]| {
        if open_loop {
            from_rows(k, x, g)
        } else {
            g.copy_from_slice(&gradient(function, x))
        }
        g.iter_mut().for_each(|v| *v *= sign);
    };
    let how = if open_loop { "open loop" } else { "closed loop" };
    golden::replay(Golden::new(2, &value, &mut grad), &mut *opt, x, &traj, (RTOL, ATOL), "the reference", None)
        .map_err(|e| format!("{id} ({how}): {e}"))
}

fn cases() -> Vec<Value> {
    let mut all = Vec::new();
    for (file, g) in goldens() {
        let cases = g["cases"].as_array().unwrap_or_else(|| panic!("{file}: cases")).clone();
        if file == FIRST {
            let ids: Vec<&str> = cases.iter().map(|c| c["id"].as_str().unwrap()).collect();
            for want in EXPECTED {
                assert!(ids.contains(want), "golden case `{want}` is missing from {FIRST}");
            }
            for id in &ids {
                assert!(EXPECTED.contains(id), "golden case `{id}` is not checked (add it to EXPECTED)");
            }
            assert_eq!(ids.len(), EXPECTED.len(), "duplicate case ids");
        }
        all.extend(cases);
    }
    let mut ids: Vec<&str> = all.iter().map(|c| c["id"].as_str().unwrap()).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate case ids across the golden files");
    let refs = reference_optimizers();
    for c in &all {
        let name = c["optimizer"].as_str().unwrap();
        assert!(refs.iter().any(|r| r.0 == name), "{}: {name} is not registered with a reference package", c["id"]);
    }
    for (name, _) in &refs {
        assert!(all.iter().any(|c| c["optimizer"] == *name), "no reference golden case for {name}");
    }
    all
}

fn check(open_loop: bool) {
    let mut failures = Vec::new();
    for case in cases() {
        match run_case(&case, open_loop) {
            Ok((rel, step)) => eprintln!("{:45} worst rel err {rel:.2e} at step {step}", case["id"].as_str().unwrap()),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{} case(s) differ from the reference:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn closed_loop_matches_reference() {
    check(false);
}

#[test]
fn open_loop_matches_reference() {
    check(true);
}

#[test]
fn formulas_match_autograd() {
    for case in cases() {
        let id = case["id"].as_str().unwrap();
        let function = case["function"].as_str().unwrap();
        let traj = rows(&case["trajectory"]);
        for (i, g) in rows(&case["grads"]).iter().enumerate() {
            let ours = gradient(function, &traj[i]);
            for j in 0..2 {
                let scale = ours[0].abs().max(ours[1].abs()).max(1.0);
                assert!(
                    (ours[j] - g[j]).abs() <= 1e-12 * scale,
                    "{id}: gradient {j} at step {i}: {} vs autograd {}",
                    ours[j],
                    g[j]
                );
            }
        }
    }
}

#[test]
fn golden_records_the_packages() {
    let goldens = goldens();
    for (file, g) in &goldens {
        let p = g["packages"].as_object().unwrap_or_else(|| panic!("{file}: packages"));
        assert!(p.contains_key("torch"), "{file}: package `torch` is not recorded");
    }
    for (name, package) in reference_optimizers() {
        let recorded = goldens.iter().any(|(_, g)| {
            g["packages"].as_object().unwrap().contains_key(package)
                && g["cases"].as_array().unwrap().iter().any(|c| c["optimizer"] == name)
        });
        assert!(recorded, "{name}: package `{package}` is not recorded beside its cases");
    }
    let p = goldens.iter().find(|(f, _)| f == FIRST).unwrap().1["packages"].as_object().unwrap().clone();
    for name in ["torch", "adabelief-pytorch", "torch-optimizer", "YellowFin_Pytorch"] {
        assert!(p.contains_key(name), "package `{name}` is not recorded");
    }
}

/// Schedule-Free: the evaluation weights after every step of the closed loop are the
/// reference's x = lerp(y, z, 1 - 1/beta1) (recorded as `eval_trajectory`), and the start before
/// the first step; every case of an optimizer with evaluation weights records them.
#[test]
fn evaluation_weights_match_reference() {
    let (mut checked, mut failures) = (0, Vec::new());
    for case in cases() {
        let id = case["id"].as_str().unwrap().to_string();
        let mut cfg = OptimConfig::new(case["optimizer"].as_str().unwrap());
        for (k, v) in case["set"].as_object().unwrap() {
            cfg = cfg.set(k, value_text(v));
        }
        let mut opt = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
        let Some(ev) = case.get("eval_trajectory") else {
            assert!(!opt.has_eval_params(), "{id}: the optimizer has evaluation weights, the case records none");
            continue;
        };
        assert!(opt.has_eval_params(), "{id}: eval_trajectory recorded for an optimizer without evaluation weights");
        let ev = rows(ev);
        let function = case["function"].as_str().unwrap();
        let sign = if case["negate"].as_bool().unwrap_or(false) { -1.0 } else { 1.0 };
        let mut x: Vec<f64> = case["start"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let mut out = [f64::NAN; 2];
        'steps: for (i, want) in ev.iter().enumerate() {
            assert!(opt.eval_params(&[&x[..]], &mut [&mut out[..]]).unwrap());
            for j in 0..2 {
                if (out[j] - want[j]).abs() > RTOL * want[j].abs() + ATOL {
                    failures.push(format!("{id}: step {i}, x{j} = {} but the reference has {}", out[j], want[j]));
                    break 'steps;
                }
            }
            let g = gradient(function, &x).map(|v| v * sign);
            opt.step(&mut [&mut x[..]], &[&g[..]], None).unwrap();
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 16, "only {checked} cases with evaluation weights");
}
