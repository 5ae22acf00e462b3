//! A one-dimensional monotone cubic.

use crate::TestFunction;

/// Monotone cubic.
///
/// `f(x) = x^3 - 3x^2 + 4x`
///
/// - Domain: `[-1, 3]` (plot box: x in `[-1, 3]`, f in `[-8, 12]`).
/// - No minimum: `f'(x) = 3x^2 - 6x + 4 = 3(x - 1)^2 + 1 >= 1 > 0`, so `f` is
///   strictly increasing and unbounded below as `x -> -inf`.
///   [`TestFunction::minima`] is empty and [`TestFunction::min_value`] is `None`.
/// - Inflection point at `x = 1` with `f'(1) = 1` and `f''(1) = 0`: curvature
///   based methods see a zero (then negative) curvature there.
/// - Default start `x = 2` (`f' = 4`, `f'' = 6`).
/// - Source: didactic example.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cubic;

impl Cubic {
    fn f(x: f64) -> f64 {
        ((x - 3.0) * x + 4.0) * x
    }

    fn df(x: f64) -> f64 {
        (3.0 * x - 6.0) * x + 4.0
    }

    fn d2f(x: f64) -> f64 {
        6.0 * x - 6.0
    }
}

impl TestFunction for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }
    fn title(&self) -> &'static str {
        "Cubic"
    }
    fn formula(&self) -> &'static str {
        "f(x) = x^3 - 3x^2 + 4x"
    }
    fn dim(&self) -> usize {
        1
    }
    fn value(&self, x: &[f64]) -> f64 {
        debug_assert_eq!(x.len(), 1, "cubic: x must have length 1");
        Self::f(x[0])
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        debug_assert_eq!(x.len(), 1, "cubic: x must have length 1");
        debug_assert_eq!(g.len(), 1, "cubic: g must have length 1");
        g[0] = Self::df(x[0]);
    }
    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        debug_assert_eq!(x.len(), 1, "cubic: x must have length 1");
        debug_assert_eq!(h.len(), 1, "cubic: h must have length 1");
        h[0] = Self::d2f(x[0]);
    }
    fn hessian_diag(&self, x: &[f64], d: &mut [f64]) {
        debug_assert_eq!(x.len(), 1, "cubic: x must have length 1");
        debug_assert_eq!(d.len(), 1, "cubic: d must have length 1");
        d[0] = Self::d2f(x[0]);
    }
    fn domain(&self) -> Vec<(f64, f64)> {
        vec![(-1.0, 3.0)]
    }
    fn plot_box(&self) -> [(f64, f64); 2] {
        // f(-1) = -8, f(3) = 12 and f is increasing.
        [(-1.0, 3.0), (-8.0, 12.0)]
    }
    fn minima(&self) -> Vec<Vec<f64>> {
        Vec::new()
    }
    fn min_value(&self) -> Option<f64> {
        None
    }
    fn default_starts(&self) -> Vec<Vec<f64>> {
        vec![vec![2.0], vec![2.9], vec![0.0]]
    }
}
