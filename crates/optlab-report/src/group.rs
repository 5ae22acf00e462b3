//! Runs grouped for the tables and plots: per comparison, per task, per configuration (label),
//! with the seeds of a configuration together.

use crate::error::ReportError;
use crate::format::{cmp_values, slug};
use optlab_lab::record::{ComparisonInfo, ExperimentInfo, RunRecord, Status};
use std::collections::{BTreeMap, BTreeSet};

/// The seeds of one configuration (label) on one task.
#[derive(Clone, Debug)]
pub struct Config<'a> {
    pub task: String,
    pub label: String,
    pub optimizer: String,
    /// The optimizer entry of the experiment file this configuration comes from: its label
    /// without the swept `key=value` suffix (`sgd+momentum` for `sgd+momentum lr=0.1`). The
    /// report's "per optimizer" means per family.
    pub family: String,
    /// Values of the comparison's swept keys, in `ComparisonInfo::swept` order (`—` when a run
    /// lacks the key).
    pub swept: Vec<String>,
    /// Sorted by seed.
    pub runs: Vec<&'a RunRecord>,
}

impl<'a> Config<'a> {
    pub fn ok_runs(&self) -> impl Iterator<Item = &'a RunRecord> + '_ {
        self.runs.iter().copied().filter(|r| r.status == Status::Ok)
    }
    pub fn count(&self, status: Status) -> usize {
        self.runs.iter().filter(|r| r.status == status).count()
    }
}

/// One comparison with its runs.
#[derive(Clone, Debug)]
pub struct Comparison<'a> {
    pub info: &'a ComparisonInfo,
    /// File-name-safe name.
    pub slug: String,
    /// The declared tasks, then any other task the runs name (sorted).
    pub tasks: Vec<String>,
    /// Every label, in the order of [`Comparison::configs`]; a label's index is its colour.
    pub labels: Vec<String>,
    /// Every family (see [`Config::family`]), in the order of [`Comparison::configs`].
    pub families: Vec<String>,
    /// Ordered by task, swept values (numerically where they are numbers), optimizer, label.
    pub configs: Vec<Config<'a>>,
}

impl<'a> Comparison<'a> {
    pub fn color_index(&self, label: &str) -> usize {
        self.labels.iter().position(|l| l == label).unwrap_or(0)
    }
    /// Index of a family in [`Comparison::families`] (its colour where plots show families).
    pub fn family_index(&self, family: &str) -> usize {
        self.families.iter().position(|f| f == family).unwrap_or(0)
    }
    pub fn configs_of(&self, task: &str) -> impl Iterator<Item = &Config<'a>> + '_ {
        let task = task.to_string();
        self.configs.iter().filter(move |c| c.task == task)
    }
    pub fn runs(&self) -> impl Iterator<Item = &'a RunRecord> + '_ {
        self.configs.iter().flat_map(|c| c.runs.iter().copied())
    }
}

/// The family of a run's label: the label without the trailing ` key=value` words of its swept
/// values (the runner appends them to the optimizer entry's label); the optimizer's name when
/// nothing is left.
pub fn family_of(label: &str, optimizer: &str, swept: &BTreeMap<String, String>) -> String {
    let mut words: Vec<&str> = label.split(' ').collect();
    while words.len() > 1 {
        let last = words[words.len() - 1];
        match last.split_once('=') {
            Some((k, v)) if swept.get(k).is_some_and(|x| x == v) => {
                words.pop();
            }
            _ => break,
        }
    }
    let family = words.join(" ");
    let only_swept =
        words.len() == 1 && family.split_once('=').is_some_and(|(k, v)| swept.get(k).is_some_and(|x| x == v));
    if family.is_empty() || only_swept {
        optimizer.to_string()
    } else {
        family
    }
}

/// Groups the runs by comparison, task and label; checks the experiment's declarations.
pub fn group<'a>(info: &'a ExperimentInfo, runs: &'a [RunRecord]) -> Result<Vec<Comparison<'a>>, ReportError> {
    let mut slugs: BTreeMap<String, &str> = BTreeMap::new();
    for c in &info.comparisons {
        if info.comparisons.iter().filter(|d| d.name == c.name).count() > 1 {
            return Err(ReportError::DuplicateComparison { experiment: info.name.clone(), name: c.name.clone() });
        }
        let s = slug(&c.name);
        if let Some(other) = slugs.insert(s.clone(), &c.name) {
            return Err(ReportError::NameClash { a: other.to_string(), b: c.name.clone(), slug: s });
        }
        for (task, &value) in &c.targets {
            if !value.is_finite() {
                return Err(ReportError::BadTarget { comparison: c.name.clone(), task: task.clone(), value });
            }
        }
    }
    if let Some(r) = runs.iter().find(|r| !info.comparisons.iter().any(|c| c.name == r.comparison)) {
        return Err(ReportError::UnknownComparison {
            experiment: info.name.clone(),
            comparison: r.comparison.clone(),
            run: format!("run {} (task `{}`, optimizer `{}`, seed {})", r.hash, r.task, r.optimizer, r.seed),
        });
    }
    let mut out = Vec::new();
    for c in &info.comparisons {
        // Tuning runs (phase one of a tuning protocol) are shown in the tuning table only.
        let mine: Vec<&RunRecord> =
            runs.iter().filter(|r| r.comparison == c.name && r.config.get("tune").is_none()).collect();
        let mut tasks = c.tasks.clone();
        let extra: BTreeSet<&str> =
            mine.iter().map(|r| r.task.as_str()).filter(|t| !c.tasks.iter().any(|d| d == t)).collect();
        tasks.extend(extra.into_iter().map(String::from));
        let mut by_key: BTreeMap<(usize, String), Config> = BTreeMap::new();
        for r in mine {
            let ti = tasks.iter().position(|t| *t == r.task).unwrap_or(0);
            let cfg = by_key.entry((ti, r.label.clone())).or_insert_with(|| Config {
                task: r.task.clone(),
                label: r.label.clone(),
                optimizer: r.optimizer.clone(),
                family: family_of(&r.label, &r.optimizer, &r.swept),
                swept: c.swept.iter().map(|k| r.swept.get(k).cloned().unwrap_or_else(|| "—".into())).collect(),
                runs: Vec::new(),
            });
            cfg.runs.push(r);
        }
        let mut configs: Vec<(usize, Config)> = by_key.into_iter().map(|((ti, _), cfg)| (ti, cfg)).collect();
        for (_, cfg) in &mut configs {
            cfg.runs.sort_by(|a, b| a.seed.cmp(&b.seed).then_with(|| a.hash.cmp(&b.hash)));
        }
        configs.sort_by(|(ta, a), (tb, b)| {
            ta.cmp(tb)
                .then_with(|| {
                    a.swept
                        .iter()
                        .zip(&b.swept)
                        .map(|(x, y)| cmp_values(x, y))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .then_with(|| a.optimizer.cmp(&b.optimizer))
                .then_with(|| a.label.cmp(&b.label))
        });
        let configs: Vec<Config> = configs.into_iter().map(|(_, c)| c).collect();
        let mut labels: Vec<String> = Vec::new();
        // Colours follow the configuration order of the first task a label appears on, so that
        // a label keeps its colour across tasks.
        for cfg in &configs {
            if !labels.contains(&cfg.label) {
                labels.push(cfg.label.clone());
            }
        }
        let mut families: Vec<String> = Vec::new();
        for cfg in &configs {
            if !families.contains(&cfg.family) {
                families.push(cfg.family.clone());
            }
        }
        out.push(Comparison { info: c, slug: slug(&c.name), tasks, labels, families, configs });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_drop_the_swept_suffix() {
        let swept: BTreeMap<String, String> =
            [("lr", "0.1"), ("beta1", "0.9")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(family_of("sgd+momentum lr=0.1", "sgd", &swept), "sgd+momentum");
        assert_eq!(family_of("adam beta1=0.9 lr=0.1", "adam", &swept), "adam");
        assert_eq!(family_of("adam eps=1e-8 lr=0.1", "adam", &swept), "adam eps=1e-8", "set values stay");
        assert_eq!(family_of("adam lr=0.2", "adam", &swept), "adam lr=0.2", "not the swept value");
        assert_eq!(family_of("lr=0.1", "adam", &swept), "adam");
        assert_eq!(family_of("custom", "adam", &BTreeMap::new()), "custom");
    }
}
