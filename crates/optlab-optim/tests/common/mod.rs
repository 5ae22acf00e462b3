//! Shared helpers for the integration tests.
#![allow(dead_code)]

use optlab_optim::{registry, Layout, OptimConfig, Optimizer};

/// A layout with a small tensor, one spanning several chunks, and one more small tensor.
pub fn layout() -> Layout {
    let big = 2 * optlab_optim::engine::CHUNK + 1_001;
    Layout::new().with("w1", &[4, 5]).unwrap().with("w2", &[big]).unwrap().with("b", &[7]).unwrap()
}

/// Deterministic pseudo-random numbers in [-1, 1).
pub fn noise(seed: u64, i: usize) -> f64 {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 31;
    z = z.wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 29;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// Parameters of a layout, deterministic.
pub fn init_params(l: &Layout) -> Vec<Vec<f64>> {
    l.tensors().iter().enumerate().map(|(t, d)| (0..d.len).map(|i| noise(1000 + t as u64, i)).collect()).collect()
}

/// Gradient of 0.5 * sum c_i x_i^2 plus step-dependent noise; Hessian diagonal c_i.
pub fn grads(params: &[Vec<f64>], step: u64) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut g = Vec::new();
    let mut h = Vec::new();
    for (t, p) in params.iter().enumerate() {
        let c: Vec<f64> = (0..p.len()).map(|i| 0.5 + (i % 7) as f64 * 0.3 + t as f64 * 0.1).collect();
        g.push(p.iter().zip(&c).enumerate().map(|(i, (x, c))| c * x + 0.1 * noise(step * 31 + t as u64, i)).collect());
        h.push(c);
    }
    (g, h)
}

/// Steps an optimizer `n` times from `params`, starting at step `from`.
pub fn run(opt: &mut dyn Optimizer<f64>, params: &mut [Vec<f64>], from: u64, n: u64) {
    for s in from..from + n {
        let (g, h) = grads(params, s);
        let mut pm: Vec<&mut [f64]> = params.iter_mut().map(|v| &mut v[..]).collect();
        let gr: Vec<&[f64]> = g.iter().map(|v| &v[..]).collect();
        let hr: Vec<&[f64]> = h.iter().map(|v| &v[..]).collect();
        opt.step(&mut pm, &gr, Some(&hr)).unwrap();
        if s % 10 == 9 {
            let loss: f64 = params.iter().flatten().map(|x| x * x).sum();
            opt.report_metric(loss);
        }
        if s % 25 == 24 {
            opt.end_epoch();
        }
    }
}

pub fn build(cfg: &OptimConfig) -> Box<dyn Optimizer<f64>> {
    registry::build::<f64>(layout(), cfg).unwrap()
}

/// `cfg` made valid for `l` when the optimizer takes only some tensors (Muon: matrices): the
/// tensors of rank < 2 get the registry's fallback setting (`use_muon=false`) in the group they
/// already belong to, or in a new group.
pub fn with_fallback(mut cfg: OptimConfig, l: &Layout) -> OptimConfig {
    let Some((key, value)) = registry::fallback(&cfg.name).unwrap() else { return cfg };
    let mut rest = Vec::new();
    for t in l.tensors().iter().filter(|t| t.shape.len() < 2) {
        match cfg
            .groups
            .iter_mut()
            .find(|g| g.tensors.iter().any(|p| optlab_optim::engine::pattern_matches(p, &t.name)))
        {
            Some(g) => {
                g.set.insert(key.to_string(), value.to_string());
            }
            None => rest.push(t.name.clone()),
        }
    }
    if !rest.is_empty() {
        cfg = cfg.group(optlab_optim::GroupConfig {
            tensors: rest,
            set: [(key.to_string(), value.to_string())].into(),
            schedules: vec![],
        });
    }
    cfg
}
