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
use crate::engine::SendPtr;

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

/// Elements per task of the passes over a vector, and the least elements per task over a
/// factored matrix (columns of all its rows): fixed by the shape, so that the sums, and with them
/// the results, do not depend on the thread count.
const BLOCK: usize = 1 << 15;
/// Columns per task over a factored matrix: at least this many (rows are read in contiguous
/// pieces of 4 KiB or more in f32), more when the matrix has few rows.
const MIN_COLS: usize = 1024;

/// The per-element constants of one step.
#[derive(Clone, Copy)]
struct Elem<T> {
    sign: T,
    /// The new-value weight of the moments, and which side of torch's lerp it uses.
    wt: T,
    low: bool,
    eps1_sq: T,
    /// `1 − lr·weight_decay` (1 without decay: exact).
    decay: T,
}

/// torch's update of one element: `rsqrt(max(v̂, eps1²))·g'`.
#[inline(always)]
fn upd<T: Float>(v: T, x: T, eps1_sq: T) -> T {
    T::ONE / v.max(eps1_sq).sqrt() * x
}

crate::simd::isa_dispatch! {
    fn vector_moments_on = vector_moments(e: &Elem<T>, p: &[T], g: &[T], v: &mut [T]) -> (f64, f64);
    fn vector_update_on = vector_update(e: &Elem<T>, scale: T, p: &mut [T], g: &[T], v: &[T]) -> ();
    fn factored_sums_on = factored_sums(e: &Elem<T>, g: &[T], p: &[T], c0: usize, nc: usize, part: &mut [T], col: &mut [T]) -> f64;
    fn factored_usq_on = factored_usq(e: &Elem<T>, g: &[T], rows: &[T], cols: &[T], rmean: T, c0: usize, nc: usize) -> f64;
    fn factored_update_on = factored_update(e: &Elem<T>, scale: T, g: &[T], p: SendPtr<T>, rows: &[T], cols: &[T], rmean: T, c0: usize, nc: usize) -> ();
}

/// Tasks `0..n` mapped in parallel (when allowed) or in order; the results in task order.
fn tasks<R: Send>(parallel: bool, n: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    if parallel && n > 1 {
        use rayon::prelude::*;
        (0..n).into_par_iter().with_min_len(1).map(&f).collect()
    } else {
        (0..n).map(f).collect()
    }
}

/// Pass 1 over the columns `c0..c0 + col.len()` of one `nr × nc` matrix `g` (all its rows):
/// per row the sum of `g'²` over these columns (into `part`), the column moments `col`, and
/// Σ p² over these elements.
#[inline(always)]
fn factored_sums<T: Float>(e: &Elem<T>, g: &[T], p: &[T], c0: usize, nc: usize, part: &mut [T], col: &mut [T]) -> f64 {
    let w = col.len();
    let mut colsum = vec![T::ZERO; w];
    let mut pl = [0.0f64; 8];
    for (r, pr) in part.iter_mut().enumerate() {
        let seg = r * nc + c0..r * nc + c0 + w;
        *pr = lanes_sum_sq(&g[seg.clone()], e.sign, &mut colsum);
        add_squares(&p[seg], &mut pl);
    }
    let psq = pl.iter().sum();
    let nr = T::of(part.len() as f64);
    for (ci, &s) in col.iter_mut().zip(&colsum) {
        *ci = lerp(*ci, s / nr, e.wt, e.low);
    }
    psq
}

/// Pass 2 over the same columns: Σ u² (8 fixed f64 lanes per row piece).
#[inline(always)]
fn factored_usq<T: Float>(e: &Elem<T>, g: &[T], rows: &[T], cols: &[T], rmean: T, c0: usize, nc: usize) -> f64 {
    let w = cols.len();
    let mut acc = [0.0f64; 8];
    // `u` of a row piece as one element-wise loop (into `u`), then its squares into the lanes.
    let mut u = vec![T::ZERO; w];
    for (r, &ri) in rows.iter().enumerate() {
        let gr = &g[r * nc + c0..r * nc + c0 + w];
        for ((ui, &x), &c) in u.iter_mut().zip(gr).zip(cols) {
            *ui = upd(ri * c / rmean, e.sign * x, e.eps1_sq);
        }
        add_squares(&u, &mut acc);
    }
    acc.iter().sum()
}

/// Pass 3 over the same columns: `p ← p·decay + scale·u`, through `p` (the matrix's first
/// element; the caller's task alone writes these columns).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn factored_update<T: Float>(
    e: &Elem<T>,
    scale: T,
    g: &[T],
    p: SendPtr<T>,
    rows: &[T],
    cols: &[T],
    rmean: T,
    c0: usize,
    nc: usize,
) {
    let w = cols.len();
    for (r, &ri) in rows.iter().enumerate() {
        let at = r * nc + c0;
        let gr = &g[at..at + w];
        // SAFETY: the caller's task alone touches these elements of `p`, in bounds of its matrix.
        let pr = unsafe { std::slice::from_raw_parts_mut(p.at(at), w) };
        for ((q, &x), &c) in pr.iter_mut().zip(gr).zip(cols) {
            *q = *q * e.decay + scale * upd(ri * c / rmean, e.sign * x, e.eps1_sq);
        }
    }
}

/// Pass 1 over a block of a vector: the new second moments, and `(Σ p², Σ u²)` of the parameter
/// before decay and of the undamped update, in 8 fixed f64 lanes (element `i` of a piece of 256
/// to lane `i mod 8`; blocks are whole pieces but for a tensor's last).
#[inline(always)]
fn vector_moments<T: Float>(e: &Elem<T>, p: &[T], g: &[T], v: &mut [T]) -> (f64, f64) {
    // The side of the lerp as a constant, so that the loop has no branch and vectorises.
    if e.low {
        vector_moments_side::<T, true>(e, p, g, v)
    } else {
        vector_moments_side::<T, false>(e, p, g, v)
    }
}

#[inline(always)]
fn vector_moments_side<T: Float, const LOW: bool>(e: &Elem<T>, p: &[T], g: &[T], v: &mut [T]) -> (f64, f64) {
    let n = v.len();
    let (p, g) = (&p[..n], &g[..n]);
    let (mut ap, mut au) = ([0.0f64; 8], [0.0f64; 8]);
    // Pieces of SUB elements: the moments and `u` of a piece as one element-wise loop (into
    // `u`), then the squares of `p` and `u` into the 8 f64 lanes, so that both loops vectorise.
    const SUB: usize = 256;
    let mut u = [T::ZERO; SUB];
    let mut at = 0;
    while at < n {
        let len = SUB.min(n - at);
        let (pp, gp, vp, up) = (&p[at..at + len], &g[at..at + len], &mut v[at..at + len], &mut u[..len]);
        for ((ui, vi), &gi) in up.iter_mut().zip(vp.iter_mut()).zip(gp) {
            let x = e.sign * gi;
            *vi = lerp(*vi, x * x, e.wt, LOW);
            *ui = upd(*vi, x, e.eps1_sq);
        }
        add_squares(pp, &mut ap);
        add_squares(up, &mut au);
        at += len;
    }
    (ap.iter().sum(), au.iter().sum())
}

/// Adds the squares of `xs` in f64 to the 8 lanes (element `i` to lane `i mod 8`).
#[inline(always)]
fn add_squares<T: Float>(xs: &[T], acc: &mut [f64; 8]) {
    let mut it = xs.chunks_exact(8);
    for c in &mut it {
        let c: &[T; 8] = c.try_into().unwrap();
        for k in 0..8 {
            let v = c[k].to_f64();
            acc[k] += v * v;
        }
    }
    for (k, &x) in it.remainder().iter().enumerate() {
        let v = x.to_f64();
        acc[k] += v * v;
    }
}

/// Pass 2 over a block of a vector: `p ← p·decay + scale·u`.
#[inline(always)]
fn vector_update<T: Float>(e: &Elem<T>, scale: T, p: &mut [T], g: &[T], v: &[T]) {
    let n = p.len();
    let (g, v) = (&g[..n], &v[..n]);
    for i in 0..n {
        p[i] = p[i] * e.decay + scale * upd(v[i], e.sign * g[i], e.eps1_sq);
    }
}

/// Adds `g'²` of a row piece to `colsum` and returns its sum in 8 fixed lanes of `T` (element
/// `i` to lane `i mod 8`), as two loops that vectorise.
#[inline(always)]
fn lanes_sum_sq<T: Float>(x: &[T], sign: T, colsum: &mut [T]) -> T {
    let n = x.len();
    for (c, &xi) in colsum[..n].iter_mut().zip(x) {
        let y = sign * xi;
        *c += y * y;
    }
    let mut acc = [T::ZERO; 8];
    let mut it = x.chunks_exact(8);
    for c in &mut it {
        let c: &[T; 8] = c.try_into().unwrap();
        for k in 0..8 {
            let y = sign * c[k];
            acc[k] += y * y;
        }
    }
    for (k, &xi) in it.remainder().iter().enumerate() {
        let y = sign * xi;
        acc[k] += y * y;
    }
    let mut s = T::ZERO;
    for a in acc {
        s += a;
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
    /// A factored matrix: `p` and `g` read by the moments (with the RMS of `p`), `g` by the
    /// update norm, `p` and `g` read and `p` written by the update (the row and column state is
    /// negligible).
    fn accesses_per_param(_hp: &Hyper) -> usize {
        6
    }
    /// Vectors add a read and a write of `variance` to the moments and a read of it to the
    /// update, and need no separate pass for the update norm: 8.
    fn tensor_accesses(hp: &Hyper, shape: &[usize]) -> usize {
        match factors(shape) {
            Some(_) => <Self as Algorithm<T>>::accesses_per_param(hp),
            None => 8,
        }
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef> {
        Ok(Coef { hp: AdafactorHp::read(hp), step: ctx.step })
    }
    /// Vectors: two passes over blocks of [`BLOCK`] elements (the moments with the sums of
    /// squares, then the update). Factored matrices: three passes over tasks of all rows of
    /// [`MIN_COLS`] columns or more (row and column sums with the sum of squares of `p`, the
    /// update norm, the update). Tasks run in parallel when allowed; their sums are added in
    /// task order.
    #[inline(always)]
    fn update_tensor(&self, k: &Coef, t: TensorStep<'_, T>) {
        let hp = &k.hp;
        let n = t.p.len();
        if n == 0 {
            return;
        }
        let (parallel, simd) = (t.parallel, t.simd);
        let step = k.step as f64;
        let eps1 = if hp.eps1 < 0.0 { T::EPSILON.to_f64() } else { hp.eps1 };
        let w = step.powf(hp.beta2_decay);
        let rho = hp.lr.min(1.0 / step.sqrt());
        let e = Elem {
            sign: T::of(if hp.maximize { -1.0 } else { 1.0 }),
            wt: T::of(w),
            low: w.abs() < 0.5,
            eps1_sq: T::of(eps1 * eps1),
            decay: T::of(if hp.weight_decay != 0.0 { 1.0 - hp.lr * hp.weight_decay } else { 1.0 }),
        };
        let scale_of = |psq: f64, usq: f64| {
            let alpha = hp.eps2.max(psq.sqrt() / (n as f64).sqrt()) * rho;
            T::of(-alpha / (usq.sqrt() / ((n as f64).sqrt() * hp.d)).max(1.0))
        };
        let [s0, s1, ..] = t.s;
        let (p, g) = (SendPtr(t.p.as_mut_ptr()), t.g);
        match factors(t.shape) {
            None => {
                let v = SendPtr(s0.as_mut_ptr());
                let nblk = n.div_ceil(BLOCK);
                let range = |i: usize| i * BLOCK..((i + 1) * BLOCK).min(n);
                let sums = tasks(parallel, nblk, |i| {
                    let r = range(i);
                    // SAFETY: block `i` is the only task using elements `r` of `p` and `v`,
                    // both of length `n`.
                    let (pb, vb) = unsafe {
                        (
                            std::slice::from_raw_parts(p.at(r.start), r.len()),
                            std::slice::from_raw_parts_mut(v.at(r.start), r.len()),
                        )
                    };
                    vector_moments_on(simd, &e, pb, &g[r], vb)
                });
                let (psq, usq) = sums.iter().fold((0.0, 0.0), |a, s| (a.0 + s.0, a.1 + s.1));
                let scale = scale_of(psq, usq);
                tasks(parallel, nblk, |i| {
                    let r = range(i);
                    // SAFETY: as above; `v` is only read now.
                    let (pb, vb) = unsafe {
                        (
                            std::slice::from_raw_parts_mut(p.at(r.start), r.len()),
                            std::slice::from_raw_parts(v.at(r.start) as *const T, r.len()),
                        )
                    };
                    vector_update_on(simd, &e, scale, pb, &g[r], vb)
                });
            }
            Some((nb, nr, nc)) => {
                let (row, col) = (s0, s1);
                // Tasks: (leading index, block of `cb` columns) over all `nr` rows.
                let cb = (BLOCK / nr).max(MIN_COLS).min(nc);
                let per = nc.div_ceil(cb);
                let ntask = nb * per;
                let cols = |i: usize| {
                    let c0 = (i % per) * cb;
                    (i / per, c0..(c0 + cb).min(nc))
                };
                let colp = SendPtr(col.as_mut_ptr());
                // Pass 1: per task the row sums of its columns (into `parts`), its column
                // moments, and Σ p² of its elements.
                let mut parts = vec![T::ZERO; ntask * nr];
                let partp = SendPtr(parts.as_mut_ptr());
                let psqs = tasks(parallel, ntask, |i| {
                    let (b, cr) = cols(i);
                    let m = b * nr * nc..(b + 1) * nr * nc;
                    // SAFETY: task `i` alone writes `parts[i·nr..(i+1)·nr]` and the columns
                    // `cr` of leading index `b` of `col`; no task writes `p` in this pass.
                    let (part, cs, pm) = unsafe {
                        (
                            std::slice::from_raw_parts_mut(partp.at(i * nr), nr),
                            std::slice::from_raw_parts_mut(colp.at(b * nc + cr.start), cr.len()),
                            std::slice::from_raw_parts(p.at(m.start) as *const T, m.len()),
                        )
                    };
                    factored_sums_on(simd, &e, &g[m], pm, cr.start, nc, part, cs)
                });
                let psq: f64 = psqs.iter().sum();
                // The row moments from the tasks' row sums (in task order), and per leading
                // index the row mean floored at eps1.
                let mut rmean = Vec::with_capacity(nb);
                for b in 0..nb {
                    for r in 0..nr {
                        let mut s = T::ZERO;
                        for c in 0..per {
                            s += parts[(b * per + c) * nr + r];
                        }
                        let ri = &mut row[b * nr + r];
                        *ri = lerp(*ri, s / T::of(nc as f64), e.wt, e.low);
                    }
                    let mut rs = T::ZERO;
                    for &x in &row[b * nr..(b + 1) * nr] {
                        rs += x;
                    }
                    rmean.push((rs / T::of(nr as f64)).max(T::of(eps1)));
                }
                let (row, col) = (&*row, &*col);
                let rmean = &rmean;
                // Pass 2: Σ u² per task.
                let usqs = tasks(parallel, ntask, |i| {
                    let (b, cr) = cols(i);
                    let (rows, cj) = (&row[b * nr..(b + 1) * nr], &col[b * nc + cr.start..b * nc + cr.end]);
                    factored_usq_on(simd, &e, &g[b * nr * nc..(b + 1) * nr * nc], rows, cj, rmean[b], cr.start, nc)
                });
                let usq: f64 = usqs.iter().sum();
                let scale = scale_of(psq, usq);
                // Pass 3: the update.
                tasks(parallel, ntask, |i| {
                    let (b, cr) = cols(i);
                    let (rows, cj) = (&row[b * nr..(b + 1) * nr], &col[b * nc + cr.start..b * nc + cr.end]);
                    let (gm, pm) = (&g[b * nr * nc..(b + 1) * nr * nc], SendPtr(p.at(b * nr * nc)));
                    factored_update_on(simd, &e, scale, gm, pm, rows, cj, rmean[b], cr.start, nc)
                });
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

    /// The formulas of torch's `_single_tensor_adafactor`, written out serially in f64 (one
    /// step of one tensor of shape `[nb, nr, nc]`, or a vector when `nr == 0`).
    fn reference(shape: &[usize], p: &mut [f64], g: &[f64], st: &mut [Vec<f64>], t: f64, lr: f64, wd: f64) {
        let (eps1, eps2, d) = (f64::EPSILON, 1e-3f64, 1.0f64);
        let w = t.powf(-0.8);
        let n = p.len() as f64;
        let rms = (p.iter().map(|x| x * x).sum::<f64>() / n).sqrt();
        let alpha = eps2.max(rms) * lr.min(1.0 / t.sqrt());
        p.iter_mut().for_each(|x| *x *= 1.0 - lr * wd);
        let u: Vec<f64> = if shape.len() == 1 {
            let v = &mut st[0];
            for (vi, &x) in v.iter_mut().zip(g) {
                *vi += w * (x * x - *vi);
            }
            v.iter().zip(g).map(|(&vi, &x)| x / vi.max(eps1 * eps1).sqrt()).collect()
        } else {
            let (nb, nr, nc) = (shape[0], shape[1], shape[2]);
            let mut u = vec![0.0; g.len()];
            for b in 0..nb {
                let at = |r: usize, c: usize| (b * nr + r) * nc + c;
                for r in 0..nr {
                    let m = (0..nc).map(|c| g[at(r, c)].powi(2)).sum::<f64>() / nc as f64;
                    st[0][b * nr + r] += w * (m - st[0][b * nr + r]);
                }
                for c in 0..nc {
                    let m = (0..nr).map(|r| g[at(r, c)].powi(2)).sum::<f64>() / nr as f64;
                    st[1][b * nc + c] += w * (m - st[1][b * nc + c]);
                }
                let rmean = (st[0][b * nr..(b + 1) * nr].iter().sum::<f64>() / nr as f64).max(eps1);
                for r in 0..nr {
                    for c in 0..nc {
                        let v = st[0][b * nr + r] * st[1][b * nc + c] / rmean;
                        u[at(r, c)] = g[at(r, c)] / v.max(eps1 * eps1).sqrt();
                    }
                }
            }
            u
        };
        let rms_u = (u.iter().map(|x| x * x).sum::<f64>() / n).sqrt();
        let k = alpha / (rms_u / d).max(1.0);
        for (x, ui) in p.iter_mut().zip(&u) {
            *x -= k * ui;
        }
    }

    /// Tensors split into many tasks (a vector of several blocks, a batch of matrices of several
    /// column blocks): the same bits on 1 and 3 threads and on every instruction set, and the
    /// serial formulas within rounding, over steps with weight decay.
    #[test]
    fn blocked_passes_match_the_serial_formulas_on_any_thread_count() {
        use crate::Simd;
        let shapes: [&[usize]; 2] = [&[3 * super::BLOCK + 5], &[2, 40, 3 * super::MIN_COLS + 7]];
        for shape in shapes {
            let n: usize = shape.iter().product();
            let p0: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.731).sin()).collect();
            let grad = |s: usize| -> Vec<f64> { (0..n).map(|i| ((i * (s + 3)) as f64 * 0.0137).cos() * 0.1).collect() };
            let mut runs = Vec::new();
            for (threads, simd) in [(1, Simd::Base), (3, Simd::Auto), (2, Simd::Avx2)] {
                let l = Layout::new().with("w", shape).unwrap();
                let cfg = OptimConfig::new("adafactor").set("lr", 0.05).set("weight_decay", 0.1);
                let mut o = registry::build::<f64>(l, &cfg.threads(threads).simd(simd)).unwrap();
                let mut p = p0.clone();
                for s in 0..3 {
                    o.step(&mut [&mut p[..]], &[&grad(s)[..]], None).unwrap();
                }
                runs.push(p);
            }
            assert!(runs[0] == runs[1] && runs[1] == runs[2], "{shape:?}: threads or instruction set changed the bits");
            let mut want = p0.clone();
            let mut st: Vec<Vec<f64>> = if shape.len() == 1 {
                vec![vec![0.0; n]]
            } else {
                vec![vec![0.0; shape[0] * shape[1]], vec![0.0; shape[0] * shape[2]]]
            };
            for s in 0..3 {
                reference(shape, &mut want, &grad(s), &mut st, (s + 1) as f64, 0.05, 0.1);
            }
            for (i, (a, b)) in runs[0].iter().zip(&want).enumerate() {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{shape:?} [{i}]: {a} vs {b}");
            }
        }
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
