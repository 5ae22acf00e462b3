//! The experimental Adam variants through the registry: multi-tensor layouts spanning several
//! chunks, parameter groups, threads and schedules.

mod common;
use common::*;
use optlab_optim::{registry, GroupConfig, Layout, OptimConfig, Parity, Schedule};

/// The experimental variants: the optimizers with a kernel of their own whose registry entry says
/// their tests are hand-derived (no reference implementation exists).
fn experimental() -> Vec<&'static str> {
    let names: Vec<&str> = registry::REGISTRY
        .iter()
        .filter(|e| e.forms.is_some() && (e.spec)().parity == Parity::Hand)
        .map(|e| (e.spec)().name)
        .collect();
    assert!(names.len() >= 4, "{names:?}");
    names
}

fn with_group(cfg: OptimConfig) -> OptimConfig {
    cfg.group(GroupConfig {
        tensors: vec!["b".into()],
        set: [("weight_decay".into(), "0.01".into()), ("lr".into(), "0.003".into())].into(),
        schedules: vec![],
    })
}

#[test]
fn registered_with_their_specs() {
    for name in experimental() {
        let spec = registry::spec(name).unwrap();
        assert_eq!(spec.needs_hessian, name == "adam_curvature", "{name}");
        for key in ["lr", "beta1", "beta2", "eps", "weight_decay", "maximize"] {
            assert!(spec.index(key).is_some(), "{name} lacks {key}");
        }
        registry::build::<f32>(Layout::single("x", 3), &OptimConfig::new(name)).unwrap();
        registry::build::<f64>(Layout::single("x", 3), &OptimConfig::new(name)).unwrap();
    }
    let e = registry::build::<f64>(Layout::single("x", 1), &OptimConfig::new("adam_scheduled_betas").set("lambda", -1))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("`lambda`") && e.contains("[0, 700]"), "{e}");
    let e = registry::build::<f64>(Layout::single("x", 1), &OptimConfig::new("adam_skew").set("beta3", 1))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("`beta3`") && e.contains("[0, 1)"), "{e}");
}

/// lambda = 0 is adam bit for bit on a chunked, grouped, threaded, lr-scheduled run.
#[test]
fn scheduled_betas_with_lambda_zero_is_adam_on_a_large_layout() {
    let sched = Schedule::parse("cosine(t_max=40)").unwrap();
    let a_cfg = with_group(OptimConfig::new("adam").threads(3).schedule("lr", sched.clone()));
    let b_cfg = with_group(OptimConfig::new("adam_scheduled_betas").set("lambda", 0).threads(3).schedule("lr", sched));
    let (mut a, mut b) = (build(&a_cfg), build(&b_cfg));
    let (mut pa, mut pb) = (init_params(&layout()), init_params(&layout()));
    run(a.as_mut(), &mut pa, 0, 50);
    run(b.as_mut(), &mut pb, 0, 50);
    assert!(pa == pb, "parameters differ");
    let (sa, sb) = (a.state(), b.state());
    for (ta, tb) in sa.tensors.iter().zip(&sb.tensors) {
        assert!(ta.buffers == tb.buffers, "{}: buffers differ", ta.name);
    }
}

/// bias_correction=torch equals adam with explicit exponential beta schedules, per epoch too.
#[test]
fn torch_correction_is_adam_with_explicit_schedules_on_a_large_layout() {
    let gamma = (-0.2f64).exp();
    let sched = Schedule::Exponential { gamma };
    let a_cfg = with_group(
        OptimConfig::new("adam").schedule_per_epoch("beta1", sched.clone()).schedule_per_epoch("beta2", sched),
    );
    let b_cfg = with_group(
        OptimConfig::new("adam_scheduled_betas")
            .set("lambda", 0.2)
            .set("time_unit", "epochs")
            .set("bias_correction", "torch"),
    );
    let (mut a, mut b) = (build(&a_cfg), build(&b_cfg));
    let (mut pa, mut pb) = (init_params(&layout()), init_params(&layout()));
    run(a.as_mut(), &mut pa, 0, 60);
    run(b.as_mut(), &mut pb, 0, 60);
    assert_eq!(b.epochs_taken(), 2);
    assert_eq!(b.current(1, "beta1"), Some(0.9 * gamma.powf(2.0)));
    assert!(pa == pb, "parameters differ");
}

/// In-memory save/load resume is exact on the large layout with groups and a schedule.
#[test]
fn resume_is_exact_on_a_large_layout() {
    for name in experimental() {
        let cfg = with_group(OptimConfig::new(name).schedule("lr", Schedule::parse("cosine(t_max=40)").unwrap()));
        let mut a = build(&cfg);
        let mut pa = init_params(&layout());
        run(a.as_mut(), &mut pa, 0, 40);
        let mut b = build(&cfg);
        let mut pb = init_params(&layout());
        run(b.as_mut(), &mut pb, 0, 20);
        let mut c = build(&cfg);
        c.load_state(&b.state()).unwrap();
        run(c.as_mut(), &mut pb, 20, 20);
        assert!(pa == pb, "{name}: parameters differ after resume");
        assert!(a.state() == c.state(), "{name}: state differs after resume");
    }
}

#[test]
fn curvature_without_hessian_names_the_optimizer_and_tensor() {
    let mut o = build(&OptimConfig::new("adam_curvature"));
    let mut p = init_params(&layout());
    let (g, _) = grads(&p, 0);
    let mut pm: Vec<&mut [f64]> = p.iter_mut().map(|v| &mut v[..]).collect();
    let gr: Vec<&[f64]> = g.iter().map(|v| &v[..]).collect();
    let e = o.step(&mut pm, &gr, None).unwrap_err().to_string();
    assert_eq!(
        e,
        "optimizer `adam_curvature` needs the Hessian diagonal of tensor `w1` as an extra input, and none was given"
    );
    assert_eq!(o.steps_taken(), 0);
}
