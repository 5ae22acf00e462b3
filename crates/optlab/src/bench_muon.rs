//! `optlab bench muon`: Muon's step time on f32 matrices against torch.optim.Muon on the same
//! shapes (`tools/bench/torch_muon.py`). The timing is `optlab_optim::measure::time_matrix_steps`.

use crate::error::{Error, Result};
use optlab_optim::measure::{parse_matrix, time_matrix_steps, Variant};
use std::io::Write;

/// The arguments of `optlab bench muon`.
#[derive(clap::Args, Debug)]
pub struct MuonArgs {
    /// Matrix shapes ROWSxCOLS.
    #[arg(long, value_delimiter = ',', default_value = "512x512,1024x1024,784x512")]
    pub shapes: Vec<String>,
    /// Thread counts.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub threads: Vec<usize>,
    /// Timed steps per shape and thread count (after 2 untimed ones).
    #[arg(long, default_value_t = 10)]
    pub repeats: usize,
    /// The optimizer as NAME or NAME:KEY=VALUE,... (default muon at lr 0.02, torch's other defaults).
    #[arg(long, default_value = "muon:lr=0.02")]
    pub optimizer: String,
    /// Python with torch for the side-by-side comparison: a path, or `none` (default: $OPTLAB_TORCH_PYTHON, else python3 if it has torch).
    #[arg(long)]
    pub torch: Option<String>,
}

/// torch's (median, min) per shape for one thread count, or None when unavailable.
fn torch_times(python: &str, shapes: &[String], threads: usize, repeats: usize) -> Option<Vec<(f64, f64)>> {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/bench/torch_muon.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .args(["--shapes", &shapes.join(","), "--threads", &threads.to_string(), "--repeats", &repeats.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("torch_muon.py failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let rows: Vec<(f64, f64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| (v["median_ms"].as_f64().unwrap_or(f64::NAN), v["min_ms"].as_f64().unwrap_or(f64::NAN)))
        .collect();
    (rows.len() == shapes.len()).then_some(rows)
}

pub fn run(a: &MuonArgs, out: &mut dyn Write) -> Result<()> {
    if a.repeats == 0 || a.threads.contains(&0) {
        return Err(Error::Usage("--repeats and --threads must be at least 1".into()));
    }
    let v = Variant::parse(&a.optimizer)?;
    let shapes = a.shapes.iter().map(|s| parse_matrix(s)).collect::<Result<Vec<_>, _>>()?;
    let python = crate::bench::find_torch_python(a.torch.as_deref());
    if python.is_none() {
        eprintln!("no Python with torch found: torch columns omitted (set --torch PATH)");
    }
    let io = |e| Error::Io { path: "stdout".into(), source: e };
    writeln!(
        out,
        "| shape | threads | {} median ms (min) | torch.optim.Muon median ms (min) | optlab / torch |",
        v.label()
    )
    .map_err(io)?;
    writeln!(out, "|---|---:|---:|---:|---:|").map_err(io)?;
    for &t in &a.threads {
        let torch = python.as_deref().and_then(|p| torch_times(p, &a.shapes, t, a.repeats));
        for (i, (label, &shape)) in a.shapes.iter().zip(&shapes).enumerate() {
            let ours = time_matrix_steps(&v, shape, t, a.repeats)?;
            let (tcol, ratio) = match torch.as_ref().map(|r| r[i]) {
                Some((m, mn)) => (format!("{m:.2} ({mn:.2})"), format!("{:.2}", ours.median_ms / m)),
                None => ("—".into(), "—".into()),
            };
            writeln!(out, "| {label} | {t} | {:.2} ({:.2}) | {tcol} | {ratio} |", ours.median_ms, ours.min_ms)
                .map_err(io)?;
        }
    }
    Ok(())
}
