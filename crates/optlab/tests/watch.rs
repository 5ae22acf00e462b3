//! `optlab report --watch DIR`: while the experiment's plan is incomplete the page is re-rendered
//! with a meta refresh; once every run is stored, the final report (no refresh) and exit.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn optlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_optlab"))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run optlab");
    assert!(
        out.status.success(),
        "optlab failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const TINY: &str = r#"
[experiment]
name = "tiny"

[[comparison]]
name = "quick"
tasks = ["sphere", "booth"]
starts = 3
seeds = 2
steps = 30
optimizers = [{ name = "adam" }, { name = "sgd" }]
"#;

const REFRESH: &str = "<meta http-equiv=\"refresh\" content=\"1\">";

#[test]
fn watch_reloads_while_runs_are_missing_and_ends_with_the_final_report() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("tiny.toml");
    std::fs::write(&exp, TINY).unwrap();
    let dir = tmp.path().join("out");
    // Half of the plan: the watcher has something to wait for.
    run_ok(optlab().args(["run", exp.to_str().unwrap(), "--shard", "1/2", "--jobs", "1"]).arg("--out").arg(&dir));
    let html = dir.join("report.html");
    let _ = std::fs::remove_file(&html);
    let mut watcher = optlab()
        .args(["report", "--watch", "--every", "1"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if std::fs::read_to_string(&html).is_ok_and(|p| p.contains(REFRESH)) {
            break;
        }
        if let Some(status) = watcher.try_wait().unwrap() {
            panic!("the watcher ended early: {status}");
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no live report after 120 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Running: 12 of 24 runs stored"), "{}", &page[..page.len().min(2000)]);
    // The rest of the plan; the watcher then renders the final report and ends.
    run_ok(optlab().args(["run", exp.to_str().unwrap(), "--jobs", "1"]).arg("--out").arg(&dir));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = watcher.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = watcher.kill();
            panic!("the watcher did not end after the plan completed");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = watcher.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("every run of the plan is stored: the final report"), "{stdout}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("http-equiv=\"refresh\"") && !page.contains("Running:"));
    // --every 0 is refused.
    let o = optlab().args(["report", "--watch", "--every", "0"]).arg(&dir).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--every must be at least 1"));
}
