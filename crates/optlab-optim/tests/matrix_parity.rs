//! Trajectories of the matrix optimizers (Adafactor, Muon) against golden files written by
//! torch.optim in float64 (tools/torch_golden/gen_torch_matrix.py): several named tensors of
//! given shapes (matrices, a rank-3 tensor, vectors, a scalar) stepped with the gradients torch
//! saw (open loop); every recorded point within 1e-9 relative (absolute floor 1e-12).
//!
//! Muon's goldens come from torch's Muon with its Newton-Schulz kept in float64 (torch casts to
//! bfloat16; optlab computes in the parameters' dtype): see the generator's docstring.

use optlab_optim::{registry, GroupConfig, Layout, OptimConfig, Parity};
use serde_json::Value;

const RTOL: f64 = 1e-9;
const ATOL: f64 = 1e-12;

pub fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/torch_matrix.json");
    let text =
        std::fs::read_to_string(path).expect("golden file (regenerate with tools/torch_golden/gen_torch_matrix.py)");
    serde_json::from_str(&text).expect("golden JSON")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn config(case: &Value) -> OptimConfig {
    let mut cfg = OptimConfig::new(case["optimizer"].as_str().unwrap());
    for (k, v) in case["set"].as_object().unwrap() {
        cfg = cfg.set(k, text(v));
    }
    for g in case.get("groups").and_then(Value::as_array).into_iter().flatten() {
        cfg = cfg.group(GroupConfig {
            tensors: g["tensors"].as_array().unwrap().iter().map(text).collect(),
            set: g["set"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), text(v))).collect(),
            schedules: vec![],
        });
    }
    cfg
}

fn run_case(case: &Value) -> Result<f64, String> {
    let id = case["id"].as_str().unwrap();
    let mut layout = Layout::new();
    let mut lens = Vec::new();
    for t in case["tensors"].as_array().unwrap() {
        let shape: Vec<usize> = t["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        lens.push(shape.iter().product::<usize>());
        layout.push(t["name"].as_str().unwrap(), &shape).unwrap();
    }
    let rows = |v: &Value| -> Vec<Vec<f64>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
            .collect()
    };
    let traj = rows(&case["trajectory"]);
    let grads = rows(&case["grads"]);
    let steps = case["steps"].as_u64().unwrap() as usize;
    assert_eq!((traj.len(), grads.len()), (steps + 1, steps), "{id}");
    let mut opt = registry::build::<f64>(layout, &config(case)).map_err(|e| format!("{id}: {e}"))?;
    let split = |flat: &[f64]| -> Vec<Vec<f64>> {
        let mut out = Vec::new();
        let mut at = 0;
        for &n in &lens {
            out.push(flat[at..at + n].to_vec());
            at += n;
        }
        out
    };
    let mut params = split(&traj[0]);
    let mut worst = 0.0f64;
    for s in 0..steps {
        let g = split(&grads[s]);
        let mut pm: Vec<&mut [f64]> = params.iter_mut().map(|v| &mut v[..]).collect();
        let gr: Vec<&[f64]> = g.iter().map(|v| &v[..]).collect();
        opt.step(&mut pm, &gr, None).map_err(|e| format!("{id}: step {}: {e}", s + 1))?;
        for (j, (x, want)) in params.iter().flatten().zip(&traj[s + 1]).enumerate() {
            let err = (x - want).abs();
            worst = worst.max(err / want.abs().max(ATOL / RTOL));
            if err > RTOL * want.abs() + ATOL {
                return Err(format!("{id}: step {}, element {j} = {x} but torch has {want}", s + 1));
            }
        }
    }
    Ok(worst)
}

#[test]
fn every_matrix_golden_case_matches_torch() {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    let mut worst = (0.0f64, "");
    for c in cases {
        match run_case(c) {
            Ok(e) if e > worst.0 => worst = (e, c["id"].as_str().unwrap()),
            Ok(_) => {}
            Err(e) => failures.push(e),
        }
    }
    eprintln!("{} matrix cases; worst relative error {:.2e} ({})", cases.len(), worst.0, worst.1);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from torch:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every option of Adafactor and Muon is set by some case, both optimizers are registered with
/// their torch class, and Muon is checked with an AdamW group and on tall, wide and square
/// matrices.
#[test]
fn matrix_goldens_cover_every_option() {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    for name in ["adafactor", "muon"] {
        let spec = registry::spec(name).unwrap();
        assert!(matches!(spec.parity, Parity::Torch(_)), "{name}");
        let own: Vec<&Value> = cases.iter().filter(|c| c["optimizer"] == name).collect();
        for h in spec.hypers {
            let set = |c: &&Value| {
                c["set"].get(h.name).is_some()
                    || c.get("groups")
                        .and_then(Value::as_array)
                        .is_some_and(|gs| gs.iter().any(|g| g["set"].get(h.name).is_some()))
            };
            // eps1's default is torch's None; the cases set it and leave it at None.
            assert!(own.iter().any(set), "{name}: no golden case sets {}", h.name);
        }
    }
    let shapes: Vec<Vec<u64>> = cases
        .iter()
        .filter(|c| c["optimizer"] == "adafactor")
        .flat_map(|c| c["tensors"].as_array().unwrap().iter())
        .map(|t| t["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect())
        .collect();
    for rank in 0..=3 {
        assert!(shapes.iter().any(|s| s.len() == rank), "adafactor: no tensor of rank {rank}");
    }
}
