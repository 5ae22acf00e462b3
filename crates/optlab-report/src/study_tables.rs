//! Tables of a study: per-function statistics over starts, learning rates, wins and a performance
//! profile, as Markdown and CSV; plus the per-run and trajectory CSVs.
//!
//! Statistics over the evaluation starts of one optimizer on one function: the median and the
//! interquartile range `[q25, q75]` (linear interpolation between order statistics, R's type 7).
//! Diverged runs count as `+∞` in final f, gap and distance. "Steps to tol" is over the
//! successful runs only (reached, or escaped for functions without a minimum).

use crate::error::ReportError;
use crate::stats::{quantile_sorted, sorted_finite_or_inf as sorted};
use optlab_lab::function_task::Outcome;
use optlab_lab::study::{study_json_text, LrChoice, Study};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

type Result<T, E = ReportError> = std::result::Result<T, E>;

/// Median and interquartile range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub q25: f64,
    pub q75: f64,
}

impl Spread {
    /// Of the values (NaN dropped); all NaN when none is left.
    pub fn of(v: &[f64]) -> Spread {
        let s = sorted(v.to_vec());
        Spread { median: quantile_sorted(&s, 0.5), q25: quantile_sorted(&s, 0.25), q75: quantile_sorted(&s, 0.75) }
    }
    fn md(&self) -> String {
        if self.median.is_nan() {
            return "—".into();
        }
        format!("{} [{}, {}]", num(self.median), num(self.q25), num(self.q75))
    }
}

/// One optimizer on one function.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub optimizer: String,
    pub lr: Option<f64>,
    pub lr_how: &'static str,
    pub runs: usize,
    pub successes: usize,
    pub final_f: Spread,
    pub gap: Spread,
    pub dist: Spread,
    /// Over successful runs only.
    pub steps: Spread,
    /// Median over all runs of steps to success, failures counting +∞ (the performance-profile cost).
    pub cost: f64,
    /// Counts per [`Outcome::ALL`].
    pub outcomes: [usize; 6],
}

impl Row {
    pub fn success_rate(&self) -> f64 {
        self.successes as f64 / self.runs.max(1) as f64
    }
    /// Ranking key of a win: more successes, then fewer median steps to tol, then lower median
    /// gap (final f without f*).
    fn key(&self, has_fstar: bool) -> (i64, f64, f64) {
        let q = if has_fstar { self.gap.median } else { self.final_f.median };
        (-(self.successes as i64), if self.successes > 0 { self.steps.median } else { f64::INFINITY }, q)
    }
}

/// The table of one function.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionTable {
    pub function: String,
    pub rows: Vec<Row>,
    /// Indices of the winning rows (ties share).
    pub winners: Vec<usize>,
}

/// Builds the per-function tables.
pub fn function_tables(study: &Study) -> Vec<FunctionTable> {
    (0..study.functions.len())
        .map(|fi| {
            let p = &study.functions[fi].problem;
            let rows: Vec<Row> = (0..study.optimizers.len())
                .map(|oi| {
                    let runs = study.runs_of(oi, fi);
                    let res = runs.iter().map(|r| &r.result);
                    let mut outcomes = [0usize; 6];
                    for r in res.clone() {
                        outcomes[Outcome::ALL.iter().position(|o| *o == r.outcome).unwrap()] += 1;
                    }
                    let succ: Vec<f64> = res.clone().filter(|r| r.outcome.success()).map(|r| r.steps as f64).collect();
                    let all_steps: Vec<f64> = res.clone().map(|r| r.steps_to_success()).collect();
                    let (lr, lr_how) = match &study.lr[oi][fi] {
                        LrChoice::Tuned { lr, .. } => (Some(*lr), "tuned"),
                        LrChoice::Fixed(v) => (Some(*v), "fixed"),
                        LrChoice::None => (None, "none"),
                    };
                    Row {
                        optimizer: study.optimizers[oi].label.clone(),
                        lr,
                        lr_how,
                        runs: runs.len(),
                        successes: succ.len(),
                        final_f: Spread::of(&res.clone().map(|r| r.f_for_stats()).collect::<Vec<_>>()),
                        gap: Spread::of(&res.clone().map(|r| r.gap(p)).collect::<Vec<_>>()),
                        dist: Spread::of(&res.clone().map(|r| r.distance(p)).collect::<Vec<_>>()),
                        steps: Spread::of(&succ),
                        cost: quantile_sorted(&sorted(all_steps), 0.5),
                        outcomes,
                    }
                })
                .collect();
            let has_fstar = p.fstar.is_some();
            let best = rows
                .iter()
                .map(|r| r.key(has_fstar))
                .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.total_cmp(&b.2)));
            let winners = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    let k = r.key(has_fstar);
                    best.is_some_and(|b| k.0 == b.0 && k.1.total_cmp(&b.1).is_eq() && k.2.total_cmp(&b.2).is_eq())
                })
                .map(|(i, _)| i)
                .collect();
            FunctionTable { function: p.name().to_string(), rows, winners }
        })
        .collect()
}

/// Thresholds τ of the performance profile.
pub const TAUS: [f64; 4] = [1.0, 2.0, 4.0, 10.0];

/// Summary of one optimizer across functions.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub optimizer: String,
    pub wins: usize,
    /// Fraction of functions with cost within τ × the best cost, for each of [`TAUS`].
    pub profile: Vec<f64>,
    /// Fraction of functions where the median run succeeds (cost finite; τ = ∞).
    pub solved: f64,
    pub successes: usize,
    pub runs: usize,
}

/// Wins and performance profile (Dolan & Moré 2002) over the functions. The cost of an optimizer on
/// a function is its median steps to success over all evaluation starts, failures counting +∞.
pub fn summary(study: &Study, tables: &[FunctionTable]) -> Vec<SummaryRow> {
    let nf = tables.len() as f64;
    (0..study.optimizers.len())
        .map(|oi| {
            let mut profile = vec![0.0; TAUS.len()];
            let mut solved = 0.0;
            for t in tables {
                let best = t.rows.iter().map(|r| r.cost).fold(f64::INFINITY, f64::min);
                let c = t.rows[oi].cost;
                if c.is_finite() {
                    solved += 1.0;
                    for (k, tau) in TAUS.iter().enumerate() {
                        if c.max(1.0) <= tau * best.max(1.0) {
                            profile[k] += 1.0;
                        }
                    }
                }
            }
            SummaryRow {
                optimizer: study.optimizers[oi].label.clone(),
                wins: tables.iter().filter(|t| t.winners.contains(&oi)).count(),
                profile: profile.iter().map(|v| v / nf).collect(),
                solved: solved / nf,
                successes: tables.iter().map(|t| t.rows[oi].successes).sum(),
                runs: tables.iter().map(|t| t.rows[oi].runs).sum(),
            }
        })
        .collect()
}

pub use crate::format::num;

/// A learning rate, short.
pub fn lr_text(lr: Option<f64>) -> String {
    lr.map(|v| fmt_sig(v, 3)).unwrap_or_else(|| "—".into())
}

fn fmt_sig(v: f64, sig: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let e = v.abs().log10().floor() as i32;
    if (-4..5).contains(&e) {
        let digits = (sig as i32 - 1 - e).max(0) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v:.prec$e}", prec = sig - 1)
    }
}

/// A CSV number: shortest round-trip, `inf`, empty for NaN.
fn c(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x:?}")
    }
}

fn point(x: &[f64]) -> String {
    format!("({})", x.iter().map(|v| fmt_sig(*v, 4)).collect::<Vec<_>>().join(", "))
}

/// The Markdown report (deterministic: no timings).
pub fn markdown(study: &Study, tables: &[FunctionTable], sum: &[SummaryRow]) -> String {
    let cfg = &study.config;
    let mut s = String::new();
    let _ = writeln!(s, "# Optimizers on classic test functions\n");
    let _ = writeln!(
        s,
        "Optimizers: {}.  \nFunctions: {}.  \nStarts per function: its default starts + {} random starts \
         (uniform in the plot box ∩ domain, seed {}); lr tuning on {} other random starts.  \n\
         Budget: {} steps per run. Success: |f − f*| <= {}·max(1, |f*|) (\"reached\"), or leaving the domain \
         of a function without minimum (\"escaped\"). Stalled: max|Δθ| <= {}·max(1, max|θ|) on {} consecutive \
         steps. Diverged: non-finite values or more than {} domain widths outside the domain.  \n\
         Learning rate: best median score over a log grid of {} values from {} to {} (see docs/study.md).  \n\
         Spread: median [q25, q75] over starts; diverged runs count as ∞. Steps to tol: over successful runs.\n",
        study.optimizers.iter().map(|o| format!("`{}`", o.label)).collect::<Vec<_>>().join(", "),
        study.functions.iter().map(|f| format!("`{}`", f.problem.name())).collect::<Vec<_>>().join(", "),
        cfg.random_starts,
        cfg.seed,
        cfg.tune_starts,
        cfg.steps,
        cfg.ftol,
        cfg.xtol,
        cfg.patience,
        optlab_lab::function_task::FAR_WIDTHS,
        cfg.lr_grid.len(),
        cfg.lr_grid.first().copied().unwrap_or(f64::NAN),
        cfg.lr_grid.last().copied().unwrap_or(f64::NAN),
    );

    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(
        s,
        "Wins: the function's best optimizer by success rate, then median steps to tol, then median gap (ties \
         share). Performance profile ρ(τ): fraction of functions on which the optimizer's cost is within τ × the \
         best optimizer's cost; cost = median over all starts of steps to success, failures counting ∞ \
         (so it is finite when at least half the runs succeed); \"solved\" = ρ(∞).\n"
    );
    let _ = write!(s, "| optimizer | wins | success |");
    for t in TAUS {
        let _ = write!(s, " ρ({t}) |");
    }
    let _ = writeln!(s, " solved |");
    let _ = writeln!(s, "|---|---:|---:|{}---:|", "---:|".repeat(TAUS.len()));
    for r in sum {
        let _ = write!(s, "| `{}` | {} | {}/{} |", r.optimizer, r.wins, r.successes, r.runs);
        for p in &r.profile {
            let _ = write!(s, " {p:.2} |");
        }
        let _ = writeln!(s, " {:.2} |", r.solved);
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Winners per function: ");
    for t in tables {
        let w: Vec<String> = t.winners.iter().map(|&i| format!("`{}`", t.rows[i].optimizer)).collect();
        let _ = writeln!(s, "- `{}`: {}", t.function, w.join(", "));
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "## Learning rates used\n");
    let _ = write!(s, "| optimizer |");
    for t in tables {
        let _ = write!(s, " {} |", t.function);
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "|---|{}", "---:|".repeat(tables.len()));
    for (oi, o) in study.optimizers.iter().enumerate() {
        let _ = write!(s, "| `{}` |", o.label);
        for t in tables {
            let r = &t.rows[oi];
            let mark = if r.lr_how == "fixed" { " (fixed)" } else { "" };
            let _ = write!(s, " {}{} |", lr_text(r.lr), mark);
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s);

    for (fi, t) in tables.iter().enumerate() {
        let sf = &study.functions[fi];
        let p = &sf.problem;
        let _ = writeln!(s, "## `{}` — {}\n", t.function, p.f.title());
        let _ = writeln!(s, "`{}`  ", p.f.formula());
        let minima = if p.minima.is_empty() {
            "none (unbounded below; success = escaping the domain)".to_string()
        } else {
            p.minima.iter().map(|m| point(m)).collect::<Vec<_>>().join(" ")
        };
        let _ = writeln!(
            s,
            "f* = {}, minima {}; {} default starts {} + {} random starts in {}.\n",
            p.fstar.map(num).unwrap_or_else(|| "none".into()),
            minima,
            sf.starts.iter().filter(|st| st.default).count(),
            sf.starts.iter().filter(|st| st.default).map(|st| point(&st.x)).collect::<Vec<_>>().join(" "),
            sf.starts.iter().filter(|st| !st.default).count(),
            p.start_box.iter().map(|(a, b)| format!("[{}, {}]", num(*a), num(*b))).collect::<Vec<_>>().join("×"),
        );
        let _ = writeln!(
            s,
            "| optimizer | lr | success | final f | gap f − f* | dist to min | steps to tol | \
             reached/escaped/stalled/max/diverged/time |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for (i, r) in t.rows.iter().enumerate() {
            let name =
                if t.winners.contains(&i) { format!("**`{}`**", r.optimizer) } else { format!("`{}`", r.optimizer) };
            let _ = writeln!(
                s,
                "| {} | {} | {}/{} | {} | {} | {} | {} | {} |",
                name,
                lr_text(r.lr),
                r.successes,
                r.runs,
                r.final_f.md(),
                r.gap.md(),
                r.dist.md(),
                r.steps.md(),
                r.outcomes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("/"),
            );
        }
        let _ = writeln!(s);
    }
    s
}

/// Per-function statistics as one long CSV.
pub fn tables_csv(tables: &[FunctionTable]) -> String {
    let mut s = String::from(
        "function,optimizer,lr,lr_how,runs,successes,success_rate,final_f_median,final_f_q25,final_f_q75,\
         gap_median,gap_q25,gap_q75,dist_median,dist_q25,dist_q75,steps_median,steps_q25,steps_q75,cost,winner",
    );
    for o in Outcome::ALL {
        let _ = write!(s, ",{}", o.as_str());
    }
    s.push('\n');
    for t in tables {
        for (i, r) in t.rows.iter().enumerate() {
            let _ = write!(
                s,
                "{},{},{},{},{},{},{},",
                t.function,
                r.optimizer,
                r.lr.map(c).unwrap_or_default(),
                r.lr_how,
                r.runs,
                r.successes,
                c(r.success_rate())
            );
            for sp in [r.final_f, r.gap, r.dist, r.steps] {
                let _ = write!(s, "{},{},{},", c(sp.median), c(sp.q25), c(sp.q75));
            }
            let _ = write!(s, "{},{}", c(r.cost), t.winners.contains(&i));
            for n in r.outcomes {
                let _ = write!(s, ",{n}");
            }
            s.push('\n');
        }
    }
    s
}

/// The summary as CSV.
pub fn summary_csv(sum: &[SummaryRow]) -> String {
    let mut s = String::from("optimizer,wins,successes,runs");
    for t in TAUS {
        let _ = write!(s, ",profile_tau_{t}");
    }
    s.push_str(",solved\n");
    for r in sum {
        let _ = write!(s, "{},{},{},{}", r.optimizer, r.wins, r.successes, r.runs);
        for p in &r.profile {
            let _ = write!(s, ",{}", c(*p));
        }
        let _ = writeln!(s, ",{}", c(r.solved));
    }
    s
}

/// Every grid value of the learning-rate protocol.
pub fn lr_csv(study: &Study) -> String {
    let mut s = String::from("optimizer,function,lr,valid,median_score,median_steps,successes,runs,chosen\n");
    for (oi, o) in study.optimizers.iter().enumerate() {
        for (fi, sf) in study.functions.iter().enumerate() {
            match &study.lr[oi][fi] {
                LrChoice::Tuned { lr, trials } => {
                    for t in trials {
                        let _ = writeln!(
                            s,
                            "{},{},{},{},{},{},{},{},{}",
                            o.label,
                            sf.problem.name(),
                            c(t.lr),
                            !t.invalid,
                            c(t.median_score),
                            c(t.median_steps),
                            t.successes,
                            t.runs,
                            t.lr == *lr
                        );
                    }
                }
                LrChoice::Fixed(v) => {
                    let _ = writeln!(s, "{},{},{},true,,,,,true", o.label, sf.problem.name(), c(*v));
                }
                LrChoice::None => {}
            }
        }
    }
    s
}

/// Every evaluation run.
pub fn runs_csv(study: &Study) -> String {
    let d = study.functions.iter().map(|f| f.problem.f.dim()).max().unwrap_or(1);
    let mut s = String::from("optimizer,function,start,kind");
    for i in 0..d {
        let _ = write!(s, ",start_x{i}");
    }
    s.push_str(",lr,outcome,steps,final_f,gap,dist");
    for i in 0..d {
        let _ = write!(s, ",final_x{i}");
    }
    s.push('\n');
    for r in &study.runs {
        let sf = &study.functions[r.function];
        let st = &sf.starts[r.start];
        let res = &r.result;
        let _ = write!(
            s,
            "{},{},{},{}",
            study.optimizers[r.optimizer].label,
            sf.problem.name(),
            r.start,
            if st.default { "default" } else { "random" }
        );
        for i in 0..d {
            let _ = write!(s, ",{}", st.x.get(i).map(|v| c(*v)).unwrap_or_default());
        }
        let _ = write!(
            s,
            ",{},{},{},{},{},{}",
            study.lr[r.optimizer][r.function].lr().map(c).unwrap_or_default(),
            res.outcome.as_str(),
            res.steps,
            c(res.final_f),
            c(res.gap(&sf.problem)),
            c(res.distance(&sf.problem))
        );
        for i in 0..d {
            let _ = write!(s, ",{}", res.final_x.get(i).map(|v| c(*v)).unwrap_or_default());
        }
        s.push('\n');
    }
    s
}

/// Writes the trajectories of the default starts of function `fi`: `optimizer,start,step,loss,x0,...`.
pub fn write_trajectories(study: &Study, fi: usize, out: &mut dyn Write) -> std::io::Result<()> {
    let d = study.functions[fi].problem.f.dim();
    let cols: Vec<String> = (0..d).map(|i| format!("x{i}")).collect();
    writeln!(out, "optimizer,start,step,loss,{}", cols.join(","))?;
    for oi in 0..study.optimizers.len() {
        for r in study.runs_of(oi, fi) {
            let Some(tr) = &r.trace else { continue };
            for (step, row) in tr.chunks_exact(d + 1).enumerate() {
                write!(out, "{},{},{},{:?}", study.optimizers[oi].label, r.start, step, row[0])?;
                for v in &row[1..] {
                    write!(out, ",{v:?}")?;
                }
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

fn write_file(path: &Path, content: &[u8]) -> Result<()> {
    std::fs::write(path, content).map_err(|e| ReportError::io(path, e))
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| ReportError::io(path, e))
}

/// Writes `tables.md`, `tables.csv`, `summary.csv`, `lr_tuning.csv`, `runs.csv`, `study.json` and
/// `trajectories/<function>.csv` into `dir`; returns (what, path) pairs.
pub fn write_all(study: &Study, dir: &Path) -> Result<Vec<(&'static str, PathBuf)>> {
    create_dir(dir)?;
    let tables = function_tables(study);
    let sum = summary(study, &tables);
    let mut out = Vec::new();
    let mut put = |what: &'static str, name: &str, content: String| -> Result<()> {
        let p = dir.join(name);
        write_file(&p, content.as_bytes())?;
        out.push((what, p));
        Ok(())
    };
    put("tables (Markdown)", "tables.md", markdown(study, &tables, &sum))?;
    put("tables (CSV)", "tables.csv", tables_csv(&tables))?;
    put("summary: wins and performance profile (CSV)", "summary.csv", summary_csv(&sum))?;
    put("learning-rate protocol (CSV)", "lr_tuning.csv", lr_csv(study))?;
    put("every run (CSV)", "runs.csv", runs_csv(study))?;
    put("configuration and timing (JSON)", "study.json", study_json_text(study))?;
    let tdir = dir.join("trajectories");
    create_dir(&tdir)?;
    for fi in 0..study.functions.len() {
        let p = tdir.join(format!("{}.csv", optlab_functions::file_stem(study.functions[fi].problem.name())));
        let file = std::fs::File::create(&p).map_err(|e| ReportError::io(&p, e))?;
        let mut w = std::io::BufWriter::new(file);
        write_trajectories(study, fi, &mut w).and_then(|_| w.flush()).map_err(|e| ReportError::io(&p, e))?;
    }
    out.push(("trajectories of the default starts (CSV per function)", tdir));
    Ok(out)
}

/// A short text summary for the terminal.
pub fn summary_text(study: &Study) -> String {
    let tables = function_tables(study);
    let sum = summary(study, &tables);
    let mut s = String::new();
    let w = sum.iter().map(|r| r.optimizer.len()).max().unwrap_or(9).max(9);
    let _ = writeln!(s, "{:w$}  wins  success    ρ(1)  ρ(2)  ρ(4)  ρ(10) solved", "optimizer");
    for r in &sum {
        let _ = write!(s, "{:w$}  {:4}  {:>9}", r.optimizer, r.wins, format!("{}/{}", r.successes, r.runs));
        for p in &r.profile {
            let _ = write!(s, "  {p:.2}");
        }
        let _ = writeln!(s, "  {:.2}", r.solved);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(123.456), "123");
        assert_eq!(num(0.012345), "0.0123");
        assert_eq!(num(7.83e-7), "7.83e-7");
        assert_eq!(num(f64::INFINITY), "∞");
        assert_eq!(num(f64::NAN), "—");
        assert_eq!(lr_text(Some(10f64.powf(-1.0 / 3.0))), "0.464");
        assert_eq!(lr_text(Some(1e-4)), "0.0001");
        assert_eq!(lr_text(None), "—");
    }

    #[test]
    fn spread_is_median_and_iqr() {
        let s = Spread::of(&[5.0, 1.0, 3.0, 2.0, 4.0, f64::NAN]);
        assert_eq!((s.median, s.q25, s.q75), (3.0, 2.0, 4.0));
        assert!(Spread::of(&[]).median.is_nan());
    }
}
