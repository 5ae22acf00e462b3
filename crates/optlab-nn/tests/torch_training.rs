//! optlab-nn's training against torch, step by step: the goldens of tools/golden/torch_train.py
//! (the MLP and the MNIST CNN on the shipped digits, a ResNet-18 of stage widths 4-8-8-8 on 3×8×8
//! images; each with SGD+momentum, Adam and RMSprop) trained here from the same initial weights
//! (torch's safetensors files through `--init`'s loader) on the same batches: the 50 per-step
//! losses agree within 1e-4 relative. No Python needed.

use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use optlab_nn::init::load_torch_init;
use optlab_nn::models::{Loss, Mlp, MnistCnn, Net, ResNet18};
use optlab_nn::OptlabOptimizer;
use optlab_optim::OptimConfig;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;
use std::path::{Path, PathBuf};

const TOLERANCE: f64 = 1e-4;
/// Side of the ResNet's synthetic images.
const SIDE: usize = 8;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("golden")
}

fn golden() -> Value {
    let text = std::fs::read_to_string(golden_dir().join("torch_training.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The shipped digits normalised as `--val-fraction 0` does (all 5,000 digits' statistics).
fn mnist() -> (Vec<f32>, Vec<u32>, usize) {
    let mut d = optlab_data::shipped_mnist().unwrap();
    let (mean, std) = d.channel_stats();
    d.normalise(&mean, &std).unwrap();
    let s = d.sample_len();
    (d.images, d.labels, s)
}

fn synthetic(n: usize, len: usize) -> (Vec<f32>, Vec<u32>, usize) {
    let x = (0..n)
        .flat_map(|k| (0..len).map(move |j| (0.37 * (k + 1) as f64 * j as f64 + k as f64).sin() as f32))
        .collect();
    (x, (0..n as u32).map(|k| k % 10).collect(), len)
}

/// The CNN's initial weights by the golden's formula, written as a torch safetensors file.
fn formula_file(spec: &Value, path: &Path) {
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (t, e) in spec.as_array().unwrap().iter().enumerate() {
        let name = e[0].as_str().unwrap().to_string();
        let shape: Vec<usize> = e[1].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let scale = e[2].as_f64().unwrap();
        let n: usize = shape.iter().product();
        let bytes = (0..n)
            .flat_map(|i| ((scale * (12.9898 * i as f64 + 78.233 * t as f64).sin()) as f32).to_le_bytes())
            .collect();
        data.push((name, shape, bytes));
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = data
        .iter()
        .map(|(n, s, b)| {
            (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap())
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// Trains `model` on the golden's batches with `opt`; the per-step losses (before each step).
fn losses<M: Net>(mut model: M, opt: OptimConfig, data: &(Vec<f32>, Vec<u32>, usize), batches: &Value) -> Vec<f64> {
    let device = Device::flex().autodiff();
    let (x, y, s) = data;
    let mut opt = OptlabOptimizer::new(opt).unwrap();
    let mut rng = StdRng::seed_from_u64(0); // training mode; the nets here have no dropout left
    let mut out = Vec::new();
    for idx in batches.as_array().unwrap() {
        let idx: Vec<usize> = idx.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let xb: Vec<f32> = idx.iter().flat_map(|&i| x[i * s..(i + 1) * s].iter().copied()).collect();
        let yb: Vec<u32> = idx.iter().map(|&i| y[i]).collect();
        let xt = Tensor::<2>::from_data(TensorData::new(xb, [idx.len(), *s]), &device);
        let loss = Loss::CrossEntropy.mean(model.forward(xt, Some(&mut rng)), &yb);
        let v: f32 = loss.clone().into_scalar();
        out.push(f64::from(v));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(model, grads).unwrap();
    }
    out
}

fn check<M: Net>(net: &str, make: impl Fn() -> M, data: &(Vec<f32>, Vec<u32>, usize)) {
    let g = golden();
    let case = &g["nets"][net];
    for run in case["runs"].as_array().unwrap() {
        let mut cfg = OptimConfig::new(run["optimizer"].as_str().unwrap());
        for (k, v) in run["set"].as_object().unwrap() {
            cfg = cfg.set(k, v.as_f64().unwrap());
        }
        let ours = losses(make(), cfg, data, &case["batches"]);
        let theirs: Vec<f64> = run["losses"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(ours.len(), theirs.len());
        let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs() / b.abs()).fold(0.0, f64::max);
        eprintln!("{net} {}: worst relative loss difference over {} steps {worst:.2e}", run["optimizer"], ours.len());
        if std::env::var("OPTLAB_GOLDEN_STEPS").is_ok() {
            let d: Vec<String> =
                ours.iter().zip(&theirs).map(|(a, b)| format!("{:.1e}", (a - b).abs() / b.abs())).collect();
            eprintln!("  per step: {}", d.join(" "));
        }
        for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!(
                (a - b).abs() <= TOLERANCE * b.abs(),
                "{net} {}: step {}: optlab {a}, torch {b}",
                run["optimizer"],
                k + 1
            );
        }
    }
}

fn device() -> Device {
    Device::flex().autodiff()
}

#[test]
fn mlp_trains_as_in_torch() {
    let d = device();
    let file = golden_dir().join("mlp_init.safetensors");
    let make = || {
        let m = Mlp::new(&[784, 16, 10], &mut StdRng::seed_from_u64(9), &d);
        load_torch_init(m, &file).unwrap()
    };
    check("mlp", make, &mnist());
}

#[test]
fn mnist_cnn_trains_as_in_torch() {
    let d = device();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cnn_init.safetensors");
    formula_file(&golden()["nets"]["cnn"]["init_formula"], &file);
    let make = || {
        let mut m = MnistCnn::new(&mut StdRng::seed_from_u64(9), &d);
        m.dropout = [0.0, 0.0];
        load_torch_init(m, &file).unwrap()
    };
    check("cnn", make, &mnist());
}

#[test]
fn small_input_resnet18_trains_as_in_torch() {
    let d = device();
    let file = golden_dir().join("resnet_init.safetensors");
    let make = || {
        let m = ResNet18::new(3, SIDE, 10, [4, 8, 8, 8], &mut StdRng::seed_from_u64(9), &d);
        let m = load_torch_init(m, &file).unwrap();
        // The running statistics came from the file too (torch's initial 0 and 1).
        assert_eq!(m.bn1.running_var.value().into_data().try_into_vec_as::<f32>().unwrap(), vec![1.0; 4]);
        m
    };
    assert_eq!(golden()["nets"]["resnet"]["side"], SIDE);
    check("resnet", make, &synthetic(64, 3 * SIDE * SIDE));
}
