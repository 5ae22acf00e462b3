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
    /// Most points kept of the series.
    pub points: u32,
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
                                            points: f.points,
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
            assert_eq!(r.hash, sha256_hex(&canonical_json(&r.config)));
            assert_eq!(r.hash.len(), 64);
        }
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), a.runs.len());
        // Pinned: the hash must not change between builds or versions (resume and merge rely on it).
        let last = a.runs.last().unwrap();
        assert_eq!(
            canonical_json(&last.config),
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
