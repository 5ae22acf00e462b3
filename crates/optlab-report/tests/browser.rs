//! The sample report in a real headless browser (Debian's `chromium`): it loads without console
//! messages and the screenshot shows the plots. The same check on a page with a deliberate
//! script error and on a blank page proves that both halves of the check can fail.
//!
//! Needs `/usr/bin/chromium` (or `$CHROMIUM`): `apt-get install -y chromium`. Without it the
//! tests fail, unless `OPTLAB_SKIP_BROWSER=1` is set (then they say so and pass).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/report/check_html.sh")
}

fn chromium_present() -> bool {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if Path::new(&path).exists() {
        return true;
    }
    if std::env::var("OPTLAB_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED: no chromium at {path} and OPTLAB_SKIP_BROWSER=1");
        return false;
    }
    panic!("no chromium at {path}: apt-get install -y chromium (or set OPTLAB_SKIP_BROWSER=1 to skip)");
}

/// Runs the check script; returns its exit code and output.
fn check(html: &Path, shot: &Path, size: &str) -> (i32, String) {
    let out = Command::new("bash").arg(script()).arg(html).arg(shot).arg(size).output().expect("bash runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// Pixels whose channels differ by more than 60 (plot colours; text and page are grey).
fn colourful_pixels(png: &Path) -> (usize, usize) {
    let img = image::open(png).expect("a PNG screenshot").to_rgb8();
    let n = img.pixels().filter(|p| p.0.iter().max().unwrap() - p.0.iter().min().unwrap() > 60).count();
    (n, (img.width() * img.height()) as usize)
}

#[test]
fn the_report_loads_cleanly_and_shows_its_plots() {
    if !chromium_present() {
        return;
    }
    let (info, runs) = common::sample();
    let dir = tempfile::tempdir().unwrap();
    let rep = optlab_report::render(&info, &runs, dir.path()).unwrap();
    let shot = dir.path().join("screenshot.png");
    let (code, out) = check(&rep.html, &shot, "1280x4000");
    assert_eq!(code, 0, "{out}");
    let (colourful, total) = colourful_pixels(&shot);
    assert_eq!(total, 1280 * 4000);
    // The first screen height holds the status tables and the first plots (loss curves, a
    // landscape with trajectories, target bars): tens of thousands of coloured pixels.
    eprintln!("screenshot: {colourful} coloured pixels of {total}");
    assert!(colourful > 20_000, "only {colourful} coloured pixels: are the plots shown?");
}

#[test]
fn a_script_error_fails_the_check() {
    if !chromium_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("broken.html");
    std::fs::write(&html, "<!DOCTYPE html><html><body><p>x</p><script>noSuchFunction();</script></body></html>")
        .unwrap();
    let (code, out) = check(&html, &dir.path().join("s.png"), "800x600");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("noSuchFunction is not defined"), "{out}");
}

#[test]
fn a_page_without_plots_fails_the_pixel_check() {
    if !chromium_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("plain.html");
    std::fs::write(&html, "<!DOCTYPE html><html><body><h1>Only text</h1><p>No plots here.</p></body></html>").unwrap();
    let shot = dir.path().join("s.png");
    let (code, out) = check(&html, &shot, "1280x4000");
    assert_eq!(code, 0, "{out}");
    assert_eq!(colourful_pixels(&shot).0, 0);
}

/// Chromium's serialised DOM of a page after it loaded.
fn dump_dom(html: &Path) -> String {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_verdict_scores_and_parallel_coordinates_show_and_a_live_page_loads_cleanly() {
    if !chromium_present() {
        return;
    }
    let (info, runs) = common::sample();
    let dir = tempfile::tempdir().unwrap();
    // The live page (meta refresh) loads without console messages like the final one.
    let live = optlab_report::html::Live { every_s: 30, stored: 40, planned: 60 };
    let rep = optlab_report::render_with(&info, &runs, dir.path(), Some(live)).unwrap();
    let shot = dir.path().join("top.png");
    let (code, out) = check(&rep.html, &shot, "1280x1400");
    assert_eq!(code, 0, "{out}");
    if let Ok(keep) = std::env::var("OPTLAB_KEEP_SCREENSHOTS") {
        std::fs::copy(&shot, Path::new(&keep).join("report-top.png")).unwrap();
    }
    // As the browser built it: the verdict first, with a sentence per task, the AlgoPerf scores
    // and the speed-ups against lr-sweep's baseline; then the run status.
    let dom = dump_dom(&rep.html);
    let at = |needle: &str| dom.find(needle).unwrap_or_else(|| panic!("no {needle} in the DOM"));
    assert!(at("id=\"verdict\"") < at("id=\"status\""));
    assert!(dom.matches("<li><strong>").count() >= 5, "a sentence per task of each comparison");
    assert!(at("class=\"scores\"") < at("id=\"status\"") && at("class=\"speedups\"") < at("id=\"status\""));
    assert!(dom.contains("Running: 40 of 60 runs stored"));
    assert!(dom.contains("class=\"importance\"") && dom.contains("-parallel.svg"));
    // The parallel-coordinates plot alone: coloured lines in the browser.
    let groups = optlab_report::group::group(&info, &runs).unwrap();
    let cmp = groups.iter().find(|c| c.info.name == "lr-sweep").unwrap();
    let table = optlab_report::table::build(cmp);
    let plot = optlab_report::plots::plots_of(cmp, &table)
        .into_iter()
        .find(|p| p.stem.ends_with("-parallel"))
        .expect("a parallel-coordinates plot of lr-sweep");
    let svg = plot.svg(Path::new("parallel.svg")).unwrap();
    let page = dir.path().join("parallel.html");
    std::fs::write(
        &page,
        format!("<!DOCTYPE html><html><body>{}</body></html>", optlab_report::html::inline_svg(&svg, "p")),
    )
    .unwrap();
    let shot = dir.path().join("parallel.png");
    let (code, out) = check(&page, &shot, "1200x700");
    assert_eq!(code, 0, "{out}");
    if let Ok(keep) = std::env::var("OPTLAB_KEEP_SCREENSHOTS") {
        std::fs::copy(&shot, Path::new(&keep).join("parallel.png")).unwrap();
    }
    let (colourful, _) = colourful_pixels(&shot);
    eprintln!("parallel coordinates: {colourful} coloured pixels");
    assert!(colourful > 3_000, "only {colourful} coloured pixels: are the lines drawn?");
}
