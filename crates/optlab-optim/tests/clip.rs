//! Gradient clipping in the engine, against torch's `clip_grad_norm_` / `clip_grad_value_`
//! (goldens from tools/torch_golden/gen_clip.py), plus the reported norm and bad settings.

use optlab_optim::{registry, Layout, NonFinite, OptimConfig};
use serde_json::Value;

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()).collect()
}

fn layout() -> Layout {
    Layout::new().with("w", &[6]).unwrap().with("b", &[3]).unwrap()
}

#[test]
fn clipping_matches_torch_goldens() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/clip.json")).unwrap();
    let gold: Value = serde_json::from_str(&text).unwrap();
    let cases = gold["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let name = case["optimizer"].as_str().unwrap();
        let mut cfg = OptimConfig::new(name);
        for (k, v) in case["set"].as_object().unwrap() {
            cfg = cfg.set(k, v.as_str().unwrap());
        }
        let limit = case["limit"].as_f64().unwrap();
        let kind = case["clip"].as_str().unwrap();
        cfg = if kind == "norm" { cfg.clip_norm(limit) } else { cfg.clip_value(limit) };
        let mut opt = registry::build::<f64>(layout(), &cfg).unwrap();
        assert_eq!(opt.last_grad_norm(), None);
        let start = rows(&case["start"]);
        let (mut w, mut b) = (start[0].clone(), start[1].clone());
        let grads = case["grads"].as_array().unwrap();
        let traj = case["trajectory"].as_array().unwrap();
        let norms = case["grad_norms"].as_array().unwrap();
        let clipped: Vec<bool> = case["clipped"].as_array().unwrap().iter().map(|x| x.as_bool().unwrap()).collect();
        assert!(
            clipped.iter().any(|c| *c) && !clipped.iter().all(|c| *c),
            "{name}/{kind}: clipping on some steps only"
        );
        for (k, g) in grads.iter().enumerate() {
            let g = rows(g);
            opt.step(&mut [&mut w, &mut b], &[&g[0], &g[1]], None).unwrap();
            let want = rows(&traj[k]);
            for (got, want) in w.iter().chain(&b).zip(want[0].iter().chain(&want[1])) {
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "{name}/{kind} step {}: {got} vs torch {want}",
                    k + 1
                );
            }
            let n = norms[k].as_f64().unwrap();
            let got = opt.last_grad_norm().unwrap();
            assert!((got - n).abs() <= 1e-12 * n, "{name}/{kind} step {}: norm {got} vs torch {n}", k + 1);
        }
    }
}

#[test]
fn clipping_off_leaves_the_step_unchanged_and_reports_the_norm() {
    let g = [3.0, -4.0];
    let mut a = registry::build::<f64>(Layout::single("x", 2), &OptimConfig::new("sgd").set("lr", 0.1)).unwrap();
    let mut b = registry::build::<f64>(Layout::single("x", 2), &OptimConfig::new("sgd").set("lr", 0.1).clip_norm(10.0))
        .unwrap();
    let (mut xa, mut xb) = (vec![1.0, 1.0], vec![1.0, 1.0]);
    a.step(&mut [&mut xa], &[&g], None).unwrap();
    b.step(&mut [&mut xb], &[&g], None).unwrap();
    assert_eq!(xa, xb, "a norm within the limit changes nothing");
    assert_eq!(a.last_grad_norm(), Some(5.0));
    assert_eq!(b.last_grad_norm(), Some(5.0));
    // Unchecked and no clipping: no pass over the gradients, so no norm.
    let mut c = registry::build::<f64>(
        Layout::single("x", 2),
        &OptimConfig::new("sgd").set("lr", 0.1).non_finite(NonFinite::Unchecked),
    )
    .unwrap();
    c.step(&mut [&mut [1.0, 1.0]], &[&g], None).unwrap();
    assert_eq!(c.last_grad_norm(), None);
}

#[test]
fn global_norm_spans_tensors_and_chunks_in_f32() {
    // Several chunks (CHUNK = 2^17) in two tensors; clip_norm scales every tensor by one factor.
    let n1 = (1 << 17) * 2 + 5;
    let n2 = 1000;
    let layout = Layout::new().with("a", &[n1]).unwrap().with("b", &[n2]).unwrap();
    let cfg = OptimConfig::new("sgd").set("lr", 1.0).clip_norm(1.0);
    let mut opt = registry::build::<f32>(layout, &cfg).unwrap();
    let ga = vec![0.5f32; n1];
    let gb = vec![-2.0f32; n2];
    let (mut pa, mut pb) = (vec![0.0f32; n1], vec![0.0f32; n2]);
    opt.step(&mut [&mut pa, &mut pb], &[&ga, &gb], None).unwrap();
    let norm = ((n1 as f64) * 0.25 + (n2 as f64) * 4.0).sqrt();
    let got = opt.last_grad_norm().unwrap();
    assert!((got - norm).abs() < 1e-6 * norm, "{got} vs {norm}");
    let coef = 1.0 / (norm + 1e-6);
    assert!((pa[7] as f64 + 0.5 * coef).abs() < 1e-6 * 0.5 * coef);
    assert!((pb[3] as f64 - 2.0 * coef).abs() < 1e-6 * 2.0 * coef);
    // The clipped update has norm 1 (the limit).
    let upd: f64 = pa.iter().chain(&pb).map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    assert!((upd - 1.0).abs() < 1e-4, "{upd}");
}

#[test]
fn clip_value_then_norm_when_both_are_set() {
    let mut opt = registry::build::<f64>(
        Layout::single("x", 3),
        &OptimConfig::new("sgd").set("lr", 1.0).clip_value(1.0).clip_norm(1.0),
    )
    .unwrap();
    let mut x = vec![0.0; 3];
    opt.step(&mut [&mut x], &[&[10.0, -10.0, 0.5]], None).unwrap();
    // Clamped to (1, -1, 0.5), norm 1.5, then scaled by 1 / (1.5 + 1e-6).
    let k = 1.0 / (1.5 + 1e-6);
    assert_eq!(x, vec![-k, k, -0.5 * k]);
    // The reported norm is the one before any clipping.
    assert_eq!(opt.last_grad_norm(), Some((200.25f64).sqrt()));
}

#[test]
fn bad_clip_settings_are_refused_naming_the_field() {
    for (cfg, key) in [
        (OptimConfig::new("adam").clip_norm(-1.0), "clip_norm"),
        (OptimConfig::new("adam").clip_norm(0.0), "clip_norm"),
        (OptimConfig::new("adam").clip_value(f64::NAN), "clip_value"),
        (OptimConfig::new("sgd").clip_value(f64::INFINITY), "clip_value"),
    ] {
        let e = registry::build::<f64>(Layout::single("x", 1), &cfg).err().expect("refused").to_string();
        assert!(e.contains(key), "{e}");
    }
    // From TOML / JSON too.
    let cfg: OptimConfig = serde_json::from_str(r#"{"name":"adam","clip_norm":-2.0}"#).unwrap();
    assert!(registry::build::<f64>(Layout::single("x", 1), &cfg).err().unwrap().to_string().contains("clip_norm"));
}

#[test]
fn lookahead_forwards_clipping_and_the_norm() {
    let cfg = OptimConfig::new("lookahead").set("inner", "sgd").set("lr", 1.0).clip_norm(1.0);
    let mut opt = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
    let mut x = vec![0.0, 0.0];
    opt.step(&mut [&mut x], &[&[3.0, 4.0]], None).unwrap();
    assert_eq!(opt.last_grad_norm(), Some(5.0));
    let k = 1.0 / (5.0 + 1e-6);
    assert!((x[0] + 3.0 * k).abs() < 1e-12 && (x[1] + 4.0 * k).abs() < 1e-12, "{x:?}");
}
