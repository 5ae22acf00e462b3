//! Measuring optimizer steps (`optlab bench step` and `optlab bench memory`): the configurations
//! and parameter layouts to measure, the bandwidth probe, timed steps on the executor and peak
//! resident memory. The command line that prints the tables is the binary's `bench.rs`.
//!
//! The probe is an in-place `a[i] += s * b[i]` over arrays laid out like the step's parameters
//! (same tensor sizes, same chunking, same thread count). It reads and writes memory the way an
//! optimizer does (12 bytes per element), so its GB/s is the limit a step can reach.

use crate::error::{OptimError, Result};
use crate::executor::{Control, Executor, Iterate, MaxSteps, Observer, Problem};
use crate::registry::{self, RegistryFloat};
use crate::{Layout, NonFinite, OptimConfig, Optimizer, StepOutcome};
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// A usage error of the measurement (its text is the whole message).
fn usage(s: String) -> OptimError {
    OptimError::Malformed(s)
}

/// Kernel instruction set for every optimizer this process benchmarks (`--simd`).
pub static SIMD: std::sync::OnceLock<crate::Simd> = std::sync::OnceLock::new();

/// One optimizer configuration to measure: a name and `key=value` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub name: String,
    pub set: Vec<(String, String)>,
}

impl Variant {
    /// Parses `name` or `name:key=value,key=value`.
    pub fn parse(s: &str) -> Result<Variant> {
        let (name, rest) = s.split_once(':').unwrap_or((s, ""));
        registry::spec(name)?;
        let mut set = Vec::new();
        for kv in rest.split(',').filter(|t| !t.is_empty()) {
            let (k, v) = kv.split_once('=').ok_or_else(|| usage(format!("`{s}`: expected name:key=value,...")))?;
            if set.iter().any(|(k2, _): &(String, String)| k2 == k) {
                return Err(usage(format!("`{s}`: {k} given twice; give each key once")));
            }
            // Gradient clipping is an engine setting, not a hyperparameter: checked here.
            if k == "clip_norm" || k == "clip_value" {
                let x: f64 = v.parse().map_err(|_| usage(format!("`{s}`: {k} `{v}` is not a number")))?;
                let c = OptimConfig::new(name);
                let c = if k == "clip_norm" { c.clip_norm(x) } else { c.clip_value(x) };
                c.check_clipping().map_err(|e| usage(format!("`{s}`: {e}")))?;
            }
            set.push((k.to_string(), v.to_string()));
        }
        Ok(Variant { name: name.to_string(), set })
    }

    pub fn label(&self) -> String {
        if self.set.is_empty() {
            self.name.clone()
        } else {
            let kv: Vec<String> = self.set.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{}:{}", self.name, kv.join(","))
        }
    }

    pub fn config(&self, threads: Option<usize>, check: bool) -> OptimConfig {
        let mut c = OptimConfig::new(&self.name).simd(SIMD.get().copied().unwrap_or_default()).non_finite(if check {
            NonFinite::Error
        } else {
            NonFinite::Unchecked
        });
        if let Some(n) = threads {
            c = c.threads(n);
        }
        for (k, v) in &self.set {
            // Checked in `parse`.
            let num = || v.parse::<f64>().unwrap_or(f64::NAN);
            c = match k.as_str() {
                "clip_norm" => c.clip_norm(num()),
                "clip_value" => c.clip_value(num()),
                _ => c.set(k, v),
            };
        }
        c
    }
}

/// The default list: every registered optimizer with its defaults, plus the variants its registry
/// entry marks for benchmarking. Optimizers that take only matrices (Muon: see
/// [`matrix_only`]) are left out: `bench step`'s layouts are vectors; `optlab bench muon` times
/// them on matrices ([`time_matrix_steps`]). Optimizers whose steps evaluate the function (lbfgs:
/// a step is up to `max_iter` iterations and their evaluations, not one pass over the parameters)
/// are left out too.
pub fn default_variants() -> Vec<Variant> {
    let mut v: Vec<Variant> = Vec::new();
    for e in registry::REGISTRY.iter().filter(|e| e.fallback.is_none()) {
        let spec = (e.spec)();
        let one = crate::Layout::single("x", 1);
        if registry::build::<f32>(one, &crate::OptimConfig::new(spec.name)).is_ok_and(|o| o.evaluates()) {
            continue;
        }
        v.push(Variant { name: spec.name.to_string(), set: Vec::new() });
        for var in spec.variants.iter().filter(|var| var.bench) {
            let set = var.set.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            v.push(Variant { name: spec.name.to_string(), set });
        }
    }
    v
}

/// The registered optimizers that refuse vectors (and so are not in [`default_variants`]).
pub fn matrix_only() -> Vec<&'static str> {
    registry::REGISTRY.iter().filter(|e| e.fallback.is_some()).map(|e| (e.spec)().name).collect()
}

/// Parses matrix shapes `ROWSxCOLS` (e.g. `1024x1024`).
pub fn parse_matrix(s: &str) -> Result<[usize; 2]> {
    let bad = || usage(format!("matrix shape `{s}`: expected ROWSxCOLS such as 1024x1024"));
    let (r, c) = s.split_once('x').ok_or_else(bad)?;
    let (r, c): (usize, usize) = (r.trim().parse().map_err(|_| bad())?, c.trim().parse().map_err(|_| bad())?);
    if r == 0 || c == 0 {
        return Err(bad());
    }
    Ok([r, c])
}

/// Median and minimum time of `repeats` steps (after 2 untimed ones) of `v` on one f32 matrix of
/// `shape` with fixed gradients, on `threads` threads (`optlab bench muon`: Muon against torch's
/// Muon on the same shapes, `tools/bench/torch_muon.py`).
pub fn time_matrix_steps(v: &Variant, shape: [usize; 2], threads: usize, repeats: usize) -> Result<Timing> {
    let pool = pool(threads)?;
    let cfg = v.config(if threads == 1 { Some(1) } else { None }, false);
    pool.install(|| {
        let n = shape[0] * shape[1];
        let mut opt = registry::build::<f32>(Layout::new().with("w", &shape)?, &cfg)?;
        let mut p: Vec<f32> = (0..n).map(|i| ((i % 1000) as f32 - 500.0) * 1e-3).collect();
        let g: Vec<f32> = (0..n).map(|i| ((i * 7919 % 777) as f32 - 388.0) * 1e-4).collect();
        let mut times = Vec::with_capacity(repeats);
        for k in 0..repeats + 2 {
            let t0 = Instant::now();
            opt.step(&mut [&mut p[..]], &[&g[..]], None)?;
            if k >= 2 {
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
        }
        Ok(summarise(times))
    })
}

/// A parameter layout to measure.
#[derive(Clone, Debug)]
pub struct Shape {
    pub label: String,
    pub sizes: Vec<usize>,
}

impl Shape {
    /// Parses `COUNTxSIZE`, e.g. `1x10000000` or `200x50000` (`k` and `M` suffixes allowed).
    pub fn parse(s: &str) -> Result<Shape> {
        let bad = || usage(format!("layout `{s}`: expected COUNTxSIZE such as 1x10M or 200x50k"));
        let (c, n) = s.split_once('x').ok_or_else(bad)?;
        let num = |t: &str| -> Result<usize> {
            let (d, m) = match t.chars().last() {
                Some('k') | Some('K') => (&t[..t.len() - 1], 1_000),
                Some('M') => (&t[..t.len() - 1], 1_000_000),
                _ => (t, 1),
            };
            d.parse::<usize>().ok().filter(|&x| x > 0).map(|x| x * m).ok_or_else(bad)
        };
        Ok(Shape { label: s.to_string(), sizes: vec![num(n)?; num(c)?] })
    }
    pub fn layout(&self) -> Layout {
        let mut l = Layout::new();
        for (i, &n) in self.sizes.iter().enumerate() {
            l.push(&format!("t{i}"), &[n]).expect("distinct names");
        }
        l
    }
    pub fn total(&self) -> usize {
        self.sizes.iter().sum()
    }
}

/// Timing summary of repeated runs, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timing {
    pub min_ms: f64,
    pub median_ms: f64,
}

/// (median, minimum) of a non-empty sample (the median of an even count is the mean of the two
/// middle values).
pub fn median_min(v: &[f64]) -> (f64, f64) {
    let mut t = v.to_vec();
    t.sort_by(|a, b| a.total_cmp(b));
    let n = t.len();
    let median = if n % 2 == 1 { t[n / 2] } else { 0.5 * (t[n / 2 - 1] + t[n / 2]) };
    (median, t[0])
}

fn summarise(t: Vec<f64>) -> Timing {
    let (median_ms, min_ms) = median_min(&t);
    Timing { min_ms, median_ms }
}

fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| usage(format!("threads: {e}")))
}

/// The bandwidth probe: `a += s b` over tensors of `shape`, chunked like a step (the engine's
/// chunk size) and run as one parallel region over the chunks of all tensors.
pub struct Probe {
    a: Vec<Vec<f32>>,
    b: Vec<Vec<f32>>,
    parallel: bool,
}

impl Probe {
    /// Allocates and touches the probe's arrays. With `parallel`, [`Probe::run`] spreads the
    /// chunks over the rayon pool it is called in.
    pub fn new(shape: &Shape, parallel: bool) -> Probe {
        let a = shape.sizes.iter().map(|&n| vec![1.0f32; n]).collect();
        let b = shape.sizes.iter().map(|&n| vec![0.5f32; n]).collect();
        Probe { a, b, parallel }
    }

    /// Bytes one pass reads and writes: 12 per element (read a and b, write a).
    pub fn bytes(&self) -> f64 {
        12.0 * self.a.iter().map(Vec::len).sum::<usize>() as f64
    }

    /// One pass; returns its time in milliseconds.
    pub fn run(&mut self) -> f64 {
        const CHUNK: usize = crate::engine::CHUNK;
        let s = 1e-7f32;
        let axpy = |a: &mut [f32], b: &[f32]| {
            for (x, y) in a.iter_mut().zip(b) {
                *x += s * *y;
            }
        };
        let t0 = Instant::now();
        let pieces = self.a.iter_mut().zip(&self.b).flat_map(|(a, b)| a.chunks_mut(CHUNK).zip(b.chunks(CHUNK)));
        if self.parallel {
            pieces.collect::<Vec<_>>().into_par_iter().for_each(|(a, b)| probe_kernel(&axpy, a, b));
        } else {
            pieces.for_each(|(a, b)| probe_kernel(&axpy, a, b));
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        std::hint::black_box(&self.a);
        ms
    }
}

/// The probe's loop, compiled with the same instruction set as the optimizer kernels.
#[inline(always)]
fn probe_kernel(f: &(impl Fn(&mut [f32], &[f32]) + Sync), a: &mut [f32], b: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(f: &(impl Fn(&mut [f32], &[f32]) + Sync), a: &mut [f32], b: &[f32]) {
            f(a, b)
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features.
            return unsafe { avx2(f, a, b) };
        }
    }
    f(a, b)
}

/// What [`time_steps`] measured.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// Optimizer steps.
    pub step: Timing,
    /// GB/s of the median probe pass (each pass run just before one of the timed steps).
    pub probe_gbps: f64,
    /// The optimizer's ideal traffic per parameter (bytes).
    pub bytes_per_param: f64,
}

/// Times `repeats` steps (after 5 warm-up steps) of one optimizer on fixed gradients, each timed
/// step preceded by a timed pass of the bandwidth probe over arrays of the same shape, in the same
/// thread pool: the two see the same machine, so their ratio holds even when the load changes.
pub fn time_steps<T: RegistryFloat>(
    v: &Variant,
    shape: &Shape,
    threads: usize,
    repeats: usize,
    hessian: f64,
    check: bool,
) -> Result<Measured> {
    let pool = pool(threads)?;
    // threads = 1: the engine's single-thread path; otherwise the engine uses the pool it is
    // called in (`threads` unset), which is the probe's.
    let cfg = v.config(if threads == 1 { Some(1) } else { None }, check);
    pool.install(|| {
        let layout = shape.layout();
        let mut opt: Box<dyn Optimizer<T>> = registry::build::<T>(layout.clone(), &cfg)?;
        let params: Vec<T> =
            shape.sizes.iter().flat_map(|&n| (0..n).map(|i| T::of(((i % 1000) as f64 - 500.0) * 1e-3))).collect();
        let problem = FixedGradients {
            g: shape.sizes.iter().flat_map(|&n| (0..n).map(|i| T::of(((i % 777) as f64 - 388.0) * 1e-4))).collect(),
            h: opt.spec().needs_hessian.then(|| {
                shape.sizes.iter().flat_map(|&n| (0..n).map(|i| T::of(hessian + (i % 5) as f64 * 0.1))).collect()
            }),
        };
        let mut timer = StepTimer {
            probe: Probe::new(shape, threads > 1),
            warmup: WARMUP_STEPS,
            steps_ms: Vec::with_capacity(repeats),
            probe_ms: Vec::with_capacity(repeats),
        };
        Executor::<T, _, OptimError>::new(problem, &mut *opt, params)?
            .stop_when(MaxSteps(WARMUP_STEPS + repeats as u64))
            .time_steps(true)
            .observe(&mut timer)
            .run()?;
        Ok(Measured {
            probe_gbps: timer.probe.bytes() / (summarise(timer.probe_ms).median_ms * 1e-3) / 1e9,
            step: summarise(timer.steps_ms),
            bytes_per_param: opt.bytes_per_param(),
        })
    })
}

/// Untimed steps before the timed ones in [`time_steps`].
const WARMUP_STEPS: u64 = 5;

/// The problem of [`time_steps`]: the same gradients (and Hessian diagonal) at every point.
struct FixedGradients<T> {
    g: Vec<T>,
    h: Option<Vec<T>>,
}

impl<T: RegistryFloat> Problem<T> for FixedGradients<T> {
    fn dim(&self) -> usize {
        self.g.len()
    }
    /// f is not part of the benchmark: 0 at every point.
    fn eval(&mut self, _x: &[T], g: &mut [T]) -> f64 {
        g.copy_from_slice(&self.g);
        0.0
    }
    fn has_hessian_diag(&self) -> bool {
        self.h.is_some()
    }
    fn hessian_diag(&mut self, _x: &[T], h: &mut [T]) -> bool {
        match &self.h {
            Some(v) => {
                h.copy_from_slice(v);
                true
            }
            None => false,
        }
    }
}

/// The timing observer of [`time_steps`]: each warm-up step is followed by a probe pass, each
/// timed step preceded by a timed probe pass (just before the step, after the evaluation).
struct StepTimer {
    probe: Probe,
    warmup: u64,
    steps_ms: Vec<f64>,
    probe_ms: Vec<f64>,
}

impl<T: RegistryFloat> Observer<T, OptimError> for StepTimer {
    fn observe(&mut self, it: &Iterate<'_, T>) -> Result<Control> {
        if it.step >= self.warmup && it.terminating.is_none() {
            self.probe_ms.push(self.probe.run());
        }
        Ok(Control::Continue)
    }
    fn after_step(&mut self, step: u64, _o: &StepOutcome, elapsed: Option<Duration>) -> Result<()> {
        if step <= self.warmup {
            self.probe.run();
        } else {
            let t = elapsed.ok_or_else(|| usage("bench: the executor did not time the step".into()))?;
            self.steps_ms.push(t.as_secs_f64() * 1e3);
        }
        Ok(())
    }
}

/// Peak resident memory of this process so far (VmHWM), in bytes, where /proc is available.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `optlab bench memory`: peak RSS of `steps` f32 steps of one optimizer on `n` parameters, against
/// the parameters, gradients and the optimizer's declared state. Returns (baseline before
/// allocating, peak after stepping, expected bytes). It steps by hand rather than on the
/// executor: the executor's own gradient buffer would be a second copy of the gradients, which
/// this measurement counts once.
pub fn memory(v: &Variant, n: usize, steps: usize) -> Result<(u64, u64, u64)> {
    let base = peak_rss_bytes().ok_or_else(|| usage("peak RSS needs /proc/self/status (Linux)".into()))?;
    let shape = Shape { label: format!("1x{n}"), sizes: vec![n] };
    let mut opt = registry::build::<f32>(shape.layout(), &v.config(Some(1), true))?;
    let state_bytes = opt.state_elements() as u64 * 4;
    let mut p: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 1e-3).collect();
    let g: Vec<f32> = (0..n).map(|i| ((i % 777) as f32 - 388.0) * 1e-4).collect();
    let h: Vec<f32> = if opt.spec().needs_hessian { vec![1.0; n] } else { Vec::new() };
    let hr = [&h[..]];
    for _ in 0..steps {
        opt.step(&mut [&mut p[..]], &[&g[..]], if h.is_empty() { None } else { Some(&hr[..]) })?;
    }
    std::hint::black_box(&p);
    let peak = peak_rss_bytes().unwrap_or(0);
    let expected = 2 * 4 * n as u64 + h.len() as u64 * 4 + state_bytes;
    Ok((base, peak, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_variants_configure_the_engine() {
        let v = Variant::parse("adam:clip_norm=1,lr=0.01").unwrap();
        let c = v.config(Some(1), true);
        assert_eq!((c.clip_norm, c.clip_value), (Some(1.0), None));
        assert_eq!(c.set.get("lr").map(String::as_str), Some("0.01"));
        assert!(!c.set.contains_key("clip_norm"));
        assert_eq!(Variant::parse("adam:clip_value=0.5").unwrap().config(None, false).clip_value, Some(0.5));
        let e = Variant::parse("adam:clip_value=-1").unwrap_err().to_string();
        assert!(e.contains("clip_value"), "{e}");
        assert!(Variant::parse("adam:clip_norm=x").unwrap_err().to_string().contains("clip_norm `x`"));
    }

    #[test]
    fn layouts_parse_with_suffixes_and_bad_ones_are_named() {
        let s = Shape::parse("200x50k").unwrap();
        assert_eq!((s.sizes.len(), s.sizes[0], s.total()), (200, 50_000, 10_000_000));
        assert_eq!(Shape::parse("1x10M").unwrap().sizes, vec![10_000_000]);
        for bad in ["10M", "0x5", "2xk", "ax3"] {
            let e = Shape::parse(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("layout `{bad}`")), "{e}");
        }
    }

    #[test]
    fn variants_parse_and_refuse_repeated_keys() {
        let v = Variant::parse("sgd:momentum=0.9,nesterov=true").unwrap();
        assert_eq!(v.label(), "sgd:momentum=0.9,nesterov=true");
        let e = Variant::parse("sgd:lr=1,lr=2").unwrap_err().to_string();
        assert!(e.contains("lr given twice"), "{e}");
        assert!(Variant::parse("no_such_optimizer").is_err());
        assert!(default_variants().iter().any(|v| v.label() == "adam:amsgrad=true"));
    }

    #[test]
    fn median_of_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median_min(&[4.0, 1.0, 3.0, 2.0]), (2.5, 1.0));
        assert_eq!(median_min(&[5.0, 1.0, 3.0]), (3.0, 1.0));
    }

    #[test]
    fn timed_steps_count_the_repeats_and_the_state() {
        let shape = Shape::parse("2x1k").unwrap();
        let m = time_steps::<f32>(&Variant::parse("adam").unwrap(), &shape, 1, 3, 1.0, true).unwrap();
        assert!(m.step.min_ms <= m.step.median_ms && m.step.min_ms >= 0.0);
        assert!(m.probe_gbps > 0.0 && m.bytes_per_param > 0.0);
    }
}
