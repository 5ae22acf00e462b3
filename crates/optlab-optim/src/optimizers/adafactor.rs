//! Adafactor (Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory
//! Cost"), as torch.optim.Adafactor (torch 2.x, its single-tensor path).
//!
//! Per tensor at step `t`, with `g' = ±g` (`maximize`):
//! - `w = t^beta2_decay` (the weight of the new second moment), `ρ = min(lr, 1/√t)`,
//!   `α = max(eps2, ‖p‖/√n)·ρ` (from the parameter before the decay)
//! - `p ← p·(1 − lr·weight_decay)` when `weight_decay ≠ 0`
//! - tensors of rank ≥ 2 (torch's convention: factored over the last two dimensions, one factor
//!   pair per index of the leading dimensions): row moments `r ← lerp(r, mean over the last
//!   dimension of g'², w)`, column moments `c ← lerp(c, mean over the second-to-last dimension of
//!   g'², w)`, and the estimate `v̂ = r·c / max(mean(r), eps1)`; vectors and scalars keep a full
//!   `v ← lerp(v, g'², w)`, `v̂ = v`
//! - `u = g'/√max(v̂, eps1²)`, `p ← p − α/max(1, ‖u‖/(√n·d))·u`
//!
//! `eps1` negative (the default) is torch's `eps=(None, …)`: the machine epsilon of the element
//! type. State is saved by name: `row_var` and `col_var` (lengths: the tensor's element count
//! divided by the last, resp. the second-to-last dimension) for factored tensors, `variance` for
//! the others.

use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx, TensorStep};
use crate::error::Result;
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};

use super::common::*;

pub struct Adafactor;

/// `beta2_decay` ≤ 0.
const NONPOS: Kind = Kind::Float { lo: f64::NEG_INFINITY, hi: 0.0, lo_open: true, hi_open: false };
/// `d` ≥ 1.
const AT_LEAST_ONE: Kind = Kind::Float { lo: 1.0, hi: f64::INFINITY, lo_open: false, hi_open: true };

crate::hypers! {
    /// Adafactor's hyperparameters (torch's names; its `eps` tuple split into `eps1`, `eps2`).
    pub struct AdafactorHp {
        lr: f64 [Kind::NONNEG] = 1e-2, "learning rate: the relative step size is min(lr, 1/sqrt(t))";
        beta2_decay: f64 [NONPOS] = -0.8, "the second moments' new-value weight is t^beta2_decay";
        eps1: f64 [Kind::REAL] = -1.0, "floor of the second-moment estimate (squared) and of the row mean; negative: the machine epsilon of the element type (torch's None)";
        eps2: f64 [Kind::NONNEG] = 1e-3, "floor of the parameter RMS that scales the step";
        d: f64 [AT_LEAST_ONE] = 1.0, "clipping threshold: the update is scaled down to RMS at most d";
        weight_decay: f64 [Kind::NONNEG] = 0.0, "decoupled weight decay: p <- p (1 - lr weight_decay)";
        maximize: bool [] = false, MAXIMIZE_DOC;
    }
}

static SPEC: Spec = Spec {
    name: "adafactor",
    summary: "Adafactor: factored second moments (row and column) for matrices, relative step size, update clipping",
    reference: "Shazeer & Stern 2018; torch.optim.Adafactor",
    hypers: AdafactorHp::HYPERS,
    conventions: &[
        "torch's Adafactor: no first moment, second-moment weight t^beta2_decay, step min(lr, 1/sqrt(t)) times \
         max(eps2, RMS(p)), the update scaled down to RMS at most d",
        "tensors of rank >= 2 are factored over their last two dimensions (one row/column pair per index of the \
         leading ones), as torch; vectors and scalars keep a full second moment",
        "eps1 < 0 (default) is torch's eps=(None, eps2): the machine epsilon of the element type",
        "weight decay decoupled, p (1 - lr wd), after the RMS of p is taken (torch's order)",
    ],
    needs_hessian: false,
    parity: Parity::Torch("Adafactor"),
    variants: &[
        Variant::tested("weight_decay", &[("weight_decay", "0.1")]),
        Variant::tested("clipped", &[("d", "1.5"), ("eps1", "1e-4"), ("eps2", "1e-2"), ("beta2_decay", "-0.5")]),
        Variant::tested("maximize", &[("maximize", "true")]),
    ],
};

/// The coefficients of one step of one tensor.
#[derive(Clone, Copy)]
pub struct Coef {
    hp: AdafactorHp,
    step: u64,
}

/// torch's `lerp(a, b, w)` with the weight's side chosen outside the loops.
#[inline(always)]
fn lerp<T: Float>(a: T, b: T, w: T, low: bool) -> T {
    if low {
        a + w * (b - a)
    } else {
        b - (b - a) * (T::ONE - w)
    }
}

/// Leading, row and column sizes of a factored tensor (`None`: rank < 2, not factored).
fn factors(shape: &[usize]) -> Option<(usize, usize, usize)> {
    let r = shape.len();
    (r >= 2).then(|| (shape[..r - 2].iter().product(), shape[r - 2], shape[r - 1]))
}

/// Sum of squares in f64, in a fixed order (8 lanes; the same on every instruction set).
#[inline(always)]
fn sumsq<T: Float>(xs: &[T]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut it = xs.chunks_exact(8);
    for c in &mut it {
        for k in 0..8 {
            let v = c[k].to_f64();
            acc[k] += v * v;
        }
    }
    let mut s: f64 = acc.iter().sum();
    for &x in it.remainder() {
        s += x.to_f64() * x.to_f64();
    }
    s
}

impl<T: Float> Algorithm<T> for Adafactor {
    type Coef = Coef;
    const WHOLE_TENSOR: bool = true;

    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Adafactor)
    }
    /// The unfactored buffer (what [`Algorithm::tensor_buffers`] uses for vectors).
    fn buffers(_hp: &Hyper) -> Vec<Buffer> {
        vec![Buffer::zeros("variance")]
    }
    fn tensor_buffers(_hp: &Hyper, shape: &[usize]) -> Vec<(Buffer, usize)> {
        match factors(shape) {
            Some((b, r, c)) => vec![(Buffer::zeros("row_var"), b * r), (Buffer::zeros("col_var"), b * c)],
            None => vec![(Buffer::zeros("variance"), shape.iter().product())],
        }
    }
    /// Reads `p` twice (RMS, update) and `g` three times, writes `p` once (the factored state is
    /// negligible; vectors add a read and a write of `variance`).
    fn accesses_per_param(_hp: &Hyper) -> usize {
        6
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef> {
        Ok(Coef { hp: AdafactorHp::read(hp), step: ctx.step })
    }
    fn update_tensor(&self, k: &Coef, t: TensorStep<'_, T>) {
        let hp = &k.hp;
        let n = t.p.len();
        if n == 0 {
            return;
        }
        let step = k.step as f64;
        let eps1 = if hp.eps1 < 0.0 { T::EPSILON.to_f64() } else { hp.eps1 };
        let w = step.powf(hp.beta2_decay);
        let rho = hp.lr.min(1.0 / step.sqrt());
        let alpha = hp.eps2.max(sumsq(t.p).sqrt() / (n as f64).sqrt()) * rho;
        let sign = T::of(if hp.maximize { -1.0 } else { 1.0 });
        if hp.weight_decay != 0.0 {
            let decay = T::of(1.0 - hp.lr * hp.weight_decay);
            t.p.iter_mut().for_each(|x| *x *= decay);
        }
        let (wt, low) = (T::of(w), w.abs() < 0.5);
        let eps1_sq = T::of(eps1 * eps1);
        let [s0, s1, ..] = t.s;
        // Pass 1: the moments, and the squared norm of the update.
        let mut usq = 0.0f64;
        match factors(t.shape) {
            Some((nb, nr, nc)) => {
                let (row, col) = (s0, s1);
                let mut colsum = vec![T::ZERO; nc];
                for b in 0..nb {
                    let g = &t.g[b * nr * nc..(b + 1) * nr * nc];
                    colsum.iter_mut().for_each(|x| *x = T::ZERO);
                    for r in 0..nr {
                        let gr = &g[r * nc..(r + 1) * nc];
                        let mut s = T::ZERO;
                        for (cs, &x) in colsum.iter_mut().zip(gr) {
                            let x = sign * x;
                            s += x * x;
                            *cs += x * x;
                        }
                        let ri = &mut row[b * nr + r];
                        *ri = lerp(*ri, s / T::of(nc as f64), wt, low);
                    }
                    for (ci, &cs) in col[b * nc..(b + 1) * nc].iter_mut().zip(&colsum) {
                        *ci = lerp(*ci, cs / T::of(nr as f64), wt, low);
                    }
                }
                let row = &*row;
                let col = &*col;
                let mut tmp = vec![T::ZERO; nc];
                for b in 0..nb {
                    let rows = &row[b * nr..(b + 1) * nr];
                    let mut rs = T::ZERO;
                    for &x in rows {
                        rs += x;
                    }
                    let rmean = (rs / T::of(nr as f64)).max(T::of(eps1));
                    let cols = &col[b * nc..(b + 1) * nc];
                    for (r, &ri) in rows.iter().enumerate() {
                        let gr = &t.g[(b * nr + r) * nc..(b * nr + r + 1) * nc];
                        for ((u, &cj), &x) in tmp.iter_mut().zip(cols).zip(gr) {
                            let v = (ri * cj / rmean).max(eps1_sq);
                            *u = T::ONE / v.sqrt() * (sign * x);
                        }
                        usq += sumsq(&tmp);
                    }
                }
                let scale = T::of(-alpha / (usq.sqrt() / ((n as f64).sqrt() * hp.d)).max(1.0));
                for b in 0..nb {
                    let rows = &row[b * nr..(b + 1) * nr];
                    let mut rs = T::ZERO;
                    for &x in rows {
                        rs += x;
                    }
                    let rmean = (rs / T::of(nr as f64)).max(T::of(eps1));
                    let cols = &col[b * nc..(b + 1) * nc];
                    for (r, &ri) in rows.iter().enumerate() {
                        let at = (b * nr + r) * nc;
                        let (gr, pr) = (&t.g[at..at + nc], &mut t.p[at..at + nc]);
                        for ((p, &cj), &x) in pr.iter_mut().zip(cols).zip(gr) {
                            let v = (ri * cj / rmean).max(eps1_sq);
                            *p += scale * (T::ONE / v.sqrt() * (sign * x));
                        }
                    }
                }
            }
            None => {
                let var = s0;
                let mut acc = [0.0f64; 8];
                for (i, (v, &x)) in var.iter_mut().zip(t.g).enumerate() {
                    let x = sign * x;
                    *v = lerp(*v, x * x, wt, low);
                    let u = (T::ONE / (*v).max(eps1_sq).sqrt() * x).to_f64();
                    acc[i % 8] += u * u;
                }
                usq = acc.iter().sum();
                let scale = T::of(-alpha / (usq.sqrt() / ((n as f64).sqrt() * hp.d)).max(1.0));
                for ((p, &v), &x) in t.p.iter_mut().zip(&*var).zip(t.g) {
                    *p += scale * (T::ONE / v.max(eps1_sq).sqrt() * (sign * x));
                }
            }
        }
    }
    /// Not used: Adafactor updates whole tensors ([`Algorithm::update_tensor`]).
    fn update<const S: bool>(_c: &Coef, _chunk: Chunk<'_, T>) {}
}

#[cfg(test)]
mod tests {
    use crate::{registry, Layout, OptimConfig};

    /// One step by hand on a 2x3 matrix: factored moments (rows over the last dimension) and the
    /// update clipped to RMS d.
    #[test]
    fn first_step_by_hand_on_a_matrix() {
        let l = Layout::new().with("w", &[2, 3]).unwrap();
        let mut o = registry::build::<f64>(l, &OptimConfig::new("adafactor").set("lr", 0.5)).unwrap();
        let mut p = vec![1.0, -2.0, 0.5, 3.0, 0.0, -1.0];
        let p0 = p.clone();
        let g = [0.1, 0.2, -0.3, 1.0, -2.0, 0.5];
        o.step(&mut [&mut p[..]], &[&g[..]], None).unwrap();
        // t = 1: w = 1, so the moments are the means; rho = min(0.5, 1) = 0.5.
        let row: [f64; 2] = [(0.01 + 0.04 + 0.09) / 3.0, (1.0 + 4.0 + 0.25) / 3.0];
        let col: [f64; 3] = [(0.01 + 1.0) / 2.0, (0.04 + 4.0) / 2.0, (0.09 + 0.25) / 2.0];
        let rmean = (row[0] + row[1]) / 2.0;
        let u: Vec<f64> = (0..6).map(|i| g[i] / (row[i / 3] * col[i % 3] / rmean).sqrt()).collect();
        let rms_u = (u.iter().map(|x| x * x).sum::<f64>() / 6.0).sqrt();
        let rms_p = (p0.iter().map(|x| x * x).sum::<f64>() / 6.0).sqrt();
        let alpha = rms_p.max(1e-3) * 0.5;
        for i in 0..6 {
            let want = p0[i] - alpha / rms_u.max(1.0) * u[i];
            assert!((p[i] - want).abs() < 1e-13, "{i}: {} vs {want}", p[i]);
        }
        let st = o.state();
        let names: Vec<&str> = st.tensors[0].buffers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["row_var", "col_var"]);
        assert_eq!(st.tensors[0].buffers[0].1.len(), 2);
        assert_eq!(st.tensors[0].buffers[1].1.len(), 3);
    }

    /// torch's ranges: beta2_decay <= 0 and d >= 1 (refused naming the key and the range).
    #[test]
    fn out_of_range_settings_are_refused_naming_the_key() {
        for (k, v, range) in [("beta2_decay", "0.5", "0]"), ("d", "0.5", "[1, inf)"), ("eps2", "-1", "[0, inf)")] {
            let cfg = OptimConfig::new("adafactor").set(k, v);
            let e = registry::build::<f64>(Layout::single("x", 2), &cfg).err().unwrap().to_string();
            assert!(e.contains(&format!("`{k}`")) && e.contains(range), "{e}");
        }
    }

    /// A rank-3 tensor keeps one row/column pair per leading index, and its state round-trips
    /// through bytes (buffer lengths other than the tensor's are recorded).
    #[test]
    fn rank_three_state_is_per_leading_index_and_round_trips() {
        let l = Layout::new().with("k", &[2, 3, 4]).unwrap().with("b", &[5]).unwrap();
        let mut o = registry::build::<f64>(l.clone(), &OptimConfig::new("adafactor")).unwrap();
        let mut k: Vec<f64> = (0..24).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut b = [0.5; 5];
        let gk: Vec<f64> = (0..24).map(|i| (i as f64 * 0.11).cos()).collect();
        let gb = [0.1, -0.2, 0.3, -0.4, 0.5];
        o.step(&mut [&mut k[..], &mut b[..]], &[&gk[..], &gb[..]], None).unwrap();
        let st = o.state();
        assert_eq!(st.tensors[0].buffers[0].1.len(), 6);
        assert_eq!(st.tensors[0].buffers[1].1.len(), 8);
        assert_eq!(st.tensors[1].buffers[0].0, "variance");
        let back = crate::OptimizerState::<f64>::from_bytes(&st.to_bytes(), "mem").unwrap();
        assert_eq!(back, st);
        let mut o2 = registry::build::<f64>(l, &OptimConfig::new("adafactor")).unwrap();
        o2.load_state(&back).unwrap();
        assert_eq!(o2.state(), st);
        // A state whose buffer has another length is refused, naming tensor and buffer.
        let mut bad = st.clone();
        bad.tensors[0].buffers[1].1.pop();
        let e = o2.load_state(&bad).unwrap_err().to_string();
        assert!(e.contains("`k`") && e.contains("col_var"), "{e}");
    }
}
