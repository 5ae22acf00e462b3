//! Test functions written as formulas: `f(x, y) = (1 - x)^2 + 100*(y - x^2)^2`, with optional
//! clauses after `;` for the domain, the box of random starts, the default start and known
//! minimisers. The gradient and Hessian are exact, by automatic differentiation of the formula
//! ([`crate::expr`]). See `docs/formulas.md`.
//!
//! ```text
//! FORMULA := NAME '(' VAR (',' VAR)* ')' '=' EXPR (';' CLAUSE)*
//! CLAUSE  := VAR 'in' '[' LO ',' HI ']'           domain of VAR (default [-5, 5]); also the plot box
//!          | 'start' VAR 'in' '[' LO ',' HI ']'   box of random starts for VAR (default: its domain)
//!          | 'start' '(' X1 ',' ... ')'           the default start (default: the start box's centre)
//!          | 'min' '(' X1 ',' ... ')'             a global minimiser (repeatable); f* = f there
//! ```
//!
//! `LO`, `HI` and the coordinates are constant expressions (`-pi`, `2*pi/3`). Without a `min`
//! clause the function has no known minimum: the study treats it like the functions that are
//! unbounded below (a run that leaves the domain has *escaped*).

use std::collections::HashSet;
use std::sync::Mutex;

use crate::expr::{is_reserved, ExprError, Parser, Tape};
use crate::{value_range_1d, FunctionError, TestFunction};

/// Default domain of every variable.
pub const DEFAULT_DOMAIN: (f64, f64) = (-5.0, 5.0);

/// `true` when `name` is a formula (it holds `=`) rather than the name of a built-in function.
pub fn is_formula(name: &str) -> bool {
    name.contains('=')
}

/// A test function defined by a formula.
#[derive(Clone, Debug)]
pub struct Formula {
    text: &'static str,
    /// The text up to the first `;` (the function without its clauses).
    title: &'static str,
    vars: Vec<String>,
    tape: Tape,
    out: u32,
    domain: Vec<(f64, f64)>,
    start_box: Vec<(f64, f64)>,
    start: Vec<f64>,
    minima: Vec<Vec<f64>>,
}

/// Texts of the formulas parsed in this process, kept for the `&'static str` of
/// [`TestFunction::name`] (each distinct text is stored once).
fn intern(s: &str) -> &'static str {
    static SEEN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut g = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let set = g.get_or_insert_with(HashSet::new);
    if let Some(&t) = set.get(s) {
        return t;
    }
    let t: &'static str = Box::leak(s.to_string().into_boxed_str());
    set.insert(t);
    t
}

fn err(text: &str, e: ExprError) -> FunctionError {
    FunctionError::new(format!("formula `{text}`: {e}"))
}

impl Formula {
    /// Parses a formula; errors name the column.
    pub fn parse(text: &str) -> Result<Formula, FunctionError> {
        Formula::parse_inner(text).map_err(|e| err(text, e))
    }

    fn parse_inner(text: &str) -> Result<Formula, ExprError> {
        let mut p = Parser::new(text)?;
        p.ident("the function's name, as in `f(x, y) = ...`")?;
        p.expect_sym('(')?;
        let mut vars: Vec<String> = Vec::new();
        loop {
            let (v, col) = p.ident("a variable name")?;
            if is_reserved(&v) {
                return Err(ExprError::new(col, format!("`{v}` is a function or a constant, not a variable name")));
            }
            if vars.contains(&v) {
                return Err(ExprError::new(col, format!("variable `{v}` is named twice")));
            }
            vars.push(v);
            if p.at_sym(',') {
                p.expect_sym(',')?;
                continue;
            }
            p.expect_sym(')')?;
            break;
        }
        p.expect_sym('=')?;
        let n = vars.len();
        let body = p.expr()?;
        let mut tape = Tape::new(n);
        let idx: Vec<u32> = (0..n).map(|i| tape.var(i)).collect();
        let out = tape.compile(&body, &mut |s, col| {
            vars.iter().position(|v| v == s).map(|i| idx[i]).ok_or_else(|| {
                ExprError::new(col, format!("unknown name `{s}`; the variables are {}", vars.join(", ")))
            })
        })?;
        let mut domain: Vec<Option<(f64, f64)>> = vec![None; n];
        let mut start_box: Vec<Option<(f64, f64)>> = vec![None; n];
        let mut start_col = vec![0usize; n];
        let mut start: Option<(Vec<f64>, usize)> = None;
        let mut minima: Vec<(Vec<f64>, usize)> = Vec::new();
        while !p.at_end() {
            if !p.at_sym(';') {
                return Err(p.unexpected("an operator, `;` or the end"));
            }
            p.expect_sym(';')?;
            if p.at_end() {
                break;
            }
            let col = p.column();
            if p.eat_word("start") {
                if p.at_sym('(') {
                    if start.is_some() {
                        return Err(ExprError::new(col, "the start point is given twice"));
                    }
                    start = Some((point(&mut p, n)?, col));
                } else {
                    let (i, bx) = var_box(&mut p, &vars)?;
                    start_col[i] = col;
                    if start_box[i].replace(bx).is_some() {
                        return Err(ExprError::new(col, format!("the start box of `{}` is given twice", vars[i])));
                    }
                }
            } else if p.eat_word("min") {
                minima.push((point(&mut p, n)?, col));
            } else {
                let (i, bx) = var_box(&mut p, &vars)?;
                if domain[i].replace(bx).is_some() {
                    return Err(ExprError::new(col, format!("the domain of `{}` is given twice", vars[i])));
                }
            }
        }
        let domain: Vec<(f64, f64)> = domain.into_iter().map(|d| d.unwrap_or(DEFAULT_DOMAIN)).collect();
        let inside = |x: &[f64]| x.iter().zip(&domain).all(|(v, (lo, hi))| lo <= v && v <= hi);
        let start_box: Vec<(f64, f64)> = start_box.into_iter().zip(&domain).map(|(s, d)| s.unwrap_or(*d)).collect();
        if let Some(i) = (0..n).find(|&i| start_box[i].0 < domain[i].0 || start_box[i].1 > domain[i].1) {
            return Err(ExprError::new(
                start_col[i],
                format!(
                    "the start box [{}, {}] of `{}` is not inside its domain [{}, {}]",
                    start_box[i].0, start_box[i].1, vars[i], domain[i].0, domain[i].1
                ),
            ));
        }
        let start = match start {
            Some((x, col)) => {
                if !inside(&x) {
                    return Err(ExprError::new(col, "the start point is outside the domain"));
                }
                x
            }
            None => start_box.iter().map(|(a, b)| 0.5 * (a + b)).collect(),
        };
        let title = intern(text.split(';').next().unwrap_or(text).trim());
        let text = intern(text);
        let mut f = Formula { text, title, vars, tape, out, domain, start_box, start, minima: Vec::new() };
        for (m, col) in minima {
            let v = f.value(&m);
            if !v.is_finite() {
                return Err(ExprError::new(col, format!("the function is not finite at this minimiser (f = {v})")));
            }
            f.minima.push(m);
        }
        Ok(f)
    }

    /// The variable names of the signature.
    pub fn vars(&self) -> &[String] {
        &self.vars
    }

    fn eval(&self, x: &[f64]) -> Vec<f64> {
        let mut vals = Vec::with_capacity(self.tape.len());
        self.tape.eval(x, &mut vals);
        vals
    }
}

/// A constant expression (no variables).
fn constant(p: &mut Parser) -> Result<f64, ExprError> {
    let col = p.column();
    let ast = p.expr()?;
    let mut t = Tape::new(0);
    let i = t.compile(&ast, &mut |s, c| Err(ExprError::new(c, format!("`{s}`: expected a number"))))?;
    let v = t.constant(i).expect("an expression without names is constant");
    if !v.is_finite() {
        return Err(ExprError::new(col, format!("{v} is not a finite number")));
    }
    Ok(v)
}

/// `'(' X1 ',' ... ')'` with `n` coordinates.
fn point(p: &mut Parser, n: usize) -> Result<Vec<f64>, ExprError> {
    let col = p.expect_sym('(')?;
    let mut x = vec![constant(p)?];
    while p.at_sym(',') {
        p.expect_sym(',')?;
        x.push(constant(p)?);
    }
    p.expect_sym(')')?;
    if x.len() != n {
        return Err(ExprError::new(
            col,
            format!("the point has {} coordinates, the function has {n} variables", x.len()),
        ));
    }
    Ok(x)
}

/// `VAR 'in' '[' LO ',' HI ']'`.
fn var_box(p: &mut Parser, vars: &[String]) -> Result<(usize, (f64, f64)), ExprError> {
    let (v, col) =
        p.ident("a clause: `VAR in [LO, HI]`, `start VAR in [LO, HI]`, `start (X, ...)` or `min (X, ...)`")?;
    let i = vars
        .iter()
        .position(|w| *w == v)
        .ok_or_else(|| ExprError::new(col, format!("unknown variable `{v}`; the variables are {}", vars.join(", "))))?;
    if !p.eat_word("in") {
        return Err(p.unexpected("`in`"));
    }
    let bcol = p.expect_sym('[')?;
    let lo = constant(p)?;
    p.expect_sym(',')?;
    let hi = constant(p)?;
    p.expect_sym(']')?;
    if lo > hi {
        return Err(ExprError::new(bcol, format!("the interval [{lo}, {hi}] is empty")));
    }
    Ok((i, (lo, hi)))
}

impl TestFunction for Formula {
    fn name(&self) -> &'static str {
        self.text
    }
    fn title(&self) -> &'static str {
        self.title
    }
    fn formula(&self) -> &'static str {
        self.text
    }
    fn dim(&self) -> usize {
        self.vars.len()
    }
    fn value(&self, x: &[f64]) -> f64 {
        self.eval(x)[self.out as usize]
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        self.value_and_gradient(x, g);
    }
    fn value_and_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let vals = self.eval(x);
        g.fill(0.0);
        let mut adj = Vec::with_capacity(vals.len());
        self.tape.backprop(&vals, self.out, 1.0, &mut adj, g);
        vals[self.out as usize]
    }
    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        let mut g = vec![0.0; self.dim()];
        self.tape.hessian(x, self.out, &mut g, h);
    }
    fn hessian_diag(&self, x: &[f64], d: &mut [f64]) {
        let n = self.dim();
        let mut h = vec![0.0; n * n];
        self.hessian(x, &mut h);
        for i in 0..n {
            d[i] = h[i * n + i];
        }
    }
    fn domain(&self) -> Vec<(f64, f64)> {
        self.domain.clone()
    }
    fn plot_box(&self) -> [(f64, f64); 2] {
        if self.dim() == 1 {
            let (lo, hi) = self.domain[0];
            [self.domain[0], value_range_1d(|t| self.value(&[t]), lo, hi)]
        } else {
            [self.domain[0], self.domain[1]]
        }
    }
    fn minima(&self) -> Vec<Vec<f64>> {
        self.minima.clone()
    }
    fn min_value(&self) -> Option<f64> {
        self.minima.iter().map(|m| self.value(m)).reduce(f64::min)
    }
    fn default_starts(&self) -> Vec<Vec<f64>> {
        vec![self.start.clone()]
    }
    fn start_box(&self) -> Option<Vec<(f64, f64)>> {
        Some(self.start_box.clone())
    }
    fn nonsmooth_note(&self) -> Option<&'static str> {
        self.tape.uses_kinks().then_some("abs and relu: derivative 0 and second derivative 0 at 0")
    }
}
