//! Expressions in `f64`: a parser with column-accurate errors, a flat tape (each operation
//! refers to earlier ones), and exact derivatives by automatic differentiation: the gradient by
//! reverse mode, the Hessian by forward-mode second-order jets (value, gradient and Hessian of
//! every operation, propagated with the chain rule).
//!
//! The language (used by formula functions, [`crate::Formula`], and by the expression networks
//! of `optlab-lab`): numbers (`2`, `0.5`, `1e-3`), names, `+ - * / ^` (also `**`), unary minus,
//! parentheses, the functions `sin cos tan exp log sqrt abs tanh sigmoid relu softplus` (one
//! argument each; `log` is the natural logarithm) and the constants `pi` and `e`. `^` binds
//! tighter than unary minus and is right-associative: `-x^2 = -(x^2)`, `2^3^2 = 2^9`.
//! A product must be written out: `3*x`, not `3x`.
//!
//! At non-differentiable points the derivatives are a documented convention, never NaN by
//! themselves: `abs` and `relu` have derivative 0 at 0 (and second derivative 0 everywhere).
//! Outside a function's domain (`log` of a negative number, `sqrt` of a negative number, `0^-1`)
//! the value itself is NaN or infinite, and so are its derivatives.

use std::fmt;

/// An error in an expression: the 1-based column (in characters) and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    /// 1-based column of the offending character (one past the end for "unexpected end").
    pub column: usize,
    pub message: String,
}

impl ExprError {
    pub fn new(column: usize, message: impl Into<String>) -> Self {
        ExprError { column, message: message.into() }
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ExprError {}

/// A function of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Sin,
    Cos,
    Tan,
    Exp,
    Log,
    Sqrt,
    Abs,
    Tanh,
    Sigmoid,
    Relu,
    Softplus,
}

impl Func {
    /// All functions with their names.
    pub const ALL: [(&'static str, Func); 11] = [
        ("sin", Func::Sin),
        ("cos", Func::Cos),
        ("tan", Func::Tan),
        ("exp", Func::Exp),
        ("log", Func::Log),
        ("sqrt", Func::Sqrt),
        ("abs", Func::Abs),
        ("tanh", Func::Tanh),
        ("sigmoid", Func::Sigmoid),
        ("relu", Func::Relu),
        ("softplus", Func::Softplus),
    ];

    pub fn from_name(s: &str) -> Option<Func> {
        Func::ALL.iter().find(|(n, _)| *n == s).map(|&(_, f)| f)
    }

    fn value(self, u: f64) -> f64 {
        match self {
            Func::Sin => u.sin(),
            Func::Cos => u.cos(),
            Func::Tan => u.tan(),
            Func::Exp => u.exp(),
            Func::Log => u.ln(),
            Func::Sqrt => u.sqrt(),
            Func::Abs => u.abs(),
            Func::Tanh => u.tanh(),
            Func::Sigmoid => sigmoid(u),
            Func::Relu => {
                if u > 0.0 {
                    u
                } else {
                    0.0
                }
            }
            Func::Softplus => u.max(0.0) + (-u.abs()).exp().ln_1p(),
        }
    }

    /// `(f(u), f'(u), f''(u))`.
    fn partials(self, u: f64) -> (f64, f64, f64) {
        match self {
            Func::Sin => {
                let (s, c) = u.sin_cos();
                (s, c, -s)
            }
            Func::Cos => {
                let (s, c) = u.sin_cos();
                (c, -s, -c)
            }
            Func::Tan => {
                let t = u.tan();
                let d = 1.0 + t * t;
                (t, d, 2.0 * t * d)
            }
            Func::Exp => {
                let e = u.exp();
                (e, e, e)
            }
            Func::Log => (u.ln(), 1.0 / u, -1.0 / (u * u)),
            Func::Sqrt => {
                let r = u.sqrt();
                (r, 0.5 / r, -0.25 / (r * u))
            }
            Func::Abs => (
                u.abs(),
                if u > 0.0 {
                    1.0
                } else if u < 0.0 {
                    -1.0
                } else {
                    0.0
                },
                0.0,
            ),
            Func::Tanh => {
                let t = u.tanh();
                let d = 1.0 - t * t;
                (t, d, -2.0 * t * d)
            }
            Func::Sigmoid => {
                let s = sigmoid(u);
                let d = s * (1.0 - s);
                (s, d, d * (1.0 - 2.0 * s))
            }
            Func::Relu => {
                if u > 0.0 {
                    (u, 1.0, 0.0)
                } else {
                    (0.0, 0.0, 0.0)
                }
            }
            Func::Softplus => {
                let s = sigmoid(u);
                (Func::Softplus.value(u), s, s * (1.0 - s))
            }
        }
    }
}

fn sigmoid(u: f64) -> f64 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        let e = u.exp();
        e / (1.0 + e)
    }
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinOp {
    fn value(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Pow => a.powf(b),
        }
    }
}

/// A parsed expression; every node keeps the column where it starts.
#[derive(Clone, Debug, PartialEq)]
pub enum Ast {
    Num(f64),
    Name(String, usize),
    Neg(Box<Ast>),
    Bin(BinOp, Box<Ast>, Box<Ast>),
    Call(Func, Box<Ast>),
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Num(f64),
    Ident(String),
    /// One of `+ - * / ^ ( ) , = ; [ ]` (`**` is read as `^`).
    Sym(char),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(v) => format!("the number `{v}`"),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Sym(c) => format!("`{c}`"),
            Tok::End => "the end".to_string(),
        }
    }
}

/// Tokens with their 1-based columns; the last is [`Tok::End`] one past the last character.
pub(crate) fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            // An exponent only when digits follow (`2e` is the number 2 followed by the name e).
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let s: String = chars[start..i].iter().collect();
            let v: f64 = s.parse().map_err(|_| ExprError::new(col, format!("`{s}` is not a number")))?;
            out.push((Tok::Num(v), col));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), col));
        } else if c == '*' && chars.get(i + 1) == Some(&'*') {
            out.push((Tok::Sym('^'), col));
            i += 2;
        } else if "+-*/^(),=;[]".contains(c) {
            out.push((Tok::Sym(c), col));
            i += 1;
        } else {
            return Err(ExprError::new(col, format!("unexpected character `{c}`")));
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Parser

/// A recursive-descent parser over tokens.
pub(crate) struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

impl Parser {
    pub(crate) fn new(text: &str) -> Result<Self, ExprError> {
        Ok(Parser { toks: tokenize(text)?, pos: 0 })
    }

    pub(crate) fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    pub(crate) fn column(&self) -> usize {
        self.toks[self.pos].1
    }

    fn advance(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    pub(crate) fn at_sym(&self, c: char) -> bool {
        *self.peek() == Tok::Sym(c)
    }

    pub(crate) fn at_end(&self) -> bool {
        *self.peek() == Tok::End
    }

    pub(crate) fn unexpected(&self, expected: &str) -> ExprError {
        ExprError::new(self.column(), format!("expected {expected}, found {}", self.peek().describe()))
    }

    pub(crate) fn expect_sym(&mut self, c: char) -> Result<usize, ExprError> {
        if self.at_sym(c) {
            Ok(self.advance().1)
        } else {
            Err(self.unexpected(&format!("`{c}`")))
        }
    }

    pub(crate) fn ident(&mut self, what: &str) -> Result<(String, usize), ExprError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                let col = self.advance().1;
                Ok((s, col))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// `true` (and consumed) when the next token is the word `w`.
    pub(crate) fn eat_word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Tok::Ident(s) if s == w) {
            self.advance();
            true
        } else {
            false
        }
    }

    /// `expr := term (('+' | '-') term)*`
    pub(crate) fn expr(&mut self) -> Result<Ast, ExprError> {
        let mut a = self.term()?;
        loop {
            let op = if self.at_sym('+') {
                BinOp::Add
            } else if self.at_sym('-') {
                BinOp::Sub
            } else {
                return Ok(a);
            };
            self.advance();
            let b = self.term()?;
            a = Ast::Bin(op, Box::new(a), Box::new(b));
        }
    }

    /// `term := unary (('*' | '/') unary)*`
    fn term(&mut self) -> Result<Ast, ExprError> {
        let mut a = self.unary()?;
        loop {
            let op = if self.at_sym('*') {
                BinOp::Mul
            } else if self.at_sym('/') {
                BinOp::Div
            } else {
                if matches!(self.peek(), Tok::Num(_) | Tok::Ident(_)) || self.at_sym('(') {
                    return Err(ExprError::new(
                        self.column(),
                        format!(
                            "expected an operator, found {} (write products with `*`, e.g. `3*x`)",
                            self.peek().describe()
                        ),
                    ));
                }
                return Ok(a);
            };
            self.advance();
            let b = self.unary()?;
            a = Ast::Bin(op, Box::new(a), Box::new(b));
        }
    }

    /// `unary := ('-' | '+') unary | power`
    fn unary(&mut self) -> Result<Ast, ExprError> {
        if self.at_sym('-') {
            self.advance();
            Ok(Ast::Neg(Box::new(self.unary()?)))
        } else if self.at_sym('+') {
            self.advance();
            self.unary()
        } else {
            self.power()
        }
    }

    /// `power := primary ('^' unary)?` (right-associative through `unary`).
    fn power(&mut self) -> Result<Ast, ExprError> {
        let a = self.primary()?;
        if self.at_sym('^') {
            self.advance();
            let b = self.unary()?;
            return Ok(Ast::Bin(BinOp::Pow, Box::new(a), Box::new(b)));
        }
        Ok(a)
    }

    /// `primary := number | name | function '(' expr ')' | '(' expr ')'`
    fn primary(&mut self) -> Result<Ast, ExprError> {
        match self.peek().clone() {
            Tok::Num(v) => {
                self.advance();
                Ok(Ast::Num(v))
            }
            Tok::Ident(s) => {
                let col = self.advance().1;
                if let Some(f) = Func::from_name(&s) {
                    if !self.at_sym('(') {
                        return Err(self.unexpected(&format!("`(` after the function `{s}`")));
                    }
                    self.advance();
                    let arg = self.expr()?;
                    if self.at_sym(',') {
                        return Err(ExprError::new(self.column(), format!("`{s}` takes one argument")));
                    }
                    self.expect_sym(')')?;
                    return Ok(Ast::Call(f, Box::new(arg)));
                }
                if self.at_sym('(') {
                    return Err(ExprError::new(
                        col,
                        format!(
                            "unknown function `{s}`; the functions are {}",
                            Func::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                match s.as_str() {
                    "pi" => Ok(Ast::Num(std::f64::consts::PI)),
                    "e" => Ok(Ast::Num(std::f64::consts::E)),
                    _ => Ok(Ast::Name(s, col)),
                }
            }
            Tok::Sym('(') => {
                self.advance();
                let a = self.expr()?;
                self.expect_sym(')')?;
                Ok(a)
            }
            _ => Err(self.unexpected("a number, a name, a function or `(`")),
        }
    }
}

/// `true` for the names an expression cannot use for a variable: the functions, `pi` and `e`.
pub fn is_reserved(name: &str) -> bool {
    name == "pi" || name == "e" || Func::from_name(name).is_some()
}

// ---------------------------------------------------------------------------------------------
// Tape

/// One operation of a [`Tape`]; operands are indices of earlier operations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    Const(f64),
    /// The `i`-th input variable.
    Var(u32),
    Neg(u32),
    Bin(BinOp, u32, u32),
    /// `a^n` with a constant integer exponent.
    PowI(u32, i32),
    /// `a^c` with a constant exponent.
    PowC(u32, f64),
    Call(Func, u32),
}

/// A straight-line program over `nvars` input variables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tape {
    ops: Vec<Op>,
    nvars: usize,
}

/// What a name in an expression stands for when it is compiled.
pub type Resolve<'a> = dyn FnMut(&str, usize) -> Result<u32, ExprError> + 'a;

impl Tape {
    pub fn new(nvars: usize) -> Self {
        Tape { ops: Vec::new(), nvars }
    }

    pub fn nvars(&self) -> usize {
        self.nvars
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The constant value of operation `i`, if it is one.
    pub fn constant(&self, i: u32) -> Option<f64> {
        match self.ops[i as usize] {
            Op::Const(v) => Some(v),
            _ => None,
        }
    }

    /// Appends the variable `i`.
    pub fn var(&mut self, i: usize) -> u32 {
        assert!(i < self.nvars, "variable {i} out of range");
        self.push(Op::Var(i as u32))
    }

    /// Appends an operation, folding it when all its operands are constants.
    pub fn push(&mut self, op: Op) -> u32 {
        let c = |i: u32| self.constant(i);
        let folded = match op {
            Op::Neg(a) => c(a).map(|a| -a),
            Op::Bin(o, a, b) => c(a).zip(c(b)).map(|(a, b)| o.value(a, b)),
            Op::PowI(a, n) => c(a).map(|a| a.powi(n)),
            Op::PowC(a, p) => c(a).map(|a| a.powf(p)),
            Op::Call(f, a) => c(a).map(|a| f.value(a)),
            _ => None,
        };
        self.ops.push(folded.map_or(op, Op::Const));
        (self.ops.len() - 1) as u32
    }

    /// Compiles `ast`, asking `resolve` for the operation a name stands for (a variable pushed
    /// with [`Tape::var`], or any earlier operation). Returns the index of the result.
    pub fn compile(&mut self, ast: &Ast, resolve: &mut Resolve<'_>) -> Result<u32, ExprError> {
        Ok(match ast {
            Ast::Num(v) => self.push(Op::Const(*v)),
            Ast::Name(s, col) => resolve(s, *col)?,
            Ast::Neg(a) => {
                let a = self.compile(a, resolve)?;
                self.push(Op::Neg(a))
            }
            Ast::Call(f, a) => {
                let a = self.compile(a, resolve)?;
                self.push(Op::Call(*f, a))
            }
            Ast::Bin(BinOp::Pow, a, b) => {
                let a = self.compile(a, resolve)?;
                let b = self.compile(b, resolve)?;
                match self.constant(b) {
                    Some(p) if p.fract() == 0.0 && p.abs() <= 1024.0 => self.push(Op::PowI(a, p as i32)),
                    Some(p) => self.push(Op::PowC(a, p)),
                    None => self.push(Op::Bin(BinOp::Pow, a, b)),
                }
            }
            Ast::Bin(o, a, b) => {
                let a = self.compile(a, resolve)?;
                let b = self.compile(b, resolve)?;
                self.push(Op::Bin(*o, a, b))
            }
        })
    }

    /// Whether operation `i` depends on `abs` or `relu` (non-differentiable at 0).
    pub fn uses_kinks(&self) -> bool {
        self.ops.iter().any(|o| matches!(o, Op::Call(Func::Abs | Func::Relu, _)))
    }

    /// Values of every operation at `x` (`x.len() == nvars`) into `vals`.
    pub fn eval(&self, x: &[f64], vals: &mut Vec<f64>) {
        debug_assert_eq!(x.len(), self.nvars);
        vals.clear();
        for op in &self.ops {
            let v = match *op {
                Op::Const(v) => v,
                Op::Var(i) => x[i as usize],
                Op::Neg(a) => -vals[a as usize],
                Op::Bin(o, a, b) => o.value(vals[a as usize], vals[b as usize]),
                Op::PowI(a, n) => powi(vals[a as usize], n),
                Op::PowC(a, p) => vals[a as usize].powf(p),
                Op::Call(f, a) => f.value(vals[a as usize]),
            };
            vals.push(v);
        }
    }

    /// Reverse mode: adds `seed · ∂out/∂x_i` to `g[i]` for every variable, from the values of an
    /// [`Tape::eval`] at the point. `adj` is scratch space.
    pub fn backprop(&self, vals: &[f64], out: u32, seed: f64, adj: &mut Vec<f64>, g: &mut [f64]) {
        adj.clear();
        adj.resize(out as usize + 1, 0.0);
        adj[out as usize] = seed;
        for i in (0..=out as usize).rev() {
            let d = adj[i];
            if d == 0.0 {
                continue;
            }
            match self.ops[i] {
                Op::Const(_) => {}
                Op::Var(k) => g[k as usize] += d,
                Op::Neg(a) => adj[a as usize] -= d,
                Op::Bin(o, a, b) => {
                    let (da, db, ..) = bin_partials(o, vals[a as usize], vals[b as usize], vals[i]);
                    adj[a as usize] += d * da;
                    adj[b as usize] += d * db;
                }
                Op::PowI(a, n) => adj[a as usize] += d * powi_partials(vals[a as usize], n).1,
                Op::PowC(a, p) => adj[a as usize] += d * powc_partials(vals[a as usize], p).1,
                Op::Call(f, a) => adj[a as usize] += d * f.partials(vals[a as usize]).1,
            }
        }
    }

    /// Value, gradient (`nvars`) and Hessian (`nvars²`, row-major) of operation `out` at `x`, by
    /// forward-mode second-order jets.
    pub fn hessian(&self, x: &[f64], out: u32, g: &mut [f64], h: &mut [f64]) -> f64 {
        let n = self.nvars;
        let m = out as usize + 1;
        let mut v = vec![0.0; m];
        let mut gs = vec![0.0; m * n];
        let mut hs = vec![0.0; m * n * n];
        for i in 0..m {
            let (gl, gr) = gs.split_at_mut(i * n);
            let gi = &mut gr[..n];
            let (hl, hr) = hs.split_at_mut(i * n * n);
            let hi = &mut hr[..n * n];
            let grad = |k: u32| &gl[k as usize * n..k as usize * n + n];
            let hess = |k: u32| &hl[k as usize * n * n..(k as usize + 1) * n * n];
            // Unary chain rule: g = f' ga, H = f' Ha + f'' ga gaᵀ (the upper triangle computed and
            // mirrored, so that the Hessian is exactly symmetric).
            let mut unary = |a: u32, (val, d1, d2): (f64, f64, f64)| {
                let (ga, ha) = (grad(a), hess(a));
                for r in 0..n {
                    gi[r] = d1 * ga[r];
                    for c in r..n {
                        let t = d1 * ha[r * n + c] + d2 * (ga[r] * ga[c]);
                        hi[r * n + c] = t;
                        hi[c * n + r] = t;
                    }
                }
                val
            };
            v[i] = match self.ops[i] {
                Op::Const(c) => c,
                Op::Var(k) => {
                    gi[k as usize] = 1.0;
                    x[k as usize]
                }
                Op::Neg(a) => unary(a, (-v[a as usize], -1.0, 0.0)),
                Op::PowI(a, p) => unary(a, powi_partials(v[a as usize], p)),
                Op::PowC(a, p) => unary(a, powc_partials(v[a as usize], p)),
                Op::Call(f, a) => unary(a, f.partials(v[a as usize])),
                Op::Bin(o, a, b) => {
                    let val = o.value(v[a as usize], v[b as usize]);
                    let (da, db, daa, dab, dbb) = bin_partials(o, v[a as usize], v[b as usize], val);
                    let (ga, gb, ha, hb) = (grad(a), grad(b), hess(a), hess(b));
                    for r in 0..n {
                        gi[r] = da * ga[r] + db * gb[r];
                        for c in r..n {
                            let mut t = da * ha[r * n + c] + db * hb[r * n + c];
                            if daa != 0.0 {
                                t += daa * (ga[r] * ga[c]);
                            }
                            if dab != 0.0 {
                                t += dab * (ga[r] * gb[c] + gb[r] * ga[c]);
                            }
                            if dbb != 0.0 {
                                t += dbb * (gb[r] * gb[c]);
                            }
                            hi[r * n + c] = t;
                            hi[c * n + r] = t;
                        }
                    }
                    val
                }
            };
        }
        g.copy_from_slice(&gs[(m - 1) * n..m * n]);
        h.copy_from_slice(&hs[(m - 1) * n * n..m * n * n]);
        v[m - 1]
    }
}

fn powi(a: f64, n: i32) -> f64 {
    match n {
        2 => a * a,
        _ => a.powi(n),
    }
}

/// `(a^n, n a^(n−1), n(n−1) a^(n−2))`, with exact zeros where the coefficient is zero.
fn powi_partials(a: f64, n: i32) -> (f64, f64, f64) {
    let v = powi(a, n);
    let d1 = if n == 0 { 0.0 } else { n as f64 * powi(a, n - 1) };
    let d2 = if n == 0 || n == 1 { 0.0 } else { (n as f64) * (n as f64 - 1.0) * powi(a, n - 2) };
    (v, d1, d2)
}

fn powc_partials(a: f64, p: f64) -> (f64, f64, f64) {
    (a.powf(p), p * a.powf(p - 1.0), p * (p - 1.0) * a.powf(p - 2.0))
}

/// `(∂/∂a, ∂/∂b, ∂²/∂a², ∂²/∂a∂b, ∂²/∂b²)` of `a o b` whose value is `v`.
fn bin_partials(o: BinOp, a: f64, b: f64, v: f64) -> (f64, f64, f64, f64, f64) {
    match o {
        BinOp::Add => (1.0, 1.0, 0.0, 0.0, 0.0),
        BinOp::Sub => (1.0, -1.0, 0.0, 0.0, 0.0),
        BinOp::Mul => (b, a, 0.0, 1.0, 0.0),
        BinOp::Div => {
            let r = 1.0 / b;
            (r, -a * r * r, 0.0, -r * r, 2.0 * a * r * r * r)
        }
        BinOp::Pow => {
            // a^b = exp(b ln a): only defined for a > 0 when b varies.
            let la = a.ln();
            let am1 = a.powf(b - 1.0);
            (b * am1, v * la, b * (b - 1.0) * a.powf(b - 2.0), am1 * (1.0 + b * la), v * la * la)
        }
    }
}

/// Parses a whole text as one expression (no signature), e.g. `sigmoid(a*x + b)`.
pub fn parse_expr(text: &str) -> Result<Ast, ExprError> {
    let mut p = Parser::new(text)?;
    let a = p.expr()?;
    if !p.at_end() {
        return Err(p.unexpected("an operator or the end"));
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str, vars: &[&str]) -> (Tape, u32) {
        let ast = parse_expr(text).unwrap();
        let mut t = Tape::new(vars.len());
        let idx: Vec<u32> = (0..vars.len()).map(|i| t.var(i)).collect();
        let out = t
            .compile(&ast, &mut |s, col| {
                vars.iter().position(|v| *v == s).map(|i| idx[i]).ok_or(ExprError::new(col, "unknown"))
            })
            .unwrap();
        (t, out)
    }

    #[test]
    fn precedence_and_associativity() {
        let v = |s: &str| {
            let (t, o) = compile(s, &["x"]);
            let mut vals = Vec::new();
            t.eval(&[3.0], &mut vals);
            vals[o as usize]
        };
        assert_eq!(v("-x^2"), -9.0);
        assert_eq!(v("2^3^2"), 512.0);
        assert_eq!(v("1 - x - 1"), -3.0);
        assert_eq!(v("12 / x / 2"), 2.0);
        assert_eq!(v("2 * x ** 2"), 18.0);
        assert_eq!(v("pi"), std::f64::consts::PI);
        assert_eq!(v("e^x"), std::f64::consts::E.powi(3));
        assert_eq!(v("2^-1"), 0.5);
    }

    #[test]
    fn constants_fold() {
        let (t, o) = compile("2*pi/4 + 1", &["x"]);
        assert_eq!(t.constant(o), Some(std::f64::consts::PI / 2.0 + 1.0));
    }

    #[test]
    fn errors_point_at_the_column() {
        let e = parse_expr("(1 - x").unwrap_err();
        assert_eq!((e.column, e.message.as_str()), (7, "expected `)`, found the end"));
        let e = parse_expr("3x").unwrap_err();
        assert_eq!(e.column, 2);
        assert!(e.message.contains("3*x"), "{e}");
        let e = parse_expr("x + * y").unwrap_err();
        assert_eq!(e.column, 5);
        let e = parse_expr("foo(x)").unwrap_err();
        assert_eq!(e.column, 1);
        assert!(e.message.starts_with("unknown function `foo`"), "{e}");
        let e = parse_expr("x # y").unwrap_err();
        assert_eq!((e.column, e.message.as_str()), (3, "unexpected character `#`"));
        let e = parse_expr("sin x").unwrap_err();
        assert_eq!(e.column, 5);
    }

    #[test]
    fn kinks_have_zero_derivative_not_nan() {
        for s in ["abs(x)", "relu(x)"] {
            let (t, o) = compile(s, &["x"]);
            let (mut g, mut h) = ([0.0], [0.0]);
            assert_eq!(t.hessian(&[0.0], o, &mut g, &mut h), 0.0);
            assert_eq!((g[0], h[0]), (0.0, 0.0), "{s}");
        }
        // x^1 and x^0 at 0: exact zeros, not 0 * inf.
        let (t, o) = compile("x^1 + x^0", &["x"]);
        let (mut g, mut h) = ([0.0], [0.0]);
        assert_eq!(t.hessian(&[0.0], o, &mut g, &mut h), 1.0);
        assert_eq!((g[0], h[0]), (1.0, 0.0));
    }
}
