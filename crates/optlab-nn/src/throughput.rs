//! Training throughput: samples per second of the step the trainer takes (gather a batch, forward
//! with dropout, loss read back as a number, backward, optimizer step), for `optlab bench train`
//! and the `nn_bench` example.
//!
//! The MNIST tasks train on the shipped digits (normalised training split, cycled in a seeded
//! shuffled order as the trainer takes them); `cifar-cnn` and `cifar-resnet18` (the CIFAR
//! ResNet-18, BatchNorm in training mode) train on seeded random images of CIFAR-10's shape, since
//! CIFAR-10 is not shipped (the work per sample does not depend on the pixel values).

use crate::adapter::OptlabOptimizer;
use crate::error::NnError;
use crate::models::{CifarCnn, Mlp, MnistCnn, Net, ResNet18, RESNET18_WIDTHS};
use crate::train::{load_data, TrainConfig, MNIST_MLP_WIDTHS};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use optlab_data::Dataset;
use optlab_optim::OptimConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// The tasks [`measure`] knows.
pub const THROUGHPUT_TASKS: &[&str] = &["mnist-mlp", "mnist-cnn", "cifar-cnn", "cifar-resnet18"];

/// Random images of CIFAR-10's shape (3×32×32, 10 classes), normalised like real ones (mean 0,
/// standard deviation 1 per channel).
pub fn synthetic_cifar(samples: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let images: Vec<f32> = (0..samples * 3072).map(|_| rng.random_range(-1.7f32..1.7)).collect();
    let labels: Vec<u32> = (0..samples).map(|_| rng.random_range(0..10)).collect();
    Dataset::new("synthetic-cifar10", images, labels, vec![3, 32, 32], 10).expect("consistent shapes")
}

/// The data a throughput run of `task` trains on.
pub fn throughput_data(task: &str) -> Result<Dataset, NnError> {
    match task {
        "mnist-mlp" | "mnist-cnn" => Ok(load_data(&TrainConfig::new(task, OptimConfig::new("adam")))?.0),
        "cifar-cnn" | "cifar-resnet18" => Ok(synthetic_cifar(2048, 0)),
        other => Err(NnError::UnknownTask { name: other.into(), known: THROUGHPUT_TASKS.join(", ") }),
    }
}

/// Seconds taken by each of `repeats` runs of `steps` training steps of batch `batch` (after
/// `warmup` untimed steps per run), each run from a freshly initialised model (seed = run index)
/// and a fresh optimizer. Runs on the calling thread's rayon pool.
pub fn measure(
    task: &str,
    data: &Dataset,
    optimizer: &OptimConfig,
    batch: usize,
    steps: usize,
    warmup: usize,
    repeats: usize,
) -> Result<Vec<f64>, NnError> {
    if batch == 0 || batch > data.len() {
        return Err(NnError::setting("batch", batch, format!("must lie in 1..={} (the data's samples)", data.len())));
    }
    let device = Device::flex().autodiff();
    (0..repeats)
        .map(|r| {
            let mut rng = StdRng::seed_from_u64(r as u64);
            let opt = OptlabOptimizer::new(optimizer.clone())?;
            match task {
                "mnist-mlp" => {
                    time_steps(Mlp::new(MNIST_MLP_WIDTHS, &mut rng, &device), opt, data, batch, steps, warmup)
                }
                "mnist-cnn" => time_steps(MnistCnn::new(&mut rng, &device), opt, data, batch, steps, warmup),
                "cifar-cnn" => time_steps(CifarCnn::new(&mut rng, &device), opt, data, batch, steps, warmup),
                "cifar-resnet18" => {
                    let net = ResNet18::new(3, 32, 10, RESNET18_WIDTHS, &mut rng, &device);
                    time_steps(net, opt, data, batch, steps, warmup)
                }
                other => Err(NnError::UnknownTask { name: other.into(), known: THROUGHPUT_TASKS.join(", ") }),
            }
        })
        .collect()
}

fn time_steps<M: Net>(
    mut model: M,
    mut opt: OptlabOptimizer,
    data: &Dataset,
    batch: usize,
    steps: usize,
    warmup: usize,
) -> Result<f64, NnError> {
    let device = Device::flex().autodiff();
    let s = data.sample_len();
    let mut perm = vec![0usize; data.len()];
    let (mut xb, mut yb) = (Vec::with_capacity(batch * s), Vec::with_capacity(batch));
    let mut drop_rng = StdRng::seed_from_u64(1);
    let (mut epoch, mut at) = (0u64, data.len());
    let mut start = Instant::now();
    for k in 0..warmup + steps {
        if k == warmup {
            start = Instant::now();
        }
        if at + batch > data.len() {
            epoch += 1;
            optlab_data::shuffle_into(&mut perm, 0, epoch);
            at = 0;
        }
        data.gather(&perm[at..at + batch], &mut xb, &mut yb);
        at += batch;
        let x = Tensor::<2>::from_data(TensorData::new(xb.clone(), [batch, s]), &device);
        let loss = model.loss().mean(model.forward(x, Some(&mut drop_rng)), &yb);
        let lv: f32 = loss.clone().into_scalar();
        if !lv.is_finite() {
            return Err(NnError::Data(format!("throughput run diverged (loss {lv}) at step {k}")));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(model, grads)?;
    }
    Ok(start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_trains_and_times() {
        for task in THROUGHPUT_TASKS {
            let data = if task.starts_with("cifar") { synthetic_cifar(16, 1) } else { throughput_data(task).unwrap() };
            let t = measure(task, &data, &OptimConfig::new("adam").set("lr", 1e-3), 8, 3, 1, 2).unwrap();
            assert_eq!(t.len(), 2);
            assert!(t.iter().all(|s| s.is_finite() && *s > 0.0), "{task}: {t:?}");
        }
    }

    #[test]
    fn bad_batch_and_task_are_refused() {
        let data = synthetic_cifar(16, 1);
        let opt = OptimConfig::new("adam");
        let e = measure("cifar-cnn", &data, &opt, 17, 1, 0, 1).unwrap_err().to_string();
        assert!(e.contains("batch") && e.contains("17"), "{e}");
        let e = measure("nope", &data, &opt, 4, 1, 0, 1).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }
}
