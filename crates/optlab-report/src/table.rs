//! The hyperparameter table of a comparison: one row per configuration (label) and task, as
//! Markdown, CSV and HTML.
//!
//! Every quantity is over the seeds that ran OK: the median, with the range (min–max) when more
//! than one seed contributes. A configuration without any OK seed shows `diverged` or `failed`
//! instead of numbers. Steps / time to the target count a seed that never reached it as `∞`.
//! The `steps` column is the optimizer steps per run, so that runs of very different lengths
//! (batch size, early stopping, budgets) are seen to be so.

use crate::format::{csv_field, csv_num, md_cell, num};
use crate::group::{Comparison, Config};
use crate::stats::Spread;
use optlab_lab::record::{RunRecord, Status};
use std::fmt::Write as _;

/// One row: a configuration on a task.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub task: String,
    pub label: String,
    pub optimizer: String,
    /// See [`Config::family`].
    pub family: String,
    /// Values of the swept keys, in the comparison's order.
    pub swept: Vec<String>,
    pub ok: usize,
    pub diverged: usize,
    pub failed: usize,
    /// Optimizer steps per run (a table comparing runs of very different lengths says so).
    pub steps: Option<Spread>,
    pub time_s: Option<Spread>,
    pub final_loss: Option<Spread>,
    pub min_loss: Option<Spread>,
    pub final_val_loss: Option<Spread>,
    pub min_val_loss: Option<Spread>,
    pub final_accuracy: Option<Spread>,
    pub best_accuracy: Option<Spread>,
    /// The comparison's target for this task.
    pub target: Option<f64>,
    pub steps_to_target: Option<Spread>,
    pub time_to_target: Option<Spread>,
}

impl Row {
    pub fn total(&self) -> usize {
        self.ok + self.diverged + self.failed
    }
    /// `diverged` or `failed` when no seed ran OK.
    pub fn status_word(&self) -> Option<&'static str> {
        if self.ok > 0 {
            None
        } else if self.diverged > 0 {
            Some("diverged")
        } else {
            Some("failed")
        }
    }
}

/// The table of one comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub comparison: String,
    /// The swept keys (column headers), in the comparison's order.
    pub keys: Vec<String>,
    /// Whether a configuration column is needed (two labels share task, optimizer and values).
    pub show_label: bool,
    pub has_val_loss: bool,
    pub has_accuracy: bool,
    pub has_target: bool,
    /// Markdown and HTML leave out the secondary columns ([`COMPACT_DROPS`]); the CSV keeps them.
    pub compact: bool,
    pub rows: Vec<Row>,
}

fn spread_of<'a>(runs: impl Iterator<Item = &'a RunRecord>, f: impl Fn(&RunRecord) -> Option<f64>) -> Option<Spread> {
    Spread::finite(runs.filter_map(f))
}

fn row(cmp: &Comparison, cfg: &Config) -> Row {
    let target = cmp.info.targets.get(&cfg.task).copied();
    let ok = || cfg.ok_runs();
    let to_target = |f: &dyn Fn(&RunRecord) -> Option<f64>| {
        target.and_then(|_| Spread::with_inf(ok().map(|r| f(r).unwrap_or(f64::INFINITY))))
    };
    Row {
        task: cfg.task.clone(),
        label: cfg.label.clone(),
        optimizer: cfg.optimizer.clone(),
        family: cfg.family.clone(),
        swept: cfg.swept.clone(),
        ok: cfg.count(Status::Ok),
        diverged: cfg.count(Status::Diverged),
        failed: cfg.count(Status::Failed),
        steps: spread_of(ok(), |r| Some(r.summary.steps as f64)),
        time_s: spread_of(ok(), |r| Some(r.wall_s)),
        final_loss: spread_of(ok(), |r| Some(r.summary.final_loss)),
        min_loss: spread_of(ok(), |r| Some(r.summary.min_loss)),
        final_val_loss: spread_of(ok(), |r| r.summary.final_val_loss),
        min_val_loss: spread_of(ok(), |r| r.summary.min_val_loss),
        final_accuracy: spread_of(ok(), |r| r.summary.final_accuracy),
        best_accuracy: spread_of(ok(), |r| r.summary.best_accuracy),
        target,
        steps_to_target: to_target(&|r| r.summary.steps_to_target.map(|s| s as f64)),
        time_to_target: to_target(&|r| r.summary.time_to_target),
    }
}

/// Builds the table of a comparison.
pub fn build(cmp: &Comparison) -> Table {
    let rows: Vec<Row> = cmp.configs.iter().map(|c| row(cmp, c)).collect();
    let mut show_label = false;
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[..i] {
            if a.task == b.task && a.optimizer == b.optimizer && a.swept == b.swept {
                show_label = true;
            }
        }
    }
    let runs: Vec<&RunRecord> = cmp.runs().collect();
    Table {
        comparison: cmp.info.name.clone(),
        keys: cmp.info.swept.clone(),
        show_label,
        has_val_loss: runs.iter().any(|r| r.summary.final_val_loss.is_some() || r.summary.min_val_loss.is_some()),
        has_accuracy: runs.iter().any(|r| r.summary.final_accuracy.is_some() || r.summary.best_accuracy.is_some()),
        has_target: rows.iter().any(|r| r.target.is_some()),
        compact: false,
        rows,
    }
}

/// The best configuration of each optimizer family on each task (see [`crate::select`]): rows of
/// `table` (built from `cmp`), with the family in the optimizer column. `None` when no family has
/// more than one configuration on a task (the full table already is that answer).
pub fn best(cmp: &Comparison, table: &Table) -> Option<Table> {
    if !crate::select::has_choices(cmp) {
        return None;
    }
    let mut rows = Vec::new();
    for task in &cmp.tasks {
        for cfg in crate::select::best_per_family(cmp, task) {
            if let Some(r) = table.rows.iter().find(|r| r.task == *task && r.label == cfg.label) {
                rows.push(Row { optimizer: r.family.clone(), ..r.clone() });
            }
        }
    }
    Some(Table { show_label: false, compact: true, rows, ..table.clone() })
}

/// The note on the `min loss` column when some run of the comparison logged steps (network
/// runs): their minimum is over the logged batch losses, not over the epochs' means.
pub fn min_loss_note<'a>(mut runs: impl Iterator<Item = &'a RunRecord>) -> Option<&'static str> {
    runs.any(|r| !r.step_series.is_empty()).then_some(
        "`min loss` of a network run is the smallest training loss over its logged steps (the batch loss every `log_every` steps), not over the epochs' means; `final loss` is the last epoch's mean.",
    )
}

/// A count of steps or a loss, short.
fn count_text(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e9 {
        format!("{x:.0}")
    } else {
        num(x)
    }
}

fn pct(x: f64) -> String {
    format!("{}%", num(100.0 * x))
}

fn spread_text(s: &Spread, f: &dyn Fn(f64) -> String) -> String {
    if s.n > 1 && s.min != s.max {
        format!("{} ({}–{})", f(s.median), f(s.min), f(s.max))
    } else {
        f(s.median)
    }
}

/// Columns a compact table leaves out of Markdown and HTML.
pub const COMPACT_DROPS: [&str; 5] = ["time (s)", "min loss", "min val loss", "best accuracy", "time to target (s)"];

impl Table {
    /// Column headers, as shown in Markdown and HTML.
    pub fn headers(&self) -> Vec<String> {
        let mut h = self.all_headers();
        if self.compact {
            h.retain(|c| !COMPACT_DROPS.contains(&c.as_str()));
        }
        h
    }

    /// The cells of a row, as shown in Markdown and HTML (plain text).
    pub fn cells(&self, r: &Row) -> Vec<String> {
        let c = self.all_cells(r);
        if !self.compact {
            return c;
        }
        self.all_headers().iter().zip(c).filter(|(h, _)| !COMPACT_DROPS.contains(&h.as_str())).map(|(_, c)| c).collect()
    }

    fn all_headers(&self) -> Vec<String> {
        let mut h = vec!["task".to_string()];
        h.extend(self.keys.iter().cloned());
        h.push("optimizer".into());
        if self.show_label {
            h.push("configuration".into());
        }
        h.extend(["seeds ok", "steps", "time (s)", "final loss", "min loss"].map(String::from));
        if self.has_val_loss {
            h.extend(["final val loss", "min val loss"].map(String::from));
        }
        if self.has_accuracy {
            h.extend(["final accuracy", "best accuracy"].map(String::from));
        }
        if self.has_target {
            h.extend(["target", "steps to target", "time to target (s)"].map(String::from));
        }
        h
    }

    /// How many leading columns hold text (task, swept keys, optimizer, configuration); swept
    /// values are right-aligned like numbers.
    pub fn text_columns(&self) -> usize {
        1 + self.keys.len() + 1 + usize::from(self.show_label)
    }

    fn all_cells(&self, r: &Row) -> Vec<String> {
        let mut c = vec![r.task.clone()];
        c.extend(r.swept.iter().cloned());
        c.push(r.optimizer.clone());
        if self.show_label {
            c.push(r.label.clone());
        }
        let mut seeds = format!("{}/{}", r.ok, r.total());
        let mut bad = Vec::new();
        if r.diverged > 0 {
            bad.push(format!("{} diverged", r.diverged));
        }
        if r.failed > 0 {
            bad.push(format!("{} failed", r.failed));
        }
        if !bad.is_empty() {
            let _ = write!(seeds, " ({})", bad.join(", "));
        }
        c.push(seeds);
        let status = r.status_word();
        let cell = |s: &Option<Spread>, f: &dyn Fn(f64) -> String| -> String {
            match (status, s) {
                (Some(w), _) => w.to_string(),
                (None, Some(s)) => spread_text(s, f),
                (None, None) => "—".into(),
            }
        };
        c.push(cell(&r.steps, &count_text));
        c.push(cell(&r.time_s, &num));
        c.push(cell(&r.final_loss, &num));
        c.push(cell(&r.min_loss, &num));
        if self.has_val_loss {
            c.push(cell(&r.final_val_loss, &num));
            c.push(cell(&r.min_val_loss, &num));
        }
        if self.has_accuracy {
            c.push(cell(&r.final_accuracy, &pct));
            c.push(cell(&r.best_accuracy, &pct));
        }
        if self.has_target {
            c.push(r.target.map_or_else(|| "—".into(), num));
            let reach = |s: &Option<Spread>, f: &dyn Fn(f64) -> String| -> String {
                if r.target.is_none() {
                    return "—".into();
                }
                match (status, s) {
                    (Some(w), _) => w.to_string(),
                    (None, Some(s)) if s.median.is_infinite() => {
                        let reached = if s.min.is_finite() { format!(" (best {})", f(s.min)) } else { String::new() };
                        format!("not reached{reached}")
                    }
                    (None, Some(s)) => spread_text(s, f),
                    (None, None) => "—".into(),
                }
            };
            c.push(reach(&r.steps_to_target, &count_text));
            c.push(reach(&r.time_to_target, &num));
        }
        c
    }

    /// The table as Markdown (a header row, a rule, one line per row).
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let line =
            |cells: &[String]| format!("| {} |\n", cells.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | "));
        let h = self.headers();
        s.push_str(&line(&h));
        // Task, optimizer and configuration left-aligned; swept values and numbers right-aligned.
        let n_text = self.text_columns();
        let rule: String = (0..h.len())
            .map(|i| if i == 0 || (i > self.keys.len() && i < n_text) { "---|" } else { "---:|" })
            .collect();
        let _ = writeln!(s, "|{rule}");
        for r in &self.rows {
            s.push_str(&line(&self.cells(r)));
        }
        s
    }

    /// The table as CSV: plain numbers at full precision, one column per quantity (`_median`,
    /// `_min`, `_max` of each), empty where there is no value, `inf` for "never reached".
    pub fn csv(&self) -> String {
        let mut h: Vec<String> = vec!["task".into()];
        h.extend(self.keys.iter().cloned());
        h.extend(["optimizer", "label", "seeds_total", "seeds_ok", "seeds_diverged", "seeds_failed"].map(String::from));
        let mut quantities = vec!["steps", "time_s", "final_loss", "min_loss"];
        if self.has_val_loss {
            quantities.extend(["final_val_loss", "min_val_loss"]);
        }
        if self.has_accuracy {
            quantities.extend(["final_accuracy", "best_accuracy"]);
        }
        if self.has_target {
            h.push("target".into());
            quantities.extend(["steps_to_target", "time_to_target_s"]);
        }
        // The target column sits before the quantities; keep headers and values in step.
        let target_pos = h.len();
        for q in &quantities {
            for s in ["median", "min", "max"] {
                h.push(format!("{q}_{s}"));
            }
        }
        let mut out = String::new();
        let _ = writeln!(out, "{}", h.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        for r in &self.rows {
            let mut v: Vec<String> = vec![csv_field(&r.task)];
            v.extend(r.swept.iter().map(|x| csv_field(x)));
            v.push(csv_field(&r.optimizer));
            v.push(csv_field(&r.label));
            v.extend([r.total(), r.ok, r.diverged, r.failed].map(|n| n.to_string()));
            if self.has_target {
                v.push(r.target.map_or_else(String::new, csv_num));
            }
            debug_assert_eq!(v.len(), target_pos);
            for q in &quantities {
                let s = match *q {
                    "steps" => r.steps,
                    "time_s" => r.time_s,
                    "final_loss" => r.final_loss,
                    "min_loss" => r.min_loss,
                    "final_val_loss" => r.final_val_loss,
                    "min_val_loss" => r.min_val_loss,
                    "final_accuracy" => r.final_accuracy,
                    "best_accuracy" => r.best_accuracy,
                    "steps_to_target" => r.steps_to_target,
                    _ => r.time_to_target,
                };
                match s {
                    Some(s) => v.extend([s.median, s.min, s.max].map(csv_num)),
                    None => v.extend([String::new(), String::new(), String::new()]),
                }
            }
            let _ = writeln!(out, "{}", v.join(","));
        }
        out
    }
}
