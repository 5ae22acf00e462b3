//! Synthetic datasets.

use crate::dataset::Dataset;
use crate::rng::{Rng, STREAM_GAUSS};

/// Two Gaussian clusters in `dim` dimensions: class 0 around `-c·(1,…,1)`, class 1 around `+c·(1,…,1)` with
/// `c = separation / 2 / sqrt(dim)` (so the centres are `separation` apart), unit variance per coordinate.
/// `n` samples alternating classes (0, 1, 0, …), reproducible from `seed` (ChaCha8 + Box–Muller, see
/// [`crate::shuffled`] for the generator); `sample_shape` is `[dim]`, name `"two-gaussians"`.
pub fn two_gaussians(n: usize, dim: usize, separation: f32, seed: u64) -> Dataset {
    let c = if dim == 0 { 0.0 } else { f64::from(separation) / 2.0 / (dim as f64).sqrt() };
    let mut rng = Rng::new(seed, STREAM_GAUSS);
    let mut images = Vec::with_capacity(n * dim);
    let mut labels = Vec::with_capacity(n);
    let mut spare: Option<f64> = None;
    for k in 0..n {
        let label = (k % 2) as u32;
        let centre = if label == 0 { -c } else { c };
        for _ in 0..dim {
            let z = match spare.take() {
                Some(z) => z,
                None => {
                    let (a, b) = rng.normal_pair();
                    spare = Some(b);
                    a
                }
            };
            images.push((centre + z) as f32);
        }
        labels.push(label);
    }
    Dataset { name: "two-gaussians".into(), images, labels, sample_shape: vec![dim], classes: 2 }
}
