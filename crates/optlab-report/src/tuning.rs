//! The tuning table of a comparison with a tuning protocol (`[comparison.tune]`): per task and
//! configuration, every value of the grid with its runs, median score and median steps to
//! success, and the value chosen (computed by [`optlab_lab::tune::choose`], as the plan does).
//! The tuning runs themselves are kept out of the main tables and plots.

use crate::format::{csv_field, csv_num, md_cell, num};
use crate::html::escape;
use optlab_lab::record::{ComparisonInfo, RunRecord};
use optlab_lab::tune::{choose, Tuned};
use std::fmt::Write as _;

/// The tuning of one comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct TuningTable {
    pub key: String,
    pub rule: String,
    pub rows: Vec<Tuned>,
    /// The protocol (`equal_budget`, `deepobs`, `algoperf`).
    pub protocol: String,
}

/// The tuning table of `info` from its tuning runs among `runs`; None without a protocol.
pub fn tuning_table(info: &ComparisonInfo, runs: &[RunRecord]) -> Option<TuningTable> {
    let tune = info.tune.as_ref()?;
    let mine: Vec<&RunRecord> = runs.iter().filter(|r| r.comparison == info.name && r.tuning().is_some()).collect();
    Some(TuningTable {
        key: tune.key.clone(),
        rule: tune.rule.clone(),
        rows: choose(tune, &mine),
        protocol: tune.protocol.clone(),
    })
}

impl TuningTable {
    const HEAD: [&'static str; 9] = [
        "task",
        "configuration",
        "value",
        "runs",
        "successes",
        "pruned",
        "median score",
        "median steps to success",
        "chosen",
    ];

    fn cells(&self) -> Vec<[String; 9]> {
        let mut out = Vec::new();
        for t in &self.rows {
            for (i, tr) in t.trials.iter().enumerate() {
                let chosen = match (t.chosen == Some(i), t.score) {
                    (false, _) => String::new(),
                    (true, None) => "yes".to_string(),
                    (true, Some(sc)) => {
                        format!("yes (median over studies of the best trial's steps to the target: {})", num(sc))
                    }
                };
                // A search trial's value is `key=value ...` already.
                let mut value =
                    if tr.value.contains('=') { tr.value.clone() } else { format!("{}={}", self.key, tr.value) };
                if let Some(s) = tr.study {
                    value.push_str(&format!(" (study {})", s + 1));
                }
                let (score, steps) = if tr.invalid {
                    ("not run (value refused)".to_string(), "—".to_string())
                } else {
                    (num(tr.median_score), num(tr.median_steps))
                };
                out.push([
                    t.task.clone(),
                    t.base.clone(),
                    value,
                    tr.runs.to_string(),
                    tr.successes.to_string(),
                    pruned_text(&tr.pruned),
                    score,
                    steps,
                    chosen,
                ]);
            }
        }
        out
    }

    /// A Markdown table (one row per task, configuration and value).
    pub fn markdown(&self) -> String {
        if self.protocol == "algoperf" {
            let mut s = String::from(
                "Tuning runs (phase one, protocol `algoperf`): per study, the trial with the fewest median steps to the validation target (a miss counts as infinite); the score is the median over studies of the best trial's steps, and the best trial of the median study is chosen and rerun with the comparison's seeds (docs/experiments.md).\n\n"
            );
            let _ = writeln!(s, "| {} |", Self::HEAD.join(" | "));
            let _ = writeln!(s, "|---|---|---|---:|---:|---|---:|---:|---|");
            for row in self.cells() {
                let _ = writeln!(s, "| {} |", row.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | "));
            }
            return s;
        }
        let mut s = format!(
            "Tuning runs (phase one): `{}` chosen per task and configuration by the rule `{}` (lowest median score, then fewest median steps to success, then the smaller value; docs/experiments.md).\n\n",
            self.key, self.rule
        );
        let _ = writeln!(s, "| {} |", Self::HEAD.join(" | "));
        let _ = writeln!(s, "|---|---|---|---:|---:|---|---:|---:|---|");
        for row in self.cells() {
            let _ = writeln!(s, "| {} |", row.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | "));
        }
        s
    }

    /// CSV: `task,configuration,key,value,valid,runs,successes,pruned,median_score,median_steps,chosen`
    /// (`pruned`: the epochs the pruned runs reached, `;`-separated).
    pub fn csv(&self) -> String {
        let mut s =
            String::from("task,configuration,key,value,valid,runs,successes,pruned,median_score,median_steps,chosen\n");
        for t in &self.rows {
            for (i, tr) in t.trials.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{},{},{},{},{},{}",
                    csv_field(&t.task),
                    csv_field(&t.base),
                    csv_field(&self.key),
                    csv_field(&tr.value),
                    !tr.invalid,
                    tr.runs,
                    tr.successes,
                    tr.pruned.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(";"),
                    csv_num(tr.median_score),
                    csv_num(tr.median_steps),
                    t.chosen == Some(i)
                );
            }
        }
        s
    }

    /// An HTML table.
    pub fn html(&self) -> String {
        let mut s = String::from("<div class=\"table-wrap\"><table>\n<thead><tr>");
        for (i, h) in Self::HEAD.iter().enumerate() {
            let cls = if i < 3 { " class=\"t\"" } else { "" };
            let _ = write!(s, "<th{cls}>{}</th>", escape(h));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        for row in self.cells() {
            s.push_str("<tr>");
            for (i, c) in row.iter().enumerate() {
                let cls = if i < 3 || i == 5 || i == 8 { " class=\"t\"" } else { "" };
                let _ = write!(s, "<td{cls}>{}</td>", escape(c));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody></table></div>\n");
        s
    }
}

/// The pruned runs of a trial as a cell: empty, `after epoch 2`, or `2 (after epochs 1, 3)`.
fn pruned_text(epochs: &[u32]) -> String {
    match epochs {
        [] => String::new(),
        [e] => format!("after epoch {e}"),
        es => {
            format!("{} (after epochs {})", es.len(), es.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "))
        }
    }
}
