//! Muon (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks"), as
//! torch.optim.Muon (torch 2.x), with AdamW for the parameters Muon does not take.
//!
//! Per matrix, with momentum `μ`:
//! - `B ← lerp(B, g, 1 − μ)`; the update is `lerp(g, B, μ)` (`nesterov`, default) or `B`
//! - `O = NS(update)`: `ns_steps` quintic Newton–Schulz iterations with coefficients
//!   `(ns_a, ns_b, ns_c)` on `X = update/max(‖update‖_F, eps)` (transposed first when it has more
//!   rows than columns): `A = X·Xᵀ`, `X ← ns_a·X + (ns_b·A + ns_c·A·A)·X`
//! - `p ← p·(1 − lr·weight_decay)`, then `p ← p − lr'·O` with `lr'` from `adjust_lr_fn` and the
//!   matrix shape `(rows, cols)`: `original` `lr·√max(1, rows/cols)`, `match_rms_adamw`
//!   `0.2·lr·√max(rows, cols)`, `spectral_unclamped` `lr·√(rows/cols)`
//!
//! Muon acts on matrices. Tensors of rank > 2 (convolution kernels) are reshaped to
//! `(shape[0], rest)` as Keller Jordan's Muon does (torch's Muon refuses them). Tensors of rank < 2
//! are refused in a Muon group: put them in a group with `use_muon=false`, which runs torch's AdamW
//! on them (`lr` and `weight_decay` of that group, `adamw_beta1`, `adamw_beta2`, `adamw_eps`), the
//! split torch's documentation recommends (Keller Jordan's `MuonWithAuxAdam` in one optimizer).
//!
//! torch's Muon runs Newton–Schulz in bfloat16 whatever the parameters' dtype; optlab runs it in
//! the parameters' dtype (f32 or f64). The matrix products sum in a fixed order per element, so
//! results do not depend on the thread count or the instruction set.

use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx, TensorStep};
use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::{Hyper, Kind, Parity, Spec, Variant};
use crate::simd::Simd;

use super::common::*;

pub struct Muon;

crate::choice! {
    /// How the step size is scaled for the matrix shape (torch's `adjust_lr_fn`).
    pub enum AdjustLr { Original = "original", MatchRmsAdamw = "match_rms_adamw", SpectralUnclamped = "spectral_unclamped" }
}

crate::hypers! {
    /// Muon's hyperparameters (torch's names, `ns_coefficients` split into `ns_a`, `ns_b`, `ns_c`),
    /// and the AdamW settings of `use_muon=false` groups.
    pub struct MuonHp {
        lr: f64 [Kind::NONNEG] = 1e-3, LR_DOC;
        weight_decay: f64 [Kind::NONNEG] = 0.1, "decoupled weight decay: p <- p (1 - lr weight_decay)";
        momentum: f64 [Kind::NONNEG] = 0.95, "momentum factor: B <- lerp(B, g, 1 - momentum)";
        nesterov: bool [] = true, "Nesterov momentum: orthogonalise lerp(g, B, momentum) instead of B";
        ns_a: f64 [Kind::REAL] = 3.4445, "Newton-Schulz coefficient a (of X)";
        ns_b: f64 [Kind::REAL] = -4.7750, "Newton-Schulz coefficient b (of X X^T)";
        ns_c: f64 [Kind::REAL] = 2.0315, "Newton-Schulz coefficient c (of (X X^T)^2)";
        eps: f64 [Kind::NONNEG] = 1e-7, "floor of the Frobenius norm the update is divided by before Newton-Schulz";
        ns_steps: i64 [0, 99] = 5, "Newton-Schulz iterations";
        adjust_lr_fn: AdjustLr [] = AdjustLr::Original, "step-size scaling for the matrix shape (rows, cols): original lr sqrt(max(1, rows/cols)), match_rms_adamw 0.2 lr sqrt(max(rows, cols)), spectral_unclamped lr sqrt(rows/cols)";
        use_muon: bool [] = true, "false: this group runs AdamW (for biases, norms and other tensors of rank < 2)";
        adamw_beta1: f64 [Kind::UNIT_OPEN] = 0.9, "AdamW's beta1 in use_muon=false groups";
        adamw_beta2: f64 [Kind::UNIT_OPEN] = 0.999, "AdamW's beta2 in use_muon=false groups";
        adamw_eps: f64 [Kind::NONNEG] = 1e-8, "AdamW's eps in use_muon=false groups";
    }
}

static SPEC: Spec = Spec {
    name: "muon",
    summary: "Muon: momentum orthogonalised by Newton-Schulz per matrix (AdamW for use_muon=false groups)",
    reference: "Jordan et al. 2024; torch.optim.Muon",
    hypers: MuonHp::HYPERS,
    conventions: &[
        "torch's Muon: momentum B <- lerp(B, g, 1 - momentum), Nesterov lerp(g, B, momentum), 5 quintic \
         Newton-Schulz steps (3.4445, -4.7750, 2.0315) on the update over max(||update||_F, eps), transposed when \
         it has more rows than columns; decoupled decay p (1 - lr wd) before the step",
        "Newton-Schulz in the parameters' dtype; torch's Muon always computes it in bfloat16 (the goldens patch \
         torch to keep float64)",
        "rank > 2 tensors are reshaped to (shape[0], rest), as Keller Jordan's Muon (torch refuses them); \
         adjust_lr_fn uses that matrix shape",
        "rank < 2 tensors are refused in a Muon group; use_muon=false groups run torch's AdamW with the group's \
         lr and weight_decay and adamw_beta1, adamw_beta2, adamw_eps",
    ],
    needs_hessian: false,
    parity: Parity::Torch("Muon"),
    variants: &[
        Variant::tested("plain", &[("nesterov", "false"), ("weight_decay", "0"), ("ns_steps", "3")]),
        Variant::tested("match_rms_adamw", &[("adjust_lr_fn", "match_rms_adamw"), ("momentum", "0.9")]),
        Variant::tested(
            "spectral_unclamped",
            &[("adjust_lr_fn", "spectral_unclamped"), ("ns_a", "3.0"), ("ns_b", "-3.2"), ("ns_c", "1.2")],
        ),
    ],
};

/// The coefficients of one step of one tensor.
#[derive(Clone, Copy)]
pub struct Coef {
    hp: MuonHp,
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

/// Rows of `c` computed per task of the parallel matrix product.
const TASK_ROWS: usize = 32;
/// Rows of a register tile of `c` ([`rows_kernel`]).
const MR: usize = 4;
/// Columns of a register tile of `c`: two AVX-512 vectors of f32.
const NR: usize = 32;

/// `acc[j] += x·b[j]` over a tile row (a multiply, then an add).
#[inline(always)]
fn axpy<T: Float>(acc: &mut [T; NR], x: T, b: &[T; NR]) {
    for j in 0..NR {
        acc[j] += x * b[j];
    }
}

/// `c[r][j] = Σ_k a[r][k]·b[k][j]` for the rows of `c` (each `n` long), `a` holding the same
/// rows (each `k` long): every element is summed in ascending `k`, a multiply then an add per
/// term, so the result does not depend on how rows and columns are tiled or on vector width.
/// Tiles of `MR × NR` elements of `c` stay in registers over the whole sum; the remaining rows
/// and columns take the same sums one row of `c` at a time.
#[inline(always)]
fn rows_kernel<T: Float>(a: &[T], b: &[T], k: usize, n: usize, c: &mut [T]) {
    let rows = c.len() / n;
    let full = n - n % NR;
    let brows = || b.chunks_exact(n).take(k);
    // The tile's columns of `b`, packed contiguously (rows of `b` a power of two apart would
    // share cache sets).
    let mut bp = vec![[T::ZERO; NR]; if full > 0 { k } else { 0 }];
    for j0 in (0..full).step_by(NR) {
        for (p, brow) in bp.iter_mut().zip(brows()) {
            *p = brow[j0..j0 + NR].try_into().unwrap();
        }
        let mut r = 0;
        while r + MR <= rows {
            let (a0, a1, a2, a3) =
                (&a[r * k..(r + 1) * k], &a[(r + 1) * k..(r + 2) * k], &a[(r + 2) * k..(r + 3) * k], &a[(r + 3) * k..(r + 4) * k]);
            let mut acc = [[T::ZERO; NR]; MR];
            for ((((bb, &x0), &x1), &x2), &x3) in bp.iter().zip(a0).zip(a1).zip(a2).zip(a3) {
                axpy(&mut acc[0], x0, bb);
                axpy(&mut acc[1], x1, bb);
                axpy(&mut acc[2], x2, bb);
                axpy(&mut acc[3], x3, bb);
            }
            for (i, row) in acc.iter().enumerate() {
                let at = (r + i) * n + j0;
                c[at..at + NR].copy_from_slice(row);
            }
            r += MR;
        }
        while r < rows {
            let mut acc = [T::ZERO; NR];
            for (bb, &x) in bp.iter().zip(&a[r * k..(r + 1) * k]) {
                axpy(&mut acc, x, bb);
            }
            c[r * n + j0..r * n + j0 + NR].copy_from_slice(&acc);
            r += 1;
        }
    }
    if full < n {
        for r in 0..rows {
            let cr = &mut c[r * n + full..(r + 1) * n];
            cr.iter_mut().for_each(|x| *x = T::ZERO);
            for (brow, &ar) in brows().zip(&a[r * k..(r + 1) * k]) {
                for (cj, &x) in cr.iter_mut().zip(&brow[full..]) {
                    *cj += ar * x;
                }
            }
        }
    }
}

crate::simd::isa_dispatch! {
    fn rows_dispatch = rows_kernel(a: &[T], b: &[T], k: usize, n: usize, c: &mut [T]) -> ();
}

/// `c = a·b` with `a` `m×k`, `b` `k×n`, row-major; rows of `c` in parallel when allowed.
fn matmul<T: Float>(t: (bool, Simd), a: &[T], b: &[T], m: usize, k: usize, n: usize, c: &mut [T]) {
    let (parallel, simd) = t;
    debug_assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n);
    if parallel && m * k * n >= 1 << 18 && m > TASK_ROWS {
        use rayon::prelude::*;
        c.par_chunks_mut(TASK_ROWS * n)
            .zip(a.par_chunks(TASK_ROWS * k))
            .for_each(|(cb, ab)| rows_dispatch(simd, ab, b, k, n, cb));
    } else {
        rows_dispatch(simd, a, b, k, n, c);
    }
}

fn transpose<T: Float>(x: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = vec![T::ZERO; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
    out
}

/// Newton–Schulz orthogonalisation of the `rows×cols` matrix `g` (torch's
/// `_zeropower_via_newtonschulz` in the element type `T`), into a new matrix of the same shape.
pub fn newton_schulz<T: Float>(
    par: (bool, Simd),
    g: &[T],
    rows: usize,
    cols: usize,
    (a, b, c): (f64, f64, f64),
    steps: usize,
    eps: f64,
) -> Vec<T> {
    let tall = rows > cols;
    let (m, n) = if tall { (cols, rows) } else { (rows, cols) };
    let mut x = if tall { transpose(g, rows, cols) } else { g.to_vec() };
    let mut sq = [0.0f64; 8];
    for (i, v) in x.iter().enumerate() {
        sq[i % 8] += v.to_f64() * v.to_f64();
    }
    let norm = T::of(sq.iter().sum::<f64>().sqrt().max(eps));
    x.iter_mut().for_each(|v| *v = *v / norm);
    let (ta, tb, tc) = (T::of(a), T::of(b), T::of(c));
    let mut gram = vec![T::ZERO; m * m];
    let mut gram2 = vec![T::ZERO; m * m];
    let mut next = vec![T::ZERO; m * n];
    for _ in 0..steps {
        let xt = transpose(&x, m, n);
        matmul(par, &x, &xt, m, n, m, &mut gram);
        matmul(par, &gram, &gram, m, m, m, &mut gram2);
        // B = b A + c A A
        for (g2, &g1) in gram2.iter_mut().zip(&gram) {
            *g2 = tb * g1 + tc * *g2;
        }
        matmul(par, &gram2, &x, m, m, n, &mut next);
        for (xn, &xo) in next.iter_mut().zip(&x) {
            *xn = ta * xo + *xn;
        }
        std::mem::swap(&mut x, &mut next);
    }
    if tall {
        transpose(&x, m, n)
    } else {
        x
    }
}

impl MuonHp {
    fn adjusted_lr(&self, rows: usize, cols: usize) -> f64 {
        let (a, b) = (rows as f64, cols as f64);
        let ratio = match self.adjust_lr_fn {
            AdjustLr::Original => (a / b).max(1.0).sqrt(),
            AdjustLr::MatchRmsAdamw => 0.2 * a.max(b).sqrt(),
            AdjustLr::SpectralUnclamped => (a / b).sqrt(),
        };
        self.lr * ratio
    }
}

impl<T: Float> Algorithm<T> for Muon {
    type Coef = Coef;
    const WHOLE_TENSOR: bool = true;
    const FALLBACK: Option<(&'static str, &'static str)> = Some(("use_muon", "false"));

    fn spec() -> &'static Spec {
        &SPEC
    }
    fn new(_hp: &Hyper) -> Result<Self> {
        Ok(Muon)
    }
    fn buffers(hp: &Hyper) -> Vec<Buffer> {
        if MuonHp::read(hp).use_muon {
            vec![Buffer::zeros("momentum_buffer")]
        } else {
            vec![Buffer::zeros("exp_avg"), Buffer::zeros("exp_avg_sq")]
        }
    }
    fn check_tensor(hp: &Hyper, name: &str, shape: &[usize]) -> Result<()> {
        if MuonHp::read(hp).use_muon && shape.len() < 2 {
            return Err(OptimError::Tensor {
                tensor: name.into(),
                what: format!(
                    "muon takes only matrices: it orthogonalises each update by Newton-Schulz iterations, which need \
                     a parameter of rank >= 2, and this one has shape {shape:?} (rank {}). A test function's point is \
                     a vector, so muon does not apply to the test functions; in a network, put vectors and scalars \
                     (biases, norm scales) in a parameter group with use_muon=false, which runs AdamW on them (e.g. \
                     --group '*.bias:use_muon=false')",
                    shape.len()
                ),
            });
        }
        Ok(())
    }
    fn prepare(&self, hp: &Hyper, ctx: &StepCtx<'_>, _s: &mut [f64]) -> Result<Coef> {
        Ok(Coef { hp: MuonHp::read(hp), step: ctx.step })
    }
    fn update_tensor(&self, k: &Coef, t: TensorStep<'_, T>) {
        let hp = &k.hp;
        let n = t.p.len();
        if n == 0 {
            return;
        }
        let decay = T::of(1.0 - hp.lr * hp.weight_decay);
        if !hp.use_muon {
            // torch's AdamW (single-tensor path).
            let (b1, b2) = (hp.adamw_beta1, hp.adamw_beta2);
            let bc1 = bias_correction(b1, k.step);
            let bc2_sqrt = T::of(bias_correction(b2, k.step).sqrt());
            let neg_step = T::of(-hp.lr / bc1);
            let (w1, low) = (T::of(1.0 - b1), (1.0 - b1).abs() < 0.5);
            let (tb2, omb2, eps) = (T::of(b2), T::of(1.0 - b2), T::of(hp.adamw_eps));
            let [m, v, ..] = t.s;
            for (((p, &g), m), v) in t.p.iter_mut().zip(t.g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *p *= decay;
                *m = lerp(*m, g, w1, low);
                *v = *v * tb2 + omb2 * g * g;
                *p += neg_step * (*m / ((*v).sqrt() / bc2_sqrt + eps));
            }
            return;
        }
        let rows = t.shape[0];
        let cols = n / rows.max(1);
        let [buf, ..] = t.s;
        let mu = hp.momentum;
        let (w, low) = (T::of(1.0 - mu), (1.0 - mu).abs() < 0.5);
        let (tm, low_m) = (T::of(mu), mu.abs() < 0.5);
        let mut upd = Vec::with_capacity(n);
        for (b, &g) in buf.iter_mut().zip(t.g) {
            *b = lerp(*b, g, w, low);
            upd.push(if hp.nesterov { lerp(g, *b, tm, low_m) } else { *b });
        }
        let o = newton_schulz(
            (t.parallel, t.simd),
            &upd,
            rows,
            cols,
            (hp.ns_a, hp.ns_b, hp.ns_c),
            hp.ns_steps as usize,
            hp.eps,
        );
        let alpha = T::of(-hp.adjusted_lr(rows, cols));
        for (p, &o) in t.p.iter_mut().zip(&o) {
            *p *= decay;
            *p += alpha * o;
        }
    }
    /// Not used: Muon updates whole tensors ([`Algorithm::update_tensor`]).
    fn update<const S: bool>(_c: &Coef, _chunk: Chunk<'_, T>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{registry, GroupConfig, Layout, OptimConfig};

    /// Newton–Schulz drives the singular values of a matrix towards 1 (into the quintic's band,
    /// roughly 0.5..1.5 after 5 steps) and is transpose-equivariant.
    #[test]
    fn newton_schulz_orthogonalises_and_commutes_with_transposition() {
        let (r, c) = (6, 9);
        let g: Vec<f64> = (0..r * c).map(|i| ((i * 37 % 17) as f64 - 8.0) / 5.0 + (i as f64 * 0.3).sin()).collect();
        let co = (3.4445, -4.7750, 2.0315);
        let o = newton_schulz((false, Simd::Base), &g, r, c, co, 5, 1e-7);
        // O O^T has eigenvalues s_i^2 in [0.25, 2.25]: check its trace per row is in that band.
        let mut oot = vec![0.0; r * r];
        matmul((false, Simd::Base), &o, &transpose(&o, r, c), r, c, r, &mut oot);
        for i in 0..r {
            assert!((0.25..2.25).contains(&oot[i * r + i]), "diag {i}: {}", oot[i * r + i]);
        }
        let gt = transpose(&g, r, c);
        let ot = newton_schulz((false, Simd::Base), &gt, c, r, co, 5, 1e-7);
        assert_eq!(transpose(&ot, c, r), o);
    }

    /// The parallel product and the vector kernels give the same bits as the serial baseline.
    #[test]
    fn matmul_does_not_depend_on_threads_or_instruction_set() {
        let (m, k, n) = (70, 300, 45);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 104729 % 997) as f32 - 498.0) * 1e-3).collect();
        let mut base = vec![0.0; m * n];
        matmul((false, Simd::Base), &a, &b, m, k, n, &mut base);
        for (par, simd) in [(true, Simd::Base), (true, Simd::Auto.resolve()), (false, Simd::Auto.resolve())] {
            let mut c = vec![0.0; m * n];
            let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
            pool.install(|| matmul((par, simd), &a, &b, m, k, n, &mut c));
            assert!(c.iter().zip(&base).all(|(x, y)| x.to_bits() == y.to_bits()), "{par} {simd:?}");
        }
        // And it is the plain product, bit for bit: every element summed in ascending k, a
        // multiply then an add per term (the tiles, the remaining rows and the remaining
        // columns: 70 rows and 45 columns are not multiples of MR and NR).
        for r in 0..m {
            for j in 0..n {
                let mut want = 0.0f32;
                for kk in 0..k {
                    want += a[r * k + kk] * b[kk * n + j];
                }
                assert_eq!(base[r * n + j].to_bits(), want.to_bits(), "c[{r}][{j}]");
            }
        }
    }

    /// A vector is refused in a Muon group, naming the tensor and saying why and what to do.
    #[test]
    fn vectors_are_refused_with_the_reason_and_the_fallback() {
        let e = registry::build::<f64>(Layout::single("x", 2), &OptimConfig::new("muon")).err().unwrap().to_string();
        assert!(e.contains("`x`") && e.contains("rank >= 2") && e.contains("test function"), "{e}");
        assert!(e.contains("use_muon=false") && e.contains("AdamW"), "{e}");
        let l = Layout::new().with("fc.weight", &[3, 4]).unwrap().with("fc.bias", &[4]).unwrap();
        let e = registry::build::<f64>(l.clone(), &OptimConfig::new("muon")).err().unwrap().to_string();
        assert!(e.contains("`fc.bias`"), "{e}");
        let ok = OptimConfig::new("muon").group(GroupConfig {
            tensors: vec!["*.bias".into()],
            set: [("use_muon".into(), "false".into())].into(),
            schedules: vec![],
        });
        registry::build::<f64>(l, &ok).unwrap();
    }

    /// torch's limit of fewer than 100 Newton-Schulz steps, and a bad adjust_lr_fn, are refused.
    #[test]
    fn ns_steps_and_adjust_lr_fn_are_checked() {
        let l = Layout::new().with("w", &[2, 2]).unwrap();
        let e = registry::build::<f64>(l.clone(), &OptimConfig::new("muon").set("ns_steps", 100)).err().unwrap();
        assert!(e.to_string().contains("`ns_steps`"), "{e}");
        let e = registry::build::<f64>(l, &OptimConfig::new("muon").set("adjust_lr_fn", "none")).err().unwrap();
        assert!(e.to_string().contains("match_rms_adamw"), "{e}");
    }

    /// A rank-4 kernel is reshaped to (shape[0], rest): the same step as the 2-D matrix.
    #[test]
    fn higher_rank_tensors_step_as_their_reshaped_matrix() {
        let g: Vec<f64> = (0..24).map(|i| (i as f64 * 0.7).sin()).collect();
        let mut a: Vec<f64> = (0..24).map(|i| (i as f64 * 0.3).cos()).collect();
        let mut b = a.clone();
        let cfg = OptimConfig::new("muon").set("lr", 0.1);
        let mut o4 = registry::build::<f64>(Layout::new().with("k", &[2, 3, 2, 2]).unwrap(), &cfg).unwrap();
        let mut o2 = registry::build::<f64>(Layout::new().with("k", &[2, 12]).unwrap(), &cfg).unwrap();
        o4.step(&mut [&mut a[..]], &[&g[..]], None).unwrap();
        o2.step(&mut [&mut b[..]], &[&g[..]], None).unwrap();
        assert_eq!(a, b);
    }

    /// A use_muon=false group is torch's AdamW: the first step moves each element by lr·sign(g)
    /// (up to eps) after the decay.
    #[test]
    fn adamw_groups_step_as_adamw() {
        let cfg = OptimConfig::new("muon").set("use_muon", false).set("lr", 0.1).set("weight_decay", 0.5);
        let mut o = registry::build::<f64>(Layout::single("b", 2), &cfg).unwrap();
        let mut b = vec![1.0, -2.0];
        o.step(&mut [&mut b[..]], &[&[0.3, -4.0][..]], None).unwrap();
        let d = 1.0 - 0.1 * 0.5;
        assert!((b[0] - (d - 0.1)).abs() < 1e-7 && (b[1] - (-2.0 * d + 0.1)).abs() < 1e-7, "{b:?}");
        let names: Vec<String> = o.state().tensors[0].buffers.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, ["exp_avg", "exp_avg_sq"]);
    }
}
