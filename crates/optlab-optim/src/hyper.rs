//! Hyperparameters: typed specifications, validated values, and parsing from `key=value` text.
//!
//! An optimizer declares its hyperparameters once, with [`hypers!`](crate::hypers): the macro
//! generates both the [`HyperSpec`] list (name, kind and range, default, doc) and a plain `Copy`
//! struct with one typed field per hyperparameter, read once per tensor per step with
//! `XxxHp::read(hyper)`. Choices are typed enums declared with [`choice!`](crate::choice).

use crate::error::OptimError;
use crate::num::fmt_num;
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
    /// The name of another optimizer, one of the names the function lists (the registry's, for
    /// Lookahead's `inner`), stored by name: never by position in a list.
    Optimizer(fn() -> &'static [&'static str]),
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
            Kind::Optimizer(names) => format!("an optimizer name: {}", names().join(", ")),
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

/// A hyperparameter value. `Copy`, so per-step scheduling never allocates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    F(f64),
    I(i64),
    B(bool),
    /// Index into a [`Kind::Choice`] list.
    C(u8),
    /// An optimizer name ([`Kind::Optimizer`]).
    N(&'static str),
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
    pub const fn optimizer(
        name: &'static str,
        names: fn() -> &'static [&'static str],
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        HyperSpec { name, kind: Kind::Optimizer(names), default: Value::N(default), doc }
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
            (Value::N(n), _) => n.to_string(),
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
    /// What the update rule is checked against (the generic tests read it).
    pub parity: Parity,
    /// Named option sets besides the defaults: run by the generic tests and measured by
    /// `optlab bench step`.
    pub variants: &'static [Variant],
}

/// What an optimizer's update rule is checked against: the test metadata of its registry entry
/// (in the manner of torch's `optim_db`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parity {
    /// A torch.optim class (`"Adam"`): float64 golden trajectories in
    /// `tests/golden/torch_optim.json`, written by `tools/torch_golden/gen_optim.py`.
    Torch(&'static str),
    /// A reference package (`"adabelief-pytorch"`): golden trajectories in
    /// `tests/golden/reference_optimizers.json`, written by `tools/torch_golden/gen_reference_optimizers.py`.
    Reference(&'static str),
    /// Hand-derived tests in the optimizer's own file (no reference implementation exists).
    Hand,
}

impl Parity {
    /// `torch.optim.Adam`, `adabelief-pytorch` or `hand-derived`.
    pub fn text(&self) -> String {
        match self {
            Parity::Torch(c) => format!("torch.optim.{c}"),
            Parity::Reference(p) => p.to_string(),
            Parity::Hand => "hand-derived".to_string(),
        }
    }
}

/// A named set of hyperparameter settings of one optimizer (`amsgrad`: `amsgrad=true`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    pub name: &'static str,
    pub set: &'static [(&'static str, &'static str)],
    /// Whether `optlab bench step` measures it by default (the generic tests run every variant).
    pub bench: bool,
}

impl Variant {
    /// A variant the generic tests run and `bench step` measures.
    pub const fn new(name: &'static str, set: &'static [(&'static str, &'static str)]) -> Self {
        Variant { name, set, bench: true }
    }

    /// A variant only the generic tests run.
    pub const fn tested(name: &'static str, set: &'static [(&'static str, &'static str)]) -> Self {
        Variant { name, set, bench: false }
    }

    /// `optimizer:key=value,...` (the label `optlab bench step` prints and takes).
    pub fn label(&self, optimizer: &str) -> String {
        let kv: Vec<String> = self.set.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if kv.is_empty() {
            optimizer.to_string()
        } else {
            format!("{optimizer}:{}", kv.join(","))
        }
    }
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

    /// The values in the order of the spec's list (what the struct made by [`hypers!`](crate::hypers)
    /// reads, once per tensor per step).
    #[inline(always)]
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Numeric value of the hyperparameter at position `i` of the spec (the engine's scheduled keys,
    /// whose positions it looks up by name).
    #[inline(always)]
    pub(crate) fn f(&self, i: usize) -> f64 {
        f64::from_value(self.values[i])
    }

    /// Numeric value by name (integers and booleans as numbers).
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.spec.index(key).map(|i| self.f(i))
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
            Kind::Optimizer(names) => match names().iter().find(|n| n.eq_ignore_ascii_case(t)) {
                Some(n) => Value::N(n),
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
            (Kind::Optimizer(names), Value::N(n)) => names().contains(&n),
            _ => false,
        };
        if !ok {
            let text = match v {
                Value::F(x) => fmt_num(x),
                Value::I(x) => x.to_string(),
                Value::B(x) => x.to_string(),
                Value::C(x) => format!("choice #{x}"),
                Value::N(n) => n.to_string(),
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

    /// [`Hyper::check_scheduled`] by name.
    pub(crate) fn check_scheduled_key(&self, key: &str, x: f64) -> Result<(), OptimError> {
        self.check_scheduled(self.index_of(key)?, x)
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

/// A Rust type a hyperparameter field can have: `f64`, `i64`, `bool`, [`OptimizerName`] or an enum
/// declared with [`choice!`](crate::choice).
pub trait HyperValue: Copy {
    /// The field's value from a validated [`Value`] of its own kind.
    fn from_value(v: Value) -> Self;
}

impl HyperValue for f64 {
    #[inline(always)]
    fn from_value(v: Value) -> f64 {
        match v {
            Value::F(x) => x,
            Value::I(x) => x as f64,
            Value::B(b) => b as u8 as f64,
            Value::C(c) => c as f64,
            Value::N(_) => f64::NAN,
        }
    }
}

impl HyperValue for i64 {
    #[inline(always)]
    fn from_value(v: Value) -> i64 {
        match v {
            Value::I(x) => x,
            Value::F(x) => x as i64,
            Value::B(b) => b as i64,
            Value::C(c) => c as i64,
            Value::N(_) => 0,
        }
    }
}

impl HyperValue for bool {
    #[inline(always)]
    fn from_value(v: Value) -> bool {
        matches!(v, Value::B(true))
    }
}

/// The value of a [`Kind::Optimizer`] hyperparameter: an optimizer's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptimizerName(pub &'static str);

impl HyperValue for OptimizerName {
    fn from_value(v: Value) -> OptimizerName {
        match v {
            Value::N(n) => OptimizerName(n),
            _ => OptimizerName(""),
        }
    }
}

/// `a == b` in a constant expression.
pub const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `specs` with the doc of the hyperparameter `name` replaced (at compile time; an unknown name
/// is a compile error). For an optimizer that shares another's hyperparameter struct, such as
/// AdamW's `weight_decay`, which is decoupled where Adam's is L2.
pub const fn with_doc<const N: usize>(mut specs: [HyperSpec; N], name: &str, doc: &'static str) -> [HyperSpec; N] {
    let mut i = 0;
    while i < N {
        if const_str_eq(specs[i].name, name) {
            specs[i].doc = doc;
            return specs;
        }
        i += 1;
    }
    panic!("with_doc: no hyperparameter of that name")
}

/// Declares a choice hyperparameter's type: a fieldless enum whose variants map to the names
/// users write (`momentum_form=ema`).
///
/// ```
/// optlab_optim::choice! {
///     /// How the buffer is updated.
///     pub enum Form { HeavyBall = "heavy_ball", Ema = "ema" }
/// }
/// assert_eq!(Form::NAMES, &["heavy_ball", "ema"]);
/// ```
#[macro_export]
macro_rules! choice {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $var:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name { $($(#[$vm])* $var),+ }
        impl $name {
            /// The names users write, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            const ALL: &'static [$name] = &[$($name::$var),+];
            /// The name of this choice.
            pub fn name(self) -> &'static str {
                Self::NAMES[self as usize]
            }
        }
        impl $crate::hyper::HyperValue for $name {
            #[inline(always)]
            fn from_value(v: $crate::hyper::Value) -> Self {
                match v {
                    $crate::hyper::Value::C(i) if (i as usize) < Self::ALL.len() => Self::ALL[i as usize],
                    _ => Self::ALL[0],
                }
            }
        }
    };
}

/// Declares an optimizer's hyperparameters once: a `Copy` struct with one typed field each, its
/// defaults ([`DEFAULT`](#)), and the [`HyperSpec`] list the registry, the CLI and validation use.
///
/// Each field is `name: type [range] = default, doc;` where `type` is `f64` (range: a [`Kind`]
/// expression), `i64` (range: `lo, hi`), `bool` (no range), [`OptimizerName`] (range: the function
/// listing the valid names) or an enum made with [`choice!`](crate::choice) (no range).
///
/// ```
/// use optlab_optim::hyper::{Hyper, Kind, Spec};
/// optlab_optim::hypers! {
///     /// Settings of a toy optimizer.
///     pub struct ToyHp {
///         lr: f64 [Kind::NONNEG] = 0.1, "learning rate";
///         steps: i64 [1, 10] = 3, "inner steps";
///         maximize: bool [] = false, "climb instead";
///     }
/// }
/// static SPEC: Spec = Spec {
///     name: "toy", summary: "", reference: "", hypers: ToyHp::HYPERS, conventions: &[],
///     needs_hessian: false, parity: optlab_optim::hyper::Parity::Hand, variants: &[],
/// };
/// let mut h = Hyper::defaults(&SPEC);
/// h.set_str("steps", "7").unwrap();
/// let hp = ToyHp::read(&h);
/// assert_eq!((hp.lr, hp.steps, hp.maximize), (0.1, 7, false));
/// assert_eq!(ToyHp::HYPERS[1].name, "steps");
/// ```
#[macro_export]
macro_rules! hypers {
    (
        $(#[$m:meta])* $vis:vis struct $name:ident {
            $($(#[$fm:meta])* $field:ident : $t:tt [$($range:tt)*] = $default:expr, $doc:expr;)+
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        $vis struct $name { $($(#[$fm])* pub $field: $t),+ }

        impl $name {
            /// Number of hyperparameters.
            pub const LEN: usize = [$(stringify!($field)),+].len();
            /// The defaults.
            pub const DEFAULT: $name = $name { $($field: $default),+ };
            /// The spec list with these defaults.
            pub const HYPERS: &'static [$crate::hyper::HyperSpec] = &$name::specs($name::DEFAULT);

            /// The spec list with other defaults (an optimizer sharing this struct, e.g. AdamW).
            pub const fn specs(d: $name) -> [$crate::hyper::HyperSpec; $name::LEN] {
                [$($crate::hyper::HyperSpec {
                    name: stringify!($field),
                    kind: $crate::hypers!(@kind $t [$($range)*]),
                    default: $crate::hypers!(@value $t d.$field),
                    doc: $doc,
                }),+]
            }

            /// The typed values of a [`Hyper`]($crate::hyper::Hyper) whose spec list was made by
            /// this struct (read once per tensor per step, never inside an element loop).
            #[inline]
            pub fn read(hp: &$crate::hyper::Hyper) -> $name {
                let v = hp.values();
                assert_eq!(v.len(), $name::LEN, "{}: not a {} hyperparameter set", hp.spec().name, stringify!($name));
                debug_assert!(
                    hp.spec().hypers.iter().map(|h| h.name).eq([$(stringify!($field)),+]),
                    "{}: hyperparameters laid out differently from {}", hp.spec().name, stringify!($name)
                );
                let mut it = v.iter();
                $(let $field = <$t as $crate::hyper::HyperValue>::from_value(*it.next().unwrap());)+
                $name { $($field),+ }
            }
        }
    };
    (@kind f64 [$k:expr]) => { $k };
    (@kind i64 [$lo:expr, $hi:expr]) => { $crate::hyper::Kind::Int { lo: $lo, hi: $hi } };
    (@kind bool []) => { $crate::hyper::Kind::Bool };
    (@kind OptimizerName [$names:expr]) => { $crate::hyper::Kind::Optimizer($names) };
    (@kind $t:tt []) => { $crate::hyper::Kind::Choice($t::NAMES) };
    (@value f64 $e:expr) => { $crate::hyper::Value::F($e) };
    (@value i64 $e:expr) => { $crate::hyper::Value::I($e) };
    (@value bool $e:expr) => { $crate::hyper::Value::B($e) };
    (@value OptimizerName $e:expr) => { $crate::hyper::Value::N($e.0) };
    (@value $t:tt $e:expr) => { $crate::hyper::Value::C($e as u8) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_a() -> &'static [&'static str] {
        &["sgd", "adam", "lion"]
    }
    fn list_b() -> &'static [&'static str] {
        &["lion", "sgd", "rprop", "adam"]
    }

    /// A `Kind::Optimizer` value is a name, not a position: the same default and the same settings
    /// read the same from two lists that order the names differently.
    #[test]
    fn optimizer_names_are_stored_by_name_not_position() {
        for names in [list_a as fn() -> &'static [&'static str], list_b] {
            let spec: &'static Spec = Box::leak(Box::new(Spec {
                name: "wrapper",
                summary: "",
                reference: "",
                hypers: Box::leak(Box::new([HyperSpec::optimizer("inner", names, "adam", "")])),
                conventions: &[],
                needs_hessian: false,
                parity: Parity::Hand,
                variants: &[],
            }));
            let mut h = Hyper::defaults(spec);
            assert_eq!(h.get_text("inner").as_deref(), Some("adam"));
            h.set_str("inner", "SGD").unwrap();
            assert_eq!(h.get("inner"), Some(Value::N("sgd")));
            let e = h.set_str("inner", "nosuch").unwrap_err().to_string();
            assert!(e.contains("nosuch") && e.contains("adam"), "{e}");
        }
    }

    crate::choice! {
        enum Mode { Slow = "slow", Fast = "fast" }
    }

    crate::hypers! {
        struct TestHp {
            lr: f64 [Kind::NONNEG] = 0.5, "lr";
            n: i64 [1, 9] = 3, "n";
            on: bool [] = true, "on";
            mode: Mode [] = Mode::Fast, "mode";
        }
    }

    /// One declaration gives the spec list (names, kinds, defaults, docs) and the typed struct.
    #[test]
    fn the_macro_generates_specs_and_a_typed_reader() {
        let specs = TestHp::HYPERS;
        let names: Vec<&str> = specs.iter().map(|h| h.name).collect();
        assert_eq!(names, ["lr", "n", "on", "mode"]);
        assert_eq!(specs[0].default, Value::F(0.5));
        assert!(matches!(specs[1].kind, Kind::Int { lo: 1, hi: 9 }) && specs[1].default == Value::I(3));
        assert_eq!(specs[3].default, Value::C(1));
        assert_eq!(specs[3].kind.range_text(), "one of: slow, fast");
        let spec: &'static Spec = Box::leak(Box::new(Spec {
            name: "t",
            summary: "",
            reference: "",
            hypers: specs,
            conventions: &[],
            needs_hessian: false,
            parity: Parity::Hand,
            variants: &[],
        }));
        let mut h = Hyper::defaults(spec);
        assert_eq!(TestHp::read(&h), TestHp::DEFAULT);
        h.set_str("mode", "slow").unwrap();
        h.set_str("n", "7").unwrap();
        h.set_str("lr", "0.25").unwrap();
        h.set_str("on", "false").unwrap();
        assert_eq!(TestHp::read(&h), TestHp { lr: 0.25, n: 7, on: false, mode: Mode::Slow });
        assert_eq!(Mode::Slow.name(), "slow");
        let other = with_doc(TestHp::specs(TestHp { n: 5, ..TestHp::DEFAULT }), "n", "other doc");
        assert_eq!((other[1].default, other[1].doc, other[0].doc), (Value::I(5), "other doc", "lr"));
    }
}
