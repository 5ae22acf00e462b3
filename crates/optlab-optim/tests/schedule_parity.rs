// Parity of every schedule with the real torch.optim.lr_scheduler (torch 2.15, float64).
//
// The golden curves in tests/golden/schedules.json are written by
// tools/torch_golden/gen_schedules.py, which runs, for each case,
//
//     for t in range(T): values.append(group["lr"]); opt.step(); sched.step()   # or sched.step(metrics[t])
//
// Here we parse each case's schedule text and check `value(base, t)` against every recorded value
// (1e-12 relative, 1e-15 absolute floor). For ReduceLROnPlateau cases the metric of step t is
// reported with `observe(metrics[t], t + 1)` after `value(base, t)` has been read, which is the
// convention documented on `Schedule::observe`.

use optlab_optim::schedule::Schedule;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const REL_TOL: f64 = 1e-12;
const ABS_FLOOR: f64 = 1e-15;

/// Every case the generator must have produced; the test fails if one is missing.
const EXPECTED_CASES: &[&str] = &[
    "constant_default",
    "constant_half_4",
    "constant_quarter_7",
    "constant_third_5",
    "step_3",
    "step_5_half",
    "step_1_09",
    "multistep_2_5_9",
    "multistep_dup_zero",
    "exponential_09",
    "exponential_05",
    "exponential_grow",
    "polynomial_default",
    "polynomial_8_2",
    "polynomial_20_05",
    "linear_default",
    "linear_01_09_6",
    "linear_decay",
    "linear_to_zero",
    "cosine_10",
    "cosine_7_etamin",
    "cosine_1_etamin",
    "cosine_100",
    "cosine_restarts_5",
    "cosine_restarts_3_x2",
    "cosine_restarts_2_x3",
    "cyclic_triangular",
    "cyclic_triangular_asym",
    "cyclic_triangular2",
    "cyclic_exp_range",
    "cyclic_downward",
    "one_cycle_cos",
    "one_cycle_linear",
    "one_cycle_three_phase_base_peak",
    "one_cycle_three_phase_linear",
    "one_cycle_short_warmup",
    "warmup_5_01",
    "plateau_min_rel_p2",
    "plateau_min_rel_cooldown",
    "plateau_min_abs_min",
    "plateau_max_rel",
    "plateau_max_abs",
    "plateau_eps_rule",
    "plateau_eps_zero",
    "plateau_first_inf",
    "chained_constant_exponential",
    "chained_linear_step_multistep",
    "chained_polynomial_cosine",
    "sequential_linear_cosine",
    "sequential_three",
    "sequential_exp_restarts",
    "sequential_milestone_zero",
];

fn golden() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/schedules.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e} (run tools/torch_golden/gen_schedules.py)", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A recorded metric: a JSON number, or "inf" / "-inf" / "nan" for non-finite ones.
fn metric(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("metric"),
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("bad metric {s:?}")),
        other => panic!("bad metric {other}"),
    }
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= REL_TOL * want.abs() + ABS_FLOOR
}

fn names_in(s: &Schedule, out: &mut BTreeSet<&'static str>) {
    out.insert(s.name());
    if let Schedule::Chained { schedules } | Schedule::Sequential { schedules, .. } = s {
        for c in schedules {
            names_in(c, out);
        }
    }
}

#[test]
fn schedules_match_torch() {
    let g = golden();
    assert_eq!(g["generator"], "tools/torch_golden/gen_schedules.py");
    assert!(g["torch_version"].as_str().is_some_and(|v| v.starts_with("2.")), "torch_version: {}", g["torch_version"]);
    let cases = g["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    let mut covered = BTreeSet::new();
    let mut checked = 0usize;
    for case in cases {
        let id = case["id"].as_str().expect("id");
        assert!(seen.insert(id.to_string()), "duplicate case {id}");
        let text = case["schedule"].as_str().expect("schedule");
        let base = case["base"].as_f64().expect("base");
        let values: Vec<f64> = case["values"].as_array().expect("values").iter().map(|v| v.as_f64().unwrap()).collect();
        let metrics: Option<Vec<f64>> = match &case["metrics"] {
            Value::Null => None,
            Value::Array(a) => Some(a.iter().map(metric).collect()),
            other => panic!("{id}: bad metrics {other}"),
        };
        assert!(!values.is_empty(), "{id}: no values");
        let mut s = Schedule::parse(text).unwrap_or_else(|e| panic!("{id}: {e}"));
        names_in(&s, &mut covered);
        // The canonical text describes the same schedule.
        assert_eq!(Schedule::parse(&s.to_text()).as_ref(), Ok(&s), "{id}: to_text round trip");
        if let Some(m) = &metrics {
            assert_eq!(m.len(), values.len(), "{id}: one metric per step");
        }
        for (t, &want) in values.iter().enumerate() {
            let got = s.value(base, t as u64);
            checked += 1;
            if !close(got, want) {
                failures.push(format!(
                    "{id} `{text}` base={base} t={t}: ours {got:e}, torch {want:e} (rel diff {:e})",
                    (got - want).abs() / want.abs()
                ));
            }
            if let Some(m) = &metrics {
                s.observe(m[t], t as u64 + 1);
                // Resuming from serialised state is exact.
                let json = serde_json::to_string(&s).unwrap();
                let back: Schedule = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{id}: {e}: {json}"));
                assert_eq!(back, s, "{id}: serde round trip at t={t}");
            }
        }
    }
    for id in EXPECTED_CASES {
        if !seen.contains(*id) {
            failures.push(format!("case {id} missing from the golden file"));
        }
    }
    // Every schedule with a torch equivalent is covered.
    for name in Schedule::names() {
        if *name != "inverse_sqrt" && !covered.contains(name) {
            failures.push(format!("no golden case uses `{name}`"));
        }
    }
    assert!(failures.is_empty(), "{} mismatches ({checked} values checked):\n{}", failures.len(), failures.join("\n"));
    eprintln!("{} cases, {checked} values match torch", cases.len());
}
