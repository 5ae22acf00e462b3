//! optlab reports: from run records ([`optlab_lab::record`]) to tables, plots and one
//! self-contained HTML page.
//!
//! [`render`] writes into an output directory:
//! - `report.html`: the experiment's description, the verdict of each comparison (see
//!   [`verdict`]: per task the optimizer that reaches the target first or ends lowest, by how
//!   much, bootstrap intervals, a significance test; AlgoPerf scores, speed-ups against the
//!   baseline), a run-status summary (runs that diverged or failed), and per comparison its
//!   plots, hyperparameter importance and sensitivity, then its tables (inline SVG, inline CSS,
//!   no script, no external URL), then the experiment file's source;
//! - `tables/<comparison>-verdict.md`: the verdict as Markdown;
//! - `tables/<comparison>.md` and `.csv`: one row per configuration and task (see [`table`]);
//! - `tables/<comparison>-best.md` and `.csv`: the best configuration of each optimizer per task
//!   (see [`select`]), when an optimizer has several configurations;
//! - `tables/<comparison>-tuning.md` and `.csv`: for a comparison with a tuning protocol, the
//!   grid, the scores of each value and the value chosen (see [`tuning`]); the tuning runs are
//!   kept out of the other tables and the plots;
//! - `plots/<comparison>-<task>-<kind>.svg` and `.png`: loss curves (network runs' training loss
//!   against their logged steps or epochs, optionally smoothed: [`plots::curves`]), validation loss
//!   and validation accuracy,
//!   heatmaps of two-key sweeps, learning-rate sensitivity, parallel coordinates of the
//!   hyperparameters that vary ([`parallel`]), trajectories on 2-D test functions,
//!   steps/time to the target, and `plots/<comparison>-profile.*`, the performance profiles.
//!   With more than [`select::MAX_DRAWN`] configurations on a task, the curve, trajectory and
//!   target plots (and the profile) show the best configuration of each optimizer only; long
//!   series are thinned to at most [`thin::MAX_POINTS`] points.
//!
//! [`ema`] writes the files of `optlab ema` (EMAs of a series, the momentum formulations).
//!
//! [`train_plots`] writes the files of `optlab train --out` (CSV, loss and accuracy plots).
//!
//! [`study_tables`] and [`study_plots`] write the files of `optlab functions study` from an
//! `optlab_lab::study::Study`.
//!
//! Every file is written to a temporary name and renamed, so a reader never sees half a file; the
//! output depends only on the records (no clock, no randomness, runs in any order). The temporary
//! names hold the writer's process id (`.report.html.tmpPID`, `plots/.NAME.tmpPID.png`); those
//! left behind by a killed process (one that is no longer alive) are removed by the next render
//! (see [`remove_stale_tmp`]).

pub mod ema;
pub mod error;
pub mod format;
pub mod group;
pub mod histograms;
pub mod html;
pub mod landscape;
pub mod net_landscape;
pub mod parallel;
pub mod plots;
pub mod scores;
pub mod select;
pub mod stats;
pub mod study_plots;
pub mod study_tables;
pub mod style;
pub mod table;
pub mod thin;
pub mod train_plots;
pub mod tuning;
pub mod verdict;

pub use error::ReportError;

use optlab_lab::record::{ExperimentInfo, RunRecord};
use std::path::{Path, PathBuf};

/// What [`render`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedReport {
    /// `out/report.html`.
    pub html: PathBuf,
    /// Every file written (tables, plots, then the HTML), in writing order.
    pub files: Vec<PathBuf>,
}

fn tmp_name(path: &Path, keep_ext: bool) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let pid = std::process::id();
    match (keep_ext, path.extension()) {
        (true, Some(ext)) => {
            let stem = path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            path.with_file_name(format!(".{stem}.tmp{pid}.{}", ext.to_string_lossy()))
        }
        _ => path.with_file_name(format!(".{name}.tmp{pid}")),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let tmp = tmp_name(path, false);
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(ReportError::io(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ReportError::io(path, e)
    })
}

/// The process id in a temporary name made by `tmp_name` (`.NAME.tmpPID` or `.STEM.tmpPID.EXT`).
fn tmp_pid(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?;
    let (stem, tail) = rest.rsplit_once(".tmp")?;
    if stem.is_empty() {
        return None;
    }
    let (digits, ext) = match tail.split_once('.') {
        Some((d, e)) => (d, Some(e)),
        None => (tail, None),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if ext.is_some_and(|e| e.is_empty() || !e.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return None;
    }
    digits.parse().ok()
}

/// Removes from `dir` the temporary files of renders by processes that are no longer alive
/// (killed mid-write). Files of live processes (another render in progress) are kept, and so is
/// everything where liveness cannot be told (not Linux). Returns the files removed.
pub fn remove_stale_tmp(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(ReportError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| ReportError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = tmp_pid(&name) else { continue };
        if pid == std::process::id() || optlab_lab::process::pid_alive(pid) != Some(false) {
            continue;
        }
        if !entry.file_type().map_err(|e| ReportError::io(entry.path(), e))?.is_file() {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed.push(entry.path()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ReportError::io(entry.path(), e)),
        }
    }
    Ok(removed)
}

fn create_dir(dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))
}

/// Renders the report of an experiment into `out` (created if needed): see the crate docs for the
/// files. Errors name the file that could not be written, or the comparison / run that does not
/// fit the experiment's declarations.
pub fn render(info: &ExperimentInfo, runs: &[RunRecord], out: &Path) -> Result<RenderedReport, ReportError> {
    render_with(info, runs, out, None)
}

/// [`render`], for a report of an experiment that is still running when `live` is given: the
/// page says how far the run is and reloads itself (see [`html::Live`]).
pub fn render_with(
    info: &ExperimentInfo,
    runs: &[RunRecord],
    out: &Path,
    live: Option<html::Live>,
) -> Result<RenderedReport, ReportError> {
    let comparisons = group::group(info, runs)?;
    let (tables_dir, plots_dir) = (out.join("tables"), out.join("plots"));
    create_dir(&tables_dir)?;
    create_dir(&plots_dir)?;
    for dir in [out, &tables_dir, &plots_dir] {
        remove_stale_tmp(dir)?;
    }
    let mut files = Vec::new();
    let tables: Vec<table::Table> = comparisons.iter().map(table::build).collect();
    let bests: Vec<Option<table::Table>> = comparisons.iter().zip(&tables).map(|(c, t)| table::best(c, t)).collect();
    let mut sections = Vec::new();
    for ((cmp, t), best) in comparisons.iter().zip(&tables).zip(&bests) {
        let md = tables_dir.join(format!("{}.md", cmp.slug));
        let csv = tables_dir.join(format!("{}.csv", cmp.slug));
        let title = if cmp.info.title.trim().is_empty() { cmp.info.name.clone() } else { cmp.info.title.clone() };
        let note = table::min_loss_note(cmp.runs()).map(|n| format!("{n}\n\n")).unwrap_or_default();
        write_atomic(&md, format!("# {title}\n\n{note}{}", t.markdown()).as_bytes())?;
        write_atomic(&csv, t.csv().as_bytes())?;
        files.extend([md, csv]);
        let mut best_files = Vec::new();
        if let Some(b) = best {
            let md = tables_dir.join(format!("{}-best.md", cmp.slug));
            let csv = tables_dir.join(format!("{}-best.csv", cmp.slug));
            let head = format!(
                "# {title}: best configuration per optimizer\n\nPer task and optimizer, the configuration with the lowest median final loss over the seeds that ran OK (ties: fewer steps).\n\n"
            );
            write_atomic(&md, format!("{head}{}", b.markdown()).as_bytes())?;
            write_atomic(&csv, b.csv().as_bytes())?;
            best_files = vec![format!("tables/{}-best.md", cmp.slug), format!("tables/{}-best.csv", cmp.slug)];
            files.extend([md, csv]);
        }
        let mut tuning_files = Vec::new();
        let tuning = tuning::tuning_table(cmp.info, runs);
        if let Some(tt) = &tuning {
            let md = tables_dir.join(format!("{}-tuning.md", cmp.slug));
            let csv = tables_dir.join(format!("{}-tuning.csv", cmp.slug));
            write_atomic(&md, format!("# {title}: tuning\n\n{}", tt.markdown()).as_bytes())?;
            write_atomic(&csv, tt.csv().as_bytes())?;
            tuning_files = vec![format!("tables/{}-tuning.md", cmp.slug), format!("tables/{}-tuning.csv", cmp.slug)];
            files.extend([md, csv]);
        }
        let verdict = verdict::build(cmp, t);
        let vmd = tables_dir.join(format!("{}-verdict.md", cmp.slug));
        write_atomic(&vmd, verdict.markdown(&title).as_bytes())?;
        files.push(vmd);
        let mut figures = Vec::new();
        for plot in plots::plots_of(cmp, t) {
            let svg_path = plots_dir.join(format!("{}.svg", plot.stem));
            let png_path = plots_dir.join(format!("{}.png", plot.stem));
            let svg = plot.svg(&svg_path)?;
            write_atomic(&svg_path, svg.as_bytes())?;
            let tmp = tmp_name(&png_path, true);
            if let Err(e) = plot.png(&tmp) {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            std::fs::rename(&tmp, &png_path).map_err(|e| ReportError::io(&png_path, e))?;
            figures.push(html::Figure {
                svg: html::inline_svg(&svg, &plot.caption),
                caption: plot.caption.clone(),
                files: vec![format!("plots/{}.svg", plot.stem), format!("plots/{}.png", plot.stem)],
            });
            files.extend([svg_path, png_path]);
        }
        sections.push(html::Section {
            anchor: format!("cmp-{}", cmp.slug),
            title,
            name: cmp.info.name.clone(),
            description: cmp.info.description.clone(),
            tasks: cmp.tasks.clone(),
            table: t,
            best: best.as_ref(),
            best_files,
            table_files: vec![format!("tables/{}.md", cmp.slug), format!("tables/{}.csv", cmp.slug)],
            tuning: tuning.map(|t| t.html()),
            tuning_files,
            figures,
            runs: cmp.runs().collect(),
            verdict: verdict.html(cmp),
            verdict_files: vec![format!("tables/{}-verdict.md", cmp.slug)],
            sensitivity: verdict.sensitivity_html(),
        });
    }
    let page = html::page_with(info, &sections, runs, live);
    let html_path = out.join("report.html");
    write_atomic(&html_path, page.as_bytes())?;
    files.push(html_path.clone());
    Ok(RenderedReport { html: html_path, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_and_their_process_ids() {
        let p = Path::new("/r/plots/a-b.png");
        let t = tmp_name(p, true);
        assert_eq!(tmp_pid(&t.file_name().unwrap().to_string_lossy()), Some(std::process::id()));
        let t = tmp_name(Path::new("/r/report.html"), false);
        assert_eq!(tmp_pid(&t.file_name().unwrap().to_string_lossy()), Some(std::process::id()));
        assert_eq!(tmp_pid(".report.html.tmp123"), Some(123));
        assert_eq!(tmp_pid(".c-sphere-loss.tmp77.png"), Some(77));
        for other in ["report.html", ".tmp12", ".x.tmp", ".x.tmp12.", ".x.tmpab", "x.tmp12", ".x.tmp1.p-g", ".hidden"] {
            assert_eq!(tmp_pid(other), None, "{other}");
        }
    }
}
