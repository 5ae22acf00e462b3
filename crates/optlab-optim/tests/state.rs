//! State saved and loaded by tensor name: resuming is bit-exact for every optimizer, and
//! mismatches are errors naming the tensor.

mod common;
use common::*;

const W2: usize = 2 * optlab_optim::engine::CHUNK + 1_001;
use optlab_optim::{registry, GroupConfig, Layout, OptimConfig, OptimizerState, Schedule};

/// A configuration exercising groups and a schedule for each optimizer.
fn config(name: &str) -> OptimConfig {
    let mut cfg = OptimConfig::new(name);
    let spec = registry::spec(name).unwrap();
    if name == "lookahead" {
        cfg = cfg.set("inner", "adam").set("k", 3).set("lr", 0.01);
    }
    if name == "lbfgs" {
        // `step` without evaluations (the evaluating path: lbfgs.rs's own resume test).
        cfg = cfg.set("max_iter", 1).set("lr", 0.01);
    }
    let has = |k: &str| spec.index(k).is_some() || name == "lookahead";
    if has("lr") {
        cfg = cfg.schedule("lr", Schedule::parse("cosine(t_max=40)").unwrap());
    }
    if has("weight_decay") {
        cfg = cfg.group(GroupConfig {
            tensors: vec!["b".into()],
            set: [("weight_decay".into(), "0.01".into())].into(),
            schedules: vec![],
        });
    }
    with_fallback(cfg, &layout())
}

#[test]
fn resume_after_save_and_load_is_bit_exact_for_every_optimizer() {
    let dir = std::env::temp_dir().join(format!("optlab-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in registry::names() {
        let cfg = config(name);
        let l = layout();
        // 100 steps straight.
        let mut a = build(&cfg);
        let mut pa = init_params(&l);
        run(a.as_mut(), &mut pa, 0, 100);
        // 50 steps, save, load into a fresh optimizer, 50 more.
        let mut b = build(&cfg);
        let mut pb = init_params(&l);
        run(b.as_mut(), &mut pb, 0, 50);
        let path = dir.join(format!("{name}.state"));
        b.save(&path).unwrap();
        drop(b);
        let mut c = build(&cfg);
        c.load(&path).unwrap();
        assert_eq!(c.steps_taken(), 50, "{name}");
        run(c.as_mut(), &mut pb, 50, 50);
        assert_eq!(pa, pb, "{name}: parameters differ after resume");
        assert_eq!(a.state(), c.state(), "{name}: state differs after resume");
        assert!(pa.iter().flatten().all(|x| x.is_finite()), "{name}: non-finite parameters");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn state_round_trips_through_bytes_and_f32() {
    let l = layout();
    let mut o = registry::build::<f32>(l.clone(), &OptimConfig::new("adam")).unwrap();
    let mut p: Vec<Vec<f32>> = init_params(&l).into_iter().map(|v| v.into_iter().map(|x| x as f32).collect()).collect();
    for s in 0..3 {
        let (g, _) = grads(&p.iter().map(|v| v.iter().map(|&x| x as f64).collect()).collect::<Vec<_>>(), s);
        let g: Vec<Vec<f32>> = g.into_iter().map(|v| v.into_iter().map(|x| x as f32).collect()).collect();
        let mut pm: Vec<&mut [f32]> = p.iter_mut().map(|v| &mut v[..]).collect();
        let gr: Vec<&[f32]> = g.iter().map(|v| &v[..]).collect();
        o.step(&mut pm, &gr, None).unwrap();
    }
    let st = o.state();
    let back = OptimizerState::<f32>::from_bytes(&st.to_bytes(), "mem").unwrap();
    assert_eq!(st, back);
    // An f32 state cannot be read as f64.
    let err = OptimizerState::<f64>::from_bytes(&st.to_bytes(), "mem").unwrap_err().to_string();
    assert!(err.contains("f32"), "{err}");
}

fn saved(name: &str, l: Layout) -> OptimizerState<f64> {
    let mut o = registry::build::<f64>(l.clone(), &OptimConfig::new(name)).unwrap();
    let mut p = init_params(&l);
    run(o.as_mut(), &mut p, 0, 2);
    o.state()
}

#[test]
fn loading_into_a_mismatched_optimizer_names_the_tensor_and_changes_nothing() {
    let st = saved("adam", layout());
    let try_load = |l: Layout, name: &str| {
        let mut o = registry::build::<f64>(l, &OptimConfig::new(name)).unwrap();
        let before = o.state();
        let e = o.load_state(&st).unwrap_err().to_string();
        assert_eq!(o.state(), before, "a failed load changed the optimizer");
        e
    };
    let missing = Layout::new()
        .with("w1", &[4, 5])
        .unwrap()
        .with("w2", &[W2])
        .unwrap()
        .with("b", &[7])
        .unwrap()
        .with("extra", &[3])
        .unwrap();
    let e = try_load(missing, "adam");
    assert!(e.contains("`extra`") && e.contains("missing"), "{e}");
    let fewer = Layout::new().with("w1", &[4, 5]).unwrap().with("w2", &[W2]).unwrap();
    let e = try_load(fewer, "adam");
    assert!(e.contains("`b`") && e.contains("not among"), "{e}");
    let reshaped = Layout::new().with("w1", &[5, 4]).unwrap().with("w2", &[W2]).unwrap().with("b", &[7]).unwrap();
    let e = try_load(reshaped, "adam");
    assert!(e.contains("`w1`") && e.contains("[4, 5]") && e.contains("[5, 4]"), "{e}");
    let e = try_load(layout(), "sgd");
    assert!(e.contains("adam") && e.contains("sgd"), "{e}");
    // AMSGrad has an extra buffer: named in the error.
    let mut o = registry::build::<f64>(layout(), &OptimConfig::new("adam").set("amsgrad", true)).unwrap();
    let e = o.load_state(&st).unwrap_err().to_string();
    assert!(e.contains("max_exp_avg_sq"), "{e}");
}

#[test]
fn tensors_are_matched_by_name_not_position() {
    let st = saved("adam", layout());
    // The same tensors declared in another order load, each by its own name.
    let other = Layout::new().with("b", &[7]).unwrap().with("w2", &[W2]).unwrap().with("w1", &[4, 5]).unwrap();
    let mut o = registry::build::<f64>(other, &OptimConfig::new("adam")).unwrap();
    o.load_state(&st).unwrap();
    let s2 = o.state();
    for t in &st.tensors {
        let u = s2.tensors.iter().find(|u| u.name == t.name).unwrap();
        assert_eq!(t.buffers, u.buffers, "{}", t.name);
    }
}

#[test]
fn corrupt_or_truncated_files_are_errors_naming_the_file() {
    let st = saved("sgd", layout());
    let bytes = st.to_bytes();
    let e = OptimizerState::<f64>::from_bytes(&bytes[..bytes.len() - 3], "x.state").unwrap_err().to_string();
    assert!(e.contains("x.state") && e.contains("truncated"), "{e}");
    let e = OptimizerState::<f64>::from_bytes(b"NOTSTATE0000000000000000", "y.state").unwrap_err().to_string();
    assert!(e.contains("y.state") && e.contains("magic"), "{e}");
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(OptimizerState::<f64>::from_bytes(&extra, "z").unwrap_err().to_string().contains("trailing"));
    let e = registry::build::<f64>(layout(), &OptimConfig::new("sgd"))
        .unwrap()
        .load(std::path::Path::new("/nonexistent/s.state"))
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/s.state"), "{e}");
}
