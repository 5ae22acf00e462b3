//! lbfgs against torch.optim.LBFGS 2.15 in float64 (tools/torch_golden/gen_lbfgs.py): rosenbrock
//! (2-D and 4-D), beale and two quadratics (booth, matyas), both line_search_fn values, history
//! sizes 1, 2, 3, 5 and 100, max_iter / max_eval budgets, tolerances and maximize.
//!
//! Compared, within 1e-9 relative (absolute floor 1e-12): the point of **every** function
//! evaluation torch's closure saw, in order (so every line-search trial point), every iterate
//! after each optimizer step, and the evaluation counts (per step and in total). Run on the
//! executor, which evaluates through its counted wrapper:
//! - open loop (the parity claim, 1e-9): each evaluation returns torch's recorded loss and
//!   gradient;
//! - closed loop: optlab-functions' analytic loss and gradient at our own points, within 1e-6:
//!   a formula and autograd differ in the last bits, and on Rosenbrock's valley the strong-Wolfe
//!   search's cubic interpolation amplifies them (seen: 1.6e-7 relative at evaluation 26 of
//!   `rosenbrock-strong_wolfe-h1` and 7e-8 at evaluation 37 of `-h3`; every other case stays
//!   within 1e-7). With history 1 the gap then grows to 3.6e-6 by evaluation 29, so that case is
//!   compared in closed loop over its first 25 evaluations only ([`CLOSED_HORIZON`]). The open
//!   loop, which feeds torch's own values, holds every case to 1e-9 over every evaluation.

use optlab_functions::{by_name, TestFunction};
use optlab_optim::executor::{Control, Executor, Iterate, MaxSteps, Problem};
use optlab_optim::{registry, Layout, OptimConfig};
use serde_json::Value;

const RTOL: f64 = 1e-9;
const ATOL: f64 = 1e-12;

fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/torch_lbfgs.json");
    let text = std::fs::read_to_string(path).expect("golden file (regenerate with tools/torch_golden/gen_lbfgs.py)");
    serde_json::from_str(&text).expect("golden JSON")
}

fn vec_of(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// Cases compared in closed loop over their first N evaluations only (see the module
/// documentation): the strong-Wolfe search on Rosenbrock with one pair of history amplifies
/// last-bit differences past 1e-6 after that.
const CLOSED_HORIZON: &[(&str, usize)] = &[("rosenbrock-strong_wolfe-h1", 25)];

/// Closed-loop tolerance (see the module documentation).
const RTOL_CLOSED: f64 = 1e-6;

fn close(a: &[f64], b: &[f64], rtol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= rtol * y.abs() + ATOL)
}

/// The objective of a case: checks each evaluation's point against torch's and answers with
/// torch's recorded values (open loop) or the analytic ones (closed loop).
struct Replay<'a> {
    f: &'a dyn TestFunction,
    sign: f64,
    evals: &'a [Value],
    open_loop: bool,
    /// Evaluations compared (all but in [`CLOSED_HORIZON`]'s cases).
    horizon: usize,
    k: usize,
    error: Option<String>,
}

impl Problem<f64> for Replay<'_> {
    fn dim(&self) -> usize {
        self.f.dim()
    }
    fn eval(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
        let k = self.k;
        self.k += 1;
        let Some(rec) = self.evals.get(k) else {
            // The executor's evaluation at the last iterate (torch made none there).
            let v = self.f.value_and_gradient(x, g);
            g.iter_mut().for_each(|v| *v *= self.sign);
            return self.sign * v;
        };
        let want = vec_of(&rec["x"]);
        let rtol = if self.open_loop { RTOL } else { RTOL_CLOSED };
        if self.error.is_none() && k < self.horizon && !close(x, &want, rtol) {
            self.error = Some(format!("evaluation {k} at {x:?}, torch's at {want:?}"));
        }
        if self.open_loop {
            g.copy_from_slice(&vec_of(&rec["g"]));
            rec["f"].as_f64().unwrap()
        } else {
            let v = self.f.value_and_gradient(x, g);
            g.iter_mut().for_each(|v| *v *= self.sign);
            self.sign * v
        }
    }
}

fn run_case(case: &Value, open_loop: bool) -> Result<(), String> {
    let id = case["id"].as_str().unwrap();
    let start = vec_of(&case["start"]);
    let steps = case["steps"].as_u64().unwrap();
    let f = by_name(case["function"].as_str().unwrap(), Some(start.len())).unwrap();
    let sign = if case.get("negate").and_then(Value::as_bool).unwrap_or(false) { -1.0 } else { 1.0 };
    let mut cfg = OptimConfig::new("lbfgs");
    for (k, v) in case["set"].as_object().unwrap() {
        cfg = cfg.set(k, v.as_str().unwrap());
    }
    let mut opt = registry::build::<f64>(Layout::single("x", start.len()), &cfg).map_err(|e| format!("{id}: {e}"))?;
    let evals = case["evals"].as_array().unwrap();
    let traj: Vec<Vec<f64>> = case["trajectory"].as_array().unwrap().iter().map(vec_of).collect();
    let per_step: Vec<u64> = case["evals_per_step"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let horizon = match CLOSED_HORIZON.iter().find(|(c, _)| *c == id) {
        Some(&(_, h)) if !open_loop => h,
        _ => usize::MAX,
    };
    let mut problem = Replay { f: &*f, sign, evals, open_loop, horizon, k: 0, error: None };
    let mut bad: Option<String> = None;
    let mut check = |it: &Iterate<'_, f64>| -> optlab_optim::Result<Control> {
        let i = it.step as usize;
        // Evaluations so far: torch's first i steps, plus this iterate's.
        let want_evals = 1 + per_step[..i].iter().sum::<u64>();
        if it.evals as usize > horizon {
            return Ok(Control::Stop("past the compared horizon".into()));
        }
        if !close(it.x, &traj[i], if open_loop { RTOL } else { RTOL_CLOSED }) {
            bad.get_or_insert(format!("iterate {i}: {:?}, torch {:?}", it.x, traj[i]));
        } else if it.evals != want_evals {
            bad.get_or_insert(format!("iterate {i}: {} evaluations, torch {want_evals}", it.evals));
        }
        Ok(if bad.is_some() { Control::Stop("mismatch".into()) } else { Control::Continue })
    };
    let report = Executor::<f64, _>::new(&mut problem, &mut *opt, start.clone())
        .unwrap()
        .stop_when(MaxSteps(steps))
        .observe(&mut check)
        .run()
        .map_err(|e| format!("{id}: {e}"))?;
    let loop_kind = if open_loop { "open loop" } else { "closed loop" };
    if let Some(e) = problem.error.take().or(bad) {
        return Err(format!("{id} ({loop_kind}): {e}"));
    }
    if horizon == usize::MAX && (report.evals != evals.len() as u64 + 1 || report.steps != steps) {
        return Err(format!(
            "{id}: {} steps and {} evaluations, torch {steps} and {} (+1 at the last iterate)",
            report.steps,
            report.evals,
            evals.len()
        ));
    }
    Ok(())
}

fn check_all(open_loop: bool) {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let errors: Vec<String> = cases.iter().filter_map(|c| run_case(c, open_loop).err()).collect();
    assert!(errors.is_empty(), "{} of {} cases differ:\n{}", errors.len(), cases.len(), errors.join("\n"));
}

#[test]
fn lbfgs_matches_torch_open_loop() {
    check_all(true);
}

#[test]
fn lbfgs_matches_torch_closed_loop() {
    check_all(false);
}

/// The golden file covers both line searches and several history sizes on every function.
#[test]
fn the_golden_file_covers_the_options() {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    for f in ["rosenbrock", "beale", "booth", "matyas"] {
        for ls in ["none", "strong_wolfe"] {
            let hist: std::collections::BTreeSet<&str> = cases
                .iter()
                .filter(|c| c["function"] == f && c["set"]["line_search_fn"].as_str().unwrap_or("none") == ls)
                .filter_map(|c| c["set"]["history_size"].as_str())
                .collect();
            assert!(hist.len() >= 3, "{f} {ls}: history sizes {hist:?}");
        }
    }
    // Line searches that take several evaluations in one step are in the file.
    assert!(cases.iter().any(|c| c["evals_per_step"].as_array().unwrap().iter().any(|v| v.as_u64().unwrap() > 10)));
}
