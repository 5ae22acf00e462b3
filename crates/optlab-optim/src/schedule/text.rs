//! The text form of schedules: `name(key=value, ...)`, parser and printer.
//!
//! Grammar (whitespace allowed between tokens):
//!
//! ```text
//! schedule := name [ "(" [ arg { "," arg } [ "," ] ] ")" ]
//! arg      := key "=" value | schedule          (nested schedules only in chained/sequential)
//! value    := scalar | "[" [ scalar { "," scalar } [ "," ] ] "]"
//! scalar   := number | number "/" number | identifier      (e.g. 0.1, 1e-4, 1/3, cos, true)
//! ```
//!
//! Schedules nest at most [`MAX_DEPTH`] deep (`cosine(t_max=9)` has depth 1,
//! `chained(warmup(steps=5), cosine(t_max=9))` depth 2); deeper text is refused with an error
//! naming the depth and the column, before it can exhaust the stack of this recursive parser.

use super::{Anneal, CyclicMode, PlateauMode, Schedule, ThresholdMode, MAX_DEPTH, NAMES};

/// Numbers print with the crate's one formatter: the shortest text that parses back exactly.
pub(super) use crate::num::fmt_num;

/// `[a, b, c]`.
pub(super) fn fmt_list(v: &[u64]) -> String {
    let items: Vec<String> = v.iter().map(u64::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// Canonical text: every key explicit, in the order of the help line.
pub(super) fn to_text(s: &Schedule) -> String {
    let f = fmt_num;
    match s {
        Schedule::Constant { factor, total_iters } => {
            format!("constant(factor={}, total_iters={total_iters})", f(*factor))
        }
        Schedule::Step { step_size, gamma } => format!("step(step_size={step_size}, gamma={})", f(*gamma)),
        Schedule::Multistep { milestones, gamma } => {
            format!("multistep(milestones={}, gamma={})", fmt_list(milestones), f(*gamma))
        }
        Schedule::Exponential { gamma } => format!("exponential(gamma={})", f(*gamma)),
        Schedule::Polynomial { total_iters, power } => {
            format!("polynomial(total_iters={total_iters}, power={})", f(*power))
        }
        Schedule::Linear { start_factor, end_factor, total_iters } => format!(
            "linear(start_factor={}, end_factor={}, total_iters={total_iters})",
            f(*start_factor),
            f(*end_factor)
        ),
        Schedule::Cosine { t_max, eta_min } => format!("cosine(t_max={t_max}, eta_min={})", f(*eta_min)),
        Schedule::CosineRestarts { t_0, t_mult, eta_min } => {
            format!("cosine_restarts(t_0={t_0}, t_mult={t_mult}, eta_min={})", f(*eta_min))
        }
        Schedule::InverseSqrt { warmup } => format!("inverse_sqrt(warmup={warmup})"),
        Schedule::Cyclic { max, step_size_up, step_size_down, mode, gamma, base } => {
            let mut parts = vec![format!("max={}", f(*max)), format!("step_size_up={step_size_up}")];
            if let Some(d) = step_size_down {
                parts.push(format!("step_size_down={d}"));
            }
            parts.push(format!("mode={}", cyclic_mode_text(*mode)));
            parts.push(format!("gamma={}", f(*gamma)));
            if let Some(b) = base {
                parts.push(format!("base={}", f(*b)));
            }
            format!("cyclic({})", parts.join(", "))
        }
        Schedule::OneCycle { max, total_steps, pct_start, anneal, div_factor, final_div_factor, three_phase } => {
            let mut parts = Vec::new();
            if let Some(m) = max {
                parts.push(format!("max={}", f(*m)));
            }
            parts.push(format!("total_steps={total_steps}"));
            parts.push(format!("pct_start={}", f(*pct_start)));
            parts.push(format!("anneal={}", anneal_text(*anneal)));
            parts.push(format!("div_factor={}", f(*div_factor)));
            parts.push(format!("final_div_factor={}", f(*final_div_factor)));
            parts.push(format!("three_phase={three_phase}"));
            format!("one_cycle({})", parts.join(", "))
        }
        Schedule::Warmup { steps, start_factor } => format!("warmup(steps={steps}, start_factor={})", f(*start_factor)),
        Schedule::Plateau {
            mode,
            factor,
            patience,
            threshold,
            threshold_mode,
            cooldown,
            min,
            eps,
            best,
            num_bad_epochs,
            cooldown_counter,
            num_reductions,
        } => {
            let mut parts = vec![
                format!("mode={}", plateau_mode_text(*mode)),
                format!("factor={}", f(*factor)),
                format!("patience={patience}"),
                format!("threshold={}", f(*threshold)),
                format!("threshold_mode={}", threshold_mode_text(*threshold_mode)),
                format!("cooldown={cooldown}"),
                format!("min={}", f(*min)),
                format!("eps={}", f(*eps)),
            ];
            // State, only when not fresh.
            if let Some(b) = best {
                parts.push(format!("best={}", f(*b)));
            }
            if *num_bad_epochs != 0 {
                parts.push(format!("num_bad_epochs={num_bad_epochs}"));
            }
            if *cooldown_counter != 0 {
                parts.push(format!("cooldown_counter={cooldown_counter}"));
            }
            if *num_reductions != 0 {
                parts.push(format!("num_reductions={num_reductions}"));
            }
            format!("plateau({})", parts.join(", "))
        }
        Schedule::Chained { schedules } => {
            let parts: Vec<String> = schedules.iter().map(to_text).collect();
            format!("chained({})", parts.join(", "))
        }
        Schedule::Sequential { schedules, milestones } => {
            let mut parts: Vec<String> = schedules.iter().map(to_text).collect();
            parts.push(format!("milestones={}", fmt_list(milestones)));
            format!("sequential({})", parts.join(", "))
        }
    }
}

fn cyclic_mode_text(m: CyclicMode) -> &'static str {
    match m {
        CyclicMode::Triangular => "triangular",
        CyclicMode::Triangular2 => "triangular2",
        CyclicMode::ExpRange => "exp_range",
    }
}

fn anneal_text(a: Anneal) -> &'static str {
    match a {
        Anneal::Cos => "cos",
        Anneal::Linear => "linear",
    }
}

fn plateau_mode_text(m: PlateauMode) -> &'static str {
    match m {
        PlateauMode::Min => "min",
        PlateauMode::Max => "max",
    }
}

fn threshold_mode_text(m: ThresholdMode) -> &'static str {
    match m {
        ThresholdMode::Rel => "rel",
        ThresholdMode::Abs => "abs",
    }
}

/// Valid keys of each schedule (in help order).
fn valid_keys(name: &str) -> &'static [&'static str] {
    match name {
        "constant" => &["factor", "total_iters"],
        "step" => &["step_size", "gamma"],
        "multistep" => &["milestones", "gamma"],
        "exponential" => &["gamma"],
        "polynomial" => &["total_iters", "power"],
        "linear" => &["start_factor", "end_factor", "total_iters"],
        "cosine" => &["t_max", "eta_min"],
        "cosine_restarts" => &["t_0", "t_mult", "eta_min"],
        "inverse_sqrt" => &["warmup"],
        "cyclic" => &["max", "step_size_up", "step_size_down", "mode", "gamma", "base"],
        "one_cycle" => &["max", "total_steps", "pct_start", "anneal", "div_factor", "final_div_factor", "three_phase"],
        "warmup" => &["steps", "start_factor"],
        "plateau" => &[
            "mode",
            "factor",
            "patience",
            "threshold",
            "threshold_mode",
            "cooldown",
            "min",
            "eps",
            "best",
            "num_bad_epochs",
            "cooldown_counter",
            "num_reductions",
        ],
        "sequential" => &["milestones"],
        _ => &[],
    }
}

fn is_composite(name: &str) -> bool {
    name == "chained" || name == "sequential"
}

/// A key's value as written.
enum Value {
    Scalar(String),
    List(Vec<String>),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Scalar(s) => s.clone(),
            Value::List(v) => format!("[{}]", v.join(", ")),
        }
    }
}

/// Parses (without range validation) one schedule spanning the whole text.
pub(super) fn parse(text: &str) -> Result<Schedule, String> {
    let mut p = Parser { src: text, pos: 0, depth: 0 };
    p.ws();
    if p.eof() {
        return Err(format!(
            "empty schedule text; expected e.g. `cosine(t_max=100)`; known schedules: {}",
            NAMES.join(", ")
        ));
    }
    // Syntax first (so that malformed text is reported as such), then keys and values.
    let call = p.schedule()?;
    p.ws();
    if !p.eof() {
        return Err(p.err("unexpected text after the schedule"));
    }
    build(call)
}

/// One parsed `name(...)`, before its keys are interpreted.
struct Call {
    name: &'static str,
    keyed: Vec<(String, Value)>,
    nested: Vec<Call>,
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// Depth of the schedule being parsed (1 for the outermost).
    depth: usize,
}

impl<'a> Parser<'a> {
    fn eof(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn err(&self, msg: &str) -> String {
        let rest = &self.src[self.pos..];
        let found = match rest.chars().next() {
            None => "end of text".to_string(),
            Some(_) => format!("`{}`", rest.chars().take(12).collect::<String>()),
        };
        format!("malformed schedule `{}`: {msg} at column {} (found {found})", abbreviated(self.src), self.pos + 1)
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`
    fn ident(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') {
            return None;
        }
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
        Some(&self.src[start..self.pos])
    }

    fn scalar(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || b"._+-/".contains(&c)) {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.src[start..self.pos].to_string())
    }

    fn value(&mut self, name: &str, key: &str) -> Result<Value, String> {
        if self.eat(b'[') {
            let mut items = Vec::new();
            loop {
                self.ws();
                if self.eat(b']') {
                    break;
                }
                let Some(item) = self.scalar() else {
                    return Err(self.err(&format!("in `{name}`, key `{key}`: expected a list item or `]`")));
                };
                items.push(item);
                self.ws();
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b']') {
                    break;
                }
                return Err(self.err(&format!("in `{name}`, key `{key}`: expected `,` or `]` in the list")));
            }
            Ok(Value::List(items))
        } else {
            match self.scalar() {
                Some(s) => Ok(Value::Scalar(s)),
                None => Err(self.err(&format!("in `{name}`: expected a value for key `{key}`"))),
            }
        }
    }

    fn schedule(&mut self) -> Result<Call, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(&format!(
                "schedules nested {} deep (at most {MAX_DEPTH} levels of chained/sequential are allowed)",
                self.depth
            )));
        }
        let call = self.schedule_here()?;
        self.depth -= 1;
        Ok(call)
    }

    /// One schedule at the current depth (see [`Parser::schedule`]).
    fn schedule_here(&mut self) -> Result<Call, String> {
        let Some(word) = self.ident() else {
            return Err(self.err("expected a schedule name"));
        };
        let Some(name) = NAMES.iter().copied().find(|n| *n == word) else {
            return Err(format!("unknown schedule `{word}`; known schedules: {}", NAMES.join(", ")));
        };
        let mut keyed: Vec<(String, Value)> = Vec::new();
        let mut nested: Vec<Call> = Vec::new();
        self.ws();
        if self.eat(b'(') {
            loop {
                self.ws();
                if self.eat(b')') {
                    break;
                }
                let save = self.pos;
                let Some(word) = self.ident() else {
                    let what =
                        if is_composite(name) { "`key=value`, a nested schedule or `)`" } else { "`key=value` or `)`" };
                    return Err(self.err(&format!("in `{name}(...)`: expected {what}")));
                };
                self.ws();
                if self.eat(b'=') {
                    self.ws();
                    let v = self.value(name, word)?;
                    keyed.push((word.to_string(), v));
                } else if is_composite(name) {
                    self.pos = save;
                    nested.push(self.schedule()?);
                } else {
                    return Err(format!(
                        "{name}: expected `key=value`, got `{word}` without a value; valid keys: {}",
                        valid_keys(name).join(", ")
                    ));
                }
                self.ws();
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b')') {
                    break;
                }
                return Err(self.err(&format!("in `{name}(...)`: expected `,` or `)`")));
            }
        }
        Ok(Call { name, keyed, nested })
    }
}

/// `text` itself when short, else its start and its length (errors quote the text they are about;
/// a text of many kilobytes would drown the message).
fn abbreviated(text: &str) -> std::borrow::Cow<'_, str> {
    const KEEP: usize = 60;
    match text.char_indices().nth(KEEP) {
        Some((at, _)) if text.len() > 2 * KEEP => format!("{}... ({} characters)", &text[..at], text.len()).into(),
        _ => text.into(),
    }
}

/// The keyed arguments of one schedule, checked against its valid keys.
struct Args {
    name: &'static str,
    keyed: Vec<(String, Value)>,
}

fn parse_number(s: &str) -> Option<f64> {
    match s.split_once('/') {
        Some((a, b)) => Some(a.parse::<f64>().ok()? / b.parse::<f64>().ok()?),
        None => s.parse::<f64>().ok(),
    }
}

impl Args {
    fn new(name: &'static str, keyed: Vec<(String, Value)>) -> Result<Args, String> {
        let valid = valid_keys(name);
        for (i, (k, _)) in keyed.iter().enumerate() {
            if !valid.contains(&k.as_str()) {
                let list = if valid.is_empty() { "none (only nested schedules)".to_string() } else { valid.join(", ") };
                return Err(format!("{name}: unknown key `{k}`; valid keys: {list}"));
            }
            if keyed[..i].iter().any(|(k2, _)| k2 == k) {
                return Err(format!("{name}: key `{k}` given more than once"));
            }
        }
        Ok(Args { name, keyed })
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.keyed.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn bad(&self, key: &str, v: &Value, expected: &str) -> String {
        format!("{}: bad value {key}={}: expected {expected}", self.name, v.text())
    }

    fn missing(&self, key: &str) -> String {
        format!("{}: missing required key `{key}`; valid keys: {}", self.name, valid_keys(self.name).join(", "))
    }

    fn f64_opt(&self, key: &str) -> Result<Option<f64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Scalar(s)) => {
                parse_number(s).map(Some).ok_or_else(|| self.bad(key, v, "a number (e.g. 0.1, 1e-4, 1/3)"))
            }
            Some(v) => Err(self.bad(key, v, "a number, not a list")),
        }
    }

    fn f64_or(&self, key: &str, default: f64) -> Result<f64, String> {
        Ok(self.f64_opt(key)?.unwrap_or(default))
    }

    fn f64_req(&self, key: &str) -> Result<f64, String> {
        self.f64_opt(key)?.ok_or_else(|| self.missing(key))
    }

    fn parse_u64(&self, key: &str, v: &Value, s: &str) -> Result<u64, String> {
        if let Ok(n) = s.parse::<u64>() {
            return Ok(n);
        }
        match parse_number(s) {
            Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_992.0 => Ok(x as u64),
            _ => Err(self.bad(key, v, "a non-negative integer")),
        }
    }

    fn u64_opt(&self, key: &str) -> Result<Option<u64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Scalar(s)) => self.parse_u64(key, v, s).map(Some),
            Some(v) => Err(self.bad(key, v, "a non-negative integer, not a list")),
        }
    }

    fn u64_or(&self, key: &str, default: u64) -> Result<u64, String> {
        Ok(self.u64_opt(key)?.unwrap_or(default))
    }

    fn u64_req(&self, key: &str) -> Result<u64, String> {
        self.u64_opt(key)?.ok_or_else(|| self.missing(key))
    }

    fn list_opt(&self, key: &str) -> Result<Option<Vec<u64>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::List(items)) => {
                items.iter().map(|s| self.parse_u64(key, v, s)).collect::<Result<_, _>>().map(Some)
            }
            Some(v) => Err(self.bad(key, v, "a list of non-negative integers such as [30, 60, 90]")),
        }
    }

    fn list_req(&self, key: &str) -> Result<Vec<u64>, String> {
        self.list_opt(key)?.ok_or_else(|| self.missing(key))
    }

    fn bool_or(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Scalar(s)) if s == "true" => Ok(true),
            Some(Value::Scalar(s)) if s == "false" => Ok(false),
            Some(v) => Err(self.bad(key, v, "true or false")),
        }
    }

    fn choice_or<T: Copy>(&self, key: &str, choices: &[(&str, T)], default: T) -> Result<T, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => {
                if let Value::Scalar(s) = v {
                    if let Some((_, c)) = choices.iter().find(|(n, _)| n == s) {
                        return Ok(*c);
                    }
                }
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                Err(self.bad(key, v, &format!("one of {}", names.join(", "))))
            }
        }
    }
}

fn build(call: Call) -> Result<Schedule, String> {
    let Call { name, keyed, nested } = call;
    let nested = nested.into_iter().map(build).collect::<Result<Vec<_>, _>>()?;
    let a = Args::new(name, keyed)?;
    Ok(match name {
        "constant" => Schedule::Constant { factor: a.f64_or("factor", 1.0)?, total_iters: a.u64_or("total_iters", 0)? },
        "step" => Schedule::Step { step_size: a.u64_req("step_size")?, gamma: a.f64_or("gamma", 0.1)? },
        "multistep" => Schedule::Multistep { milestones: a.list_req("milestones")?, gamma: a.f64_or("gamma", 0.1)? },
        "exponential" => Schedule::Exponential { gamma: a.f64_req("gamma")? },
        "polynomial" => {
            Schedule::Polynomial { total_iters: a.u64_or("total_iters", 5)?, power: a.f64_or("power", 1.0)? }
        }
        "linear" => Schedule::Linear {
            start_factor: a.f64_or("start_factor", 1.0 / 3.0)?,
            end_factor: a.f64_or("end_factor", 1.0)?,
            total_iters: a.u64_or("total_iters", 5)?,
        },
        "cosine" => Schedule::Cosine { t_max: a.u64_req("t_max")?, eta_min: a.f64_or("eta_min", 0.0)? },
        "cosine_restarts" => Schedule::CosineRestarts {
            t_0: a.u64_req("t_0")?,
            t_mult: a.u64_or("t_mult", 1)?,
            eta_min: a.f64_or("eta_min", 0.0)?,
        },
        "inverse_sqrt" => Schedule::InverseSqrt { warmup: a.u64_req("warmup")? },
        "cyclic" => Schedule::Cyclic {
            max: a.f64_req("max")?,
            step_size_up: a.u64_or("step_size_up", 2000)?,
            step_size_down: a.u64_opt("step_size_down")?,
            mode: a.choice_or(
                "mode",
                &[
                    ("triangular", CyclicMode::Triangular),
                    ("triangular2", CyclicMode::Triangular2),
                    ("exp_range", CyclicMode::ExpRange),
                ],
                CyclicMode::Triangular,
            )?,
            gamma: a.f64_or("gamma", 1.0)?,
            base: a.f64_opt("base")?,
        },
        "one_cycle" => Schedule::OneCycle {
            max: a.f64_opt("max")?,
            total_steps: a.u64_req("total_steps")?,
            pct_start: a.f64_or("pct_start", 0.3)?,
            anneal: a.choice_or("anneal", &[("cos", Anneal::Cos), ("linear", Anneal::Linear)], Anneal::Cos)?,
            div_factor: a.f64_or("div_factor", 25.0)?,
            final_div_factor: a.f64_or("final_div_factor", 1e4)?,
            three_phase: a.bool_or("three_phase", false)?,
        },
        "warmup" => Schedule::Warmup { steps: a.u64_req("steps")?, start_factor: a.f64_or("start_factor", 0.0)? },
        "plateau" => Schedule::Plateau {
            mode: a.choice_or("mode", &[("min", PlateauMode::Min), ("max", PlateauMode::Max)], PlateauMode::Min)?,
            factor: a.f64_or("factor", 0.1)?,
            patience: a.u64_or("patience", 10)?,
            threshold: a.f64_or("threshold", 1e-4)?,
            threshold_mode: a.choice_or(
                "threshold_mode",
                &[("rel", ThresholdMode::Rel), ("abs", ThresholdMode::Abs)],
                ThresholdMode::Rel,
            )?,
            cooldown: a.u64_or("cooldown", 0)?,
            min: a.f64_or("min", 0.0)?,
            eps: a.f64_or("eps", 1e-8)?,
            best: a.f64_opt("best")?,
            num_bad_epochs: a.u64_or("num_bad_epochs", 0)?,
            cooldown_counter: a.u64_or("cooldown_counter", 0)?,
            num_reductions: a.u64_or("num_reductions", 0)?,
        },
        "chained" => Schedule::Chained { schedules: nested },
        "sequential" => {
            let milestones = match a.list_opt("milestones")? {
                Some(m) => m,
                None if nested.len() <= 1 => Vec::new(),
                None => return Err(a.missing("milestones")),
            };
            Schedule::Sequential { schedules: nested, milestones }
        }
        _ => unreachable!("name checked against NAMES"),
    })
}
