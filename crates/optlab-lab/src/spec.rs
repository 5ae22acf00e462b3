//! Experiment files: TOML read with serde, then checked against the optimizer registry, the
//! schedule parser and the test-function list before anything runs.
//!
//! The format is documented with a full example in `docs/experiments.md`. Every error names the
//! file, the line and the key, e.g.
//! `experiments/foo.toml:12: key `beta1` in comparison `grid`: value 1.5 out of range [0, 1)`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::path::Path;

use optlab_optim::{fmt_num, registry, Hyper, Kind, OptimConfig, OptimError, Schedule, Spec};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{LabError, Result};
use crate::record::{ComparisonInfo, ExperimentInfo, PlotSettings, PlotX, TuneInfo};
use crate::search::Search;

/// Network tasks (run by the `optlab` binary through optlab-nn).
pub const NETWORK_TASKS: &[&str] = optlab_nn::TASKS;

/// Sweep key that makes every optimizer's `lr` follow a schedule (same as `schedule.lr`).
pub const LR_SCHEDULE_KEY: &str = "lr_schedule";
/// Prefix of sweep keys that schedule a hyperparameter: `"schedule.beta1"`.
pub const SCHEDULE_PREFIX: &str = "schedule.";
/// Sweep value meaning "no schedule" for a schedule key.
pub const NO_SCHEDULE: &str = "none";

/// What kind of task a name denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Function,
    Network,
}

/// The kind of a task name, or None for an unknown name.
pub fn task_kind(name: &str) -> Option<TaskKind> {
    if optlab_functions::NAMES.contains(&name) {
        Some(TaskKind::Function)
    } else if optlab_functions::is_formula(name) {
        optlab_functions::by_name(name, None).ok().map(|_| TaskKind::Function)
    } else if NETWORK_TASKS.contains(&name) {
        Some(TaskKind::Network)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Raw TOML

/// A TOML table read as (key, value) pairs in file order, keeping each key's position.
#[derive(Debug)]
struct Ordered<V>(Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V2<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<Spanned<String>>()? {
                    out.push((k, m.next_value::<V>()?));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V2(PhantomData))
    }
}

/// A number written as an integer or a float.
#[derive(Clone, Copy, Debug)]
struct Num(f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct NV;
        impl Visitor<'_> for NV {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Num, E> {
                Ok(Num(v))
            }
        }
        d.deserialize_any(NV)
    }
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum SeedsToml {
    Count(i64),
    List(Vec<i64>),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FileToml {
    experiment: Spanned<ExperimentToml>,
    #[serde(default)]
    comparison: Vec<ComparisonToml>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ExperimentToml {
    name: Option<Spanned<String>>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    /// The seed of the search samplers (`[comparison.search]`); 0 when absent.
    seed: Option<Spanned<i64>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct OptimizerToml {
    name: Spanned<String>,
    set: Option<Ordered<Spanned<toml::Value>>>,
    schedules: Option<Ordered<Spanned<String>>>,
    label: Option<Spanned<String>>,
    /// Gradient clipping by global norm (torch's `clip_grad_norm_`), in the optimizer engine.
    clip_norm: Option<Spanned<f64>>,
    /// Gradient clipping by value (torch's `clip_grad_value_`).
    clip_value: Option<Spanned<f64>>,
    /// Weight averaging (SWA/EMA of the weights): `average = { method = "swa", swa_start = 10 }`.
    average: Option<Spanned<optlab_optim::AverageConfig>>,
}

type SweepToml = Ordered<Spanned<Vec<Spanned<toml::Value>>>>;

/// `[comparison.tune]`: a tuning protocol (see [`crate::tune`]).
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct TuneToml {
    protocol: Option<Spanned<String>>,
    /// The AlgoPerf protocol's target on the validation accuracy of network runs.
    target_accuracy: Option<Spanned<Num>>,
    /// The AlgoPerf protocol's target on the validation loss of network runs.
    target_val_loss: Option<Spanned<Num>>,
    key: Option<Spanned<String>>,
    values: Option<Spanned<Vec<Spanned<Num>>>>,
    log_grid: Option<Spanned<LogGridToml>>,
    starts: Option<Spanned<i64>>,
    seeds: Option<Spanned<SeedsToml>>,
    rule: Option<Spanned<String>>,
}

/// `log_grid = { from = 1e-4, to = 1, points = 13 }`: points equally spaced in log10, both
/// ends included.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct LogGridToml {
    from: Num,
    to: Num,
    points: i64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ComparisonToml {
    name: Spanned<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    tasks: Spanned<Vec<Spanned<String>>>,
    seeds: Option<Spanned<SeedsToml>>,
    optimizers: Spanned<Vec<OptimizerToml>>,
    grid: Option<SweepToml>,
    list: Option<SweepToml>,
    tune: Option<Spanned<TuneToml>>,
    /// `[comparison.search]`: searched keys and their distributions ([`crate::search`]).
    search: Option<Ordered<Spanned<DistToml>>>,
    /// Trials of the search per optimizer.
    trials: Option<Spanned<i64>>,
    /// The search's sampler: `halton` (default), `sobol` or `random`.
    sampler: Option<Spanned<String>>,
    /// The tuning protocol (same as `[comparison.tune] protocol`).
    protocol: Option<Spanned<String>>,
    targets: Option<Ordered<Spanned<Num>>>,
    // test functions
    dim: Option<Spanned<i64>>,
    start: Option<Spanned<toml::Value>>,
    starts: Option<Spanned<i64>>,
    steps: Option<Spanned<i64>>,
    ftol: Option<Spanned<Num>>,
    xtol: Option<Spanned<Num>>,
    time_limit: Option<Spanned<Num>>,
    points: Option<Spanned<i64>>,
    /// Most points kept of a run from a random start (default: `points`).
    random_points: Option<Spanned<i64>>,
    // both
    patience: Option<Spanned<i64>>,
    // networks
    epochs: Option<Spanned<i64>>,
    batch_size: Option<Spanned<i64>>,
    max_steps: Option<Spanned<i64>>,
    val_fraction: Option<Spanned<Num>>,
    data: Option<Spanned<String>>,
    widths: Option<Spanned<Vec<i64>>>,
    hidden: Option<Spanned<i64>>,
    time_budget: Option<Spanned<Num>>,
    hutchinson_samples: Option<Spanned<i64>>,
    hutchinson_h: Option<Spanned<Num>>,
    shuffle: Option<Spanned<bool>>,
    dropout: Option<Spanned<Num>>,
    augment: Option<Spanned<bool>>,
    init: Option<Spanned<String>>,
    mse: Option<Spanned<bool>>,
    train_limit: Option<Spanned<i64>>,
    early_stop_on: Option<Spanned<String>>,
    log_every: Option<Spanned<i64>>,
    divergence_factor: Option<Spanned<Num>>,
    label: Option<Spanned<String>>,
    blobs_samples: Option<Spanned<i64>>,
    blobs_dim: Option<Spanned<i64>>,
    blobs_separation: Option<Spanned<Num>>,
    grad_histograms: Option<Spanned<bool>>,
    landscape: Option<Spanned<bool>>,
    // the report
    plot: Option<PlotToml>,
    baseline: Option<Spanned<String>>,
    // pruning of tuning trials (`crate::prune`)
    pruner: Option<Spanned<String>>,
    prune_warmup_epochs: Option<Spanned<i64>>,
    prune_startup_trials: Option<Spanned<i64>>,
    asha_min_epochs: Option<Spanned<i64>>,
    asha_reduction: Option<Spanned<i64>>,
}

/// One distribution of `[comparison.search]`: exactly one of the keys.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct DistToml {
    log_uniform: Option<Vec<Num>>,
    uniform: Option<Vec<Num>>,
    int: Option<Vec<i64>>,
    choice: Option<Vec<toml::Value>>,
}

/// `[comparison.plot]`: how the report draws the comparison's curves.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PlotToml {
    x: Option<Spanned<String>>,
    smooth: Option<Spanned<Num>>,
}

// ---------------------------------------------------------------------------------------------
// Checked experiment

/// A checked experiment file.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// The file name used in messages.
    pub file: String,
    pub info: ExperimentInfo,
    pub comparisons: Vec<Comparison>,
}

/// Where a random or fixed start of a test-function run comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartRule {
    /// `starts` points drawn uniformly in the function's start box from the run's seed.
    Random { count: u32 },
    /// The function's first default start.
    Default,
    /// Every default start of the function, then `random` random starts (`start = "defaults"`).
    Defaults { random: u32 },
    /// A fixed point.
    Point(Vec<f64>),
}

/// Settings of the test-function runs of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionSettings {
    pub dim: Option<usize>,
    pub start: StartRule,
    pub steps: u64,
    pub ftol: f64,
    pub xtol: f64,
    pub patience: u32,
    pub time_limit_s: Option<f64>,
    /// Most points kept of a run's series (thinned evenly, first and last kept).
    pub points: u32,
    /// Most points kept of a run from a random start (`random_points`; None: `points`).
    pub random_points: Option<u32>,
}

impl Default for FunctionSettings {
    fn default() -> Self {
        FunctionSettings {
            dim: None,
            start: StartRule::Random { count: 1 },
            steps: 2000,
            ftol: 1e-6,
            xtol: 1e-8,
            patience: 10,
            time_limit_s: None,
            points: 2000,
            random_points: None,
        }
    }
}

/// Settings of the network runs of a comparison (the batch size may be swept): optlab-nn's
/// [`NetworkSettings`], the struct the trainer reads.
pub use optlab_nn::NetworkSettings;

/// The defaults of a comparison's network runs: 10 epochs of batch 32, otherwise the trainer's.
pub fn network_defaults() -> NetworkSettings {
    NetworkSettings { epochs: 10, batch_size: 32, ..NetworkSettings::default() }
}

/// One optimizer of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerEntry {
    /// Legend label before swept values are appended.
    pub label: String,
    pub config: OptimConfig,
    /// Line of the entry in the file.
    pub line: usize,
}

/// What a sweep key changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SweepTarget {
    /// An optimizer hyperparameter (applied to the optimizers that have it).
    Hyper(String),
    /// The batch size of network tasks.
    BatchSize,
    /// A schedule of a hyperparameter (applied to the optimizers that have it); `none` = no schedule.
    Schedule(String),
}

/// The swept keys of a comparison and their values (as text, aligned with keys). The points are
/// not materialised: a grid of a few keys can have millions of them; [`Sweep::len`] counts them
/// and [`Sweep::point`] builds one.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Sweep {
    pub keys: Vec<(String, SweepTarget)>,
    /// The values of each key, in file order (distinct within a key).
    pub values: Vec<Vec<String>>,
    /// A list (`[comparison.list]`: values zipped by position) rather than a grid (cartesian
    /// product, the last key varying fastest).
    pub zipped: bool,
}

impl Sweep {
    /// Number of points (1 without swept keys: the one point with nothing swept), saturating at
    /// `u128::MAX`.
    pub fn len(&self) -> u128 {
        if self.zipped {
            self.values.first().map_or(1, |v| v.len() as u128)
        } else {
            self.values.iter().fold(1u128, |n, v| n.saturating_mul(v.len() as u128))
        }
    }

    /// Whether the sweep has no points (never: without keys it has the empty point).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index into `values[k]` of key `k` at point `j` (`j < len()`).
    pub fn value_index(&self, j: u128, k: usize) -> usize {
        if self.zipped {
            return j as usize;
        }
        let stride = self.values[k + 1..].iter().fold(1u128, |n, v| n.saturating_mul(v.len() as u128));
        ((j / stride) % self.values[k].len() as u128) as usize
    }

    /// The values of point `j` (`j < len()`), aligned with `keys`.
    pub fn point(&self, j: u128) -> Vec<&str> {
        (0..self.keys.len()).map(|k| self.values[k][self.value_index(j, k)].as_str()).collect()
    }

    /// Every point, in plan order.
    pub fn points(&self) -> impl Iterator<Item = Vec<&str>> + '_ {
        (0..self.len()).map(|j| self.point(j))
    }
}

/// One checked comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub info: ComparisonInfo,
    pub seeds: Vec<u64>,
    pub optimizers: Vec<OptimizerEntry>,
    pub sweep: Sweep,
    pub function: FunctionSettings,
    pub network: NetworkSettings,
    /// Line of the comparison's `name`.
    pub line: usize,
    /// Line of the comparison's `data` (when it has one).
    pub data_line: Option<usize>,
    /// The tuning protocol (`[comparison.tune]`): the plan runs its tuning runs first.
    pub tune: Option<Tune>,
    /// The search space (`[comparison.search]`): the trials of a protocol, or, without one, the
    /// comparison's sweep (a list of `trials` points).
    pub search: Option<crate::search::Search>,
}

/// A checked `[comparison.tune]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tune {
    pub info: TuneInfo,
    /// Line of the `[comparison.tune]` table.
    pub line: usize,
}

/// Protocols of `[comparison.tune]`.
/// `equal_budget` and `deepobs` are one protocol (the best value by the rule, rerun with the
/// comparison's seeds); `algoperf` runs studies and chooses by steps to a target.
pub const TUNE_PROTOCOLS: &[&str] = &["equal_budget", "deepobs", "algoperf"];
/// Rules of `[comparison.tune]`.
pub const TUNE_RULES: &[&str] = &["median_score"];
/// Default number of random tuning starts (test functions).
pub const TUNE_STARTS: u32 = 8;

/// `n` points from `lo` to `hi`, equally spaced in log10 (both ends included exactly).
pub fn log_grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => vec![],
        1 => vec![lo],
        _ => {
            let (a, b) = (lo.log10(), hi.log10());
            (0..n)
                .map(|k| match k {
                    0 => lo,
                    k if k == n - 1 => hi,
                    k => 10f64.powf(a + (b - a) * k as f64 / (n - 1) as f64),
                })
                .collect()
        }
    }
}

impl Comparison {
    pub fn tasks(&self) -> &[String] {
        &self.info.tasks
    }
}

struct Ctx<'a> {
    file: &'a str,
    src: &'a str,
    /// The experiment's seed (`[experiment] seed`).
    seed: u64,
}

impl Ctx<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.src.len());
        self.src.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    fn err(&self, span: &Range<usize>, key: &str, cmp: Option<&str>, msg: impl fmt::Display) -> LabError {
        let within = cmp.map(|c| format!(" in comparison `{c}`")).unwrap_or_default();
        LabError::Spec(format!("{}:{}: key `{key}`{within}: {msg}", self.file, self.line(span)))
    }
}

/// Reads and checks an experiment file.
pub fn load(path: &Path) -> Result<Experiment> {
    let src =
        std::fs::read_to_string(path).map_err(|e| LabError::Io { path: path.display().to_string(), source: e })?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("experiment");
    parse(&src, &path.display().to_string(), stem)
}

/// Parses and checks experiment text; `file` names it in messages and `default_name` is the
/// experiment's name when `[experiment] name` is absent.
pub fn parse(src: &str, file: &str, default_name: &str) -> Result<Experiment> {
    let mut ctx = Ctx { file, src, seed: 0 };
    let raw: FileToml = toml::from_str(src).map_err(|e| toml_error(&ctx, &e))?;
    let exp_span = raw.experiment.span();
    let exp = raw.experiment.into_inner();
    if let Some(s) = &exp.seed {
        if *s.get_ref() < 0 {
            return Err(ctx.err(&s.span(), "seed", None, format!("value {} out of range (integer >= 0)", s.get_ref())));
        }
        ctx.seed = *s.get_ref() as u64;
    }
    let name = match &exp.name {
        Some(n) => {
            check_ident(&ctx, n, "name", None)?;
            n.get_ref().clone()
        }
        None => default_name.to_string(),
    };
    if raw.comparison.is_empty() {
        return Err(ctx.err(&exp_span, "comparison", None, "the file has no [[comparison]]"));
    }
    let mut comparisons: Vec<Comparison> = Vec::new();
    for c in raw.comparison {
        let cmp = comparison(&ctx, c)?;
        if comparisons.iter().any(|o| o.info.name == cmp.info.name) {
            return Err(LabError::Spec(format!(
                "{file}:{}: key `name`: comparison name `{}` is used twice",
                cmp.line, cmp.info.name
            )));
        }
        comparisons.push(cmp);
    }
    let info = ExperimentInfo {
        name,
        title: exp.title,
        description: exp.description,
        source: src.to_string(),
        comparisons: comparisons.iter().map(|c| c.info.clone()).collect(),
    };
    Ok(Experiment { file: file.to_string(), info, comparisons })
}

/// Nesting limit of the toml crate's parser (its `LIMIT`, unless its `unbounded` feature is on).
const TOML_DEPTH: usize = 80;

/// A TOML or serde error as `FILE:LINE: key `K`: message`.
fn toml_error(ctx: &Ctx, e: &toml::de::Error) -> LabError {
    let mut msg = e.message().trim().to_string();
    if msg.contains("invalid type: map, expected a sequence") {
        msg.push_str(" (a sweep key with a dot must be quoted: \"schedule.lr\" = [...], or use lr_schedule)");
    }
    // The toml crate's nesting limit (its parser would otherwise recurse without bound).
    if msg == "recursion limit" || msg.contains("max recursion depth") {
        msg =
            format!("values nested too deeply: arrays, inline tables and dotted keys nest at most {TOML_DEPTH} levels");
        if e.span().is_none() {
            // A dotted key of too many parts comes without a position: find its line.
            let line =
                ctx.src.lines().position(|l| l.split('=').next().unwrap_or("").matches('.').count() >= TOML_DEPTH - 1);
            if let Some(i) = line {
                return LabError::Spec(format!("{}:{}: {msg}", ctx.file, i + 1));
            }
        }
    }
    match e.span() {
        Some(span) => match key_at(ctx.src, &span) {
            Some(k) => LabError::Spec(format!("{}:{}: key `{k}`: {msg}", ctx.file, ctx.line(&span))),
            None => LabError::Spec(format!("{}:{}: {msg}", ctx.file, ctx.line(&span))),
        },
        None => LabError::Spec(format!("{}: {msg}", ctx.file)),
    }
}

/// The key an error span is about: the span itself when it is a key, else the nearest `KEY =`
/// before it on its line (or the table header it is in).
fn key_at(src: &str, span: &Range<usize>) -> Option<String> {
    let start = span.start.min(src.len());
    let end = span.end.min(src.len()).max(start);
    let text = src[start..end].trim();
    let after = src[end..].trim_start_matches([' ', '\t']);
    let clean = |s: &str| s.trim().trim_matches('"').trim_matches('\'').to_string();
    if !text.is_empty() && !text.contains(['\n', '=', '[', '{']) && after.starts_with('=') {
        return Some(clean(text));
    }
    let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
    let before = &src[line_start..start];
    if let Some(eq) = before.rfind('=') {
        let k = before[..eq].rsplit([',', '{']).next().unwrap_or("");
        let k = clean(k);
        if !k.is_empty() {
            return Some(k);
        }
    }
    let line = src[line_start..].lines().next().unwrap_or("").trim();
    if let Some(h) = line.strip_prefix('[') {
        return Some(clean(h.trim_start_matches('[').trim_end_matches(']')));
    }
    None
}

fn check_ident(ctx: &Ctx, s: &Spanned<String>, key: &str, cmp: Option<&str>) -> Result<()> {
    let v = s.get_ref();
    if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(ctx.err(
            &s.span(),
            key,
            cmp,
            format!("`{v}` is not a valid name (letters, digits, `-`, `_`, `.`; not empty)"),
        ));
    }
    Ok(())
}

/// Canonical text of a TOML scalar used as a hyperparameter or sweep value.
pub fn value_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(fmt_num(*f)),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn int_in(ctx: &Ctx, v: &Spanned<i64>, key: &str, cmp: &str, lo: i64, hi: i64) -> Result<i64> {
    let x = *v.get_ref();
    if x < lo || x > hi {
        let range = if hi == i64::MAX { format!("integer >= {lo}") } else { format!("integer in [{lo}, {hi}]") };
        return Err(ctx.err(&v.span(), key, Some(cmp), format!("value {x} out of range ({range})")));
    }
    Ok(x)
}

/// A float in `(lo, hi)` / `[lo, hi]` as `lo_open`/`hi_open` say.
fn float_in(ctx: &Ctx, v: &Spanned<Num>, key: &str, cmp: &str, kind: Kind) -> Result<f64> {
    let x = v.get_ref().0;
    let Kind::Float { lo, hi, lo_open, hi_open } = kind else { unreachable!("float_in takes a float kind") };
    let ok = x.is_finite() && (if lo_open { x > lo } else { x >= lo }) && (if hi_open { x < hi } else { x <= hi });
    if !ok {
        return Err(ctx.err(
            &v.span(),
            key,
            Some(cmp),
            format!("value {} out of range {}", fmt_num(x), kind.range_text()),
        ));
    }
    Ok(x)
}

/// The error for a hyperparameter value the registry refuses.
fn hyper_error(ctx: &Ctx, span: &Range<usize>, key: &str, cmp: &str, e: OptimError) -> LabError {
    match e {
        OptimError::InvalidValue { value, range, optimizer, .. } => {
            let numeric = value.parse::<f64>().is_ok();
            if numeric && (range.starts_with(['[', '(']) || range.starts_with("integer")) {
                ctx.err(span, key, Some(cmp), format!("value {value} out of range {range} (optimizer `{optimizer}`)"))
            } else {
                ctx.err(
                    span,
                    key,
                    Some(cmp),
                    format!("invalid value `{value}` (optimizer `{optimizer}` expects {range})"),
                )
            }
        }
        OptimError::UnknownKey { optimizer, valid, .. } => ctx.err(
            span,
            key,
            Some(cmp),
            format!("unknown hyperparameter of optimizer `{optimizer}`; valid keys: {valid}"),
        ),
        other => ctx.err(span, key, Some(cmp), other),
    }
}

/// Checks one `[[comparison]]`: its tasks, seeds, settings, optimizers, sweep and targets, in
/// that order (the first mistake found is the one reported).
fn comparison(ctx: &Ctx, c: ComparisonToml) -> Result<Comparison> {
    check_ident(ctx, &c.name, "name", None)?;
    let cname = c.name.get_ref().clone();
    let cn = cname.as_str();
    let line = ctx.line(&c.name.span());
    let tasks = tasks(ctx, &c, cn)?;
    let has_fn = tasks.iter().any(|t| task_kind(t) == Some(TaskKind::Function));
    let has_net = tasks.iter().any(|t| task_kind(t) == Some(TaskKind::Network));
    let seeds = seeds(ctx, &c, cn)?;
    let (function, network) = settings(ctx, &c, cn, &tasks, has_fn, has_net)?;
    let optimizers = optimizers(ctx, &c, cn)?;
    let mut sweep = sweep(ctx, &c, cn, &optimizers, has_net)?;
    check_validation_set(ctx, &c, cn, has_net, &network, &optimizers, &sweep)?;
    let search = search(ctx, &c, cn, &optimizers)?;
    let mut tune = tune(ctx, &c, cn, &seeds, &optimizers, &sweep, has_fn, has_net, search.as_ref(), &network)?;
    let prune = pruner(ctx, &c, cn, tune.as_ref(), has_net, &network)?;
    if let Some(t) = tune.as_mut() {
        t.info.prune = prune;
    }
    if let (Some(s), None) = (&search, &tune) {
        // Without a protocol the search is the comparison's sweep: a list of its trials.
        sweep = search_sweep(ctx, &c, cn, s)?;
    }
    let targets = targets(ctx, &c, cn, &tasks)?;
    let plot = plot_settings(ctx, &c, cn, has_net)?;
    let baseline = baseline(ctx, &c, cn, &optimizers)?;
    let info = ComparisonInfo {
        name: cname.clone(),
        title: c.title,
        description: c.description,
        tasks,
        swept: sweep.keys.iter().map(|(k, _)| k.clone()).collect(),
        targets,
        plot,
        tune: tune.as_ref().map(|t| t.info.clone()),
        baseline,
    };
    let data_line = c.data.as_ref().map(|v| ctx.line(&v.span()));
    Ok(Comparison { info, seeds, optimizers, sweep, function, network, line, data_line, tune, search })
}

/// Pruners of `pruner = "..."`.
pub const PRUNERS: &[&str] = &["median", "asha"];
/// Defaults of the pruners' settings.
pub const PRUNE_WARMUP_EPOCHS: u32 = 1;
pub const PRUNE_STARTUP_TRIALS: u32 = 2;
pub const ASHA_MIN_EPOCHS: u32 = 1;
pub const ASHA_REDUCTION: u32 = 3;

/// `pruner` with its settings (`prune_warmup_epochs`, `prune_startup_trials` for the median
/// rule, `asha_min_epochs`, `asha_reduction` for ASHA): only with a tuning protocol and network
/// tasks, each setting only with its pruner, and never so that no epoch is left to prune at.
fn pruner(
    ctx: &Ctx,
    c: &ComparisonToml,
    cn: &str,
    tune: Option<&Tune>,
    has_net: bool,
    network: &NetworkSettings,
) -> Result<Option<crate::record::PruneRule>> {
    use crate::record::PruneRule;
    let median_keys =
        [("prune_warmup_epochs", &c.prune_warmup_epochs), ("prune_startup_trials", &c.prune_startup_trials)];
    let asha_keys = [("asha_min_epochs", &c.asha_min_epochs), ("asha_reduction", &c.asha_reduction)];
    let Some(p) = &c.pruner else {
        if let Some((k, Some(v))) = median_keys.iter().chain(&asha_keys).find(|(_, v)| v.is_some()) {
            return Err(ctx.err(
                &v.span(),
                k,
                Some(cn),
                "a setting of a pruner, and the comparison has none: add `pruner = \"median\"` or `pruner = \"asha\"`",
            ));
        }
        return Ok(None);
    };
    let name = p.get_ref().as_str();
    if !PRUNERS.contains(&name) {
        return Err(ctx.err(
            &p.span(),
            "pruner",
            Some(cn),
            format!("unknown pruner `{name}`; known: {}", PRUNERS.join(", ")),
        ));
    }
    if tune.is_none() {
        return Err(ctx.err(
            &p.span(),
            "pruner",
            Some(cn),
            "a pruner stops tuning trials, and the comparison has no tuning protocol: add `protocol = \"deepobs\"` \
             (or `algoperf`) with `trials` and `[comparison.search]`, or a `[comparison.tune]`",
        ));
    }
    if !has_net {
        return Err(ctx.err(
            &p.span(),
            "pruner",
            Some(cn),
            "a pruner decides between epochs of network runs, and the comparison has no network task",
        ));
    }
    let other = if name == "median" { &asha_keys } else { &median_keys };
    if let Some((k, Some(v))) = other.iter().find(|(_, v)| v.is_some()) {
        return Err(ctx.err(&v.span(), k, Some(cn), format!("not a setting of `pruner = \"{name}\"`")));
    }
    let epochs = network.epochs;
    let int = |v: &Option<Spanned<i64>>, key: &str, lo: i64, hi: i64, default: u32| -> Result<u32> {
        match v {
            None => Ok(default),
            Some(v) => Ok(int_in(ctx, v, key, cn, lo, hi)? as u32),
        }
    };
    let rule = if name == "median" {
        let warmup = int(&c.prune_warmup_epochs, "prune_warmup_epochs", 0, 1_000_000, PRUNE_WARMUP_EPOCHS)?;
        if warmup + 1 >= epochs {
            let sp = c.prune_warmup_epochs.as_ref().map_or(p.span(), |v| v.span());
            let key = if c.prune_warmup_epochs.is_some() { "prune_warmup_epochs" } else { "pruner" };
            return Err(ctx.err(
                &sp,
                key,
                Some(cn),
                format!(
                    "the median rule decides after epochs {}..{} (after the warm-up of {warmup}, before the last), \
                     and with `epochs = {epochs}` there is none: use more epochs or a shorter warm-up",
                    warmup + 1,
                    epochs.saturating_sub(1)
                ),
            ));
        }
        let startup = int(&c.prune_startup_trials, "prune_startup_trials", 1, 1_000_000, PRUNE_STARTUP_TRIALS)?;
        PruneRule::Median { warmup_epochs: warmup, startup_trials: startup }
    } else {
        let min = int(&c.asha_min_epochs, "asha_min_epochs", 1, 1_000_000, ASHA_MIN_EPOCHS)?;
        let reduction = int(&c.asha_reduction, "asha_reduction", 2, 1000, ASHA_REDUCTION)?;
        if min >= epochs {
            let sp = c.asha_min_epochs.as_ref().map_or(p.span(), |v| v.span());
            let key = if c.asha_min_epochs.is_some() { "asha_min_epochs" } else { "pruner" };
            return Err(ctx.err(
                &sp,
                key,
                Some(cn),
                format!(
                    "ASHA's first rung is at epoch {min}, and with `epochs = {epochs}` no rung is before the last \
                     epoch: use more epochs or a smaller `asha_min_epochs`"
                ),
            ));
        }
        PruneRule::Asha { min_epochs: min, reduction }
    };
    Ok(Some(rule))
}

/// `baseline`: the label of one of the comparison's optimizer entries (the report's speed-ups
/// are against it).
fn baseline(ctx: &Ctx, c: &ComparisonToml, cn: &str, optimizers: &[OptimizerEntry]) -> Result<Option<String>> {
    let Some(b) = &c.baseline else { return Ok(None) };
    if optimizers.iter().any(|o| o.label == *b.get_ref()) {
        return Ok(Some(b.get_ref().clone()));
    }
    Err(ctx.err(
        &b.span(),
        "baseline",
        Some(cn),
        format!(
            "`{}` is not one of the comparison's optimizers; their labels: {}",
            b.get_ref(),
            optimizers.iter().map(|o| format!("`{}`", o.label)).collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// `[comparison.plot]`: `x` (`"steps"` or `"epochs"`; epochs only with network tasks) and
/// `smooth` (TensorBoard's EMA weight, in [0, 1)).
fn plot_settings(ctx: &Ctx, c: &ComparisonToml, cn: &str, has_net: bool) -> Result<PlotSettings> {
    let mut plot = PlotSettings::default();
    let Some(p) = &c.plot else { return Ok(plot) };
    if let Some(v) = &p.x {
        plot.x = Some(match v.get_ref().as_str() {
            "steps" => PlotX::Steps,
            "epochs" if has_net => PlotX::Epochs,
            "epochs" => return Err(ctx.err(
                &v.span(),
                "plot.x",
                Some(cn),
                "`epochs` is for network tasks, and the comparison has none (test functions are drawn against steps)",
            )),
            other => {
                return Err(ctx.err(
                    &v.span(),
                    "plot.x",
                    Some(cn),
                    format!("`{other}`: expected \"steps\" or \"epochs\""),
                ))
            }
        });
    }
    if let Some(v) = &p.smooth {
        plot.smooth = float_in(ctx, v, "plot.smooth", cn, Kind::UNIT_OPEN)?;
    }
    Ok(plot)
}

/// The comparison's `tasks`: known, distinct, at least one.
fn tasks(ctx: &Ctx, c: &ComparisonToml, cn: &str) -> Result<Vec<String>> {
    let mut tasks = Vec::new();
    for t in c.tasks.get_ref() {
        if optlab_functions::is_formula(t.get_ref()) {
            optlab_functions::by_name(t.get_ref(), None).map_err(|e| ctx.err(&t.span(), "tasks", Some(cn), e))?;
        }
        if task_kind(t.get_ref()).is_none() {
            return Err(ctx.err(
                &t.span(),
                "tasks",
                Some(cn),
                format!(
                    "unknown task `{}`; test functions: {}; networks: {}",
                    t.get_ref(),
                    optlab_functions::NAMES.join(", "),
                    NETWORK_TASKS.join(", ")
                ),
            ));
        }
        if tasks.contains(t.get_ref()) {
            return Err(ctx.err(&t.span(), "tasks", Some(cn), format!("task `{}` is listed twice", t.get_ref())));
        }
        tasks.push(t.get_ref().clone());
    }
    if tasks.is_empty() {
        return Err(ctx.err(&c.tasks.span(), "tasks", Some(cn), "the list of tasks is empty"));
    }
    Ok(tasks)
}

/// The comparison's `seeds`: a count (seeds 0 to n − 1) or a list of distinct seeds; `[0]` without.
fn seeds(ctx: &Ctx, c: &ComparisonToml, cn: &str) -> Result<Vec<u64>> {
    Ok(seeds_of(ctx, c.seeds.as_ref(), "seeds", cn)?.unwrap_or_else(|| vec![0]))
}

/// Seeds written as a count or a list (key `key` in messages); None when absent.
fn seeds_of(ctx: &Ctx, seeds: Option<&Spanned<SeedsToml>>, key: &str, cn: &str) -> Result<Option<Vec<u64>>> {
    let seeds: Vec<u64> = match seeds {
        None => return Ok(None),
        Some(s) => match s.get_ref() {
            SeedsToml::Count(n) => {
                if *n < 1 || *n > 1_000_000 {
                    return Err(ctx.err(
                        &s.span(),
                        key,
                        Some(cn),
                        format!("value {n} out of range (count in [1, 1000000])"),
                    ));
                }
                (0..*n as u64).collect()
            }
            SeedsToml::List(v) => {
                if v.is_empty() {
                    return Err(ctx.err(&s.span(), key, Some(cn), "the list of seeds is empty"));
                }
                let mut out: Vec<u64> = Vec::new();
                let mut distinct = HashSet::new();
                for &x in v {
                    if x < 0 {
                        return Err(ctx.err(
                            &s.span(),
                            key,
                            Some(cn),
                            format!("value {x} out of range (seeds are >= 0)"),
                        ));
                    }
                    if !distinct.insert(x) {
                        return Err(ctx.err(&s.span(), key, Some(cn), format!("seed {x} is listed twice")));
                    }
                    out.push(x as u64);
                }
                out
            }
        },
    };
    Ok(Some(seeds))
}

/// The settings of the comparison's test-function and network runs; a setting of a kind of task
/// the comparison does not have is an error.
fn settings(
    ctx: &Ctx,
    c: &ComparisonToml,
    cn: &str,
    tasks: &[String],
    has_fn: bool,
    has_net: bool,
) -> Result<(FunctionSettings, NetworkSettings)> {
    check_kind_keys(ctx, c, cn, has_fn, has_net)?;
    let mut function = function_settings(ctx, c, cn, tasks)?;
    let mut network = network_defaults();
    if let Some(v) = &c.patience {
        let p = int_in(ctx, v, "patience", cn, 1, u32::MAX as i64)? as u32;
        function.patience = p;
        network.patience = Some(p);
    }
    network_settings(ctx, c, cn, tasks, &mut network)?;
    Ok((function, network))
}

/// Settings that only apply to one kind of task are refused when the comparison has none.
fn check_kind_keys(ctx: &Ctx, c: &ComparisonToml, cn: &str, has_fn: bool, has_net: bool) -> Result<()> {
    let fn_keys: [(&str, Option<Range<usize>>); 9] = [
        ("points", c.points.as_ref().map(|v| v.span())),
        ("random_points", c.random_points.as_ref().map(|v| v.span())),
        ("dim", c.dim.as_ref().map(|v| v.span())),
        ("start", c.start.as_ref().map(|v| v.span())),
        ("starts", c.starts.as_ref().map(|v| v.span())),
        ("steps", c.steps.as_ref().map(|v| v.span())),
        ("ftol", c.ftol.as_ref().map(|v| v.span())),
        ("xtol", c.xtol.as_ref().map(|v| v.span())),
        ("time_limit", c.time_limit.as_ref().map(|v| v.span())),
    ];
    if !has_fn {
        if let Some((k, Some(sp))) = fn_keys.iter().find(|(_, s)| s.is_some()) {
            return Err(ctx.err(sp, k, Some(cn), "this setting is for test functions, and the comparison has none"));
        }
    }
    let net_keys: &[(&str, Option<Range<usize>>)] = &[
        ("label", c.label.as_ref().map(|v| v.span())),
        ("blobs_samples", c.blobs_samples.as_ref().map(|v| v.span())),
        ("blobs_dim", c.blobs_dim.as_ref().map(|v| v.span())),
        ("blobs_separation", c.blobs_separation.as_ref().map(|v| v.span())),
        ("epochs", c.epochs.as_ref().map(|v| v.span())),
        ("batch_size", c.batch_size.as_ref().map(|v| v.span())),
        ("max_steps", c.max_steps.as_ref().map(|v| v.span())),
        ("val_fraction", c.val_fraction.as_ref().map(|v| v.span())),
        ("data", c.data.as_ref().map(|v| v.span())),
        ("widths", c.widths.as_ref().map(|v| v.span())),
        ("hidden", c.hidden.as_ref().map(|v| v.span())),
        ("time_budget", c.time_budget.as_ref().map(|v| v.span())),
        ("hutchinson_samples", c.hutchinson_samples.as_ref().map(|v| v.span())),
        ("shuffle", c.shuffle.as_ref().map(|v| v.span())),
        ("dropout", c.dropout.as_ref().map(|v| v.span())),
        ("augment", c.augment.as_ref().map(|v| v.span())),
        ("init", c.init.as_ref().map(|v| v.span())),
        ("mse", c.mse.as_ref().map(|v| v.span())),
        ("train_limit", c.train_limit.as_ref().map(|v| v.span())),
        ("log_every", c.log_every.as_ref().map(|v| v.span())),
        ("divergence_factor", c.divergence_factor.as_ref().map(|v| v.span())),
        ("grad_histograms", c.grad_histograms.as_ref().map(|v| v.span())),
        ("landscape", c.landscape.as_ref().map(|v| v.span())),
    ];
    if !has_net {
        let h = c.hutchinson_h.as_ref().map(|v| ("hutchinson_h", Some(v.span())));
        if let Some((k, Some(sp))) = net_keys.iter().cloned().chain(h).find(|(_, s)| s.is_some()) {
            return Err(ctx.err(&sp, k, Some(cn), "this setting is for network tasks, and the comparison has none"));
        }
    }
    Ok(())
}

/// `dim`, `start`/`starts`, `steps`, `ftol`, `xtol`, `points` and `time_limit` (test functions).
fn function_settings(ctx: &Ctx, c: &ComparisonToml, cn: &str, tasks: &[String]) -> Result<FunctionSettings> {
    let mut function = FunctionSettings::default();
    if let Some(v) = &c.dim {
        function.dim = Some(int_in(ctx, v, "dim", cn, 1, optlab_functions::MAX_DIM as i64)? as usize);
        for t in tasks {
            if task_kind(t) == Some(TaskKind::Function) && !optlab_functions::is_variable_dim(t) {
                return Err(ctx.err(&v.span(), "dim", Some(cn), format!("test function `{t}` has a fixed dimension")));
            }
        }
        for t in tasks {
            if task_kind(t) == Some(TaskKind::Function) {
                optlab_functions::by_name(t, function.dim).map_err(|e| ctx.err(&v.span(), "dim", Some(cn), e))?;
            }
        }
    }
    function.start = start_rule(ctx, c, cn, tasks, function.dim)?;
    if let Some(v) = &c.steps {
        function.steps = int_in(ctx, v, "steps", cn, 1, i64::MAX)? as u64;
    }
    if let Some(v) = &c.ftol {
        function.ftol = float_in(ctx, v, "ftol", cn, Kind::POS)?;
    }
    if let Some(v) = &c.xtol {
        function.xtol = float_in(ctx, v, "xtol", cn, Kind::NONNEG)?;
    }
    if let Some(v) = &c.points {
        function.points = int_in(ctx, v, "points", cn, 2, 1_000_000)? as u32;
    }
    if let Some(v) = &c.random_points {
        function.random_points = Some(int_in(ctx, v, "random_points", cn, 2, 1_000_000)? as u32);
    }
    if let Some(v) = &c.time_limit {
        function.time_limit_s = Some(float_in(ctx, v, "time_limit", cn, Kind::NONNEG)?);
    }
    Ok(function)
}

/// The start rule: `start` ("random", "default" or a point of each test function's dimension)
/// with the `starts` count of random starts.
fn start_rule(ctx: &Ctx, c: &ComparisonToml, cn: &str, tasks: &[String], dim: Option<usize>) -> Result<StartRule> {
    let count = match &c.starts {
        Some(v) => Some(int_in(ctx, v, "starts", cn, 1, 100_000)? as u32),
        None => None,
    };
    let start = match &c.start {
        None => StartRule::Random { count: count.unwrap_or(1) },
        Some(s) => {
            let sp = s.span();
            match s.get_ref() {
                toml::Value::String(t) if t == "random" => StartRule::Random { count: count.unwrap_or(1) },
                toml::Value::String(t) if t == "defaults" => StartRule::Defaults { random: count.unwrap_or(0) },
                toml::Value::String(t) if t == "default" => {
                    if count.is_some() {
                        return Err(ctx.err(
                            &sp,
                            "starts",
                            Some(cn),
                            "`starts` counts random starts; remove it or use start = \"random\"",
                        ));
                    }
                    StartRule::Default
                }
                toml::Value::Array(a) => {
                    if count.is_some() {
                        return Err(ctx.err(
                            &sp,
                            "starts",
                            Some(cn),
                            "`starts` counts random starts; it cannot go with a fixed start point",
                        ));
                    }
                    let mut p = Vec::new();
                    for x in a {
                        match x {
                            toml::Value::Float(f) if f.is_finite() => p.push(*f),
                            toml::Value::Integer(i) => p.push(*i as f64),
                            other => {
                                return Err(ctx.err(
                                    &sp,
                                    "start",
                                    Some(cn),
                                    format!("`{other}` is not a finite number"),
                                ));
                            }
                        }
                    }
                    for t in tasks {
                        if task_kind(t) == Some(TaskKind::Function) {
                            let f =
                                optlab_functions::by_name(t, dim).map_err(|e| ctx.err(&sp, "start", Some(cn), e))?;
                            if f.dim() != p.len() {
                                return Err(ctx.err(
                                    &sp,
                                    "start",
                                    Some(cn),
                                    format!(
                                        "the point has {} coordinates and `{t}` has dimension {}",
                                        p.len(),
                                        f.dim()
                                    ),
                                ));
                            }
                        }
                    }
                    StartRule::Point(p)
                }
                other => {
                    return Err(ctx.err(
                        &sp,
                        "start",
                        Some(cn),
                        format!(
                            "invalid value `{other}`: expected \"random\", \"default\", \"defaults\" or a point [x, y, ...]"
                        ),
                    ))
                }
            }
        }
    };
    Ok(start)
}

/// The network settings other than `patience` (read with the test functions' one).
fn network_settings(
    ctx: &Ctx,
    c: &ComparisonToml,
    cn: &str,
    tasks: &[String],
    network: &mut NetworkSettings,
) -> Result<()> {
    if let Some(v) = &c.epochs {
        network.epochs = int_in(ctx, v, "epochs", cn, 1, u32::MAX as i64)? as u32;
    }
    if let Some(v) = &c.early_stop_on {
        network.early_stop_on = v
            .get_ref()
            .parse::<optlab_nn::EarlyStopOn>()
            .map_err(|e| ctx.err(&v.span(), "early_stop_on", Some(cn), e))?;
    }
    if let Some(v) = &c.batch_size {
        network.batch_size = int_in(ctx, v, "batch_size", cn, 1, i64::MAX)? as usize;
    }
    if let Some(v) = &c.max_steps {
        network.max_steps = Some(int_in(ctx, v, "max_steps", cn, 1, i64::MAX)? as u64);
    }
    if let Some(v) = &c.val_fraction {
        network.val_fraction = float_in(ctx, v, "val_fraction", cn, Kind::UNIT_OPEN)?;
    }
    if let Some(v) = &c.data {
        if v.get_ref().is_empty() {
            return Err(ctx.err(&v.span(), "data", Some(cn), "the data path is empty"));
        }
        let csv = v.get_ref().starts_with("csv:");
        if let Some(t) = tasks.iter().find(|t| t.starts_with("blobs-")).filter(|_| !csv) {
            return Err(ctx.err(
                &v.span(),
                "data",
                Some(cn),
                format!(
                    "task `{t}` trains on generated data, or on a CSV table given as `csv:PATH`; put it in a comparison without `data`"
                ),
            ));
        }
        if csv {
            if let Some(t) = tasks.iter().find(|t| {
                task_kind(t) == Some(TaskKind::Network)
                    && !matches!(t.as_str(), "blobs-neuron" | "blobs-two-layer" | "mnist-mlp" | "cifar-mlp")
            }) {
                return Err(ctx.err(
                    &v.span(),
                    "data",
                    Some(cn),
                    format!("CSV tables of features are for the blobs and MLP tasks, not `{t}`"),
                ));
            }
            if c.label.is_none() {
                return Err(ctx.err(&v.span(), "data", Some(cn), "a CSV table needs `label`, its label column"));
            }
        }
        network.data = Some(v.get_ref().into());
    }
    if let Some(v) = &c.label {
        if !c.data.as_ref().is_some_and(|d| d.get_ref().starts_with("csv:")) {
            return Err(ctx.err(&v.span(), "label", Some(cn), "`label` is the label column of `data = \"csv:PATH\"`"));
        }
        network.label = Some(v.get_ref().clone());
    }
    let blobs_keys = [
        ("blobs_samples", c.blobs_samples.as_ref().map(|v| v.span())),
        ("blobs_dim", c.blobs_dim.as_ref().map(|v| v.span())),
        ("blobs_separation", c.blobs_separation.as_ref().map(|v| v.span())),
    ];
    if let Some((k, Some(sp))) = blobs_keys.iter().find(|(_, s)| s.is_some()) {
        if let Some(t) = tasks.iter().find(|t| task_kind(t) == Some(TaskKind::Network) && !t.starts_with("blobs-")) {
            return Err(ctx.err(sp, k, Some(cn), format!("this setting is for the blobs tasks, not `{t}`")));
        }
        if c.data.is_some() {
            return Err(ctx.err(sp, k, Some(cn), "this setting sets the generated data, and `data` is a CSV table"));
        }
    }
    if let Some(v) = &c.blobs_samples {
        network.blobs_samples = Some(int_in(ctx, v, "blobs_samples", cn, 2, 10_000_000)? as usize);
    }
    if let Some(v) = &c.blobs_dim {
        network.blobs_dim = Some(int_in(ctx, v, "blobs_dim", cn, 1, 100_000)? as usize);
    }
    if let Some(v) = &c.blobs_separation {
        let s = float_in(ctx, v, "blobs_separation", cn, Kind::NONNEG)?;
        if s > 1e6 {
            return Err(ctx.err(&v.span(), "blobs_separation", Some(cn), format!("value {s} out of range ([0, 1e6])")));
        }
        network.blobs_separation = Some(s);
    }
    if let Some(v) = &c.widths {
        if v.get_ref().is_empty() || v.get_ref().iter().any(|&w| w < 1) {
            return Err(ctx.err(
                &v.span(),
                "widths",
                Some(cn),
                format!("value {:?} out of range (a non-empty list of integers >= 1)", v.get_ref()),
            ));
        }
        network.widths = Some(v.get_ref().iter().map(|&w| w as usize).collect());
    }
    if let Some(v) = &c.hidden {
        network.hidden = Some(int_in(ctx, v, "hidden", cn, 1, i64::MAX)? as usize);
    }
    if let Some(v) = &c.time_budget {
        network.time_budget_s = Some(float_in(ctx, v, "time_budget", cn, Kind::POS)?);
    }
    if let Some(v) = &c.hutchinson_samples {
        network.hutchinson_samples = int_in(ctx, v, "hutchinson_samples", cn, 1, u32::MAX as i64)? as u32;
    }
    if let Some(v) = &c.hutchinson_h {
        network.hutchinson_h = float_in(ctx, v, "hutchinson_h", cn, Kind::POS)?;
    }
    if let Some(v) = &c.shuffle {
        network.shuffle = *v.get_ref();
    }
    if let Some(v) = &c.dropout {
        network.dropout = Some(float_in(ctx, v, "dropout", cn, Kind::UNIT_OPEN)?);
    }
    if let Some(v) = &c.augment {
        network.augment = *v.get_ref();
    }
    if let Some(v) = &c.init {
        if v.get_ref().is_empty() {
            return Err(ctx.err(&v.span(), "init", Some(cn), "the path of the initial weights is empty"));
        }
        network.init = Some(v.get_ref().into());
    }
    if let Some(v) = &c.mse {
        network.mse = *v.get_ref();
    }
    if let Some(v) = &c.train_limit {
        network.train_limit = Some(int_in(ctx, v, "train_limit", cn, 1, i64::MAX)? as usize);
    }
    if let Some(v) = &c.log_every {
        network.log_every = Some(int_in(ctx, v, "log_every", cn, 1, i64::MAX)? as u64);
    }
    if let Some(v) = &c.divergence_factor {
        let above_one = Kind::Float { lo: 1.0, hi: f64::INFINITY, lo_open: true, hi_open: true };
        network.divergence_factor = Some(float_in(ctx, v, "divergence_factor", cn, above_one)?);
    }
    if let Some(v) = &c.grad_histograms {
        network.grad_histograms = *v.get_ref();
    }
    if let Some(v) = &c.landscape {
        network.landscape = *v.get_ref();
    }
    Ok(())
}

/// The comparison's optimizers: at least one, each checked against the registry.
fn optimizers(ctx: &Ctx, c: &ComparisonToml, cn: &str) -> Result<Vec<OptimizerEntry>> {
    let mut optimizers: Vec<OptimizerEntry> = Vec::new();
    if c.optimizers.get_ref().is_empty() {
        return Err(ctx.err(&c.optimizers.span(), "optimizers", Some(cn), "the list of optimizers is empty"));
    }
    for o in c.optimizers.get_ref() {
        let entry = optimizer_entry(ctx, o, cn, &optimizers)?;
        optimizers.push(entry);
    }
    Ok(optimizers)
}

/// One optimizer entry: its name, `set` values and `schedules` checked, its label distinct from
/// those of the `others` before it.
fn optimizer_entry(ctx: &Ctx, o: &OptimizerToml, cn: &str, others: &[OptimizerEntry]) -> Result<OptimizerEntry> {
    let name = o.name.get_ref();
    let spec = registry::spec(name).map_err(|_| {
        ctx.err(
            &o.name.span(),
            "name",
            Some(cn),
            format!("unknown optimizer `{name}`; known optimizers: {}", registry::names().join(", ")),
        )
    })?;
    let mut cfg = OptimConfig::new(name);
    let mut label_parts = vec![name.clone()];
    if let Some(set) = &o.set {
        let mut texts = Vec::new();
        for (k, v) in &set.0 {
            let text = value_text(v.get_ref())
                .ok_or_else(|| ctx.err(&v.span(), k.get_ref(), Some(cn), "expected a number, a boolean or a string"))?;
            texts.push(text);
        }
        // A wrapper's wrapped optimizer first (wherever it is written): the other keys may be its.
        let wk = wrapper_key(spec);
        let mut probe = BTreeMap::new();
        for ((k, v), text) in set.0.iter().zip(&texts) {
            if Some(k.get_ref().as_str()) == wk {
                Hyper::defaults(spec)
                    .set_str(k.get_ref(), text)
                    .map_err(|e| hyper_error(ctx, &v.span(), k.get_ref(), cn, e))?;
                probe.insert(k.get_ref().clone(), text.clone());
            }
        }
        let mut hypers: Vec<Hyper> = Vec::new();
        for ((k, v), text) in set.0.iter().zip(&texts) {
            let Some(owner) = key_spec(spec, &probe, k.get_ref()) else {
                return Err(ctx.err(
                    &k.span(),
                    k.get_ref(),
                    Some(cn),
                    format!("unknown hyperparameter of optimizer `{name}`; valid keys: {}", valid_keys(spec, &probe)),
                ));
            };
            let h = match hypers.iter().position(|h| std::ptr::eq(h.spec(), owner)) {
                Some(i) => &mut hypers[i],
                None => {
                    hypers.push(Hyper::defaults(owner));
                    hypers.last_mut().expect("just pushed")
                }
            };
            h.set_str(k.get_ref(), text).map_err(|e| hyper_error(ctx, &v.span(), k.get_ref(), cn, e))?;
            cfg = cfg.set(k.get_ref(), text);
            label_parts.push(format!("{}={text}", k.get_ref()));
        }
    }
    if let Some(sch) = &o.schedules {
        for (k, v) in &sch.0 {
            cfg = schedule_into(ctx, cfg, spec, (k.get_ref(), k.get_ref()), v.get_ref(), &v.span(), cn)?;
            label_parts.push(format!("{}~{}", k.get_ref(), v.get_ref()));
        }
    }
    for (key, v) in [("clip_norm", &o.clip_norm), ("clip_value", &o.clip_value)] {
        if let Some(v) = v {
            let x = *v.get_ref();
            if !(x.is_finite() && x > 0.0) {
                return Err(ctx.err(&v.span(), key, Some(cn), format!("{x}: expected a finite number > 0")));
            }
            if key == "clip_norm" {
                cfg.clip_norm = Some(x);
            } else {
                cfg.clip_value = Some(x);
            }
            label_parts.push(format!("{key}={}", optlab_optim::fmt_num(x)));
        }
    }
    if let Some(a) = &o.average {
        a.get_ref().check().map_err(|e| ctx.err(&a.span(), "average", Some(cn), e))?;
        cfg.average = Some(a.get_ref().clone());
        label_parts.push(format!("average={}", a.get_ref().label()));
    }
    let label = match &o.label {
        Some(l) if l.get_ref().trim().is_empty() => {
            return Err(ctx.err(&l.span(), "label", Some(cn), "the label is empty"));
        }
        Some(l) => l.get_ref().clone(),
        None => label_parts.join(" "),
    };
    if others.iter().any(|e| e.label == label) {
        return Err(ctx.err(
            &o.name.span(),
            "label",
            Some(cn),
            format!("two optimizers have the label `{label}`; give one a `label`"),
        ));
    }
    // Relations between hyperparameters are checked by building on a tiny layout.
    registry::build::<f64>(optlab_optim::Layout::single("x", 2), &cfg)
        .map_err(|e| ctx.err(&o.name.span(), "optimizers", Some(cn), e))?;
    Ok(OptimizerEntry { label, config: cfg, line: ctx.line(&o.name.span()) })
}

/// The comparison's `[comparison.grid]` or `[comparison.list]` (not both).
fn sweep(ctx: &Ctx, c: &ComparisonToml, cn: &str, optimizers: &[OptimizerEntry], has_net: bool) -> Result<Sweep> {
    if c.grid.is_some() && c.list.is_some() {
        let sp = c.list.as_ref().and_then(|l| l.0.first()).map(|(k, _)| k.span()).unwrap_or(0..0);
        return Err(ctx.err(&sp, "list", Some(cn), "a comparison has a grid or a list, not both"));
    }
    let mut sweep = Sweep::default();
    let (table, zipped) = match (&c.grid, &c.list) {
        (Some(g), _) => (Some(g), false),
        (_, Some(l)) => (Some(l), true),
        _ => (None, false),
    };
    sweep.zipped = zipped;
    if let Some(t) = table {
        let table_name = if zipped { "list" } else { "grid" };
        // First every key and its values (so that a swept wrapped optimizer, Lookahead's
        // `inner`, is known when the other keys are checked).
        for (k, vals) in &t.0 {
            let key = k.get_ref().as_str();
            let target = sweep_target(key);
            if vals.get_ref().is_empty() {
                return Err(ctx.err(
                    &vals.span(),
                    key,
                    Some(cn),
                    format!("the {table_name} has no values for this key"),
                ));
            }
            let mut texts = Vec::new();
            let mut distinct = HashSet::new();
            for v in vals.get_ref() {
                let text = value_text(v.get_ref())
                    .ok_or_else(|| ctx.err(&v.span(), key, Some(cn), "expected a number, a boolean or a string"))?;
                if !distinct.insert(text.clone()) {
                    return Err(ctx.err(&v.span(), key, Some(cn), format!("value {text} is listed twice")));
                }
                texts.push(text);
            }
            if sweep.keys.iter().any(|(k2, t2)| k2 == key || *t2 == target) {
                return Err(ctx.err(&k.span(), key, Some(cn), "this key is swept twice"));
            }
            sweep.keys.push((key.to_string(), target));
            sweep.values.push(texts);
        }
        for (i, (k, vals)) in t.0.iter().enumerate() {
            let (key, target) = (&sweep.keys[i].0, &sweep.keys[i].1);
            for (v, text) in vals.get_ref().iter().zip(&sweep.values[i]) {
                check_sweep_value(ctx, target, key, text, &v.span(), cn, optimizers, &sweep, has_net, &k.span())?;
            }
        }
        if zipped {
            let n = sweep.values[0].len();
            if let Some(i) = sweep.values.iter().position(|c| c.len() != n) {
                let (k, v) = &t.0[i];
                return Err(ctx.err(
                    &v.span(),
                    k.get_ref(),
                    Some(cn),
                    format!(
                        "a list zips its keys: this key has {} values and `{}` has {n}",
                        sweep.values[i].len(),
                        sweep.keys[0].0
                    ),
                ));
            }
        }
    }
    Ok(sweep)
}

/// The comparison's `[comparison.tune]`: its protocol, key, grid, tuning starts and seeds, rule.
/// The key must be one some optimizer has and not be swept; on network tasks the tuning seeds
/// must differ from the evaluation seeds (test functions draw their tuning starts from a stream
/// of their own, so the same seeds give other starts).
#[allow(clippy::too_many_arguments)]
fn tune(
    ctx: &Ctx,
    c: &ComparisonToml,
    cn: &str,
    seeds: &[u64],
    optimizers: &[OptimizerEntry],
    sweep: &Sweep,
    has_fn: bool,
    has_net: bool,
    search: Option<&crate::search::Search>,
    network: &NetworkSettings,
) -> Result<Option<Tune>> {
    let defaults = TuneToml::default();
    let (t, span) = match (&c.tune, &c.protocol) {
        (Some(t), Some(p)) if t.get_ref().protocol.is_some() => {
            return Err(ctx.err(
                &p.span(),
                "protocol",
                Some(cn),
                "the protocol is given twice (`protocol` and `[comparison.tune] protocol`); keep one",
            ))
        }
        (Some(t), _) => (t.get_ref(), t.span()),
        (None, Some(p)) => (&defaults, p.span()),
        (None, None) => return Ok(None),
    };
    let line = ctx.line(&span);
    let pick = |v: &Option<Spanned<String>>, key: &str, allowed: &[&str]| -> Result<String> {
        match v {
            None => Ok(allowed[0].to_string()),
            Some(v) if allowed.contains(&v.get_ref().as_str()) => Ok(v.get_ref().clone()),
            Some(v) => Err(ctx.err(
                &v.span(),
                key,
                Some(cn),
                format!("unknown {} `{}`; known: {}", &key[5..], v.get_ref(), allowed.join(", ")),
            )),
        }
    };
    let protocol = match &c.protocol {
        Some(p) => pick(&Some(p.clone()), "tune.protocol", TUNE_PROTOCOLS).map_err(|_| {
            ctx.err(
                &p.span(),
                "protocol",
                Some(cn),
                format!("unknown protocol `{}`; known: {}", p.get_ref(), TUNE_PROTOCOLS.join(", ")),
            )
        })?,
        None => pick(&t.protocol, "tune.protocol", TUNE_PROTOCOLS)?,
    };
    if let Some(s) = search {
        let given = [
            ("tune.key", t.key.as_ref().map(|k| k.span())),
            ("tune.values", t.values.as_ref().map(|v| v.span())),
            ("tune.log_grid", t.log_grid.as_ref().map(|v| v.span())),
        ];
        if let Some((k, Some(sp))) = given.into_iter().find(|(_, sp)| sp.is_some()) {
            return Err(ctx.err(
                &sp,
                k,
                Some(cn),
                "the comparison has a `[comparison.search]`: its trials are what the protocol tunes; leave out \
                 `tune.key`, `tune.values` and `tune.log_grid`",
            ));
        }
        let _ = s;
    }
    let rule = pick(&t.rule, "tune.rule", TUNE_RULES)?;
    let (key, key_span) = match (&t.key, search) {
        (_, Some(s)) => (s.keys.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(","), span.clone()),
        (Some(k), None) => (k.get_ref().clone(), k.span()),
        (None, None) => ("lr".to_string(), span.clone()),
    };
    let target = SweepTarget::Hyper(key.clone());
    let has_key = search.is_some()
        || optimizers.iter().any(|o| {
            let spec = registry::spec(&o.config.name).expect("optimizers are checked");
            variants(o, sweep).iter().any(|v| applies(&target, spec, &v.set))
        });
    if !has_key {
        return Err(ctx.err(&key_span, "tune.key", Some(cn), format!("no optimizer of the comparison has `{key}`")));
    }
    if let Some((k, _)) = sweep.keys.iter().find(|(k, t)| *t == target || *k == key) {
        return Err(ctx.err(
            &key_span,
            "tune.key",
            Some(cn),
            format!("`{key}` is tuned and swept (`{k}` in the grid or list); tune it or sweep it"),
        ));
    }
    let values: Vec<f64> = match (&t.values, &t.log_grid) {
        _ if search.is_some() => Vec::new(),
        (Some(v), Some(_)) => {
            return Err(ctx.err(&v.span(), "tune.values", Some(cn), "give `values` or `log_grid`, not both"))
        }
        (None, None) => {
            return Err(ctx.err(&span, "tune", Some(cn), "the grid is missing: give `values = [...]` or `log_grid`"))
        }
        (Some(v), None) => {
            if v.get_ref().is_empty() {
                return Err(ctx.err(&v.span(), "tune.values", Some(cn), "the list of values is empty"));
            }
            let mut out = Vec::new();
            for x in v.get_ref() {
                let f = x.get_ref().0;
                if !f.is_finite() {
                    return Err(ctx.err(&x.span(), "tune.values", Some(cn), format!("{f} is not a finite number")));
                }
                if out.contains(&f) {
                    return Err(ctx.err(
                        &x.span(),
                        "tune.values",
                        Some(cn),
                        format!("value {} is listed twice", fmt_num(f)),
                    ));
                }
                out.push(f);
            }
            out
        }
        (None, Some(g)) => {
            let (lo, hi, n) = (g.get_ref().from.0, g.get_ref().to.0, g.get_ref().points);
            if !(lo.is_finite() && lo > 0.0 && hi.is_finite() && hi > lo && (1..=1000).contains(&n)) {
                return Err(ctx.err(
                    &g.span(),
                    "tune.log_grid",
                    Some(cn),
                    format!(
                        "from = {}, to = {}, points = {n}: expected 0 < from < to and points in [1, 1000]",
                        fmt_num(lo),
                        fmt_num(hi)
                    ),
                ));
            }
            log_grid(lo, hi, n as usize)
        }
    };
    let starts =
        match &t.starts {
            Some(v) if !has_fn => return Err(ctx.err(
                &v.span(),
                "tune.starts",
                Some(cn),
                "tuning starts are for test functions, and the comparison has none (network tasks tune over `seeds`)",
            )),
            Some(v) => int_in(ctx, v, "tune.starts", cn, 1, 100_000)? as u32,
            None => TUNE_STARTS,
        };
    let tune_seeds = seeds_of(ctx, t.seeds.as_ref(), "tune.seeds", cn)?;
    if has_net {
        let both: Vec<u64> =
            tune_seeds.as_deref().unwrap_or(seeds).iter().copied().filter(|s| seeds.contains(s)).collect();
        if !both.is_empty() {
            let sp = t.seeds.as_ref().map_or(span.clone(), |s| s.span());
            return Err(ctx.err(
                &sp,
                "tune.seeds",
                Some(cn),
                format!(
                    "seed {} is a tuning seed and an evaluation seed; on network tasks the tuning runs need seeds of \
                     their own (e.g. seeds = [100, 101])",
                    both[0]
                ),
            ));
        }
    }
    let tune_seeds = tune_seeds.unwrap_or_else(|| seeds.to_vec());
    let algoperf = protocol == "algoperf";
    let studies = if algoperf { tune_seeds.len() } else { 1 };
    // The values: the grid (once per study), or each study's own trials of the search.
    let mut texts: Vec<String> = Vec::new();
    for study in 0..studies {
        match search {
            None => texts.extend(values.iter().map(|v| fmt_num(*v))),
            Some(s) => {
                let trials = s.trials(study as u64);
                let mut seen: HashSet<&Vec<String>> = HashSet::new();
                for (i, tr) in trials.iter().enumerate() {
                    if !seen.insert(tr) {
                        return Err(ctx.err(
                            &span,
                            "trials",
                            Some(cn),
                            format!(
                                "trial {} repeats an earlier one ({}): the search space has too few distinct points \
                                 for {} trials; use fewer trials or a grid",
                                i + 1,
                                s.trial_text(tr),
                                s.trials
                            ),
                        ));
                    }
                }
                texts.extend(trials.iter().map(|tr| s.trial_text(tr)));
            }
        }
    }
    // The AlgoPerf protocol's target on the validation metric.
    let target = match (&t.target_accuracy, &t.target_val_loss) {
        (Some(a), Some(_)) => {
            return Err(ctx.err(
                &a.span(),
                "tune.target_accuracy",
                Some(cn),
                "give `target_accuracy` or `target_val_loss`, not both",
            ))
        }
        (Some(v), None) | (None, Some(v)) => {
            let k = if t.target_accuracy.is_some() { "tune.target_accuracy" } else { "tune.target_val_loss" };
            if !algoperf {
                return Err(ctx.err(
                    &v.span(),
                    k,
                    Some(cn),
                    format!("a validation target is for protocol `algoperf`, and the protocol is `{protocol}`"),
                ));
            }
            if !has_net {
                return Err(ctx.err(&v.span(), k, Some(cn), "a validation target is for network tasks, and the comparison has none (test functions reach their tolerance)"));
            }
            let x = v.get_ref().0;
            if t.target_accuracy.is_some() {
                if !(x > 0.0 && x <= 1.0) {
                    return Err(ctx.err(&v.span(), k, Some(cn), format!("value {} out of range (0, 1]", fmt_num(x))));
                }
                Some(crate::record::ValTarget::Accuracy(x))
            } else {
                if !(x.is_finite() && x > 0.0) {
                    return Err(ctx.err(
                        &v.span(),
                        k,
                        Some(cn),
                        format!("value {} out of range (a finite number > 0)", fmt_num(x)),
                    ));
                }
                Some(crate::record::ValTarget::ValLoss(x))
            }
        }
        (None, None) if algoperf && has_net => {
            return Err(ctx.err(
                &span,
                "tune",
                Some(cn),
                "protocol `algoperf` on network tasks needs a target on the validation metric: \
                 `target_accuracy = 0.9` or `target_val_loss = 0.3` in `[comparison.tune]`",
            ))
        }
        (None, None) => None,
    };
    if target.is_some() && network.val_fraction == 0.0 {
        return Err(ctx.err(
            &span,
            "tune",
            Some(cn),
            "a validation target needs a validation set, and `val_fraction = 0` leaves none",
        ));
    }
    let info = TuneInfo {
        protocol,
        key,
        values: texts,
        starts: if has_fn { starts } else { 0 },
        seeds: tune_seeds,
        rule,
        search: search.map(|s| s.keys.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default(),
        studies: if algoperf { studies as u32 } else { 0 },
        target,
        prune: None,
    };
    Ok(Some(Tune { info, line }))
}

/// The comparison's `[comparison.search]` with `trials` and `sampler`, checked: every searched key
/// is a hyperparameter every optimizer of the comparison has and none sets itself (so every
/// optimizer gets the same trials: the same budget), and the ends of each distribution are in
/// every optimizer's range.
fn search(ctx: &Ctx, c: &ComparisonToml, cn: &str, optimizers: &[OptimizerEntry]) -> Result<Option<Search>> {
    use crate::search::{Dist, Sampler, MAX_KEYS, SAMPLERS};
    let Some(table) = &c.search else {
        for (k, sp) in
            [("trials", c.trials.as_ref().map(|v| v.span())), ("sampler", c.sampler.as_ref().map(|v| v.span()))]
        {
            if let Some(sp) = sp {
                return Err(ctx.err(
                    &sp,
                    k,
                    Some(cn),
                    format!("`{k}` is a setting of a search, and the comparison has no `[comparison.search]`"),
                ));
            }
        }
        return Ok(None);
    };
    let first = table.0.first().map(|(k, _)| k.span()).unwrap_or(0..0);
    if table.0.is_empty() {
        return Err(ctx.err(&first, "search", Some(cn), "the search has no keys"));
    }
    if let Some(g) = c.grid.as_ref().or(c.list.as_ref()) {
        let sp = g.0.first().map(|(k, _)| k.span()).unwrap_or(first.clone());
        return Err(ctx.err(&sp, "search", Some(cn), "a comparison has a search or a grid/list, not both"));
    }
    if table.0.len() > MAX_KEYS {
        return Err(ctx.err(
            &table.0[MAX_KEYS].0.span(),
            "search",
            Some(cn),
            format!("at most {MAX_KEYS} keys can be searched"),
        ));
    }
    let trials = match &c.trials {
        None => {
            return Err(ctx.err(
                &first,
                "trials",
                Some(cn),
                "a search needs `trials = N` (trials per optimizer) in the comparison",
            ))
        }
        Some(v) => int_in(ctx, v, "trials", cn, 1, 100_000)? as u32,
    };
    let sampler = match &c.sampler {
        None => Sampler::Halton,
        Some(v) => Sampler::from_name(v.get_ref()).ok_or_else(|| {
            ctx.err(
                &v.span(),
                "sampler",
                Some(cn),
                format!("unknown sampler `{}`; known: {}", v.get_ref(), SAMPLERS.join(", ")),
            )
        })?,
    };
    let mut keys: Vec<(String, Dist)> = Vec::new();
    for (k, d) in &table.0 {
        let key = k.get_ref().as_str();
        let sp = d.span();
        if keys.iter().any(|(k2, _)| k2 == key) {
            return Err(ctx.err(&k.span(), key, Some(cn), "this key is searched twice"));
        }
        if !matches!(sweep_target(key), SweepTarget::Hyper(_)) || key.contains(',') {
            return Err(ctx.err(
                &k.span(),
                key,
                Some(cn),
                "only hyperparameters can be searched (not batch sizes or schedules)",
            ));
        }
        let d = d.get_ref();
        let given = [d.log_uniform.is_some(), d.uniform.is_some(), d.int.is_some(), d.choice.is_some()];
        if given.iter().filter(|&&g| g).count() != 1 {
            return Err(ctx.err(&sp, key, Some(cn), "give exactly one of `log_uniform = [lo, hi]`, `uniform = [lo, hi]`, `int = [lo, hi]`, `choice = [...]`"));
        }
        let pair = |v: &Vec<Num>, what: &str| -> Result<(f64, f64)> {
            match v.as_slice() {
                [a, b] if a.0.is_finite() && b.0.is_finite() && a.0 < b.0 && (what != "log_uniform" || a.0 > 0.0) => {
                    Ok((a.0, b.0))
                }
                _ => Err(ctx.err(
                    &sp,
                    key,
                    Some(cn),
                    format!(
                        "`{what}` takes [lo, hi] with lo < hi finite{}",
                        if what == "log_uniform" { " and lo > 0" } else { "" }
                    ),
                )),
            }
        };
        let dist = if let Some(v) = &d.log_uniform {
            let (a, b) = pair(v, "log_uniform")?;
            Dist::LogUniform(a, b)
        } else if let Some(v) = &d.uniform {
            let (a, b) = pair(v, "uniform")?;
            Dist::Uniform(a, b)
        } else if let Some(v) = &d.int {
            match v.as_slice() {
                [a, b] if a <= b => Dist::Int(*a, *b),
                _ => return Err(ctx.err(&sp, key, Some(cn), "`int` takes [lo, hi] with lo <= hi")),
            }
        } else {
            let vals = d.choice.as_ref().expect("one of the four is given");
            if vals.is_empty() {
                return Err(ctx.err(&sp, key, Some(cn), "`choice` has no values"));
            }
            let mut texts: Vec<String> = Vec::new();
            for v in vals {
                let t = value_text(v)
                    .ok_or_else(|| ctx.err(&sp, key, Some(cn), "a choice is a number, a boolean or a string"))?;
                if t.is_empty() || t.contains([' ', '=']) {
                    return Err(ctx.err(
                        &sp,
                        key,
                        Some(cn),
                        format!("choice `{t}`: a searched value has no spaces or `=`"),
                    ));
                }
                if texts.contains(&t) {
                    return Err(ctx.err(&sp, key, Some(cn), format!("choice {t} is listed twice")));
                }
                texts.push(t);
            }
            Dist::Choice(texts)
        };
        for o in optimizers {
            let spec = registry::spec(&o.config.name).expect("checked above");
            if o.config.set.contains_key(key) {
                return Err(ctx.err(&k.span(), key, Some(cn), format!(
                    "optimizer `{}` (line {}) sets `{key}` itself, and `{key}` is searched: every optimizer of a search gets the same trials (docs/experiments.md)",
                    o.label, o.line
                )));
            }
            let Some(owner) = key_spec(spec, &o.config.set, key) else {
                return Err(ctx.err(&k.span(), key, Some(cn), format!(
                    "optimizer `{}` (line {}) has no hyperparameter `{key}`: a searched key must be one every optimizer of the comparison has (same budget for all; docs/experiments.md)",
                    o.label, o.line
                )));
            };
            for x in dist.extremes() {
                let mut h = Hyper::defaults(owner);
                h.set_str(key, &x).map_err(|e| hyper_error(ctx, &sp, key, cn, e))?;
            }
        }
        keys.push((key.to_string(), dist));
    }
    Ok(Some(Search { keys, sampler, trials, seed: ctx.seed }))
}

/// A search without a protocol as the comparison's sweep: a list of its trials (stream 0).
fn search_sweep(ctx: &Ctx, c: &ComparisonToml, cn: &str, s: &Search) -> Result<Sweep> {
    let trials = s.trials(0);
    let mut seen: HashSet<&Vec<String>> = HashSet::new();
    for (i, tr) in trials.iter().enumerate() {
        if !seen.insert(tr) {
            let sp = c.trials.as_ref().map_or(0..0, |t| t.span());
            return Err(ctx.err(&sp, "trials", Some(cn), format!(
                "trial {} repeats an earlier one ({}): the search space has too few distinct points for {} trials; use fewer trials or a grid",
                i + 1, s.trial_text(tr), s.trials
            )));
        }
    }
    Ok(Sweep {
        keys: s.keys.iter().map(|(k, _)| (k.clone(), SweepTarget::Hyper(k.clone()))).collect(),
        values: (0..s.keys.len()).map(|k| trials.iter().map(|t| t[k].clone()).collect()).collect(),
        zipped: true,
    })
}

/// Without a validation set (`val_fraction = 0`) nothing can watch the validation loss: neither
/// `patience` nor a plateau schedule.
fn check_validation_set(
    ctx: &Ctx,
    c: &ComparisonToml,
    cn: &str,
    has_net: bool,
    network: &NetworkSettings,
    optimizers: &[OptimizerEntry],
    sweep: &Sweep,
) -> Result<()> {
    if let (true, Some(v)) = (has_net, &c.val_fraction) {
        if network.val_fraction == 0.0 {
            let none = "val_fraction = 0 trains on every sample and leaves no validation set";
            if let Some(p) = &c.patience {
                return Err(ctx.err(
                    &v.span(),
                    "val_fraction",
                    Some(cn),
                    format!(
                        "{none}, and `patience` (line {}: early stopping on the validation loss) needs one; \
                         remove `patience` or set val_fraction > 0",
                        ctx.line(&p.span())
                    ),
                ));
            }
            let entry = optimizers.iter().find(|o| o.config.schedules.iter().any(|s| watches_metric(&s.schedule)));
            let swept = sweep.keys.iter().zip(&sweep.values).find_map(|((k, t), vals)| {
                let SweepTarget::Schedule(hk) = t else { return None };
                vals.iter()
                    .find(|v| v.as_str() != NO_SCHEDULE && watches_validation_text(hk, v))
                    .map(|v| format!("`{k}` = \"{v}\""))
            });
            let what = entry
                .map(|o| format!("optimizer `{}` has a plateau schedule", o.label))
                .or(swept.map(|s| format!("the sweep has a plateau schedule ({s})")));
            if let Some(what) = what {
                return Err(ctx.err(
                    &v.span(),
                    "val_fraction",
                    Some(cn),
                    format!(
                        "{none}, and {what}, which is driven by the validation loss; \
                         use another schedule or set val_fraction > 0"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The comparison's `targets`: a finite loss per task of the comparison.
fn targets(ctx: &Ctx, c: &ComparisonToml, cn: &str, tasks: &[String]) -> Result<BTreeMap<String, f64>> {
    let mut targets = BTreeMap::new();
    if let Some(t) = &c.targets {
        for (k, v) in &t.0 {
            if !tasks.contains(k.get_ref()) {
                return Err(ctx.err(
                    &k.span(),
                    k.get_ref(),
                    Some(cn),
                    format!("target for `{}`, which is not one of the comparison's tasks", k.get_ref()),
                ));
            }
            let x = v.get_ref().0;
            if !x.is_finite() {
                return Err(ctx.err(
                    &v.span(),
                    k.get_ref(),
                    Some(cn),
                    format!("value {x} out of range (a finite loss)"),
                ));
            }
            targets.insert(k.get_ref().clone(), x);
        }
    }
    Ok(targets)
}

/// Whether a schedule is (or contains) `plateau`, which follows a reported metric (the
/// validation loss of network runs).
pub fn watches_metric(s: &Schedule) -> bool {
    let mut stack = vec![s];
    while let Some(s) = stack.pop() {
        match s {
            Schedule::Plateau { .. } => return true,
            Schedule::Chained { schedules } | Schedule::Sequential { schedules, .. } => stack.extend(schedules),
            _ => {}
        }
    }
    false
}

/// Whether schedule text (as swept for hyperparameter `key`) parses to one that watches a metric.
fn watches_validation_text(key: &str, text: &str) -> bool {
    OptimConfig::new("sgd")
        .schedule_assignment(&format!("{key}={text}"))
        .is_ok_and(|c| c.schedules.iter().any(|s| watches_metric(&s.schedule)))
}

/// Checks the data path of every comparison that has one: it must exist (a folder for the MNIST
/// tasks). Relative paths are read from the working directory, as the runs read them. Called by
/// `optlab run` (and `--check`) before anything runs, so that a missing path is one error naming
/// the file, the comparison, the tasks and the path, not a failed run per run.
pub fn check_data_paths(exp: &Experiment) -> Result<()> {
    for cmp in &exp.comparisons {
        let Some(data) = cmp.network.data.as_ref().map(|d| d.to_string_lossy().into_owned()) else { continue };
        // `csv:PATH`: a CSV table (read and checked, line by line, when a run loads it).
        let csv = data.starts_with("csv:");
        let data = data.strip_prefix("csv:").unwrap_or(&data);
        let tasks: Vec<&str> =
            cmp.info.tasks.iter().map(String::as_str).filter(|t| task_kind(t) == Some(TaskKind::Network)).collect();
        let tasks_text = tasks.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ");
        let err = |what: String| {
            LabError::Spec(format!(
                "{}:{}: key `data` in comparison `{}`: data path `{data}` of task {tasks_text} {what}",
                exp.file,
                cmp.data_line.unwrap_or(cmp.line),
                cmp.info.name
            ))
        };
        match std::fs::metadata(data) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
                let rel = if Path::new(data).is_relative() { format!(" (relative to {cwd})") } else { String::new() };
                return Err(err(format!("does not exist{rel}")));
            }
            Err(e) => return Err(err(format!("cannot be read: {e}"))),
            Ok(m) if !m.is_dir() && !csv && tasks.iter().any(|t| t.starts_with("mnist-")) => {
                return Err(err("is not a folder (the MNIST tasks read a folder with the MNIST IDX files)".into()));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// What a sweep key means.
pub fn sweep_target(key: &str) -> SweepTarget {
    if key == "batch_size" {
        SweepTarget::BatchSize
    } else if key == LR_SCHEDULE_KEY {
        SweepTarget::Schedule("lr".into())
    } else if let Some(k) = key.strip_prefix(SCHEDULE_PREFIX) {
        SweepTarget::Schedule(k.to_string())
    } else {
        SweepTarget::Hyper(key.to_string())
    }
}

/// The hyperparameter of a wrapper optimizer that names the optimizer it wraps (Lookahead's
/// `inner`); None for an optimizer that wraps none.
pub fn wrapper_key(spec: &Spec) -> Option<&'static str> {
    spec.hypers.iter().find(|h| matches!(h.kind, Kind::Optimizer(_))).map(|h| h.name)
}

/// The registered optimizer named `name` (case-insensitive, as the registry reads optimizer
/// names in hyperparameters).
fn named_spec(name: &str) -> Option<&'static Spec> {
    let name = name.trim();
    registry::names().iter().find(|n| n.eq_ignore_ascii_case(name)).and_then(|n| registry::spec(n).ok())
}

/// The optimizer a wrapper wraps when configured with `set` (its wrapper key there, else the
/// default); None for an optimizer that wraps none.
pub fn inner_spec(spec: &Spec, set: &BTreeMap<String, String>) -> Option<&'static Spec> {
    let key = wrapper_key(spec)?;
    let name = match set.get(key) {
        Some(v) => v.clone(),
        None => spec.hypers[spec.index(key)?].default_text(),
    };
    named_spec(&name)
}

/// The optimizer whose hyperparameter `key` is, for optimizer `spec` configured with `set`: the
/// optimizer itself when it has the key, else (for a wrapper such as Lookahead, which passes every
/// key other than its own to the optimizer it wraps) the wrapped optimizer when that has it.
pub fn key_spec(spec: &'static Spec, set: &BTreeMap<String, String>, key: &str) -> Option<&'static Spec> {
    if spec.index(key).is_some() {
        return Some(spec);
    }
    inner_spec(spec, set).filter(|s| s.index(key).is_some())
}

/// The valid hyperparameter names of `spec` configured with `set`, for messages (a wrapper's
/// own keys, then the wrapped optimizer's).
fn valid_keys(spec: &Spec, set: &BTreeMap<String, String>) -> String {
    let names = |s: &Spec| s.hypers.iter().map(|h| h.name).collect::<Vec<_>>().join(", ");
    match inner_spec(spec, set) {
        Some(inner) => format!("{}; and of its inner optimizer `{}`: {}", names(spec), inner.name, names(inner)),
        None => names(spec),
    }
}

/// Whether optimizer `spec` configured with `set` takes sweep `target` (batch size: every
/// optimizer; a key of the optimizer a wrapper wraps counts as the wrapper's).
pub fn applies(target: &SweepTarget, spec: &'static Spec, set: &BTreeMap<String, String>) -> bool {
    match target {
        SweepTarget::BatchSize => true,
        SweepTarget::Hyper(k) => key_spec(spec, set, k).is_some(),
        SweepTarget::Schedule(k) => {
            key_spec(spec, set, k).is_some_and(|s| s.index(k).is_some_and(|i| s.hypers[i].schedulable()))
        }
    }
}

/// The configurations optimizer entry `o` can have in `sweep`, as far as which keys apply: one per
/// swept value of its wrapper key (Lookahead's `inner`) when that is swept, else its own.
pub fn variants(o: &OptimizerEntry, sweep: &Sweep) -> Vec<OptimConfig> {
    let spec = registry::spec(&o.config.name).expect("optimizers are checked by the spec");
    let swept = wrapper_key(spec)
        .and_then(|wk| sweep.keys.iter().position(|(_, t)| *t == SweepTarget::Hyper(wk.to_string())).map(|i| (wk, i)));
    match swept {
        Some((wk, i)) => sweep.values[i].iter().map(|v| o.config.clone().set(wk, v)).collect(),
        None => vec![o.config.clone()],
    }
}

#[allow(clippy::too_many_arguments)]
fn check_sweep_value(
    ctx: &Ctx,
    target: &SweepTarget,
    key: &str,
    text: &str,
    span: &Range<usize>,
    cn: &str,
    optimizers: &[OptimizerEntry],
    sweep: &Sweep,
    has_net: bool,
    key_span: &Range<usize>,
) -> Result<()> {
    match target {
        SweepTarget::BatchSize => {
            if !has_net {
                return Err(ctx.err(
                    key_span,
                    key,
                    Some(cn),
                    "the batch size applies to network tasks, and the comparison has none",
                ));
            }
            match text.parse::<i64>() {
                Ok(b) if b >= 1 => Ok(()),
                _ => Err(ctx.err(span, key, Some(cn), format!("value {text} out of range (integer >= 1)"))),
            }
        }
        SweepTarget::Hyper(k) => {
            let mut any = false;
            for o in optimizers {
                let spec = registry::spec(&o.config.name).expect("checked above");
                for cfg in variants(o, sweep) {
                    let Some(owner) = key_spec(spec, &cfg.set, k) else { continue };
                    any = true;
                    let mut h = Hyper::defaults(owner);
                    h.set_str(k, text).map_err(|e| hyper_error(ctx, span, key, cn, e))?;
                }
            }
            if !any {
                let names: Vec<&str> = optimizers.iter().map(|o| o.config.name.as_str()).collect();
                return Err(ctx.err(
                    key_span,
                    key,
                    Some(cn),
                    format!("no optimizer of the comparison has this hyperparameter ({})", names.join(", ")),
                ));
            }
            Ok(())
        }
        SweepTarget::Schedule(k) => {
            let mut any = false;
            for o in optimizers {
                let spec = registry::spec(&o.config.name).expect("checked above");
                for cfg in variants(o, sweep) {
                    if !applies(target, spec, &cfg.set) {
                        continue;
                    }
                    any = true;
                    if text != NO_SCHEDULE {
                        schedule_into(ctx, cfg, spec, (k, key), text, span, cn)?;
                    }
                }
            }
            if !any {
                return Err(ctx.err(
                    key_span,
                    key,
                    Some(cn),
                    format!("no optimizer of the comparison has a schedulable hyperparameter `{k}`"),
                ));
            }
            Ok(())
        }
    }
}

/// Adds schedule `text` for hyperparameter `key` to `cfg`, checking the key and the schedule;
/// errors name `err_key` (the key as written in the file).
fn schedule_into(
    ctx: &Ctx,
    cfg: OptimConfig,
    spec: &'static Spec,
    (key, err_key): (&str, &str),
    text: &str,
    span: &Range<usize>,
    cn: &str,
) -> Result<OptimConfig> {
    match key_spec(spec, &cfg.set, key).and_then(|s| s.index(key).map(|i| (s, i))) {
        None => {
            return Err(ctx.err(
                span,
                key,
                Some(cn),
                format!(
                    "unknown hyperparameter of optimizer `{}`; valid keys: {}",
                    spec.name,
                    valid_keys(spec, &cfg.set)
                ),
            ));
        }
        Some((owner, i)) if !owner.hypers[i].schedulable() => {
            return Err(ctx.err(
                span,
                key,
                Some(cn),
                format!(
                    "hyperparameter `{key}` of optimizer `{}` is not numeric and cannot follow a schedule",
                    owner.name
                ),
            ));
        }
        _ => {}
    }
    let cfg = cfg.schedule_assignment(&format!("{key}={text}")).map_err(|e| ctx.err(span, err_key, Some(cn), e))?;
    registry::build::<f64>(optlab_optim::Layout::single("x", 2), &cfg)
        .map_err(|e| ctx.err(span, err_key, Some(cn), e))?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[experiment]
name = "t"
title = "T"

[[comparison]]
name = "grid"
tasks = ["rosenbrock", "blobs-two-layer"]
seeds = [0, 1]
steps = 100
epochs = 2
optimizers = [
    { name = "adam", set = { lr = 1e-2 } },
    { name = "sgd", set = { momentum = 0.9 }, label = "sgd+m" },
]
targets = { rosenbrock = 1e-6 }

[comparison.grid]
beta1 = [0.7, 0.9]
batch_size = [8, 32]
"#;

    /// Parses `text` expecting an error; returns its message.
    fn err(text: &str) -> String {
        match parse(text, "exp.toml", "exp") {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    /// `GOOD` with `from` replaced by `to` (which must occur).
    fn bad(from: &str, to: &str) -> String {
        assert!(GOOD.contains(from), "{from}");
        err(&GOOD.replacen(from, to, 1))
    }

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).expect("needle") + 1
    }

    #[test]
    fn good_file_parses_with_everything_resolved() {
        let e = parse(GOOD, "exp.toml", "exp").unwrap();
        assert_eq!(e.info.name, "t");
        assert_eq!(e.info.source, GOOD);
        let c = &e.comparisons[0];
        assert_eq!(c.seeds, vec![0, 1]);
        assert_eq!(c.info.swept, vec!["beta1", "batch_size"]);
        assert_eq!(c.sweep.len(), 4);
        assert_eq!(c.sweep.point(1), ["0.7", "32"]);
        assert_eq!(c.optimizers[0].label, "adam lr=0.01");
        assert_eq!(c.optimizers[1].label, "sgd+m");
        assert_eq!(c.function.steps, 100);
        assert_eq!(c.network.epochs, 2);
        assert_eq!(c.info.targets.get("rosenbrock"), Some(&1e-6));
        assert_eq!(c.optimizers[0].line, line_of(GOOD, "name = \"adam\""));
    }

    #[test]
    fn out_of_range_sweep_value_names_file_line_key_comparison() {
        let m = bad("beta1 = [0.7, 0.9]", "beta1 = [0.7, 1.5]");
        assert!(
            m.starts_with(&format!(
                "exp.toml:{}: key `beta1` in comparison `grid`: value 1.5 out of range [0, 1)",
                line_of(GOOD, "beta1 =")
            )),
            "{m}"
        );
    }

    #[test]
    fn unknown_key_is_reported_with_line() {
        let m = bad("steps = 100", "stepz = 100");
        assert!(m.starts_with(&format!("exp.toml:{}: key `stepz`", line_of(GOOD, "steps = 100"))), "{m}");
        assert!(m.contains("unknown field"), "{m}");
    }

    #[test]
    fn wrong_type_is_reported_with_line_and_key() {
        let m = bad("steps = 100", "steps = \"many\"");
        assert!(m.starts_with(&format!("exp.toml:{}: key `steps`", line_of(GOOD, "steps = 100"))), "{m}");
        assert!(m.contains("invalid type"), "{m}");
    }

    #[test]
    fn out_of_range_setting() {
        let m = bad("steps = 100", "steps = 0");
        assert!(
            m.starts_with(&format!(
                "exp.toml:{}: key `steps` in comparison `grid`: value 0 out of range",
                line_of(GOOD, "steps = 100")
            )),
            "{m}"
        );
        let m = bad("epochs = 2", "epochs = 2\nval_fraction = 1.0");
        assert!(m.contains(": key `val_fraction` in comparison `grid`: value 1 out of range [0, 1)"), "{m}");
    }

    #[test]
    fn unknown_optimizer() {
        let m = bad("name = \"adam\"", "name = \"adamm\"");
        assert!(
            m.starts_with(&format!(
                "exp.toml:{}: key `name` in comparison `grid`: unknown optimizer `adamm`",
                line_of(GOOD, "name = \"adam\"")
            )),
            "{m}"
        );
        assert!(m.contains("known optimizers: sgd"), "{m}");
    }

    #[test]
    fn unknown_task() {
        let m = bad("tasks = [\"rosenbrock\"", "tasks = [\"rosenbrok\"");
        assert!(
            m.starts_with(&format!(
                "exp.toml:{}: key `tasks` in comparison `grid`: unknown task `rosenbrok`",
                line_of(GOOD, "tasks =")
            )),
            "{m}"
        );
    }

    #[test]
    fn unknown_hyperparameter_in_set() {
        let m = bad("set = { lr = 1e-2 }", "set = { lr = 1e-2, betta1 = 0.9 }");
        assert!(
            m.starts_with(&format!(
                "exp.toml:{}: key `betta1` in comparison `grid`: unknown hyperparameter of optimizer `adam`",
                line_of(GOOD, "name = \"adam\"")
            )),
            "{m}"
        );
    }

    #[test]
    fn invalid_hyperparameter_value_in_set() {
        let m = bad("momentum = 0.9", "momentum = 1.0");
        assert!(m.contains(": key `momentum` in comparison `grid`: value 1 out of range [0, 1)"), "{m}");
        let m = bad("momentum = 0.9", "nesterov = \"maybe\"");
        assert!(m.contains(": key `nesterov` in comparison `grid`: invalid value `maybe`"), "{m}");
    }

    #[test]
    fn swept_key_no_optimizer_has() {
        let m = bad("beta1 = [0.7, 0.9]", "rho = [0.7, 0.9]");
        assert!(
            m.starts_with(&format!(
                "exp.toml:{}: key `rho` in comparison `grid`: no optimizer of the comparison has this hyperparameter",
                line_of(GOOD, "beta1 =")
            )),
            "{m}"
        );
    }

    #[test]
    fn bad_schedule() {
        let m = bad("batch_size = [8, 32]", "lr_schedule = [\"none\", \"cosine(t_max=-3)\"]");
        assert!(
            m.starts_with(&format!(
                "exp.toml:{}: key `lr_schedule` in comparison `grid`:",
                line_of(GOOD, "batch_size = [8")
            )),
            "{m}"
        );
        assert!(m.contains("t_max"), "{m}");
        let m = bad("label = \"sgd+m\"", "label = \"sgd+m\", schedules = { lr = \"wobble(3)\" }");
        assert!(m.contains(": key `lr` in comparison `grid`:") && m.contains("wobble"), "{m}");
    }

    #[test]
    fn setting_for_a_kind_of_task_the_comparison_lacks() {
        let m = bad("tasks = [\"rosenbrock\", \"blobs-two-layer\"]", "tasks = [\"rosenbrock\"]");
        assert!(m.contains(": key `epochs` in comparison `grid`: this setting is for network tasks"), "{m}");
    }

    #[test]
    fn list_lengths_must_match_and_grid_excludes_list() {
        let text = GOOD
            .replace("[comparison.grid]", "[comparison.list]")
            .replace("batch_size = [8, 32]", "batch_size = [8, 16, 32]");
        let m = err(&text);
        assert!(
            m.starts_with(&format!(
                "exp.toml:{}: key `batch_size` in comparison `grid`: a list zips its keys: this key has 3 values and `beta1` has 2",
                line_of(&text, "batch_size = [8")
            )),
            "{m}"
        );
        let ok = parse(&GOOD.replace("[comparison.grid]", "[comparison.list]"), "f", "s").unwrap();
        assert_eq!(ok.comparisons[0].sweep.points().collect::<Vec<_>>(), [["0.7", "8"], ["0.9", "32"]]);
        let m = err(&format!("{GOOD}\n[comparison.list]\nlr = [0.1]\n"));
        assert!(m.contains("a comparison has a grid or a list, not both"), "{m}");
    }

    #[test]
    fn seeds_target_and_duplicates() {
        let m = bad("seeds = [0, 1]", "seeds = 0");
        assert!(
            m.starts_with(&format!(
                "exp.toml:{}: key `seeds` in comparison `grid`: value 0 out of range",
                line_of(GOOD, "seeds =")
            )),
            "{m}"
        );
        let m = bad("seeds = [0, 1]", "seeds = [0, 0]");
        assert!(m.contains("seed 0 is listed twice"), "{m}");
        let m = bad("targets = { rosenbrock = 1e-6 }", "targets = { beale = 1e-6 }");
        assert!(
            m.contains(
                ": key `beale` in comparison `grid`: target for `beale`, which is not one of the comparison's tasks"
            ),
            "{m}"
        );
        let m = bad("label = \"sgd+m\"", "label = \"adam lr=0.01\"");
        assert!(m.contains("two optimizers have the label `adam lr=0.01`"), "{m}");
    }

    #[test]
    fn seeds_as_count_and_default_start() {
        let e = parse(&GOOD.replace("seeds = [0, 1]", "seeds = 3\nstart = \"default\""), "f", "s").unwrap();
        assert_eq!(e.comparisons[0].seeds, vec![0, 1, 2]);
        assert_eq!(e.comparisons[0].function.start, StartRule::Default);
        let m = bad("seeds = [0, 1]", "start = [1.0, 2.0, 3.0]");
        assert!(
            m.contains(
                "key `start` in comparison `grid`: the point has 3 coordinates and `rosenbrock` has dimension 2"
            ),
            "{m}"
        );
    }

    #[test]
    fn missing_experiment_or_comparison() {
        let m = err("[[comparison]]\nname = \"a\"\ntasks = [\"sphere\"]\noptimizers = [{ name = \"adam\" }]\n");
        assert!(m.contains("missing field `experiment`"), "{m}");
        let m = err("[experiment]\nname = \"x\"\n");
        assert!(m.starts_with("exp.toml:1: key `comparison`"), "{m}");
    }

    #[test]
    fn schedule_sweep_keys() {
        let text = GOOD.replace("batch_size = [8, 32]", "\"schedule.beta1\" = [\"none\", \"exponential(gamma=0.99)\"]");
        let e = parse(&text, "f", "s").unwrap();
        let c = &e.comparisons[0];
        assert_eq!(c.sweep.keys[1], ("schedule.beta1".to_string(), SweepTarget::Schedule("beta1".into())));
        let m = err(&GOOD.replace("batch_size = [8, 32]", "schedule.lr = [\"none\"]"));
        assert!(m.contains("must be quoted"), "{m}");
        let m = err(&GOOD.replace("batch_size = [8, 32]", "\"schedule.nesterov\" = [\"none\"]"));
        assert!(
            m.contains(
                "key `schedule.nesterov` in comparison `grid`: no optimizer of the comparison has a schedulable"
            ),
            "{m}"
        );
    }

    #[test]
    fn divergence_factor_is_a_network_setting_above_1() {
        let e = parse(&GOOD.replace("epochs = 2", "epochs = 2\ndivergence_factor = 1e4"), "f", "s").unwrap();
        assert_eq!(e.comparisons[0].network.divergence_factor, Some(1e4));
        assert_eq!(parse(GOOD, "f", "s").unwrap().comparisons[0].network.divergence_factor, None);
        let text = GOOD.replace("epochs = 2", "epochs = 2\ndivergence_factor = 0.5");
        let m = parse(&text, "exp.toml", "s").unwrap_err().to_string();
        let line = line_of(&text, "divergence_factor = 0.5");
        assert!(m.starts_with(&format!("exp.toml:{line}: key `divergence_factor` in comparison `grid`")), "{m}");
    }

    #[test]
    fn grad_histograms_is_a_network_setting() {
        let e = parse(&GOOD.replace("epochs = 2", "epochs = 2\ngrad_histograms = true"), "f", "s").unwrap();
        assert!(e.comparisons[0].network.grad_histograms);
        assert!(!parse(GOOD, "f", "s").unwrap().comparisons[0].network.grad_histograms);
        let m = err(&GOOD.replace("epochs = 2", "epochs = 2\ngrad_histograms = 1"));
        assert!(m.contains("grad_histograms"), "{m}");
        let text = GOOD.replace("tasks = [\"rosenbrock\", \"blobs-two-layer\"]", "tasks = [\"rosenbrock\"]");
        let text = text.replace("epochs = 2\n", "grad_histograms = true\n").replace("batch_size = [8, 32]\n", "");
        let m = err(&text);
        assert!(
            m.contains("key `grad_histograms`") && m.contains("for network tasks, and the comparison has none"),
            "{m}"
        );
    }

    #[test]
    fn landscape_is_a_network_setting() {
        let e = parse(&GOOD.replace("epochs = 2", "epochs = 2\nlandscape = true"), "f", "s").unwrap();
        assert!(e.comparisons[0].network.landscape);
        assert!(!parse(GOOD, "f", "s").unwrap().comparisons[0].network.landscape);
        let text = GOOD.replace("epochs = 2", "epochs = 2\nlandscape = \"yes\"");
        let m = err(&text);
        let line = line_of(&text, "landscape = \"yes\"");
        assert!(m.contains(&format!(":{line}:")) && m.contains("landscape"), "{m}");
        let text = GOOD.replace("tasks = [\"rosenbrock\", \"blobs-two-layer\"]", "tasks = [\"rosenbrock\"]");
        let text = text.replace("epochs = 2\n", "landscape = true\n").replace("batch_size = [8, 32]\n", "");
        let m = err(&text);
        assert!(m.contains("key `landscape`") && m.contains("for network tasks, and the comparison has none"), "{m}");
    }

    #[test]
    fn log_every_is_a_network_setting_of_at_least_1() {
        let e = parse(&GOOD.replace("epochs = 2", "epochs = 2\nlog_every = 10"), "f", "s").unwrap();
        assert_eq!(e.comparisons[0].network.log_every, Some(10));
        assert_eq!(parse(GOOD, "f", "s").unwrap().comparisons[0].network.log_every, None);
        let text = GOOD.replace("epochs = 2", "epochs = 2\nlog_every = 0");
        let m = err(&text);
        let line = line_of(&text, "log_every = 0");
        assert!(
            m.contains(&format!(
                "exp.toml:{line}: key `log_every` in comparison `grid`: value 0 out of range (integer >= 1)"
            )),
            "{m}"
        );
        let text = GOOD.replace("tasks = [\"rosenbrock\", \"blobs-two-layer\"]", "tasks = [\"rosenbrock\"]");
        let text = text.replace("epochs = 2\n", "log_every = 5\n").replace("batch_size = [8, 32]\n", "");
        let m = err(&text);
        assert!(m.contains("key `log_every`") && m.contains("for network tasks, and the comparison has none"), "{m}");
    }

    #[test]
    fn plot_settings_choose_the_axis_and_the_smoothing_and_name_bad_values() {
        let with = |body: &str| format!("{GOOD}\n[comparison.plot]\n{body}\n");
        let e = parse(&with("x = \"epochs\"\nsmooth = 0.9"), "f", "s").unwrap();
        assert_eq!(e.comparisons[0].info.plot, PlotSettings { x: Some(PlotX::Epochs), smooth: 0.9 });
        let e = parse(&with("x = \"steps\""), "f", "s").unwrap();
        assert_eq!(e.comparisons[0].info.plot, PlotSettings { x: Some(PlotX::Steps), smooth: 0.0 });
        assert!(parse(GOOD, "f", "s").unwrap().comparisons[0].info.plot.is_default());
        let text = with("x = \"time\"");
        let m = err(&text);
        let line = line_of(&text, "x = \"time\"");
        assert!(
            m.contains(&format!(
                "exp.toml:{line}: key `plot.x` in comparison `grid`: `time`: expected \"steps\" or \"epochs\""
            )),
            "{m}"
        );
        for v in ["1", "1.5", "-0.1"] {
            let text = with(&format!("smooth = {v}"));
            let m = err(&text);
            let line = line_of(&text, "smooth =");
            assert!(m.contains(&format!("exp.toml:{line}: key `plot.smooth` in comparison `grid`: value")), "{m}");
            assert!(m.contains("out of range [0, 1)"), "{m}");
        }
        let text = with("smoth = 0.5");
        let m = err(&text);
        let line = line_of(&text, "smoth");
        assert!(m.contains(&format!("exp.toml:{line}: key `smoth`")) && m.contains("unknown field"), "{m}");
        let m = err(&with("smooth = \"high\""));
        assert!(m.contains("smooth"), "{m}");
        // Epochs are for network tasks.
        let text = GOOD.replace("tasks = [\"rosenbrock\", \"blobs-two-layer\"]", "tasks = [\"rosenbrock\"]");
        let text = text.replace("epochs = 2\n", "").replace("batch_size = [8, 32]\n", "");
        let text = format!("{text}\n[comparison.plot]\nx = \"epochs\"\n");
        let m = err(&text);
        assert!(m.contains("key `plot.x`") && m.contains("for network tasks"), "{m}");
    }

    #[test]
    fn early_stop_on_accuracy_or_loss() {
        let e =
            parse(&GOOD.replace("epochs = 2", "epochs = 2\npatience = 2\nearly_stop_on = \"acc\""), "f", "s").unwrap();
        assert_eq!(e.comparisons[0].network.early_stop_on, optlab_nn::EarlyStopOn::Acc);
        let e = parse(GOOD, "f", "s").unwrap();
        assert_eq!(e.comparisons[0].network.early_stop_on, optlab_nn::EarlyStopOn::Loss);
        let m = bad("epochs = 2", "epochs = 2\nearly_stop_on = \"f1\"");
        assert!(m.contains("early_stop_on") && m.contains("`f1`: expected `loss` or `acc`"), "{m}");
    }

    #[test]
    fn clipping_in_optimizer_entries() {
        let e = parse(
            &GOOD.replace(
                "{ name = \"adam\", set = { lr = 1e-2 } }",
                "{ name = \"adam\", set = { lr = 1e-2 }, clip_norm = 1, clip_value = 0.5 }",
            ),
            "f",
            "s",
        )
        .unwrap();
        let o = &e.comparisons[0].optimizers[0];
        assert_eq!((o.config.clip_norm, o.config.clip_value), (Some(1.0), Some(0.5)));
        assert_eq!(o.label, "adam lr=0.01 clip_norm=1 clip_value=0.5");
        assert_eq!(e.comparisons[0].optimizers[1].config.clip_norm, None);
        let m = bad("set = { lr = 1e-2 }", "set = { lr = 1e-2 }, clip_norm = -1");
        assert!(m.contains("clip_norm") && m.contains("expected a finite number > 0"), "{m}");
        let m = bad("set = { lr = 1e-2 }", "set = { lr = 1e-2 }, clip_value = 0");
        assert!(m.contains("clip_value"), "{m}");
    }

    #[test]
    fn weight_averaging_in_optimizer_entries() {
        let e = parse(
            &GOOD.replace(
                "{ name = \"adam\", set = { lr = 1e-2 } }",
                "{ name = \"adam\", set = { lr = 1e-2 }, average = { method = \"swa\", swa_start = 10, swa_lr = 0.05 } }",
            ),
            "f",
            "s",
        )
        .unwrap();
        let o = &e.comparisons[0].optimizers[0];
        let a = o.config.average.as_ref().unwrap();
        assert_eq!((a.method, a.swa_start, a.swa_lr), (optlab_optim::AverageMethod::Swa, 10, Some(0.05)));
        assert_eq!(o.label, "adam lr=0.01 average=swa(start=10,swa_lr=0.05)");
        assert_eq!(e.comparisons[0].optimizers[1].config.average, None);
        let m = bad("set = { lr = 1e-2 }", "set = { lr = 1e-2 }, average = { method = \"swa\", ema_decay = 0.9 }");
        assert!(m.contains("average") && m.contains("ema_decay") && m.contains("EMA's"), "{m}");
        let m = bad("set = { lr = 1e-2 }", "set = { lr = 1e-2 }, average = { method = \"swa\", decay = 0.9 }");
        assert!(m.contains("decay"), "{m}");
        let m = bad("set = { lr = 1e-2 }", "set = { lr = 1e-2 }, average = { method = \"polyak\" }");
        assert!(m.contains("polyak"), "{m}");
    }

    #[test]
    fn lookahead_inner_keys_in_set_and_schedules() {
        let e = parse(&GOOD.replace("{ name = \"adam\", set = { lr = 1e-2 } }", "{ name = \"lookahead\", set = { lr = 1e-2, inner = \"adam\", alpha = 0.8 }, schedules = { lr = \"cosine(t_max=10)\" } }"), "f", "s").unwrap();
        let o = &e.comparisons[0].optimizers[0];
        assert_eq!(o.config.set.get("lr").map(String::as_str), Some("0.01"));
        assert_eq!(o.config.schedules[0].key, "lr");
        // The wrapped optimizer's keys are checked against it (here adam's beta1 range).
        let m = bad("set = { lr = 1e-2 }", "set = { beta1 = 1.5 }").replace("adam", "?");
        assert!(m.contains("key `beta1` in comparison `grid`: value 1.5 out of range [0, 1)"), "{m}");
        let m = bad(
            "{ name = \"adam\", set = { lr = 1e-2 } }",
            "{ name = \"lookahead\", set = { momentum = 0.5, inner = \"adam\" } }",
        );
        assert!(
            m.contains("key `momentum` in comparison `grid`: unknown hyperparameter of optimizer `lookahead`; valid keys: k, alpha, inner; and of its inner optimizer `adam`: lr"),
            "{m}"
        );
        let m = bad("{ name = \"adam\", set = { lr = 1e-2 } }", "{ name = \"lookahead\", set = { beta1 = 1.5 } }");
        assert!(
            m.contains("key `beta1` in comparison `grid`: value 1.5 out of range [0, 1) (optimizer `adam`)"),
            "{m}"
        );
        let m = bad(
            "{ name = \"adam\", set = { lr = 1e-2 } }",
            "{ name = \"lookahead\", schedules = { k = \"cosine(t_max=10)\" } }",
        );
        assert!(m.contains("hyperparameter `k` of optimizer `lookahead` is not numeric"), "{m}");
        // Sweeps of the inner optimizer's keys apply to lookahead.
        let text =
            GOOD.replace("{ name = \"sgd\", set = { momentum = 0.9 }, label = \"sgd+m\" }", "{ name = \"lookahead\" }");
        let text = text.replace(
            "beta1 = [0.7, 0.9]",
            "lr = [0.1, 0.01]\nlr_schedule = [\"none\", \"cosine(t_max=10)\"]\nbeta1 = [0.7, 0.9]",
        );
        parse(&text, "f", "s").unwrap();
        let m = err(&text.replace("lr = [0.1, 0.01]", "lr = [0.1, -1.0]"));
        assert!(m.contains("key `lr` in comparison `grid`: value -1 out of range"), "{m}");
    }

    #[test]
    fn val_fraction_zero_is_accepted_without_what_needs_validation() {
        let e = parse(&GOOD.replace("epochs = 2", "epochs = 2\nval_fraction = 0.0"), "f", "s").unwrap();
        assert_eq!(e.comparisons[0].network.val_fraction, 0.0);
        let m = bad("epochs = 2", "epochs = 2\nval_fraction = 0.0\npatience = 3");
        assert!(
            m.starts_with(&format!(
                "exp.toml:{}: key `val_fraction` in comparison `grid`: val_fraction = 0 trains on every sample and leaves no validation set, and `patience` (line {}: early stopping",
                line_of(GOOD, "epochs = 2") + 1,
                line_of(GOOD, "epochs = 2") + 2
            )),
            "{m}"
        );
        // An integer 0 is the same value.
        let e = parse(&GOOD.replace("epochs = 2", "epochs = 2\nval_fraction = 0"), "f", "s").unwrap();
        assert_eq!(e.comparisons[0].network.val_fraction, 0.0);
        // Patience with a validation set is fine.
        parse(&GOOD.replace("epochs = 2", "epochs = 2\nval_fraction = 0.1\npatience = 3"), "f", "s").unwrap();
    }

    #[test]
    fn val_fraction_zero_refuses_plateau_schedules() {
        let plateau = "plateau(factor=0.5, patience=2)";
        // With a validation set, plateau schedules are fine.
        let with = format!("label = \"sgd+m\", schedules = {{ lr = \"{plateau}@epoch\" }}");
        parse(&GOOD.replace("label = \"sgd+m\"", &with), "f", "s").unwrap();
        let text = GOOD.replace("epochs = 2", "epochs = 2\nval_fraction = 0.0");
        let m = err(&text.replace(
            "label = \"sgd+m\"",
            &format!("label = \"sgd+m\", schedules = {{ lr = \"chained(exponential(gamma=0.9), {plateau})\" }}"),
        ));
        assert!(
            m.contains("key `val_fraction` in comparison `grid`:")
                && m.contains("optimizer `sgd+m` has a plateau schedule"),
            "{m}"
        );
        let m = err(&text.replace("batch_size = [8, 32]", &format!("lr_schedule = [\"none\", \"{plateau}\"]")));
        assert!(m.contains(&format!("the sweep has a plateau schedule (`lr_schedule` = \"{plateau}\")")), "{m}");
    }

    #[test]
    fn data_paths_are_checked_naming_file_comparison_task_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let text = |data: &str| {
            format!("[experiment]\nname = \"d\"\n[[comparison]]\nname = \"mn\"\ntasks = [\"mnist-mlp\", \"sphere\"]\ndata = \"{data}\"\noptimizers = [{{ name = \"adam\" }}]\n")
        };
        let missing = dir.path().join("nope");
        let e = parse(&text(missing.to_str().unwrap()), "d.toml", "d").unwrap();
        let m = check_data_paths(&e).unwrap_err().to_string();
        assert_eq!(
            m,
            format!(
                "d.toml:6: key `data` in comparison `mn`: data path `{}` of task `mnist-mlp` does not exist",
                missing.display()
            )
        );
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let m =
            check_data_paths(&parse(&text(file.to_str().unwrap()), "d.toml", "d").unwrap()).unwrap_err().to_string();
        assert!(m.contains("is not a folder (the MNIST tasks read a folder"), "{m}");
        check_data_paths(&parse(&text(dir.path().to_str().unwrap()), "d.toml", "d").unwrap()).unwrap();
        let m = check_data_paths(&parse(&text("relative/nope"), "d.toml", "d").unwrap()).unwrap_err().to_string();
        assert!(m.contains("`relative/nope` of task `mnist-mlp` does not exist (relative to "), "{m}");
        // The blobs tasks make their data: a path is refused when the file is read.
        let m = err(&text("x").replace("\"mnist-mlp\", \"sphere\"", "\"mnist-mlp\", \"blobs-neuron\""));
        assert!(
            m.starts_with("exp.toml:6: key `data` in comparison `mn`: task `blobs-neuron` trains on generated data"),
            "{m}"
        );
    }

    #[test]
    fn fmt_num_reads_back() {
        for x in [0.001, 1e-4, 0.9, 1.0, 3e-2, 12345678.0, 1e-300] {
            assert_eq!(fmt_num(x).parse::<f64>().unwrap(), x);
        }
        assert_eq!(fmt_num(1e-4), "1e-4");
        assert_eq!(fmt_num(0.01), "0.01");
    }

    #[test]
    fn a_baseline_names_one_of_the_optimizer_entries() {
        let with = |b: &str| {
            GOOD.replacen(
                "targets = { rosenbrock = 1e-6 }",
                &format!("targets = {{ rosenbrock = 1e-6 }}\nbaseline = \"{b}\""),
                1,
            )
        };
        let e = parse(&with("sgd+m"), "exp.toml", "exp").unwrap();
        assert_eq!(e.comparisons[0].info.baseline.as_deref(), Some("sgd+m"));
        assert_eq!(parse(GOOD, "exp.toml", "exp").unwrap().comparisons[0].info.baseline, None);
        let m = err(&with("sgd"));
        assert!(m.contains("baseline") && m.contains("`sgd` is not one of the comparison's optimizers"), "{m}");
        assert!(m.contains("`adam lr=0.01`, `sgd+m`") && m.starts_with("exp.toml:17: key `baseline`"), "{m}");
    }
}
