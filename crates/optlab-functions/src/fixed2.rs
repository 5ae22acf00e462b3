//! Boilerplate for fixed two-dimensional functions.
//!
//! A type using `impl_fixed_2d!` provides three inherent associated
//! functions:
//! - `fn f(x: f64, y: f64) -> f64` (value),
//! - `fn fg(x: f64, y: f64) -> (f64, [f64; 2])` (value and gradient),
//! - `fn h(x: f64, y: f64) -> [f64; 3]` (Hessian entries `[hxx, hxy, hyy]`).
//!
//! The macro derives the [`crate::TestFunction`] implementation; the Hessian
//! diagonal is taken from the same `h` so it is bit-identical to the diagonal
//! of the full Hessian.

macro_rules! impl_fixed_2d {
    (
        $ty:ident {
            name: $name:expr,
            title: $title:expr,
            formula: $formula:expr,
            domain: $domain:expr,
            plot_box: $plot_box:expr,
            minima: $minima:expr,
            min_value: $min_value:expr,
            starts: $starts:expr
            $(, note: $note:expr)?
            $(,)?
        }
    ) => {
        impl $crate::TestFunction for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn title(&self) -> &'static str {
                $title
            }
            fn formula(&self) -> &'static str {
                $formula
            }
            fn dim(&self) -> usize {
                2
            }
            fn value(&self, x: &[f64]) -> f64 {
                debug_assert_eq!(x.len(), 2, "{}: x must have length 2", $name);
                Self::f(x[0], x[1])
            }
            fn gradient(&self, x: &[f64], g: &mut [f64]) {
                self.value_and_gradient(x, g);
            }
            fn value_and_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
                debug_assert_eq!(x.len(), 2, "{}: x must have length 2", $name);
                debug_assert_eq!(g.len(), 2, "{}: g must have length 2", $name);
                let (v, [gx, gy]) = Self::fg(x[0], x[1]);
                g[0] = gx;
                g[1] = gy;
                v
            }
            fn hessian(&self, x: &[f64], h: &mut [f64]) {
                debug_assert_eq!(x.len(), 2, "{}: x must have length 2", $name);
                debug_assert_eq!(h.len(), 4, "{}: h must have length 4", $name);
                let [hxx, hxy, hyy] = Self::h(x[0], x[1]);
                h[0] = hxx;
                h[1] = hxy;
                h[2] = hxy;
                h[3] = hyy;
            }
            fn hessian_diag(&self, x: &[f64], d: &mut [f64]) {
                debug_assert_eq!(x.len(), 2, "{}: x must have length 2", $name);
                debug_assert_eq!(d.len(), 2, "{}: d must have length 2", $name);
                let [hxx, _, hyy] = Self::h(x[0], x[1]);
                d[0] = hxx;
                d[1] = hyy;
            }
            fn domain(&self) -> Vec<(f64, f64)> {
                let b: [(f64, f64); 2] = $domain;
                b.to_vec()
            }
            fn plot_box(&self) -> [(f64, f64); 2] {
                $plot_box
            }
            fn minima(&self) -> Vec<Vec<f64>> {
                let m: &[[f64; 2]] = &$minima;
                m.iter().map(|p| p.to_vec()).collect()
            }
            fn min_value(&self) -> Option<f64> {
                $min_value
            }
            fn default_starts(&self) -> Vec<Vec<f64>> {
                let s: &[[f64; 2]] = &$starts;
                s.iter().map(|p| p.to_vec()).collect()
            }
            $(
                fn nonsmooth_note(&self) -> Option<&'static str> {
                    Some($note)
                }
            )?
        }
    };
}
