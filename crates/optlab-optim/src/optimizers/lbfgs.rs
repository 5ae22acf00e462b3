//! L-BFGS as torch.optim.LBFGS (torch 2.15), with its names and defaults, including the
//! strong-Wolfe line search (`line_search_fn = strong_wolfe`, torch's `_strong_wolfe` with
//! `c1 = 1e-4`, `c2 = 0.9`, `max_ls = max_eval − evaluations so far`).
//!
//! One [`Optimizer::step_evaluating`] is one call of torch's `step(closure)`: up to `max_iter`
//! L-BFGS iterations and at most about `max_eval` evaluations of f and ∇f. The first
//! evaluation (at the parameters) is the caller's (`f` and `grads`: the run loop has evaluated
//! there already, as torch's `step` calls the closure first); every other one goes through
//! the `eval` callback, which the run loop counts ([`crate::executor::Counted`]). The
//! parameters of all tensors are one flat vector in layout order (torch's `_gather_flat_grad`).
//!
//! Per iteration k (torch's names): `d = −g` at the first iteration ever, else the two-loop
//! recursion over the last `history_size` pairs `(s, y)` with `y·s > 1e-10` (older pairs are
//! dropped), scaled by `H_diag = y·s / y·y` of the newest pair; the step size is
//! `t = min(1, 1/‖g‖₁)·lr` at the first iteration ever, `lr` after; without a line search
//! `x ← x + t·d` and, unless this was the last iteration, one more evaluation. The loop stops
//! early when `g·d > −tolerance_change`, when `max|g| ≤ tolerance_grad`, when
//! `max|t·d| ≤ tolerance_change`, when `|f − f_prev| < tolerance_change`, or when the step's
//! evaluations reach `max_eval`. The history (`old_dirs` = y, `old_stps` = s, `ro` = 1/y·s),
//! `d`, `t`, `H_diag`, the previous gradient and the iteration counts persist across steps.
//!
//! Conventions and limits:
//! - `max_eval = 0` stands for torch's `None`: `max_iter · 5 / 4` (integer division).
//! - One parameter group, as torch ("LBFGS doesn't support per-parameter options"): groups are
//!   refused; so are gradient clipping settings (torch's LBFGS has none).
//! - Dot products and the scalars (`ys`, `ro`, `H_diag`, `t`, `g·d`) are f64 for either element
//!   type; vectors are in the element type.
//! - `step` alone (no evaluations) works only with `max_iter = 1` and no line search, where
//!   torch evaluates nothing but the first point; otherwise it is refused, naming the setting.
//! - The first gradient of a step follows the non-finite policy like every optimizer's; the
//!   evaluations inside the step are used as torch uses them (a non-finite value there reaches
//!   the next iterate, where the run loop's rules stop the run).
//! - Memory: `2·history_size + 3` vectors of the parameters' size.

use crate::engine::{build_groups, Group};
use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec};
use crate::layout::Layout;
use crate::optimizer::{NonFinite, OptimConfig, Optimizer, StepOutcome};
use crate::registry::Entry;
use crate::state::{OptimizerState, TensorState};
use std::collections::VecDeque;

crate::choice! {
    /// The line search: none (fixed step `lr`) or torch's strong-Wolfe search.
    pub enum LineSearch { None = "none", StrongWolfe = "strong_wolfe" }
}

crate::hypers! {
    /// torch.optim.LBFGS's hyperparameters.
    pub struct LbfgsHp {
        lr: f64 [Kind::NONNEG] = 1.0, "step size (the first step of the first iteration ever is min(1, 1/|g|_1) lr)";
        max_iter: i64 [1, i64::MAX] = 20, "maximal number of L-BFGS iterations per optimizer step";
        max_eval: i64 [0, i64::MAX] = 0, "maximal function evaluations per step (0: torch's None, max_iter * 5 / 4)";
        tolerance_grad: f64 [Kind::NONNEG] = 1e-7, "stop when max |g| <= tolerance_grad";
        tolerance_change: f64 [Kind::NONNEG] = 1e-9, "stop when the step, the change of f or g.d is below this";
        history_size: i64 [1, i64::MAX] = 100, "curvature pairs (s, y) kept";
        line_search_fn: LineSearch [] = LineSearch::None, "none or strong_wolfe (torch's _strong_wolfe)";
        maximize: bool [] = false, "maximise f (torch negates the loss and the gradient)";
    }
}

static SPEC: Spec = Spec {
    name: "lbfgs",
    summary: "L-BFGS with torch's two-loop recursion and optional strong-Wolfe line search (re-evaluates f)",
    reference: "Nocedal 1980; Liu & Nocedal 1989; torch.optim.LBFGS 2.15 (after minFunc)",
    hypers: LbfgsHp::HYPERS,
    conventions: &[
        "one step = one torch step(closure): up to max_iter iterations, re-evaluating f and its gradient",
        "max_eval = 0 is torch's None (max_iter * 5 / 4); one parameter group; no gradient clipping",
        "dot products and scalars in f64 for f32 and f64 parameters",
    ],
    needs_hessian: false,
    parity: Parity::Torch("LBFGS"),
    variants: &[],
};

fn spec() -> &'static Spec {
    &SPEC
}

/// The registry entry.
pub const ENTRY: Entry = Entry::custom(
    spec,
    |l, c| Ok(Box::new(Lbfgs::<f32>::new(l, c)?)),
    |l, c| Ok(Box::new(Lbfgs::<f64>::new(l, c)?)),
);

/// L-BFGS over a layout (its tensors as one flat vector).
pub struct Lbfgs<T: Float> {
    layout: Layout,
    group: Group,
    non_finite: NonFinite,
    /// Optimizer steps taken (calls of torch's `step`), and epochs.
    steps: u64,
    epoch: u64,
    /// torch's `state["func_evals"]` and `state["n_iter"]`.
    func_evals: u64,
    n_iter: u64,
    d: Vec<T>,
    t: f64,
    old_dirs: VecDeque<Vec<T>>,
    old_stps: VecDeque<Vec<T>>,
    ro: VecDeque<f64>,
    h_diag: f64,
    prev_flat_grad: Option<Vec<T>>,
    grad_norm: Option<f64>,
}

impl<T: Float> Lbfgs<T> {
    pub fn new(layout: Layout, cfg: &OptimConfig) -> Result<Self> {
        cfg.check_clipping()?;
        if !cfg.groups.is_empty() {
            return Err(OptimError::Group(format!(
                "optimizer `lbfgs` has one parameter group, as torch.optim.LBFGS (got {} more: {})",
                cfg.groups.len(),
                cfg.groups.iter().map(|g| g.tensors.join(", ")).collect::<Vec<_>>().join("; ")
            )));
        }
        if cfg.clip_norm.is_some() || cfg.clip_value.is_some() {
            return Err(OptimError::Malformed(
                "optimizer `lbfgs` does not clip gradients (torch.optim.LBFGS has no clipping): remove clip_norm / clip_value"
                    .into(),
            ));
        }
        let (mut groups, _) = build_groups(&SPEC, cfg, &layout)?;
        let group = groups.remove(0);
        Ok(Lbfgs {
            layout,
            group,
            non_finite: cfg.non_finite,
            steps: 0,
            epoch: 0,
            func_evals: 0,
            n_iter: 0,
            d: Vec::new(),
            t: 0.0,
            old_dirs: VecDeque::new(),
            old_stps: VecDeque::new(),
            ro: VecDeque::new(),
            h_diag: 1.0,
            prev_flat_grad: None,
            grad_norm: None,
        })
    }

    /// The hyperparameters of the next step, schedules applied and checked.
    fn effective(&self) -> Result<LbfgsHp> {
        let mut eff = self.group.base.clone();
        for s in &self.group.scheduled {
            let t = if s.per_epoch { self.epoch } else { self.steps };
            let v = s.schedule.value(self.group.base.f(s.index), t);
            self.group.base.check_scheduled(s.index, v)?;
            eff.values[s.index] = crate::hyper::Value::F(v);
        }
        Ok(LbfgsHp::read(&eff))
    }

    fn check_shapes(&self, params: &[&mut [T]], grads: &[&[T]]) -> Result<()> {
        let n = self.layout.len();
        if params.len() != n || grads.len() != n {
            return Err(OptimError::Malformed(format!(
                "step got {} parameter and {} gradient tensors, the optimizer was built for {n} ({})",
                params.len(),
                grads.len(),
                self.layout.names().join(", ")
            )));
        }
        for (ti, t) in self.layout.tensors().iter().enumerate() {
            for (what, len) in [("parameter", params[ti].len()), ("gradient", grads[ti].len())] {
                if len != t.len {
                    return Err(OptimError::Tensor {
                        tensor: t.name.clone(),
                        what: format!("{what} has {len} elements, expected {} (shape {:?})", t.len, t.shape),
                    });
                }
            }
        }
        Ok(())
    }

    /// The non-finite check of the first gradient; Some(outcome) when the step is skipped.
    fn check_finite(&mut self, grads: &[&[T]]) -> Result<Option<StepOutcome>> {
        if self.non_finite == NonFinite::Unchecked {
            self.grad_norm = None;
            return Ok(None);
        }
        for (ti, g) in grads.iter().enumerate() {
            if let Some(i) = g.iter().position(|v| !v.is_finite()) {
                let name = self.layout.tensors()[ti].name.clone();
                return match self.non_finite {
                    NonFinite::Skip => Ok(Some(StepOutcome::Skipped { tensor: name, index: i })),
                    _ => Err(OptimError::NonFinite {
                        what: "gradient",
                        tensor: name,
                        index: i,
                        value: format!("{}", g[i].to_f64()),
                    }),
                };
            }
        }
        self.grad_norm = Some(grads.iter().flat_map(|g| g.iter()).map(|v| v.to_f64() * v.to_f64()).sum::<f64>().sqrt());
        Ok(None)
    }

    fn run(
        &mut self,
        params: &mut [&mut [T]],
        f0: f64,
        grads: &[&[T]],
        mut eval: Option<Evaluate<'_, T>>,
    ) -> Result<StepOutcome> {
        self.check_shapes(params, grads)?;
        let hp = self.effective()?;
        let needs_eval = hp.max_iter > 1 || hp.line_search_fn == LineSearch::StrongWolfe;
        if needs_eval && eval.is_none() {
            return Err(OptimError::Malformed(format!(
                "optimizer `lbfgs` evaluates the function during a step (max_iter = {}, line_search_fn = {}): \
                 run it where the run loop can evaluate (optlab trace, run, study), or set max_iter=1 and \
                 line_search_fn=none",
                hp.max_iter,
                hp.line_search_fn.name()
            )));
        }
        if let Some(out) = self.check_finite(grads)? {
            return Ok(out);
        }
        let sign = if hp.maximize { -1.0 } else { 1.0 };
        let mut x: Vec<T> = params.iter().flat_map(|p| p.iter().copied()).collect();
        let mut flat_grad: Vec<T> = grads.iter().flat_map(|g| g.iter().map(|v| T::of(sign * v.to_f64()))).collect();
        let n = x.len();
        let max_eval = if hp.max_eval == 0 { hp.max_iter * 5 / 4 } else { hp.max_eval };
        let mut loss = sign * f0;
        let mut current_evals: i64 = 1;
        self.func_evals += 1;
        self.steps += 1;
        let tol_grad = hp.tolerance_grad;
        let tol_change = hp.tolerance_change;
        if max_abs(&flat_grad) <= tol_grad {
            return Ok(StepOutcome::Applied);
        }
        // Evaluates at x + t d (torch's _directional_evaluate), or at x: loss and flat gradient,
        // signed for maximize.
        let mut trial = vec![T::ZERO; n];
        let mut directional = |x: &[T], td: Option<(f64, &[T])>, g: &mut Vec<T>| -> f64 {
            let e = eval.as_mut().expect("checked above");
            let v = match td {
                Some((t, d)) => {
                    let tt = T::of(t);
                    for i in 0..n {
                        trial[i] = x[i] + tt * d[i];
                    }
                    e(&trial, g)
                }
                None => e(x, g),
            };
            if hp.maximize {
                g.iter_mut().for_each(|v| *v = -*v);
            }
            sign * v
        };
        let mut n_iter: i64 = 0;
        let mut al = vec![0.0f64; self.old_dirs.len().max(1)];
        while n_iter < hp.max_iter {
            n_iter += 1;
            self.n_iter += 1;
            if self.n_iter == 1 {
                self.d = flat_grad.iter().map(|v| -*v).collect();
                self.old_dirs.clear();
                self.old_stps.clear();
                self.ro.clear();
                self.h_diag = 1.0;
            } else {
                let prev = self.prev_flat_grad.as_ref().expect("set after the first iteration");
                let y: Vec<T> = flat_grad.iter().zip(prev).map(|(a, b)| *a - *b).collect();
                let tt = T::of(self.t);
                let s: Vec<T> = self.d.iter().map(|v| *v * tt).collect();
                let ys = dot(&y, &s);
                if ys > 1e-10 {
                    if self.old_dirs.len() as i64 == hp.history_size {
                        self.old_dirs.pop_front();
                        self.old_stps.pop_front();
                        self.ro.pop_front();
                    }
                    self.h_diag = ys / dot(&y, &y);
                    self.old_dirs.push_back(y);
                    self.old_stps.push_back(s);
                    self.ro.push_back(1.0 / ys);
                }
                let num_old = self.old_dirs.len();
                al.resize(num_old.max(1), 0.0);
                let mut q: Vec<T> = flat_grad.iter().map(|v| -*v).collect();
                for i in (0..num_old).rev() {
                    al[i] = dot(&self.old_stps[i], &q) * self.ro[i];
                    axpy(&mut q, -al[i], &self.old_dirs[i]);
                }
                let hd = T::of(self.h_diag);
                let mut r: Vec<T> = q.iter().map(|v| *v * hd).collect();
                for (i, &al_i) in al.iter().enumerate().take(num_old) {
                    let be_i = dot(&self.old_dirs[i], &r) * self.ro[i];
                    axpy(&mut r, al_i - be_i, &self.old_stps[i]);
                }
                self.d = r;
            }
            match &mut self.prev_flat_grad {
                Some(p) => p.copy_from_slice(&flat_grad),
                None => self.prev_flat_grad = Some(flat_grad.clone()),
            }
            let prev_loss = loss;
            self.t = if self.n_iter == 1 { (1.0f64).min(1.0 / sum_abs(&flat_grad)) * hp.lr } else { hp.lr };
            let gtd = dot(&flat_grad, &self.d);
            if gtd > -tol_change {
                break;
            }
            let mut ls_func_evals: i64 = 0;
            let opt_cond;
            if hp.line_search_fn == LineSearch::StrongWolfe {
                let d = self.d.clone();
                let (l, g, t, evals) = strong_wolfe(
                    &mut |t, g: &mut Vec<T>| directional(&x, Some((t, &d)), g),
                    self.t,
                    &d,
                    loss,
                    &flat_grad,
                    gtd,
                    tol_change,
                    max_eval - current_evals,
                );
                loss = l;
                flat_grad = g;
                self.t = t;
                ls_func_evals = evals;
                add_scaled(&mut x, self.t, &self.d);
                opt_cond = max_abs(&flat_grad) <= tol_grad;
            } else {
                add_scaled(&mut x, self.t, &self.d);
                if n_iter != hp.max_iter {
                    let mut g = vec![T::ZERO; n];
                    loss = directional(&x, None, &mut g);
                    flat_grad = g;
                    ls_func_evals = 1;
                    opt_cond = max_abs(&flat_grad) <= tol_grad;
                } else {
                    opt_cond = false;
                }
            }
            current_evals += ls_func_evals;
            self.func_evals += ls_func_evals as u64;
            if n_iter == hp.max_iter || current_evals >= max_eval || opt_cond {
                break;
            }
            let tt = T::of(self.t);
            if self.d.iter().fold(0.0f64, |m, v| m.max((*v * tt).to_f64().abs())) <= tol_change {
                break;
            }
            if (loss - prev_loss).abs() < tol_change {
                break;
            }
        }
        let mut off = 0;
        for p in params.iter_mut() {
            let len = p.len();
            p.copy_from_slice(&x[off..off + len]);
            off += len;
        }
        Ok(StepOutcome::Applied)
    }
}

/// The evaluation callback of a step: f at a flat point, its gradient into the second slice.
type Evaluate<'e, T> = &'e mut dyn FnMut(&[T], &mut [T]) -> f64;

fn dot<T: Float>(a: &[T], b: &[T]) -> f64 {
    a.iter().zip(b).fold(0.0f64, |s, (x, y)| s + x.to_f64() * y.to_f64())
}

fn max_abs<T: Float>(a: &[T]) -> f64 {
    a.iter().fold(0.0f64, |m, v| {
        let v = v.to_f64().abs();
        if v > m || v.is_nan() {
            v
        } else {
            m
        }
    })
}

fn sum_abs<T: Float>(a: &[T]) -> f64 {
    a.iter().fold(0.0f64, |s, v| s + v.to_f64().abs())
}

/// `y ← y + a·x` (torch's `add_(x, alpha=a)`).
fn axpy<T: Float>(y: &mut [T], a: f64, x: &[T]) {
    let a = T::of(a);
    y.iter_mut().zip(x).for_each(|(y, x)| *y += a * *x);
}

/// `x ← x + t·d` (torch's `_add_grad`).
fn add_scaled<T: Float>(x: &mut [T], t: f64, d: &[T]) {
    axpy(x, t, d)
}

/// torch's `_cubic_interpolate`.
fn cubic_interpolate(x1: f64, f1: f64, g1: f64, x2: f64, f2: f64, g2: f64, bounds: Option<(f64, f64)>) -> f64 {
    let (xmin, xmax) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        py_min(py_max(min_pos, xmin), xmax)
    } else {
        (xmin + xmax) / 2.0
    }
}

/// Python's `max(a, b)`: `a` unless `b > a` (NaN handling as Python's).
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)`: `a` unless `b < a`.
fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// torch's `_strong_wolfe` (c1 = 1e-4, c2 = 0.9): returns (f, g, t, evaluations).
#[allow(clippy::too_many_arguments)]
fn strong_wolfe<T: Float>(
    obj: &mut dyn FnMut(f64, &mut Vec<T>) -> f64,
    mut t: f64,
    d: &[T],
    f: f64,
    g: &[T],
    gtd: f64,
    tolerance_change: f64,
    max_ls: i64,
) -> (f64, Vec<T>, f64, i64) {
    let (c1, c2) = (1e-4, 0.9);
    let n = d.len();
    let d_norm = max_abs(d);
    let g = g.to_vec();
    let mut g_new = vec![T::ZERO; n];
    let mut f_new = obj(t, &mut g_new);
    let mut ls_func_evals = 1;
    let mut gtd_new = dot(&g_new, d);
    let (mut t_prev, mut f_prev, mut g_prev, mut gtd_prev) = (0.0f64, f, g.clone(), gtd);
    let mut done = false;
    let mut ls_iter = 0;
    let mut bracket: Vec<f64> = Vec::new();
    let mut bracket_f: Vec<f64> = Vec::new();
    let mut bracket_g: Vec<Vec<T>> = Vec::new();
    let mut bracket_gtd: Vec<f64> = Vec::new();
    while ls_iter < max_ls {
        if f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev) {
            bracket = vec![t_prev, t];
            bracket_f = vec![f_prev, f_new];
            bracket_g = vec![g_prev.clone(), g_new.clone()];
            bracket_gtd = vec![gtd_prev, gtd_new];
            break;
        }
        if gtd_new.abs() <= -c2 * gtd {
            bracket = vec![t];
            bracket_f = vec![f_new];
            bracket_g = vec![g_new.clone()];
            done = true;
            break;
        }
        if gtd_new >= 0.0 {
            bracket = vec![t_prev, t];
            bracket_f = vec![f_prev, f_new];
            bracket_g = vec![g_prev.clone(), g_new.clone()];
            bracket_gtd = vec![gtd_prev, gtd_new];
            break;
        }
        let min_step = t + 0.01 * (t - t_prev);
        let max_step = t * 10.0;
        let tmp = t;
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, Some((min_step, max_step)));
        t_prev = tmp;
        f_prev = f_new;
        g_prev.clone_from(&g_new);
        gtd_prev = gtd_new;
        f_new = obj(t, &mut g_new);
        ls_func_evals += 1;
        gtd_new = dot(&g_new, d);
        ls_iter += 1;
    }
    if ls_iter == max_ls {
        bracket = vec![0.0, t];
        bracket_f = vec![f, f_new];
        bracket_g = vec![g.clone(), g_new.clone()];
        // torch keeps the bracket_gtd of the loop (unset when the loop never broke out: then the
        // zoom below is not entered either, since ls_iter == max_ls).
    }
    let mut insuf_progress = false;
    let (mut low_pos, mut high_pos) = if bracket_f[0] <= bracket_f[bracket_f.len() - 1] { (0, 1) } else { (1, 0) };
    while !done && ls_iter < max_ls {
        if (bracket[1] - bracket[0]).abs() * d_norm < tolerance_change {
            break;
        }
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1], None);
        let bmax = py_max(bracket[0], bracket[1]);
        let bmin = py_min(bracket[0], bracket[1]);
        let eps = 0.1 * (bmax - bmin);
        if py_min(bmax - t, t - bmin) < eps {
            if insuf_progress || t >= bmax || t <= bmin {
                if (t - bmax).abs() < (t - bmin).abs() {
                    t = bmax - eps;
                } else {
                    t = bmin + eps;
                }
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        f_new = obj(t, &mut g_new);
        ls_func_evals += 1;
        gtd_new = dot(&g_new, d);
        ls_iter += 1;
        if f_new > f + c1 * t * gtd || f_new >= bracket_f[low_pos] {
            bracket[high_pos] = t;
            bracket_f[high_pos] = f_new;
            bracket_g[high_pos].clone_from(&g_new);
            bracket_gtd[high_pos] = gtd_new;
            (low_pos, high_pos) = if bracket_f[0] <= bracket_f[1] { (0, 1) } else { (1, 0) };
        } else {
            if gtd_new.abs() <= -c2 * gtd {
                done = true;
            } else if gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0.0 {
                bracket[high_pos] = bracket[low_pos];
                bracket_f[high_pos] = bracket_f[low_pos];
                bracket_g[high_pos] = bracket_g[low_pos].clone();
                bracket_gtd[high_pos] = bracket_gtd[low_pos];
            }
            bracket[low_pos] = t;
            bracket_f[low_pos] = f_new;
            bracket_g[low_pos].clone_from(&g_new);
            bracket_gtd[low_pos] = gtd_new;
        }
    }
    let t = bracket[low_pos];
    let f_new = bracket_f[low_pos];
    let g_new = std::mem::take(&mut bracket_g[low_pos]);
    (f_new, g_new, t, ls_func_evals)
}

impl<T: Float> Optimizer<T> for Lbfgs<T> {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }
    fn layout(&self) -> &Layout {
        &self.layout
    }
    fn step(&mut self, params: &mut [&mut [T]], grads: &[&[T]], _hess: Option<&[&[T]]>) -> Result<StepOutcome> {
        // Only the first-point loss is unknown here; with max_iter = 1 and no line search torch
        // never compares it (prev_loss is reset before every use).
        self.run(params, f64::NAN, grads, None)
    }
    fn evaluates(&self) -> bool {
        true
    }
    fn step_evaluating(
        &mut self,
        params: &mut [&mut [T]],
        f: f64,
        grads: &[&[T]],
        _hess: Option<&[&[T]]>,
        eval: &mut dyn FnMut(&[T], &mut [T]) -> f64,
    ) -> Result<StepOutcome> {
        self.run(params, f, grads, Some(eval))
    }
    fn bytes_per_param(&self) -> f64 {
        // Per iteration: the two-loop recursion reads every stored pair twice.
        let h = LbfgsHp::read(&self.group.base).history_size as f64;
        (4.0 * h + 8.0) * T::BYTES as f64
    }
    fn state_elements(&self) -> usize {
        self.old_dirs.iter().chain(&self.old_stps).map(Vec::len).sum::<usize>()
            + self.d.len()
            + self.prev_flat_grad.as_ref().map_or(0, Vec::len)
    }
    fn last_grad_norm(&self) -> Option<f64> {
        self.grad_norm
    }
    fn steps_taken(&self) -> u64 {
        self.steps
    }
    fn epochs_taken(&self) -> u64 {
        self.epoch
    }
    fn end_epoch(&mut self) {
        self.epoch += 1;
    }
    fn report_metric(&mut self, metric: f64) {
        let (step, epoch) = (self.steps, self.epoch);
        for s in &mut self.group.scheduled {
            s.schedule.observe(metric, if s.per_epoch { epoch } else { step });
        }
    }
    fn current(&self, group: usize, key: &str) -> Option<f64> {
        if group != 0 {
            return None;
        }
        let i = SPEC.index(key)?;
        let mut v = self.group.base.f(i);
        for s in &self.group.scheduled {
            if s.index == i {
                v = s.schedule.value(v, if s.per_epoch { self.epoch } else { self.steps });
            }
        }
        Some(v)
    }
    fn groups(&self) -> usize {
        1
    }
    fn hyper(&self, group: usize) -> Option<&Hyper> {
        (group == 0).then_some(&self.group.base)
    }
    fn state(&self) -> OptimizerState<T> {
        let split = |v: &[T]| -> Vec<Vec<T>> {
            let mut off = 0;
            self.layout
                .tensors()
                .iter()
                .map(|t| {
                    let s = v[off..off + t.len].to_vec();
                    off += t.len;
                    s
                })
                .collect()
        };
        let mut per: Vec<Vec<(String, Vec<T>)>> = vec![Vec::new(); self.layout.len()];
        let mut add = |name: String, v: &[T]| {
            for (ti, part) in split(v).into_iter().enumerate() {
                per[ti].push((name.clone(), part));
            }
        };
        if !self.d.is_empty() {
            add("d".into(), &self.d);
        }
        if let Some(p) = &self.prev_flat_grad {
            add("prev_flat_grad".into(), p);
        }
        for (i, (y, s)) in self.old_dirs.iter().zip(&self.old_stps).enumerate() {
            add(format!("old_dirs.{i}"), y);
            add(format!("old_stps.{i}"), s);
        }
        OptimizerState {
            optimizer: SPEC.name.to_string(),
            dtype: T::NAME.to_string(),
            step: self.steps,
            epoch: self.epoch,
            groups: vec![self.group.to_state()],
            global: vec![
                ("func_evals".into(), vec![self.func_evals as f64]),
                ("n_iter".into(), vec![self.n_iter as f64]),
                ("t".into(), vec![self.t]),
                ("H_diag".into(), vec![self.h_diag]),
                ("ro".into(), self.ro.iter().copied().collect()),
                ("has_d".into(), vec![(!self.d.is_empty()) as u8 as f64]),
                ("has_prev_flat_grad".into(), vec![self.prev_flat_grad.is_some() as u8 as f64]),
            ],
            tensors: self
                .layout
                .tensors()
                .iter()
                .zip(per)
                .map(|(t, buffers)| TensorState {
                    name: t.name.clone(),
                    shape: t.shape.clone(),
                    group: 0,
                    scalars: Vec::new(),
                    buffers,
                })
                .collect(),
            inner: None,
        }
    }
    fn load_state(&mut self, st: &OptimizerState<T>) -> Result<()> {
        st.check_header(SPEC.name, &self.layout)?;
        let st = st.ordered(&self.layout)?;
        let [g] = st.groups.as_slice() else {
            return Err(OptimError::State(format!("lbfgs state has {} groups, expected 1", st.groups.len())));
        };
        let group = Group::from_state(g, &SPEC, &self.group)?;
        let global = |name: &str| -> Result<&Vec<f64>> {
            st.global
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .ok_or_else(|| OptimError::State(format!("lbfgs state lacks `{name}`")))
        };
        let one = |name: &str| -> Result<f64> {
            match global(name)?.as_slice() {
                [v] => Ok(*v),
                v => Err(OptimError::State(format!("lbfgs state: `{name}` has {} values, expected 1", v.len()))),
            }
        };
        let (func_evals, n_iter, t, h_diag) = (one("func_evals")?, one("n_iter")?, one("t")?, one("H_diag")?);
        let ro: VecDeque<f64> = global("ro")?.iter().copied().collect();
        let (has_d, has_prev) = (one("has_d")? != 0.0, one("has_prev_flat_grad")? != 0.0);
        let history = ro.len();
        if history as i64 > LbfgsHp::read(&group.base).history_size {
            return Err(OptimError::State(format!(
                "lbfgs state holds {history} curvature pairs, more than its history_size"
            )));
        }
        let mut want: Vec<String> = Vec::new();
        if has_d {
            want.push("d".into());
        }
        if has_prev {
            want.push("prev_flat_grad".into());
        }
        for i in 0..history {
            want.push(format!("old_dirs.{i}"));
            want.push(format!("old_stps.{i}"));
        }
        for ts in &st.tensors {
            let got: Vec<&str> = ts.buffers.iter().map(|(n, _)| n.as_str()).collect();
            if got != want.iter().map(String::as_str).collect::<Vec<_>>() {
                return Err(OptimError::State(format!(
                    "tensor `{}`: state buffers {:?}, lbfgs expects {:?}",
                    ts.name, got, want
                )));
            }
        }
        let flat = |k: usize| -> Vec<T> { st.tensors.iter().flat_map(|ts| ts.buffers[k].1.iter().copied()).collect() };
        let mut k = 0;
        let mut next = || {
            k += 1;
            flat(k - 1)
        };
        self.d = if has_d { next() } else { Vec::new() };
        self.prev_flat_grad = if has_prev { Some(next()) } else { None };
        self.old_dirs.clear();
        self.old_stps.clear();
        for _ in 0..history {
            self.old_dirs.push_back(next());
            self.old_stps.push_back(next());
        }
        self.ro = ro;
        self.func_evals = func_evals as u64;
        self.n_iter = n_iter as u64;
        self.t = t;
        self.h_diag = h_diag;
        self.group = group;
        self.steps = st.step;
        self.epoch = st.epoch;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::executor::{Executor, MaxSteps, Problem};
    use crate::{registry, GroupConfig, Layout, OptimConfig, Optimizer};

    /// Rosenbrock in 2-D, counting nothing itself (the executor counts).
    struct Rosen;
    impl Problem<f64> for Rosen {
        fn dim(&self) -> usize {
            2
        }
        fn eval(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a) * (1.0 - a) + 100.0 * (b - a * a) * (b - a * a)
        }
    }

    fn wolfe() -> OptimConfig {
        OptimConfig::new("lbfgs").set("line_search_fn", "strong_wolfe").set("history_size", 4).set("max_iter", 3)
    }

    fn run(opt: &mut dyn Optimizer<f64>, x: Vec<f64>, steps: u64) -> (Vec<f64>, u64) {
        let r = Executor::<f64, _>::new(Rosen, opt, x).unwrap().stop_when(MaxSteps(steps)).run().unwrap();
        (r.x, r.evals)
    }

    #[test]
    fn a_step_without_evaluations_is_refused_unless_it_needs_none() {
        let mut o = registry::build::<f64>(Layout::single("x", 2), &OptimConfig::new("lbfgs")).unwrap();
        let mut x = [1.0, 2.0];
        let e = o.step(&mut [&mut x[..]], &[&[0.5, 0.5][..]], None).unwrap_err().to_string();
        assert!(e.contains("`lbfgs`") && e.contains("max_iter = 20") && e.contains("line_search_fn = none"), "{e}");
        assert_eq!(x, [1.0, 2.0]);
        assert_eq!(o.steps_taken(), 0);
        let cfg = OptimConfig::new("lbfgs").set("max_iter", 1).set("line_search_fn", "strong_wolfe");
        let mut o = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
        let e = o.step(&mut [&mut x[..]], &[&[0.5, 0.5][..]], None).unwrap_err().to_string();
        assert!(e.contains("line_search_fn = strong_wolfe"), "{e}");
        // max_iter = 1 without a line search: x - min(1, 1/|g|_1) lr g, as torch's first step.
        let cfg = OptimConfig::new("lbfgs").set("max_iter", 1).set("lr", 0.5);
        let mut o = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
        o.step(&mut [&mut x[..]], &[&[0.5, 0.25][..]], None).unwrap();
        assert_eq!(x, [1.0 - 0.5 * 0.5, 2.0 - 0.5 * 0.25]);
    }

    #[test]
    fn groups_clipping_and_lookahead_are_refused_by_name() {
        let l = Layout::new().with("a", &[2]).unwrap().with("b", &[1]).unwrap();
        let g = GroupConfig { tensors: vec!["b".into()], set: [("lr".into(), "0.1".into())].into(), schedules: vec![] };
        let e = registry::build::<f64>(l.clone(), &OptimConfig::new("lbfgs").group(g)).err().unwrap().to_string();
        assert!(e.contains("one parameter group") && e.contains("b"), "{e}");
        let e = registry::build::<f64>(l.clone(), &OptimConfig::new("lbfgs").clip_norm(1.0)).err().unwrap().to_string();
        assert!(e.contains("lbfgs") && e.contains("clip_norm"), "{e}");
        let e = registry::build::<f64>(l, &OptimConfig::new("lookahead").set("inner", "lbfgs")).err().unwrap().to_string();
        assert!(e.contains("inner") && e.contains("lbfgs") && e.contains("evaluate"), "{e}");
    }

    /// Three steps, save, load into a fresh optimizer, three more: as six straight, bit for bit
    /// (history, direction, step size and counts all restored), and the state says so.
    #[test]
    fn resume_with_the_line_search_is_exact() {
        let mut a = registry::build::<f64>(Layout::single("x", 2), &wolfe()).unwrap();
        let (xa, _) = run(&mut *a, vec![-1.5, 2.0], 6);
        let mut b = registry::build::<f64>(Layout::single("x", 2), &wolfe()).unwrap();
        let (xb, _) = run(&mut *b, vec![-1.5, 2.0], 3);
        let st = b.state();
        assert!(st.tensors[0].buffers.iter().any(|(n, _)| n == "old_dirs.0"), "{:?}", st.tensors[0].buffers);
        let bytes = st.to_bytes();
        let mut c = registry::build::<f64>(Layout::single("x", 2), &wolfe()).unwrap();
        c.load_state(&crate::OptimizerState::from_bytes(&bytes, "test").unwrap()).unwrap();
        let (xc, _) = run(&mut *c, xb, 3);
        assert_eq!(xa, xc);
        assert_eq!(a.state(), c.state());
        assert_eq!(c.steps_taken(), 6);
        // A state whose curvature pairs do not match its `ro` does not load, and changes nothing.
        let mut bad = a.state();
        bad.tensors[0].buffers.pop();
        let mut d = registry::build::<f64>(Layout::single("x", 2), &wolfe()).unwrap();
        let e = d.load_state(&bad).unwrap_err().to_string();
        assert!(e.contains("`x`") && e.contains("old_stps"), "{e}");
        assert_eq!(d.steps_taken(), 0);
        assert_eq!(d.state(), registry::build::<f64>(Layout::single("x", 2), &wolfe()).unwrap().state());
    }

    /// The line search evaluates more often than once per step, and the executor counts it.
    #[test]
    fn the_executor_counts_the_line_search_evaluations() {
        let mut o = registry::build::<f64>(Layout::single("x", 2), &wolfe()).unwrap();
        let (x, evals) = run(&mut *o, vec![-1.5, 2.0], 4);
        assert!(evals > 4 + 1, "{evals} evaluations in 4 steps");
        assert!(x.iter().all(|v| v.is_finite()));
    }

    /// Two tensors are one flat vector in layout order: the same run as one tensor, bit for bit.
    #[test]
    fn tensors_are_one_flat_vector() {
        struct Split;
        impl Problem<f64> for Split {
            fn dim(&self) -> usize {
                2
            }
            fn eval(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
                Rosen.eval(x, g)
            }
        }
        let l = Layout::new().with("a", &[1]).unwrap().with("b", &[1]).unwrap();
        let mut two = registry::build::<f64>(l, &wolfe()).unwrap();
        let r2 = Executor::<f64, _>::new(Split, &mut *two, vec![-1.5, 2.0]).unwrap().stop_when(MaxSteps(3)).run();
        let mut one = registry::build::<f64>(Layout::single("x", 2), &wolfe()).unwrap();
        let (x1, e1) = run(&mut *one, vec![-1.5, 2.0], 3);
        let r2 = r2.unwrap();
        assert_eq!((r2.x, r2.evals), (x1, e1));
    }

    #[test]
    fn a_non_finite_first_gradient_is_refused_naming_the_tensor() {
        let cfg = OptimConfig::new("lbfgs").set("max_iter", 1);
        let mut o = registry::build::<f64>(Layout::single("w", 2), &cfg).unwrap();
        let mut x = [1.0, 2.0];
        let e = o.step(&mut [&mut x[..]], &[&[0.5, f64::NAN][..]], None).unwrap_err().to_string();
        assert!(e.contains("`w`") && e.contains("element 1"), "{e}");
        assert_eq!((x, o.steps_taken()), ([1.0, 2.0], 0));
        let mut o = registry::build::<f64>(Layout::single("w", 2), &cfg.non_finite(crate::NonFinite::Skip)).unwrap();
        let out = o.step(&mut [&mut x[..]], &[&[f64::INFINITY, 1.0][..]], None).unwrap();
        assert_eq!(out, crate::StepOutcome::Skipped { tensor: "w".into(), index: 0 });
        assert_eq!(x, [1.0, 2.0]);
    }

    /// f32 follows f64 on a few steps (vectors in f32, scalars in f64).
    #[test]
    fn f32_follows_f64() {
        struct R32;
        impl Problem<f32> for R32 {
            fn dim(&self) -> usize {
                2
            }
            fn eval(&mut self, x: &[f32], g: &mut [f32]) -> f64 {
                let xd = [x[0] as f64, x[1] as f64];
                let mut gd = [0.0; 2];
                let v = Rosen.eval(&xd, &mut gd);
                g[0] = gd[0] as f32;
                g[1] = gd[1] as f32;
                v
            }
        }
        let mut o = registry::build::<f32>(Layout::single("x", 2), &wolfe()).unwrap();
        let r = Executor::<f32, _>::new(R32, &mut *o, vec![-1.5, 2.0]).unwrap().stop_when(MaxSteps(2)).run().unwrap();
        let mut o = registry::build::<f64>(Layout::single("x", 2), &wolfe()).unwrap();
        let (x, _) = run(&mut *o, vec![-1.5, 2.0], 2);
        assert!(r.x.iter().zip(&x).all(|(a, b)| (*a as f64 - b).abs() < 1e-3), "{:?} vs {x:?}", r.x);
    }
}
