//! `optlab slurm` on a real single-node Slurm (Debian's slurm-wlm and munge, configured by
//! tools/slurm/localhost.sh, which this test runs): the array of shards and the merge, compared
//! with a local run of the same experiment. Opt-in (it needs root, installs and starts daemons,
//! and takes about a minute):
//!
//! ```sh
//! cargo test --workspace --release --locked --test slurm -- --ignored --nocapture
//! ```
//!
//! The script checks without Slurm (the arguments, the files written) run always.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use optlab_lab::store::{Store, DB_FILE};

fn optlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_optlab"))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run the command");
    assert!(
        out.status.success(),
        "failed: {cmd:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// 24 quick test-function runs (2 tasks × 2 optimizers × 2 seeds × 3 starts) and 2 network runs.
const EXP: &str = r#"
[experiment]
name = "slurmy"

[[comparison]]
name = "quick"
tasks = ["sphere", "booth"]
starts = 3
seeds = 2
steps = 40
optimizers = [{ name = "adam", set = { lr = 0.05 } }, { name = "sgd", set = { lr = 0.05 } }]
targets = { sphere = 1e-3, booth = 1e-3 }
baseline = "sgd lr=0.05"

[[comparison]]
name = "net"
tasks = ["blobs-two-layer"]
epochs = 2
seeds = 2
optimizers = [{ name = "adam" }]
"#;

/// (hash, status, final loss bits) of every stored run, sorted.
fn outcomes(dir: &Path) -> Vec<(String, String, u64)> {
    let st = Store::open_read_only(&dir.join(DB_FILE)).unwrap();
    let mut v: Vec<_> = st
        .runs()
        .unwrap()
        .into_iter()
        .map(|r| (r.hash, r.status.as_str().to_string(), r.summary.final_loss.to_bits()))
        .collect();
    v.sort();
    v
}

#[test]
fn the_scripts_and_their_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("slurmy.toml");
    std::fs::write(&exp, EXP).unwrap();
    let out = tmp.path().join("out");
    let text = run_ok(
        optlab().args(["slurm", exp.to_str().unwrap(), "--array", "3", "--cpus-per-task", "2"]).arg("--out").arg(&out),
    );
    assert!(text.contains("26 runs in 3 array tasks of 2 CPUs; submit with: bash"), "{text}");
    let array = std::fs::read_to_string(out.join("slurm/array.sbatch")).unwrap();
    assert!(array.contains("#SBATCH --array=0-2\n#SBATCH --cpus-per-task=2\n"), "{array}");
    assert!(array.contains("--shard \"$i/3\" --out \"$shard\" --jobs 2"), "{array}");
    assert!(array.contains(env!("CARGO_BIN_EXE_optlab")), "the binary by its absolute path: {array}");
    assert!(out.join("slurm/merge.sbatch").is_file() && out.join("slurm/submit.sh").is_file());
    assert!(out.join("slurm/logs").is_dir());
    for (args, msg) in [
        (vec!["--array", "0"], "--array must be at least 1"),
        (vec!["--array", "27"], "--array 27: the experiment has only 26 runs"),
        (vec!["--array", "2", "--cpus-per-task", "0"], "--cpus-per-task must be at least 1"),
        (vec!["--array", "2", "--time", "1 h"], "--time `1 h`: expected one word"),
    ] {
        let o = optlab()
            .args(["slurm", exp.to_str().unwrap()])
            .args(&args)
            .arg("--out")
            .arg(tmp.path().join("x"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(msg), "{args:?}: {err}");
    }
    assert!(!tmp.path().join("x").exists(), "nothing is written when an argument is wrong");
}

#[test]
#[ignore = "needs root and a single-node Slurm (tools/slurm/localhost.sh); see docs/cluster.md"]
fn an_array_on_a_real_slurm_equals_a_local_run() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/slurm/localhost.sh");
    run_ok(Command::new("bash").arg(&script));
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("slurmy.toml");
    std::fs::write(&exp, EXP).unwrap();
    let out = tmp.path().join("cluster");
    run_ok(optlab().args(["slurm", exp.to_str().unwrap(), "--array", "3"]).arg("--out").arg(&out));
    let submitted = run_ok(Command::new("bash").arg(out.join("slurm/submit.sh")));
    eprintln!("{submitted}");
    let last = std::fs::read_to_string(out.join("slurm/last-job-id")).unwrap().trim().to_string();
    let start = Instant::now();
    loop {
        let q = run_ok(Command::new("squeue").args(["-h", "-o", "%i %T", "-j", &last]));
        if q.trim().is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(600), "the merge job {last} is still queued: {q}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let merge_log = std::fs::read_dir(out.join("slurm/logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().contains("-merge-"))
        .expect("the merge job's log");
    let log = std::fs::read_to_string(&merge_log).unwrap();
    eprintln!("{log}");
    assert!(log.contains("report: "), "{log}");
    assert!(out.join("report.html").is_file());
    for i in 1..=3 {
        assert!(out.join(format!("shards/shard-{i}-of-3")).join(DB_FILE).is_file(), "shard {i}");
    }
    let local = tmp.path().join("local");
    run_ok(optlab().args(["run", exp.to_str().unwrap(), "--jobs", "1"]).arg("--out").arg(&local));
    let (a, b) = (outcomes(&out), outcomes(&local));
    assert_eq!(a.len(), 26);
    assert_eq!(a, b, "the cluster's merged runs equal the local run's");
}
