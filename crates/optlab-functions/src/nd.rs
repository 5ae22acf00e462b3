//! Test functions of arbitrary dimension.

use std::f64::consts::{E, PI};

use crate::{repeat_pattern, value_range_1d, TestFunction};

const TAU: f64 = 2.0 * PI;

/// Plot box: the given 2-D box for `dim >= 2`; for `dim == 1` the x range of
/// the box and a sampled range of f values.
fn plot_box_for(f: &dyn TestFunction, bx: [(f64, f64); 2]) -> [(f64, f64); 2] {
    if f.dim() == 1 {
        let (lo, hi) = bx[0];
        [bx[0], value_range_1d(|t| f.value(&[t]), lo, hi)]
    } else {
        bx
    }
}

fn starts_for(patterns: &[&[f64]], dim: usize) -> Vec<Vec<f64>> {
    patterns.iter().map(|p| repeat_pattern(p, dim)).collect()
}

macro_rules! check_lengths {
    ($self:ident, $name:literal, $x:ident $(, $out:ident = $len:expr)?) => {
        debug_assert_eq!($x.len(), $self.dim, concat!($name, ": x must have length dim"));
        $(debug_assert_eq!($out.len(), $len, concat!($name, ": output slice has the wrong length"));)?
    };
}

// ---------------------------------------------------------------------------
// Sphere
// ---------------------------------------------------------------------------

/// Sphere function.
///
/// `f(x) = sum_{i=1}^{d} x_i^2`
///
/// - Domain: `[-5.12, 5.12]^d`.
/// - Global minimum: `f(0) = 0`.
/// - Source: Surjanovic & Bingham, Virtual Library of Simulation Experiments
///   (`spheref`); argmin-testfunctions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sphere {
    dim: usize,
}

impl Sphere {
    /// Sphere in `dim` dimensions. Panics if `dim == 0`.
    pub fn new(dim: usize) -> Self {
        assert!(dim >= 1, "sphere: dim must be at least 1");
        Sphere { dim }
    }
}

impl TestFunction for Sphere {
    fn name(&self) -> &'static str {
        "sphere"
    }
    fn title(&self) -> &'static str {
        "Sphere"
    }
    fn formula(&self) -> &'static str {
        "f(x) = sum_{i=1}^{d} x_i^2"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn value(&self, x: &[f64]) -> f64 {
        check_lengths!(self, "sphere", x);
        x.iter().map(|v| v * v).sum()
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        check_lengths!(self, "sphere", x, g = self.dim);
        for (gi, xi) in g.iter_mut().zip(x) {
            *gi = 2.0 * xi;
        }
    }
    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        check_lengths!(self, "sphere", x, h = self.dim * self.dim);
        h.fill(0.0);
        for i in 0..self.dim {
            h[i * self.dim + i] = 2.0;
        }
    }
    fn hessian_diag(&self, x: &[f64], d: &mut [f64]) {
        check_lengths!(self, "sphere", x, d = self.dim);
        d.fill(2.0);
    }
    fn domain(&self) -> Vec<(f64, f64)> {
        vec![(-5.12, 5.12); self.dim]
    }
    fn plot_box(&self) -> [(f64, f64); 2] {
        plot_box_for(self, [(-5.12, 5.12), (-5.12, 5.12)])
    }
    fn minima(&self) -> Vec<Vec<f64>> {
        vec![vec![0.0; self.dim]]
    }
    fn min_value(&self) -> Option<f64> {
        Some(0.0)
    }
    fn default_starts(&self) -> Vec<Vec<f64>> {
        starts_for(&[&[3.0, -4.0], &[-2.0, 1.0], &[4.5, 4.5]], self.dim)
    }
}

// ---------------------------------------------------------------------------
// Styblinski-Tang
// ---------------------------------------------------------------------------

/// Styblinski-Tang function.
///
/// `f(x) = 0.5 sum_{i=1}^{d} (x_i^4 - 16 x_i^2 + 5 x_i)`
///
/// - Domain: `[-5, 5]^d`.
/// - Global minimum: `x_i = x* = -2.903534027771177...` for all `i`, the
///   smallest root of `4x^3 - 32x + 5 = 0` (computed to full precision by
///   Newton's method at construction), with `f* = -39.16616570377141... * d`.
///   Each coordinate also has a local minimum at `x_i = 2.746802...`
///   (`2^d - 1` local minima overall) separated by a local maximum at
///   `x_i = 0.156732...`.
/// - Source: M. A. Styblinski & T.-S. Tang (1990); Surjanovic & Bingham,
///   Virtual Library of Simulation Experiments (`stybtang`);
///   argmin-testfunctions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StyblinskiTang {
    dim: usize,
    root: f64,
    min_per_dim: f64,
}

/// The univariate term `0.5 (t^4 - 16 t^2 + 5 t)`.
fn st_term(t: f64) -> f64 {
    let t2 = t * t;
    0.5 * (t2 * t2 - 16.0 * t2 + 5.0 * t)
}

/// Smallest root of `4t^3 - 32t + 5` by Newton's method from -2.9.
fn st_root() -> f64 {
    let mut t: f64 = -2.9;
    for _ in 0..100 {
        let p = (4.0 * t * t - 32.0) * t + 5.0;
        let dp = 12.0 * t * t - 32.0;
        let next = t - p / dp;
        if next == t {
            break;
        }
        t = next;
    }
    t
}

impl StyblinskiTang {
    /// Styblinski-Tang in `dim` dimensions. Panics if `dim == 0`.
    pub fn new(dim: usize) -> Self {
        assert!(dim >= 1, "styblinski_tang: dim must be at least 1");
        let root = st_root();
        StyblinskiTang { dim, root, min_per_dim: st_term(root) }
    }

    /// The minimising coordinate `x*` (root of `4x^3 - 32x + 5 = 0`).
    pub fn argmin_coordinate(&self) -> f64 {
        self.root
    }
}

impl TestFunction for StyblinskiTang {
    fn name(&self) -> &'static str {
        "styblinski_tang"
    }
    fn title(&self) -> &'static str {
        "Styblinski-Tang"
    }
    fn formula(&self) -> &'static str {
        "f(x) = 0.5 sum_{i=1}^{d} (x_i^4 - 16 x_i^2 + 5 x_i)"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn value(&self, x: &[f64]) -> f64 {
        check_lengths!(self, "styblinski_tang", x);
        x.iter().map(|&t| st_term(t)).sum()
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        check_lengths!(self, "styblinski_tang", x, g = self.dim);
        for (gi, &t) in g.iter_mut().zip(x) {
            *gi = (2.0 * t * t - 16.0) * t + 2.5;
        }
    }
    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        check_lengths!(self, "styblinski_tang", x, h = self.dim * self.dim);
        h.fill(0.0);
        for (i, &t) in x.iter().enumerate() {
            h[i * self.dim + i] = 6.0 * t * t - 16.0;
        }
    }
    fn hessian_diag(&self, x: &[f64], d: &mut [f64]) {
        check_lengths!(self, "styblinski_tang", x, d = self.dim);
        for (di, &t) in d.iter_mut().zip(x) {
            *di = 6.0 * t * t - 16.0;
        }
    }
    fn domain(&self) -> Vec<(f64, f64)> {
        vec![(-5.0, 5.0); self.dim]
    }
    fn plot_box(&self) -> [(f64, f64); 2] {
        plot_box_for(self, [(-5.0, 5.0), (-5.0, 5.0)])
    }
    fn minima(&self) -> Vec<Vec<f64>> {
        vec![vec![self.root; self.dim]]
    }
    fn min_value(&self) -> Option<f64> {
        Some(self.min_per_dim * self.dim as f64)
    }
    fn default_starts(&self) -> Vec<Vec<f64>> {
        // (0.2, -4.5): x starts just right of the local maximum 0.1567 and
        // falls into the local minimum 2.7468, y goes to the global -2.9035.
        starts_for(&[&[0.2, -4.5], &[-4.5, 4.5], &[0.0, 0.0]], self.dim)
    }
}

// ---------------------------------------------------------------------------
// Rosenbrock
// ---------------------------------------------------------------------------

/// Rosenbrock function (the "banana" valley), chained form.
///
/// `f(x) = sum_{i=1}^{d-1} [(1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2]`, `d >= 2`.
///
/// - Domain: `[-5, 10]^d`; plot box `x in [-2, 2]`, `y in [-1, 3]`.
/// - Global minimum: `f(1, ..., 1) = 0`. (For `4 <= d <= 7` there is an
///   additional local minimum near `(-1, 1, ..., 1)`.)
/// - Default starts: the pattern `(-1.5, 2)` repeated, then `(-2, 2)` and the
///   classic `(-1.2, 1)`.
/// - Source: H. H. Rosenbrock (1960); Surjanovic & Bingham, Virtual Library of
///   Simulation Experiments (`rosen`); argmin-testfunctions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rosenbrock {
    dim: usize,
}

impl Rosenbrock {
    /// Rosenbrock in `dim` dimensions. Panics if `dim < 2`.
    pub fn new(dim: usize) -> Self {
        assert!(dim >= 2, "rosenbrock: dim must be at least 2");
        Rosenbrock { dim }
    }

    /// Hessian entry `(i, i)`.
    fn diag_entry(x: &[f64], i: usize) -> f64 {
        let mut h = 0.0;
        if i + 1 < x.len() {
            h += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
        }
        if i > 0 {
            h += 200.0;
        }
        h
    }
}

impl TestFunction for Rosenbrock {
    fn name(&self) -> &'static str {
        "rosenbrock"
    }
    fn title(&self) -> &'static str {
        "Rosenbrock"
    }
    fn formula(&self) -> &'static str {
        "f(x) = sum_{i=1}^{d-1} [(1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2]"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn value(&self, x: &[f64]) -> f64 {
        check_lengths!(self, "rosenbrock", x);
        x.windows(2)
            .map(|w| {
                let a = 1.0 - w[0];
                let b = w[1] - w[0] * w[0];
                a * a + 100.0 * b * b
            })
            .sum()
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        self.value_and_gradient(x, g);
    }
    fn value_and_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        check_lengths!(self, "rosenbrock", x, g = self.dim);
        g.fill(0.0);
        let mut v = 0.0;
        for i in 0..self.dim - 1 {
            let a = 1.0 - x[i];
            let b = x[i + 1] - x[i] * x[i];
            v += a * a + 100.0 * b * b;
            g[i] += -2.0 * a - 400.0 * x[i] * b;
            g[i + 1] += 200.0 * b;
        }
        v
    }
    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        check_lengths!(self, "rosenbrock", x, h = self.dim * self.dim);
        let d = self.dim;
        h.fill(0.0);
        for i in 0..d {
            h[i * d + i] = Self::diag_entry(x, i);
            if i + 1 < d {
                let off = -400.0 * x[i];
                h[i * d + i + 1] = off;
                h[(i + 1) * d + i] = off;
            }
        }
    }
    fn hessian_diag(&self, x: &[f64], d: &mut [f64]) {
        check_lengths!(self, "rosenbrock", x, d = self.dim);
        for (i, di) in d.iter_mut().enumerate() {
            *di = Self::diag_entry(x, i);
        }
    }
    fn domain(&self) -> Vec<(f64, f64)> {
        vec![(-5.0, 10.0); self.dim]
    }
    fn plot_box(&self) -> [(f64, f64); 2] {
        [(-2.0, 2.0), (-1.0, 3.0)]
    }
    fn minima(&self) -> Vec<Vec<f64>> {
        vec![vec![1.0; self.dim]]
    }
    fn min_value(&self) -> Option<f64> {
        Some(0.0)
    }
    fn default_starts(&self) -> Vec<Vec<f64>> {
        starts_for(&[&[-1.5, 2.0], &[-2.0, 2.0], &[-1.2, 1.0]], self.dim)
    }
}

// ---------------------------------------------------------------------------
// Rastrigin
// ---------------------------------------------------------------------------

/// Rastrigin function.
///
/// `f(x) = 10 d + sum_{i=1}^{d} (x_i^2 - 10 cos(2 pi x_i))`
///
/// (evaluated as `sum x_i^2 + 20 sin^2(pi x_i)` for accuracy near the minimum).
///
/// - Domain: `[-5.12, 5.12]^d`.
/// - Global minimum: `f(0) = 0`; a regular lattice of local minima near the
///   integer points.
/// - Source: L. A. Rastrigin (1974); Surjanovic & Bingham, Virtual Library of
///   Simulation Experiments (`rastr`); argmin-testfunctions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rastrigin {
    dim: usize,
}

impl Rastrigin {
    /// Rastrigin in `dim` dimensions. Panics if `dim == 0`.
    pub fn new(dim: usize) -> Self {
        assert!(dim >= 1, "rastrigin: dim must be at least 1");
        Rastrigin { dim }
    }

    fn diag_entry(t: f64) -> f64 {
        2.0 + 40.0 * PI * PI * (TAU * t).cos()
    }
}

impl TestFunction for Rastrigin {
    fn name(&self) -> &'static str {
        "rastrigin"
    }
    fn title(&self) -> &'static str {
        "Rastrigin"
    }
    fn formula(&self) -> &'static str {
        "f(x) = 10 d + sum_{i=1}^{d} (x_i^2 - 10 cos(2 pi x_i))"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn value(&self, x: &[f64]) -> f64 {
        check_lengths!(self, "rastrigin", x);
        x.iter()
            .map(|&t| {
                let s = (PI * t).sin();
                t * t + 20.0 * s * s
            })
            .sum()
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        check_lengths!(self, "rastrigin", x, g = self.dim);
        for (gi, &t) in g.iter_mut().zip(x) {
            *gi = 2.0 * t + 20.0 * PI * (TAU * t).sin();
        }
    }
    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        check_lengths!(self, "rastrigin", x, h = self.dim * self.dim);
        h.fill(0.0);
        for (i, &t) in x.iter().enumerate() {
            h[i * self.dim + i] = Self::diag_entry(t);
        }
    }
    fn hessian_diag(&self, x: &[f64], d: &mut [f64]) {
        check_lengths!(self, "rastrigin", x, d = self.dim);
        for (di, &t) in d.iter_mut().zip(x) {
            *di = Self::diag_entry(t);
        }
    }
    fn domain(&self) -> Vec<(f64, f64)> {
        vec![(-5.12, 5.12); self.dim]
    }
    fn plot_box(&self) -> [(f64, f64); 2] {
        plot_box_for(self, [(-5.12, 5.12), (-5.12, 5.12)])
    }
    fn minima(&self) -> Vec<Vec<f64>> {
        vec![vec![0.0; self.dim]]
    }
    fn min_value(&self) -> Option<f64> {
        Some(0.0)
    }
    fn default_starts(&self) -> Vec<Vec<f64>> {
        starts_for(&[&[2.6, -3.4], &[-4.6, 4.3], &[0.4, 0.3]], self.dim)
    }
}

// ---------------------------------------------------------------------------
// Ackley
// ---------------------------------------------------------------------------

const ACKLEY_A: f64 = 20.0;
const ACKLEY_B: f64 = 0.2;

const ACKLEY_NOTE: &str = "Non-differentiable at the origin, where the cone term \
     -20 exp(-0.2 r), r = sqrt(sum x_i^2 / d), has a kink. Convention at r == 0 (in floating \
     point): the cone term contributes 0 to the gradient (so the gradient at the origin is \
     exactly 0, a valid subgradient) and 0 to the Hessian, which therefore equals the Hessian \
     of the smooth cosine term, (4 pi^2 e / d) I. Near the origin the exact (large, ~1/r) \
     Hessian is returned; results are never NaN or infinite.";

/// Ackley function.
///
/// `f(x) = -20 exp(-0.2 sqrt((1/d) sum x_i^2)) - exp((1/d) sum cos(2 pi x_i)) + 20 + e`
///
/// - Domain: `[-32.768, 32.768]^d`; plot box `[-5, 5]^2`.
/// - Global minimum: `f(0) = 0`; many local minima near the integer lattice.
/// - Non-differentiable at the origin (the cone `-20 exp(-0.2 r)` with
///   `r = sqrt(sum x_i^2 / d)`). Convention at `r == 0`: the cone term
///   contributes 0 to the gradient (gradient exactly 0, a valid subgradient)
///   and 0 to the Hessian, which is then `(4 pi^2 e / d) I` (the Hessian of
///   the smooth cosine term). Results are never NaN or infinite.
/// - Source: D. H. Ackley (1987); Surjanovic & Bingham, Virtual Library of
///   Simulation Experiments (`ackley`, with a = 20, b = 0.2, c = 2 pi);
///   argmin-testfunctions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ackley {
    dim: usize,
}

/// Quantities shared by all derivative entries at one point.
struct AckleyCommon {
    /// `r = sqrt(sum x_i^2 / d)`.
    r: f64,
    /// `exp(-b r)`.
    e1: f64,
    /// `exp(sum cos(2 pi x_i) / d)`.
    e2: f64,
    /// `1 / d`.
    inv_d: f64,
}

impl Ackley {
    /// Ackley in `dim` dimensions. Panics if `dim == 0`.
    pub fn new(dim: usize) -> Self {
        assert!(dim >= 1, "ackley: dim must be at least 1");
        Ackley { dim }
    }

    /// Returns the shared quantities and the mean of cos(2 pi x_i).
    fn common(&self, x: &[f64]) -> (AckleyCommon, f64) {
        let inv_d = 1.0 / self.dim as f64;
        let mut s = 0.0;
        let mut c = 0.0;
        for &t in x {
            s += t * t;
            c += (TAU * t).cos();
        }
        let r = (s * inv_d).sqrt();
        let mean_cos = c * inv_d;
        (AckleyCommon { r, e1: (-ACKLEY_B * r).exp(), e2: mean_cos.exp(), inv_d }, mean_cos)
    }

    /// Gradient entry for coordinate value `t`.
    fn grad_entry(k: &AckleyCommon, t: f64) -> f64 {
        let cone = if k.r > 0.0 { ACKLEY_A * ACKLEY_B * k.inv_d * k.e1 * (t / k.r) } else { 0.0 };
        cone + k.e2 * TAU * k.inv_d * (TAU * t).sin()
    }

    /// Hessian entry `(i, j)` for coordinate values `ti = x_i`, `tj = x_j`:
    /// `(ab/d)(E1/r)[delta_ij - u_i u_j (b r + 1)/d]
    ///   + E2 [(4 pi^2/d) cos_i delta_ij - (2 pi/d)^2 sin_i sin_j]`, `u = x / r`.
    fn hess_entry(k: &AckleyCommon, ti: f64, tj: f64, diag: bool) -> f64 {
        let delta = if diag { 1.0 } else { 0.0 };
        let cone = if k.r > 0.0 {
            let (ui, uj) = (ti / k.r, tj / k.r);
            ACKLEY_A * ACKLEY_B * k.inv_d * (k.e1 / k.r) * (delta - ui * uj * (ACKLEY_B * k.r + 1.0) * k.inv_d)
        } else {
            0.0
        };
        let w = TAU * k.inv_d;
        let (si, ci) = (TAU * ti).sin_cos();
        let sj = (TAU * tj).sin();
        let smooth = k.e2 * (TAU * w * ci * delta - w * w * si * sj);
        cone + smooth
    }
}

impl TestFunction for Ackley {
    fn name(&self) -> &'static str {
        "ackley"
    }
    fn title(&self) -> &'static str {
        "Ackley"
    }
    fn formula(&self) -> &'static str {
        "f(x) = -20 exp(-0.2 sqrt((1/d) sum x_i^2)) - exp((1/d) sum cos(2 pi x_i)) + 20 + e"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn value(&self, x: &[f64]) -> f64 {
        check_lengths!(self, "ackley", x);
        let (k, mean_cos) = self.common(x);
        // 20 (1 - exp(-0.2 r)) + e (1 - exp(mean_cos - 1)), accurate near the minimum.
        -ACKLEY_A * (-ACKLEY_B * k.r).exp_m1() - E * (mean_cos - 1.0).exp_m1()
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        self.value_and_gradient(x, g);
    }
    fn value_and_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        check_lengths!(self, "ackley", x, g = self.dim);
        let (k, mean_cos) = self.common(x);
        for (gi, &t) in g.iter_mut().zip(x) {
            *gi = Self::grad_entry(&k, t);
        }
        -ACKLEY_A * (-ACKLEY_B * k.r).exp_m1() - E * (mean_cos - 1.0).exp_m1()
    }
    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        check_lengths!(self, "ackley", x, h = self.dim * self.dim);
        let (k, _) = self.common(x);
        let d = self.dim;
        for i in 0..d {
            h[i * d + i] = Self::hess_entry(&k, x[i], x[i], true);
            for j in i + 1..d {
                let v = Self::hess_entry(&k, x[i], x[j], false);
                h[i * d + j] = v;
                h[j * d + i] = v;
            }
        }
    }
    fn hessian_diag(&self, x: &[f64], d: &mut [f64]) {
        check_lengths!(self, "ackley", x, d = self.dim);
        let (k, _) = self.common(x);
        for (di, &t) in d.iter_mut().zip(x) {
            *di = Self::hess_entry(&k, t, t, true);
        }
    }
    fn domain(&self) -> Vec<(f64, f64)> {
        vec![(-32.768, 32.768); self.dim]
    }
    fn plot_box(&self) -> [(f64, f64); 2] {
        plot_box_for(self, [(-5.0, 5.0), (-5.0, 5.0)])
    }
    fn minima(&self) -> Vec<Vec<f64>> {
        vec![vec![0.0; self.dim]]
    }
    fn min_value(&self) -> Option<f64> {
        Some(0.0)
    }
    fn default_starts(&self) -> Vec<Vec<f64>> {
        starts_for(&[&[3.3, -2.4], &[-4.2, 4.6], &[1.3, 0.8]], self.dim)
    }
    fn nonsmooth_note(&self) -> Option<&'static str> {
        Some(ACKLEY_NOTE)
    }
}
