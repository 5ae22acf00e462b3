//! 2-D convolution on contiguous f32 slices in NCHW layout: im2col + one well-shaped `gemm` per
//! sample, batch-parallel with rayon, with the backward pass as two products per sample (no
//! transposed convolution):
//!
//! - forward: `Y_n [O, P] = W [O, K] · col(X_n) [K, P]`, then `+ b` (and ReLU when fused);
//! - grad weight: `dW = Σ_n dY_n · col(X_n)ᵀ`, grad bias: `db = Σ_n Σ_p dY_n`;
//! - grad input: `dX_n = col2im(Wᵀ · dY_n)`,
//!
//! with `K = C·KH·KW` and `P = OH·OW`. The sums over the batch are taken per fixed group of
//! [`CHUNK`] samples and the groups' partial sums added in order, so the result is the same
//! whatever the number of threads and however rayon schedules the work. Scratch buffers (the
//! im2col matrix and friends) are per thread and reused from call to call.

use gemm::Parallelism;
use rayon::prelude::*;
use std::cell::RefCell;

/// Samples per group in the batch sums of the backward pass (fixed: the sums' order, hence their
/// rounding, does not depend on the number of threads).
pub const CHUNK: usize = 4;

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
    let (p, ow) = (g.p(), g.ow);
    for ci in 0..g.c {
        let plane = &x[ci * g.h * g.w..][..g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = &mut col[((ci * g.kh + i) * g.kw + j) * p..][..p];
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
    let (p, ow) = (g.p(), g.ow);
    for ci in 0..g.c {
        let plane = &mut x[ci * g.h * g.w..][..g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = &col[((ci * g.kh + i) * g.kw + j) * p..][..p];
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
    y.par_chunks_mut(o * p).zip(x.par_chunks(chw)).for_each(|(y_n, x_n)| {
        let scratch = if g.col_is_input() { 0 } else { k * p };
        with_scratch(scratch, |col| {
            let col: &[f32] = if g.col_is_input() {
                x_n
            } else {
                im2col(g, x_n, col);
                col
            };
            // SAFETY: weight is o×k, col is k×p, y_n holds o·p elements; all distinct slices.
            unsafe { matmul(o, p, k, y_n, Mat::rows(weight, k), Mat::rows(col, p), false) };
        });
        for (row, &b) in y_n.chunks_exact_mut(p).zip(bias) {
            if relu {
                for v in row {
                    let s = *v + b;
                    *v = if s <= 0.0 { 0.0 } else { s };
                }
            } else {
                for v in row {
                    *v += b;
                }
            }
        }
    });
    y
}

/// One group of samples of the backward pass: its index, its slice of the weight/bias partial
/// sums and its slice of the input gradient (each when asked for).
type Task<'a> = (usize, Option<&'a mut [f32]>, Option<&'a mut [f32]>);

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
    let chunks = n.div_ceil(CHUNK);
    let part = o * k + o;
    let mut parts = vec![0.0f32; if need_weight { chunks * part } else { 0 }];
    let mut dx = vec![0.0f32; if need_x { n * chw } else { 0 }];
    {
        let mut part_it = parts.chunks_mut(part);
        let mut dx_it = dx.chunks_mut(CHUNK * chw.max(1));
        let tasks: Vec<Task<'_>> = (0..chunks)
            .map(|ci| (ci, if need_weight { part_it.next() } else { None }, if need_x { dx_it.next() } else { None }))
            .collect();
        tasks.into_par_iter().for_each(|(ci, mut part, mut dx_chunk)| {
            let first = ci * CHUNK;
            let last = (first + CHUNK).min(n);
            let masked = if y.is_some() { o * p } else { 0 };
            let col_len = if need_weight && !g.col_is_input() { k * p } else { 0 };
            let dcol_len = if need_x { k * p } else { 0 };
            with_scratch(masked + col_len + dcol_len, |scratch| {
                let (gbuf, rest) = scratch.split_at_mut(masked);
                let (colbuf, dcol) = rest.split_at_mut(col_len);
                for s in first..last {
                    let dy_s = &dy[s * o * p..][..o * p];
                    let g_s: &[f32] = match y {
                        Some(y) => {
                            for ((d, &v), &yv) in gbuf.iter_mut().zip(dy_s).zip(&y[s * o * p..][..o * p]) {
                                *d = if yv <= 0.0 { 0.0 } else { v };
                            }
                            gbuf
                        }
                        None => dy_s,
                    };
                    let x_s = &x[s * chw..][..chw];
                    if let Some(part) = part.as_deref_mut() {
                        let (dw, db) = part.split_at_mut(o * k);
                        let col: &[f32] = if g.col_is_input() {
                            x_s
                        } else {
                            im2col(g, x_s, colbuf);
                            colbuf
                        };
                        // dW += g_s [o, p] · colᵀ [p, k].
                        // SAFETY: g_s is o×p, col is k×p (read transposed), dw holds o·k.
                        unsafe { matmul(o, k, p, dw, Mat::rows(g_s, p), Mat::transposed(col, p), s != first) };
                        for (b, row) in db.iter_mut().zip(g_s.chunks_exact(p)) {
                            *b += row.iter().sum::<f32>();
                        }
                    }
                    if let Some(dx_chunk) = dx_chunk.as_deref_mut() {
                        // dcol [k, p] = Wᵀ [k, o] · g_s [o, p]; dX_s = col2im(dcol).
                        // SAFETY: weight is o×k (read transposed), g_s is o×p, dcol holds k·p.
                        unsafe { matmul(k, p, o, dcol, Mat::transposed(weight, k), Mat::rows(g_s, p), false) };
                        let dx_s = &mut dx_chunk[(s - first) * chw..][..chw];
                        if g.col_is_input() {
                            dx_s.copy_from_slice(dcol);
                        } else {
                            col2im_add(g, dcol, dx_s);
                        }
                    }
                }
            });
        });
    }
    let weight_bias = need_weight.then(|| {
        let mut dw = vec![0.0f32; o * k];
        let mut db = vec![0.0f32; o];
        for chunk in parts.chunks_exact(part) {
            let (pw, pb) = chunk.split_at(o * k);
            dw.iter_mut().zip(pw).for_each(|(a, b)| *a += *b);
            db.iter_mut().zip(pb).for_each(|(a, b)| *a += *b);
        }
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
        let g = ConvGeom::new([9, 3, 6, 6], [4, 3, 3, 3], [1, 1], [1, 1, 1, 1]).unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let x = rand_vec(g.n * g.chw(), &mut rng);
        let w = rand_vec(g.o * g.k(), &mut rng);
        let dy = rand_vec(g.n * g.o * g.p(), &mut rng);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let r = conv2d_backward(&g, &x, &w, None, &dy, true, true);
                (r.x.unwrap(), r.weight_bias.unwrap())
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
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
