//! Criterion benchmark: one optimizer step on 10M f32 parameters, as one tensor and as 200
//! tensors of 50k, for every registered optimizer (default hyperparameters, the rayon global
//! pool, gradients unchecked so the figure is the kernel's). Throughput is the ideal bytes moved
//! (`Optimizer::bytes_per_param` × 10M), so criterion's GB/s is comparable with the bandwidth probe
//! of `optlab bench step`.
//!
//! Run: `cargo bench -p optlab-optim --bench step` (filter with e.g. `-- adam/`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use optlab_optim::{registry, Layout, NonFinite, OptimConfig};

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
    group.sample_size(10);
    for (lname, layout) in layouts() {
        let mut params: Vec<Vec<f32>> =
            layout.tensors().iter().map(|t| (0..t.len).map(|i| ((i % 1000) as f32 - 500.0) * 1e-3).collect()).collect();
        let grads: Vec<Vec<f32>> =
            layout.tensors().iter().map(|t| (0..t.len).map(|i| ((i % 777) as f32 - 388.0) * 1e-4).collect()).collect();
        for name in registry::names() {
            let mut cfg = OptimConfig::new(name).non_finite(NonFinite::Unchecked);
            if registry::spec(name).unwrap().needs_hessian {
                continue; // needs a Hessian input; measured by `optlab bench step`
            }
            if *name == "lookahead" {
                cfg = cfg.set("inner", "adam");
            }
            let mut opt = registry::build::<f32>(layout.clone(), &cfg).unwrap();
            group.throughput(Throughput::Bytes((opt.bytes_per_param() * N as f64) as u64));
            let gr: Vec<&[f32]> = grads.iter().map(|g| &g[..]).collect();
            group.bench_function(BenchmarkId::new(*name, lname), |b| {
                b.iter(|| {
                    let mut pm: Vec<&mut [f32]> = params.iter_mut().map(|p| &mut p[..]).collect();
                    opt.step(&mut pm, &gr, None).unwrap();
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
