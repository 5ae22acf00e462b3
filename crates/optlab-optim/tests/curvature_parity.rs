//! adahessian and sophia against pytorch_optimizer 4.1.0's AdaHessian and SophiaH in float64
//! (tools/torch_golden/gen_curvature_optimizers.py).
//!
//! The Hutchinson estimate is random, so the reference is given the exact Hessian diagonal of
//! the test function from outside (`step(hessian=...)`) on its Hessian-update steps, and optlab's
//! run loop gives its optimizers the same exact diagonal: what is compared is the update rule
//! given identical curvature inputs. Every iterate within 1e-9 relative (absolute floor 1e-12):
//! - open loop: the gradient and Hessian diagonal torch computed at each of its iterates;
//! - closed loop: optlab-functions' analytic gradient and Hessian diagonal at our own iterates.

use optlab_functions::{by_name, TestFunction};
use optlab_optim::executor::{Control, Executor, Iterate, MaxSteps, Problem};
use optlab_optim::{registry, Layout, OptimConfig};
use serde_json::Value;

const RTOL: f64 = 1e-9;
const ATOL: f64 = 1e-12;

fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/curvature_pytorch_optimizer.json");
    let text = std::fs::read_to_string(path)
        .expect("golden file (regenerate with tools/torch_golden/gen_curvature_optimizers.py)");
    serde_json::from_str(&text).expect("golden JSON")
}

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()).collect()
}

struct Case<'a> {
    f: &'a dyn TestFunction,
    sign: f64,
    grads: Vec<Vec<f64>>,
    hessians: Vec<Vec<f64>>,
    open_loop: bool,
    k: usize,
    kh: usize,
}

impl Problem<f64> for Case<'_> {
    fn dim(&self) -> usize {
        self.f.dim()
    }
    fn eval(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
        let k = self.k;
        self.k += 1;
        let v = self.f.value_and_gradient(x, g);
        match self.grads.get(k).filter(|_| self.open_loop) {
            Some(r) => g.copy_from_slice(r),
            None => g.iter_mut().for_each(|v| *v *= self.sign),
        }
        self.sign * v
    }
    fn has_hessian_diag(&self) -> bool {
        true
    }
    fn hessian_diag(&mut self, x: &[f64], h: &mut [f64]) -> bool {
        let k = self.kh;
        self.kh += 1;
        match self.hessians.get(k).filter(|_| self.open_loop) {
            Some(r) => h.copy_from_slice(r),
            None => {
                self.f.hessian_diag(x, h);
                h.iter_mut().for_each(|v| *v *= self.sign);
            }
        }
        true
    }
}

fn run_case(case: &Value, open_loop: bool) -> Result<f64, String> {
    let id = case["id"].as_str().unwrap();
    let start: Vec<f64> = case["start"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let f = by_name(case["function"].as_str().unwrap(), Some(start.len())).unwrap();
    let sign = if case.get("negate").and_then(Value::as_bool).unwrap_or(false) { -1.0 } else { 1.0 };
    let mut cfg = OptimConfig::new(case["optimizer"].as_str().unwrap());
    for (k, v) in case["set"].as_object().unwrap() {
        cfg = cfg.set(k, v.as_str().unwrap());
    }
    let mut opt = registry::build::<f64>(Layout::single("x", start.len()), &cfg).map_err(|e| format!("{id}: {e}"))?;
    let traj = rows(&case["trajectory"]);
    let mut problem =
        Case { f: &*f, sign, grads: rows(&case["grads"]), hessians: rows(&case["hessians"]), open_loop, k: 0, kh: 0 };
    let mut worst = 0.0f64;
    let mut bad = None;
    let mut check = |it: &Iterate<'_, f64>| -> optlab_optim::Result<Control> {
        let want = &traj[it.step as usize];
        for (a, b) in it.x.iter().zip(want) {
            worst = worst.max((a - b).abs() / b.abs().max(ATOL / RTOL));
            if (a - b).abs() > RTOL * b.abs() + ATOL {
                bad.get_or_insert(format!("step {}: {:?}, pytorch_optimizer {want:?}", it.step, it.x));
                return Ok(Control::Stop("mismatch".into()));
            }
        }
        Ok(Control::Continue)
    };
    Executor::<f64, _>::new(&mut problem, &mut *opt, start.clone())
        .unwrap()
        .stop_when(MaxSteps(traj.len() as u64 - 1))
        .observe(&mut check)
        .run()
        .map_err(|e| format!("{id}: {e}"))?;
    match bad {
        Some(e) => Err(format!("{id} ({}): {e}", if open_loop { "open loop" } else { "closed loop" })),
        None => Ok(worst),
    }
}

fn check_all(open_loop: bool) {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    let mut errors = Vec::new();
    let mut worst = 0.0f64;
    for c in cases {
        match run_case(c, open_loop) {
            Ok(w) => worst = worst.max(w),
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.is_empty(), "{} of {} cases differ:\n{}", errors.len(), cases.len(), errors.join("\n"));
    eprintln!("{} cases, worst relative error {worst:.2e}", cases.len());
}

#[test]
fn adahessian_and_sophia_match_pytorch_optimizer_open_loop() {
    check_all(true);
}

#[test]
fn adahessian_and_sophia_match_pytorch_optimizer_closed_loop() {
    check_all(false);
}

/// Every boolean and numeric option of both optimizers is set by some case (but sophia's
/// authors' form, whose reference is not pytorch_optimizer: hand-checked in sophia.rs).
#[test]
fn the_golden_file_covers_the_options() {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    for name in ["adahessian", "sophia"] {
        let spec = registry::spec(name).unwrap();
        for h in spec.hypers {
            if ["form", "rho"].contains(&h.name) {
                continue;
            }
            assert!(
                cases.iter().any(|c| c["optimizer"] == name && c["set"].get(h.name).is_some()),
                "{name}: no case sets {}",
                h.name
            );
        }
    }
}
