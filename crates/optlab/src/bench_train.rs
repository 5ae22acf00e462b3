//! `optlab bench train`: training samples per second of the study's networks, with 1 and 2
//! threads, next to torch doing the same work on the same machine.
//!
//! Each (row, thread count) is measured in a child process of its own (`optlab bench train
//! --child ...`, with `RAYON_NUM_THREADS` set), so that its peak RSS is its own and its thread
//! pool has exactly the threads asked for; torch's side runs `tools/bench/torch_train.py` the same
//! way, one process per row. A second table times whole `optlab train` processes on the shipped
//! subset against torch's loop doing the same work.

use crate::error::{Error, Result};
use optlab_optim::OptimConfig;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One row of the benchmark: a network task, a batch size and the samples trained per timed run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainRow {
    pub task: String,
    pub batch: usize,
    pub samples: usize,
}

impl TrainRow {
    /// Steps per timed run (at least 4).
    pub fn steps(&self) -> usize {
        self.samples.div_ceil(self.batch).max(4)
    }

    /// Parses `TASK:BATCH`. `samples` per timed run default to about a second of work per run
    /// (32,768 for the MLP, 2,048 for the CNNs, 512 for ResNet-18; at least 4 batches).
    pub fn parse(s: &str, samples: Option<usize>) -> Result<TrainRow> {
        let (task, batch) = s
            .split_once(':')
            .ok_or_else(|| Error::Usage(format!("--rows: `{s}` is not TASK:BATCH (e.g. mnist-cnn:64)")))?;
        if !optlab_nn::throughput::THROUGHPUT_TASKS.contains(&task) {
            return Err(Error::Usage(format!(
                "--rows: unknown task `{task}` in `{s}` (known: {})",
                optlab_nn::throughput::THROUGHPUT_TASKS.join(", ")
            )));
        }
        let batch: usize =
            batch.parse().ok().filter(|b| (1..=2048).contains(b)).ok_or_else(|| {
                Error::Usage(format!("--rows: batch `{batch}` in `{s}` must be an integer in 1..=2048"))
            })?;
        let per_run = samples.unwrap_or(match task {
            "mnist-mlp" => 32_768,
            "cifar-resnet18" => 512,
            _ => 2_048,
        });
        Ok(TrainRow { task: task.into(), batch, samples: per_run.max(4 * batch) })
    }
}

/// The default rows: the MLP and the MNIST CNN at batch 64 and 512, the CIFAR CNN at 128.
pub const DEFAULT_ROWS: &str = "mnist-mlp:64,mnist-mlp:512,mnist-cnn:64,mnist-cnn:512,cifar-cnn:128,cifar-resnet18:128";

/// Untimed steps before each timed run.
pub const WARMUP: usize = 2;

/// One side's measurement of one row: seconds per run and the process's peak RSS.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub seconds: Vec<f64>,
    pub peak_rss_bytes: Option<u64>,
}

impl Measured {
    /// (median, minimum) samples per second of runs of `samples` samples each.
    pub fn samples_per_s(&self, samples: usize) -> (f64, f64) {
        let rates: Vec<f64> = self.seconds.iter().map(|s| samples as f64 / s).collect();
        crate::bench::median_min(&rates)
    }

    fn from_json(v: &serde_json::Value) -> Option<Measured> {
        let seconds: Vec<f64> = v["seconds"].as_array()?.iter().filter_map(|s| s.as_f64()).collect();
        if seconds.is_empty() || seconds.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return None;
        }
        Some(Measured { seconds, peak_rss_bytes: v["peak_rss_bytes"].as_u64() })
    }
}

/// The child's side: measures one row in this process and prints one JSON line.
pub fn child(spec: &str, out: &mut dyn Write) -> Result<()> {
    let parts: Vec<&str> = spec.split(':').collect();
    let bad = || Error::Usage(format!("--child: `{spec}` is not TASK:BATCH:STEPS:REPEATS"));
    let [task, batch, steps, repeats] = parts[..] else { return Err(bad()) };
    let num = |s: &str| s.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(bad);
    let (batch, steps, repeats) = (num(batch)?, num(steps)?, num(repeats)?);
    let data = optlab_nn::throughput::throughput_data(task)?;
    let opt = OptimConfig::new("adam").set("lr", 1e-3);
    let seconds = optlab_nn::throughput::measure(task, &data, &opt, batch, steps, WARMUP, repeats)?;
    let v = serde_json::json!({
        "task": task, "batch": batch, "threads": rayon::current_num_threads(),
        "seconds": seconds, "peak_rss_bytes": crate::bench::peak_rss_bytes(),
    });
    writeln!(out, "{v}").map_err(|e| Error::Io { path: "<stdout>".into(), source: e })
}

/// Runs `cmd`, returning the last line of its standard output parsed as JSON, or the reason it
/// failed.
fn json_of(mut cmd: Command, what: &str) -> std::result::Result<serde_json::Value, String> {
    let out = cmd.output().map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{what}: {} ({})", out.status, err.lines().last().unwrap_or("").trim()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.trim_start().starts_with('{')).ok_or(format!("{what}: no JSON line"))?;
    serde_json::from_str(line).map_err(|e| format!("{what}: bad JSON ({e})"))
}

/// Settings of `optlab bench train`.
#[derive(Clone, Debug)]
pub struct TrainBench {
    pub rows: Vec<TrainRow>,
    pub threads: Vec<usize>,
    pub repeats: usize,
    pub torch_python: Option<String>,
    pub torch_script: PathBuf,
    /// Also time whole `optlab train` processes on the shipped subset (epochs).
    pub shipped_epochs: Option<u32>,
    /// The project root (holds data/mnist-5k for the torch side).
    pub root: PathBuf,
}

fn ours(row: &TrainRow, threads: usize, repeats: usize) -> std::result::Result<Measured, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the optlab executable: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.args(["bench", "train", "--child"])
        .arg(format!("{}:{}:{}:{repeats}", row.task, row.batch, row.steps()))
        .env("RAYON_NUM_THREADS", threads.to_string());
    let v = json_of(cmd, "optlab")?;
    Measured::from_json(&v).ok_or_else(|| format!("optlab: unexpected output {v}"))
}

fn torch(b: &TrainBench, py: &str, row: &TrainRow, threads: usize) -> std::result::Result<Measured, String> {
    let mut cmd = Command::new(py);
    cmd.arg(&b.torch_script)
        .args(["--task", &row.task, "--batch", &row.batch.to_string(), "--steps", &row.steps().to_string()])
        .args(["--warmup", &WARMUP.to_string(), "--repeats", &b.repeats.to_string()])
        .args(["--threads", &threads.to_string()])
        .arg("--root")
        .arg(&b.root)
        .env("OMP_NUM_THREADS", threads.to_string());
    let v = json_of(cmd, "torch")?;
    Measured::from_json(&v).ok_or_else(|| format!("torch: unexpected output {v}"))
}

fn mb(b: Option<u64>) -> String {
    b.map_or("-".into(), |b| format!("{:.0}", b as f64 / 1e6))
}

/// Runs the benchmark, printing Markdown rows as they are measured.
pub fn run(b: &TrainBench, out: &mut dyn Write) -> Result<()> {
    let io = |e| Error::Io { path: "<stdout>".into(), source: e };
    let t = b.torch_python.is_some();
    writeln!(
        out,
        "| network | batch | threads | samples/run | optlab samples/s (median) | min | peak RSS MB |{}",
        if t { " torch samples/s (median) | min | torch peak RSS MB | speed-up |" } else { "" }
    )
    .map_err(io)?;
    writeln!(out, "|---|---|---|---|---|---|---|{}", if t { "---|---|---|---|" } else { "" }).map_err(io)?;
    for row in &b.rows {
        for &threads in &b.threads {
            let samples = row.steps() * row.batch;
            let mine = ours(row, threads, b.repeats);
            let theirs = b.torch_python.as_deref().map(|py| torch(b, py, row, threads));
            let (m_med, cells) = match &mine {
                Ok(m) => {
                    let (med, min) = m.samples_per_s(samples);
                    (Some(med), format!("{med:.0} | {min:.0} | {}", mb(m.peak_rss_bytes)))
                }
                Err(e) => (None, format!("failed: {e} | - | -")),
            };
            let torch_cells = match &theirs {
                None => String::new(),
                Some(Ok(m)) => {
                    let (med, min) = m.samples_per_s(samples);
                    let ratio = m_med.map_or("-".into(), |x| format!("{:.2}x", x / med));
                    format!(" {med:.0} | {min:.0} | {} | {ratio} |", mb(m.peak_rss_bytes))
                }
                Some(Err(e)) => format!(" failed: {e} | - | - | - |"),
            };
            writeln!(out, "| {} | {} | {threads} | {samples} | {cells} |{torch_cells}", row.task, row.batch)
                .map_err(io)?;
        }
    }
    if let Some(epochs) = b.shipped_epochs {
        writeln!(out).map_err(io)?;
        writeln!(
            out,
            "| whole process (shipped subset, {epochs} epoch(s), batch 64) | threads | optlab train s (median) | min |{}",
            if t { " torch loop s (median) | min | speed-up |" } else { "" }
        )
        .map_err(io)?;
        writeln!(out, "|---|---|---|---|{}", if t { "---|---|---|" } else { "" }).map_err(io)?;
        for task in ["mnist-mlp", "mnist-cnn"] {
            for &threads in &b.threads {
                let mine = shipped_ours(task, epochs, threads, b.repeats);
                let theirs = b.torch_python.as_deref().map(|py| shipped_torch(b, py, task, epochs, threads));
                let (m_med, cells) = match &mine {
                    Ok(s) => {
                        let (med, min) = crate::bench::median_min(s);
                        (Some(med), format!("{med:.2} | {min:.2}"))
                    }
                    Err(e) => (None, format!("failed: {e} | -")),
                };
                let torch_cells = match &theirs {
                    None => String::new(),
                    Some(Ok(s)) => {
                        let (med, min) = crate::bench::median_min(s);
                        let ratio = m_med.map_or("-".into(), |x| format!("{:.2}x", med / x));
                        format!(" {med:.2} | {min:.2} | {ratio} |")
                    }
                    Some(Err(e)) => format!(" failed: {e} | - | - |"),
                };
                writeln!(out, "| `optlab train --task {task} --epochs {epochs}` | {threads} | {cells} |{torch_cells}")
                    .map_err(io)?;
            }
        }
    }
    Ok(())
}

/// Wall seconds of whole `optlab train` processes (start-up, data loading, training, validation
/// and writing the outputs), one per repeat.
fn shipped_ours(task: &str, epochs: u32, threads: usize, repeats: usize) -> std::result::Result<Vec<f64>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the optlab executable: {e}"))?;
    let dir = std::env::temp_dir().join(format!("optlab-bench-train-{}", std::process::id()));
    let mut times = Vec::new();
    for _ in 0..repeats {
        let _ = std::fs::remove_dir_all(&dir);
        let t = Instant::now();
        let out = Command::new(&exe)
            .args(["train", "--task", task, "--optimizer", "adam", "--set", "lr=0.001"])
            .args(["--epochs", &epochs.to_string(), "--batch-size", "64", "--out"])
            .arg(&dir)
            .env("RAYON_NUM_THREADS", threads.to_string())
            .output()
            .map_err(|e| format!("cannot start optlab train: {e}"))?;
        let secs = t.elapsed().as_secs_f64();
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("optlab train: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        times.push(secs);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(times)
}

fn shipped_torch(
    b: &TrainBench,
    py: &str,
    task: &str,
    epochs: u32,
    threads: usize,
) -> std::result::Result<Vec<f64>, String> {
    let mut cmd = Command::new(py);
    cmd.arg(&b.torch_script)
        .args(["--shipped", task, "--epochs", &epochs.to_string(), "--batch", "64"])
        .args(["--repeats", &b.repeats.to_string(), "--threads", &threads.to_string()])
        .arg("--root")
        .arg(&b.root)
        .env("OMP_NUM_THREADS", threads.to_string());
    let v = json_of(cmd, "torch")?;
    Measured::from_json(&v).map(|m| m.seconds).ok_or_else(|| format!("torch: unexpected output {v}"))
}

/// The committed torch script, found from the source tree this binary was built from.
pub fn torch_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/bench/torch_train.py")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_parse_and_refuse() {
        let r = TrainRow::parse("mnist-cnn:64", None).unwrap();
        assert_eq!((r.task.as_str(), r.batch, r.steps()), ("mnist-cnn", 64, 32));
        assert_eq!(TrainRow::parse("mnist-mlp:512", None).unwrap().steps(), 64);
        assert_eq!(TrainRow::parse("mnist-mlp:16", Some(100)).unwrap().steps(), 7);
        assert_eq!(TrainRow::parse("mnist-mlp:16", Some(1)).unwrap().steps(), 4);
        for bad in ["mnist-cnn", "nope:64", "mnist-cnn:0", "mnist-cnn:x", "mnist-cnn:4096"] {
            let e = TrainRow::parse(bad, None).unwrap_err().to_string();
            assert!(e.contains("--rows") && e.contains(bad.split(':').next().unwrap()), "{bad}: {e}");
        }
        assert_eq!(TrainRow::parse("cifar-resnet18:128", None).unwrap().steps(), 4);
        assert_eq!(DEFAULT_ROWS.split(',').filter(|r| TrainRow::parse(r, None).is_ok()).count(), 6);
    }

    #[test]
    fn medians_and_minimums_of_rates() {
        let m = Measured { seconds: vec![2.0, 1.0, 4.0], peak_rss_bytes: None };
        assert_eq!(m.samples_per_s(100), (50.0, 25.0));
        let bad = serde_json::json!({"seconds": [1.0, 0.0]});
        assert!(Measured::from_json(&bad).is_none());
    }
}
