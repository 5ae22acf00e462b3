//! Criterion benchmark: one optimizer step on 10M f32 parameters, as one tensor and as 200
//! tensors of 50k, for every registered optimizer (default hyperparameters, the rayon global
//! pool, gradients unchecked so the figure is the kernel's). Throughput is the ideal bytes moved
//! (`Optimizer::bytes_per_param` × 10M), so criterion's GB/s is comparable with the bandwidth probe
//! of `optlab bench step`.
//!
//! Optimizers that need the Hessian diagonal get a fixed one (its read counts in the bytes).
//!
//! Run: `cargo bench -p optlab-optim --bench step` (filter with e.g. `-- adam/`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use optlab_optim::{registry, Layout, NonFinite, OptimConfig};
use std::time::Duration;

const N: usize = 10_000_000;

fn layouts() -> Vec<(&'static str, Layout)> {
    let mut many = Layout::new();
    for i in 0..200 {
        many.push(&format!("t{i}"), &[N / 200]).unwrap();
    }
    vec![("1x10M", Layout::single("w", N)), ("200x50k", many)]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("step_f32_10M");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for (lname, layout) in layouts() {
        let mut params: Vec<Vec<f32>> =
            layout.tensors().iter().map(|t| (0..t.len).map(|i| ((i % 1000) as f32 - 500.0) * 1e-3).collect()).collect();
        let grads: Vec<Vec<f32>> =
            layout.tensors().iter().map(|t| (0..t.len).map(|i| ((i % 777) as f32 - 388.0) * 1e-4).collect()).collect();
        for name in registry::names() {
            let mut cfg = OptimConfig::new(name).non_finite(NonFinite::Unchecked);
            if *name == "lookahead" {
                cfg = cfg.set("inner", "adam");
            }
            let mut opt = registry::build::<f32>(layout.clone(), &cfg).unwrap();
            if opt.evaluates() {
                // lbfgs: a step evaluates the function (not a pass over the parameters).
                continue;
            }
            group.throughput(Throughput::Bytes((opt.bytes_per_param() * N as f64) as u64));
            let gr: Vec<&[f32]> = grads.iter().map(|g| &g[..]).collect();
            let hess: Vec<Vec<f32>> = if opt.spec().needs_hessian {
                layout.tensors().iter().map(|t| (0..t.len).map(|i| 0.5 + (i % 5) as f32 * 0.1).collect()).collect()
            } else {
                Vec::new()
            };
            let hr: Vec<&[f32]> = hess.iter().map(|h| &h[..]).collect();
            let h = if hess.is_empty() { None } else { Some(&hr[..]) };
            group.bench_function(BenchmarkId::new(*name, lname), |b| {
                b.iter(|| {
                    let mut pm: Vec<&mut [f32]> = params.iter_mut().map(|p| &mut p[..]).collect();
                    opt.step(&mut pm, &gr, h).unwrap();
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
