//! Hyperparameters: typed specifications, validated values, and parsing from `key=value` text.

use crate::error::OptimError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The type and valid range of one hyperparameter.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A real number in a range; `lo_open`/`hi_open` make the bound exclusive.
    Float {
        lo: f64,
        hi: f64,
        lo_open: bool,
        hi_open: bool,
    },
    /// An integer in `[lo, hi]`.
    Int {
        lo: i64,
        hi: i64,
    },
    Bool,
    /// One of a fixed set of names.
    Choice(&'static [&'static str]),
    /// The name of another registered optimizer (stored as its registry index).
    Optimizer,
}

impl Kind {
    /// `[0, inf)`
    pub const NONNEG: Kind = Kind::Float { lo: 0.0, hi: f64::INFINITY, lo_open: false, hi_open: true };
    /// `(0, inf)`
    pub const POS: Kind = Kind::Float { lo: 0.0, hi: f64::INFINITY, lo_open: true, hi_open: true };
    /// `[0, 1)`, the range of a decay rate such as a beta.
    pub const UNIT_OPEN: Kind = Kind::Float { lo: 0.0, hi: 1.0, lo_open: false, hi_open: true };
    /// `[0, 1]`
    pub const UNIT: Kind = Kind::Float { lo: 0.0, hi: 1.0, lo_open: false, hi_open: false };
    /// `(0, 1]`
    pub const UNIT_POS: Kind = Kind::Float { lo: 0.0, hi: 1.0, lo_open: true, hi_open: false };
    /// Any real number.
    pub const REAL: Kind = Kind::Float { lo: f64::NEG_INFINITY, hi: f64::INFINITY, lo_open: true, hi_open: true };

    /// Human-readable range, e.g. `[0, 1)` or `one of: heavy_ball, ema`.
    pub fn range_text(&self) -> String {
        match *self {
            Kind::Float { lo, hi, lo_open, hi_open } => {
                let l = if lo == f64::NEG_INFINITY { "-inf".to_string() } else { fmt_num(lo) };
                let h = if hi == f64::INFINITY { "inf".to_string() } else { fmt_num(hi) };
                format!("{}{}, {}{}", if lo_open { "(" } else { "[" }, l, h, if hi_open { ")" } else { "]" })
            }
            Kind::Int { lo, hi } => {
                if hi == i64::MAX {
                    format!("integer >= {lo}")
                } else {
                    format!("integer in [{lo}, {hi}]")
                }
            }
            Kind::Bool => "true or false".to_string(),
            Kind::Choice(c) => format!("one of: {}", c.join(", ")),
            Kind::Optimizer => format!("an optimizer name: {}", crate::registry::names().join(", ")),
        }
    }

    fn check_f(&self, v: f64) -> bool {
        match *self {
            Kind::Float { lo, hi, lo_open, hi_open } => {
                v.is_finite() && (if lo_open { v > lo } else { v >= lo }) && (if hi_open { v < hi } else { v <= hi })
            }
            _ => false,
        }
    }
}

fn fmt_num(x: f64) -> String {
    if x != 0.0 && x.is_finite() && (x.abs() < 1e-3 || x.abs() >= 1e6) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// A hyperparameter value. `Copy`, so per-step scheduling never allocates.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    F(f64),
    I(i64),
    B(bool),
    /// Index into a [`Kind::Choice`] list.
    C(u8),
}

/// Specification of one hyperparameter of an optimizer.
#[derive(Clone, Copy, Debug)]
pub struct HyperSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Value,
    pub doc: &'static str,
}

impl HyperSpec {
    pub const fn float(name: &'static str, default: f64, kind: Kind, doc: &'static str) -> Self {
        HyperSpec { name, kind, default: Value::F(default), doc }
    }
    pub const fn boolean(name: &'static str, default: bool, doc: &'static str) -> Self {
        HyperSpec { name, kind: Kind::Bool, default: Value::B(default), doc }
    }
    pub const fn int(name: &'static str, default: i64, lo: i64, hi: i64, doc: &'static str) -> Self {
        HyperSpec { name, kind: Kind::Int { lo, hi }, default: Value::I(default), doc }
    }
    pub const fn optimizer(name: &'static str, default_index: u8, doc: &'static str) -> Self {
        HyperSpec { name, kind: Kind::Optimizer, default: Value::C(default_index), doc }
    }
    pub const fn choice(name: &'static str, choices: &'static [&'static str], default: u8, doc: &'static str) -> Self {
        HyperSpec { name, kind: Kind::Choice(choices), default: Value::C(default), doc }
    }

    /// Text of the default value.
    pub fn default_text(&self) -> String {
        self.value_text(self.default)
    }

    /// Text of a value of this hyperparameter.
    pub fn value_text(&self, v: Value) -> String {
        match (v, self.kind) {
            (Value::C(i), Kind::Choice(c)) => c.get(i as usize).copied().unwrap_or("?").to_string(),
            (Value::C(i), Kind::Optimizer) => {
                crate::registry::names().get(i as usize).copied().unwrap_or("?").to_string()
            }
            (Value::F(x), _) => fmt_num(x),
            (Value::I(x), _) => x.to_string(),
            (Value::B(x), _) => x.to_string(),
            (Value::C(i), _) => i.to_string(),
        }
    }

    /// Whether this hyperparameter is numeric and so can follow a schedule.
    pub fn schedulable(&self) -> bool {
        matches!(self.kind, Kind::Float { .. })
    }
}

/// Static description of an optimizer: what the registry, the CLI and the report show.
#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    /// One line: what it is.
    pub summary: &'static str,
    /// Where the update rule comes from (paper and the reference implementation matched).
    pub reference: &'static str,
    pub hypers: &'static [HyperSpec],
    /// Conventions that differ between references and which one each option picks.
    pub conventions: &'static [&'static str],
    /// Whether `step` needs the Hessian diagonal as an extra input.
    pub needs_hessian: bool,
}

impl Spec {
    pub fn index(&self, key: &str) -> Option<usize> {
        self.hypers.iter().position(|h| h.name == key)
    }
}

/// A full set of hyperparameter values for one optimizer, in the order of its [`Spec`].
#[derive(Clone, Debug)]
pub struct Hyper {
    pub(crate) spec: &'static Spec,
    pub(crate) values: Vec<Value>,
}

impl Hyper {
    /// The defaults of a spec.
    pub fn defaults(spec: &'static Spec) -> Self {
        Hyper { spec, values: spec.hypers.iter().map(|h| h.default).collect() }
    }

    pub fn spec(&self) -> &'static Spec {
        self.spec
    }

    /// Numeric value at index `i` (panics in debug builds on a non-float: a programming error
    /// in the optimizer's own file, caught by its unit tests).
    #[inline(always)]
    pub fn f(&self, i: usize) -> f64 {
        match self.values[i] {
            Value::F(x) => x,
            Value::I(x) => x as f64,
            Value::B(b) => b as u8 as f64,
            Value::C(c) => c as f64,
        }
    }
    #[inline(always)]
    pub fn b(&self, i: usize) -> bool {
        matches!(self.values[i], Value::B(true))
    }
    #[inline(always)]
    pub fn i(&self, i: usize) -> i64 {
        match self.values[i] {
            Value::I(x) => x,
            Value::F(x) => x as i64,
            Value::B(b) => b as i64,
            Value::C(c) => c as i64,
        }
    }
    /// Index of the chosen option of a choice hyperparameter.
    #[inline(always)]
    pub fn c(&self, i: usize) -> u8 {
        match self.values[i] {
            Value::C(x) => x,
            _ => 0,
        }
    }

    /// Value by name.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.spec.index(key).map(|i| self.values[i])
    }

    /// Value by name as text.
    pub fn get_text(&self, key: &str) -> Option<String> {
        let i = self.spec.index(key)?;
        Some(self.spec.hypers[i].value_text(self.values[i]))
    }

    /// Sets a value from text (`"0.9"`, `"true"`, `"ema"`), validating type and range.
    pub fn set_str(&mut self, key: &str, text: &str) -> Result<(), OptimError> {
        let i = self.index_of(key)?;
        let hs = &self.spec.hypers[i];
        let t = text.trim();
        let v = match hs.kind {
            Kind::Float { .. } => Value::F(t.parse::<f64>().map_err(|_| self.invalid(hs, t))?),
            Kind::Int { .. } => {
                let x = t.parse::<f64>().map_err(|_| self.invalid(hs, t))?;
                if x.fract() != 0.0 || !x.is_finite() {
                    return Err(self.invalid(hs, t));
                }
                Value::I(x as i64)
            }
            Kind::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Value::B(true),
                "false" | "0" | "no" | "off" => Value::B(false),
                _ => return Err(self.invalid(hs, t)),
            },
            Kind::Choice(c) => match c.iter().position(|n| n.eq_ignore_ascii_case(t)) {
                Some(p) => Value::C(p as u8),
                None => return Err(self.invalid(hs, t)),
            },
            Kind::Optimizer => match crate::registry::names().iter().position(|n| n.eq_ignore_ascii_case(t)) {
                Some(p) => Value::C(p as u8),
                None => return Err(self.invalid(hs, t)),
            },
        };
        self.set(key, v)
    }

    /// Sets a value, validating type and range.
    pub fn set(&mut self, key: &str, v: Value) -> Result<(), OptimError> {
        let i = self.index_of(key)?;
        let hs = &self.spec.hypers[i];
        let ok = match (hs.kind, v) {
            (k @ Kind::Float { .. }, Value::F(x)) => k.check_f(x),
            (k @ Kind::Float { .. }, Value::I(x)) => k.check_f(x as f64),
            (Kind::Int { lo, hi }, Value::I(x)) => x >= lo && x <= hi,
            (Kind::Int { lo, hi }, Value::F(x)) => x.fract() == 0.0 && x >= lo as f64 && x <= hi as f64,
            (Kind::Bool, Value::B(_)) => true,
            (Kind::Choice(c), Value::C(x)) => (x as usize) < c.len(),
            (Kind::Optimizer, Value::C(x)) => (x as usize) < crate::registry::names().len(),
            _ => false,
        };
        if !ok {
            let text = match v {
                Value::F(x) => fmt_num(x),
                Value::I(x) => x.to_string(),
                Value::B(x) => x.to_string(),
                Value::C(x) => format!("choice #{x}"),
            };
            return Err(self.invalid(hs, &text));
        }
        let v = match (hs.kind, v) {
            (Kind::Float { .. }, Value::I(x)) => Value::F(x as f64),
            (Kind::Int { .. }, Value::F(x)) => Value::I(x as i64),
            (_, v) => v,
        };
        self.values[i] = v;
        Ok(())
    }

    /// Checks that a scheduled (effective) numeric value is still within the range.
    pub(crate) fn check_scheduled(&self, i: usize, x: f64) -> Result<(), OptimError> {
        let hs = &self.spec.hypers[i];
        if hs.kind.check_f(x) {
            Ok(())
        } else {
            Err(OptimError::ScheduledOutOfRange {
                optimizer: self.spec.name.to_string(),
                key: hs.name.to_string(),
                value: x,
                range: hs.kind.range_text(),
            })
        }
    }

    pub(crate) fn index_of(&self, key: &str) -> Result<usize, OptimError> {
        self.spec.index(key).ok_or_else(|| OptimError::UnknownKey {
            optimizer: self.spec.name.to_string(),
            key: key.to_string(),
            valid: self.spec.hypers.iter().map(|h| h.name).collect::<Vec<_>>().join(", "),
        })
    }

    fn invalid(&self, hs: &HyperSpec, text: &str) -> OptimError {
        OptimError::InvalidValue {
            optimizer: self.spec.name.to_string(),
            key: hs.name.to_string(),
            value: text.to_string(),
            range: hs.kind.range_text(),
        }
    }

    /// `key=value` pairs of every hyperparameter, in spec order.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.spec.hypers.iter().zip(&self.values).map(|(h, v)| (h.name.to_string(), h.value_text(*v))).collect()
    }
}

impl PartialEq for Hyper {
    fn eq(&self, o: &Self) -> bool {
        std::ptr::eq(self.spec, o.spec) && self.values == o.values
    }
}

impl fmt::Display for Hyper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.to_pairs().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{}({})", self.spec.name, parts.join(", "))
    }
}

/// Parses `KEY=VALUE` into its two parts, with an error naming the malformed text.
pub fn split_assignment(s: &str) -> Result<(&str, &str), OptimError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => Ok((k.trim(), v.trim())),
        _ => Err(OptimError::Malformed(format!("expected KEY=VALUE, got `{s}`"))),
    }
}
