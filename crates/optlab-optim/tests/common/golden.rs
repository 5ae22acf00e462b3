//! A golden trajectory replayed on the executor, shared by torch_parity.rs and
//! reference_parity.rs (included with `#[path]`).

use optlab_optim::executor::{Control, Executor, Iterate, MaxSteps, Problem, Termination};
use optlab_optim::Optimizer;

/// The gradient of the k-th evaluation at x, into g.
pub type GradFn<'a> = dyn FnMut(usize, &[f64], &mut [f64]) + 'a;

/// The objective of a golden case: `value` for f, `grad(k, x, g)` for the gradient of the k-th
/// evaluation (recorded rows or a formula at our own iterates).
pub struct Golden<'a> {
    pub dim: usize,
    pub value: &'a dyn Fn(&[f64]) -> f64,
    pub grad: &'a mut GradFn<'a>,
    evals: usize,
}

impl<'a> Golden<'a> {
    pub fn new(dim: usize, value: &'a dyn Fn(&[f64]) -> f64, grad: &'a mut GradFn<'a>) -> Self {
        Golden { dim, value, grad, evals: 0 }
    }
}

impl Problem<f64> for Golden<'_> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn eval(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
        (self.grad)(self.evals, x, g);
        self.evals += 1;
        (self.value)(x)
    }
    /// f alone (at evaluation weights): not a gradient evaluation, so no recorded row is used.
    fn value(&mut self, x: &[f64]) -> f64 {
        (self.value)(x)
    }
}

/// Recorded gradient rows as a `grad` of [`Golden`]: row k for evaluation k. The run evaluates
/// once more at its last iterate, where it stops without stepping: there is no row for it, and
/// the gradient is NaN (never used).
pub fn recorded(rows: &[Vec<f64>]) -> impl FnMut(usize, &[f64], &mut [f64]) + '_ {
    move |k, _x, g| match rows.get(k) {
        Some(r) => g.copy_from_slice(r),
        None => g.fill(f64::NAN),
    }
}

/// Runs `opt` from `start` for `traj.len() − 1` steps, every iterate θ_t checked against
/// `traj[t]` within `rtol·|want| + atol` (`who` names the reference in the message). With
/// `stop_below`, the run stops (passing) at the first iterate whose gradient is below it in every
/// coordinate. Returns the worst relative error and its step.
pub fn replay(
    problem: Golden<'_>,
    opt: &mut dyn Optimizer<f64>,
    start: Vec<f64>,
    traj: &[Vec<f64>],
    (rtol, atol): (f64, f64),
    who: &str,
    stop_below: Option<f64>,
) -> Result<(f64, usize), String> {
    let mut worst = (0.0f64, 0usize);
    let mut check = |it: &Iterate<'_, f64>| -> optlab_optim::Result<Control> {
        let i = it.step as usize;
        for (j, &want) in traj[i].iter().enumerate() {
            let err = (it.x[j] - want).abs();
            let rel = err / want.abs().max(atol / rtol);
            if rel > worst.0 {
                worst = (rel, i);
            }
            if err > rtol * want.abs() + atol {
                return Ok(Control::Stop(format!(
                    "step {i}, x{j} = {} but {who} has {want} (rel err {rel:.2e})",
                    it.x[j]
                )));
            }
        }
        Ok(Control::Continue)
    };
    let tiny = move |it: &Iterate<'_, f64>| match stop_below {
        Some(t) if it.g.iter().all(|v| v.abs() < t) => {
            Some(Termination::Requested { reason: format!("gradient below {t}") })
        }
        _ => None,
    };
    let r = Executor::<f64, _>::new(problem, opt, start)
        .map_err(|e| e.to_string())?
        .stop_when(MaxSteps(traj.len() as u64 - 1))
        .stop_when(tiny)
        .observe(&mut check)
        .run()
        .map_err(|e| e.to_string())?;
    match r.termination {
        Termination::MaxSteps { .. } => {}
        Termination::Requested { reason } if reason.starts_with("gradient below") => {}
        Termination::Requested { reason } => return Err(reason),
        other => return Err(format!("step {}: {other:?}", r.steps)),
    }
    Ok(worst)
}
