//! 2-D convolution on contiguous f32 slices in NCHW layout: im2col + one well-shaped `gemm` per
//! block of samples, block-parallel with rayon, with the backward pass as two products per block
//! (no transposed convolution). A block's im2col matrix has its samples' columns side by side
//! (`cols = samples·P` columns), so that the products stay well shaped on small maps too (ResNet's
//! 8×8 and 4×4 stages have only 64 and 16 positions per sample: one product per sample ran on
//! gemm's thin edge kernels):
//!
//! - forward: `Y_blk [O, cols] = W [O, K] · col(X_blk) [K, cols]`, then `+ b` (and ReLU when
//!   fused) while copied out to the samples' `[O, P]` outputs;
//! - grad weight: `dW = Σ_blk dY_blk · col(X_blk)ᵀ`, grad bias: `db = Σ_blk Σ_cols dY_blk`;
//! - grad input: `dX_blk = col2im(Wᵀ · dY_blk)`,
//!
//! with `K = C·KH·KW` and `P = OH·OW`. The number of samples per block ([`ConvGeom::block`]) and
//! the [`GROUPS`] fixed groups of blocks whose partial weight sums are added in order depend on the
//! shapes only, so the result is the same whatever the number of threads and however rayon
//! schedules the work. Scratch buffers (the im2col matrix and friends) are per thread and reused
//! from call to call.

use gemm::Parallelism;
use rayon::prelude::*;
use std::cell::RefCell;

/// Columns (samples × output positions) a block's products aim for: a sample with at least this
/// many output positions is a block of its own.
pub const BLOCK_COLS: usize = 256;

/// Groups of blocks in the batch sums of the backward pass (fixed, so that the sums' order, hence
/// their rounding, does not depend on the number of threads; each group holds one partial sum of
/// the weight gradient).
pub const GROUPS: usize = 8;

/// The shape of one convolution: input `[n, c, h, w]`, weight `[o, c, kh, kw]`, stride
/// `[sh, sw]`, zero padding `pt` (top) and `pl` (left) (bottom and right padding only enter
/// through the output size `[oh, ow]`), dilation 1, one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pt: usize,
    pub pl: usize,
    pub oh: usize,
    pub ow: usize,
}

impl ConvGeom {
    /// Checks the shapes and computes the output size. `padding` is (top, left, bottom, right).
    pub fn new(x: [usize; 4], weight: [usize; 4], stride: [usize; 2], padding: [usize; 4]) -> Result<Self, String> {
        let [n, c, h, w] = x;
        let [o, wc, kh, kw] = weight;
        let [sh, sw] = stride;
        let [pt, pl, pb, pr] = padding;
        if wc != c {
            return Err(format!("weight {weight:?} has {wc} input channels but the input {x:?} has {c}"));
        }
        if o == 0 || c == 0 || kh == 0 || kw == 0 {
            return Err(format!("weight {weight:?} has a zero dimension"));
        }
        if h == 0 || w == 0 {
            return Err(format!("input {x:?} has a zero height or width"));
        }
        if sh == 0 || sw == 0 {
            return Err(format!("stride {stride:?} has a zero entry"));
        }
        let (hp, wp) = (h + pt + pb, w + pl + pr);
        if hp < kh || wp < kw {
            return Err(format!(
                "kernel {kh}x{kw} is larger than the padded input {hp}x{wp} (input {x:?}, padding {padding:?})"
            ));
        }
        Ok(ConvGeom { n, c, h, w, o, kh, kw, sh, sw, pt, pl, oh: (hp - kh) / sh + 1, ow: (wp - kw) / sw + 1 })
    }

    /// Rows of the im2col matrix: `c·kh·kw`.
    pub fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }
    /// Output positions per channel: `oh·ow`.
    pub fn p(&self) -> usize {
        self.oh * self.ow
    }
    /// Elements of one input sample: `c·h·w`.
    pub fn chw(&self) -> usize {
        self.c * self.h * self.w
    }
    /// Samples per block: the fewest whose output positions reach [`BLOCK_COLS`] (1 when a
    /// sample's reach it alone), at most `n`. Depends on the shape only.
    pub fn block(&self) -> usize {
        BLOCK_COLS.div_ceil(self.p()).clamp(1, self.n.max(1))
    }
    /// Whether the im2col matrix of a sample is the sample itself (1×1 kernel, stride 1, no padding).
    fn col_is_input(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.sh == 1 && self.sw == 1 && self.pt == 0 && self.pl == 0
    }
}

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer of at least `len` elements (a fresh buffer if the
/// thread's own is in use). Its contents on entry are unspecified.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// The columns of sample `x` (`c·h·w` elements): `col[(ci·kh + i)·kw + j][oy·ow + ox] =
/// x[ci][oy·sh + i − pt][ox·sw + j − pl]`, zero outside the input.
pub fn im2col(g: &ConvGeom, x: &[f32], col: &mut [f32]) {
    im2col_ld(g, x, col, g.p())
}

/// [`im2col`] into rows `ld` elements apart (row `r` of the sample's columns is
/// `col[r·ld..r·ld + p]`): a block's samples side by side.
pub fn im2col_ld(g: &ConvGeom, x: &[f32], col: &mut [f32], ld: usize) {
    let (p, ow) = (g.p(), g.ow);
    debug_assert!(ld >= p && col.len() >= (g.k() - 1) * ld + p);
    for ci in 0..g.c {
        let plane = &x[ci * g.h * g.w..][..g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = &mut col[((ci * g.kh + i) * g.kw + j) * ld..][..p];
                // Output columns ox whose input column ox·sw + j − pl lies inside [0, w).
                let lo = ((g.pl.saturating_sub(j)).div_ceil(g.sw)).min(ow);
                let hi = if g.w + g.pl > j { ((g.w + g.pl - j - 1) / g.sw + 1).clamp(lo, ow) } else { lo };
                for oy in 0..g.oh {
                    let dst = &mut row[oy * ow..][..ow];
                    let iy = (oy * g.sh + i) as isize - g.pt as isize;
                    if iy < 0 || iy >= g.h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..][..g.w];
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if g.sw == 1 {
                        dst[lo..hi].copy_from_slice(&src[lo + j - g.pl..hi + j - g.pl]);
                    } else {
                        for (ox, d) in dst[lo..hi].iter_mut().enumerate() {
                            *d = src[(lo + ox) * g.sw + j - g.pl];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds each column entry to the input element it was copied from.
pub fn col2im_add(g: &ConvGeom, col: &[f32], x: &mut [f32]) {
    col2im_add_ld(g, col, x, g.p())
}

/// [`col2im_add`] from rows `ld` elements apart (the adjoint of [`im2col_ld`]).
pub fn col2im_add_ld(g: &ConvGeom, col: &[f32], x: &mut [f32], ld: usize) {
    let (p, ow) = (g.p(), g.ow);
    debug_assert!(ld >= p && col.len() >= (g.k() - 1) * ld + p);
    for ci in 0..g.c {
        let plane = &mut x[ci * g.h * g.w..][..g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = &col[((ci * g.kh + i) * g.kw + j) * ld..][..p];
                let lo = ((g.pl.saturating_sub(j)).div_ceil(g.sw)).min(ow);
                let hi = if g.w + g.pl > j { ((g.w + g.pl - j - 1) / g.sw + 1).clamp(lo, ow) } else { lo };
                for oy in 0..g.oh {
                    let iy = (oy * g.sh + i) as isize - g.pt as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let src = &row[oy * ow..][..ow];
                    let dst = &mut plane[iy as usize * g.w..][..g.w];
                    if g.sw == 1 {
                        for (d, s) in dst[lo + j - g.pl..hi + j - g.pl].iter_mut().zip(&src[lo..hi]) {
                            *d += *s;
                        }
                    } else {
                        for (ox, s) in src[lo..hi].iter().enumerate() {
                            dst[(lo + ox) * g.sw + j - g.pl] += *s;
                        }
                    }
                }
            }
        }
    }
}

/// A row-major matrix operand for [`matmul`]: pointer, row stride, column stride.
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    ptr: *const f32,
    rs: isize,
    cs: isize,
}

impl Mat {
    pub(crate) fn rows(s: &[f32], cols: usize) -> Mat {
        Mat { ptr: s.as_ptr(), rs: cols as isize, cs: 1 }
    }
    /// The transpose of the row-major `rows × cols` matrix `s` (as a `cols × rows` operand).
    pub(crate) fn transposed(s: &[f32], cols: usize) -> Mat {
        Mat { ptr: s.as_ptr(), rs: 1, cs: cols as isize }
    }
}

/// `dst [m, n] (row-major) = (accumulate ? dst : 0) + lhs [m, k] · rhs [k, n]`, one thread.
///
/// # Safety
/// As [`matmul_par`].
unsafe fn matmul(m: usize, n: usize, k: usize, dst: &mut [f32], lhs: Mat, rhs: Mat, accumulate: bool) {
    matmul_par(m, n, k, dst, lhs, rhs, accumulate, Parallelism::None)
}

/// [`matmul`] with gemm's own parallelism `par`. gemm splits the output among threads, never the
/// sum over `k`, so the result does not depend on `par`.
///
/// # Safety
/// `lhs` and `rhs` must describe `m × k` and `k × n` matrices inside live slices, and `dst` must
/// hold `m·n` elements, not overlapping either operand.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn matmul_par(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    lhs: Mat,
    rhs: Mat,
    accumulate: bool,
    par: Parallelism,
) {
    debug_assert!(dst.len() >= m * n);
    gemm::gemm(
        m,
        n,
        k,
        dst.as_mut_ptr(),
        1,
        n as isize,
        accumulate,
        lhs.ptr,
        lhs.cs,
        lhs.rs,
        rhs.ptr,
        rhs.cs,
        rhs.rs,
        if accumulate { 1.0 } else { 0.0 },
        1.0,
        false,
        false,
        false,
        par,
    )
}

/// `+ bias` (and ReLU when `relu`: values ≤ 0 become 0, NaN stays) of one output row, from `src`
/// to `dst`.
#[inline]
fn bias_relu(dst: &mut [f32], src: &[f32], b: f32, relu: bool) {
    if relu {
        for (d, &v) in dst.iter_mut().zip(src) {
            let s = v + b;
            *d = if s <= 0.0 { 0.0 } else { s };
        }
    } else {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v + b;
        }
    }
}

/// The im2col matrix `[k, bs·p]` of the `bs` samples of `x_blk` side by side, in `buf`; the
/// samples themselves when that matrix is the input (one sample, 1×1 kernel, stride 1, no padding).
fn block_columns<'a>(g: &ConvGeom, x_blk: &'a [f32], bs: usize, buf: &'a mut [f32]) -> &'a [f32] {
    if bs == 1 && g.col_is_input() {
        return x_blk;
    }
    let (p, chw, cols) = (g.p(), g.chw(), bs * g.p());
    for s in 0..bs {
        im2col_ld(g, &x_blk[s * chw..][..chw], &mut buf[s * p..], cols);
    }
    &buf[..g.k() * cols]
}

/// Forward pass: `x` is `[n, c, h, w]`, `weight` `[o, c, kh, kw]`, `bias` `[o]`; returns
/// `[n, o, oh, ow]` = conv(x) + bias, with ReLU applied when `relu` (values ≤ 0 become 0, NaN stays).
pub fn conv2d_forward(g: &ConvGeom, x: &[f32], weight: &[f32], bias: &[f32], relu: bool) -> Vec<f32> {
    let (k, p, o, chw) = (g.k(), g.p(), g.o, g.chw());
    assert_eq!(x.len(), g.n * chw, "conv2d_forward: input length");
    assert_eq!(weight.len(), o * k, "conv2d_forward: weight length");
    assert_eq!(bias.len(), o, "conv2d_forward: bias length");
    let mut y = vec![0.0f32; g.n * o * p];
    if y.is_empty() {
        return y;
    }
    let b = g.block();
    y.par_chunks_mut(b * o * p).zip(x.par_chunks(b * chw)).for_each(|(y_blk, x_blk)| {
        let bs = x_blk.len() / chw;
        let cols = bs * p;
        let col_len = if bs == 1 && g.col_is_input() { 0 } else { k * cols };
        let out_len = if bs == 1 { 0 } else { o * cols };
        with_scratch(col_len + out_len, |scratch| {
            let (colbuf, out) = scratch.split_at_mut(col_len);
            let col = block_columns(g, x_blk, bs, colbuf);
            if bs == 1 {
                // One sample: the product's [o, p] is the sample's output.
                // SAFETY: weight is o×k, col is k×p, y_blk holds o·p elements; all distinct slices.
                unsafe { matmul(o, p, k, y_blk, Mat::rows(weight, k), Mat::rows(col, p), false) };
                for (row, &bv) in y_blk.chunks_exact_mut(p).zip(bias) {
                    if relu {
                        for v in row {
                            let s = *v + bv;
                            *v = if s <= 0.0 { 0.0 } else { s };
                        }
                    } else {
                        for v in row {
                            *v += bv;
                        }
                    }
                }
            } else {
                // SAFETY: weight is o×k, col is k×cols, out holds o·cols elements; all distinct.
                unsafe { matmul(o, cols, k, out, Mat::rows(weight, k), Mat::rows(col, cols), false) };
                for (oc, &bv) in bias.iter().enumerate() {
                    for s in 0..bs {
                        bias_relu(&mut y_blk[(s * o + oc) * p..][..p], &out[oc * cols + s * p..][..p], bv, relu);
                    }
                }
            }
        });
    });
    y
}

/// One group of blocks of the backward pass: its first and last block, its weight/bias partial
/// sum and its slice of the input gradient (each when asked for).
type Task<'a> = (usize, usize, Option<&'a mut [f32]>, Option<&'a mut [f32]>);

/// Gradients of [`conv2d_forward`].
pub struct ConvGrads {
    /// `[n, c, h, w]`, when asked for.
    pub x: Option<Vec<f32>>,
    /// `[o, c, kh, kw]` and `[o]`, when asked for.
    pub weight_bias: Option<(Vec<f32>, Vec<f32>)>,
}

/// Backward pass of [`conv2d_forward`] given the output gradient `dy` (`[n, o, oh, ow]`); `y` is
/// the forward output when the forward pass applied ReLU (the gradient is cut where `y ≤ 0`, as
/// burn's ReLU does).
pub fn conv2d_backward(
    g: &ConvGeom,
    x: &[f32],
    weight: &[f32],
    y: Option<&[f32]>,
    dy: &[f32],
    need_x: bool,
    need_weight: bool,
) -> ConvGrads {
    let (k, p, o, chw, n) = (g.k(), g.p(), g.o, g.chw(), g.n);
    assert_eq!(x.len(), n * chw, "conv2d_backward: input length");
    assert_eq!(weight.len(), o * k, "conv2d_backward: weight length");
    assert_eq!(dy.len(), n * o * p, "conv2d_backward: output-gradient length");
    if let Some(y) = y {
        assert_eq!(y.len(), dy.len(), "conv2d_backward: output length");
    }
    let b = g.block();
    let blocks = n.div_ceil(b);
    let groups = blocks.min(GROUPS);
    let part = o * k + o;
    let mut parts = vec![0.0f32; if need_weight { groups * part } else { 0 }];
    let mut dx = vec![0.0f32; if need_x { n * chw } else { 0 }];
    {
        // Group gi holds blocks [gi·blocks/groups, (gi+1)·blocks/groups).
        let mut tasks: Vec<Task<'_>> = Vec::with_capacity(groups);
        let mut part_rest: &mut [f32] = &mut parts;
        let mut dx_rest: &mut [f32] = &mut dx;
        for gi in 0..groups {
            let (b0, b1) = (gi * blocks / groups, (gi + 1) * blocks / groups);
            let part_g = need_weight.then(|| {
                let (head, tail) = std::mem::take(&mut part_rest).split_at_mut(part);
                part_rest = tail;
                head
            });
            let dx_g = need_x.then(|| {
                let samples = (b1 * b).min(n) - b0 * b;
                let (head, tail) = std::mem::take(&mut dx_rest).split_at_mut(samples * chw);
                dx_rest = tail;
                head
            });
            tasks.push((b0, b1, part_g, dx_g));
        }
        tasks.into_par_iter().for_each(|(b0, b1, mut part, mut dx_g)| {
            let cols_max = b * p;
            let gather = if y.is_some() || b > 1 { o * cols_max } else { 0 };
            let col_len = if need_weight && !(b == 1 && g.col_is_input()) { k * cols_max } else { 0 };
            let dcol_len = if need_x { k * cols_max } else { 0 };
            with_scratch(gather + col_len + dcol_len, |scratch| {
                let (gbuf, rest) = scratch.split_at_mut(gather);
                let (colbuf, dcol) = rest.split_at_mut(col_len);
                for blk in b0..b1 {
                    let s0 = blk * b;
                    let bs = b.min(n - s0);
                    let cols = bs * p;
                    // The block's output gradient as one [o, cols] matrix (ReLU mask applied).
                    let dy_blk = &dy[s0 * o * p..][..bs * o * p];
                    let g_blk: &[f32] = if bs == 1 && y.is_none() {
                        dy_blk
                    } else {
                        for s in 0..bs {
                            for oc in 0..o {
                                let src = &dy_blk[(s * o + oc) * p..][..p];
                                let dst = &mut gbuf[oc * cols + s * p..][..p];
                                match y {
                                    Some(y) => {
                                        let y_row = &y[((s0 + s) * o + oc) * p..][..p];
                                        for ((d, &v), &yv) in dst.iter_mut().zip(src).zip(y_row) {
                                            *d = if yv <= 0.0 { 0.0 } else { v };
                                        }
                                    }
                                    None => dst.copy_from_slice(src),
                                }
                            }
                        }
                        &gbuf[..o * cols]
                    };
                    let x_blk = &x[s0 * chw..][..bs * chw];
                    if let Some(part) = part.as_deref_mut() {
                        let (dw, db) = part.split_at_mut(o * k);
                        let col = block_columns(g, x_blk, bs, colbuf);
                        // dW += g_blk [o, cols] · colᵀ [cols, k].
                        // SAFETY: g_blk is o×cols, col is k×cols (read transposed), dw holds o·k.
                        unsafe {
                            matmul(o, k, cols, dw, Mat::rows(g_blk, cols), Mat::transposed(col, cols), blk != b0)
                        };
                        for (bsum, row) in db.iter_mut().zip(g_blk.chunks_exact(cols)) {
                            *bsum += row.iter().sum::<f32>();
                        }
                    }
                    if let Some(dx_g) = dx_g.as_deref_mut() {
                        // dcol [k, cols] = Wᵀ [k, o] · g_blk [o, cols]; dX_s = col2im(dcol's columns of s).
                        let dcol = &mut dcol[..k * cols];
                        // SAFETY: weight is o×k (read transposed), g_blk is o×cols, dcol holds k·cols.
                        unsafe { matmul(k, cols, o, dcol, Mat::transposed(weight, k), Mat::rows(g_blk, cols), false) };
                        for s in 0..bs {
                            let dx_s = &mut dx_g[(s0 - b0 * b + s) * chw..][..chw];
                            if bs == 1 && g.col_is_input() {
                                dx_s.copy_from_slice(dcol);
                            } else {
                                col2im_add_ld(g, &dcol[s * p..], dx_s, cols);
                            }
                        }
                    }
                }
            });
        });
    }
    let weight_bias = need_weight.then(|| {
        // The groups' partial sums, added in order to the first (into a vector of the gradient's
        // own size: the gradient lives until the optimizer step, `parts` is freed now).
        let (first, rest) = parts.split_at(part);
        let mut dw = first.to_vec();
        for chunk in rest.chunks_exact(part) {
            dw.iter_mut().zip(chunk).for_each(|(a, b)| *a += *b);
        }
        let db = dw.split_off(o * k);
        (dw, db)
    });
    ConvGrads { x: need_x.then_some(dx), weight_bias }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Direct convolution in f64 (the definition), for checking.
    fn naive(g: &ConvGeom, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f64> {
        let mut y = vec![0.0f64; g.n * g.o * g.p()];
        for s in 0..g.n {
            for oc in 0..g.o {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let mut acc = b[oc] as f64;
                        for ci in 0..g.c {
                            for i in 0..g.kh {
                                for j in 0..g.kw {
                                    let iy = (oy * g.sh + i) as isize - g.pt as isize;
                                    let ix = (ox * g.sw + j) as isize - g.pl as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                                        acc += x[((s * g.c + ci) * g.h + iy as usize) * g.w + ix as usize] as f64
                                            * w[((oc * g.c + ci) * g.kh + i) * g.kw + j] as f64;
                                    }
                                }
                            }
                        }
                        y[((s * g.o + oc) * g.oh + oy) * g.ow + ox] = acc;
                    }
                }
            }
        }
        y
    }

    fn rand_vec(n: usize, rng: &mut StdRng) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    #[test]
    fn im2col_and_col2im_are_adjoint_and_forward_matches_the_definition() {
        let mut rng = StdRng::seed_from_u64(7);
        for &(shape, wshape, stride, pad) in &[
            ([2, 3, 7, 6], [4, 3, 3, 2], [1, 1], [0, 0, 0, 0]),
            ([3, 2, 8, 9], [5, 2, 3, 3], [2, 3], [1, 2, 0, 1]),
            ([1, 1, 5, 5], [2, 1, 1, 1], [1, 1], [0, 0, 0, 0]),
            ([5, 2, 4, 4], [3, 2, 5, 5], [1, 1], [2, 2, 2, 2]),
        ] {
            let g = ConvGeom::new(shape, wshape, stride, pad).unwrap();
            let x = rand_vec(g.n * g.chw(), &mut rng);
            let w = rand_vec(g.o * g.k(), &mut rng);
            let b = rand_vec(g.o, &mut rng);
            let y = conv2d_forward(&g, &x, &w, &b, false);
            for (a, e) in y.iter().zip(naive(&g, &x, &w, &b)) {
                assert!((*a as f64 - e).abs() < 1e-5 * (1.0 + e.abs()), "{shape:?}: {a} vs {e}");
            }
            // <im2col(x), c> = <x, col2im(c)>
            let mut col = vec![0.0; g.k() * g.p()];
            im2col(&g, &x[..g.chw()], &mut col);
            let c = rand_vec(col.len(), &mut rng);
            let mut back = vec![0.0; g.chw()];
            col2im_add(&g, &c, &mut back);
            let lhs: f64 = col.iter().zip(&c).map(|(a, b)| *a as f64 * *b as f64).sum();
            let rhs: f64 = x[..g.chw()].iter().zip(&back).map(|(a, b)| *a as f64 * *b as f64).sum();
            assert!((lhs - rhs).abs() < 1e-4, "{shape:?}: {lhs} vs {rhs}");
        }
    }

    #[test]
    fn backward_does_not_depend_on_the_number_of_threads() {
        // One block per sample (P ≥ BLOCK_COLS); blocks of 8 (P = 36) with a partial last one;
        // blocks of 16 on a 4×4 map (37 = 16 + 16 + 5); more blocks (10) than GROUPS; a 1×1
        // stride-2 projection.
        for (x, w, stride, pad) in [
            ([5, 2, 16, 16], [3, 2, 3, 3], [1, 1], [1, 1, 1, 1]),
            ([9, 3, 6, 6], [4, 3, 3, 3], [1, 1], [1, 1, 1, 1]),
            ([37, 3, 4, 4], [5, 3, 3, 3], [1, 1], [1, 1, 1, 1]),
            ([40, 2, 8, 8], [3, 2, 3, 3], [1, 1], [1, 1, 1, 1]),
            ([19, 4, 8, 8], [6, 4, 1, 1], [2, 2], [0, 0, 0, 0]),
        ] {
            let g = ConvGeom::new(x, w, stride, pad).unwrap();
            let mut rng = StdRng::seed_from_u64(3);
            let x = rand_vec(g.n * g.chw(), &mut rng);
            let w = rand_vec(g.o * g.k(), &mut rng);
            let dy = rand_vec(g.n * g.o * g.p(), &mut rng);
            let y = conv2d_forward(&g, &x, &w, &vec![0.0; g.o], true);
            let run = |threads| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    let f = conv2d_forward(&g, &x, &w, &vec![0.5; g.o], false);
                    let r = conv2d_backward(&g, &x, &w, Some(&y), &dy, true, true);
                    (f, r.x.unwrap(), r.weight_bias.unwrap())
                })
            };
            let one = run(1);
            assert_eq!(one, run(2), "{g:?}");
            assert_eq!(one, run(3), "{g:?}");
        }
    }

    /// The gradients of the blocked products against the definition (f64, sample by sample) on
    /// shapes whose batch is not a multiple of the block.
    #[test]
    fn blocked_backward_matches_the_definition() {
        for (x, w, stride, pad) in [
            ([37, 3, 4, 4], [5, 3, 3, 3], [1, 1], [1, 1, 1, 1]),
            ([40, 2, 5, 3], [3, 2, 2, 2], [2, 1], [1, 0, 0, 1]),
            ([19, 4, 8, 8], [6, 4, 1, 1], [2, 2], [0, 0, 0, 0]),
        ] {
            let g = ConvGeom::new(x, w, stride, pad).unwrap();
            assert!(g.block() > 1 && !g.n.is_multiple_of(g.block()), "{g:?}");
            let mut rng = StdRng::seed_from_u64(5);
            let x = rand_vec(g.n * g.chw(), &mut rng);
            let w = rand_vec(g.o * g.k(), &mut rng);
            let dy = rand_vec(g.n * g.o * g.p(), &mut rng);
            let r = conv2d_backward(&g, &x, &w, None, &dy, true, true);
            let (dx, (dw, db)) = (r.x.unwrap(), r.weight_bias.unwrap());
            // The weight gradient (kept until the optimizer step) holds its own size, not the
            // groups' partial sums.
            assert!(dw.capacity() <= g.o * g.k() + g.o, "{g:?}: capacity {} for {}", dw.capacity(), dw.len());
            let (mut ex, mut ew, mut eb) = (vec![0.0f64; dx.len()], vec![0.0f64; dw.len()], vec![0.0f64; db.len()]);
            for s in 0..g.n {
                for oc in 0..g.o {
                    for oy in 0..g.oh {
                        for ox in 0..g.ow {
                            let d = dy[((s * g.o + oc) * g.oh + oy) * g.ow + ox] as f64;
                            eb[oc] += d;
                            for ci in 0..g.c {
                                for i in 0..g.kh {
                                    for j in 0..g.kw {
                                        let iy = (oy * g.sh + i) as isize - g.pt as isize;
                                        let ix = (ox * g.sw + j) as isize - g.pl as isize;
                                        if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                                            let xi = ((s * g.c + ci) * g.h + iy as usize) * g.w + ix as usize;
                                            let wi = ((oc * g.c + ci) * g.kh + i) * g.kw + j;
                                            ew[wi] += d * x[xi] as f64;
                                            ex[xi] += d * w[wi] as f64;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for (what, got, want) in [("dx", &dx, &ex), ("dw", &dw, &ew), ("db", &db, &eb)] {
                for (a, e) in got.iter().zip(want.iter()) {
                    assert!((*a as f64 - e).abs() < 1e-4 * (1.0 + e.abs()), "{g:?} {what}: {a} vs {e}");
                }
            }
        }
    }

    #[test]
    fn bad_shapes_are_named() {
        let e = ConvGeom::new([1, 2, 5, 5], [3, 4, 3, 3], [1, 1], [0; 4]).unwrap_err();
        assert!(e.contains("4 input channels"), "{e}");
        let e = ConvGeom::new([1, 2, 2, 2], [3, 2, 3, 3], [1, 1], [0; 4]).unwrap_err();
        assert!(e.contains("larger than the padded input"), "{e}");
        assert!(ConvGeom::new([1, 2, 5, 5], [3, 2, 3, 3], [0, 1], [0; 4]).unwrap_err().contains("stride"));
    }
}
