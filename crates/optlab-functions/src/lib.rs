//! Classic test functions for optimizers, in `f64`, with exact analytic
//! gradients and Hessians.
//!
//! Every function implements [`TestFunction`]: value, gradient, full Hessian
//! (row-major, symmetric), a cheap Hessian diagonal, the search domain, a box
//! for contour plots, all global minimisers, the optimal value and a few
//! default starting points. Functions are looked up by name with [`by_name`];
//! [`NAMES`] lists them all.
//!
//! | name | dimension | global minimum |
//! |---|---|---|
//! | `booth` | 2 | `(1, 3) -> 0` |
//! | `bukin_n6` | 2 | `(-10, 1) -> 0` (non-smooth) |
//! | `himmelblau` | 2 | four minimisers `-> 0` |
//! | `matyas` | 2 | `(0, 0) -> 0` |
//! | `sphere` | d (default 2) | `0 -> 0` |
//! | `styblinski_tang` | d (default 2) | `x_i = -2.9035... -> -39.166...*d` |
//! | `saddle` | 2 | none (unbounded below) |
//! | `beale` | 2 | `(3, 0.5) -> 0` |
//! | `easom` | 2 | `(pi, pi) -> -1` |
//! | `goldstein_price` | 2 | `(0, -1) -> 3` |
//! | `rosenbrock` | d >= 2 (default 2) | `(1, ..., 1) -> 0` |
//! | `three_hump_camel` | 2 | `(0, 0) -> 0` |
//! | `rastrigin` | d (default 2) | `0 -> 0` |
//! | `ackley` | d (default 2) | `0 -> 0` (non-smooth at the origin) |
//! | `cubic` | 1 | none (monotone, unbounded below) |
//!
//! Non-differentiable points never produce NaN or infinity: a documented
//! subgradient (and a documented finite "Hessian") is returned instead, see
//! [`TestFunction::nonsmooth_note`].
//!
//! ```
//! use optlab_functions::{by_name, TestFunction};
//!
//! let f = by_name("rosenbrock", None).unwrap();
//! let x0 = &f.default_starts()[0]; // (-1.5, 2)
//! let mut g = vec![0.0; f.dim()];
//! let v = f.value_and_gradient(x0, &mut g);
//! assert!(v > 0.0 && g.iter().all(|t| t.is_finite()));
//! let mut diag = vec![0.0; f.dim()];
//! f.hessian_diag(x0, &mut diag);
//! assert_eq!(f.min_value(), Some(0.0));
//! assert_eq!(f.minima(), vec![vec![1.0, 1.0]]);
//! assert!(by_name("booth", Some(3)).is_err());
//! ```
//!
//! Sources: S. Surjanovic & D. Bingham, *Virtual Library of Simulation
//! Experiments: Test Functions and Datasets* (<https://www.sfu.ca/~ssurjano/>);
//! M. Jamil & X.-S. Yang, *A literature survey of benchmark functions for
//! global optimization problems* (2013); the `argmin-testfunctions` crate.

use std::fmt;

#[macro_use]
mod fixed2;

mod bukin;
mod cubic;
pub mod expr;
mod formula;
mod nd;
mod two_d;

#[cfg(test)]
mod tests;

pub use bukin::BukinN6;
pub use cubic::Cubic;
pub use formula::{is_formula, Formula, DEFAULT_DOMAIN};
pub use nd::{Ackley, Rastrigin, Rosenbrock, Sphere, StyblinskiTang};
pub use two_d::{Beale, Booth, Easom, GoldsteinPrice, Himmelblau, Matyas, Saddle, ThreeHumpCamel};

/// A deterministic test function `f: R^dim -> R` with exact derivatives.
///
/// All slices passed in must have length `dim()` (`dim()*dim()` for the
/// Hessian); this is checked with `debug_assert!` only.
pub trait TestFunction: Send + Sync {
    /// Machine name, one of [`NAMES`] (e.g. `"rosenbrock"`).
    fn name(&self) -> &'static str;
    /// Human-readable title (e.g. `"Rosenbrock"`).
    fn title(&self) -> &'static str;
    /// Human-readable formula (ASCII).
    fn formula(&self) -> &'static str;
    /// Number of variables.
    fn dim(&self) -> usize;
    /// Function value `f(x)`.
    fn value(&self, x: &[f64]) -> f64;
    /// Writes the gradient (`dim` entries) into `g`.
    fn gradient(&self, x: &[f64], g: &mut [f64]);
    /// Writes the Hessian (`dim*dim` entries, row-major, symmetric) into `h`.
    fn hessian(&self, x: &[f64], h: &mut [f64]);
    /// Writes the Hessian diagonal (`dim` entries) into `d`; bit-identical to
    /// the diagonal of [`TestFunction::hessian`], but computed directly.
    fn hessian_diag(&self, x: &[f64], d: &mut [f64]);
    /// Value and gradient in one call (overridden where sharing work is cheaper).
    fn value_and_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let v = self.value(x);
        self.gradient(x, g);
        v
    }
    /// Per-coordinate bounds `(lo, hi)` of the search domain.
    fn domain(&self) -> Vec<(f64, f64)>;
    /// x- and y-range for contour plots of the first two coordinates (for
    /// 1-D functions: the x range and a range of f values).
    fn plot_box(&self) -> [(f64, f64); 2];
    /// All global minimisers (empty when there is none).
    fn minima(&self) -> Vec<Vec<f64>>;
    /// Global minimum value `f*` (`None` when unbounded below).
    fn min_value(&self) -> Option<f64>;
    /// Default starting points (at least one, each inside the domain); the
    /// first is *the* default start.
    fn default_starts(&self) -> Vec<Vec<f64>>;
    /// Documents the subgradient / Hessian convention used at
    /// non-differentiable points (`None` for smooth functions).
    fn nonsmooth_note(&self) -> Option<&'static str> {
        None
    }
    /// The box random starts are drawn from, when the function defines one (formulas with a
    /// `start VAR in [LO, HI]` clause); `None`: the plot box ∩ the domain.
    fn start_box(&self) -> Option<Vec<(f64, f64)>> {
        None
    }
}

/// Names of all available test functions, accepted by [`by_name`].
pub const NAMES: &[&str] = &[
    "booth",
    "bukin_n6",
    "himmelblau",
    "matyas",
    "sphere",
    "styblinski_tang",
    "saddle",
    "beale",
    "easom",
    "goldstein_price",
    "rosenbrock",
    "three_hump_camel",
    "rastrigin",
    "ackley",
    "cubic",
];

/// Largest dimension [`by_name`] accepts for a variable-dimension function (the same limit as the
/// `dim` key of experiment files and `--dim` of `optlab trace`): one million coordinates, i.e. 8 MB
/// per vector of `f64`. Larger values are refused with an error instead of an allocation failure.
pub const MAX_DIM: usize = 1_000_000;

const VARIABLE_DIM: &[&str] = &["sphere", "styblinski_tang", "rosenbrock", "rastrigin", "ackley"];

/// Error returned by [`by_name`]: an unknown name or an invalid dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    message: String,
}

impl FunctionError {
    fn new(message: String) -> Self {
        FunctionError { message }
    }

    /// The human-readable error message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FunctionError {}

/// `true` for the functions that accept any dimension: `sphere`,
/// `styblinski_tang`, `rosenbrock` (d >= 2), `rastrigin`, `ackley`.
pub fn is_variable_dim(name: &str) -> bool {
    VARIABLE_DIM.contains(&name)
}

/// Natural dimension of a fixed-dimension function (1 for `cubic`, 2 otherwise).
fn fixed_dim(name: &str) -> usize {
    if name == "cubic" {
        1
    } else {
        2
    }
}

/// What is wrong with a requested dimension, if anything, whatever the function: it must be in
/// `1..=`[`MAX_DIM`].
fn dim_problem(dim: usize) -> Option<String> {
    if dim == 0 {
        Some("dim must be at least 1".to_string())
    } else if dim > MAX_DIM {
        Some(format!("dim must be at most {MAX_DIM}"))
    } else {
        None
    }
}

/// Checks a requested dimension against the range every function accepts, `1..=`[`MAX_DIM`]
/// (which dimensions a particular function accepts is checked by [`by_name`]). The error names
/// the value and the limit.
pub fn check_dim(dim: usize) -> Result<(), FunctionError> {
    match dim_problem(dim) {
        Some(p) => Err(FunctionError::new(format!("invalid dim {dim}: {p}"))),
        None => Ok(()),
    }
}

/// Builds the test function called `name`, or the function a formula defines
/// (`f(x, y) = (1 - x)^2 + 100*(y - x^2)^2`, see [`Formula`]; any name holding `=`).
///
/// `dim: None` selects the natural/default dimension (2, or 1 for `cubic`).
/// Errors on an unknown name, on `dim == 0` or `dim > `[`MAX_DIM`], on a
/// dimension other than the fixed one for fixed-dimension functions, and on
/// `rosenbrock` with `dim 1`.
pub fn by_name(name: &str, dim: Option<usize>) -> Result<Box<dyn TestFunction>, FunctionError> {
    if is_formula(name) {
        let f = Formula::parse(name)?;
        if let Some(d) = dim.filter(|&d| d != f.dim()) {
            return Err(FunctionError::new(format!(
                "invalid dim {d} for the formula `{name}`: it has {} variables",
                f.dim()
            )));
        }
        return Ok(Box::new(f));
    }
    if !NAMES.contains(&name) {
        return Err(FunctionError::new(format!("unknown test function '{name}'; valid names: {}", NAMES.join(", "))));
    }
    if let Some(p) = dim.and_then(dim_problem) {
        let d = dim.unwrap_or_default();
        return Err(FunctionError::new(format!("invalid dim {d} for test function '{name}': {p}")));
    }
    if is_variable_dim(name) {
        let d = dim.unwrap_or(2);
        if name == "rosenbrock" && d < 2 {
            return Err(FunctionError::new(format!(
                "invalid dim {d} for test function 'rosenbrock': dim must be at least 2"
            )));
        }
        let f: Box<dyn TestFunction> = match name {
            "sphere" => Box::new(Sphere::new(d)),
            "styblinski_tang" => Box::new(StyblinskiTang::new(d)),
            "rosenbrock" => Box::new(Rosenbrock::new(d)),
            "rastrigin" => Box::new(Rastrigin::new(d)),
            "ackley" => Box::new(Ackley::new(d)),
            _ => unreachable!("variable-dimension name list out of sync"),
        };
        return Ok(f);
    }
    let fixed = fixed_dim(name);
    if let Some(d) = dim {
        if d != fixed {
            return Err(FunctionError::new(format!(
                "invalid dim {d} for test function '{name}': it has fixed dimension {fixed}; \
                 variable-dimension functions are: {}",
                VARIABLE_DIM.join(", ")
            )));
        }
    }
    let f: Box<dyn TestFunction> = match name {
        "booth" => Box::new(Booth),
        "bukin_n6" => Box::new(BukinN6),
        "himmelblau" => Box::new(Himmelblau),
        "matyas" => Box::new(Matyas),
        "saddle" => Box::new(Saddle),
        "beale" => Box::new(Beale),
        "easom" => Box::new(Easom),
        "goldstein_price" => Box::new(GoldsteinPrice),
        "three_hump_camel" => Box::new(ThreeHumpCamel),
        "cubic" => Box::new(Cubic),
        _ => unreachable!("name list out of sync"),
    };
    Ok(f)
}

/// A file-name stem for the function `name`: the name itself for a built-in function,
/// `formula_` and a 64-bit hash of the text (hexadecimal) for a formula.
pub fn file_stem(name: &str) -> String {
    if is_formula(name) {
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
        format!("formula_{h:016x}")
    } else {
        name.to_string()
    }
}

/// Range of `f` over `[lo, hi]` (sampled, padded by 5%), used as the y range
/// of the plot box of 1-D functions.
pub(crate) fn value_range_1d(f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> (f64, f64) {
    const N: usize = 400;
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    for k in 0..=N {
        let v = f(lo + (hi - lo) * (k as f64) / (N as f64));
        min = min.min(v);
        max = max.max(v);
    }
    let pad = 0.05 * (max - min).max(1e-12);
    (min - pad, max + pad)
}

/// Builds a `dim`-vector by cycling through `pattern`.
pub(crate) fn repeat_pattern(pattern: &[f64], dim: usize) -> Vec<f64> {
    (0..dim).map(|i| pattern[i % pattern.len()]).collect()
}
