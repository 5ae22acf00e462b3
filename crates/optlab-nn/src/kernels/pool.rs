//! 2-D max pooling on contiguous f32 slices in NCHW layout, no padding, dilation 1, floor mode:
//! the forward pass records the index of each window's maximum within its plane (the first
//! maximum in row-major order, as burn-flex), and the backward pass adds each output gradient to
//! that element. Parallel over planes; each plane is computed by one thread, so the result does
//! not depend on the threads.

use rayon::prelude::*;

/// The shape of one max pooling: input `[n, c, h, w]`, window `[kh, kw]`, stride `[sh, sw]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeom {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub oh: usize,
    pub ow: usize,
}

impl PoolGeom {
    pub fn new(x: [usize; 4], kernel: [usize; 2], stride: [usize; 2]) -> Result<Self, String> {
        let [n, c, h, w] = x;
        let [kh, kw] = kernel;
        let [sh, sw] = stride;
        if kh == 0 || kw == 0 || sh == 0 || sw == 0 {
            return Err(format!("max pool window {kernel:?} and stride {stride:?} must be positive"));
        }
        if h < kh || w < kw {
            return Err(format!("max pool window {kernel:?} is larger than the input {x:?}"));
        }
        Ok(PoolGeom { planes: n * c, h, w, kh, kw, sh, sw, oh: (h - kh) / sh + 1, ow: (w - kw) / sw + 1 })
    }
    fn hw(&self) -> usize {
        self.h * self.w
    }
    fn ohw(&self) -> usize {
        self.oh * self.ow
    }
}

/// Forward pass: the maxima `[n, c, oh, ow]` and, for each, its index within its input plane.
/// A NaN in a window is its maximum (it propagates).
pub fn max_pool2d_forward(g: &PoolGeom, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    assert_eq!(x.len(), g.planes * g.hw(), "max_pool2d_forward: input length");
    let mut y = vec![0.0f32; g.planes * g.ohw()];
    let mut idx = vec![0u32; y.len()];
    if y.is_empty() {
        return (y, idx);
    }
    y.par_chunks_mut(g.ohw()).zip(idx.par_chunks_mut(g.ohw())).zip(x.par_chunks(g.hw())).for_each(
        |((y_p, i_p), x_p)| {
            if g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 {
                for oy in 0..g.oh {
                    let r0 = &x_p[2 * oy * g.w..][..g.w];
                    let r1 = &x_p[(2 * oy + 1) * g.w..][..g.w];
                    for ox in 0..g.ow {
                        let c = 2 * ox;
                        let (mut best, mut at) = (r0[c], c);
                        for (v, a) in [(r0[c + 1], c + 1), (r1[c], g.w + c), (r1[c + 1], g.w + c + 1)] {
                            if v > best || (v.is_nan() && !best.is_nan()) {
                                (best, at) = (v, a);
                            }
                        }
                        y_p[oy * g.ow + ox] = best;
                        i_p[oy * g.ow + ox] = (2 * oy * g.w + at) as u32;
                    }
                }
                return;
            }
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let (y0, x0) = (oy * g.sh, ox * g.sw);
                    let (mut best, mut at) = (x_p[y0 * g.w + x0], y0 * g.w + x0);
                    for i in 0..g.kh {
                        for j in 0..g.kw {
                            let a = (y0 + i) * g.w + x0 + j;
                            let v = x_p[a];
                            if v > best || (v.is_nan() && !best.is_nan()) {
                                (best, at) = (v, a);
                            }
                        }
                    }
                    y_p[oy * g.ow + ox] = best;
                    i_p[oy * g.ow + ox] = at as u32;
                }
            }
        },
    );
    (y, idx)
}

/// Backward pass: the input gradient `[n, c, h, w]` from the output gradient and the indices of
/// [`max_pool2d_forward`].
pub fn max_pool2d_backward(g: &PoolGeom, dy: &[f32], idx: &[u32]) -> Vec<f32> {
    assert_eq!(dy.len(), g.planes * g.ohw(), "max_pool2d_backward: output-gradient length");
    assert_eq!(idx.len(), dy.len(), "max_pool2d_backward: indices length");
    let mut dx = vec![0.0f32; g.planes * g.hw()];
    if dx.is_empty() || dy.is_empty() {
        return dx;
    }
    dx.par_chunks_mut(g.hw()).zip(dy.par_chunks(g.ohw())).zip(idx.par_chunks(g.ohw())).for_each(
        |((dx_p, dy_p), i_p)| {
            for (&d, &i) in dy_p.iter().zip(i_p) {
                dx_p[i as usize] += d;
            }
        },
    );
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_by_two_path_agrees_with_the_general_one_and_nan_propagates() {
        // The 2×2 fast path against the general loop (a 2×2 window read as 2×2 with stride 2
        // through a 3-wide geometry cannot use the fast path; compare by construction instead).
        let x: Vec<f32> = (0..2 * 5 * 6).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
        let g = PoolGeom::new([1, 2, 5, 6], [2, 2], [2, 2]).unwrap();
        let (y, idx) = max_pool2d_forward(&g, &x);
        assert_eq!((g.oh, g.ow), (2, 3));
        for p in 0..2 {
            for oy in 0..2 {
                for ox in 0..3 {
                    let cand = [
                        (2 * oy) * 6 + 2 * ox,
                        (2 * oy) * 6 + 2 * ox + 1,
                        (2 * oy + 1) * 6 + 2 * ox,
                        (2 * oy + 1) * 6 + 2 * ox + 1,
                    ];
                    let best = cand.iter().map(|&a| x[p * 30 + a]).fold(f32::MIN, f32::max);
                    let first = *cand.iter().find(|&&a| x[p * 30 + a] == best).unwrap();
                    assert_eq!(y[p * 6 + oy * 3 + ox], best);
                    assert_eq!(idx[p * 6 + oy * 3 + ox] as usize, first);
                }
            }
        }
        let mut xn = x.clone();
        xn[7] = f32::NAN;
        assert!(max_pool2d_forward(&g, &xn).0[0].is_nan());
        let dx = max_pool2d_backward(&g, &[1.0; 12], &idx);
        assert_eq!(dx.iter().sum::<f32>(), 12.0);
    }
}
