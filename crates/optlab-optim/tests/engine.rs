//! The engine's contract: validation, non-finite policies, groups, thread-count invariance.

mod common;
use common::*;
use optlab_optim::{registry, GroupConfig, Layout, NonFinite, OptimConfig, StepOutcome};

#[test]
fn invalid_hyperparameters_are_refused_naming_key_value_and_range() {
    let l = || Layout::single("x", 3);
    let err = |cfg: OptimConfig| registry::build::<f64>(l(), &cfg).err().expect("should be refused").to_string();
    let e = err(OptimConfig::new("adam").set("lr", -1));
    assert!(e.contains("`lr`") && e.contains("-1") && e.contains("[0, inf)"), "{e}");
    let e = err(OptimConfig::new("adam").set("beta1", 1.0));
    assert!(e.contains("`beta1`") && e.contains("[0, 1)"), "{e}");
    let e = err(OptimConfig::new("adam").set("eps", 0));
    assert!(e.contains("`eps`") && e.contains("(0, inf)"), "{e}");
    let e = err(OptimConfig::new("adam").set("amsgrad", "maybe"));
    assert!(e.contains("`amsgrad`") && e.contains("true or false"), "{e}");
    let e = err(OptimConfig::new("adam").set("momentum", 0.9));
    assert!(e.contains("`momentum`") && e.contains("valid keys"), "{e}");
    let e = err(OptimConfig::new("adam").set("lr", "fast"));
    assert!(e.contains("`lr`") && e.contains("fast"), "{e}");
    let e = err(OptimConfig::new("sgd").set("nesterov", true));
    assert!(e.contains("nesterov") && e.contains("momentum > 0"), "{e}");
    let e = err(OptimConfig::new("nosuch"));
    assert!(e.contains("nosuch") && e.contains("adam"), "{e}");
    let e = err(OptimConfig::new("lookahead").set("inner", "lookahead"));
    assert!(e.contains("inner"), "{e}");
    let e = err(OptimConfig::new("adam").set("amsgrad", 1.5));
    assert!(e.contains("amsgrad"), "{e}");
}

#[test]
fn every_hyperparameter_default_is_within_its_own_range() {
    for name in registry::names() {
        let spec = registry::spec(name).unwrap();
        let mut cfg = OptimConfig::new(name);
        for h in spec.hypers {
            cfg = cfg.set(h.name, h.default_text());
        }
        let l = Layout::single("x", 2);
        registry::build::<f64>(l.clone(), &with_fallback(cfg, &l)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn non_finite_gradient_is_an_error_naming_the_tensor_and_changes_nothing() {
    let l = layout();
    let mut o = registry::build::<f64>(l.clone(), &OptimConfig::new("adam")).unwrap();
    let mut p = init_params(&l);
    run(o.as_mut(), &mut p, 0, 2);
    let (mut g, _) = grads(&p, 2);
    g[1][200_000] = f64::NAN;
    let before = (p.clone(), o.state());
    let mut pm: Vec<&mut [f64]> = p.iter_mut().map(|v| &mut v[..]).collect();
    let gr: Vec<&[f64]> = g.iter().map(|v| &v[..]).collect();
    let e = o.step(&mut pm, &gr, None).unwrap_err().to_string();
    assert!(e.contains("`w2`") && e.contains("200000") && e.contains("NaN"), "{e}");
    assert_eq!((p, o.state()), before);
}

#[test]
fn skip_policy_skips_the_whole_step() {
    let l = layout();
    let mut o =
        registry::build::<f64>(l.clone(), &OptimConfig::new("sgd").set("momentum", 0.9).non_finite(NonFinite::Skip))
            .unwrap();
    let mut p = init_params(&l);
    run(o.as_mut(), &mut p, 0, 1);
    let (mut g, _) = grads(&p, 1);
    g[2][3] = f64::INFINITY;
    let before = (p.clone(), o.state());
    let mut pm: Vec<&mut [f64]> = p.iter_mut().map(|v| &mut v[..]).collect();
    let gr: Vec<&[f64]> = g.iter().map(|v| &v[..]).collect();
    assert_eq!(o.step(&mut pm, &gr, None).unwrap(), StepOutcome::Skipped { tensor: "b".into(), index: 3 });
    assert_eq!((p, o.state()), before);
    assert_eq!(o.steps_taken(), 1);
}

#[test]
fn unchecked_policy_lets_nan_through() {
    let mut o =
        registry::build::<f64>(Layout::single("x", 2), &OptimConfig::new("sgd").non_finite(NonFinite::Unchecked))
            .unwrap();
    let mut x = [1.0, 1.0];
    o.step(&mut [&mut x[..]], &[&[f64::NAN, 0.0][..]], None).unwrap();
    assert!(x[0].is_nan() && x[1] == 1.0);
}

#[test]
fn wrong_tensor_count_or_length_is_an_error_naming_the_tensor() {
    let l = Layout::new().with("a", &[2]).unwrap().with("bias", &[3]).unwrap();
    let mut o = registry::build::<f64>(l, &OptimConfig::new("adam")).unwrap();
    let (mut a, mut b) = (vec![0.0; 2], vec![0.0; 4]);
    let e = o.step(&mut [&mut a[..], &mut b[..]], &[&[0.0; 2][..], &[0.0; 4][..]], None).unwrap_err().to_string();
    assert!(e.contains("`bias`") && e.contains("4 elements") && e.contains("expected 3"), "{e}");
    let e = o.step(&mut [&mut a[..]], &[&[0.0; 2][..]], None).unwrap_err().to_string();
    assert!(e.contains("1 parameter") && e.contains("built for 2"), "{e}");
}

#[test]
fn groups_override_hyperparameters_per_tensor() {
    let l = Layout::new().with("layer.w", &[2]).unwrap().with("layer.b", &[2]).unwrap().with("head", &[2]).unwrap();
    let cfg = OptimConfig::new("sgd").set("lr", 0.1).group(GroupConfig {
        tensors: vec!["*.b".into()],
        set: [("lr".into(), "0.5".into())].into(),
        schedules: vec![],
    });
    let mut o = registry::build::<f64>(l, &cfg).unwrap();
    let (mut w, mut b, mut h) = (vec![1.0; 2], vec![1.0; 2], vec![1.0; 2]);
    let g = [1.0, 1.0];
    o.step(&mut [&mut w[..], &mut b[..], &mut h[..]], &[&g[..], &g[..], &g[..]], None).unwrap();
    assert_eq!((w[0], b[0], h[0]), (0.9, 0.5, 0.9));
    assert_eq!(o.current(1, "lr"), Some(0.5));
    // A group that matches nothing, and a bad value in a group, are errors naming the group.
    let bad = OptimConfig::new("sgd").group(GroupConfig { tensors: vec!["nope*".into()], ..Default::default() });
    let e = registry::build::<f64>(Layout::single("x", 1), &bad).err().unwrap().to_string();
    assert!(e.contains("nope*") && e.contains("matches no tensor"), "{e}");
    let bad = OptimConfig::new("sgd").group(GroupConfig {
        tensors: vec!["x".into()],
        set: [("lr".into(), "-2".into())].into(),
        schedules: vec![],
    });
    let e = registry::build::<f64>(Layout::single("x", 1), &bad).err().unwrap().to_string();
    assert!(e.contains("group 1") && e.contains("`lr`"), "{e}");
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let l = layout();
    for name in registry::names() {
        let mut out = Vec::new();
        for threads in [1, 2, 3] {
            let mut cfg = OptimConfig::new(name).threads(threads);
            if *name == "lookahead" {
                cfg = cfg.set("k", 2);
            }
            if *name == "lbfgs" {
                // `step` without evaluations (lbfgs runs serially: no threads to vary).
                cfg = cfg.set("max_iter", 1);
            }
            let mut o = registry::build::<f64>(l.clone(), &with_fallback(cfg, &l)).unwrap();
            let mut p = init_params(&l);
            run(o.as_mut(), &mut p, 0, 5);
            out.push(p);
        }
        assert!(out[0] == out[1] && out[1] == out[2], "{name}: thread count changed the result");
    }
}

#[test]
fn a_schedule_can_drive_beta1_and_is_validated() {
    use optlab_optim::Schedule;
    let cfg = OptimConfig::new("adam").schedule("beta1", Schedule::parse("exponential(gamma=0.5)").unwrap());
    let mut o = registry::build::<f64>(Layout::single("x", 1), &cfg).unwrap();
    assert_eq!(o.current(0, "beta1"), Some(0.9));
    let mut x = [1.0];
    o.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
    assert_eq!(o.current(0, "beta1"), Some(0.45));
    // A schedule that takes beta1 out of [0, 1) is refused at the step that would use it.
    let cfg = OptimConfig::new("adam").schedule("beta1", Schedule::parse("exponential(gamma=2)").unwrap());
    let mut o = registry::build::<f64>(Layout::single("x", 1), &cfg).unwrap();
    o.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap();
    let e = o.step(&mut [&mut x[..]], &[&[1.0][..]], None).unwrap_err().to_string();
    assert!(e.contains("beta1") && e.contains("1.8"), "{e}");
    // Booleans cannot be scheduled.
    let cfg = OptimConfig::new("adam").schedule("amsgrad", Schedule::parse("exponential(gamma=0.5)").unwrap());
    let e = registry::build::<f64>(Layout::single("x", 1), &cfg).err().unwrap().to_string();
    assert!(e.contains("amsgrad") && e.contains("schedule"), "{e}");
}

#[test]
fn results_do_not_depend_on_the_kernel_instruction_set() {
    use optlab_optim::Simd;
    let l = layout();
    for name in registry::names() {
        let mut out = Vec::new();
        for simd in [Simd::Base, Simd::Avx2, Simd::Avx512, Simd::Auto] {
            let cfg = lbfgs_one_iteration(with_fallback(OptimConfig::new(name).simd(simd).threads(2), &l));
            let mut o = registry::build::<f64>(l.clone(), &cfg).unwrap();
            let mut p = init_params(&l);
            run(o.as_mut(), &mut p, 0, 4);
            out.push(p);
        }
        assert!(out.windows(2).all(|w| w[0] == w[1]), "{name}: results depend on the instruction set");
        // f32 too (different kernels).
        let mut out32 = Vec::new();
        for simd in [Simd::Base, Simd::Auto] {
            let cfg = lbfgs_one_iteration(with_fallback(OptimConfig::new(name).simd(simd), &l));
            let mut o = registry::build::<f32>(l.clone(), &cfg).unwrap();
            let mut p: Vec<Vec<f32>> =
                init_params(&l).into_iter().map(|v| v.into_iter().map(|x| x as f32).collect()).collect();
            for s in 0..4 {
                let pd: Vec<Vec<f64>> = p.iter().map(|v| v.iter().map(|&x| x as f64).collect()).collect();
                let (g, h) = grads(&pd, s);
                let g: Vec<Vec<f32>> = g.into_iter().map(|v| v.into_iter().map(|x| x as f32).collect()).collect();
                let h: Vec<Vec<f32>> = h.into_iter().map(|v| v.into_iter().map(|x| x as f32).collect()).collect();
                let mut pm: Vec<&mut [f32]> = p.iter_mut().map(|v| &mut v[..]).collect();
                let gr: Vec<&[f32]> = g.iter().map(|v| &v[..]).collect();
                let hr: Vec<&[f32]> = h.iter().map(|v| &v[..]).collect();
                o.step(&mut pm, &gr, Some(&hr)).unwrap();
            }
            out32.push(p);
        }
        assert!(out32[0] == out32[1], "{name}: f32 results depend on the instruction set");
    }
}

/// lbfgs's `step` without evaluations needs max_iter = 1 (its evaluating steps are tested in
/// lbfgs.rs and tests/lbfgs_parity.rs).
fn lbfgs_one_iteration(cfg: OptimConfig) -> OptimConfig {
    if cfg.name == "lbfgs" {
        cfg.set("max_iter", 1)
    } else {
        cfg
    }
}
