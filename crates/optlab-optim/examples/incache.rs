//! Computation cost of optimizer steps without the memory traffic: steps on 8192 f32 parameters
//! (every buffer in L2), one thread, as nanoseconds per element and cycles per 8 elements (one
//! AVX2 vector) at an assumed 3 GHz; best of 20 runs of 100 steps. With `--vmath`, the same for
//! the vectorised cube root and power alone (in AVX2 loops, as the kernels run them).
//!
//! `cargo run --release -p optlab-optim --example incache -- [--vmath] [--hessian H] NAME...`
//!
//! A kernel whose cost here is well below its memory time (`optlab bench step`) can run at the
//! bandwidth limit; one whose cost is close to or above it cannot. The Hessian diagonal (for
//! adam_curvature) is `H + 0.1·(i mod 5)`, default H = 0.5.

use optlab_optim::{registry, vmath, Layout, OptimConfig};
use std::time::Instant;

const N: usize = 8192;

/// Best time per element (ns) of `run` over 20 runs of 100 calls.
fn best_ns(mut run: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..20 {
        let t = Instant::now();
        for _ in 0..100 {
            run();
        }
        best = best.min(t.elapsed().as_secs_f64() / 100.0 / N as f64 * 1e9);
    }
    best
}

fn report(name: &str, ns: f64) {
    println!("{name}: {ns:.3} ns/elem = {:.1} cycles per 8 elements at 3 GHz", ns * 24.0);
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut hessian = 0.5f32;
    if let Some(i) = args.iter().position(|a| a == "--hessian") {
        let v = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            eprintln!("--hessian needs a number");
            std::process::exit(2)
        });
        hessian = v;
        args.drain(i..i + 2);
    }
    if let Some(i) = args.iter().position(|a| a == "--vmath") {
        args.remove(i);
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("--vmath needs AVX2");
            std::process::exit(2)
        }
        let a: Vec<f32> = (0..N).map(|i| 1e-15 * (1.0 + i as f32)).collect();
        let mut o = vec![0f32; N];
        // SAFETY (both): AVX2 was detected above.
        report("vmath::cbrt_f32 (AVX2)", best_ns(|| unsafe { cbrt_avx2(&a, &mut o) }));
        report("vmath::pow_ln_f32 (AVX2)", best_ns(|| unsafe { pow_avx2(&a, &mut o) }));
    }
    for name in &args {
        let cfg = OptimConfig::new(name).threads(1);
        let mut opt = match registry::build::<f32>(Layout::single("x", N), &cfg) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2)
            }
        };
        let mut x: Vec<f32> = (0..N).map(|i| ((i % 1000) as f32 - 500.0) * 1e-3).collect();
        let g: Vec<f32> = (0..N).map(|i| ((i % 777) as f32 - 388.0) * 1e-4).collect();
        let h: Vec<f32> = (0..N).map(|i| hessian + (i % 5) as f32 * 0.1).collect();
        let hr = [&h[..]];
        let hess = if opt.spec().needs_hessian { Some(&hr[..]) } else { None };
        report(
            name,
            best_ns(|| {
                opt.step(&mut [&mut x[..]], &[&g[..]], hess).unwrap();
            }),
        );
    }
}

#[target_feature(enable = "avx2")]
unsafe fn cbrt_avx2(a: &[f32], o: &mut [f32]) {
    for (o, &a) in o.iter_mut().zip(a) {
        *o = vmath::cbrt_f32(a);
    }
    std::hint::black_box(o);
}

#[target_feature(enable = "avx2")]
unsafe fn pow_avx2(a: &[f32], o: &mut [f32]) {
    for (o, &a) in o.iter_mut().zip(a) {
        *o = vmath::pow_ln_f32(a * 1e15, -0.1);
    }
    std::hint::black_box(o);
}
