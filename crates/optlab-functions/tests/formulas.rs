//! Formula functions: the language, the clauses, errors with columns, and the exact derivatives
//! (automatic differentiation) against the hand-written ones and against finite differences.

use optlab_functions::{by_name, Cubic, Formula, Rosenbrock, TestFunction};
use proptest::prelude::*;

const ROSENBROCK: &str = "f(x, y) = (1 - x)^2 + 100*(y - x^2)^2";

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

fn derivatives(f: &dyn TestFunction, x: &[f64]) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = f.dim();
    let (mut g, mut h, mut d) = (vec![0.0; n], vec![0.0; n * n], vec![0.0; n]);
    let v = f.value_and_gradient(x, &mut g);
    f.hessian(x, &mut h);
    f.hessian_diag(x, &mut d);
    (v, g, h, d)
}

#[test]
fn rosenbrock_formula_has_the_derivatives_of_rosenbrock() {
    let f = by_name(ROSENBROCK, None).unwrap();
    let r = Rosenbrock::new(2);
    assert_eq!(f.dim(), 2);
    assert_eq!(f.name(), ROSENBROCK);
    for x in [[-1.5, 2.0], [0.3, -0.7], [1.0, 1.0], [2.0, 4.5]] {
        let (v, g, h, d) = derivatives(&*f, &x);
        let (v0, g0, h0, d0) = derivatives(&r, &x);
        assert!(close(v, v0, 1e-14), "{v} {v0}");
        for (a, b) in g.iter().zip(&g0).chain(h.iter().zip(&h0)).chain(d.iter().zip(&d0)) {
            assert!(close(*a, *b, 1e-13), "at {x:?}: {a} vs {b}");
        }
        assert_eq!(d, [h[0], h[3]], "the diagonal is the Hessian's");
    }
}

/// The course notes' cubic with its hand-written gradient (the built-in `cubic`): the formula's
/// derivatives by automatic differentiation equal the hand-written ones.
#[test]
fn the_cubic_of_the_notes_written_as_a_formula() {
    let f = by_name("f(x) = x^3 - 3*x^2 + 4*x; x in [-1, 3]; start (2)", None).unwrap();
    assert_eq!(f.dim(), 1);
    assert_eq!(f.domain(), vec![(-1.0, 3.0)]);
    assert_eq!(f.default_starts(), vec![vec![2.0]]);
    assert_eq!(f.min_value(), None);
    for k in 0..=40 {
        let x = [-1.0 + 0.1 * k as f64];
        let (v, g, h, _) = derivatives(&*f, &x);
        let (v0, g0, h0, _) = derivatives(&Cubic, &x);
        assert!(close(v, v0, 1e-14) && close(g[0], g0[0], 1e-14) && close(h[0], h0[0], 1e-14), "at {x:?}");
    }
    let pb = f.plot_box();
    assert_eq!(pb[0], (-1.0, 3.0));
    assert!(pb[1].0 < -8.0 && pb[1].1 > 12.0, "{pb:?}");
}

#[test]
fn clauses_set_domain_start_box_start_and_minima() {
    let f = Formula::parse(
        "g(x, y) = (1 - x)^2 + 100*(y - x^2)^2; x in [-2, 2]; y in [-1, 3]; start x in [-2, 0]; \
         start (-1.5, 2); min (1, 1)",
    )
    .unwrap();
    assert_eq!(f.domain(), vec![(-2.0, 2.0), (-1.0, 3.0)]);
    assert_eq!(f.start_box(), Some(vec![(-2.0, 0.0), (-1.0, 3.0)]));
    assert_eq!(f.default_starts(), vec![vec![-1.5, 2.0]]);
    assert_eq!(f.minima(), vec![vec![1.0, 1.0]]);
    assert_eq!(f.title(), "g(x, y) = (1 - x)^2 + 100*(y - x^2)^2", "the title leaves the clauses out");
    assert_eq!(f.min_value(), Some(0.0));
    assert_eq!(f.plot_box(), [(-2.0, 2.0), (-1.0, 3.0)]);
    // Defaults: [-5, 5] per variable, the start at the centre of the start box, no minimum.
    let f = Formula::parse("f(a, b, c) = a^2 + b^2 + c^2; start b in [1, 3]; x_ignored_by_none in [0, 1]")
        .map(|_| ())
        .unwrap_err();
    assert!(f.message().contains("column 50: unknown variable `x_ignored_by_none`"), "{}", f.message());
    let f = by_name("f(a, b, c) = a^2 + b^2 + c^2; start b in [1, 3]; c in [-pi, 2*pi]", Some(3)).unwrap();
    assert_eq!(f.domain(), vec![(-5.0, 5.0), (-5.0, 5.0), (-std::f64::consts::PI, 2.0 * std::f64::consts::PI)]);
    assert_eq!(f.default_starts(), vec![vec![0.0, 2.0, std::f64::consts::PI / 2.0]]);
    assert_eq!(f.min_value(), None);
    assert!(by_name("f(a, b, c) = a^2 + b^2 + c^2", Some(2)).err().unwrap().message().contains("it has 3 variables"));
}

/// Bad formulas get an error naming the column of the offending character.
#[test]
fn bad_formulas_point_at_the_column() {
    let cases: &[(&str, &str)] = &[
        ("f(x, y) = (1 - x^2 + 100*(y - x^2)^2", "column 37: expected `)`, found the end"),
        ("f(x, y) = (1 - x)^2 + 100*(y - x^2))^2", "column 36: expected an operator, `;` or the end, found `)`"),
        ("f(x, y) = 3x + y", "column 12: expected an operator, found `x` (write products with `*`, e.g. `3*x`)"),
        ("f(x, y) = x + z", "column 15: unknown name `z`; the variables are x, y"),
        ("f(x, y) = x + * y", "column 15: expected a number, a name, a function or `(`, found `*`"),
        ("f(x, y) = sinh(x)", "column 11: unknown function `sinh`"),
        ("f(x, x) = x", "column 6: variable `x` is named twice"),
        ("f(x, pi) = x", "column 6: `pi` is a function or a constant, not a variable name"),
        ("f(x) = x @ 2", "column 10: unexpected character `@`"),
        ("(x) = x", "column 1: expected the function's name"),
        ("f(x) = x; x in [3, 1]", "column 16: the interval [3, 1] is empty"),
        ("f(x) = x; x in [0, 1]; start (2)", "column 24: the start point is outside the domain"),
        ("f(x) = x; start x in [-9, 0]", "column 11: the start box [-9, 0] of `x` is not inside its domain [-5, 5]"),
        ("f(x, y) = x; min (1)", "column 18: the point has 1 coordinates, the function has 2 variables"),
        ("f(x) = log(x); min (0)", "column 16: the function is not finite at this minimiser"),
        ("f(x) = x; x in [0, y]", "column 20: `y`: expected a number"),
        ("f(x) = x; x on [0, 1]", "column 13: expected `in`, found `on`"),
    ];
    for (text, want) in cases {
        let e = by_name(text, None).err().unwrap_or_else(|| panic!("no error for {text}"));
        let msg = e.message();
        assert!(msg.starts_with(&format!("formula `{text}`: ")), "{msg}");
        assert!(msg.contains(want), "{text}\n  got:  {msg}\n  want: {want}");
    }
}

// ---------------------------------------------------------------------------------------------
// Property: the AD gradient and Hessian match finite differences on random formulas.

/// Random smooth expressions in x, y, z (text), bounded so that values stay moderate on [-1.5, 1.5]³.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("x".to_string()),
        Just("y".to_string()),
        Just("z".to_string()),
        (-3.0f64..3.0).prop_map(|c| format!("({c:.3})")),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} - {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}*{b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} / (1.5 + sin({b}))")),
            inner.clone().prop_map(|a| format!("-{a}")),
            inner.clone().prop_map(|a| format!("sin({a})")),
            inner.clone().prop_map(|a| format!("cos({a})")),
            inner.clone().prop_map(|a| format!("exp(tanh({a}))")),
            inner.clone().prop_map(|a| format!("sigmoid({a})")),
            inner.clone().prop_map(|a| format!("log(1 + {a}^2)")),
            inner.clone().prop_map(|a| format!("sqrt(2 + cos({a}))")),
            inner.clone().prop_map(|a| format!("tanh({a})^3")),
            inner.clone().prop_map(|a| format!("(1.5 + sin({a}))^(0.5)")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("(2 + cos({a}))^(sin({b}))")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn ad_derivatives_match_finite_differences(body in expr(), x in prop::array::uniform3(-1.5f64..1.5)) {
        let text = format!("f(x, y, z) = {body}");
        let f = by_name(&text, None).unwrap();
        let (v, g, h, d) = derivatives(&*f, &x);
        prop_assume!(v.is_finite() && v.abs() < 1e6);
        prop_assert!(close(v, f.value(&x), 0.0));
        let eps = 1e-5;
        for i in 0..3 {
            let (mut xp, mut xm) = (x, x);
            xp[i] += eps;
            xm[i] -= eps;
            let fd = (f.value(&xp) - f.value(&xm)) / (2.0 * eps);
            prop_assert!(close(g[i], fd, 1e-6), "{}: d/dx{} = {} vs finite difference {}", text, i, g[i], fd);
            let (mut gp, mut gm) = (vec![0.0; 3], vec![0.0; 3]);
            f.gradient(&xp, &mut gp);
            f.gradient(&xm, &mut gm);
            for j in 0..3 {
                let fd2 = (gp[j] - gm[j]) / (2.0 * eps);
                prop_assert!(close(h[i * 3 + j], fd2, 1e-6), "{}: H[{}][{}] = {} vs {}", text, i, j, h[i * 3 + j], fd2);
                prop_assert_eq!(h[i * 3 + j], h[j * 3 + i]);
            }
            prop_assert_eq!(d[i], h[i * 3 + i]);
        }
    }
}
