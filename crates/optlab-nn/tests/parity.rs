//! optlab's `adam` through the adapter against burn's built-in Adam (eps set to torch's 1e-8) on
//! the same model, initialisation and data order: the loss curves agree to float32 rounding.

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use optlab_nn::models::{Mlp, Net};
use optlab_nn::train::load_data;
use optlab_nn::{NetworkSettings, OptlabOptimizer, TrainConfig};
use optlab_optim::OptimConfig;
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn adam_matches_burn_adam() {
    let device = Device::flex().autodiff();
    let cfg = TrainConfig::with(
        "mnist-mlp",
        OptimConfig::new("adam"),
        NetworkSettings { train_limit: Some(1000), ..NetworkSettings::default() },
    );
    let (train, _) = load_data(&cfg).unwrap();
    let widths = [784, 64, 10];
    let mut ours = Mlp::new(&widths, &mut StdRng::seed_from_u64(3), &device);
    let mut theirs = Mlp::new(&widths, &mut StdRng::seed_from_u64(3), &device);
    let mut opt = OptlabOptimizer::new(OptimConfig::new("adam").set("lr", 1e-3).set("eps", 1e-8)).unwrap();
    let mut burn_adam = AdamConfig::new().with_epsilon(1e-8).init();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let s = train.sample_len();
    let mut worst = 0.0f64;
    for epoch in 1..=3u64 {
        let perm = optlab_data::shuffled(train.len(), 0, epoch);
        for idx in perm.chunks(50) {
            train.gather(idx, &mut x, &mut y);
            let xb = Tensor::<2>::from_data(TensorData::new(x.clone(), [idx.len(), s]), &device);
            let loss_a = ours.loss().mean(ours.forward(xb.clone(), None), &y);
            let loss_b = theirs.loss().mean(theirs.forward(xb, None), &y);
            let (a, b): (f32, f32) = (loss_a.clone().into_scalar(), loss_b.clone().into_scalar());
            let rel = ((a - b).abs() / b.abs()) as f64;
            worst = worst.max(rel);
            assert!(rel < 1e-4, "epoch {epoch}: optlab {a} vs burn {b} (relative {rel:e})");
            let ga = GradientsParams::from_grads(loss_a.backward(), &ours);
            let gb = GradientsParams::from_grads(loss_b.backward(), &theirs);
            ours = opt.step(ours, ga).unwrap();
            theirs = burn_adam.step(1e-3, theirs, gb);
        }
    }
    let wa: Vec<f32> = ours.layers[0].weight.val().into_data().try_into_vec_as().unwrap();
    let wb: Vec<f32> = theirs.layers[0].weight.val().into_data().try_into_vec_as().unwrap();
    let max_diff = wa.iter().zip(&wb).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    eprintln!("60 steps: worst relative loss difference {worst:e}, largest weight difference {max_diff:e}");
    assert!(max_diff < 1e-4, "{max_diff}");
}
