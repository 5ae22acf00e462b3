//! Weight averaging on a network against torch.optim.swa_utils: the goldens of
//! tools/golden/torch_swa.py (the small ResNet-18 of torch_training.rs, its initial weights and its
//! 50 batches), trained here with SWA + SWALR (SGD) and EMA (Adam): the per-step losses (SWALR
//! changes the learning rate), the averaged model's loss with the model's BatchNorm statistics,
//! then after `update_bn` (recomputed at the averaged weights) its statistics and loss, all
//! within the 1e-4 relative of torch_training.rs.

use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use optlab_data::Dataset;
use optlab_nn::adapter::state_tensors;
use optlab_nn::init::load_torch_init;
use optlab_nn::models::{Loss, Net, ResNet18};
use optlab_nn::train::{evaluate, update_bn};
use optlab_nn::OptlabOptimizer;
use optlab_optim::average::{AverageConfig, AverageMethod};
use optlab_optim::OptimConfig;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;
use std::path::{Path, PathBuf};

const TOLERANCE: f64 = 1e-4;
const SIDE: usize = 8;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("golden")
}

fn json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(golden_dir().join(name)).unwrap()).unwrap()
}

fn synthetic(n: usize, len: usize) -> (Vec<f32>, Vec<u32>) {
    let x = (0..n)
        .flat_map(|k| (0..len).map(move |j| (0.37 * (k + 1) as f64 * j as f64 + k as f64).sin() as f32))
        .collect();
    (x, (0..n as u32).map(|k| k % 10).collect())
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-30)
}

fn config(case: &Value) -> OptimConfig {
    let mut cfg = OptimConfig::new(case["optimizer"].as_str().unwrap());
    for (k, v) in case["set"].as_object().unwrap() {
        cfg = cfg.set(k, v.as_f64().unwrap());
    }
    let a = &case["average"];
    let mut av = match a["method"].as_str().unwrap() {
        "swa" => AverageConfig::swa(),
        _ => AverageConfig::ema(a["ema_decay"].as_f64().unwrap()),
    };
    av.swa_start = a.get("swa_start").map_or(0, |v| v.as_u64().unwrap());
    av.swa_freq = a.get("swa_freq").map_or(1, |v| v.as_u64().unwrap());
    av.swa_lr = a.get("swa_lr").map(|v| v.as_f64().unwrap());
    av.anneal_epochs = a.get("anneal_epochs").map(|v| v.as_u64().unwrap());
    cfg.average(av)
}

#[test]
fn averaged_resnet_with_update_bn_matches_torch() {
    let device = Device::flex().autodiff();
    let batches = json("torch_training.json")["nets"]["resnet"]["batches"].clone();
    let g = json("torch_swa.json");
    let len = 3 * SIDE * SIDE;
    let (x, y) = synthetic(64, len);
    let set = Dataset::new("synthetic", x.clone(), y.clone(), vec![3, SIDE, SIDE], 10).unwrap();
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    let mut methods = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let cfg = config(case);
        methods.push(cfg.average.as_ref().unwrap().method);
        let m = ResNet18::new(3, SIDE, 10, [4, 8, 8, 8], &mut StdRng::seed_from_u64(9), &device);
        let mut model = load_torch_init(m, &golden_dir().join("resnet_init.safetensors")).unwrap();
        let mut opt = OptlabOptimizer::new(cfg).unwrap();
        let mut rng = StdRng::seed_from_u64(0);
        let theirs = case["losses"].as_array().unwrap();
        for (k, idx) in batches.as_array().unwrap().iter().enumerate() {
            let idx: Vec<usize> = idx.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            let xb: Vec<f32> = idx.iter().flat_map(|&i| x[i * len..(i + 1) * len].iter().copied()).collect();
            let yb: Vec<u32> = idx.iter().map(|&i| y[i]).collect();
            let xt = Tensor::<2>::from_data(TensorData::new(xb, [idx.len(), len]), &device);
            let loss = Loss::CrossEntropy.mean(model.forward(xt, Some(&mut rng)), &yb);
            let v = f64::from(loss.clone().into_scalar::<f32>());
            let want = theirs[k].as_f64().unwrap();
            assert!(rel(v, want) <= TOLERANCE, "{name} step {}: loss {v}, torch {want}", k + 1);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = opt.step(model, grads).unwrap();
        }
        let avg = opt.eval_module(&model).unwrap().expect("averaging gives evaluation weights");
        let (before, _) = evaluate(&avg, &set, &device);
        let want = case["loss_before_update_bn"].as_f64().unwrap();
        assert!(rel(before, want) <= TOLERANCE, "{name}: averaged loss before update_bn {before}, torch {want}");
        let avg = update_bn(avg, &set, 16, &device, &mut StdRng::seed_from_u64(1));
        let (after, _) = evaluate(&avg, &set, &device);
        let want = case["loss_after_update_bn"].as_f64().unwrap();
        assert!(rel(after, want) <= TOLERANCE, "{name}: averaged loss after update_bn {after}, torch {want}");
        assert!(rel(after, before) > 10.0 * TOLERANCE, "{name}: update_bn changed nothing the test could see");
        // The recomputed statistics, tensor by tensor (torch names: downsample.0/1).
        let stats = case["bn_after_update_bn"].as_object().unwrap();
        let infos = state_tensors(&avg);
        let mut checked = 0;
        for info in infos.iter().filter(|p| optlab_nn::adapter::is_buffer(&p.name)) {
            let torch_name = optlab_nn::models::torch_name(&info.name);
            let want: Vec<f64> = stats[&torch_name].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            let got = buffer(&avg, &info.name);
            assert_eq!(got.len(), want.len(), "{name}: {torch_name}");
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= TOLERANCE * b.abs().max(1e-2), "{name}: {torch_name}: {a} vs torch {b}");
            }
            checked += 1;
        }
        assert_eq!(checked, stats.len(), "{name}: every BatchNorm statistic is compared");
    }
    assert_eq!(methods, vec![AverageMethod::Swa, AverageMethod::Ema]);
}

/// The values of the float tensor `name` of `module`.
fn buffer<M: burn::module::Module>(module: &M, name: &str) -> Vec<f64> {
    let weights = optlab_nn::adapter::named_values(module);
    weights.into_iter().find(|(n, _)| n == name).map(|(_, v)| v.into_iter().map(f64::from).collect()).unwrap()
}
