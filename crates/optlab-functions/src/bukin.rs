//! Bukin function N.6 (non-smooth).

/// Subgradient convention text shared by the docs and `nonsmooth_note()`.
const NOTE: &str = "Non-differentiable on the ridge u = y - 0.01x^2 = 0 and on the line x = -10. \
     Conventions: d|v|/dv = sign(v) with sign(0) = 0, and d sqrt(|u|)/du = 0 at u = 0 \
     (so on the ridge only the 0.01*sign(x+10) term of the gradient remains, and at the \
     minimiser (-10, 1) the gradient is exactly 0). The Hessian of the sqrt term is 0 on \
     the ridge and the Hessian of 0.01|x+10| is taken as 0 everywhere. Off the ridge the \
     exact Hessian is returned; entries whose true magnitude exceeds f64::MAX (only for \
     |u| < ~1e-205) saturate to +-f64::MAX, so results are never NaN or infinite.";

/// Bukin function N.6.
///
/// `f(x, y) = 100 sqrt(|y - 0.01 x^2|) + 0.01 |x + 10|`
///
/// - Domain: `x in [-15, -5]`, `y in [-3, 3]`.
/// - Global minimum: `f(-10, 1) = 0`. Every point of the ridge
///   `y = 0.01 x^2` is a "valley floor"; along it `f = 0.01|x + 10|` is tiny,
///   which makes the function very hard for gradient methods.
/// - Non-smooth on the ridge `u = y - 0.01 x^2 = 0` (where the derivative of
///   `sqrt(|u|)` is unbounded) and on the line `x = -10`.
/// - Subgradient convention: `sign(0) = 0` for `|x + 10|`, and the derivative
///   of `sqrt(|u|)` is taken as 0 at `u = 0`; the Hessian contribution of the
///   sqrt term is 0 on the ridge and that of `0.01|x + 10|` is 0 everywhere.
///   Hessian entries that overflow (only for `|u| < ~1e-205`) saturate to
///   `+-f64::MAX`. Results are never NaN or infinite.
/// - Source: Surjanovic & Bingham, Virtual Library of Simulation Experiments
///   (`bukin6`); Jamil & Yang (2013).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BukinN6;

/// `sign(v)` with `sign(0) = 0`.
fn sign0(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn saturate(v: f64) -> f64 {
    v.clamp(-f64::MAX, f64::MAX)
}

impl BukinN6 {
    fn f(x: f64, y: f64) -> f64 {
        100.0 * (y - 0.01 * x * x).abs().sqrt() + 0.01 * (x + 10.0).abs()
    }

    fn fg(x: f64, y: f64) -> (f64, [f64; 2]) {
        let u = y - 0.01 * x * x;
        let r = u.abs().sqrt();
        let s = sign0(x + 10.0);
        let v = 100.0 * r + 0.01 * (x + 10.0).abs();
        if u == 0.0 {
            return (v, [0.01 * s, 0.0]);
        }
        // d/du 100 sqrt(|u|) = 50 sign(u) / sqrt(|u|); du/dx = -0.02 x, du/dy = 1.
        // r >= sqrt(smallest subnormal) ~ 2.2e-162, so k is finite.
        let k = 50.0 * sign0(u) / r;
        (v, [saturate(-0.02 * x * k) + 0.01 * s, k])
    }

    fn h(x: f64, y: f64) -> [f64; 3] {
        let u = y - 0.01 * x * x;
        if u == 0.0 {
            return [0.0, 0.0, 0.0];
        }
        // With g(u) = sqrt(|u|): g' = sign(u)/(2r), g'' = -1/(4 r^3), r = sqrt(|u|).
        // f_xx = 100 (g'' u_x^2 + g' u_xx) = -0.01 x^2 / r^3 - sign(u)/r
        // f_xy = 100 g'' u_x u_y = 0.5 x / r^3
        // f_yy = 100 g'' = -25 / r^3
        let r = u.abs().sqrt();
        let inv_r = 1.0 / r;
        let inv_r3 = (inv_r * inv_r * inv_r).min(f64::MAX);
        let hxx = saturate(-0.01 * x * x * inv_r3) - sign0(u) * inv_r;
        let hxy = saturate(0.5 * x * inv_r3);
        let hyy = saturate(-25.0 * inv_r3);
        [saturate(hxx), hxy, hyy]
    }
}

impl_fixed_2d! {
    BukinN6 {
        name: "bukin_n6",
        title: "Bukin N.6",
        formula: "f(x, y) = 100 sqrt(|y - 0.01 x^2|) + 0.01 |x + 10|",
        domain: [(-15.0, -5.0), (-3.0, 3.0)],
        plot_box: [(-15.0, -5.0), (-3.0, 3.0)],
        minima: [[-10.0, 1.0]],
        min_value: Some(0.0),
        starts: [[-12.0, 2.0], [-6.0, -1.0], [-14.0, 0.0]],
        note: NOTE,
    }
}
