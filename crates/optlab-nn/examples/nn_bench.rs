//! Benchmarks of training speed on burn's flex CPU backend (not a test):
//! - MLP 784-256-128-10, seconds per epoch of 60,000 samples at batch 64 and 512 (the shipped
//!   5,000 MNIST digits cycled to 60,000), with optlab's `adam` through the adapter and with
//!   burn's built-in Adam; the difference per step is the adapter's overhead;
//! - the MNIST CNN, training samples per second at batch 64 (both optimizers) and 512 (optlab's
//!   adam), and the CIFAR-10 CNN at batch 128 (on random images: the speed does not depend on
//!   the pixels).
//!
//! `cargo run --release -p optlab-nn --example nn_bench -- [REPEATS] [all|mlp|cnn]` prints
//! medians over REPEATS (default 3) runs; `cnn` runs only the two CNNs (quicker to iterate on).
//! `RAYON_NUM_THREADS` sets the threads.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use optlab_data::Dataset;
use optlab_nn::models::{CifarCnn, Mlp, MnistCnn, Net};
use optlab_nn::train::load_data;
use optlab_nn::{OptlabOptimizer, TrainConfig};
use optlab_optim::OptimConfig;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::Instant;

// The same allocator as the `optlab` binary, so these figures are what `optlab train` gets.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

enum Opt {
    Optlab(Box<OptlabOptimizer>),
    Burn(ModuleOptimizer),
}

impl Opt {
    fn new(which: &str) -> Opt {
        match which {
            "optlab" => Opt::Optlab(Box::new(OptlabOptimizer::new(OptimConfig::new("adam").set("lr", 1e-3)).unwrap())),
            _ => Opt::Burn(AdamConfig::new().with_epsilon(1e-8).init()),
        }
    }
    fn step<M: Module>(&mut self, m: M, g: GradientsParams) -> M {
        match self {
            Opt::Optlab(o) => o.step(m, g).unwrap(),
            Opt::Burn(o) => o.step(1e-3, m, g),
        }
    }
}

/// Trains `samples` samples (cycling through `data`) and returns the seconds taken.
fn time_training<M: Net>(model: M, data: &Dataset, samples: usize, batch: usize, opt: &mut Opt) -> f64 {
    training(model, data, samples, batch, opt).0
}

/// Trains `samples` samples (cycling through `data`); the seconds taken and the trained model.
fn training<M: Net>(mut model: M, data: &Dataset, samples: usize, batch: usize, opt: &mut Opt) -> (f64, M) {
    let device = Device::flex().autodiff();
    let s = data.sample_len();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut drop_rng = StdRng::seed_from_u64(1);
    let steps = samples.div_ceil(batch);
    let idx: Vec<usize> = (0..batch).collect();
    let t = Instant::now();
    for k in 0..steps {
        let start = (k * batch) % (data.len() - batch);
        let ids: Vec<usize> = idx.iter().map(|i| start + i).collect();
        data.gather(&ids, &mut x, &mut y);
        let xb = Tensor::<2>::from_data(TensorData::new(x.clone(), [batch, s]), &device);
        let loss = model.loss().mean(model.forward(xb, Some(&mut drop_rng)), &y);
        let _: f32 = loss.clone().into_scalar();
        let g = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(model, g);
    }
    (t.elapsed().as_secs_f64(), model)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repeats: usize = args.first().map(|a| a.parse().expect("REPEATS must be a number")).unwrap_or(3);
    let only = args.get(1).map(String::as_str).unwrap_or("all");
    assert!(["all", "mlp", "cnn"].contains(&only), "the second argument is all, mlp or cnn, not `{only}`");
    let device = Device::flex().autodiff();
    let cfg = TrainConfig::new("mnist-mlp", OptimConfig::new("adam"));
    let (train, _) = load_data(&cfg).unwrap();
    println!("rayon threads: {}; repeats: {repeats} (medians)", rayon_threads());
    for batch in [64usize, 512] {
        if only == "cnn" {
            break;
        }
        for which in ["optlab", "burn"] {
            let runs: Vec<f64> = (0..repeats)
                .map(|r| {
                    let m = Mlp::new(&[784, 256, 128, 10], &mut StdRng::seed_from_u64(r as u64), &device);
                    time_training(m, &train, 60_000, batch, &mut Opt::new(which))
                })
                .collect();
            let steps = 60_000usize.div_ceil(batch);
            let med = median(runs.clone());
            println!(
                "mlp 784-256-128-10 bs{batch:<4} {which:<7} {med:.3} s/epoch ({:.3} ms/step; runs {:?})",
                med / steps as f64 * 1e3,
                runs.iter().map(|v| (v * 1000.0).round() / 1000.0).collect::<Vec<_>>()
            );
        }
    }
    if only == "mlp" {
        return;
    }
    let report = |name: &str, runs: Vec<f64>| {
        println!(
            "{name} {:.0} samples/s (runs {:?})",
            median(runs.clone()),
            runs.iter().map(|v| v.round()).collect::<Vec<_>>()
        )
    };
    // burn's Adam beside optlab's at batch 64 only in the full run.
    let bs64: &[&str] = if only == "all" { &["optlab", "burn"] } else { &["optlab"] };
    for (batch, whichs) in [(64usize, bs64), (512, &["optlab"][..])] {
        // 40 steps at batch 64, 8 at 512 (after one warm-up step).
        let samples = batch * if batch == 64 { 40 } else { 8 };
        for &which in whichs {
            let runs: Vec<f64> = (0..repeats)
                .map(|r| {
                    let m = MnistCnn::new(&mut StdRng::seed_from_u64(r as u64), &device);
                    let mut opt = Opt::new(which);
                    let m = warm_up(m, &train, batch, &mut opt);
                    samples as f64 / time_training(m, &train, samples, batch, &mut opt)
                })
                .collect();
            report(&format!("mnist cnn bs{batch:<4} {which:<7}"), runs);
        }
    }
    let cifar = random_images(1280);
    let samples = 128 * 10;
    let runs: Vec<f64> = (0..repeats)
        .map(|r| {
            let m = CifarCnn::new(&mut StdRng::seed_from_u64(r as u64), &device);
            let mut opt = Opt::new("optlab");
            let m = warm_up(m, &cifar, 128, &mut opt);
            samples as f64 / time_training(m, &cifar, samples, 128, &mut opt)
        })
        .collect();
    report("cifar cnn bs128  optlab ", runs);
}

/// One training step (first-touch allocations, thread pool start-up), returning the model.
fn warm_up<M: Net>(model: M, data: &Dataset, batch: usize, opt: &mut Opt) -> M {
    training(model, data, batch, batch, opt).1
}

/// `n` random 3×32×32 images, values in [0, 1), labels 0..10 (the CIFAR CNN's speed does not
/// depend on the pixels).
fn random_images(n: usize) -> Dataset {
    let mut rng = StdRng::seed_from_u64(42);
    let x: Vec<f32> = (0..3072 * n).map(|_| rand::Rng::random::<f32>(&mut rng)).collect();
    let y: Vec<u32> = (0..n).map(|i| (i % 10) as u32).collect();
    Dataset::new("random images", x, y, vec![3, 32, 32], 10).expect("random images")
}

/// burn-flex runs its kernels on rayon's global pool (RAYON_NUM_THREADS, else one per core).
fn rayon_threads() -> usize {
    rayon::current_num_threads()
}
