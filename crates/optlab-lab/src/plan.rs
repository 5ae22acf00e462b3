//! The plan: an experiment expanded into a deterministic, ordered list of runs, each with the
//! canonical JSON of its resolved configuration and the SHA-256 of that JSON (its identity for
//! resuming, sharding and merging).
//!
//! Order: comparisons in file order; within one, tasks, then optimizers, then sweep points
//! (grid: the last key varies fastest), then seeds, then random starts. A sweep key applies only
//! to the optimizers (and tasks) that have it; the others run once per distinct configuration.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use optlab_optim::{registry, Layout, OptimConfig, Spec};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{LabError, Result};
use crate::record::{ExperimentInfo, RunRecord, Status, TuneInfo, TuneMark};
use crate::spec::{
    applies, task_kind, wrapper_key, Comparison, Experiment, NetworkSettings, OptimizerEntry, StartRule, Sweep,
    SweepTarget, TaskKind, NO_SCHEDULE,
};

/// Where a test-function run starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// Random start `index` of `of` drawn in the function's start box from the run's seed.
    Random {
        index: u32,
        of: u32,
    },
    /// The function's first default start.
    Default,
    Point(Vec<f64>),
    /// The function's default start `i` (of `start = "defaults"`).
    DefaultAt(u32),
    /// Random tuning start `index` of `of`, drawn like [`Start::Random`] but from the tuning
    /// stream (so no tuning start is an evaluation start).
    Tuning {
        index: u32,
        of: u32,
    },
}

/// Resolved settings of a test-function run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionRun {
    pub dim: Option<usize>,
    pub start: Start,
    pub steps: u64,
    pub ftol: f64,
    pub xtol: f64,
    pub patience: u32,
    pub time_limit_s: Option<f64>,
    /// Most points kept of the series.
    pub points: u32,
}

/// Resolved task settings of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
// A plan holds one per comparison (not per run): the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum TaskSettings {
    Function(FunctionRun),
    Network(NetworkSettings),
}

/// One run of the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    /// Position in the whole plan (0-based).
    pub index: usize,
    pub comparison: String,
    pub task: String,
    pub kind: TaskKind,
    pub optimizer: OptimConfig,
    pub settings: TaskSettings,
    pub seed: u64,
    /// Swept key → value text, for the keys that apply to this run.
    pub swept: BTreeMap<String, String>,
    pub label: String,
    /// The comparison's target loss for this task.
    pub target: Option<f64>,
    /// The mark of a tuning run (phase one of the comparison's tuning protocol), also in its
    /// configuration as `tune`; None for an evaluation run.
    pub tune: Option<TuneMark>,
    /// The canonical JSON text (sorted keys, compact) of the resolved configuration; kept as text
    /// (a few hundred bytes) rather than as a JSON tree (several KB) so that large plans stay small.
    pub config_json: String,
    /// SHA-256 (hex) of `config_json`.
    pub hash: String,
}

impl RunSpec {
    /// The resolved configuration (comparison, task, optimizer, settings, seed) as JSON.
    pub fn config(&self) -> Value {
        serde_json::from_str(&self.config_json).expect("the plan writes valid JSON")
    }
}

/// An experiment's runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub info: ExperimentInfo,
    pub runs: Vec<RunSpec>,
    /// Phase two is not planned yet (see [`Plan::with_results`]); None when the plan is whole.
    pub waiting: Option<Waiting>,
}

/// `--shard I/N`: the runs whose plan index ≡ I−1 (mod N); I is 1-based, 1 <= I <= N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 || index == 0 || index > count {
            return Err(LabError::Usage(format!(
                "--shard {index}/{count}: expected I/N with N >= 1 and 1 <= I <= N (I is 1-based)"
            )));
        }
        Ok(Shard { index, count })
    }

    pub fn contains(&self, plan_index: usize) -> bool {
        plan_index % self.count == self.index - 1
    }
}

impl FromStr for Shard {
    type Err = LabError;
    fn from_str(s: &str) -> Result<Shard> {
        let bad = || LabError::Usage(format!("--shard `{s}`: expected I/N, e.g. 2/8 (I is 1-based, 1 <= I <= N)"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i = i.trim().parse::<usize>().map_err(|_| bad())?;
        let n = n.trim().parse::<usize>().map_err(|_| bad())?;
        Shard::new(i, n)
    }
}

/// JSON with object keys sorted at every level, as compact text (written directly, without
/// copying the value).
pub fn canonical_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push(b'{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, k).expect("strings serialise");
                    out.push(b':');
                    write(v, out);
                }
                out.push(b'}');
            }
            Value::Array(a) => {
                out.push(b'[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(v, out);
                }
                out.push(b']');
            }
            leaf => serde_json::to_writer(&mut *out, leaf).expect("JSON values serialise"),
        }
    }
    let mut out = Vec::with_capacity(512);
    write(v, &mut out);
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// A string as JSON text (quoted, escaped).
fn json_text(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// SHA-256 of text, as 64 lowercase hex digits.
pub fn sha256_hex(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in Sha256::digest(text.as_bytes()) {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Most runs the plan of one experiment may have. A plan is held in memory (about 2.5 KB per run,
/// so about 1.3 GB at the limit) and every run's configuration is hashed before anything runs; a
/// larger experiment is refused, with its size, before any run is built. Documented in
/// docs/experiments.md ("Plan size").
pub const MAX_RUNS: u128 = 500_000;

/// Whether sweep `target` applies to optimizer `spec` (configured with `set`) on a task of `kind`.
fn key_applies(target: &SweepTarget, kind: TaskKind, spec: &'static Spec, set: &BTreeMap<String, String>) -> bool {
    match target {
        SweepTarget::BatchSize => kind == TaskKind::Network,
        _ => applies(target, spec, set),
    }
}

/// The hyperparameters of `entry` that decide which keys apply at sweep point `j`: its own, with
/// the swept value of its wrapper key (Lookahead's `inner`) when that is swept.
fn point_set<'a>(entry: &'a OptimizerEntry, spec: &Spec, sweep: &Sweep, j: u128) -> Cow<'a, BTreeMap<String, String>> {
    let Some(wk) = wrapper_key(spec) else { return Cow::Borrowed(&entry.config.set) };
    match sweep.keys.iter().position(|(_, t)| *t == SweepTarget::Hyper(wk.to_string())) {
        Some(k) => {
            let mut set = entry.config.set.clone();
            set.insert(wk.to_string(), sweep.values[k][sweep.value_index(j, k)].clone());
            Cow::Owned(set)
        }
        None => Cow::Borrowed(&entry.config.set),
    }
}

/// Distinct configurations of `entry` on a task of `kind` over the sweep (a key that does not
/// apply does not multiply them), counted without building them.
fn distinct_points(sweep: &Sweep, kind: TaskKind, entry: &OptimizerEntry) -> u128 {
    let spec = registry::spec(&entry.config.name).expect("optimizers are checked by the spec");
    if sweep.zipped {
        // A list has as many points as values written in the file: project each.
        let mut seen = HashSet::new();
        for j in 0..sweep.len() {
            let set = point_set(entry, spec, sweep, j);
            let key: Vec<Option<usize>> = (0..sweep.keys.len())
                .map(|k| key_applies(&sweep.keys[k].1, kind, spec, &set).then(|| sweep.value_index(j, k)))
                .collect();
            seen.insert(key);
        }
        return seen.len() as u128;
    }
    let product = |set: &BTreeMap<String, String>, skip: Option<usize>| {
        sweep.keys.iter().zip(&sweep.values).enumerate().fold(1u128, |n, (k, ((_, t), vals))| {
            if Some(k) != skip && key_applies(t, kind, spec, set) {
                n.saturating_mul(vals.len() as u128)
            } else {
                n
            }
        })
    };
    let wrapper = wrapper_key(spec)
        .and_then(|wk| sweep.keys.iter().position(|(_, t)| *t == SweepTarget::Hyper(wk.to_string())).map(|k| (wk, k)));
    match wrapper {
        // Which keys apply depends on the wrapped optimizer: count per value of the wrapper key.
        Some((wk, k)) => sweep.values[k].iter().fold(0u128, |n, v| {
            let mut set = entry.config.set.clone();
            set.insert(wk.to_string(), v.clone());
            n.saturating_add(product(&set, Some(k)))
        }),
        None => product(&entry.config.set, None),
    }
}

/// Runs of each comparison of `exp`, counted without building them (saturating).
pub fn count_runs(exp: &Experiment) -> Vec<u128> {
    exp.comparisons
        .iter()
        .map(|cmp| {
            let mut n = 0u128;
            for task in &cmp.info.tasks {
                let kind = task_kind(task).expect("tasks are checked by the spec");
                let starts = match (kind, &cmp.function.start) {
                    (TaskKind::Function, StartRule::Random { count }) => *count as u128,
                    (TaskKind::Function, StartRule::Defaults { random }) => {
                        (default_start_count(task, cmp.function.dim) as u128).saturating_add(*random as u128)
                    }
                    _ => 1,
                };
                for entry in &cmp.optimizers {
                    let configs = distinct_points(&cmp.sweep, kind, entry);
                    let runs = configs.saturating_mul(cmp.seeds.len() as u128).saturating_mul(starts);
                    n = n.saturating_add(runs);
                    // Tuning runs (at most: a value the optimizer refuses is not run).
                    if let Some(t) = &cmp.tune {
                        let tune_starts = if kind == TaskKind::Function { t.info.starts as u128 } else { 1 };
                        // AlgoPerf: each value (a trial of one study) runs with its study's seed.
                        let seeds = if t.info.studies > 0 { 1 } else { t.info.seeds.len() as u128 };
                        let runs = configs
                            .saturating_mul(t.info.values.len() as u128)
                            .saturating_mul(seeds)
                            .saturating_mul(tune_starts);
                        n = n.saturating_add(runs);
                    }
                }
            }
            n
        })
        .collect()
}

/// A count as text (`u128::MAX` means at least that many).
fn count_text(n: u128) -> String {
    if n == u128::MAX {
        format!("more than {n}")
    } else {
        n.to_string()
    }
}

/// Refuses an experiment whose plan has more than [`MAX_RUNS`] runs, before building any;
/// returns the number of runs.
pub fn check_size(exp: &Experiment) -> Result<usize> {
    let sizes = count_runs(exp);
    let total = sizes.iter().fold(0u128, |a, &b| a.saturating_add(b));
    if total <= MAX_RUNS {
        return Ok(total as usize);
    }
    let (i, &largest) = sizes.iter().enumerate().max_by_key(|(_, &n)| n).expect("an experiment has comparisons");
    let cmp = &exp.comparisons[i];
    Err(LabError::Spec(format!(
        "{}:{}: the plan has {} runs, more than the limit of {MAX_RUNS} runs per experiment (comparison `{}` has {}); \
         split the experiment into several files or use fewer tasks, optimizers, sweep values, seeds or starts \
         (docs/experiments.md, \"Plan size\")",
        exp.file,
        cmp.line,
        count_text(total),
        cmp.info.name,
        count_text(largest)
    )))
}

/// One configuration of a comparison on a task: an optimizer entry at one sweep point.
#[derive(Clone)]
struct Point {
    entry: usize,
    cfg: OptimConfig,
    label: String,
    swept: BTreeMap<String, String>,
    net: NetworkSettings,
}

/// What the tuning protocol does with a configuration.
enum Role {
    /// The tuned key is one of the configuration's: its value is chosen in phase one.
    Tuned,
    /// The optimizer entry sets the key itself: used as given.
    Fixed,
    /// The optimizer has no such key.
    NotApplicable,
}

fn role(cmp: &Comparison, p: &Point) -> Role {
    let Some(t) = &cmp.tune else { return Role::NotApplicable };
    let spec = registry::spec(&p.cfg.name).expect("optimizers are checked by the spec");
    let keys = t.info.keys();
    if keys.iter().any(|k| cmp.optimizers[p.entry].config.set.contains_key(k)) {
        Role::Fixed
    } else if keys.iter().all(|k| applies(&SweepTarget::Hyper(k.clone()), spec, &p.cfg.set)) {
        Role::Tuned
    } else {
        Role::NotApplicable
    }
}

/// The distinct configurations of `cmp` on a task of `kind`, in plan order (entries, then sweep
/// points), each checked by building it on a tiny layout.
fn points(exp: &Experiment, cmp: &Comparison, kind: TaskKind) -> Result<Vec<Point>> {
    let cn = &cmp.info.name;
    let mut out = Vec::new();
    for (ei, entry) in cmp.optimizers.iter().enumerate() {
        let spec = registry::spec(&entry.config.name).expect("optimizers are checked by the spec");
        let mut done: HashSet<BTreeMap<String, String>> = HashSet::new();
        for j in 0..cmp.sweep.len() {
            let point = cmp.sweep.point(j);
            let probe = point_set(entry, spec, &cmp.sweep, j);
            let mut swept = BTreeMap::new();
            for ((key, target), value) in cmp.sweep.keys.iter().zip(&point) {
                if key_applies(target, kind, spec, &probe) {
                    swept.insert(key.clone(), value.to_string());
                }
            }
            if !done.insert(swept.clone()) {
                continue;
            }
            let mut cfg = entry.config.clone();
            let mut net = cmp.network.clone();
            for (key, target) in &cmp.sweep.keys {
                let Some(value) = swept.get(key) else { continue };
                match target {
                    SweepTarget::BatchSize => {
                        net.batch_size = value.parse().expect("batch sizes are checked by the spec");
                    }
                    SweepTarget::Hyper(k) => cfg = cfg.set(k, value),
                    SweepTarget::Schedule(k) => {
                        if value == NO_SCHEDULE {
                            cfg.schedules.retain(|s| &s.key != k);
                        } else {
                            cfg = cfg.schedule_assignment(&format!("{k}={value}")).map_err(|e| {
                                LabError::Spec(format!(
                                    "{}:{}: key `{key}` in comparison `{cn}`: {e}",
                                    exp.file, cmp.line
                                ))
                            })?;
                        }
                    }
                }
            }
            registry::build::<f64>(Layout::single("x", 2), &cfg).map_err(|e| {
                LabError::Spec(format!(
                    "{}:{}: key `optimizers` in comparison `{cn}`: {} with {}: {e}",
                    exp.file,
                    entry.line,
                    entry.label,
                    swept.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
                ))
            })?;
            let mut label = entry.label.clone();
            for (key, _) in &cmp.sweep.keys {
                if let Some(v) = swept.get(key) {
                    label.push_str(&format!(" {key}={v}"));
                }
            }
            out.push(Point { entry: ei, cfg, label, swept, net });
        }
    }
    Ok(out)
}

/// The evaluation starts of a comparison's runs on `task`.
fn eval_starts(cmp: &Comparison, task: &str, kind: TaskKind) -> Vec<Start> {
    match (&cmp.function.start, kind) {
        (_, TaskKind::Network) => vec![Start::Default],
        (StartRule::Random { count }, _) => (0..*count).map(|i| Start::Random { index: i, of: *count }).collect(),
        (StartRule::Default, _) => vec![Start::Default],
        (StartRule::Defaults { random }, _) => {
            let n = default_start_count(task, cmp.function.dim);
            let mut v: Vec<Start> = (0..n as u32).map(Start::DefaultAt).collect();
            v.extend((0..*random).map(|i| Start::Random { index: i, of: *random }));
            v
        }
        (StartRule::Point(p), _) => vec![Start::Point(p.clone())],
    }
}

/// The number of default starts of test function `task`.
fn default_start_count(task: &str, dim: Option<usize>) -> usize {
    optlab_functions::by_name(task, dim).map_or(1, |f| f.default_starts().len())
}

/// The tuning starts of a comparison's tuning runs on a task of `kind`.
fn tuning_starts(tune: &TuneInfo, kind: TaskKind) -> Vec<Start> {
    match kind {
        TaskKind::Network => vec![Start::Default],
        TaskKind::Function => (0..tune.starts).map(|i| Start::Tuning { index: i, of: tune.starts }).collect(),
    }
}

/// What a run's configuration says about the tuning protocol: a tuning run holds its
/// [`TuneMark`] as `tune`; an evaluation run whose value was chosen holds the key and the value as
/// `tuned` (so that it is not the run of another entry that fixes the same value).
#[derive(Clone, Copy)]
enum Marked<'m> {
    Tuning(&'m TuneMark),
    Tuned(&'m TunedValue),
}

/// The chosen value of an evaluation run (its configuration's `tuned`).
#[derive(Clone, Debug, Serialize)]
struct TunedValue {
    key: String,
    value: String,
}

impl Marked<'_> {
    fn field(&self) -> &'static str {
        match self {
            Marked::Tuning(_) => "tune",
            Marked::Tuned(_) => "tuned",
        }
    }
    fn mark(&self) -> Value {
        match self {
            Marked::Tuning(m) => serde_json::to_value(m),
            Marked::Tuned(t) => serde_json::to_value(t),
        }
        .expect("marks serialise")
    }
}

/// Builds the runs of a plan one configuration at a time, refusing two runs of one hash.
struct Builder<'e> {
    exp: &'e Experiment,
    runs: Vec<RunSpec>,
    seen: HashMap<String, usize>,
}

impl Builder<'_> {
    /// The runs of configuration `p` of `cmp` on `task` over `seeds` × `starts` (with `mark` for
    /// tuning runs, whose configuration holds it as `tune`).
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        cmp: &Comparison,
        task: &str,
        kind: TaskKind,
        p: &Point,
        seeds: &[u64],
        starts: &[Start],
        mark: Option<Marked<'_>>,
    ) -> Result<()> {
        let (exp, cn) = (self.exp, &cmp.info.name);
        let entry = &cmp.optimizers[p.entry];
        let (cfg, label, swept) = (&p.cfg, &p.label, &p.swept);
        // The canonical JSON of {comparison, optimizer, seed, settings, task[, tune]} (keys in
        // sorted order), the per-point parts written once.
        let optimizer_json = canonical_json(&serde_json::to_value(cfg).expect("configurations serialise"));
        let head = format!("{{\"comparison\":{},\"optimizer\":{optimizer_json},\"seed\":", json_text(cn));
        let tail = match mark {
            None => format!(",\"task\":{}}}", json_text(task)),
            Some(m) => format!(
                ",\"task\":{},\"{}\":{}}}",
                json_text(task),
                m.field(),
                canonical_json(&serde_json::to_value(m.mark()).expect("marks serialise"))
            ),
        };
        for &seed in seeds {
            for start in starts {
                let settings = match kind {
                    TaskKind::Network => TaskSettings::Network(p.net.clone()),
                    TaskKind::Function => {
                        let f = &cmp.function;
                        TaskSettings::Function(FunctionRun {
                            dim: f.dim,
                            start: start.clone(),
                            steps: f.steps,
                            ftol: f.ftol,
                            xtol: f.xtol,
                            patience: f.patience,
                            time_limit_s: f.time_limit_s,
                            // A tuning run is scored by its end: its first and last points.
                            // A run from a random start keeps `random_points` when given.
                            points: match (mark, start) {
                                (Some(Marked::Tuning(_)), _) => TUNING_POINTS,
                                (_, Start::Random { .. }) => f.random_points.unwrap_or(f.points),
                                _ => f.points,
                            },
                        })
                    }
                };
                let settings_json = canonical_json(&serde_json::to_value(&settings).expect("settings serialise"));
                let config_json = format!("{head}{seed},\"settings\":{settings_json}{tail}");
                let hash = sha256_hex(&config_json);
                let index = self.runs.len();
                if let Some(&other) = self.seen.get(&hash) {
                    return Err(LabError::Spec(format!(
                        "{}:{}: key `optimizers` in comparison `{cn}`: `{label}` on `{task}` (seed {seed}) has the same configuration as `{}`; remove one",
                        exp.file, entry.line, self.runs[other].label
                    )));
                }
                self.seen.insert(hash.clone(), index);
                self.runs.push(RunSpec {
                    index,
                    comparison: cn.clone(),
                    task: task.to_string(),
                    kind,
                    optimizer: cfg.clone(),
                    settings,
                    seed,
                    swept: swept.clone(),
                    label: label.clone(),
                    target: cmp.info.targets.get(task).copied(),
                    tune: match mark {
                        Some(Marked::Tuning(m)) => Some(m.clone()),
                        _ => None,
                    },
                    config_json,
                    hash,
                });
            }
        }
        Ok(())
    }
}

/// A task of a tuned comparison with its configurations.
type TaskPoints = (String, TaskKind, Vec<Point>);

/// Points kept of a tuning run of a test function: the first and the last.
pub const TUNING_POINTS: u32 = 2;

/// Phase two of a plan that is not planned yet: the tuning runs it needs are not all stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// The comparisons whose evaluation runs wait.
    pub comparisons: Vec<String>,
    /// Tuning runs of the plan.
    pub tuning: usize,
    /// Of those, stored (and not failed).
    pub stored: usize,
    /// Of those, stored as failed (run again to retry them).
    pub failed: usize,
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the evaluation runs of comparison{} {} are planned once every tuning run is in the store: {} of {} are",
            if self.comparisons.len() == 1 { "" } else { "s" },
            self.comparisons.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
            self.stored,
            self.tuning
        )?;
        if self.failed > 0 {
            write!(f, " ({} failed and are run again by the next `optlab run`)", self.failed)?;
        }
        Ok(())
    }
}

impl Plan {
    /// Expands a checked experiment into its phase one, with nothing stored yet: every run of
    /// the comparisons without a tuning protocol and the tuning runs of those with one (for an
    /// experiment without `[comparison.tune]`, the whole plan). See [`Plan::with_results`].
    pub fn new(exp: &Experiment) -> Result<Plan> {
        Plan::with_results(exp, &[])
    }

    /// Expands a checked experiment given the runs already `stored` (their summaries suffice):
    /// phase one (the runs of comparisons without a tuning protocol, then the tuning runs, in
    /// file order), and, once every tuning run is stored and none failed, phase two (the
    /// evaluation runs of the tuned comparisons, each configuration with the value the protocol
    /// chose for it on its task; see [`crate::tune`]). Phase one's runs keep their plan indices
    /// when phase two is added, so shards stay the same. Every resolved optimizer configuration
    /// is built once on a tiny layout, so a combination the registry refuses is reported before
    /// anything runs. A plan of more than [`MAX_RUNS`] runs is refused (counted first, so nothing
    /// large is built).
    pub fn with_results(exp: &Experiment, stored: &[RunRecord]) -> Result<Plan> {
        let total = check_size(exp)?;
        let mut b = Builder { exp, runs: Vec::with_capacity(total), seen: HashMap::with_capacity(total) };
        let mut tuned: Vec<(&Comparison, Vec<TaskPoints>)> = Vec::new();
        for cmp in &exp.comparisons {
            let mut per_task = Vec::new();
            for task in &cmp.info.tasks {
                let kind = task_kind(task).expect("tasks are checked by the spec");
                let pts = points(exp, cmp, kind)?;
                match &cmp.tune {
                    None => {
                        let starts = eval_starts(cmp, task, kind);
                        for p in &pts {
                            b.push(cmp, task, kind, p, &cmp.seeds, &starts, None)?;
                        }
                    }
                    Some(t) => {
                        let starts = tuning_starts(&t.info, kind);
                        for p in pts.iter().filter(|p| matches!(role(cmp, p), Role::Tuned)) {
                            let mut valid = 0;
                            let mut refusal = None;
                            for (i, v) in t.info.values.iter().enumerate() {
                                let assigned = t.info.assignments(v);
                                let cfg = assigned.iter().fold(p.cfg.clone(), |c, (k, x)| c.set(k, x));
                                if let Err(e) = registry::build::<f64>(Layout::single("x", 2), &cfg) {
                                    refusal.get_or_insert(e);
                                    continue;
                                }
                                valid += 1;
                                let mut swept = p.swept.clone();
                                let mut label = p.label.clone();
                                for (k, x) in &assigned {
                                    swept.insert(k.clone(), x.clone());
                                    label.push_str(&format!(" {k}={x}"));
                                }
                                let study = t.info.study_of(i);
                                if let Some(s) = study {
                                    label.push_str(&format!(" study={}", s + 1));
                                }
                                let q = Point { entry: p.entry, cfg, label, swept, net: p.net.clone() };
                                let mark = TuneMark {
                                    base: p.label.clone(),
                                    key: t.info.key.clone(),
                                    value: v.clone(),
                                    study,
                                    // Only network runs are pruned (between epochs).
                                    prune: t.info.prune.filter(|_| kind == TaskKind::Network),
                                };
                                // AlgoPerf: study `s` runs with tuning seed `s` only.
                                let seeds = match study {
                                    Some(s) => &t.info.seeds[s as usize..s as usize + 1],
                                    None => &t.info.seeds[..],
                                };
                                b.push(cmp, task, kind, &q, seeds, &starts, Some(Marked::Tuning(&mark)))?;
                            }
                            if valid == 0 {
                                return Err(LabError::Spec(format!(
                                    "{}:{}: key `tune.values` in comparison `{}`: `{}` accepts none of the values of `{}`: {}",
                                    exp.file,
                                    t.line,
                                    cmp.info.name,
                                    p.label,
                                    t.info.key,
                                    refusal.map(|e| e.to_string()).unwrap_or_default()
                                )));
                            }
                        }
                        per_task.push((task.clone(), kind, pts));
                    }
                }
            }
            if cmp.tune.is_some() {
                tuned.push((cmp, per_task));
            }
        }
        if tuned.is_empty() {
            return Ok(Plan { info: exp.info.clone(), runs: b.runs, waiting: None });
        }
        // Phase two: only once every tuning run is stored (and none failed).
        let by_hash: HashMap<&str, &RunRecord> = stored.iter().map(|r| (r.hash.as_str(), r)).collect();
        let tuning: Vec<&RunSpec> = b.runs.iter().filter(|r| r.tune.is_some()).collect();
        let found: Vec<&RunRecord> = tuning.iter().filter_map(|r| by_hash.get(r.hash.as_str()).copied()).collect();
        let failed = found.iter().filter(|r| r.status == Status::Failed).count();
        if found.len() < tuning.len() || failed > 0 {
            let waiting = Waiting {
                comparisons: tuned.iter().map(|(c, _)| c.info.name.clone()).collect(),
                tuning: tuning.len(),
                stored: found.len() - failed,
                failed,
            };
            return Ok(Plan { info: exp.info.clone(), runs: b.runs, waiting: Some(waiting) });
        }
        for (cmp, per_task) in tuned {
            let t = cmp.tune.as_ref().expect("tuned comparisons have a protocol");
            let mine: Vec<&RunRecord> = found.iter().copied().filter(|r| r.comparison == cmp.info.name).collect();
            let choices = crate::tune::choose(&t.info, &mine);
            for (task, kind, pts) in per_task {
                let starts = eval_starts(cmp, &task, kind);
                for p in &pts {
                    match role(cmp, p) {
                        Role::Tuned => {
                            let c = choices.iter().find(|c| c.task == task && c.base == p.label);
                            let Some(v) = c.and_then(|c| c.chosen_value()) else {
                                return Err(LabError::Store(format!(
                                    "comparison `{}`: no tuning result for `{}` on `{task}` among the stored runs",
                                    cmp.info.name, p.label
                                )));
                            };
                            let cfg = t.info.assignments(v).iter().fold(p.cfg.clone(), |c, (k, x)| c.set(k, x));
                            let q = Point { cfg, ..p.clone() };
                            let tuned = TunedValue { key: t.info.key.clone(), value: v.to_string() };
                            b.push(cmp, &task, kind, &q, &cmp.seeds, &starts, Some(Marked::Tuned(&tuned)))?;
                        }
                        Role::Fixed | Role::NotApplicable => b.push(cmp, &task, kind, p, &cmp.seeds, &starts, None)?,
                    }
                }
            }
        }
        Ok(Plan { info: exp.info.clone(), runs: b.runs, waiting: None })
    }

    /// The tuning runs of the plan (phase one of its tuning protocols).
    pub fn tuning_runs(&self) -> impl Iterator<Item = &RunSpec> + '_ {
        self.runs.iter().filter(|r| r.tune.is_some())
    }

    /// The runs of one shard (all runs without one), in plan order.
    pub fn select(&self, shard: Option<Shard>) -> Vec<&RunSpec> {
        self.runs.iter().filter(|r| shard.is_none_or(|s| s.contains(r.index))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;
    use proptest::prelude::*;

    const EXP: &str = r#"
[experiment]
name = "p"

[[comparison]]
name = "betas"
tasks = ["blobs-two-layer", "sphere"]
seeds = 2
starts = 3
optimizers = [{ name = "adam" }, { name = "sgd" }]

[comparison.grid]
beta1 = [0.7, 0.9, 0.99]
beta2 = [0.8, 0.9, 0.99]
batch_size = [8, 32]

[[comparison]]
name = "lr"
tasks = ["rosenbrock"]
start = [-1.5, 2.0]
optimizers = [{ name = "adam" }, { name = "rmsprop" }]

[comparison.list]
lr = [0.1, 0.01]
lr_schedule = ["none", "cosine(t_max=100)"]
"#;

    fn plan() -> Plan {
        Plan::new(&parse(EXP, "p.toml", "p").unwrap()).unwrap()
    }

    #[test]
    fn grid_sizes_and_keys_that_do_not_apply() {
        let p = plan();
        let count = |c: &str, t: &str, o: &str| {
            p.runs.iter().filter(|r| r.comparison == c && r.task == t && r.optimizer.name == o).count()
        };
        // Network task: adam 3×3×2 points × 2 seeds; sgd has no betas: 2 batch sizes × 2 seeds.
        assert_eq!(count("betas", "blobs-two-layer", "adam"), 36);
        assert_eq!(count("betas", "blobs-two-layer", "sgd"), 4);
        // Function task: batch size does not apply; 3 random starts per seed.
        assert_eq!(count("betas", "sphere", "adam"), 9 * 2 * 3);
        assert_eq!(count("betas", "sphere", "sgd"), 2 * 3);
        assert_eq!(count("lr", "rosenbrock", "adam"), 2);
        assert_eq!(p.runs.len(), 36 + 4 + 54 + 6 + 4);
        assert!(p.runs.iter().enumerate().all(|(i, r)| r.index == i));
        let r = p.runs.iter().find(|r| r.optimizer.name == "adam" && r.task == "blobs-two-layer").unwrap();
        assert_eq!(r.label, "adam beta1=0.7 beta2=0.8 batch_size=8");
        assert_eq!(r.swept.len(), 3);
        let TaskSettings::Network(n) = &r.settings else { panic!() };
        assert_eq!(n.batch_size, 8);
        assert_eq!(r.optimizer.set.get("beta2").map(String::as_str), Some("0.8"));
        let s = p.runs.iter().find(|r| r.optimizer.name == "sgd" && r.task == "sphere").unwrap();
        assert!(s.swept.is_empty());
        assert_eq!(s.label, "sgd");
        let lr: Vec<_> = p.runs.iter().filter(|r| r.comparison == "lr").collect();
        assert!(lr[0].optimizer.schedules.is_empty());
        assert_eq!(lr[1].optimizer.schedules.len(), 1);
        assert_eq!(lr[1].optimizer.set.get("lr").map(String::as_str), Some("0.01"));
        let TaskSettings::Function(f) = &lr[0].settings else { panic!() };
        assert_eq!(f.start, Start::Point(vec![-1.5, 2.0]));
    }

    #[test]
    fn hashes_are_stable_distinct_and_of_the_canonical_config() {
        let (a, b) = (plan(), plan());
        assert_eq!(a, b);
        let mut hashes: Vec<&str> = a.runs.iter().map(|r| r.hash.as_str()).collect();
        for r in &a.runs {
            // The text written piecewise is the canonical JSON of the configuration.
            assert_eq!(r.config_json, canonical_json(&r.config()));
            assert_eq!(r.hash, sha256_hex(&canonical_json(&r.config())));
            assert_eq!(r.hash.len(), 64);
        }
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), a.runs.len());
        // Pinned: the hash must not change between builds or versions (resume and merge rely on it).
        let last = a.runs.last().unwrap();
        assert_eq!(
            last.config_json,
            r#"{"comparison":"lr","optimizer":{"groups":[],"name":"rmsprop","non_finite":"error","schedules":[{"key":"lr","per_epoch":false,"schedule":{"eta_min":0.0,"kind":"cosine","t_max":100}}],"set":{"lr":"0.01"},"simd":"auto","threads":null},"seed":0,"settings":{"function":{"dim":null,"ftol":1e-6,"patience":10,"points":2000,"start":{"point":[-1.5,2.0]},"steps":2000,"time_limit_s":null,"xtol":1e-8}},"task":"rosenbrock"}"#
        );
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_changed_setting_changes_the_hash() {
        let a = plan();
        let b = Plan::new(&parse(&EXP.replace("seeds = 2", "seeds = 2\nsteps = 999"), "p.toml", "p").unwrap()).unwrap();
        let fa: Vec<_> = a.runs.iter().filter(|r| r.task == "sphere").map(|r| &r.hash).collect();
        let fb: Vec<_> = b.runs.iter().filter(|r| r.task == "sphere").map(|r| &r.hash).collect();
        assert!(fa.iter().all(|h| !fb.contains(h)));
        let na: Vec<_> = a.runs.iter().filter(|r| r.task == "blobs-two-layer").map(|r| &r.hash).collect();
        let nb: Vec<_> = b.runs.iter().filter(|r| r.task == "blobs-two-layer").map(|r| &r.hash).collect();
        assert_eq!(na, nb);
    }

    #[test]
    fn identical_configurations_are_refused() {
        let text = EXP.replace(
            "optimizers = [{ name = \"adam\" }, { name = \"rmsprop\" }]",
            "optimizers = [{ name = \"adam\" }, { name = \"adam\", label = \"again\" }]\n[comparison.grid]\nbeta1 = [0.9]",
        );
        let text =
            text.replace("[comparison.list]\nlr = [0.1, 0.01]\nlr_schedule = [\"none\", \"cosine(t_max=100)\"]\n", "");
        let Err(e) = Plan::new(&parse(&text, "p.toml", "p").unwrap()) else { panic!("expected an error") };
        let e = e.to_string();
        assert!(
            e.contains("`again beta1=0.9` on `rosenbrock` (seed 0) has the same configuration as `adam beta1=0.9`"),
            "{e}"
        );
        assert!(e.starts_with("p.toml:"), "{e}");
    }

    /// An experiment of one comparison on `sphere` with adam and a grid of `columns` (key,
    /// number of values) plus `extra` settings.
    fn grid_exp(columns: &[(&str, usize)], extra: &str) -> String {
        let mut text = format!(
            "[experiment]\nname = \"big\"\n[[comparison]]\nname = \"c\"\ntasks = [\"sphere\"]\n{extra}\noptimizers = [{{ name = \"adam\" }}]\n[comparison.grid]\n"
        );
        for (key, n) in columns {
            // Distinct values inside every key's range: lr in (0, inf), betas in [0, 1), eps > 0.
            let vals: Vec<String> = (0..*n).map(|i| format!("{:?}", (i + 1) as f64 / (*n as f64 + 1.0))).collect();
            text.push_str(&format!("{key} = [{}]\n", vals.join(", ")));
        }
        text
    }

    #[test]
    fn a_plan_of_1e5_runs_is_built_with_distinct_hashes() {
        let exp =
            parse(&grid_exp(&[("lr", 100), ("beta1", 100)], "seeds = 10\nsteps = 10"), "big.toml", "big").unwrap();
        assert_eq!(count_runs(&exp), [100_000]);
        let p = Plan::new(&exp).unwrap();
        assert_eq!(p.runs.len(), 100_000);
        let hashes: HashSet<&str> = p.runs.iter().map(|r| r.hash.as_str()).collect();
        assert_eq!(hashes.len(), 100_000);
        assert!(p.runs.iter().enumerate().all(|(i, r)| r.index == i));
        // Plan order: the last key varies fastest, then seeds.
        assert_eq!(p.runs[0].swept["beta1"], p.runs[9].swept["beta1"]);
        assert_ne!(p.runs[0].swept["beta1"], p.runs[10].swept["beta1"]);
        assert_eq!(p.runs[999].swept["lr"], p.runs[0].swept["lr"]);
        assert_ne!(p.runs[1000].swept["lr"], p.runs[0].swept["lr"]);
    }

    #[test]
    fn plans_over_the_limit_are_refused_with_their_size_before_any_run_is_built() {
        // 100 × 100 × 100 × 10 grid points: 1e7 runs (the sweep's points are never materialised).
        let exp = parse(&grid_exp(&[("lr", 100), ("beta1", 100), ("beta2", 100), ("eps", 10)], ""), "big.toml", "big")
            .unwrap();
        assert_eq!(exp.comparisons[0].sweep.len(), 10_000_000);
        assert_eq!(count_runs(&exp), [10_000_000]);
        let e = Plan::new(&exp).unwrap_err().to_string();
        assert!(e.starts_with("big.toml:4: the plan has 10000000 runs, more than the limit of 500000 runs"), "{e}");
        assert!(e.contains("comparison `c` has 10000000") && e.contains("docs/experiments.md"), "{e}");
        // Seeds × random starts: 1e6 seeds × 10 starts.
        let exp = parse(&grid_exp(&[], "seeds = 1000000\nstarts = 10"), "big.toml", "big").unwrap();
        assert_eq!(count_runs(&exp), [10_000_000]);
        assert!(Plan::new(&exp).unwrap_err().to_string().contains("the plan has 10000000 runs"));
        // Exactly at the limit is allowed (counted, not built here).
        let exp = parse(&grid_exp(&[("lr", 1000), ("beta1", 500)], ""), "big.toml", "big").unwrap();
        assert_eq!(check_size(&exp).unwrap(), 500_000);
        let exp = parse(&grid_exp(&[("lr", 1000), ("beta1", 500)], "seeds = 2"), "big.toml", "big").unwrap();
        assert!(check_size(&exp)
            .unwrap_err()
            .to_string()
            .contains("the plan has 1000000 runs, more than the limit of 500000"));
        // Counts beyond u64 stay exact (u128, saturating beyond that).
        let cols: Vec<(&str, usize)> = vec![("lr", 1000), ("beta1", 1000), ("beta2", 1000), ("eps", 1000)];
        let exp = parse(&grid_exp(&cols, "seeds = 1000000\nstarts = 100000"), "big.toml", "big").unwrap();
        assert_eq!(count_runs(&exp), [10u128.pow(12) * 10u128.pow(6) * 10u128.pow(5)]);
    }

    #[test]
    fn counts_agree_with_the_built_plan() {
        // Keys that do not apply, lists, batch sizes on function tasks, random starts.
        let p = plan();
        let exp = parse(EXP, "p.toml", "p").unwrap();
        assert_eq!(count_runs(&exp).iter().sum::<u128>(), p.runs.len() as u128);
        let text = EXP
            .replace("[comparison.grid]", "[comparison.list]")
            .replace("beta2 = [0.8, 0.9, 0.99]", "beta2 = [0.8, 0.9, 0.99]\nmomentum = [0.5, 0.5, 0.6]")
            .replace("batch_size = [8, 32]", "batch_size = [8, 32, 64]");
        let text = text.replace("momentum = [0.5, 0.5, 0.6]", "momentum = [0.5, 0.6, 0.7]");
        let exp = parse(&text, "p.toml", "p").unwrap();
        assert_eq!(count_runs(&exp).iter().sum::<u128>(), Plan::new(&exp).unwrap().runs.len() as u128);
    }

    const LOOKAHEAD: &str = r#"
[experiment]
name = "la"

[[comparison]]
name = "lr"
tasks = ["sphere", "blobs-two-layer"]
optimizers = [
    { name = "lookahead", set = { lr = 0.05, k = 3 } },
    { name = "lookahead", set = { inner = "sgd", momentum = 0.9 }, schedules = { lr = "cosine(t_max=50)" }, label = "la-sgd" },
]

[comparison.grid]
lr = [0.1, 0.01]
lr_schedule = ["none", "exponential(gamma=0.99)"]
beta1 = [0.8, 0.9]
"#;

    #[test]
    fn lookahead_takes_its_inner_optimizers_keys_sweeps_and_schedules() {
        let exp = parse(LOOKAHEAD, "la.toml", "la").unwrap();
        let p = Plan::new(&exp).unwrap();
        // lookahead(adam): lr × schedule × beta1 = 8 points; lookahead(sgd) has no beta1: 4; two tasks.
        assert_eq!(p.runs.len(), 2 * (8 + 4));
        assert_eq!(count_runs(&exp), [24]);
        let r = p
            .runs
            .iter()
            .find(|r| r.label == "lookahead lr=0.05 k=3 lr=0.01 lr_schedule=exponential(gamma=0.99) beta1=0.9")
            .unwrap();
        assert_eq!(r.optimizer.set.get("lr").map(String::as_str), Some("0.01"));
        assert_eq!(r.optimizer.schedules.len(), 1);
        // The inner optimizer really gets lr, its schedule and beta1.
        let opt = registry::build::<f64>(Layout::single("x", 2), &r.optimizer).unwrap();
        assert_eq!(opt.current(0, "k"), Some(3.0));
        assert!((opt.current(0, "lr").unwrap() - 0.01).abs() < 1e-15, "{:?}", opt.current(0, "lr"));
        let sgd: Vec<_> = p.runs.iter().filter(|r| r.label.starts_with("la-sgd")).collect();
        assert_eq!(sgd.len(), 8);
        assert!(sgd.iter().all(|r| !r.swept.contains_key("beta1")));
        // The entry's own schedule is replaced by the swept one, or removed by "none".
        assert!(sgd.iter().any(|r| r.optimizer.schedules.is_empty()));
    }

    #[test]
    fn a_swept_inner_optimizer_decides_which_keys_apply() {
        let text = r#"
[experiment]
name = "la"
[[comparison]]
name = "inner"
tasks = ["sphere"]
optimizers = [{ name = "lookahead" }, { name = "adam" }]
[comparison.grid]
inner = ["sgd", "adam"]
beta1 = [0.8, 0.9]
"#;
        let exp = parse(text, "la.toml", "la").unwrap();
        let p = Plan::new(&exp).unwrap();
        let labels: Vec<&str> = p.runs.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "lookahead inner=sgd",
                "lookahead inner=adam beta1=0.8",
                "lookahead inner=adam beta1=0.9",
                "adam beta1=0.8",
                "adam beta1=0.9"
            ]
        );
        assert_eq!(count_runs(&exp), [5]);
        let m =
            parse(&text.replace("beta1 = [0.8, 0.9]", "beta1 = [0.8, 1.5]"), "la.toml", "la").unwrap_err().to_string();
        assert!(m.contains("key `beta1` in comparison `inner`: value 1.5 out of range [0, 1)"), "{m}");
    }

    #[test]
    fn shard_parsing() {
        assert_eq!("2/8".parse::<Shard>().unwrap(), Shard { index: 2, count: 8 });
        for bad in ["0/3", "4/3", "1/0", "x/2", "3", "1/2/3", "-1/2"] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains("--shard") && e.contains("1-based"), "{bad}: {e}");
        }
    }

    proptest! {
        #[test]
        fn shards_partition_the_plan(n in 1usize..12) {
            let p = plan();
            let mut seen = vec![0u32; p.runs.len()];
            for i in 1..=n {
                let s = Shard::new(i, n).unwrap();
                let sel = p.select(Some(s));
                prop_assert!(sel.windows(2).all(|w| w[0].index < w[1].index));
                for r in sel {
                    prop_assert_eq!(r.index % n, i - 1);
                    seen[r.index] += 1;
                }
            }
            prop_assert!(seen.iter().all(|&c| c == 1));
        }
    }
}
