//! Training runs end to end: toy classifiers, MNIST acceptance, budgets, early stopping,
//! divergence, checkpoint/resume, Hutchinson curvature in the loop.

use optlab_nn::{evaluate_weights, train, NetworkSettings, StopReason, TrainConfig, TrainReport};
use optlab_optim::OptimConfig;

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
        let cfg = TrainConfig::with(
            task,
            adam(0.05),
            NetworkSettings { epochs: 20, batch_size: 32, mse, ..NetworkSettings::default() },
        );
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
    let cfg = TrainConfig::with("mnist-mlp", adam(1e-3), NetworkSettings { epochs: 10, ..NetworkSettings::default() });
    let r = run(&cfg);
    let best = r.epochs.iter().map(|e| e.accuracy()).fold(0.0, f64::max);
    assert!(best >= 0.90, "best accuracy {best}");
    assert_eq!((r.train_samples, r.val_samples), (4000, 1000));
}

/// Acceptance: the MNIST CNN reaches >= 95 % on the shipped subset (a few epochs).
#[test]
fn mnist_cnn_reaches_95_percent() {
    let cfg = TrainConfig::with("mnist-cnn", adam(1e-3), NetworkSettings { epochs: 3, ..NetworkSettings::default() });
    let r = run(&cfg);
    let best = r.epochs.iter().map(|e| e.accuracy()).fold(0.0, f64::max);
    assert!(best >= 0.95, "best accuracy {best}");
}

/// A small MLP on 600 of the shipped digits.
fn small_net() -> NetworkSettings {
    NetworkSettings {
        widths: Some(vec![784, 32, 10]),
        train_limit: Some(600),
        batch_size: 50,
        ..NetworkSettings::default()
    }
}

fn small_mlp(opt: OptimConfig) -> TrainConfig {
    TrainConfig::with("mnist-mlp", opt, small_net())
}

#[test]
fn budgets_stop_training() {
    let r = run(&TrainConfig::with(
        "mnist-mlp",
        adam(1e-3),
        NetworkSettings { max_steps: Some(17), epochs: 5, ..small_net() },
    ));
    assert_eq!(r.stopped, StopReason::StepBudget);
    assert_eq!(r.steps, 17);
    assert_eq!(r.epochs.len(), 2); // 12 steps per epoch: the second epoch ends after 5
    let r = run(&TrainConfig::with(
        "mnist-mlp",
        adam(1e-3),
        NetworkSettings { time_budget_s: Some(1e-9), epochs: 5, ..small_net() },
    ));
    assert_eq!(r.stopped, StopReason::TimeBudget);
    assert_eq!(r.steps, 1);
}

#[test]
fn divergence_is_reported_not_an_error() {
    let r = run(&TrainConfig::with(
        "mnist-mlp",
        OptimConfig::new("sgd").set("lr", 1e8),
        NetworkSettings { epochs: 5, ..small_net() },
    ));
    match r.stopped {
        StopReason::Diverged { epoch, why } => {
            assert!(epoch >= 1 && epoch as usize == r.epochs.len());
            assert!(why.contains("step"), "{why}");
        }
        other => panic!("expected divergence, got {other:?}"),
    }
}

#[test]
fn early_stopping_keeps_the_best_weights() {
    // A tiny training set and a large learning rate overfit quickly: the validation loss rises.
    let cfg = TrainConfig::with(
        "mnist-mlp",
        adam(1e-2),
        NetworkSettings { epochs: 40, patience: Some(2), train_limit: Some(100), batch_size: 10, ..small_net() },
    );
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

/// Early stopping on validation accuracy: the best epoch is the first with the highest accuracy
/// (not the lowest loss), patience counts epochs without a higher accuracy, and the weights
/// returned are that epoch's.
#[test]
fn early_stopping_on_accuracy_keeps_the_most_accurate_weights() {
    let cfg = TrainConfig::with(
        "mnist-mlp",
        adam(1e-2),
        NetworkSettings {
            epochs: 40,
            patience: Some(2),
            train_limit: Some(100),
            batch_size: 10,
            early_stop_on: optlab_nn::EarlyStopOn::Acc,
            ..small_net()
        },
    );
    let r = run(&cfg);
    assert_eq!(r.stopped, StopReason::EarlyStopped);
    let best = r.best_epoch.unwrap();
    assert_eq!(r.epochs.len() as u32, best + 2);
    let max = r.epochs.iter().map(|e| e.correct).max().unwrap();
    let first_max = r.epochs.iter().position(|e| e.correct == max).unwrap() as u32 + 1;
    assert_eq!(best, first_max, "best epoch is the first with the highest accuracy");
    let best_report = &r.epochs[best as usize - 1];
    let (val_loss, correct) = evaluate_weights(&cfg, &r.weights).unwrap();
    assert_eq!(correct, best_report.correct);
    assert!((val_loss - best_report.val_loss).abs() < 1e-9, "{val_loss} vs {}", best_report.val_loss);
}

/// Train 2 epochs with checkpoints, resume for 2 more: identical, to the bit, to 4 epochs
/// straight (losses, accuracies and weights). Covers per-epoch schedules and dropout (CNN).
#[test]
fn checkpoint_resume_continues_identically() {
    let opt = OptimConfig::new("adamw").set("lr", 2e-3).schedule_assignment("lr=step(step_size=1, gamma=0.5)@epoch");
    let cfgs = [
        small_mlp(opt.unwrap()),
        TrainConfig::with(
            "mnist-cnn",
            adam(1e-3),
            NetworkSettings { train_limit: Some(128), batch_size: 32, ..NetworkSettings::default() },
        ),
    ];
    for base in cfgs {
        let dir = tempfile::tempdir().unwrap();
        let straight = run(&TrainConfig { net: NetworkSettings { epochs: 4, ..base.net.clone() }, ..base.clone() });
        let ck = TrainConfig { checkpoint: Some(dir.path().to_path_buf()), ..base.clone() };
        let first = run(&TrainConfig { net: NetworkSettings { epochs: 2, ..ck.net.clone() }, ..ck.clone() });
        assert_eq!(first.epochs.len(), 2);
        let resumed = run(&TrainConfig { net: NetworkSettings { epochs: 4, ..ck.net.clone() }, ..ck.clone() });
        assert_eq!(resumed.resumed_epochs, 2);
        assert_eq!(resumed.epochs.len(), 4);
        for (a, b) in straight.epochs.iter().zip(&resumed.epochs) {
            assert_eq!(a.train_loss.to_bits(), b.train_loss.to_bits(), "{} epoch {}", base.task, a.epoch);
            assert_eq!(a.val_loss.to_bits(), b.val_loss.to_bits(), "{} epoch {}", base.task, a.epoch);
            assert_eq!((a.correct, a.step), (b.correct, b.step));
        }
        assert_eq!(straight.weights, resumed.weights, "{}", base.task);
        // The step log too: the points logged before the checkpoint come from it.
        assert_eq!(format!("{:?}", straight.step_log), format!("{:?}", resumed.step_log), "{}", base.task);
        assert_eq!(resumed.step_log.len() as u64, straight.steps.div_ceil(straight.log_every));
        // A finished run resumed with the same epoch count does nothing more.
        let again = run(&TrainConfig { net: NetworkSettings { epochs: 4, ..ck.net.clone() }, ..ck.clone() });
        assert_eq!(again.steps, resumed.steps);
        // A checkpoint of another run is refused with a clear message.
        let other = TrainConfig { seed: 9, net: NetworkSettings { epochs: 5, ..ck.net }, ..ck };
        let msg = train(&other, &mut |_| {}).unwrap_err().to_string();
        assert!(msg.contains("seed") && msg.contains("checkpoint.bin"), "{msg}");
    }
}

/// The batch loss, the learning rate and the gradient norm of every `log_every`-th step: steps
/// 0, N, 2N, ...; by default N = max(1, ⌈T / 100⌉) for a run of T steps.
#[test]
fn steps_are_logged_every_log_every_steps() {
    // 12 batches of 50 per epoch, 2 epochs: 24 steps; every 5th: 0, 5, 10, 15, 20.
    let cfg =
        TrainConfig::with("mnist-mlp", adam(1e-3), NetworkSettings { epochs: 2, log_every: Some(5), ..small_net() });
    let r = run(&cfg);
    assert_eq!(r.log_every, 5);
    assert_eq!(
        r.step_log.iter().map(|p| (p.step, p.epoch)).collect::<Vec<_>>(),
        [(0, 1), (5, 1), (10, 1), (15, 2), (20, 2)]
    );
    assert!(r.step_log.iter().all(|p| p.lr == Some(1e-3) && p.grad_norm.is_some_and(|g| g.is_finite() && g > 0.0)));
    // Every step logged: the epoch's mean training loss is the mean of its batches' losses.
    let every = run(&TrainConfig { net: NetworkSettings { log_every: Some(1), ..cfg.net.clone() }, ..cfg.clone() });
    assert_eq!(every.step_log.len(), 24);
    for e in &every.epochs {
        let batch: Vec<f64> = every.step_log.iter().filter(|p| p.epoch == e.epoch).map(|p| p.loss).collect();
        let mean = batch.iter().sum::<f64>() / batch.len() as f64;
        assert!((mean - e.train_loss).abs() < 1e-9, "epoch {}: {mean} vs {}", e.epoch, e.train_loss);
    }
    // The logged points are the same batches whatever the interval.
    assert_eq!(r.step_log, every.step_log.iter().filter(|p| p.step % 5 == 0).cloned().collect::<Vec<_>>());
    // A scheduled learning rate is logged as scheduled (step decay by half every 10 steps).
    let sched = OptimConfig::new("sgd").set("lr", 0.1).schedule_assignment("lr=step(step_size=10, gamma=0.5)").unwrap();
    let r = run(&TrainConfig::with("mnist-mlp", sched, NetworkSettings { log_every: Some(10), ..cfg.net.clone() }));
    let lrs: Vec<f64> = r.step_log.iter().map(|p| p.lr.unwrap()).collect();
    assert_eq!(lrs, [0.1, 0.05, 0.025]);
    // The default: 3 epochs of 63 batches (the 4,000 training digits of the shipped subset in
    // batches of 64) = 189 steps, logged every ⌈189 / 100⌉ = 2nd: 95 points, 0 to 188.
    let r = run(&TrainConfig::with(
        "mnist-mlp",
        adam(1e-3),
        NetworkSettings { epochs: 3, widths: Some(vec![784, 16, 10]), ..NetworkSettings::default() },
    ));
    assert_eq!((r.steps, r.log_every, r.step_log.len()), (189, 2, 95));
    assert_eq!((r.step_log[0].step, r.step_log.last().unwrap().step), (0, 188));
    // 0 is refused, naming the setting.
    let msg =
        train(&TrainConfig { net: NetworkSettings { log_every: Some(0), ..cfg.net.clone() }, ..cfg }, &mut |_| {})
            .unwrap_err()
            .to_string();
    assert!(msg.contains("log_every") && msg.contains("at least 1"), "{msg}");
}

/// A resumed run whose logging interval differs from its checkpoint's says so, and logs with
/// the new one from the resumed step on.
#[test]
fn a_resumed_run_with_another_log_every_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let base = TrainConfig { checkpoint: Some(dir.path().to_path_buf()), ..small_mlp(adam(1e-3)) };
    let net = |epochs, log_every| NetworkSettings { epochs, log_every: Some(log_every), ..small_net() };
    run(&TrainConfig { net: net(1, 4), ..base.clone() });
    let r = run(&TrainConfig { net: net(2, 6), ..base });
    assert_eq!(r.resume_changes, ["log_every 4 -> 6"]);
    assert_eq!(r.step_log.iter().map(|p| p.step).collect::<Vec<_>>(), [0, 4, 8, 12, 18]);
}

/// A diverging run logs the batch that diverged as its last point.
#[test]
fn the_diverging_batch_is_logged() {
    let cfg = TrainConfig::with(
        "blobs-neuron",
        OptimConfig::new("sgd").set("lr", 1e5),
        NetworkSettings { epochs: 5, batch_size: 100, log_every: Some(1000), ..NetworkSettings::default() },
    );
    let r = run(&cfg);
    assert!(matches!(r.stopped, StopReason::Diverged { .. }), "{:?}", r.stopped);
    let last = r.step_log.last().unwrap();
    assert_eq!((r.step_log[0].step, last.step), (0, r.steps));
    assert!(last.loss > 1e3 * r.step_log[0].loss, "{last:?}");
}

#[test]
fn corrupt_checkpoint_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig { checkpoint: Some(dir.path().to_path_buf()), ..small_mlp(adam(1e-3)) };
    for (bytes, says) in [
        (&b"OPTLAB"[..], "bad magic"),
        (&b"OPTLABNN\x05\0\0\0\0\0\0\0{bad"[..], "without a checksum"),
        (&b"OPTLABN2\0\0\0\0\0\0\0\0\x05\0\0\0\0\0\0\0{bad"[..], "checksum mismatch"),
    ] {
        std::fs::write(dir.path().join("checkpoint.bin"), bytes).unwrap();
        let msg = train(&cfg, &mut |_| {}).unwrap_err().to_string();
        assert!(msg.contains("checkpoint.bin") && msg.contains(says), "{msg}");
    }
}

/// Flipped bytes anywhere in a checkpoint (header, weights, optimizer state) are refused by the
/// checksum: the run errors naming the file and never loads it.
#[test]
fn flipped_byte_in_a_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.bin");
    let cfg = TrainConfig {
        checkpoint: Some(dir.path().to_path_buf()),
        ..TrainConfig::with("mnist-mlp", adam(1e-3), NetworkSettings { epochs: 1, ..small_net() })
    };
    run(&cfg);
    let good = std::fs::read(&path).unwrap();
    let resume = TrainConfig { net: NetworkSettings { epochs: 2, ..cfg.net.clone() }, ..cfg.clone() };
    for at in [30, good.len() / 2, good.len() - 3] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(&path, &bad).unwrap();
        let msg = train(&resume, &mut |_| {}).unwrap_err().to_string();
        assert!(msg.contains(&*path.to_string_lossy()) && msg.contains("checksum mismatch"), "byte {at}: {msg}");
    }
    std::fs::write(&path, &good).unwrap();
    assert_eq!(run(&resume).resumed_epochs, 1);
}

/// A resumed run with another `lr` applies it from the resumed step on and says so; the
/// checkpoints written afterwards carry the new value.
#[test]
fn resumed_run_applies_a_changed_hyperparameter() {
    let dir = tempfile::tempdir().unwrap();
    let base = TrainConfig { checkpoint: Some(dir.path().to_path_buf()), ..small_mlp(adam(1e-3)) };
    run(&TrainConfig { net: NetworkSettings { epochs: 1, ..base.net.clone() }, ..base.clone() });
    let kept = dir.path().join("kept.bin");
    std::fs::copy(dir.path().join("checkpoint.bin"), &kept).unwrap();
    let same = run(&TrainConfig { net: NetworkSettings { epochs: 2, ..base.net.clone() }, ..base.clone() });
    assert!(same.resume_changes.is_empty(), "{:?}", same.resume_changes);
    std::fs::copy(&kept, dir.path().join("checkpoint.bin")).unwrap();
    let changed = run(&TrainConfig {
        optimizer: adam(0.5),
        net: NetworkSettings { epochs: 2, ..base.net.clone() },
        ..base.clone()
    });
    assert_eq!(changed.resumed_epochs, 1);
    assert_eq!(changed.resume_changes, ["`lr` 0.001 -> 0.5"]);
    // Epoch 1 is the checkpoint's; epoch 2 trained with lr 0.5, not the saved 0.001.
    assert_eq!(changed.epochs[0], same.epochs[0]);
    assert_ne!(changed.epochs[1].train_loss, same.epochs[1].train_loss);
    assert_ne!(changed.weights, same.weights);
    // The checkpoint now records lr 0.5: resuming with it again reports no change.
    let again = run(&TrainConfig { optimizer: adam(0.5), net: NetworkSettings { epochs: 3, ..base.net }, ..base });
    assert!(again.resume_changes.is_empty(), "{:?}", again.resume_changes);
    assert_eq!(again.resumed_epochs, 2);
}

/// Settings that change the data, the split, the loss or the schedules are refused on resume,
/// naming the setting and both values.
#[test]
fn resume_refuses_a_changed_loss_split_subset_or_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = TrainConfig {
        checkpoint: Some(dir.path().to_path_buf()),
        ..TrainConfig::with(
            "blobs-neuron",
            adam(0.05),
            NetworkSettings { epochs: 1, batch_size: 100, ..NetworkSettings::default() },
        )
    };
    run(&blobs);
    let err = |c: TrainConfig| {
        train(&TrainConfig { net: NetworkSettings { epochs: 2, ..c.net }, ..c }, &mut |_| {}).unwrap_err().to_string()
    };
    let msg = err(TrainConfig { net: NetworkSettings { mse: true, ..blobs.net.clone() }, ..blobs.clone() });
    assert!(msg.contains("loss") && msg.contains("binary cross-entropy") && msg.contains("squared error"), "{msg}");
    let msg = err(TrainConfig { net: NetworkSettings { val_fraction: 0.3, ..blobs.net.clone() }, ..blobs.clone() });
    assert!(msg.contains("val_fraction") && msg.contains("`0.2`") && msg.contains("`0.3`"), "{msg}");
    let sched = adam(0.05).schedule_assignment("lr=step(step_size=1)@epoch").unwrap();
    let msg = err(TrainConfig { optimizer: sched, ..blobs.clone() });
    assert!(msg.contains("schedules") && msg.contains("lr=step(") && msg.contains("`none`"), "{msg}");
    let dir2 = tempfile::tempdir().unwrap();
    let mlp = TrainConfig {
        checkpoint: Some(dir2.path().to_path_buf()),
        ..TrainConfig::with("mnist-mlp", adam(1e-3), NetworkSettings { epochs: 1, ..small_net() })
    };
    run(&mlp);
    let msg = err(TrainConfig { net: NetworkSettings { train_limit: Some(500), ..mlp.net }, ..mlp });
    assert!(msg.contains("train_limit") && msg.contains("`600`") && msg.contains("`500`"), "{msg}");
}

/// `val_fraction = 0`: every sample trains, no epoch is validated, nothing is reported as a
/// validation figure.
#[test]
fn val_fraction_zero_trains_on_every_sample_without_validation() {
    let cfg = TrainConfig::with(
        "blobs-two-layer",
        adam(0.05),
        NetworkSettings { epochs: 3, batch_size: 50, val_fraction: 0.0, ..NetworkSettings::default() },
    );
    let r = run(&cfg);
    assert_eq!((r.train_samples, r.val_samples), (1000, 0));
    assert_eq!(r.steps, 3 * 20);
    assert_eq!(r.stopped, StopReason::Completed);
    assert_eq!(r.best_epoch, None);
    for e in &r.epochs {
        assert!(!e.validated() && e.val_loss.is_nan() && e.total == 0, "{e:?}");
        assert!(e.to_string().ends_with("(no validation)"), "{e}");
        assert!(e.train_loss.is_finite());
    }
    assert!(r.epochs[2].train_loss < r.epochs[0].train_loss);
    let msg = evaluate_weights(&cfg, &r.weights).unwrap_err().to_string();
    assert!(msg.contains("val_fraction"), "{msg}");
    // The shipped MNIST subset: all 5,000 digits train.
    let r = run(&TrainConfig::with(
        "mnist-mlp",
        adam(1e-3),
        NetworkSettings { epochs: 1, max_steps: Some(1), val_fraction: 0.0, ..small_net() },
    ));
    assert_eq!((r.train_samples, r.val_samples), (600, 0));
}

/// A loss that blows up while staying finite is divergence too (above 1e3 x the first loss).
#[test]
fn a_loss_blowing_up_is_divergence() {
    let cfg = TrainConfig::with(
        "blobs-neuron",
        OptimConfig::new("sgd").set("lr", 1e5),
        NetworkSettings { epochs: 5, batch_size: 100, ..NetworkSettings::default() },
    );
    let r = run(&cfg);
    let StopReason::Diverged { epoch, why } = &r.stopped else { panic!("expected divergence, got {:?}", r.stopped) };
    assert_eq!(*epoch as usize, r.epochs.len());
    assert!(why.contains("first loss"), "{why}");
    let last = r.epochs.last().unwrap();
    assert!(last.train_loss.is_finite() && last.train_loss > 1e3 * 0.5, "{last:?}");
}

/// `divergence_factor` moves the threshold: the run above goes on past the step where the
/// default factor of 1000 stopped it, and a factor of at most 1 is refused, naming the setting.
#[test]
fn the_divergence_factor_is_a_setting() {
    let net = NetworkSettings { epochs: 5, batch_size: 100, ..NetworkSettings::default() };
    let cfg = |f: Option<f64>| {
        TrainConfig::with(
            "blobs-neuron",
            OptimConfig::new("sgd").set("lr", 1e5),
            NetworkSettings { divergence_factor: f, ..net.clone() },
        )
    };
    let default = run(&cfg(None));
    let lenient = run(&cfg(Some(1e30)));
    assert!(matches!(default.stopped, StopReason::Diverged { .. }));
    assert!(lenient.steps > default.steps, "{} vs {} steps: {:?}", lenient.steps, default.steps, lenient.stopped);
    if let StopReason::Diverged { why, .. } = &lenient.stopped {
        assert!(!why.contains("first loss"), "{why}");
    }
    for bad in [1.0, 0.5, f64::NAN] {
        let msg = train(&cfg(Some(bad)), &mut |_| {}).unwrap_err().to_string();
        assert!(msg.contains("divergence_factor") && msg.contains("above 1"), "{msg}");
    }
}

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

/// An MNIST folder with `train` and `test` images (pixel values varying so the std is not 0).
fn mnist_dir(train: u32, test: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let pixels: Vec<u8> = (0..n as usize * 784).map(|i| (i * 7 % 256) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let p = dir.path();
        std::fs::write(p.join(format!("{prefix}-images-idx3-ubyte")), idx(0x803, &[n, 28, 28], &pixels)).unwrap();
        std::fs::write(p.join(format!("{prefix}-labels-idx1-ubyte")), idx(0x801, &[n], &labels)).unwrap();
    }
    dir
}

#[test]
fn empty_mnist_sets_are_refused_naming_the_folder() {
    let mlp = |dir: &tempfile::TempDir| {
        TrainConfig::with(
            "mnist-mlp",
            adam(1e-3),
            NetworkSettings {
                data: Some(dir.path().to_path_buf()),
                widths: Some(vec![784, 8, 10]),
                epochs: 1,
                ..NetworkSettings::default()
            },
        )
    };
    let ok = mnist_dir(20, 10);
    let r = run(&mlp(&ok));
    assert_eq!((r.train_samples, r.val_samples), (20, 10));
    let no_test = mnist_dir(20, 0);
    let msg = train(&mlp(&no_test), &mut |_| {}).unwrap_err().to_string();
    let d = no_test.path().to_string_lossy().to_string();
    assert!(msg.contains(&d) && msg.contains("MNIST test set") && msg.contains("holds no samples"), "{msg}");
    assert!(msg.contains("--val-fraction 0"), "{msg}");
    // Without validation the empty test set is not needed.
    let r =
        run(&TrainConfig { net: NetworkSettings { val_fraction: 0.0, ..mlp(&no_test).net.clone() }, ..mlp(&no_test) });
    assert_eq!((r.train_samples, r.val_samples), (20, 0));
    let no_train = mnist_dir(0, 10);
    let msg = train(&mlp(&no_train), &mut |_| {}).unwrap_err().to_string();
    assert!(msg.contains("MNIST training set") && msg.contains("holds no samples"), "{msg}");
    assert!(!msg.contains("std"), "{msg}");
}

fn cifar_batch(n: usize, seed: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|k| {
            std::iter::once((k % 10) as u8).chain((0..3072).map(move |i| ((i * 31 + k * 7 + seed) % 256) as u8))
        })
        .collect()
}

/// `--data FILE` for CIFAR validates on `test_batch.bin` beside the file, never on the file.
#[test]
fn cifar_single_file_validates_on_the_test_batch_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data_batch_1.bin");
    std::fs::write(&file, cifar_batch(6, 0)).unwrap();
    let cfg = TrainConfig::with(
        "cifar-cnn",
        adam(1e-3),
        NetworkSettings { data: Some(file.clone()), epochs: 1, batch_size: 6, ..NetworkSettings::default() },
    );
    let msg = train(&cfg, &mut |_| {}).unwrap_err().to_string();
    assert!(msg.contains("test_batch.bin") && msg.contains("data_batch_1.bin"), "{msg}");
    std::fs::write(dir.path().join("test_batch.bin"), cifar_batch(4, 1)).unwrap();
    let r = run(&cfg);
    assert_eq!((r.train_samples, r.val_samples), (6, 4));
    let on_test =
        TrainConfig { net: NetworkSettings { data: Some(dir.path().join("test_batch.bin")), ..cfg.net }, ..cfg };
    let msg = train(&on_test, &mut |_| {}).unwrap_err().to_string();
    assert!(msg.contains("test batch") && msg.contains("validate on the records it trains on"), "{msg}");
}

#[test]
fn adam_curvature_trains_with_hutchinson_and_is_reproducible() {
    let cfg = TrainConfig::with(
        "blobs-two-layer",
        OptimConfig::new("adam_curvature").set("lr", 0.05),
        NetworkSettings { epochs: 10, batch_size: 32, ..NetworkSettings::default() },
    );
    let a = run(&cfg);
    assert!(a.epochs.last().unwrap().accuracy() > 0.88, "{}", a.epochs.last().unwrap());
    let b = run(&cfg);
    assert_eq!(a.weights, b.weights);
    let c = run(&TrainConfig { net: NetworkSettings { hutchinson_samples: 2, ..cfg.net }, ..cfg });
    assert_ne!(a.weights, c.weights);
}

/// `grad_histograms` with Adam-2k (`freeze_steps = 6`) on a small MLP: every logged step has one
/// histogram of |g| and one of |update|, each counting every parameter once; the updates of the
/// frozen steps are all exactly zero (bin 0), the later ones are not; without the setting there
/// are none.
#[test]
fn grad_histograms_count_every_parameter_and_show_the_frozen_steps() {
    let net = NetworkSettings { epochs: 1, log_every: Some(2), grad_histograms: true, ..small_net() };
    let r = run(&TrainConfig::with("mnist-mlp", adam(1e-2).set("freeze_steps", 6), net.clone()));
    let n = r.param_count as u64;
    let steps: Vec<u64> = r.histograms.iter().map(|h| h.step).collect();
    assert_eq!(steps, r.step_log.iter().map(|s| s.step).collect::<Vec<_>>());
    assert_eq!(steps, (0..12).step_by(2).collect::<Vec<u64>>());
    for h in &r.histograms {
        assert_eq!((h.grad.len(), h.update.len()), (optlab_nn::histogram::BINS, optlab_nn::histogram::BINS));
        assert_eq!(h.grad.iter().sum::<u64>(), n, "step {}", h.step);
        assert_eq!(h.update.iter().sum::<u64>(), n, "step {}", h.step);
        assert!(h.grad[0] < n, "step {}: some gradient is non-zero", h.step);
        // Steps 0..=5 (0-based) are the six frozen ones.
        if h.step < 6 {
            assert_eq!(h.update[0], n, "step {}: a frozen step moved a weight", h.step);
        } else {
            assert!(h.update[0] < n / 2, "step {}: the step after the freeze moved little", h.step);
        }
    }
    let r = run(&TrainConfig::with("mnist-mlp", adam(1e-2), NetworkSettings { grad_histograms: false, ..net }));
    assert!(r.histograms.is_empty());
}

/// Muon on the MLP's weight matrices with an AdamW group for the biases (`use_muon=false`, the
/// grouping docs/optimizers.md recommends) trains: the loss falls and the small net learns.
#[test]
fn muon_with_an_adamw_group_trains_the_mnist_mlp() {
    let opt = OptimConfig::new("muon").set("lr", 0.02).group(optlab_optim::GroupConfig {
        tensors: vec!["*.bias".into()],
        set: [("use_muon".into(), "false".into()), ("lr".into(), "0.001".into()), ("weight_decay".into(), "0".into())]
            .into(),
        schedules: vec![],
    });
    let r = run(&TrainConfig::with("mnist-mlp", opt, NetworkSettings { epochs: 3, ..small_net() }));
    let (first, last) = (&r.epochs[0], r.epochs.last().unwrap());
    assert!(last.train_loss < first.train_loss, "loss did not fall: {first} -> {last}");
    assert!(last.accuracy() > 0.7, "{last}");
    // Without the group the biases are refused, naming one of them and the remedy.
    let e = train(&TrainConfig::with("mnist-mlp", OptimConfig::new("muon"), small_net()), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("bias") && e.contains("use_muon=false"), "{e}");
}

/// burn's `Optimizer` trait steps each tensor alone with one configuration (no groups), so muon,
/// which needs an AdamW group for the biases, is refused there up front (not a panic at a step).
#[test]
fn muon_is_refused_by_the_burn_optimizer_trait_adapter() {
    let e = optlab_nn::burn_optim::OptlabBurnOptimizer::new(OptimConfig::new("muon")).err().unwrap().to_string();
    assert!(e.contains("muon") && e.contains("OptlabOptimizer"), "{e}");
}

fn swa_per_epoch(opt: OptimConfig, swa_lr: Option<f64>) -> OptimConfig {
    use optlab_optim::average::{AverageConfig, AverageUnit};
    opt.average(AverageConfig {
        unit: AverageUnit::Epoch,
        swa_lr,
        anneal_epochs: swa_lr.map(|_| 2),
        ..AverageConfig::swa()
    })
}

/// SWA per epoch from the first epoch: the reported weights are torch's running mean of the
/// weights at the end of epochs 1, 2, 3 (runs without averaging of 1, 2 and 3 epochs give them),
/// and the validation of every epoch is that of the average so far.
#[test]
fn epoch_swa_reports_the_running_mean_of_the_epochs_weights() {
    let plain = |epochs| run(&TrainConfig { net: NetworkSettings { epochs, ..small_net() }, ..small_mlp(adam(2e-3)) });
    let ends: Vec<TrainReport> = (1..=3).map(plain).collect();
    let cfg =
        TrainConfig { net: NetworkSettings { epochs: 3, ..small_net() }, ..small_mlp(swa_per_epoch(adam(2e-3), None)) };
    let r = run(&cfg);
    // Averaging without SWALR does not change the training.
    assert_eq!(r.epochs[2].train_loss.to_bits(), ends[2].epochs[2].train_loss.to_bits());
    for (i, (name, got)) in r.weights.iter().enumerate() {
        let w: Vec<&Vec<f32>> = ends.iter().map(|e| &e.weights[i].1).collect();
        let want: Vec<f32> = (0..got.len())
            .map(|k| {
                let a1 = w[0][k];
                let a2 = a1 + (w[1][k] - a1) / 2.0;
                a2 + (w[2][k] - a2) / 3.0
            })
            .collect();
        assert_eq!(got, &want, "{name}");
        assert_ne!(got, &ends[2].weights[i].1, "{name}: the average differs from the last weights");
    }
    // Epoch 1's validation is at the first epoch's weights (the first update copies them).
    assert_eq!(r.epochs[0].val_loss.to_bits(), ends[0].epochs[0].val_loss.to_bits());
    assert_ne!(r.epochs[2].val_loss.to_bits(), ends[2].epochs[2].val_loss.to_bits());
    let last = r.epochs.last().unwrap();
    assert_eq!(evaluate_weights(&cfg, &r.weights).unwrap(), (last.val_loss, last.correct));
}

/// A checkpointed SWA run (per epoch, SWALR annealing over 2 epochs) resumed after epoch 2 ends
/// exactly as the straight run; a checkpoint without averaging is refused, naming it.
#[test]
fn averaging_runs_resume_identically() {
    let base = small_mlp(swa_per_epoch(OptimConfig::new("sgd").set("lr", 0.05).set("momentum", 0.9), Some(0.01)));
    let dir = tempfile::tempdir().unwrap();
    let straight = run(&TrainConfig { net: NetworkSettings { epochs: 4, ..base.net.clone() }, ..base.clone() });
    let ck = TrainConfig { checkpoint: Some(dir.path().to_path_buf()), ..base.clone() };
    run(&TrainConfig { net: NetworkSettings { epochs: 2, ..ck.net.clone() }, ..ck.clone() });
    let resumed = run(&TrainConfig { net: NetworkSettings { epochs: 4, ..ck.net.clone() }, ..ck.clone() });
    assert_eq!(resumed.resumed_epochs, 2);
    for (a, b) in straight.epochs.iter().zip(&resumed.epochs) {
        assert_eq!(a.train_loss.to_bits(), b.train_loss.to_bits(), "epoch {}", a.epoch);
        assert_eq!(a.val_loss.to_bits(), b.val_loss.to_bits(), "epoch {}", a.epoch);
    }
    assert_eq!(straight.weights, resumed.weights);
    // SWALR moved the learning rate to swa_lr: the logged lr of the last step.
    let lr = straight.step_log.last().unwrap().lr.unwrap();
    assert!((lr - 0.01).abs() < 1e-12, "lr {lr}");
    let plain = TrainConfig {
        optimizer: OptimConfig::new("sgd").set("lr", 0.05).set("momentum", 0.9),
        net: NetworkSettings { epochs: 5, ..ck.net.clone() },
        ..ck
    };
    let msg = train(&plain, &mut |_| {}).unwrap_err().to_string();
    assert!(msg.contains("weight averaging"), "{msg}");
}

/// `train_until`: the callback's `false` stops training after that epoch, with the epochs so
/// far and the same figures as a full run up to there; `true` throughout is `train`.
#[test]
fn train_until_stops_where_the_callback_says() {
    let cfg = TrainConfig::with(
        "blobs-two-layer",
        adam(0.05),
        NetworkSettings { epochs: 5, batch_size: 32, ..NetworkSettings::default() },
    );
    let full = train(&cfg, &mut |_| {}).unwrap();
    let mut seen = Vec::new();
    let cut = optlab_nn::train_until(&cfg, &mut |e| {
        seen.push(e.epoch);
        e.epoch < 2
    })
    .unwrap();
    assert_eq!(seen, [1, 2]);
    assert_eq!(cut.stopped, StopReason::Stopped { epoch: 2 });
    assert_eq!(cut.epochs.len(), 2);
    assert_eq!(cut.epochs[1].val_loss, full.epochs[1].val_loss);
    assert_eq!(cut.steps, 2 * 25);
    // Returning false at the last epoch changes nothing: the run completed.
    let last = optlab_nn::train_until(&cfg, &mut |e| e.epoch < 5).unwrap();
    assert_eq!(last.stopped, StopReason::Completed);
    assert_eq!(
        last.epochs.iter().map(|e| e.val_loss).collect::<Vec<_>>(),
        full.epochs.iter().map(|e| e.val_loss).collect::<Vec<_>>()
    );
}
