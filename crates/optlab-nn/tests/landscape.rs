//! Loss landscapes of trained networks: the grid's centre is the loss at θ, the 1-D curve is the
//! grid's middle row, iterates are kept beside checkpoints (and survive a resume), the PCA
//! trajectory ends at the final weights, and bad inputs are refused by name.

use optlab_nn::landscape::{self, EvalChoice, EvalSet, LandscapeConfig};
use optlab_nn::{evaluate_weights, train, NetworkSettings, TrainConfig};
use optlab_optim::OptimConfig;

fn small_net() -> NetworkSettings {
    NetworkSettings {
        widths: Some(vec![784, 16, 10]),
        train_limit: Some(300),
        batch_size: 50,
        epochs: 2,
        ..NetworkSettings::default()
    }
}

fn cfg() -> TrainConfig {
    TrainConfig::with("mnist-mlp", OptimConfig::new("adam").set("lr", 1e-3), small_net())
}

#[test]
fn the_grid_centre_is_the_loss_at_theta_and_the_curve_is_its_middle_row() {
    let cfg = cfg();
    let r = train(&cfg, &mut |_| {}).unwrap();
    let lc = LandscapeConfig {
        grid: 5,
        points_1d: 5,
        range: 0.5,
        eval: EvalChoice { set: EvalSet::Val, samples: None },
        ..LandscapeConfig::default()
    };
    let l = landscape::landscape(&cfg, &r.weights, &[], &lc).unwrap();
    let (val_loss, _) = evaluate_weights(&cfg, &r.weights).unwrap();
    let mid = l.surface.at(2, 2);
    assert!((mid - val_loss).abs() <= 1e-6 * val_loss, "grid centre {mid} vs the validation loss {val_loss}");
    assert!((l.centre - val_loss).abs() <= 1e-6 * val_loss);
    assert_eq!(l.surface.a, vec![-0.5, -0.25, 0.0, 0.25, 0.5]);
    for (i, (a, v)) in l.curve.iter().enumerate() {
        assert_eq!(*a, l.surface.a[i]);
        let g = l.surface.at(i, 2);
        assert!((v - g).abs() <= 1e-6 * g, "a = {a}: curve {v} vs grid {g}");
    }
    // Away from θ the loss changes (the directions are not zero) and stays finite.
    assert!(l.surface.loss.iter().all(|v| v.is_finite()));
    assert!(l.surface.at(0, 0) != mid && l.surface.at(4, 4) != mid);
    assert_eq!(l.evaluations, 1 + 25 + 5);
    assert!(l.eval.starts_with("val, "), "{}", l.eval);
    // The training set, a seeded subset of it.
    let lc = LandscapeConfig { eval: EvalChoice { set: EvalSet::Train, samples: Some(40) }, ..lc };
    let t = landscape::landscape(&cfg, &r.weights, &[], &lc).unwrap();
    assert_eq!(t.eval, "train, 40 of 300 samples");
    assert_eq!(
        t,
        landscape::landscape(&cfg, &r.weights, &[], &lc)
            .map(|mut x| {
                x.seconds = t.seconds;
                x
            })
            .unwrap()
    );
}

#[test]
fn iterates_are_kept_beside_the_checkpoint_and_survive_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.net.epochs = 3;
    c.checkpoint = Some(dir.path().join("full"));
    c.keep_iterates = true;
    let full = train(&c, &mut |_| {}).unwrap();
    let t = landscape::load_trained(
        &dir.path().join("full"),
        NetworkSettings { widths: Some(vec![784, 16, 10]), ..NetworkSettings::default() },
    )
    .unwrap();
    assert_eq!(t.epochs_done, 3);
    assert_eq!(t.iterates.iter().map(|i| i.epoch).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert_eq!(t.iterates[3].weights, t.weights);
    assert_eq!(t.weights, full.weights, "adam has no evaluation weights: the checkpoint holds the reported ones");
    assert_ne!(t.iterates[0].weights, t.iterates[1].weights);
    assert_eq!((t.cfg.task.as_str(), t.cfg.seed, t.cfg.net.train_limit), ("mnist-mlp", 0, Some(300)));
    // Two epochs, then a resumed third: the same iterates.
    let mut c2 = c.clone();
    c2.checkpoint = Some(dir.path().join("resumed"));
    c2.net.epochs = 2;
    train(&c2, &mut |_| {}).unwrap();
    c2.net.epochs = 3;
    train(&c2, &mut |_| {}).unwrap();
    let t2 = landscape::load_trained(
        &dir.path().join("resumed"),
        NetworkSettings { widths: Some(vec![784, 16, 10]), ..NetworkSettings::default() },
    )
    .unwrap();
    assert_eq!(t2.iterates, t.iterates);
    // The trajectory on the PCA plane ends at the final weights (the origin).
    let lc = LandscapeConfig { grid: 3, points_1d: 3, trajectory: true, ..LandscapeConfig::default() };
    let l = landscape::landscape(&t.cfg, &t.weights, &t.iterates, &lc).unwrap();
    let tr = l.trajectory.unwrap();
    assert_eq!(tr.points.len(), 4);
    let last = tr.points[3];
    assert_eq!(last.0, 3);
    assert!(last.1.abs() < 1e-9 && last.2.abs() < 1e-9, "{last:?}");
    assert!(tr.explained[0] >= tr.explained[1] && tr.explained[1] > 0.0);
    assert!(tr.explained[0] + tr.explained[1] <= 1.0 + 1e-9);
    // The plane's grid covers the path.
    let (a, b) = (&tr.surface.a, &tr.surface.b);
    for p in &tr.points {
        assert!(a[0] <= p.1 && p.1 <= a[a.len() - 1] && b[0] <= p.2 && p.2 <= b[b.len() - 1], "{p:?}");
    }
}

#[test]
fn bad_inputs_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let e = landscape::load_trained(&dir.path().join("nothing"), NetworkSettings::default()).unwrap_err().to_string();
    assert!(e.contains("nothing") && e.contains("checkpoint.bin"), "{e}");
    let mut c = cfg();
    c.keep_iterates = true;
    let e = train(&c, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("keep_iterates") && e.contains("--checkpoint"), "{e}");
    // A checkpoint of a 784-16-10 MLP read as the default 784-256-128-10: the tensor is named.
    c.checkpoint = Some(dir.path().join("ck"));
    c.net.epochs = 1;
    train(&c, &mut |_| {}).unwrap();
    let t = landscape::load_trained(&dir.path().join("ck"), NetworkSettings::default()).unwrap();
    let lc = LandscapeConfig { grid: 3, points_1d: 3, ..LandscapeConfig::default() };
    let e = landscape::landscape(&t.cfg, &t.weights, &[], &lc).unwrap_err().to_string();
    assert!(e.contains("layers.0.weight") || e.contains("weight"), "{e}");
    assert!(e.contains("--widths"), "{e}");
    // A trajectory from two iterates (one epoch) is refused, naming `iterates`.
    let lc = LandscapeConfig { trajectory: true, ..lc };
    let e = landscape::landscape(&t.cfg, &t.weights, &t.iterates, &lc).unwrap_err().to_string();
    assert!(e.contains("iterates"), "{e}");
    let lc = LandscapeConfig { grid: 2, ..lc };
    let e = landscape::landscape(&t.cfg, &t.weights, &[], &lc).unwrap_err().to_string();
    assert!(e.contains("`grid` = `2`"), "{e}");
}
