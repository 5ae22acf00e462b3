//! Weight averaging (SWA, EMA, SWALR) against torch.optim.swa_utils on Rosenbrock, float64
//! (goldens from tools/torch_golden/gen_average.py): the parameters, the averaged iterate and the
//! learning rate of every step; a run saved and resumed halfway gives the same bits; settings
//! that cannot apply are refused.

use optlab_optim::average::{Anneal, AverageConfig, AverageMethod};
use optlab_optim::executor::{Executor, Iterate, MaxSteps, Problem};
use optlab_optim::{registry, Layout, OptimConfig, Optimizer, OptimizerState};
use serde_json::Value;

fn golden() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/average.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn grad(p: &[f64]) -> [f64; 2] {
    let (x, y) = (p[0], p[1]);
    [-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)]
}

fn config(case: &Value) -> OptimConfig {
    let mut cfg = OptimConfig::new(case["optimizer"].as_str().unwrap());
    for (k, v) in case["set"].as_object().unwrap() {
        cfg = cfg.set(k, v.as_str().unwrap());
    }
    if let Some(s) = case.get("schedule") {
        cfg = cfg.schedule_assignment(s.as_str().unwrap()).unwrap();
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
    av.anneal_strategy = a.get("anneal_strategy").map(|v| match v.as_str().unwrap() {
        "linear" => Anneal::Linear,
        _ => Anneal::Cos,
    });
    cfg.average(av)
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-12 * want.abs().max(1.0)
}

fn eval(o: &dyn Optimizer<f64>, p: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; p.len()];
    assert!(o.eval_params(&[p], &mut [&mut out[..]]).unwrap());
    out
}

#[test]
fn averaging_matches_torch_swa_utils_on_rosenbrock() {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut o = registry::build::<f64>(Layout::single("p", 2), &config(case)).unwrap();
        assert!(o.has_eval_params(), "{name}");
        let mut p: Vec<f64> = case["start"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let mut averaged_seen = false;
        for (k, ((want_p, want_a), lr)) in case["params"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["averaged"].as_array().unwrap())
            .zip(case["lrs"].as_array().unwrap())
            .enumerate()
        {
            let lr = lr.as_f64().unwrap();
            let cur = o.current(0, "lr").unwrap();
            assert!(close(cur, lr), "{name} step {}: lr {cur} vs torch {lr}", k + 1);
            let gr = grad(&p);
            o.step(&mut [&mut p[..]], &[&gr[..]], None).unwrap();
            for (got, want) in p.iter().zip(want_p.as_array().unwrap()) {
                let want = want.as_f64().unwrap();
                assert!(close(*got, want), "{name} step {}: parameter {got} vs torch {want}", k + 1);
            }
            let e = eval(&*o, &p);
            match want_a.as_array() {
                // Before the first update the evaluation weights are the parameters.
                None => assert_eq!(e, p, "{name} step {}", k + 1),
                Some(w) => {
                    averaged_seen = true;
                    for (got, want) in e.iter().zip(w) {
                        let want = want.as_f64().unwrap();
                        assert!(close(*got, want), "{name} step {}: average {got} vs torch {want}", k + 1);
                    }
                }
            }
        }
        assert!(averaged_seen, "{name}");
    }
}

/// Runs `cfg` for `n` steps from (-1.5, 2); returns the optimizer and the point.
fn run(cfg: &OptimConfig, n: usize) -> (Box<dyn Optimizer<f64>>, Vec<f64>) {
    let mut o = registry::build::<f64>(Layout::single("p", 2), cfg).unwrap();
    let mut p = vec![-1.5, 2.0];
    for _ in 0..n {
        let gr = grad(&p);
        o.step(&mut [&mut p[..]], &[&gr[..]], None).unwrap();
    }
    (o, p)
}

#[test]
fn a_resumed_averaging_run_continues_bit_for_bit() {
    let g = golden();
    for case in g["cases"].as_array().unwrap() {
        let cfg = config(case);
        let (whole, p_whole) = run(&cfg, 40);
        // Saved at step 17 (inside the SWALR annealing of some cases), loaded into a fresh one.
        let (half, mut p) = run(&cfg, 17);
        // Through the state file's bytes.
        let st = OptimizerState::<f64>::from_bytes(&half.state().to_bytes(), "state").unwrap();
        let mut o = registry::build::<f64>(Layout::single("p", 2), &cfg).unwrap();
        o.load_state(&st).unwrap();
        for _ in 17..40 {
            let gr = grad(&p);
            o.step(&mut [&mut p[..]], &[&gr[..]], None).unwrap();
        }
        let name = case["name"].as_str().unwrap();
        assert_eq!(p, p_whole, "{name}");
        assert_eq!(eval(&*o, &p), eval(&*whole, &p_whole), "{name}");
        assert_eq!(o.current(0, "lr"), whole.current(0, "lr"), "{name}");
    }
}

#[test]
fn averaging_states_and_settings_that_cannot_apply_are_refused() {
    let layout = || Layout::single("p", 2);
    let plain = OptimConfig::new("adam");
    let swa = plain.clone().average(AverageConfig::swa());
    let (a, _) = run(&swa, 3);
    let (b, _) = run(&plain, 3);
    // An averaging state into a plain optimizer, and the other way round.
    let e = registry::build::<f64>(layout(), &plain).unwrap().load_state(&a.state()).unwrap_err().to_string();
    assert!(e.contains("average"), "{e}");
    let e = registry::build::<f64>(layout(), &swa).unwrap().load_state(&b.state()).unwrap_err().to_string();
    assert!(e.contains("without weight averaging"), "{e}");
    // Other averaging settings.
    let ema = plain.clone().average(AverageConfig::ema(0.9));
    let e = registry::build::<f64>(layout(), &ema).unwrap().load_state(&a.state()).unwrap_err().to_string();
    assert!(e.contains("other weight-averaging settings"), "{e}");
    // SWALR needs an lr in range; settings of the other method are refused.
    let bad_lr = plain.clone().average(AverageConfig { swa_lr: Some(f64::NAN), ..AverageConfig::swa() });
    let e = registry::build::<f64>(layout(), &bad_lr).err().unwrap().to_string();
    assert!(e.contains("swa_lr"), "{e}");
    let stray = plain.clone().average(AverageConfig { ema_decay: Some(0.5), ..AverageConfig::swa() });
    let e = registry::build::<f64>(layout(), &stray).err().unwrap().to_string();
    assert!(e.contains("ema_decay"), "{e}");
    assert_eq!(AverageConfig::ema(0.5).method, AverageMethod::Ema);
}

/// f = x² + 10 y² for the executor.
struct Bowl;
impl Problem<f64> for Bowl {
    fn dim(&self) -> usize {
        2
    }
    fn eval(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
        g[0] = 2.0 * x[0];
        g[1] = 20.0 * x[1];
        x[0] * x[0] + 10.0 * x[1] * x[1]
    }
}

#[test]
fn function_runs_report_the_averaged_iterate() {
    // SGD on the bowl with SWA from the start: the reported point after step t is the mean of
    // the iterates 1..=t, and f is evaluated there.
    let cfg = OptimConfig::new("sgd").set("lr", 0.01).average(AverageConfig::swa());
    let mut o = registry::build::<f64>(Layout::single("x", 2), &cfg).unwrap();
    let mut rows: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new();
    let mut obs = |it: &Iterate<f64>| -> optlab_optim::Result<_> {
        rows.push((it.x.to_vec(), it.eval_x.to_vec(), it.eval_f));
        Ok(optlab_optim::executor::Control::Continue)
    };
    Executor::new(&mut Bowl, &mut *o, vec![1.0, 1.0]).unwrap().stop_when(MaxSteps(5)).observe(&mut obs).run().unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0].1, vec![1.0, 1.0]);
    for t in 1..=5 {
        let mean: Vec<f64> = (0..2).map(|i| (1..=t).map(|s| rows[s].0[i]).sum::<f64>() / t as f64).collect();
        for (got, want) in rows[t].1.iter().zip(&mean) {
            assert!((got - want).abs() <= 1e-15, "step {t}: {got} vs mean {want}");
        }
        let (x, y) = (rows[t].1[0], rows[t].1[1]);
        assert_eq!(rows[t].2, x * x + 10.0 * y * y);
        // The first update copies the iterate; from the second on the mean lags it.
        if t >= 2 {
            assert_ne!(rows[t].1, rows[t].0, "step {t}: the average differs from the iterate");
        }
    }
}
