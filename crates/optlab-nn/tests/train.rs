//! Training runs end to end: toy classifiers, MNIST acceptance, budgets, early stopping,
//! divergence, checkpoint/resume, Hutchinson curvature in the loop.

use optlab_nn::{evaluate_weights, train, StopReason, TrainConfig, TrainReport};
use optlab_optim::OptimConfig;
use std::time::Duration;

fn run(cfg: &TrainConfig) -> TrainReport {
    let mut lines = Vec::new();
    let r = train(cfg, &mut |e| lines.push(e.to_string())).unwrap();
    assert_eq!(lines.len(), r.epochs.len() - r.resumed_epochs as usize);
    for l in &lines {
        eprintln!("{} {}: {l}", cfg.task, cfg.optimizer.name);
    }
    r
}

fn adam(lr: f64) -> OptimConfig {
    OptimConfig::new("adam").set("lr", lr)
}

#[test]
fn blobs_classifiers_learn() {
    for (task, mse) in [("blobs-neuron", false), ("blobs-neuron", true), ("blobs-two-layer", false)] {
        let cfg = TrainConfig { epochs: 20, batch_size: 32, mse, ..TrainConfig::new(task, adam(0.05)) };
        let r = run(&cfg);
        let last = r.epochs.last().unwrap();
        assert_eq!(last.total, 200);
        // Centres 3 apart, unit variance: the Bayes accuracy is Φ(1.5) ≈ 93.3 %.
        assert!(last.accuracy() > 0.88, "{task} mse={mse}: {last}");
        assert!(last.train_loss < r.epochs[0].train_loss, "{task}: loss did not fall");
        assert_eq!(r.stopped, StopReason::Completed);
        assert_eq!(r.steps, 20 * 25);
    }
}

/// Acceptance: the MLP 784-256-128-10 with Adam (lr 1e-3) on the shipped 5,000-digit subset
/// (4,000 train / 1,000 validation) reaches >= 90 % validation accuracy within 10 epochs.
#[test]
fn mnist_mlp_reaches_90_percent() {
    let cfg = TrainConfig { epochs: 10, ..TrainConfig::new("mnist-mlp", adam(1e-3)) };
    let r = run(&cfg);
    let best = r.epochs.iter().map(|e| e.accuracy()).fold(0.0, f64::max);
    assert!(best >= 0.90, "best accuracy {best}");
    assert_eq!((r.train_samples, r.val_samples), (4000, 1000));
}

/// Acceptance: the MNIST CNN reaches >= 95 % on the shipped subset (a few epochs).
#[test]
fn mnist_cnn_reaches_95_percent() {
    let cfg = TrainConfig { epochs: 3, ..TrainConfig::new("mnist-cnn", adam(1e-3)) };
    let r = run(&cfg);
    let best = r.epochs.iter().map(|e| e.accuracy()).fold(0.0, f64::max);
    assert!(best >= 0.95, "best accuracy {best}");
}

fn small_mlp(opt: OptimConfig) -> TrainConfig {
    TrainConfig {
        widths: Some(vec![784, 32, 10]),
        train_limit: Some(600),
        batch_size: 50,
        ..TrainConfig::new("mnist-mlp", opt)
    }
}

#[test]
fn budgets_stop_training() {
    let r = run(&TrainConfig { max_steps: Some(17), epochs: 5, ..small_mlp(adam(1e-3)) });
    assert_eq!(r.stopped, StopReason::StepBudget);
    assert_eq!(r.steps, 17);
    assert_eq!(r.epochs.len(), 2); // 12 steps per epoch: the second epoch ends after 5
    let r = run(&TrainConfig { time_budget: Some(Duration::from_nanos(1)), epochs: 5, ..small_mlp(adam(1e-3)) });
    assert_eq!(r.stopped, StopReason::TimeBudget);
    assert_eq!(r.steps, 1);
}

#[test]
fn divergence_is_reported_not_an_error() {
    let r = run(&TrainConfig { epochs: 5, ..small_mlp(OptimConfig::new("sgd").set("lr", 1e8)) });
    match r.stopped {
        StopReason::Diverged { epoch } => assert!(epoch >= 1 && epoch as usize == r.epochs.len()),
        other => panic!("expected divergence, got {other:?}"),
    }
}

#[test]
fn early_stopping_keeps_the_best_weights() {
    // A tiny training set and a large learning rate overfit quickly: the validation loss rises.
    let cfg =
        TrainConfig { epochs: 40, patience: Some(2), train_limit: Some(100), batch_size: 10, ..small_mlp(adam(1e-2)) };
    let r = run(&cfg);
    assert_eq!(r.stopped, StopReason::EarlyStopped);
    let best = r.best_epoch.unwrap();
    assert_eq!(r.epochs.len() as u32, best + 2);
    let best_report = &r.epochs[best as usize - 1];
    let min = r.epochs.iter().map(|e| e.val_loss).fold(f64::INFINITY, f64::min);
    assert_eq!(best_report.val_loss, min);
    let (val_loss, correct) = evaluate_weights(&cfg, &r.weights).unwrap();
    assert!((val_loss - best_report.val_loss).abs() < 1e-9, "{val_loss} vs {}", best_report.val_loss);
    assert_eq!(correct, best_report.correct);
}

/// Train 2 epochs with checkpoints, resume for 2 more: identical, to the bit, to 4 epochs
/// straight (losses, accuracies and weights). Covers per-epoch schedules and dropout (CNN).
#[test]
fn checkpoint_resume_continues_identically() {
    let opt = OptimConfig::new("adamw").set("lr", 2e-3).schedule_assignment("lr=step(step_size=1, gamma=0.5)@epoch");
    let cfgs = [
        small_mlp(opt.unwrap()),
        TrainConfig { train_limit: Some(128), batch_size: 32, ..TrainConfig::new("mnist-cnn", adam(1e-3)) },
    ];
    for base in cfgs {
        let dir = tempfile::tempdir().unwrap();
        let straight = run(&TrainConfig { epochs: 4, ..base.clone() });
        let ck = TrainConfig { checkpoint: Some(dir.path().to_path_buf()), ..base.clone() };
        let first = run(&TrainConfig { epochs: 2, ..ck.clone() });
        assert_eq!(first.epochs.len(), 2);
        let resumed = run(&TrainConfig { epochs: 4, ..ck.clone() });
        assert_eq!(resumed.resumed_epochs, 2);
        assert_eq!(resumed.epochs.len(), 4);
        for (a, b) in straight.epochs.iter().zip(&resumed.epochs) {
            assert_eq!(a.train_loss.to_bits(), b.train_loss.to_bits(), "{} epoch {}", base.task, a.epoch);
            assert_eq!(a.val_loss.to_bits(), b.val_loss.to_bits(), "{} epoch {}", base.task, a.epoch);
            assert_eq!((a.correct, a.step), (b.correct, b.step));
        }
        assert_eq!(straight.weights, resumed.weights, "{}", base.task);
        // A finished run resumed with the same epoch count does nothing more.
        let again = run(&TrainConfig { epochs: 4, ..ck.clone() });
        assert_eq!(again.steps, resumed.steps);
        // A checkpoint of another run is refused with a clear message.
        let other = TrainConfig { seed: 9, epochs: 5, ..ck };
        let msg = train(&other, &mut |_| {}).unwrap_err().to_string();
        assert!(msg.contains("seed") && msg.contains("checkpoint.bin"), "{msg}");
    }
}

#[test]
fn corrupt_checkpoint_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checkpoint.bin"), b"OPTLABNN\x05\0\0\0\0\0\0\0{bad").unwrap();
    let cfg = TrainConfig { checkpoint: Some(dir.path().to_path_buf()), ..small_mlp(adam(1e-3)) };
    let msg = train(&cfg, &mut |_| {}).unwrap_err().to_string();
    assert!(msg.contains("checkpoint.bin") && msg.contains("header"), "{msg}");
}

#[test]
fn adam_curvature_trains_with_hutchinson_and_is_reproducible() {
    let cfg = TrainConfig {
        epochs: 10,
        batch_size: 32,
        ..TrainConfig::new("blobs-two-layer", OptimConfig::new("adam_curvature").set("lr", 0.05))
    };
    let a = run(&cfg);
    assert!(a.epochs.last().unwrap().accuracy() > 0.88, "{}", a.epochs.last().unwrap());
    let b = run(&cfg);
    assert_eq!(a.weights, b.weights);
    let c = run(&TrainConfig { hutchinson: optlab_nn::HutchinsonConfig { samples: 2, h: 1e-3 }, ..cfg });
    assert_ne!(a.weights, c.weights);
}
