//! `optlab bench step`: optimizer-step speed against the memory-bandwidth limit, measured in one
//! run next to a bandwidth probe (and torch.optim when a Python with torch is available). The
//! measurements (probe, timed steps, memory) are `optlab_optim::measure`; this module prints them.

use crate::error::{Error, Result};
use optlab_lab::run_loop::FunctionProblem;
use optlab_optim::executor::{Executor, MaxSteps};
pub use optlab_optim::measure::{
    default_variants, median_min, memory, peak_rss_bytes, time_steps, Shape, Timing, Variant, SIMD,
};
use optlab_optim::registry;
use optlab_optim::{Layout, OptimConfig};
use std::time::Instant;

/// One row of the report.
#[derive(Clone, Debug)]
pub struct Row {
    pub label: String,
    pub shape: String,
    pub threads: usize,
    pub timing: Timing,
    pub checked: Timing,
    pub bytes_per_param: f64,
    pub gbps: f64,
    pub probe_gbps: f64,
    /// torch's implementations: name, timing, and the median of torch's own probe (ms) measured
    /// in the same process just before each step.
    pub torch: Vec<(String, Option<Timing>, Option<f64>)>,
}

impl Row {
    pub fn ratio(&self) -> f64 {
        self.gbps / self.probe_gbps
    }
    /// Best torch median among the implementations that exist, with torch's probe median.
    pub fn torch_best(&self) -> Option<(String, Timing, Option<f64>)> {
        self.torch
            .iter()
            .filter_map(|(i, t, pr)| t.map(|t| (i.clone(), t, *pr)))
            .min_by(|a, b| a.1.median_ms.total_cmp(&b.1.median_ms))
    }
    /// The best torch step's GB/s (same ideal bytes as ours) over torch's own probe's GB/s.
    pub fn torch_ratio(&self, total: usize) -> Option<f64> {
        let (_, t, probe_ms) = self.torch_best()?;
        let gbps = self.bytes_per_param * total as f64 / (t.median_ms * 1e-3) / 1e9;
        Some(gbps / (12.0 * total as f64 / (probe_ms? * 1e-3) / 1e9))
    }
}

/// One torch measurement: label, implementation, timing, and torch's probe median (ms).
pub type TorchRow = (String, String, Option<Timing>, Option<f64>);

/// `name=Class,...` for every optimizer whose registry entry names a torch.optim class (what the
/// script maps labels to).
pub fn torch_classes() -> String {
    let pairs: Vec<String> = registry::REGISTRY
        .iter()
        .filter_map(|e| match (e.spec)().parity {
            optlab_optim::Parity::Torch(class) => Some(format!("{}={class}", (e.spec)().name)),
            _ => None,
        })
        .collect();
    pairs.join(",")
}

/// Measures torch with the committed script, if `python` has torch; `None` when unavailable.
pub fn torch_times(
    python: &str,
    script: &std::path::Path,
    variants: &[Variant],
    shape: &Shape,
    threads: usize,
    repeats: usize,
) -> Option<Vec<TorchRow>> {
    let labels: Vec<String> = variants.iter().map(Variant::label).collect();
    let sizes: Vec<String> = shape.sizes.iter().map(|n| n.to_string()).collect();
    let out = std::process::Command::new(python)
        .arg(script)
        .args(["--labels", &labels.join(";"), "--sizes", &sizes.join(",")])
        .args(["--torch-classes", &torch_classes()])
        .args(["--threads", &threads.to_string(), "--repeats", &repeats.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        if let (Some(l), Some(i)) = (v["label"].as_str(), v["impl"].as_str()) {
            let t = match (v["min_ms"].as_f64(), v["median_ms"].as_f64()) {
                (Some(a), Some(b)) => Some(Timing { min_ms: a, median_ms: b }),
                _ => None,
            };
            rows.push((l.to_string(), i.to_string(), t, v["probe_median_ms"].as_f64()));
        }
    }
    Some(rows)
}

/// Finds a Python with torch: `$OPTLAB_TORCH_PYTHON`, else `python3` if it imports torch.
pub fn find_torch_python(explicit: Option<&str>) -> Option<String> {
    let candidates: Vec<String> = match explicit {
        Some("none") => return None,
        Some(p) => vec![p.to_string()],
        None => std::env::var("OPTLAB_TORCH_PYTHON").into_iter().chain(["python3".to_string()]).collect(),
    };
    candidates.into_iter().find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import torch"])
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

/// Settings of `optlab bench step`.
#[derive(Clone, Debug)]
pub struct StepBench {
    pub variants: Vec<Variant>,
    pub shapes: Vec<Shape>,
    pub threads: Vec<usize>,
    pub repeats: usize,
    /// Hessian diagonal base for optimizers that need one: `hessian + 0.1·(i mod 5)`.
    pub hessian: f64,
    pub torch_python: Option<String>,
    pub torch_script: std::path::PathBuf,
}

/// Runs the benchmark, printing each row as it is measured (Markdown), and returns the rows.
pub fn run_step_bench(b: &StepBench, out: &mut dyn std::io::Write) -> Result<Vec<Row>> {
    let io = |e| Error::Io { path: "<stdout>".into(), source: e };
    let with_torch = b.torch_python.is_some();
    writeln!(
        out,
        "| optimizer | layout | threads | B/param | min ms | median ms | GB/s | probe GB/s | ratio | checked ms |{}",
        if with_torch { " torch best (impl) ms | torch ratio | speed-up |" } else { "" }
    )
    .map_err(io)?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|{}", if with_torch { "---|---|---|" } else { "" })
        .map_err(io)?;
    let mut rows = Vec::new();
    for shape in &b.shapes {
        for &threads in &b.threads {
            let torch_rows = match &b.torch_python {
                Some(py) => torch_times(py, &b.torch_script, &b.variants, shape, threads, b.repeats),
                None => None,
            };
            for v in &b.variants {
                let m = time_steps::<f32>(v, shape, threads, b.repeats, b.hessian, false)?;
                let checked = time_steps::<f32>(v, shape, threads, b.repeats.div_ceil(2), b.hessian, true)?.step;
                let (t, bpp, probe_gbps) = (m.step, m.bytes_per_param, m.probe_gbps);
                let gbps = bpp * shape.total() as f64 / (t.median_ms * 1e-3) / 1e9;
                let label = v.label();
                let torch: Vec<(String, Option<Timing>, Option<f64>)> = torch_rows
                    .iter()
                    .flatten()
                    .filter(|(l, _, _, _)| *l == label)
                    .map(|(_, i, t, pr)| (i.clone(), *t, *pr))
                    .collect();
                let row = Row {
                    label,
                    shape: shape.label.clone(),
                    threads,
                    timing: t,
                    checked,
                    bytes_per_param: bpp,
                    gbps,
                    probe_gbps,
                    torch,
                };
                let torch_cols = if with_torch {
                    match row.torch_best() {
                        Some((i, tt, _)) => format!(
                            " {:.2} ({i}) | {} | {:.2}x |",
                            tt.median_ms,
                            row.torch_ratio(shape.total()).map_or("-".to_string(), |r| format!("{r:.2}")),
                            tt.median_ms / row.timing.median_ms
                        ),
                        None => " - | - | - |".to_string(),
                    }
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {:.1} | {:.2} | {:.2} |{}",
                    row.label,
                    row.shape,
                    threads,
                    bpp,
                    t.min_ms,
                    t.median_ms,
                    gbps,
                    probe_gbps,
                    row.ratio(),
                    checked.median_ms,
                    torch_cols
                )
                .map_err(io)?;
                out.flush().map_err(io)?;
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// `optlab bench tiny`: `steps` Adam steps on 2-D Rosenbrock with the analytic gradient, through
/// the executor (so it measures the run loop's per-step overhead); returns (total seconds, final
/// point).
pub fn tiny_rosenbrock(steps: usize) -> Result<(f64, [f64; 2])> {
    let f = optlab_functions::Rosenbrock::new(2);
    let mut opt = registry::build::<f64>(Layout::single("x", 2), &OptimConfig::new("adam").set("lr", 0.01))?;
    let t0 = Instant::now();
    let r = Executor::<f64, _, Error>::new(FunctionProblem::new(&f), &mut *opt, vec![-1.5, 2.0])?
        .stop_when(MaxSteps(steps as u64))
        .run()?;
    Ok((t0.elapsed().as_secs_f64(), [r.x[0], r.x[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default list comes from the registry: every optimizer with its defaults, then the
    /// variants its entry marks for benchmarking (sgd's momentum and Nesterov, adam's AMSGrad).
    #[test]
    fn default_variants_follow_the_registry() {
        let labels: Vec<String> = default_variants().iter().map(Variant::label).collect();
        // Muon takes only matrices: `bench muon` times it.
        assert_eq!(optlab_optim::measure::matrix_only(), ["muon"]);
        assert!(!labels.iter().any(|l| l.starts_with("muon")), "{labels:?}");
        // Optimizers whose steps evaluate the function (lbfgs) are left out.
        let evaluating = |name: &str| {
            registry::build::<f32>(optlab_optim::Layout::single("x", 1), &optlab_optim::OptimConfig::new(name))
                .is_ok_and(|o| o.evaluates())
        };
        assert!(evaluating("lbfgs") && !labels.iter().any(|l| l.starts_with("lbfgs")), "{labels:?}");
        for name in registry::names().iter().filter(|n| **n != "muon" && !evaluating(n)) {
            assert!(labels.iter().any(|l| l == name), "{name} missing from {labels:?}");
        }
        for l in ["sgd:momentum=0.9", "sgd:momentum=0.9,nesterov=true", "adam:amsgrad=true"] {
            assert!(labels.iter().any(|x| x == l), "{l} missing from {labels:?}");
        }
        let n: usize = registry::REGISTRY
            .iter()
            .filter(|e| e.fallback.is_none() && !evaluating((e.spec)().name))
            .map(|e| 1 + (e.spec)().variants.iter().filter(|v| v.bench).count())
            .sum();
        assert_eq!(labels.len(), n);
        // Every label parses back to the same variant.
        for v in default_variants() {
            assert_eq!(Variant::parse(&v.label()).unwrap(), v);
        }
        let classes = torch_classes();
        assert!(
            classes.contains("adam=Adam") && classes.contains("sgd=SGD") && !classes.contains("lookahead"),
            "{classes}"
        );
    }
}
