//! Per-step histograms of |g| and |update| on log-spaced bins (`grad_histograms`): the RAdam
//! figure of the course notes (Liu et al. 2020, Fig. 1: the distribution of the absolute
//! gradients over the iterations, Adam with and without warm-up).
//!
//! Bins: [`BINS`] counts per histogram. Bin 0 holds `|x| < 1e-12` (exact zeros included); bins
//! `1 ..= 56` are `[10^(−12 + (i−1)/4), 10^(−12 + i/4))`, four per decade up to `1e2`; the last bin
//! holds `|x| ≥ 1e2`. Non-finite values are not counted (by default the step that has them is
//! refused and ends the run; with `non_finite = skip` it is skipped, and its updates are zeros).
//! Every parameter element counts once, over all tensors.

use serde::{Deserialize, Serialize};

/// The lowest decade edge: `10^LOG10_LO`.
pub const LOG10_LO: i32 = -12;
/// The highest decade edge: `10^LOG10_HI`.
pub const LOG10_HI: i32 = 2;
/// Bins per decade.
pub const PER_DECADE: usize = 4;
/// Counts per histogram: the underflow bin, the log bins, the overflow bin.
pub const BINS: usize = (LOG10_HI - LOG10_LO) as usize * PER_DECADE + 2;

/// The histograms of one logged step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepHistogram {
    /// The step index, as in [`crate::StepReport::step`].
    pub step: u64,
    /// Counts of `|g|` (the gradient given to the optimizer, before any clipping).
    pub grad: Vec<u64>,
    /// Counts of `|θ_after − θ_before|`, the update the step made.
    pub update: Vec<u64>,
}

/// The lower edge of bin `i` (`0` for bin 0); the upper edge of bin `i` is `lower_edge(i + 1)`
/// (`∞` for the last).
pub fn lower_edge(i: usize) -> f64 {
    match i {
        0 => 0.0,
        i if i >= BINS => f64::INFINITY,
        i => 10f64.powf(LOG10_LO as f64 + (i - 1) as f64 / PER_DECADE as f64),
    }
}

/// The bin of `|x|` (None for a non-finite `x`).
pub fn bin_of(x: f32) -> Option<usize> {
    if !x.is_finite() {
        return None;
    }
    let a = f64::from(x.abs());
    if a < 1e-12 {
        return Some(0);
    }
    let pos = ((a.log10() - LOG10_LO as f64) * PER_DECADE as f64).floor();
    let mut i = (pos.max(0.0) as usize + 1).min(BINS - 1);
    // log10 rounding at an exact edge: keep the documented half-open bins.
    if i < BINS - 1 && a >= lower_edge(i + 1) {
        i += 1;
    } else if i > 1 && a < lower_edge(i) {
        i -= 1;
    }
    Some(i)
}

/// Adds the values of `xs` to `counts` (of length [`BINS`]).
pub fn add(xs: impl Iterator<Item = f32>, counts: &mut [u64]) {
    for x in xs {
        if let Some(i) = bin_of(x) {
            counts[i] += 1;
        }
    }
}

/// The histograms of one step from the gradients and the parameters before and after it (all in
/// the same tensor order).
pub fn step_histogram(step: u64, grads: &[&[f32]], before: &[Vec<f32>], after: &[Vec<f32>]) -> StepHistogram {
    let mut grad = vec![0u64; BINS];
    let mut update = vec![0u64; BINS];
    for g in grads {
        add(g.iter().copied(), &mut grad);
    }
    for (b, a) in before.iter().zip(after) {
        add(b.iter().zip(a).map(|(b, a)| a - b), &mut update);
    }
    StepHistogram { step, grad, update }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_log_spaced_half_open_with_under_and_overflow() {
        assert_eq!(BINS, 58);
        assert_eq!(bin_of(0.0), Some(0));
        assert_eq!(bin_of(-1e-13), Some(0));
        // (1e-12 in f32 is 9.9999998e-13, below the edge.)
        assert_eq!(bin_of(1e-12), Some(0));
        assert_eq!(bin_of(1.2e-12), Some(1));
        assert_eq!(bin_of(1.0), Some(1 + 12 * 4));
        assert_eq!(bin_of(-0.99), Some(12 * 4));
        assert_eq!(bin_of(1e2), Some(BINS - 1));
        assert_eq!(bin_of(1e30), Some(BINS - 1));
        assert_eq!(bin_of(f32::NAN), None);
        for i in 1..BINS - 1 {
            let mid = (lower_edge(i) * lower_edge(i + 1)).sqrt() as f32;
            assert_eq!(bin_of(mid), Some(i), "bin {i}");
        }
        let h = step_histogram(3, &[&[0.0, 1.0, -1.0][..]], &[vec![1.0, 2.0]], &[vec![1.0, 2.5]]);
        assert_eq!((h.grad.iter().sum::<u64>(), h.grad[0], h.grad[49]), (3, 1, 2));
        assert_eq!((h.update[0], h.update[bin_of(0.5).unwrap()]), (1, 1));
    }
}
