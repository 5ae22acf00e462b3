//! Times the default study (learning-rate protocol + evaluation into a new store each time, no
//! tables, no plots) and reports
//! the cost per optimizer step.
//!
//! `cargo bench -p optlab --bench study`
//!
//! Criterion reports the time of one whole study and, as throughput, optimizer steps per second;
//! the line `study: ... ns per step` gives the same as nanoseconds of wall time per step (all
//! threads together). Optimizers of the default list that are not registered are left out (and
//! named).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use optlab_lab::study::{run_study, StudyConfig};
use std::time::{Duration, Instant};

fn config() -> StudyConfig {
    let mut cfg = StudyConfig::default();
    let known = optlab_optim::registry::names();
    let (keep, missing): (Vec<String>, Vec<String>) =
        cfg.optimizers.iter().cloned().partition(|o| known.contains(&o.split(':').next().unwrap_or("")));
    if !missing.is_empty() {
        eprintln!("study bench: not registered, left out: {}", missing.join(", "));
    }
    cfg.optimizers = keep;
    cfg
}

fn bench(c: &mut Criterion) {
    let cfg = config();
    let first =
        run_study(&cfg, tempfile::tempdir().expect("a temporary folder").path()).expect("the default study runs");
    let steps = first.timing.steps();
    eprintln!(
        "study: {} optimizers × {} functions, {} runs, {} steps per study on {} threads",
        first.optimizers.len(),
        first.functions.len(),
        first.timing.tune_runs + first.timing.eval_runs,
        steps,
        first.timing.threads
    );
    let mut g = c.benchmark_group("study");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(steps));
    let mut total = Duration::ZERO;
    let mut iters = 0u64;
    g.bench_function("default", |b| {
        b.iter_custom(|n| {
            let t = Instant::now();
            for _ in 0..n {
                let s = run_study(&cfg, tempfile::tempdir().expect("a temporary folder").path()).expect("study");
                assert_eq!(s.timing.steps(), steps, "the study is deterministic");
            }
            let e = t.elapsed();
            total += e;
            iters += n;
            e
        })
    });
    g.finish();
    let per_study = total.as_secs_f64() / iters.max(1) as f64;
    eprintln!(
        "study: {:.3} s per study (mean of {iters}), {:.1} ns per step (wall, {} threads)",
        per_study,
        per_study * 1e9 / steps as f64,
        first.timing.threads
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
