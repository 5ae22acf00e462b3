//! Smooth fixed two-dimensional test functions.

use std::f64::consts::PI;

// ---------------------------------------------------------------------------
// Booth
// ---------------------------------------------------------------------------

/// Booth function.
///
/// `f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2`
///
/// - Domain: `[-10, 10]^2`.
/// - Global minimum: `f(1, 3) = 0` (a convex quadratic with constant Hessian
///   `[[10, 8], [8, 10]]`, condition number 9).
/// - Source: Surjanovic & Bingham, Virtual Library of Simulation Experiments
///   (`booth`); argmin-testfunctions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Booth;

impl Booth {
    fn f(x: f64, y: f64) -> f64 {
        let a = x + 2.0 * y - 7.0;
        let b = 2.0 * x + y - 5.0;
        a * a + b * b
    }

    fn fg(x: f64, y: f64) -> (f64, [f64; 2]) {
        let a = x + 2.0 * y - 7.0;
        let b = 2.0 * x + y - 5.0;
        (a * a + b * b, [2.0 * a + 4.0 * b, 4.0 * a + 2.0 * b])
    }

    fn h(_x: f64, _y: f64) -> [f64; 3] {
        [10.0, 8.0, 10.0]
    }
}

impl_fixed_2d! {
    Booth {
        name: "booth",
        title: "Booth",
        formula: "f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2",
        domain: [(-10.0, 10.0), (-10.0, 10.0)],
        plot_box: [(-10.0, 10.0), (-10.0, 10.0)],
        minima: [[1.0, 3.0]],
        min_value: Some(0.0),
        starts: [[-8.0, 7.0], [0.0, 0.0], [8.0, -8.0]],
    }
}

// ---------------------------------------------------------------------------
// Himmelblau
// ---------------------------------------------------------------------------

/// Himmelblau function.
///
/// `f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2`
///
/// - Domain: `[-5, 5]^2`.
/// - Four global minima, all with `f = 0`: `(3, 2)`,
///   `(-2.805118086952745, 3.131312518250573)`,
///   `(-3.779310253377747, -3.283185991286169)`,
///   `(3.584428340330492, -1.848126526964404)`; a local maximum at
///   `(-0.270845, -0.923039)`.
/// - Source: D. M. Himmelblau, *Applied Nonlinear Programming* (1972);
///   Surjanovic & Bingham, Virtual Library of Simulation Experiments.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Himmelblau;

impl Himmelblau {
    fn f(x: f64, y: f64) -> f64 {
        let a = x * x + y - 11.0;
        let b = x + y * y - 7.0;
        a * a + b * b
    }

    fn fg(x: f64, y: f64) -> (f64, [f64; 2]) {
        let a = x * x + y - 11.0;
        let b = x + y * y - 7.0;
        (a * a + b * b, [4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b])
    }

    fn h(x: f64, y: f64) -> [f64; 3] {
        [12.0 * x * x + 4.0 * y - 42.0, 4.0 * (x + y), 4.0 * x + 12.0 * y * y - 26.0]
    }
}

impl_fixed_2d! {
    Himmelblau {
        name: "himmelblau",
        title: "Himmelblau",
        formula: "f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        domain: [(-5.0, 5.0), (-5.0, 5.0)],
        plot_box: [(-5.0, 5.0), (-5.0, 5.0)],
        minima: [
            [3.0, 2.0],
            [-2.805118086952745, 3.131312518250573],
            [-3.779310253377747, -3.283185991286169],
            [3.584428340330492, -1.848126526964404],
        ],
        min_value: Some(0.0),
        starts: [[0.0, 0.0], [-1.0, -1.0], [4.0, 4.0]],
    }
}

// ---------------------------------------------------------------------------
// Matyas
// ---------------------------------------------------------------------------

/// Matyas function.
///
/// `f(x, y) = 0.26 (x^2 + y^2) - 0.48 x y`
///
/// - Domain: `[-10, 10]^2`.
/// - Global minimum: `f(0, 0) = 0` (convex quadratic, Hessian eigenvalues 1
///   and 0.04: a long shallow valley along `x = y`).
/// - Source: Surjanovic & Bingham, Virtual Library of Simulation Experiments;
///   argmin-testfunctions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Matyas;

impl Matyas {
    fn f(x: f64, y: f64) -> f64 {
        0.26 * (x * x + y * y) - 0.48 * x * y
    }

    fn fg(x: f64, y: f64) -> (f64, [f64; 2]) {
        (Self::f(x, y), [0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x])
    }

    fn h(_x: f64, _y: f64) -> [f64; 3] {
        [0.52, -0.48, 0.52]
    }
}

impl_fixed_2d! {
    Matyas {
        name: "matyas",
        title: "Matyas",
        formula: "f(x, y) = 0.26 (x^2 + y^2) - 0.48 x y",
        domain: [(-10.0, 10.0), (-10.0, 10.0)],
        plot_box: [(-10.0, 10.0), (-10.0, 10.0)],
        minima: [[0.0, 0.0]],
        min_value: Some(0.0),
        starts: [[-8.0, 6.0], [9.0, 9.5], [5.0, -3.0]],
    }
}

// ---------------------------------------------------------------------------
// Saddle
// ---------------------------------------------------------------------------

/// Saddle function.
///
/// `f(x, y) = x^2 - y^2`
///
/// - Domain: `[-2, 2]^2`.
/// - No minimum: unbounded below along `y` (saddle point at the origin).
///   [`crate::TestFunction::minima`] is empty and
///   [`crate::TestFunction::min_value`] is `None`.
/// - The default start `(1.5, 1e-3)` lies just off the x-axis: an optimizer
///   first slides towards the saddle and must then escape along `y`. The third
///   start `(1.8, 0)` lies exactly on the stable manifold (gradient descent
///   converges to the saddle).
/// - Source: didactic example.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Saddle;

impl Saddle {
    fn f(x: f64, y: f64) -> f64 {
        x * x - y * y
    }

    fn fg(x: f64, y: f64) -> (f64, [f64; 2]) {
        (x * x - y * y, [2.0 * x, -2.0 * y])
    }

    fn h(_x: f64, _y: f64) -> [f64; 3] {
        [2.0, 0.0, -2.0]
    }
}

impl_fixed_2d! {
    Saddle {
        name: "saddle",
        title: "Saddle",
        formula: "f(x, y) = x^2 - y^2",
        domain: [(-2.0, 2.0), (-2.0, 2.0)],
        plot_box: [(-2.0, 2.0), (-2.0, 2.0)],
        minima: [],
        min_value: None,
        starts: [[1.5, 1e-3], [-1.5, 0.01], [1.8, 0.0]],
    }
}

// ---------------------------------------------------------------------------
// Beale
// ---------------------------------------------------------------------------

/// Beale function.
///
/// `f(x, y) = (1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2`
///
/// - Domain: `[-4.5, 4.5]^2`.
/// - Global minimum: `f(3, 0.5) = 0`; flat plateaus and steep walls near the
///   corners.
/// - Source: E. M. L. Beale (1958); Surjanovic & Bingham, Virtual Library of
///   Simulation Experiments; argmin-testfunctions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Beale;

const BEALE_C: [f64; 3] = [1.5, 2.25, 2.625];

impl Beale {
    fn f(x: f64, y: f64) -> f64 {
        let mut yi = 1.0;
        let mut v = 0.0;
        for c in BEALE_C {
            yi *= y;
            let t = c - x + x * yi;
            v += t * t;
        }
        v
    }

    fn fg(x: f64, y: f64) -> (f64, [f64; 2]) {
        // t_i = c_i - x + x y^i, dt_i/dx = y^i - 1, dt_i/dy = i x y^(i-1).
        let mut yim1 = 1.0; // y^(i-1)
        let (mut v, mut gx, mut gy) = (0.0, 0.0, 0.0);
        for (k, c) in BEALE_C.into_iter().enumerate() {
            let i = (k + 1) as f64;
            let yi = yim1 * y;
            let t = c - x + x * yi;
            v += t * t;
            gx += 2.0 * t * (yi - 1.0);
            gy += 2.0 * t * i * x * yim1;
            yim1 = yi;
        }
        (v, [gx, gy])
    }

    fn h(x: f64, y: f64) -> [f64; 3] {
        let mut yim2 = 0.0; // y^(i-2) (only used with the factor i-1, which is 0 for i = 1)
        let mut yim1 = 1.0; // y^(i-1)
        let (mut hxx, mut hxy, mut hyy) = (0.0, 0.0, 0.0);
        for (k, c) in BEALE_C.into_iter().enumerate() {
            let i = (k + 1) as f64;
            let yi = yim1 * y;
            let t = c - x + x * yi;
            let tx = yi - 1.0;
            let ty = i * x * yim1;
            hxx += 2.0 * tx * tx;
            hxy += 2.0 * (ty * tx + t * i * yim1);
            hyy += 2.0 * (ty * ty + t * i * (i - 1.0) * x * yim2);
            yim2 = yim1;
            yim1 = yi;
        }
        [hxx, hxy, hyy]
    }
}

impl_fixed_2d! {
    Beale {
        name: "beale",
        title: "Beale",
        formula: "f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
        domain: [(-4.5, 4.5), (-4.5, 4.5)],
        plot_box: [(-4.5, 4.5), (-4.5, 4.5)],
        minima: [[3.0, 0.5]],
        min_value: Some(0.0),
        starts: [[1.0, 1.5], [-2.0, -1.0], [4.0, 1.0]],
    }
}

// ---------------------------------------------------------------------------
// Easom
// ---------------------------------------------------------------------------

/// Easom function.
///
/// `f(x, y) = -cos(x) cos(y) exp(-(x - pi)^2 - (y - pi)^2)`
///
/// - Domain: `[-100, 100]^2` (the function is essentially flat, `f ~ 0`,
///   away from the minimum; the plot box is `[-1, 7]^2`).
/// - Global minimum: `f(pi, pi) = -1`.
/// - Source: E. E. Easom (1990); Surjanovic & Bingham, Virtual Library of
///   Simulation Experiments; argmin-testfunctions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Easom;

impl Easom {
    fn f(x: f64, y: f64) -> f64 {
        let p = x - PI;
        let q = y - PI;
        -x.cos() * y.cos() * (-(p * p) - q * q).exp()
    }

    fn fg(x: f64, y: f64) -> (f64, [f64; 2]) {
        let p = x - PI;
        let q = y - PI;
        let e = (-(p * p) - q * q).exp();
        let (s1, c1) = x.sin_cos();
        let (s2, c2) = y.sin_cos();
        let v = -c1 * c2 * e;
        // f_x = cos(y) E (sin x + 2p cos x), f_y = cos(x) E (sin y + 2q cos y)
        (v, [c2 * e * (s1 + 2.0 * p * c1), c1 * e * (s2 + 2.0 * q * c2)])
    }

    fn h(x: f64, y: f64) -> [f64; 3] {
        let p = x - PI;
        let q = y - PI;
        let e = (-(p * p) - q * q).exp();
        let (s1, c1) = x.sin_cos();
        let (s2, c2) = y.sin_cos();
        let hxx = c2 * e * (3.0 * c1 - 4.0 * p * s1 - 4.0 * p * p * c1);
        let hyy = c1 * e * (3.0 * c2 - 4.0 * q * s2 - 4.0 * q * q * c2);
        let hxy = -e * (s1 + 2.0 * p * c1) * (s2 + 2.0 * q * c2);
        [hxx, hxy, hyy]
    }
}

impl_fixed_2d! {
    Easom {
        name: "easom",
        title: "Easom",
        formula: "f(x, y) = -cos(x) cos(y) exp(-(x - pi)^2 - (y - pi)^2)",
        domain: [(-100.0, 100.0), (-100.0, 100.0)],
        plot_box: [(-1.0, 7.0), (-1.0, 7.0)],
        minima: [[PI, PI]],
        min_value: Some(-1.0),
        starts: [[1.5, 4.0], [2.0, 2.0], [5.0, 1.0]],
    }
}

// ---------------------------------------------------------------------------
// Goldstein-Price
// ---------------------------------------------------------------------------

/// Goldstein-Price function.
///
/// `f(x, y) = [1 + (x + y + 1)^2 (19 - 14x + 3x^2 - 14y + 6xy + 3y^2)]
///          * [30 + (2x - 3y)^2 (18 - 32x + 12x^2 + 48y - 36xy + 27y^2)]`
///
/// - Domain: `[-2, 2]^2`.
/// - Global minimum: `f(0, -1) = 3`; local minima near `(-0.6, -0.4)` (30),
///   `(1.8, 0.2)` (84) and `(1.2, 0.8)` (840).
/// - Source: A. A. Goldstein & J. F. Price (1971); Surjanovic & Bingham,
///   Virtual Library of Simulation Experiments; argmin-testfunctions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GoldsteinPrice;

/// Value, gradient and Hessian of `c + l^2 q` for a linear `l` with gradient
/// `(lx, ly)` and a quadratic `q` with gradient `(qx, qy)` and constant
/// Hessian `(qxx, qxy, qyy)`. Returns `[v, gx, gy, hxx, hxy, hyy]`.
#[allow(clippy::too_many_arguments)]
fn const_plus_sq_times_quad(
    c: f64,
    l: f64,
    lx: f64,
    ly: f64,
    q: f64,
    qx: f64,
    qy: f64,
    qxx: f64,
    qxy: f64,
    qyy: f64,
) -> [f64; 6] {
    let l2 = l * l;
    [
        c + l2 * q,
        2.0 * l * lx * q + l2 * qx,
        2.0 * l * ly * q + l2 * qy,
        2.0 * lx * lx * q + 4.0 * l * lx * qx + l2 * qxx,
        2.0 * lx * ly * q + 2.0 * l * lx * qy + 2.0 * l * ly * qx + l2 * qxy,
        2.0 * ly * ly * q + 4.0 * l * ly * qy + l2 * qyy,
    ]
}

impl GoldsteinPrice {
    /// The two factors `A = 1 + s^2 P` and `B = 30 + t^2 Q` with their
    /// derivatives (see [`const_plus_sq_times_quad`]).
    fn factors(x: f64, y: f64) -> ([f64; 6], [f64; 6]) {
        let s = x + y + 1.0;
        let p = 19.0 - 14.0 * x + 3.0 * x * x - 14.0 * y + 6.0 * x * y + 3.0 * y * y;
        let px = -14.0 + 6.0 * x + 6.0 * y;
        let py = -14.0 + 6.0 * x + 6.0 * y;
        let a = const_plus_sq_times_quad(1.0, s, 1.0, 1.0, p, px, py, 6.0, 6.0, 6.0);
        let t = 2.0 * x - 3.0 * y;
        let q = 18.0 - 32.0 * x + 12.0 * x * x + 48.0 * y - 36.0 * x * y + 27.0 * y * y;
        let qx = -32.0 + 24.0 * x - 36.0 * y;
        let qy = 48.0 - 36.0 * x + 54.0 * y;
        let b = const_plus_sq_times_quad(30.0, t, 2.0, -3.0, q, qx, qy, 24.0, -36.0, 54.0);
        (a, b)
    }

    fn f(x: f64, y: f64) -> f64 {
        let (a, b) = Self::factors(x, y);
        a[0] * b[0]
    }

    fn fg(x: f64, y: f64) -> (f64, [f64; 2]) {
        let (a, b) = Self::factors(x, y);
        (a[0] * b[0], [a[1] * b[0] + a[0] * b[1], a[2] * b[0] + a[0] * b[2]])
    }

    fn h(x: f64, y: f64) -> [f64; 3] {
        let (a, b) = Self::factors(x, y);
        [
            a[3] * b[0] + 2.0 * a[1] * b[1] + a[0] * b[3],
            a[4] * b[0] + a[1] * b[2] + a[2] * b[1] + a[0] * b[4],
            a[5] * b[0] + 2.0 * a[2] * b[2] + a[0] * b[5],
        ]
    }
}

impl_fixed_2d! {
    GoldsteinPrice {
        name: "goldstein_price",
        title: "Goldstein-Price",
        formula: "f(x, y) = [1 + (x + y + 1)^2 (19 - 14x + 3x^2 - 14y + 6xy + 3y^2)] \
                  * [30 + (2x - 3y)^2 (18 - 32x + 12x^2 + 48y - 36xy + 27y^2)]",
        domain: [(-2.0, 2.0), (-2.0, 2.0)],
        plot_box: [(-2.0, 2.0), (-2.0, 2.0)],
        minima: [[0.0, -1.0]],
        min_value: Some(3.0),
        starts: [[-1.0, 1.0], [1.5, 1.5], [-1.5, -1.8]],
    }
}

// ---------------------------------------------------------------------------
// Three-hump camel
// ---------------------------------------------------------------------------

/// Three-hump camel function.
///
/// `f(x, y) = 2x^2 - 1.05x^4 + x^6/6 + xy + y^2`
///
/// - Domain: `[-5, 5]^2`.
/// - Global minimum: `f(0, 0) = 0`. Two further local minima at
///   `+-(1.747552, -0.873776)` with `f = 0.298638`, and saddle points at
///   `+-(1.070563, -0.535281)`.
/// - Source: Surjanovic & Bingham, Virtual Library of Simulation Experiments;
///   argmin-testfunctions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ThreeHumpCamel;

impl ThreeHumpCamel {
    fn f(x: f64, y: f64) -> f64 {
        let x2 = x * x;
        2.0 * x2 - 1.05 * x2 * x2 + x2 * x2 * x2 / 6.0 + x * y + y * y
    }

    fn fg(x: f64, y: f64) -> (f64, [f64; 2]) {
        let x2 = x * x;
        (Self::f(x, y), [4.0 * x - 4.2 * x2 * x + x2 * x2 * x + y, x + 2.0 * y])
    }

    fn h(x: f64, _y: f64) -> [f64; 3] {
        let x2 = x * x;
        [4.0 - 12.6 * x2 + 5.0 * x2 * x2, 1.0, 2.0]
    }
}

impl_fixed_2d! {
    ThreeHumpCamel {
        name: "three_hump_camel",
        title: "Three-hump camel",
        formula: "f(x, y) = 2x^2 - 1.05x^4 + x^6/6 + xy + y^2",
        domain: [(-5.0, 5.0), (-5.0, 5.0)],
        plot_box: [(-3.0, 3.0), (-3.0, 3.0)],
        minima: [[0.0, 0.0]],
        min_value: Some(0.0),
        starts: [[-2.5, 2.5], [2.0, -2.0], [1.5, 0.5]],
    }
}
