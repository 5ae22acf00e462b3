//! A fully connected layer on contiguous f32 slices, `y = x·W + b` (then ReLU when fused), with
//! its backward pass, as burn's `Linear` lays it out (`W` is `[d_in, d_out]`):
//!
//! - forward: `Y [n, o] = X [n, i] · W [i, o]`, then `+ b` per row (and ReLU) in the same pass;
//! - grad input: `dX = dZ · Wᵀ`; grad weight: `dW = Xᵀ · dZ`; grad bias: `db = Σ_rows dZ`,
//!
//! where `dZ` is the output gradient, cut where `Y ≤ 0` when ReLU was fused. Compared with burn-flex
//! (a matmul, a broadcast add and a ReLU, each with an output of its own) this makes one output
//! and no intermediate, and it chooses gemm's parallelism by the size of each product: below
//! [`PARALLEL_MIN`] multiply-adds one thread does it, since splitting a small product costs more
//! than it saves (measured in docs/speed.md). gemm splits outputs, never sums, and the bias sum
//! runs over rows in order, so results do not depend on the number of threads.

use super::conv::{matmul_par, Mat};
use gemm::Parallelism;

/// The fewest multiply-adds (`m·n·k`) of a product that gemm spreads over the threads.
pub const PARALLEL_MIN: usize = 1 << 22;

/// gemm's parallelism for an `m × n × k` product.
fn parallelism(m: usize, n: usize, k: usize) -> Parallelism {
    let threads = rayon::current_num_threads();
    if threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    }
}

/// `x [n, i] · w [i, o] + b [o]`, then ReLU when `relu` (values ≤ 0 become 0, NaN stays).
pub fn linear_forward(n: usize, i: usize, o: usize, x: &[f32], w: &[f32], b: Option<&[f32]>, relu: bool) -> Vec<f32> {
    assert_eq!(x.len(), n * i, "linear_forward: input length");
    assert_eq!(w.len(), i * o, "linear_forward: weight length");
    if let Some(b) = b {
        assert_eq!(b.len(), o, "linear_forward: bias length");
    }
    let mut y = vec![0.0f32; n * o];
    if y.is_empty() {
        return y;
    }
    // SAFETY: x is n×i, w is i×o, y holds n·o elements; all distinct.
    unsafe { matmul_par(n, o, i, &mut y, Mat::rows(x, i), Mat::rows(w, o), false, parallelism(n, o, i)) };
    for row in y.chunks_exact_mut(o) {
        match (b, relu) {
            (Some(b), true) => row.iter_mut().zip(b).for_each(|(v, &bb)| {
                let s = *v + bb;
                *v = if s <= 0.0 { 0.0 } else { s };
            }),
            (Some(b), false) => row.iter_mut().zip(b).for_each(|(v, &bb)| *v += bb),
            (None, true) => row.iter_mut().for_each(|v| *v = if *v <= 0.0 { 0.0 } else { *v }),
            (None, false) => {}
        }
    }
    y
}

/// Gradients of [`linear_forward`], each when asked for.
pub struct LinearGrads {
    /// `[n, i]`
    pub x: Option<Vec<f32>>,
    /// `[i, o]`
    pub weight: Option<Vec<f32>>,
    /// `[o]`
    pub bias: Option<Vec<f32>>,
}

/// Backward pass of [`linear_forward`] given the output gradient `dy` (`[n, o]`); `y` is the
/// forward output when ReLU was fused (the gradient is cut where `y ≤ 0`, as burn's ReLU does).
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    n: usize,
    i: usize,
    o: usize,
    x: &[f32],
    w: &[f32],
    y: Option<&[f32]>,
    dy: &[f32],
    need: [bool; 3],
) -> LinearGrads {
    assert_eq!(x.len(), n * i, "linear_backward: input length");
    assert_eq!(w.len(), i * o, "linear_backward: weight length");
    assert_eq!(dy.len(), n * o, "linear_backward: output-gradient length");
    let masked: Option<Vec<f32>> = y.map(|y| {
        assert_eq!(y.len(), dy.len(), "linear_backward: output length");
        dy.iter().zip(y).map(|(&d, &v)| if v <= 0.0 { 0.0 } else { d }).collect()
    });
    let dz: &[f32] = masked.as_deref().unwrap_or(dy);
    let [need_x, need_w, need_b] = need;
    let dx = need_x.then(|| {
        let mut dx = vec![0.0f32; n * i];
        if !dx.is_empty() {
            // dX [n, i] = dZ [n, o] · Wᵀ [o, i].
            // SAFETY: dz is n×o, w is i×o (read transposed), dx holds n·i elements.
            unsafe { matmul_par(n, i, o, &mut dx, Mat::rows(dz, o), Mat::transposed(w, o), false, parallelism(n, i, o)) };
        }
        dx
    });
    let dw = need_w.then(|| {
        let mut dw = vec![0.0f32; i * o];
        if !dw.is_empty() {
            // dW [i, o] = Xᵀ [i, n] · dZ [n, o].
            // SAFETY: x is n×i (read transposed), dz is n×o, dw holds i·o elements.
            unsafe { matmul_par(i, o, n, &mut dw, Mat::transposed(x, i), Mat::rows(dz, o), false, parallelism(i, o, n)) };
        }
        dw
    });
    let db = need_b.then(|| {
        let mut db = vec![0.0f32; o];
        for row in dz.chunks_exact(o.max(1)) {
            db.iter_mut().zip(row).for_each(|(a, &d)| *a += d);
        }
        db
    });
    LinearGrads { x: dx, weight: dw, bias: db }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn rand_vec(n: usize, rng: &mut StdRng) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    /// The definition in f64.
    fn naive(n: usize, i: usize, o: usize, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f64> {
        let mut y = vec![0.0f64; n * o];
        for r in 0..n {
            for c in 0..o {
                y[r * o + c] = b[c] as f64 + (0..i).map(|k| x[r * i + k] as f64 * w[k * o + c] as f64).sum::<f64>();
            }
        }
        y
    }

    #[test]
    fn forward_matches_the_definition_and_relu_cuts() {
        let mut rng = StdRng::seed_from_u64(7);
        for &(n, i, o) in &[(1, 1, 1), (3, 5, 2), (64, 100, 33), (7, 300, 129)] {
            let (x, w, b) = (rand_vec(n * i, &mut rng), rand_vec(i * o, &mut rng), rand_vec(o, &mut rng));
            let want = naive(n, i, o, &x, &w, &b);
            let got = linear_forward(n, i, o, &x, &w, Some(&b), false);
            let relu = linear_forward(n, i, o, &x, &w, Some(&b), true);
            for j in 0..n * o {
                assert!((got[j] as f64 - want[j]).abs() <= 1e-5 * (1.0 + want[j].abs()), "{n}x{i}x{o} #{j}");
                assert_eq!(relu[j], if got[j] <= 0.0 { 0.0 } else { got[j] });
            }
        }
    }

    /// Thread counts change only who computes which outputs: the results are bit for bit the same
    /// on one thread and on several, for products above and below the parallel threshold.
    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let mut rng = StdRng::seed_from_u64(3);
        let (n, i, o) = (256, 512, 64); // 8.4M multiply-adds: parallel on several threads
        assert!(n * i * o >= PARALLEL_MIN);
        let (x, w, b, dy) =
            (rand_vec(n * i, &mut rng), rand_vec(i * o, &mut rng), rand_vec(o, &mut rng), rand_vec(n * o, &mut rng));
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let y = linear_forward(n, i, o, &x, &w, Some(&b), true);
                let g = linear_backward(n, i, o, &x, &w, Some(&y), &dy, [true; 3]);
                (y, g.x.unwrap(), g.weight.unwrap(), g.bias.unwrap())
            })
        };
        assert!(run(1) == run(3));
    }
}
