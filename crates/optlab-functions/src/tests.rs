//! Unit tests: derivatives against finite differences, minima, starts,
//! registry errors and the non-smooth conventions.

use std::f64::consts::{E, PI};

use proptest::prelude::*;

use crate::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// SplitMix64: a tiny deterministic generator for reproducible samples.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi]`.
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }
}

/// Every function: fixed-dimension ones at their natural dimension,
/// variable-dimension ones at d = 2 and d = 5.
fn cases() -> Vec<Box<dyn TestFunction>> {
    let mut out = Vec::new();
    for &name in NAMES {
        if is_variable_dim(name) {
            for d in [2, 5] {
                out.push(by_name(name, Some(d)).unwrap());
            }
        } else {
            out.push(by_name(name, None).unwrap());
        }
    }
    out
}

fn label(f: &dyn TestFunction) -> String {
    format!("{}(d={})", f.name(), f.dim())
}

/// A random point: alternately uniform over the domain and uniform over the
/// plot box (first two coordinates; the rest over the domain). The plot box
/// matters for functions such as Easom that are flat over most of the domain.
fn sample_point(f: &dyn TestFunction, rng: &mut Rng, k: usize) -> Vec<f64> {
    let dom = f.domain();
    let pb = f.plot_box();
    let mut x: Vec<f64> = dom.iter().map(|&(lo, hi)| rng.uniform(lo, hi)).collect();
    if k % 2 == 1 {
        let n = if f.dim() == 1 { 1 } else { 2 };
        for i in 0..n {
            // Intersect with the domain so the point stays inside it.
            let lo = pb[i].0.max(dom[i].0);
            let hi = pb[i].1.min(dom[i].1);
            x[i] = rng.uniform(lo, hi);
        }
    }
    x
}

/// Points too close to a non-differentiable set for central differences.
fn near_nonsmooth(f: &dyn TestFunction, x: &[f64]) -> bool {
    match f.name() {
        "bukin_n6" => (x[1] - 0.01 * x[0] * x[0]).abs() < 1e-2 || (x[0] + 10.0).abs() < 1e-3,
        "ackley" => x.iter().map(|t| t * t).sum::<f64>().sqrt() < 1e-2,
        _ => false,
    }
}

/// `|a - b| <= tol`, false if either is NaN.
fn within(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn step(t: f64) -> f64 {
    1e-6 * t.abs().max(1.0)
}

fn in_domain(f: &dyn TestFunction, x: &[f64]) -> bool {
    x.len() == f.dim() && f.domain().iter().zip(x).all(|(&(lo, hi), &t)| lo <= t && t <= hi)
}

/// Gradient vs central differences of the value.
fn check_gradient_fd(f: &dyn TestFunction, x: &[f64]) -> Result<(), String> {
    let n = f.dim();
    let mut g = vec![0.0; n];
    f.gradient(x, &mut g);
    let fx = f.value(x);
    let mut xp = x.to_vec();
    let mut xm = x.to_vec();
    for i in 0..n {
        let h = step(x[i]);
        xp[i] = x[i] + h;
        xm[i] = x[i] - h;
        let fd = (f.value(&xp) - f.value(&xm)) / (xp[i] - xm[i]);
        xp[i] = x[i];
        xm[i] = x[i];
        let tol = 1e-5 * g[i].abs().max(fd.abs()) + 1e-7 * (1.0 + fx.abs());
        if !within(g[i], fd, tol) {
            return Err(format!("{}: grad[{i}] at {x:?}: analytic {} vs fd {} (tol {tol})", label(f), g[i], fd));
        }
    }
    Ok(())
}

/// Hessian vs central differences of the gradient.
fn check_hessian_fd(f: &dyn TestFunction, x: &[f64]) -> Result<(), String> {
    let n = f.dim();
    let mut h = vec![0.0; n * n];
    f.hessian(x, &mut h);
    let mut g0 = vec![0.0; n];
    f.gradient(x, &mut g0);
    let gscale = g0.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut gp = vec![0.0; n];
    let mut gm = vec![0.0; n];
    let mut xp = x.to_vec();
    let mut xm = x.to_vec();
    for j in 0..n {
        let hs = step(x[j]);
        xp[j] = x[j] + hs;
        xm[j] = x[j] - hs;
        f.gradient(&xp, &mut gp);
        f.gradient(&xm, &mut gm);
        let hh = xp[j] - xm[j];
        xp[j] = x[j];
        xm[j] = x[j];
        for i in 0..n {
            let fd = (gp[i] - gm[i]) / hh;
            let a = h[i * n + j];
            let tol = 1e-5 * a.abs().max(fd.abs()) + 1e-7 * (1.0 + gscale);
            if !within(a, fd, tol) {
                return Err(format!("{}: hess[{i},{j}] at {x:?}: analytic {a} vs fd {fd} (tol {tol})", label(f)));
            }
        }
    }
    Ok(())
}

/// Symmetry, exact diagonal, finiteness.
fn check_hessian_structure(f: &dyn TestFunction, x: &[f64]) -> Result<(), String> {
    let n = f.dim();
    let mut h = vec![f64::NAN; n * n];
    let mut d = vec![f64::NAN; n];
    let mut g = vec![f64::NAN; n];
    f.hessian(x, &mut h);
    f.hessian_diag(x, &mut d);
    f.gradient(x, &mut g);
    if !f.value(x).is_finite() || !g.iter().all(|v| v.is_finite()) || !h.iter().all(|v| v.is_finite()) {
        return Err(format!("{}: non-finite output at {x:?}: g={g:?} h={h:?}", label(f)));
    }
    for i in 0..n {
        if d[i].to_bits() != h[i * n + i].to_bits() {
            return Err(format!(
                "{}: hessian_diag[{i}]={} != hessian[{i},{i}]={} at {x:?}",
                label(f),
                d[i],
                h[i * n + i]
            ));
        }
        for j in 0..n {
            if h[i * n + j] != h[j * n + i] {
                return Err(format!("{}: hessian not symmetric at ({i},{j}) at {x:?}", label(f)));
            }
        }
    }
    Ok(())
}

const SAMPLES: usize = 300;

// ---------------------------------------------------------------------------
// Derivatives
// ---------------------------------------------------------------------------

#[test]
fn gradient_matches_finite_differences() {
    let mut rng = Rng(0x5EED_0001);
    for f in cases() {
        let mut checked = 0;
        for k in 0..SAMPLES {
            let x = sample_point(f.as_ref(), &mut rng, k);
            if near_nonsmooth(f.as_ref(), &x) {
                continue;
            }
            check_gradient_fd(f.as_ref(), &x).unwrap();
            checked += 1;
        }
        assert!(checked > SAMPLES / 2, "{}: too few points checked", label(f.as_ref()));
    }
}

#[test]
fn hessian_matches_finite_differences() {
    let mut rng = Rng(0x5EED_0002);
    for f in cases() {
        let mut checked = 0;
        for k in 0..SAMPLES {
            let x = sample_point(f.as_ref(), &mut rng, k);
            if near_nonsmooth(f.as_ref(), &x) {
                continue;
            }
            check_hessian_fd(f.as_ref(), &x).unwrap();
            checked += 1;
        }
        assert!(checked > SAMPLES / 2, "{}: too few points checked", label(f.as_ref()));
    }
}

#[test]
fn hessian_symmetric_and_diag_exact() {
    let mut rng = Rng(0x5EED_0003);
    for f in cases() {
        for k in 0..SAMPLES {
            let x = sample_point(f.as_ref(), &mut rng, k);
            check_hessian_structure(f.as_ref(), &x).unwrap();
        }
        for m in f.minima().iter().chain(f.default_starts().iter()) {
            check_hessian_structure(f.as_ref(), m).unwrap();
        }
    }
}

#[test]
fn value_and_gradient_is_consistent() {
    let mut rng = Rng(0x5EED_0004);
    for f in cases() {
        let n = f.dim();
        for k in 0..50 {
            let x = sample_point(f.as_ref(), &mut rng, k);
            let mut g1 = vec![0.0; n];
            let mut g2 = vec![0.0; n];
            let v1 = f.value_and_gradient(&x, &mut g1);
            let v2 = f.value(&x);
            f.gradient(&x, &mut g2);
            assert!((v1 - v2).abs() <= 1e-12 * (1.0 + v2.abs()), "{}: {v1} vs {v2}", label(f.as_ref()));
            assert_eq!(g1, g2, "{}", label(f.as_ref()));
        }
    }
}

/// The checkers above must be able to fail: a slightly wrong gradient or
/// Hessian is detected.
#[test]
fn finite_difference_checks_detect_errors() {
    struct Broken {
        inner: Box<dyn TestFunction>,
        grad_factor: f64,
        hess_factor: f64,
    }
    impl TestFunction for Broken {
        fn name(&self) -> &'static str {
            self.inner.name()
        }
        fn title(&self) -> &'static str {
            self.inner.title()
        }
        fn formula(&self) -> &'static str {
            self.inner.formula()
        }
        fn dim(&self) -> usize {
            self.inner.dim()
        }
        fn value(&self, x: &[f64]) -> f64 {
            self.inner.value(x)
        }
        fn gradient(&self, x: &[f64], g: &mut [f64]) {
            self.inner.gradient(x, g);
            g[0] *= self.grad_factor;
        }
        fn hessian(&self, x: &[f64], h: &mut [f64]) {
            self.inner.hessian(x, h);
            let n = self.dim();
            h[1] *= self.hess_factor;
            h[n] *= self.hess_factor;
        }
        fn hessian_diag(&self, x: &[f64], d: &mut [f64]) {
            self.inner.hessian_diag(x, d);
        }
        fn domain(&self) -> Vec<(f64, f64)> {
            self.inner.domain()
        }
        fn plot_box(&self) -> [(f64, f64); 2] {
            self.inner.plot_box()
        }
        fn minima(&self) -> Vec<Vec<f64>> {
            self.inner.minima()
        }
        fn min_value(&self) -> Option<f64> {
            self.inner.min_value()
        }
        fn default_starts(&self) -> Vec<Vec<f64>> {
            self.inner.default_starts()
        }
    }
    let x = [-1.5, 2.0];
    let bad_grad = Broken { inner: by_name("rosenbrock", None).unwrap(), grad_factor: 1.0 + 1e-3, hess_factor: 1.0 };
    assert!(check_gradient_fd(&bad_grad, &x).is_err());
    let bad_hess = Broken { inner: by_name("rosenbrock", None).unwrap(), grad_factor: 1.0, hess_factor: 1.0 + 1e-3 };
    assert!(check_gradient_fd(&bad_hess, &x).is_ok());
    assert!(check_hessian_fd(&bad_hess, &x).is_err());
    let good = by_name("rosenbrock", None).unwrap();
    assert!(check_gradient_fd(good.as_ref(), &x).is_ok());
    assert!(check_hessian_fd(good.as_ref(), &x).is_ok());
}

// ---------------------------------------------------------------------------
// Minima and metadata
// ---------------------------------------------------------------------------

#[test]
fn global_minima_are_correct() {
    for f in cases() {
        let name = label(f.as_ref());
        let minima = f.minima();
        match f.min_value() {
            None => assert!(minima.is_empty(), "{name}: minimisers listed but min_value None"),
            Some(fstar) => {
                assert!(!minima.is_empty(), "{name}: min_value given but no minimiser");
                for m in &minima {
                    assert!(in_domain(f.as_ref(), m), "{name}: minimiser {m:?} outside domain");
                    let v = f.value(m);
                    assert!((v - fstar).abs() <= 1e-9 * fstar.abs().max(1.0), "{name}: f({m:?}) = {v} != {fstar}");
                    let mut g = vec![f64::NAN; f.dim()];
                    f.gradient(m, &mut g);
                    let gn = g.iter().map(|t| t * t).sum::<f64>().sqrt();
                    assert!(gn <= 1e-8, "{name}: gradient {g:?} at minimiser {m:?}");
                    // Second-order condition (diagonal and 2x2 determinant).
                    let n = f.dim();
                    let mut h = vec![0.0; n * n];
                    f.hessian(m, &mut h);
                    assert!((0..n).all(|i| h[i * n + i] >= 0.0), "{name}: Hessian {h:?} at {m:?}");
                    if n == 2 {
                        assert!(h[0] * h[3] - h[1] * h[2] >= -1e-9 * (1.0 + h[0].abs() * h[3].abs()), "{name}");
                    }
                }
            }
        }
    }
}

#[test]
fn min_value_is_a_lower_bound_on_samples() {
    let mut rng = Rng(0x5EED_0005);
    for f in cases() {
        let Some(fstar) = f.min_value() else { continue };
        for k in 0..2000 {
            let x = sample_point(f.as_ref(), &mut rng, k);
            let v = f.value(&x);
            assert!(v >= fstar - 1e-9 * fstar.abs().max(1.0), "{}: f({x:?}) = {v} < f* = {fstar}", label(f.as_ref()));
        }
    }
}

#[test]
fn unbounded_functions_decrease_without_bound() {
    let saddle = by_name("saddle", None).unwrap();
    assert!(saddle.minima().is_empty() && saddle.min_value().is_none());
    assert!(saddle.value(&[0.0, 1e3]) < -1e5);
    let cubic = by_name("cubic", None).unwrap();
    assert!(cubic.minima().is_empty() && cubic.min_value().is_none());
    assert!(cubic.value(&[-1e3]) < -1e8);
    // Monotone: f' = 3(x-1)^2 + 1 >= 1; inflection at 1 with f'(1) = 1, f''(1) = 0.
    let mut rng = Rng(7);
    let mut g = [0.0];
    for _ in 0..500 {
        let x = rng.uniform(-50.0, 50.0);
        cubic.gradient(&[x], &mut g);
        assert!(g[0] >= 1.0 - 1e-12);
    }
    let mut h = [f64::NAN];
    cubic.gradient(&[1.0], &mut g);
    cubic.hessian(&[1.0], &mut h);
    assert_eq!((g[0], h[0]), (1.0, 0.0));
    assert_eq!(cubic.value(&[2.0]), 4.0);
    assert_eq!(cubic.plot_box(), [(-1.0, 3.0), (-8.0, 12.0)]);
    assert_eq!((cubic.value(&[-1.0]), cubic.value(&[3.0])), (-8.0, 12.0));
}

#[test]
fn styblinski_tang_minimum_is_precise() {
    let st = StyblinskiTang::new(3);
    let r = st.argmin_coordinate();
    assert!((4.0 * r * r * r - 32.0 * r + 5.0).abs() < 1e-12);
    assert!((r - (-2.903534027771177)).abs() < 1e-14, "{r}");
    let fstar = st.min_value().unwrap();
    assert!((fstar / 3.0 - (-39.16616570377141)).abs() < 1e-12, "{fstar}");
    for d in [1, 2, 7] {
        let f = by_name("styblinski_tang", Some(d)).unwrap();
        let m = &f.minima()[0];
        assert_eq!(m.len(), d);
        assert!((f.value(m) - f.min_value().unwrap()).abs() < 1e-12 * d as f64 * 40.0);
    }
}

#[test]
fn himmelblau_has_four_distinct_minima() {
    let f = by_name("himmelblau", None).unwrap();
    let m = f.minima();
    assert_eq!(m.len(), 4);
    for i in 0..4 {
        for j in i + 1..4 {
            assert!((m[i][0] - m[j][0]).abs() + (m[i][1] - m[j][1]).abs() > 1.0);
        }
    }
}

#[test]
fn three_hump_camel_local_minima_as_documented() {
    let f = by_name("three_hump_camel", None).unwrap();
    for s in [1.0, -1.0] {
        let p = [s * 1.747552, -s * 0.873776];
        let mut g = [0.0; 2];
        f.gradient(&p, &mut g);
        assert!(g[0].abs() < 1e-4 && g[1].abs() < 1e-5, "{g:?}");
        assert!((f.value(&p) - 0.298638).abs() < 1e-6, "{}", f.value(&p));
        let mut h = [0.0; 4];
        f.hessian(&p, &mut h);
        assert!(h[0] > 0.0 && h[0] * h[3] - h[1] * h[2] > 0.0, "not a local minimum: {h:?}");
    }
}

#[test]
fn default_starts_are_valid() {
    for f in cases() {
        let name = label(f.as_ref());
        let starts = f.default_starts();
        assert!(!starts.is_empty(), "{name}: no default start");
        let pb = f.plot_box();
        for s in &starts {
            assert!(in_domain(f.as_ref(), s), "{name}: start {s:?} outside domain / wrong dim");
            // Visible in the contour plot.
            assert!(pb[0].0 <= s[0] && s[0] <= pb[0].1, "{name}: start {s:?} outside plot box");
            if f.dim() >= 2 {
                assert!(pb[1].0 <= s[1] && s[1] <= pb[1].1, "{name}: start {s:?} outside plot box");
            }
        }
        // The default start is not already stationary.
        let mut g = vec![0.0; f.dim()];
        f.gradient(&starts[0], &mut g);
        assert!(g.iter().map(|t| t * t).sum::<f64>().sqrt() > 1e-3, "{name}: default start is stationary");
    }
    // Starts have the requested dimension for any d.
    for &name in NAMES.iter().filter(|n| is_variable_dim(n)) {
        for d in [2, 3, 4, 10] {
            let f = by_name(name, Some(d)).unwrap();
            for s in f.default_starts() {
                assert_eq!(s.len(), d, "{name}");
                assert!(in_domain(f.as_ref(), &s), "{name}: {s:?}");
            }
        }
    }
    let r = by_name("rosenbrock", None).unwrap();
    assert_eq!(r.default_starts()[0], vec![-1.5, 2.0]);
    assert_eq!(r.default_starts()[1], vec![-2.0, 2.0]);
}

#[test]
fn plot_boxes_and_domains_are_sane() {
    for f in cases() {
        let name = label(f.as_ref());
        let pb = f.plot_box();
        assert!(pb[0].0 < pb[0].1 && pb[1].0 < pb[1].1, "{name}: {pb:?}");
        let dom = f.domain();
        assert_eq!(dom.len(), f.dim(), "{name}");
        assert!(dom.iter().all(|&(lo, hi)| lo < hi), "{name}");
        if f.dim() == 2 {
            for m in f.minima() {
                assert!(pb[0].0 <= m[0] && m[0] <= pb[0].1 && pb[1].0 <= m[1] && m[1] <= pb[1].1, "{name}");
            }
        }
        assert!(!f.title().is_empty() && f.formula().starts_with("f(x"), "{name}");
    }
    // 1-D instances of variable-dimension functions: x range and f range.
    let s1 = by_name("sphere", Some(1)).unwrap();
    let [xr, yr] = s1.plot_box();
    assert_eq!(xr, (-5.12, 5.12));
    assert!(yr.0 <= 0.0 && yr.1 >= 5.12 * 5.12, "{yr:?}");
}

// ---------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------

#[test]
fn by_name_builds_every_function() {
    assert_eq!(NAMES.len(), 15);
    for &name in NAMES {
        let f = by_name(name, None).unwrap();
        assert_eq!(f.name(), name);
        let expected = if name == "cubic" { 1 } else { 2 };
        assert_eq!(f.dim(), expected, "{name}");
        // The natural dimension may always be passed explicitly.
        assert_eq!(by_name(name, Some(expected)).unwrap().dim(), expected);
        let five = by_name(name, Some(5));
        assert_eq!(five.is_ok(), is_variable_dim(name), "{name}");
        if let Ok(f5) = five {
            assert_eq!(f5.dim(), 5);
            assert_eq!(f5.minima()[0].len(), 5);
            assert_eq!(f5.domain().len(), 5);
        }
    }
    let variable: Vec<&str> = NAMES.iter().copied().filter(|n| is_variable_dim(n)).collect();
    assert_eq!(variable, ["sphere", "styblinski_tang", "rosenbrock", "rastrigin", "ackley"]);
    assert!(!is_variable_dim("nope"));
}

#[test]
fn by_name_errors() {
    let err = by_name("rosenbrok", None).err().expect("unknown name must fail");
    let msg = err.to_string();
    assert!(msg.contains("rosenbrok") && msg.contains("unknown"), "{msg}");
    for &n in NAMES {
        assert!(msg.contains(n), "valid name {n} not listed in: {msg}");
    }
    let err = by_name("booth", Some(3)).err().expect("wrong dim must fail");
    assert!(err.to_string().contains("booth") && err.to_string().contains('3'), "{err}");
    let err = by_name("cubic", Some(2)).err().expect("wrong dim must fail");
    assert!(err.to_string().contains("cubic"), "{err}");
    for name in ["sphere", "booth", "cubic", "ackley"] {
        let err = by_name(name, Some(0)).err().expect("dim 0 must fail");
        assert!(err.to_string().contains(name) && err.to_string().contains("dim 0"), "{err}");
    }
    assert!(by_name("rosenbrock", Some(1)).is_err());
    assert!(by_name("sphere", Some(1)).is_ok());
    // Implements std::error::Error.
    let boxed: Box<dyn std::error::Error> = Box::new(by_name("x", None).err().unwrap());
    assert!(boxed.to_string().contains("'x'"));
    assert_eq!(by_name("x", None).err().unwrap().message(), boxed.to_string());
}

#[test]
fn dimension_above_the_limit_is_refused_before_allocating() {
    // usize::MAX used to panic with "capacity overflow" and 1e9 to abort when the allocation failed.
    for d in [MAX_DIM + 1, 1_000_000_000, usize::MAX] {
        for name in ["sphere", "styblinski_tang", "rosenbrock", "rastrigin", "ackley", "booth"] {
            let msg = by_name(name, Some(d)).err().expect("dim above MAX_DIM must fail").to_string();
            assert_eq!(msg, format!("invalid dim {d} for test function '{name}': dim must be at most 1000000"));
        }
        assert_eq!(check_dim(d).unwrap_err().to_string(), format!("invalid dim {d}: dim must be at most 1000000"));
    }
    assert_eq!(check_dim(0).unwrap_err().to_string(), "invalid dim 0: dim must be at least 1");
    assert!(check_dim(1).is_ok() && check_dim(MAX_DIM).is_ok());
    assert_eq!(by_name("sphere", Some(MAX_DIM)).unwrap().dim(), MAX_DIM);
}

// ---------------------------------------------------------------------------
// Non-smooth conventions
// ---------------------------------------------------------------------------

fn all_finite(f: &dyn TestFunction, x: &[f64]) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = f.dim();
    let mut g = vec![f64::NAN; n];
    let mut h = vec![f64::NAN; n * n];
    let mut d = vec![f64::NAN; n];
    let v = f.value_and_gradient(x, &mut g);
    f.hessian(x, &mut h);
    f.hessian_diag(x, &mut d);
    assert!(v.is_finite(), "{}: value at {x:?}", label(f));
    assert!(g.iter().chain(&h).chain(&d).all(|t| t.is_finite()), "{}: at {x:?}: g={g:?} h={h:?}", label(f));
    (v, g, h, d)
}

#[test]
fn bukin_nonsmooth_points_are_finite() {
    let f = by_name("bukin_n6", None).unwrap();
    assert!(f.nonsmooth_note().is_some());
    // The minimiser lies on both non-smooth sets: zero subgradient, zero Hessian.
    let (v, g, h, _) = all_finite(f.as_ref(), &[-10.0, 1.0]);
    assert_eq!(v, 0.0);
    assert_eq!(g, vec![0.0, 0.0]);
    assert_eq!(h, vec![0.0; 4]);
    // On the ridge y = 0.01 x^2: only the 0.01 sign(x + 10) term remains.
    for k in 0..=40 {
        let x = -15.0 + 0.25 * k as f64;
        let y = 0.01 * x * x;
        let (v, g, h, _) = all_finite(f.as_ref(), &[x, y]);
        assert!((v - 0.01 * (x + 10.0).abs()).abs() < 1e-15);
        let s = if x > -10.0 {
            1.0
        } else if x < -10.0 {
            -1.0
        } else {
            0.0
        };
        assert_eq!(g, vec![0.01 * s, 0.0], "x = {x}");
        assert_eq!(h, vec![0.0; 4]);
        // One ulp off the ridge on either side: huge but finite.
        for y2 in [f64::from_bits(y.to_bits() + 1), f64::from_bits(y.to_bits() - 1)] {
            all_finite(f.as_ref(), &[x, y2]);
        }
    }
    // On the line x = -10 away from the ridge.
    for y in [-3.0, -1.0, 0.5, 2.0, 3.0] {
        all_finite(f.as_ref(), &[-10.0, y]);
    }
    // Extreme arguments (outside the domain) where exact Hessian entries
    // overflow: saturated, never infinite.
    let (_, _, h, _) = all_finite(f.as_ref(), &[0.0, 1e-322]);
    assert_eq!(h[3], -f64::MAX);
}

#[test]
fn ackley_origin_is_finite_and_documented() {
    for d in [1, 2, 5] {
        let f = by_name("ackley", Some(d)).unwrap();
        assert!(f.nonsmooth_note().is_some());
        let (v, g, h, diag) = all_finite(f.as_ref(), &vec![0.0; d]);
        assert!(v.abs() < 1e-15, "{v}");
        assert!(g.iter().all(|&t| t == 0.0), "{g:?}");
        let expected = 4.0 * PI * PI * E / d as f64;
        for i in 0..d {
            assert!((diag[i] - expected).abs() < 1e-12 * expected, "{diag:?}");
            for j in 0..d {
                if i != j {
                    assert_eq!(h[i * d + j], 0.0);
                }
            }
        }
        // Very close to the origin (including where sum x_i^2 underflows).
        for t in [1e-300, 1e-170, 1e-150, 1e-12, 1e-6] {
            let mut x = vec![0.0; d];
            x[0] = t;
            all_finite(f.as_ref(), &x);
            let x: Vec<f64> = (0..d).map(|i| if i % 2 == 0 { t } else { -t }).collect();
            all_finite(f.as_ref(), &x);
        }
    }
}

#[test]
fn only_nonsmooth_functions_have_notes() {
    for f in cases() {
        let nonsmooth = matches!(f.name(), "bukin_n6" | "ackley");
        assert_eq!(f.nonsmooth_note().is_some(), nonsmooth, "{}", f.name());
    }
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Anywhere in the domain (any function, any dimension up to 6): finite
    /// outputs, symmetric Hessian, exact diagonal, consistent value_and_gradient.
    #[test]
    fn prop_structure_anywhere_in_domain(
        idx in 0usize..NAMES.len(),
        d in 2usize..7,
        coords in prop::collection::vec(0.0f64..=1.0, 6),
    ) {
        let name = NAMES[idx];
        let f = by_name(name, if is_variable_dim(name) { Some(d) } else { None }).unwrap();
        let x: Vec<f64> = f.domain().iter().zip(&coords).map(|(&(lo, hi), &c)| lo + c * (hi - lo)).collect();
        prop_assert!(check_hessian_structure(f.as_ref(), &x).is_ok(), "{:?}", check_hessian_structure(f.as_ref(), &x));
        let mut g = vec![0.0; f.dim()];
        let mut g2 = vec![0.0; f.dim()];
        let v = f.value_and_gradient(&x, &mut g);
        f.gradient(&x, &mut g2);
        prop_assert_eq!(g, g2);
        prop_assert!((v - f.value(&x)).abs() <= 1e-12 * (1.0 + v.abs()));
    }

    /// Gradients of the variable-dimension functions at random dimensions.
    #[test]
    fn prop_gradient_fd_variable_dim(
        idx in 0usize..5,
        d in 1usize..9,
        coords in prop::collection::vec(0.0f64..=1.0, 8),
    ) {
        let name = ["sphere", "styblinski_tang", "rosenbrock", "rastrigin", "ackley"][idx];
        let d = if name == "rosenbrock" { d.max(2) } else { d };
        let f = by_name(name, Some(d)).unwrap();
        let x: Vec<f64> = f.domain().iter().zip(&coords).map(|(&(lo, hi), &c)| lo + c * (hi - lo)).collect();
        prop_assume!(!near_nonsmooth(f.as_ref(), &x));
        prop_assert!(check_gradient_fd(f.as_ref(), &x).is_ok(), "{:?}", check_gradient_fd(f.as_ref(), &x));
        prop_assert!(check_hessian_fd(f.as_ref(), &x).is_ok(), "{:?}", check_hessian_fd(f.as_ref(), &x));
    }
}
