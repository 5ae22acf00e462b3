//! `optlab run` / `optlab merge` as processes: killed with SIGKILL mid-way and run again, the
//! results equal an uninterrupted run; three shard processes merged equal one unsharded run.

mod common;
use common::{optlab, run_ok};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use optlab_lab::record::RunRecord;
use optlab_lab::store::{Store, DB_FILE};

/// The stored runs with everything that depends on the machine's speed zeroed.
fn runs_modulo_time(dir: &Path) -> Vec<String> {
    let st = Store::open(&dir.join(DB_FILE)).unwrap();
    st.runs()
        .unwrap()
        .into_iter()
        .map(|mut r: RunRecord| {
            r.wall_s = 0.0;
            r.summary.time_to_target = r.summary.time_to_target.map(|_| 0.0);
            for p in &mut r.series {
                p.time_s = 0.0;
            }
            format!("{r:?}")
        })
        .collect()
}

fn count_runs(db: &Path) -> Option<i64> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    c.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)).ok()
}

/// 40 runs of SGD on Rosenbrock and Beale, each STEPS steps (about 0.1 s in a release build; a
/// tenth of the steps in a debug build, which is about ten times slower).
const SLOW: &str = r#"
[experiment]
name = "slow"

[[comparison]]
name = "long"
tasks = ["rosenbrock", "beale"]
starts = 10
seeds = 2
steps = STEPS
ftol = 1e-300
xtol = 0
optimizers = [{ name = "sgd", set = { lr = 1e-5 } }]
"#;

#[test]
fn kill_9_mid_run_loses_nothing_and_rerun_completes_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("slow.toml");
    let steps = if cfg!(debug_assertions) { "40000" } else { "400000" };
    std::fs::write(&exp, SLOW.replace("STEPS", steps)).unwrap();
    let killed = tmp.path().join("killed");
    let whole = tmp.path().join("whole");
    let total = 40;

    let mut child = optlab()
        .args(["run", exp.to_str().unwrap(), "--jobs", "2", "--out", killed.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = killed.join(DB_FILE);
    let t0 = Instant::now();
    let at_kill = loop {
        if let Some(n) = count_runs(&db) {
            if n >= 3 {
                break n;
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "optlab finished before it could be killed: make the runs longer");
        assert!(t0.elapsed() < Duration::from_secs(300), "no runs stored after 300 s");
        std::thread::sleep(Duration::from_millis(10));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let after_kill = count_runs(&db).unwrap();
    assert!(after_kill >= at_kill && after_kill < total, "killed with {after_kill} of {total} runs stored");

    let out = run_ok(optlab().args(["run", exp.to_str().unwrap(), "--jobs", "2", "--out", killed.to_str().unwrap()]));
    assert!(
        out.contains(&format!("{total} runs: {} ran", total - after_kill))
            && out.contains(&format!("{after_kill} skipped")),
        "{out}"
    );
    run_ok(optlab().args(["run", exp.to_str().unwrap(), "--jobs", "2", "--out", whole.to_str().unwrap()]));

    let a = runs_modulo_time(&killed);
    let b = runs_modulo_time(&whole);
    assert_eq!(a.len(), total as usize);
    assert_eq!(a, b, "the resumed results differ from an uninterrupted run");

    // A third run does nothing.
    let out = run_ok(optlab().args(["run", exp.to_str().unwrap(), "--out", killed.to_str().unwrap()]));
    assert!(out.contains(&format!("{total} runs: 0 ran")), "{out}");
}

const SMALL: &str = r#"
[experiment]
name = "small"

[[comparison]]
name = "functions"
tasks = ["sphere", "booth", "rosenbrock"]
starts = 3
steps = 500
optimizers = [{ name = "adam" }, { name = "sgd", set = { momentum = 0.9 }, label = "sgd+m" }]
targets = { sphere = 1e-4 }

[comparison.grid]
lr = [0.1, 0.01]

[[comparison]]
name = "net"
tasks = ["mnist-mlp"]
epochs = 1
optimizers = [{ name = "adam" }]
"#;

#[test]
fn three_shard_processes_merged_equal_one_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("small.toml");
    std::fs::write(&exp, SMALL).unwrap();
    let shards: Vec<_> = (1..=3).map(|i| tmp.path().join(format!("shard{i}"))).collect();
    let children: Vec<_> = shards
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            optlab()
                .args(["run", exp.to_str().unwrap(), "--jobs", "1", "--shard", &format!("{}/3", i + 1)])
                .args(["--out", dir.to_str().unwrap()])
                .output_async()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge".to_string(), "--out".into(), merged.display().to_string()];
    args.extend(shards.iter().map(|s| s.display().to_string()));
    let out = run_ok(optlab().args(&args));
    assert!(out.contains("37 runs of experiment `small`"), "{out}");
    let one = tmp.path().join("one");
    run_ok(optlab().args(["run", exp.to_str().unwrap(), "--out", one.to_str().unwrap()]));
    let (a, b) = (runs_modulo_time(&merged), runs_modulo_time(&one));
    assert_eq!(a.len(), 3 * 3 * 2 * 2 + 1);
    assert_eq!(a, b);
    // The network run trained (optlab-nn): one epoch, with validation loss and accuracy.
    let st = Store::open(&one.join(DB_FILE)).unwrap();
    let net: Vec<_> = st.runs().unwrap().into_iter().filter(|r| r.task == "mnist-mlp").collect();
    assert_eq!(net.len(), 1);
    assert_eq!(net[0].status, optlab_lab::record::Status::Ok, "{:?}", net[0].error);
    assert_eq!(net[0].series.len(), 1);
    assert_eq!(net[0].series[0].epoch, Some(1));
    assert!(net[0].summary.final_accuracy.is_some_and(|a| a > 0.5), "{:?}", net[0].summary);
    // And logged its steps: 4,000 digits in batches of 32 = 125 steps, by default every
    // ⌈125 / 100⌉ = 2nd, 0 to 124 (the merged store holds the same: compared above).
    let steps: Vec<u64> = net[0].step_series.iter().map(|p| p.step).collect();
    assert_eq!(steps, (0..125).step_by(2).collect::<Vec<u64>>());
    let min = net[0].step_series.iter().map(|p| p.loss).fold(f64::INFINITY, f64::min);
    assert_eq!(net[0].summary.min_loss, min, "the min loss is over the logged steps");
    for f in ["net-mnist-mlp-loss.png", "net-mnist-mlp-val-accuracy.png"] {
        assert!(one.join("plots").join(f).is_file(), "{f}");
    }
    // Merging again adds nothing.
    let out = run_ok(optlab().args(&args));
    assert!(out.contains("0 runs added"), "{out}");
}

#[test]
fn run_errors_name_file_line_and_key_and_nothing_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("bad.toml");
    std::fs::write(&exp, SMALL.replace("lr = [0.1, 0.01]", "beta1 = [0.9, 1.5]")).unwrap();
    let out_dir = tmp.path().join("out");
    let out = optlab().args(["run", exp.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:14: key `beta1` in comparison `functions`: value 1.5 out of range [0, 1)",
            exp.display()
        )),
        "{err}"
    );
    assert!(!out_dir.exists(), "nothing may be written for a bad file");
    for bad in ["0/3", "4/3", "x"] {
        let out = optlab().args(["run", exp.to_str().unwrap(), "--shard", bad]).output().unwrap();
        assert!(!out.status.success());
    }
    // Another experiment in the same folder is refused.
    let good = tmp.path().join("small.toml");
    std::fs::write(&good, SMALL.replace("steps = 500", "steps = 5")).unwrap();
    run_ok(optlab().args(["run", good.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]));
    std::fs::write(&good, SMALL.replace("name = \"small\"", "name = \"other\"")).unwrap();
    let out = optlab().args(["run", good.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("holds results of experiment `small`, not `other`"), "{err}");
    run_ok(optlab().args(["run", good.to_str().unwrap(), "--out", out_dir.to_str().unwrap(), "--force"]));
}

trait OutputAsync {
    fn output_async(&mut self) -> std::process::Child;
}
impl OutputAsync for Command {
    fn output_async(&mut self) -> std::process::Child {
        self.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }
}

#[test]
fn built_in_experiment_checks_and_merge_refuses_missing_shards() {
    let out = run_ok(optlab().args(["run", "--check"]));
    assert!(out.contains("experiments/default.toml (built in): 372 runs in 2 comparisons"), "{out}");
    let out = run_ok(optlab().args(["run", "--check", "--shard", "2/4"]));
    assert!(out.contains("(93 in shard 2/4)"), "{out}");
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let merged = tmp.path().join("m");
    let out = optlab().args(["merge", "--out", merged.to_str().unwrap(), missing.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("has no results.sqlite"), "{err}");
}

/// 24 quick test-function runs (2 tasks × 2 optimizers × 2 seeds × 3 starts).
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

fn ran_of(out: &str) -> usize {
    let (_, rest) = out.split_once(" runs: ").unwrap_or_else(|| panic!("no summary in {out}"));
    rest.split_once(" ran").unwrap().0.parse().unwrap()
}

#[test]
fn four_processes_on_a_new_folder_all_succeed_and_run_each_run_once() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("tiny.toml");
    std::fs::write(&exp, TINY).unwrap();
    let out_dir = tmp.path().join("out");
    let children: Vec<_> = (0..4)
        .map(|_| {
            optlab()
                .args(["run", exp.to_str().unwrap(), "--jobs", "1", "--out", out_dir.to_str().unwrap()])
                .output_async()
        })
        .collect();
    let mut ran = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{stdout}\n{stderr}");
        ran += ran_of(&stdout);
    }
    assert_eq!(ran, 24, "the ran counts add up to the plan");
    assert_eq!(count_runs(&out_dir.join(DB_FILE)), Some(24));
}

#[test]
fn zero_jobs_is_refused_before_anything_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("tiny.toml");
    std::fs::write(&exp, TINY).unwrap();
    let out_dir = tmp.path().join("out");
    let out = optlab()
        .args(["run", exp.to_str().unwrap(), "--jobs", "0", "--out", out_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--jobs must be at least 1"), "{err}");
    assert!(!out_dir.exists(), "nothing may be created");
    // Nor is an existing store discarded by --force.
    run_ok(optlab().args(["run", exp.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]));
    let out = optlab()
        .args(["run", exp.to_str().unwrap(), "--jobs", "0", "--force", "--out", out_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(count_runs(&out_dir.join(DB_FILE)), Some(24));
}

#[test]
fn merging_shards_of_different_counts_names_the_missing_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("tiny.toml");
    std::fs::write(&exp, TINY).unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_ok(optlab().args(["run", exp.to_str().unwrap(), "--shard", "1/2", "--out", a.to_str().unwrap()]));
    run_ok(optlab().args(["run", exp.to_str().unwrap(), "--shard", "2/3", "--out", b.to_str().unwrap()]));
    let merged = tmp.path().join("m");
    let out = optlab()
        .args(["merge", "--out", merged.to_str().unwrap(), a.to_str().unwrap(), b.to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Plan indices 0..24: even ones from 1/2, ≡ 1 (mod 3) from 2/3: 16 runs, 8 missing.
    assert!(stdout.contains("16 runs of experiment `tiny`"), "{stdout}");
    assert!(
        stderr.contains("different shard counts") && stderr.contains("(shard 1/2)") && stderr.contains("(shard 2/3)"),
        "{stderr}"
    );
    assert!(stderr.contains("8 of the plan's 24 runs are missing from"), "{stderr}");
    assert!(stderr.contains("missing by shard of 2: shard 2/2: 8 of its 12 runs"), "{stderr}");
    assert!(
        stderr.contains("missing by shard of 3: shard 1/3: 4 of its 8 runs, shard 3/3: 4 of its 8 runs"),
        "{stderr}"
    );
    assert!(stderr.contains("missing: plan index 3: "), "{stderr}");
    // The rest of the shards: nothing missing, no warning.
    let c = tmp.path().join("c");
    run_ok(optlab().args(["run", exp.to_str().unwrap(), "--shard", "2/2", "--out", c.to_str().unwrap()]));
    let out = optlab().args(["merge", "--out", merged.to_str().unwrap(), c.to_str().unwrap()]).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("24 runs of experiment `tiny`"), "{stdout}\n{stderr}");
    assert!(!stderr.contains("missing"), "{stderr}");
}

#[test]
fn an_edited_experiment_reports_only_the_current_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("tiny.toml");
    let one = TINY.replace("starts = 3\n", "").replace("[\"sphere\", \"booth\"]", "[\"sphere\"]");
    let one = one.replace("{ name = \"adam\" }, { name = \"sgd\" }", "{ name = \"adam\" }");
    std::fs::write(&exp, &one).unwrap();
    let out_dir = tmp.path().join("out");
    run_ok(optlab().args(["run", exp.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]));
    std::fs::write(&exp, one.replace("steps = 30", "steps = 40")).unwrap();
    let out = run_ok(optlab().args(["run", exp.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]));
    assert!(out.contains("2 runs: 2 ran"), "{out}");
    assert!(out.contains("2 runs of experiment `tiny`"), "{out}");
    assert!(out.contains("2 stored runs belong to older versions of the experiment file"), "{out}");
    let table = std::fs::read_to_string(out_dir.join("tables").join("quick.md")).unwrap();
    assert!(table.contains("| 2/2 |") && !table.contains("4/4"), "{table}");
    // `optlab report` (the store read-only) says the same.
    let out = run_ok(optlab().args(["report", out_dir.to_str().unwrap()]));
    assert!(
        out.contains("2 runs of experiment `tiny`") && out.contains("2 stored runs belong to older versions"),
        "{out}"
    );
    // A renamed comparison is refused before anything runs.
    std::fs::write(&exp, one.replace("name = \"quick\"", "name = \"fast\"")).unwrap();
    let out = optlab().args(["run", exp.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("comparison `quick`")
            && err.contains("`fast`")
            && err.contains("--force"),
        "{err}"
    );
    assert_eq!(count_runs(&out_dir.join(DB_FILE)), Some(4));
}

#[test]
fn failed_runs_are_retried_on_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("net.toml");
    let data = tmp.path().join("data");
    let text = format!(
        "[experiment]\nname = \"net\"\n\n[[comparison]]\nname = \"n\"\ntasks = [\"mnist-mlp\"]\nepochs = 1\ndata = \"{}\"\noptimizers = [{{ name = \"adam\" }}]\n",
        data.display()
    );
    std::fs::write(&exp, text).unwrap();
    let out_dir = tmp.path().join("out");
    let first = optlab().args(["run", exp.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]).output().unwrap();
    let first_out = String::from_utf8_lossy(&first.stdout);
    if !first_out.contains("1 failed") {
        // The data path is checked before running (the run is refused, not stored as failed).
        assert!(!first.status.success(), "{first_out}");
        return;
    }
    let out =
        run_ok(optlab().args(["run", exp.to_str().unwrap(), "--no-retry-failed", "--out", out_dir.to_str().unwrap()]));
    assert!(out.contains("1 runs: 0 ran") && out.contains("1 skipped"), "{out}");
    let out = optlab().args(["run", exp.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]).output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("1 runs: 1 ran") && out.contains("1 of the runs had failed before and were retried"), "{out}");
}

const TUNED: &str = r#"
[experiment]
name = "tuned"

[[comparison]]
name = "fns"
tasks = ["sphere", "booth"]
starts = 2
steps = 100
optimizers = [{ name = "sgd" }, { name = "adam" }]

[comparison.tune]
values = [0.01, 0.1, 0.5]
starts = 2
"#;

/// `optlab run` of an experiment with a tuning protocol: both phases in one call, the tuning
/// runs only in the report's tuning table; a shard stops after phase one with a message; run
/// again, nothing is re-run.
#[test]
fn a_tuned_experiment_runs_in_two_phases_and_reports_its_tuning_table() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tuned.toml");
    std::fs::write(&file, TUNED).unwrap();
    let out = dir.path().join("out");
    let check = run_ok(optlab().arg("run").arg(&file).arg("--check"));
    assert!(check.contains("24 runs") && check.contains("of which 24 tuning runs"), "{check}");
    let first = run_ok(optlab().arg("run").arg(&file).arg("--out").arg(&out).args(["--jobs", "2"]));
    // 24 tuning runs, then 2 tasks × 2 optimizers × 2 starts.
    assert!(first.contains("32 runs: 32 ran"), "{first}");
    let csv = std::fs::read_to_string(out.join("tables/fns-tuning.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 2 * 3, "{csv}");
    assert_eq!(csv.lines().filter(|l| l.ends_with(",true")).count(), 4, "one value chosen per task and optimizer");
    let main = std::fs::read_to_string(out.join("tables/fns.csv")).unwrap();
    assert!(!main.contains("lr=0."), "tuning runs are not in the main table: {main}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<h3>Tuning</h3>") && html.contains("tables/fns-tuning.csv"));
    let again = run_ok(optlab().arg("run").arg(&file).arg("--out").arg(&out));
    assert!(again.contains("32 runs: 0 ran") && again.contains("32 skipped"), "{again}");
    // A shard: phase one only, and a message saying what phase two waits for.
    let shard = dir.path().join("shard");
    let s = run_ok(optlab().arg("run").arg(&file).arg("--out").arg(&shard).args(["--shard", "1/2"]));
    assert!(s.contains("12 runs: 12 ran"), "{s}");
    assert!(
        s.contains("are planned once every tuning run is in the store: 12 of 24 are") && s.contains("optlab merge"),
        "{s}"
    );
}
