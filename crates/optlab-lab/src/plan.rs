//! The plan: an experiment expanded into a deterministic, ordered list of runs, each with the
//! canonical JSON of its resolved configuration and the SHA-256 of that JSON (its identity for
//! resuming, sharding and merging).
//!
//! Order: comparisons in file order; within one, tasks, then optimizers, then sweep points
//! (grid: the last key varies fastest), then seeds, then random starts. A sweep key applies only
//! to the optimizers (and tasks) that have it; the others run once per distinct configuration.

use std::collections::BTreeMap;
use std::str::FromStr;

use optlab_optim::{registry, Layout, OptimConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{LabError, Result};
use crate::record::ExperimentInfo;
use crate::spec::{applies, task_kind, Experiment, NetworkSettings, StartRule, SweepTarget, TaskKind, NO_SCHEDULE};

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
}

/// Resolved task settings of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// Canonical resolved configuration (sorted keys).
    pub config: Value,
    /// SHA-256 (hex) of the canonical JSON text of `config`.
    pub hash: String,
}

/// An experiment's runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub info: ExperimentInfo,
    pub runs: Vec<RunSpec>,
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

/// JSON with object keys sorted at every level, as compact text.
pub fn canonical_json(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let sorted: BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, sort(v))).collect();
                let mut out = serde_json::Map::new();
                for (k, v) in sorted {
                    out.insert(k.clone(), v);
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sort(v)).expect("JSON values serialise")
}

/// SHA-256 of text, as 64 lowercase hex digits.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Plan {
    /// Expands a checked experiment. Every resolved optimizer configuration is built once on a
    /// tiny layout, so a combination the registry refuses is reported before anything runs.
    pub fn new(exp: &Experiment) -> Result<Plan> {
        let mut runs: Vec<RunSpec> = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for cmp in &exp.comparisons {
            let cn = &cmp.info.name;
            let points: Vec<Vec<String>> =
                if cmp.sweep.points.is_empty() { vec![vec![]] } else { cmp.sweep.points.clone() };
            for task in &cmp.info.tasks {
                let kind = task_kind(task).expect("tasks are checked by the spec");
                for entry in &cmp.optimizers {
                    let spec = registry::spec(&entry.config.name).expect("optimizers are checked by the spec");
                    let mut done: Vec<BTreeMap<String, String>> = Vec::new();
                    for point in &points {
                        let mut cfg = entry.config.clone();
                        let mut net = cmp.network.clone();
                        let mut swept = BTreeMap::new();
                        for ((key, target), value) in cmp.sweep.keys.iter().zip(point) {
                            if !applies(target, spec) {
                                continue;
                            }
                            match target {
                                SweepTarget::BatchSize => {
                                    if kind != TaskKind::Network {
                                        continue;
                                    }
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
                            swept.insert(key.clone(), value.clone());
                        }
                        if done.contains(&swept) {
                            continue;
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
                        let starts: Vec<Start> = match (&cmp.function.start, kind) {
                            (_, TaskKind::Network) => vec![Start::Default],
                            (StartRule::Random { count }, _) => {
                                (0..*count).map(|i| Start::Random { index: i, of: *count }).collect()
                            }
                            (StartRule::Default, _) => vec![Start::Default],
                            (StartRule::Point(p), _) => vec![Start::Point(p.clone())],
                        };
                        for &seed in &cmp.seeds {
                            for start in &starts {
                                let settings = match kind {
                                    TaskKind::Network => TaskSettings::Network(net.clone()),
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
                                        })
                                    }
                                };
                                let config = serde_json::json!({
                                    "comparison": cn,
                                    "task": task,
                                    "optimizer": cfg,
                                    "settings": settings,
                                    "seed": seed,
                                });
                                let hash = sha256_hex(&canonical_json(&config));
                                let index = runs.len();
                                if let Some(&other) = seen.get(&hash) {
                                    return Err(LabError::Spec(format!(
                                        "{}:{}: key `optimizers` in comparison `{cn}`: `{label}` on `{task}` (seed {seed}) has the same configuration as `{}`; remove one",
                                        exp.file, entry.line, runs[other].label
                                    )));
                                }
                                seen.insert(hash.clone(), index);
                                runs.push(RunSpec {
                                    index,
                                    comparison: cn.clone(),
                                    task: task.clone(),
                                    kind,
                                    optimizer: cfg.clone(),
                                    settings,
                                    seed,
                                    swept: swept.clone(),
                                    label: label.clone(),
                                    target: cmp.info.targets.get(task).copied(),
                                    config,
                                    hash,
                                });
                            }
                        }
                        done.push(swept);
                    }
                }
            }
        }
        Ok(Plan { info: exp.info.clone(), runs })
    }

    /// The runs of one shard (all runs without one), in plan order.
    pub fn select(&self, shard: Option<Shard>) -> Vec<&RunSpec> {
        self.runs.iter().filter(|r| shard.is_none_or(|s| s.contains(r.index))).collect()
    }
}
