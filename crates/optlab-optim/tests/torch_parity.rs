//! Trajectories of every torch-mirrored optimizer against golden files written by torch.optim in
//! float64 (tools/torch_golden/gen_optim.py).
//!
//! - Open loop (the parity claim): fed the exact gradients torch saw, every recorded point is
//!   within 1e-9 relative (absolute floor 1e-12) of torch's.
//! - Closed loop: with optlab-functions' analytic gradients at our own iterates, also at 1e-9,
//!   until the gradient first becomes tiny (max |g| < 1e-5). Gradients from a hand-written
//!   formula and from autograd differ in the last bits, and adaptive optimizers normalise the
//!   gradient, so at a stationary point those bits decide the next step (seen: 3e-6 apart on
//!   three-hump camel's local minimum after |g| fell to ~1e-8). Past that point only the open-loop
//!   check is meaningful.

#[path = "common/golden.rs"]
mod golden;

use golden::Golden;
use optlab_functions::by_name;
use optlab_optim::{registry, Layout, OptimConfig, Parity};
use serde_json::Value;

const RTOL: f64 = 1e-9;
const ATOL: f64 = 1e-12;

fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/torch_optim.json");
    let text = std::fs::read_to_string(path).expect("golden file (regenerate with tools/torch_golden/gen_optim.py)");
    serde_json::from_str(&text).expect("golden JSON")
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs one golden case (open loop: torch's gradients; closed loop: ours) and returns the worst
/// relative error and the step where it happened.
fn run_case(case: &Value, open_loop: bool, rtol: f64) -> Result<(f64, usize), String> {
    let id = case["id"].as_str().unwrap();
    let name = case["optimizer"].as_str().unwrap();
    let start: Vec<f64> = case["start"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let steps = case["steps"].as_u64().unwrap() as usize;
    let negate = case.get("negate").and_then(Value::as_bool).unwrap_or(false);
    let f = by_name(case["function"].as_str().unwrap(), Some(start.len())).map_err(|e| format!("{id}: {e}"))?;
    let mut cfg = OptimConfig::new(name);
    for (k, v) in case["set"].as_object().unwrap() {
        cfg = cfg.set(k, value_text(v));
    }
    if let Some(s) = case.get("schedule").and_then(Value::as_object) {
        for (k, v) in s {
            cfg = cfg.schedule_assignment(&format!("{k}={}", v.as_str().unwrap())).map_err(|e| format!("{id}: {e}"))?;
        }
    }
    let mut opt = registry::build::<f64>(Layout::single("x", start.len()), &cfg).map_err(|e| format!("{id}: {e}"))?;
    let traj = rows(&case["trajectory"]);
    assert_eq!(traj.len(), steps + 1, "{id}: trajectory length");
    let grads = if open_loop { rows(&case["grads"]) } else { Vec::new() };
    if open_loop && grads.len() < steps {
        return Err(format!("{id}: {} grads rows for {steps} steps", grads.len()));
    }
    let sign = if negate { -1.0 } else { 1.0 };
    let value = |x: &[f64]| sign * f.value(x);
    let mut from_rows = golden::recorded(&grads);
    let mut ours = |_k: usize, x: &[f64], g: &mut [f64]| {
        f.gradient(x, g);
        g.iter_mut().for_each(|v| *v *= sign);
    };
    let grad: &mut golden::GradFn<'_> = if open_loop { &mut from_rows } else { &mut ours };
    // Closed loop: only until the gradient first becomes tiny (see the module documentation).
    let stop_below = (!open_loop).then_some(1e-5);
    golden::replay(Golden::new(start.len(), &value, grad), &mut *opt, start, &traj, (rtol, ATOL), "torch", stop_below)
        .map_err(|e| format!("{id}: {e}"))
}

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()).collect()
}

fn check_all(open_loop: bool, rtol: f64) {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    let mut worst = (0.0f64, String::new());
    for c in cases {
        match run_case(c, open_loop, rtol) {
            Ok((e, _)) if e > worst.0 => worst = (e, c["id"].as_str().unwrap().to_string()),
            Ok(_) => {}
            Err(e) => failures.push(e),
        }
    }
    let mode = if open_loop { "open loop" } else { "closed loop" };
    eprintln!("{mode}: {} torch cases; worst relative error {:.2e} ({})", cases.len(), worst.0, worst.1);
    assert!(
        failures.is_empty(),
        "{mode}: {} of {} cases differ from torch:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_golden_case_matches_torch_given_torchs_gradients() {
    check_all(true, RTOL);
}

#[test]
fn every_golden_case_matches_torch_with_our_analytic_gradients() {
    check_all(false, RTOL);
}

#[test]
fn golden_covers_every_torch_optimizer_and_option() {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    // The matrix optimizers (Adafactor, Muon) have their cases in torch_matrix.json
    // (tools/torch_golden/gen_torch_matrix.py, checked by matrix_parity.rs).
    let mpath = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/torch_matrix.json");
    let matrix: Value = serde_json::from_str(&std::fs::read_to_string(mpath).expect("torch_matrix.json")).unwrap();
    let matrix_cases = matrix["cases"].as_array().unwrap();
    // Every optimizer whose registry entry names a torch class has cases, and every key its
    // variants set is set by one of them; every case is of such an optimizer.
    let mut torch = Vec::new();
    for e in registry::REGISTRY {
        let spec = (e.spec)();
        if let Parity::Torch(_) = spec.parity {
            if spec.name == "lbfgs" {
                // Its steps evaluate the function: golden runs of its own (torch_lbfgs.json,
                // tests/lbfgs_parity.rs).
                continue;
            }
            torch.push(spec.name);
            let own: Vec<&Value> = cases.iter().chain(matrix_cases).filter(|c| c["optimizer"] == spec.name).collect();
            assert!(!own.is_empty(), "no golden case for {} (add it to tools/torch_golden/gen_optim.py)", spec.name);
            for v in spec.variants {
                // bf16 state is optlab's own (not in torch): tested in adam.rs and by the generic tests.
                for (k, _) in v.set.iter().filter(|(k, _)| !["state_dtype", "state_seed"].contains(k)) {
                    assert!(
                        own.iter().any(|c| c["set"].get(*k).is_some()),
                        "{}: variant {} sets {k}, which no golden case sets",
                        spec.name,
                        v.name
                    );
                }
            }
        }
    }
    assert!(torch.len() >= 9, "{torch:?}");
    for c in cases.iter().chain(matrix_cases) {
        let name = c["optimizer"].as_str().unwrap();
        assert!(torch.contains(&name), "{}: {name} is not registered with a torch class", c["id"]);
    }
    for key in [
        "weight_decay",
        "amsgrad",
        "nesterov",
        "dampening",
        "centered",
        "momentum",
        "maximize",
        "decoupled_weight_decay",
    ] {
        assert!(cases.iter().any(|c| c["set"].get(key).is_some()), "no golden case sets {key}");
    }
    assert!(cases.iter().any(|c| c.get("schedule").is_some()), "no golden case with a schedule");
}

/// The same trajectories in f32 stay close to torch's f64 ones for a while (a sanity check of the
/// f32 kernels, not a parity claim: torch's f32 rounding differs).
#[test]
fn f32_kernels_track_the_f64_goldens() {
    let g = golden();
    for c in g["cases"].as_array().unwrap().iter().filter(|c| c["function"] == "booth" && c.get("schedule").is_none()) {
        let name = c["optimizer"].as_str().unwrap();
        let mut cfg = OptimConfig::new(name);
        for (k, v) in c["set"].as_object().unwrap() {
            cfg = cfg.set(k, value_text(v));
        }
        let negate = c.get("negate").and_then(Value::as_bool).unwrap_or(false);
        let f = by_name("booth", None).unwrap();
        let mut opt = registry::build::<f32>(Layout::single("x", 2), &cfg).unwrap();
        let traj = c["trajectory"].as_array().unwrap();
        let mut x: Vec<f32> = traj[0].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        for (i, row) in traj.iter().enumerate().skip(1).take(20) {
            let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let mut gd = vec![0.0; 2];
            f.gradient(&xd, &mut gd);
            let gs: Vec<f32> = gd.iter().map(|&v| if negate { -v as f32 } else { v as f32 }).collect();
            opt.step(&mut [&mut x[..]], &[&gs[..]], None).unwrap();
            for (j, want) in row.as_array().unwrap().iter().enumerate() {
                let want = want.as_f64().unwrap();
                assert!(
                    ((x[j] as f64) - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "{}: f32 step {i} x{j} {} vs {want}",
                    c["id"],
                    x[j]
                );
            }
        }
    }
}
