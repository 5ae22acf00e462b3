//! The self-contained HTML report: inline CSS, inline SVG plots, no script and no external URL.

use crate::table::Table;
use optlab_lab::record::{ExperimentInfo, RunRecord, Status};
use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Inline Markdown of one line (already escaped): `code`, **bold**, *emphasis*.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(['`', '*']) {
        out.push_str(&rest[..i]);
        let r = &rest[i..];
        let (open, tag) = if r.starts_with('`') {
            ("`", "code")
        } else if r.starts_with("**") {
            ("**", "strong")
        } else {
            ("*", "em")
        };
        match r[open.len()..].find(open) {
            Some(j) if j > 0 => {
                let _ = write!(out, "<{tag}>{}</{tag}>", &r[open.len()..open.len() + j]);
                rest = &r[open.len() + j + open.len()..];
            }
            _ => {
                out.push_str(open);
                rest = &r[open.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A little Markdown as HTML: paragraphs, `#` headings (shown two levels down), `-`/`*` lists,
/// inline code, bold and emphasis. Everything is escaped first, so no raw HTML gets through.
pub fn markdown(text: &str) -> String {
    let mut out = String::new();
    let mut para: Vec<String> = Vec::new();
    let mut list: Vec<String> = Vec::new();
    let flush = |out: &mut String, para: &mut Vec<String>, list: &mut Vec<String>| {
        if !para.is_empty() {
            let _ = writeln!(out, "<p>{}</p>", para.iter().map(|l| inline(l)).collect::<Vec<_>>().join("\n"));
            para.clear();
        }
        if !list.is_empty() {
            let _ = writeln!(
                out,
                "<ul>{}</ul>",
                list.iter().map(|l| format!("<li>{}</li>", inline(l))).collect::<String>()
            );
            list.clear();
        }
    };
    for raw in text.lines() {
        let line = escape(raw.trim_end());
        let t = line.trim_start();
        if t.is_empty() {
            flush(&mut out, &mut para, &mut list);
        } else if let Some(h) = t.strip_prefix('#') {
            flush(&mut out, &mut para, &mut list);
            let level = 1 + h.chars().take_while(|&c| c == '#').count();
            let content = h.trim_start_matches('#').trim();
            let tag = (level + 2).min(6);
            let _ = writeln!(out, "<h{tag}>{}</h{tag}>", inline(content));
        } else if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            if !para.is_empty() {
                let mut none = Vec::new();
                flush(&mut out, &mut para, &mut none);
            }
            list.push(item.to_string());
        } else {
            if !list.is_empty() {
                let mut none = Vec::new();
                flush(&mut out, &mut none, &mut list);
            }
            para.push(t.to_string());
        }
    }
    flush(&mut out, &mut para, &mut list);
    out
}

/// Prepares a plotters SVG document for inlining: no XML namespace URL, no fixed size (it scales
/// to the page through its viewBox), an accessible label.
pub fn inline_svg(svg: &str, label: &str) -> String {
    let body = svg.trim();
    let Some(end) = body.find('>') else { return String::new() };
    let (open, rest) = body.split_at(end);
    let attr = |key: &str| -> Option<&str> {
        let i = open.find(&format!(" {key}=\""))?;
        let v = &open[i + key.len() + 3..];
        v.find('"').map(|j| &v[..j])
    };
    let mut attrs = String::new();
    if let Some(v) = attr("viewBox") {
        let _ = write!(attrs, " viewBox=\"{v}\"");
    }
    // Never wider than drawn (small plots stay small), narrower with the window.
    if let Some(w) = attr("width").filter(|w| w.chars().all(|c| c.is_ascii_digit())) {
        let _ = write!(attrs, " style=\"max-width:{w}px\"");
    }
    format!("<svg class=\"plot\"{attrs} role=\"img\" aria-label=\"{}\"{}", escape(label), rest)
}

const CSS: &str = "
body{margin:0;background:#f6f6f4;color:#1d1d1d;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:1.9em;margin:.2em 0 .3em}h2{margin-top:2em;border-bottom:2px solid #ddd;padding-bottom:.2em}
h3{margin-top:1.6em}.meta{color:#555}
code,pre{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.9em}
pre{background:#f3f3f0;padding:12px;overflow-x:auto;border:1px solid #e2e2dc}
nav ul{columns:2;padding-left:1.2em}
.table-wrap{overflow-x:auto;margin:.6em 0}
table{border-collapse:collapse;font-size:.88em;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f0f0ec;position:sticky;top:0}
td.t,th.t{text-align:left}
tr:nth-child(even) td{background:#fafaf8}
td.bad{color:#a01414;font-weight:600}
.rng{color:#666;font-size:.85em}
figure{margin:1.4em 0;border:1px solid #e4e4e0;padding:8px}
figcaption{color:#444;font-size:.92em;margin-top:4px}
svg.plot{display:block;width:100%;height:auto;max-width:1100px}
.counts span{display:inline-block;margin-right:1.4em}
.ok{color:#1f7a1f}.diverged{color:#b35a00}.failed{color:#a01414}
details{margin-top:2.5em}summary{cursor:pointer;font-weight:600}
details.bad-runs,details.long-table{margin:1.2em 0}details.bad-runs summary{font-size:1.1em}
ul.verdict li{margin:.45em 0}.live{background:#fff6d6;border:1px solid #e0c060;padding:6px 10px}
";

/// One plot as it goes into the page.
pub struct Figure {
    pub svg: String,
    pub caption: String,
    /// Relative paths of the files behind it (SVG, PNG).
    pub files: Vec<String>,
}

/// One comparison's section.
pub struct Section<'a> {
    pub anchor: String,
    pub title: String,
    pub name: String,
    pub description: String,
    pub tasks: Vec<String>,
    pub table: &'a Table,
    /// The best configuration per optimizer (see [`crate::table::best`]) and its files.
    pub best: Option<&'a Table>,
    pub best_files: Vec<String>,
    pub table_files: Vec<String>,
    /// The tuning table (HTML) of a comparison with a tuning protocol, and its files.
    pub tuning: Option<String>,
    pub tuning_files: Vec<String>,
    pub figures: Vec<Figure>,
    pub runs: Vec<&'a RunRecord>,
    /// The verdict (see [`crate::verdict`]) as HTML, and its Markdown file.
    pub verdict: String,
    pub verdict_files: Vec<String>,
    /// The hyperparameter importance and sensitivity tables (HTML), when some hyperparameter varies.
    pub sensitivity: Option<String>,
}

/// A report rendered while its experiment is still running (`optlab report --watch`): the page
/// reloads itself every `every_s` seconds by a meta refresh (no script) and says how far the
/// run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Live {
    pub every_s: u32,
    /// Runs stored, and runs in the experiment's plan.
    pub stored: usize,
    pub planned: usize,
}

fn counts(runs: &[&RunRecord]) -> (usize, usize, usize, usize) {
    let c = |s: Status| runs.iter().filter(|r| r.status == s).count();
    (c(Status::Ok), c(Status::Diverged), c(Status::Failed), c(Status::Pruned))
}

fn table_html(t: &Table) -> String {
    let mut s = String::from("<div class=\"table-wrap\"><table>\n<thead><tr>");
    let n_text = t.text_columns();
    for (i, h) in t.headers().iter().enumerate() {
        let cls = if i < n_text { " class=\"t\"" } else { "" };
        let _ = write!(s, "<th{cls}>{}</th>", escape(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for r in &t.rows {
        s.push_str("<tr>");
        for (i, c) in t.cells(r).iter().enumerate() {
            let bad = c == "diverged" || c == "failed" || c.starts_with("not reached");
            let cls = match (i < n_text, bad) {
                (true, _) => " class=\"t\"",
                (false, true) => " class=\"bad\"",
                _ => "",
            };
            // A range goes on a second, smaller line.
            match c.split_once(" (") {
                Some((m, rest)) if i >= n_text => {
                    let _ = write!(s, "<td{cls}>{}<br><span class=\"rng\">({}</span></td>", escape(m), escape(rest));
                }
                _ => {
                    let _ = write!(s, "<td{cls}>{}</td>", escape(c));
                }
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table></div>\n");
    s
}

/// Up to this many rows, a comparison's table is shown unfolded.
const TABLE_ROWS_OPEN: usize = 120;

/// Up to this many rows, the list of diverged and failed runs is shown unfolded.
const BAD_ROWS_OPEN: usize = 25;

/// The runs of one configuration on one task that ended with the same status.
struct BadGroup<'a> {
    comparison: &'a str,
    task: &'a str,
    label: &'a str,
    status: Status,
    runs: usize,
    seeds: Vec<u64>,
    /// Fewest and most steps.
    steps: (u64, u64),
    /// The first run's error message.
    error: Option<&'a str>,
    /// How many distinct other messages the group's runs have.
    other_errors: usize,
}

fn bad_groups<'a>(sections: &'a [Section<'a>]) -> Vec<BadGroup<'a>> {
    let mut out: Vec<BadGroup> = Vec::new();
    let mut messages: Vec<Vec<&str>> = Vec::new();
    for sec in sections {
        for r in sec.runs.iter().filter(|r| r.status != Status::Ok) {
            let i = match out.iter().position(|g| {
                g.comparison == sec.name && g.task == r.task && g.label == r.label && g.status == r.status
            }) {
                Some(i) => i,
                None => {
                    out.push(BadGroup {
                        comparison: &sec.name,
                        task: &r.task,
                        label: &r.label,
                        status: r.status,
                        runs: 0,
                        seeds: Vec::new(),
                        steps: (r.summary.steps, r.summary.steps),
                        error: r.error.as_deref(),
                        other_errors: 0,
                    });
                    messages.push(Vec::new());
                    out.len() - 1
                }
            };
            let g = &mut out[i];
            g.runs += 1;
            if !g.seeds.contains(&r.seed) {
                g.seeds.push(r.seed);
            }
            g.steps = (g.steps.0.min(r.summary.steps), g.steps.1.max(r.summary.steps));
            let m = r.error.as_deref().unwrap_or("");
            if r.error.as_deref() != g.error && !messages[i].contains(&m) {
                messages[i].push(m);
                g.other_errors += 1;
            }
        }
    }
    out
}

/// The tuning trials the pruner stopped (counted apart from the diverged and failed runs; they
/// are tuning runs, so the per-comparison counts above leave them out): one row per run with the
/// epoch it reached and the pruner's reason. Empty without pruned runs.
fn pruned_html(all_runs: &[RunRecord]) -> String {
    let pruned: Vec<&RunRecord> = all_runs.iter().filter(|r| r.status == Status::Pruned).collect();
    if pruned.is_empty() {
        return String::new();
    }
    let tuning = all_runs.iter().filter(|r| r.tuning().is_some()).count();
    let open = if pruned.len() <= BAD_ROWS_OPEN { " open" } else { "" };
    let mut s = format!(
        "<details class=\"pruned-runs\"{open}>\n<summary>Tuning trials pruned: {} of {tuning} tuning runs (stopped between epochs by the comparison's pruner; not failures)</summary>\n",
        pruned.len()
    );
    s.push_str("<div class=\"table-wrap\"><table>\n<thead><tr><th class=\"t\">comparison</th><th class=\"t\">task</th><th class=\"t\">trial</th><th>seed</th><th>epoch reached</th><th>steps</th><th class=\"t\">why</th></tr></thead>\n<tbody>\n");
    for r in pruned {
        let _ = writeln!(
            s,
            "<tr><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"t\" style=\"white-space:normal\">{}</td></tr>",
            escape(&r.comparison),
            escape(&r.task),
            escape(&r.label),
            r.seed,
            r.summary.epochs.map_or("—".to_string(), |e| e.to_string()),
            r.summary.steps,
            escape(r.error.as_deref().unwrap_or(""))
        );
    }
    s.push_str("</tbody></table></div>\n</details>\n");
    s
}

/// Seeds as short text: `0`, `0, 1, 2`, `0–19`, or the first few and a count.
fn seed_list(seeds: &[u64]) -> String {
    let mut v = seeds.to_vec();
    v.sort_unstable();
    match v.as_slice() {
        [] => String::new(),
        [a] => a.to_string(),
        [a, .., z] if (z - a) as usize + 1 == v.len() && v.len() > 3 => format!("{a}–{z}"),
        _ if v.len() <= 5 => v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
        _ => format!("{}, … ({} seeds)", v[..3].iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "), v.len()),
    }
}

/// The whole page.
pub fn page(info: &ExperimentInfo, sections: &[Section], all_runs: &[RunRecord]) -> String {
    page_with(info, sections, all_runs, None)
}

/// The whole page; with `live`, one that reloads itself while the experiment runs (see [`Live`]).
/// The page opens with the verdict of each comparison, then the run status (the runs that
/// diverged or failed), then per comparison its plots, then its tables.
pub fn page_with(info: &ExperimentInfo, sections: &[Section], all_runs: &[RunRecord], live: Option<Live>) -> String {
    let mut s = String::new();
    let title = if info.title.trim().is_empty() { info.name.clone() } else { info.title.clone() };
    let refresh =
        live.map(|l| format!("<meta http-equiv=\"refresh\" content=\"{}\">\n", l.every_s.max(1))).unwrap_or_default();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{refresh}\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        escape(&title)
    );
    if let Some(l) = live {
        let _ = writeln!(
            s,
            "<p class=\"live\">Running: {} of {} runs stored. This page is re-rendered while the experiment runs and reloads itself every {} s.</p>",
            l.stored,
            l.planned,
            l.every_s.max(1)
        );
    }
    let all: Vec<&RunRecord> = all_runs.iter().collect();
    let (ok, div, fail, pruned) = counts(&all);
    let _ = writeln!(s, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        s,
        "<p class=\"meta\">Experiment <code>{}</code> · {} comparison{} · {} runs: {ok} ok, {div} diverged, {fail} failed{}</p>",
        escape(&info.name),
        sections.len(),
        if sections.len() == 1 { "" } else { "s" },
        all.len(),
        if pruned > 0 { format!(", {pruned} tuning trials pruned") } else { String::new() }
    );
    s.push_str(&markdown(&info.description));
    s.push_str("<nav><h2>Contents</h2><ul>\n<li><a href=\"#verdict\">Verdict</a></li>\n<li><a href=\"#status\">Run status</a></li>\n");
    for sec in sections {
        let _ = writeln!(s, "<li><a href=\"#{}\">{}</a></li>", escape(&sec.anchor), escape(&sec.title));
    }
    s.push_str("<li><a href=\"#source\">Experiment file</a></li>\n</ul></nav>\n");

    // The answer first.
    s.push_str("<section id=\"verdict\">\n<h2>Verdict</h2>\n");
    let _ = writeln!(
        s,
        "<p class=\"meta\">Per task, the optimizer (with its best configuration there) that reaches the target in the fewest steps, or, without a target or when none reached it, that ends with the lowest final training loss; medians over the runs (diverged runs count as never reaching it / an infinite loss; failed runs are left out), 95% percentile-bootstrap intervals over seeds ({} resamples, fixed seed), and a two-sided Mann–Whitney U test of the winner against the runner-up at level {}.</p>",
        crate::scores::RESAMPLES,
        crate::format::num(crate::scores::ALPHA)
    );
    for sec in sections {
        let _ = writeln!(s, "<h3><a href=\"#{}\">{}</a></h3>", escape(&sec.anchor), escape(&sec.title));
        s.push_str(&sec.verdict);
        if !sec.verdict_files.is_empty() {
            let links: Vec<String> =
                sec.verdict_files.iter().map(|f| format!("<a href=\"{}\">{}</a>", escape(f), escape(f))).collect();
            let _ = writeln!(s, "<p class=\"meta\">Files: {}</p>", links.join(" · "));
        }
    }
    s.push_str("</section>\n");

    // Run status.
    s.push_str("<section id=\"status\">\n<h2>Run status</h2>\n<div class=\"table-wrap\"><table>\n<thead><tr><th class=\"t\">comparison</th><th>runs</th><th>ok</th><th>diverged</th><th>failed</th></tr></thead>\n<tbody>\n");
    for sec in sections {
        let (o, d, f, _) = counts(&sec.runs);
        let _ = writeln!(
            s,
            "<tr><td class=\"t\"><a href=\"#{}\">{}</a></td><td>{}</td><td class=\"ok\">{o}</td><td class=\"diverged\">{d}</td><td class=\"failed\">{f}</td></tr>",
            escape(&sec.anchor),
            escape(&sec.name),
            sec.runs.len()
        );
    }
    s.push_str("</tbody></table></div>\n");
    let groups = bad_groups(sections);
    if groups.is_empty() {
        s.push_str("<p>Every run finished normally.</p>\n");
    } else {
        let n_bad: usize = groups.iter().map(|g| g.runs).sum();
        // A long list is folded away so that it does not push the results down the page.
        let open = if groups.len() <= BAD_ROWS_OPEN { " open" } else { "" };
        let _ = writeln!(
            s,
            "<details class=\"bad-runs\"{open}>\n<summary>Runs that diverged or failed: {n_bad} run{} of {} configuration{} (one row per configuration and status)</summary>",
            if n_bad == 1 { "" } else { "s" },
            groups.len(),
            if groups.len() == 1 { "" } else { "s" }
        );
        s.push_str("<div class=\"table-wrap\"><table>\n<thead><tr><th class=\"t\">comparison</th><th class=\"t\">task</th><th class=\"t\">configuration</th><th class=\"t\">status</th><th>runs</th><th>seeds</th><th>steps</th><th class=\"t\">error</th></tr></thead>\n<tbody>\n");
        for g in &groups {
            let steps =
                if g.steps.0 == g.steps.1 { g.steps.0.to_string() } else { format!("{}–{}", g.steps.0, g.steps.1) };
            let more = match g.other_errors {
                0 => String::new(),
                k => format!(" <span class=\"rng\">(+{k} other message{})</span>", if k == 1 { "" } else { "s" }),
            };
            let _ = writeln!(
                s,
                "<tr><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"t {}\">{}</td><td>{}</td><td>{}</td><td>{steps}</td><td class=\"t\" style=\"white-space:normal\">{}{more}</td></tr>",
                escape(g.comparison),
                escape(g.task),
                escape(g.label),
                g.status.as_str(),
                g.status.as_str(),
                g.runs,
                escape(&seed_list(&g.seeds)),
                escape(g.error.unwrap_or("(no message)")),
            );
        }
        s.push_str("</tbody></table></div>\n</details>\n");
    }
    s.push_str(&pruned_html(all_runs));
    s.push_str("</section>\n");

    for sec in sections {
        let _ = writeln!(s, "<section id=\"{}\">", escape(&sec.anchor));
        let _ = writeln!(s, "<h2>{}</h2>", escape(&sec.title));
        let _ = writeln!(
            s,
            "<p class=\"meta\">Comparison <code>{}</code> · tasks: {} · swept: {}</p>",
            escape(&sec.name),
            escape(&sec.tasks.join(", ")),
            if sec.table.keys.is_empty() { "nothing".to_string() } else { escape(&sec.table.keys.join(" × ")) }
        );
        s.push_str(&markdown(&sec.description));
        if let Some(t) = &sec.tuning {
            s.push_str("<h3>Tuning</h3>\n<p>The tuning runs (phase one), kept out of the table and plots below: per task and configuration, every value of the grid and the one chosen for the evaluation runs.</p>\n");
            s.push_str(t);
            let links: Vec<String> =
                sec.tuning_files.iter().map(|f| format!("<a href=\"{}\">{}</a>", escape(f), escape(f))).collect();
            let _ = writeln!(s, "<p class=\"meta\">Files: {}</p>", links.join(" · "));
        }
        if !sec.figures.is_empty() {
            s.push_str("<h3>Plots</h3>\n");
        }
        for fig in &sec.figures {
            let links: Vec<String> =
                fig.files.iter().map(|f| format!("<a href=\"{}\">{}</a>", escape(f), escape(f))).collect();
            let _ = writeln!(
                s,
                "<figure>\n{}\n<figcaption>{} <span class=\"meta\">({})</span></figcaption>\n</figure>",
                fig.svg,
                escape(&fig.caption),
                links.join(" · ")
            );
        }
        if let Some(t) = &sec.sensitivity {
            s.push_str("<h3>Hyperparameters</h3>\n");
            s.push_str(t);
        }
        if let Some(b) = sec.best {
            s.push_str("<h3>Best configuration per optimizer</h3>\n<p>Per task, each optimizer's configuration with the lowest median final loss over the seeds that ran OK (ties: fewer steps); every configuration is in the table below.</p>\n");
            s.push_str(&table_html(b));
            let links: Vec<String> =
                sec.best_files.iter().map(|f| format!("<a href=\"{}\">{}</a>", escape(f), escape(f))).collect();
            let _ = writeln!(s, "<p class=\"meta\">Files: {}</p>", links.join(" · "));
        }
        s.push_str("<h3>Table</h3>\n<p>Medians over the seeds that ran OK, with the range (min–max) in parentheses when the seeds differ.");
        if let Some(note) = crate::table::min_loss_note(sec.runs.iter().copied()) {
            let _ = write!(s, " {}", inline(note));
        }
        s.push_str("</p>\n");
        if sec.table.rows.is_empty() {
            s.push_str("<p>No runs recorded for this comparison yet.</p>\n");
        } else if sec.table.rows.len() > TABLE_ROWS_OPEN {
            // A long table is folded away so that the plots are not thousands of pixels down.
            let _ = writeln!(
                s,
                "<details class=\"long-table\">\n<summary>Every configuration on every task: {} rows (show)</summary>\n{}</details>",
                sec.table.rows.len(),
                table_html(sec.table)
            );
        } else {
            s.push_str(&table_html(sec.table));
        }
        let links: Vec<String> =
            sec.table_files.iter().map(|f| format!("<a href=\"{}\">{}</a>", escape(f), escape(f))).collect();
        let _ = writeln!(s, "<p class=\"meta\">Files: {}</p>", links.join(" · "));
        s.push_str("</section>\n");
    }
    let _ = writeln!(
        s,
        "<details id=\"source\">\n<summary>Experiment file ({} lines)</summary>\n<pre>{}</pre>\n</details>",
        info.source.lines().count(),
        escape(&info.source)
    );
    s.push_str("</main>\n</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_lists_are_short() {
        assert_eq!(seed_list(&[]), "");
        assert_eq!(seed_list(&[3]), "3");
        assert_eq!(seed_list(&[2, 0, 1]), "0, 1, 2");
        assert_eq!(seed_list(&(0..20).rev().collect::<Vec<_>>()), "0–19");
        assert_eq!(seed_list(&[1, 5, 9, 12, 30, 31]), "1, 5, 9, … (6 seeds)");
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn a_little_markdown() {
        let html = markdown("# Title\n\nSome *text* with `code` and **bold**.\nsecond line\n\n- one\n- two <b>\n\nend");
        assert_eq!(
            html,
            "<h3>Title</h3>\n<p>Some <em>text</em> with <code>code</code> and <strong>bold</strong>.\nsecond line</p>\n\
             <ul><li>one</li><li>two &lt;b&gt;</li></ul>\n<p>end</p>\n"
        );
        assert_eq!(markdown("a * b"), "<p>a * b</p>\n");
        assert_eq!(markdown("<script>alert(1)</script>"), "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n");
    }

    #[test]
    fn svg_is_made_inline() {
        let svg = "<svg width=\"10\" height=\"20\" viewBox=\"0 0 10 20\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect/>\n</svg>\n";
        let out = inline_svg(svg, "a \"plot\"");
        assert_eq!(
            out,
            "<svg class=\"plot\" viewBox=\"0 0 10 20\" style=\"max-width:10px\" role=\"img\" aria-label=\"a &quot;plot&quot;\">\n<rect/>\n</svg>"
        );
    }
}
