use super::*;

fn p(text: &str) -> Schedule {
    Schedule::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> String {
    match Schedule::parse(text) {
        Ok(s) => panic!("`{text}` parsed as {s:?}, expected an error"),
        Err(e) => e,
    }
}

fn assert_close(got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-14 * want.abs() + 1e-300, "got {got:e}, want {want:e}");
}

/// One non-default example of every schedule (and a few variants).
const EXAMPLES: &[&str] = &[
    "constant",
    "constant(factor=0.5, total_iters=4)",
    "step(step_size=30)",
    "step(step_size=3, gamma=0.5)",
    "multistep(milestones=[30, 60, 90])",
    "multistep(milestones=[], gamma=0.2)",
    "exponential(gamma=0.95)",
    "polynomial",
    "polynomial(total_iters=100, power=0.9)",
    "linear",
    "linear(start_factor=0.001, end_factor=0.5, total_iters=1000)",
    "cosine(t_max=100)",
    "cosine(t_max=10, eta_min=1e-5)",
    "cosine_restarts(t_0=10)",
    "cosine_restarts(t_0=10, t_mult=2, eta_min=0.0001)",
    "inverse_sqrt(warmup=4000)",
    "cyclic(max=0.1)",
    "cyclic(max=0.1, step_size_up=10, step_size_down=20, mode=exp_range, gamma=0.999, base=0.001)",
    "cyclic(max=0.8, base=0.9, mode=triangular2, step_size_up=5)",
    "one_cycle(total_steps=1000)",
    "one_cycle(max=0.1, total_steps=100, pct_start=0.25, anneal=linear, div_factor=10, final_div_factor=100, three_phase=true)",
    "warmup(steps=100)",
    "warmup(steps=10, start_factor=0.1)",
    "plateau",
    "plateau(mode=max, factor=0.5, patience=3, threshold=0.01, threshold_mode=abs, cooldown=2, min=1e-6, eps=0)",
    "plateau(mode=max, best=inf, num_bad_epochs=2, cooldown_counter=1, num_reductions=3)",
    "plateau(best=-0.25, num_reductions=1)",
    "chained(warmup(steps=10), cosine(t_max=100))",
    "chained(constant(factor=0.5, total_iters=3), exponential(gamma=0.9), plateau(patience=2))",
    "sequential(warmup(steps=10), cosine(t_max=90), milestones=[10])",
    "sequential(constant(factor=0.1, total_iters=10), exponential(gamma=0.9), step(step_size=2), milestones=[3, 8])",
    "sequential(cosine(t_max=5))",
    "sequential(chained(warmup(steps=2), exponential(gamma=0.5)), sequential(step(step_size=1), linear, milestones=[2]), milestones=[4])",
];

#[test]
fn parse_to_text_round_trip_for_every_schedule() {
    let mut covered = std::collections::BTreeSet::new();
    for text in EXAMPLES {
        let s = p(text);
        covered.insert(s.name());
        let canonical = s.to_text();
        assert_eq!(Schedule::parse(&canonical), Ok(s.clone()), "{text} -> {canonical}");
        assert_eq!(p(&canonical).to_text(), canonical, "canonical text is stable");
    }
    for name in Schedule::names() {
        assert!(covered.contains(name), "no example for {name}");
    }
}

#[test]
fn round_trip_preserves_exact_floats() {
    let s = Schedule::Linear { start_factor: 1.0 / 3.0, end_factor: 0.1 + 0.2, total_iters: 7 };
    assert_eq!(p(&s.to_text()), s);
    let s = Schedule::Cosine { t_max: 3, eta_min: 1e-300 };
    assert_eq!(p(&s.to_text()), s);
    let s = Schedule::Exponential { gamma: 1.0 - f64::EPSILON };
    assert_eq!(p(&s.to_text()), s);
    assert_eq!(text::fmt_num(1.0), "1");
    assert_eq!(text::fmt_num(1e-8), "1e-8");
    assert_eq!(text::fmt_num(0.1), "0.1");
    assert_eq!(text::fmt_num(f64::NEG_INFINITY), "-inf");
}

#[test]
fn defaults_and_syntax() {
    assert_eq!(p("constant"), Schedule::Constant { factor: 1.0, total_iters: 0 });
    assert_eq!(p("constant()"), p("constant"));
    assert_eq!(p("linear"), Schedule::Linear { start_factor: 1.0 / 3.0, end_factor: 1.0, total_iters: 5 });
    assert_eq!(p("linear(start_factor=1/3)"), p("linear"));
    assert_eq!(p("polynomial"), Schedule::Polynomial { total_iters: 5, power: 1.0 });
    assert_eq!(p("step(step_size=3)"), Schedule::Step { step_size: 3, gamma: 0.1 });
    assert_eq!(p(" step ( gamma = 0.5 , step_size = 1e1 , ) "), Schedule::Step { step_size: 10, gamma: 0.5 });
    assert_eq!(p("multistep(milestones=[ 1 ,2,3, ])").to_text(), "multistep(milestones=[1, 2, 3], gamma=0.1)");
    assert_eq!(p("cosine_restarts(t_0=5)"), Schedule::CosineRestarts { t_0: 5, t_mult: 1, eta_min: 0.0 });
    assert_eq!(
        p("cyclic(max=1)"),
        Schedule::Cyclic {
            max: 1.0,
            step_size_up: 2000,
            step_size_down: None,
            mode: CyclicMode::Triangular,
            gamma: 1.0,
            base: None
        }
    );
    assert_eq!(
        p("one_cycle(total_steps=10)"),
        Schedule::OneCycle {
            max: None,
            total_steps: 10,
            pct_start: 0.3,
            anneal: Anneal::Cos,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false
        }
    );
    assert_eq!(p("warmup(steps=3)"), Schedule::Warmup { steps: 3, start_factor: 0.0 });
    assert_eq!(
        p("plateau"),
        Schedule::Plateau {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min: 0.0,
            eps: 1e-8,
            best: None,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            num_reductions: 0
        }
    );
    assert_eq!(
        p("sequential(constant, exponential(gamma=0.5), milestones=[3])"),
        Schedule::Sequential {
            schedules: vec![Schedule::Constant { factor: 1.0, total_iters: 0 }, Schedule::Exponential { gamma: 0.5 }],
            milestones: vec![3]
        }
    );
    assert_eq!(
        p("sequential(cosine(t_max=5))"),
        Schedule::Sequential { schedules: vec![p("cosine(t_max=5)")], milestones: vec![] }
    );
}

#[test]
fn help_and_names() {
    let lines: Vec<&str> = Schedule::help().lines().collect();
    assert_eq!(lines.len(), Schedule::names().len());
    for (line, name) in lines.iter().zip(Schedule::names()) {
        assert!(line.starts_with(&format!("{name}(")), "{line}");
    }
    for text in EXAMPLES {
        assert!(Schedule::names().contains(&p(text).name()));
    }
}

#[test]
fn error_unknown_name_lists_names() {
    let e = err("cosin(t_max=3)");
    assert!(e.contains("unknown schedule `cosin`"), "{e}");
    for name in Schedule::names() {
        assert!(e.contains(name), "{e}");
    }
    let e = err("sequential(warmup(steps=2), cosinus(t_max=3), milestones=[2])");
    assert!(e.contains("unknown schedule `cosinus`"), "{e}");
}

#[test]
fn error_unknown_key_lists_valid_keys() {
    let e = err("step(step_size=3, gama=0.5)");
    assert!(e.contains("step: unknown key `gama`; valid keys: step_size, gamma"), "{e}");
    let e = err("cosine(t_max=3, eta_max=0.1)");
    assert!(e.contains("cosine: unknown key `eta_max`; valid keys: t_max, eta_min"), "{e}");
    let e = err("chained(warmup(steps=2), factor=2)");
    assert!(e.contains("chained: unknown key `factor`"), "{e}");
    let e = err("step(step_size=3, step_size=4)");
    assert!(e.contains("step: key `step_size` given more than once"), "{e}");
}

#[test]
fn error_bad_values_name_key_value_and_range() {
    let cases: &[(&str, &[&str])] = &[
        ("step(step_size=3, gamma=-1)", &["step", "gamma=-1", "> 0"]),
        ("step(step_size=3, gamma=abc)", &["step", "gamma=abc", "a number"]),
        ("step(step_size=0)", &["step", "step_size=0", ">= 1"]),
        ("step(step_size=2.5)", &["step", "step_size=2.5", "non-negative integer"]),
        ("step(step_size=-3)", &["step", "step_size=-3", "non-negative integer"]),
        ("step(step_size=[3])", &["step", "step_size=[3]", "not a list"]),
        ("constant(factor=2)", &["constant", "factor=2", "0 <= factor <= 1"]),
        ("multistep(milestones=[5, 3])", &["multistep", "milestones=[5, 3]", "non-decreasing"]),
        ("multistep(milestones=3)", &["multistep", "milestones=3", "list"]),
        ("exponential(gamma=0)", &["exponential", "gamma=0", "> 0"]),
        ("exponential(gamma=inf)", &["exponential", "gamma=inf", "> 0"]),
        ("polynomial(total_iters=0)", &["polynomial", "total_iters=0", ">= 1"]),
        ("polynomial(power=-1)", &["polynomial", "power=-1", ">= 0"]),
        ("linear(start_factor=0)", &["linear", "start_factor=0", "0 < start_factor <= 1"]),
        ("linear(end_factor=1.5)", &["linear", "end_factor=1.5", "0 <= end_factor <= 1"]),
        ("cosine(t_max=0)", &["cosine", "t_max=0", ">= 1"]),
        ("cosine(t_max=5, eta_min=nan)", &["cosine", "eta_min=NaN", "finite"]),
        ("cosine_restarts(t_0=5, t_mult=0)", &["cosine_restarts", "t_mult=0", ">= 1"]),
        ("inverse_sqrt(warmup=0)", &["inverse_sqrt", "warmup=0", ">= 1"]),
        ("cyclic(max=1, mode=triangle)", &["cyclic", "mode=triangle", "triangular, triangular2, exp_range"]),
        ("cyclic(max=1, step_size_down=0)", &["cyclic", "step_size_down=0", ">= 1"]),
        ("one_cycle(total_steps=10, pct_start=1)", &["one_cycle", "pct_start=1", "0 < pct_start < 1"]),
        ("one_cycle(total_steps=10, pct_start=0.1)", &["one_cycle", "pct_start=0.1", "pct_start*total_steps != 1"]),
        ("one_cycle(total_steps=10, anneal=cosine)", &["one_cycle", "anneal=cosine", "cos, linear"]),
        ("one_cycle(total_steps=10, three_phase=yes)", &["one_cycle", "three_phase=yes", "true or false"]),
        ("one_cycle(total_steps=10, div_factor=0)", &["one_cycle", "div_factor=0", "> 0"]),
        ("warmup(steps=10, start_factor=2)", &["warmup", "start_factor=2", "0 <= start_factor <= 1"]),
        ("plateau(factor=1)", &["plateau", "factor=1", "0 <= factor < 1"]),
        ("plateau(mode=lowest)", &["plateau", "mode=lowest", "min, max"]),
        ("plateau(threshold_mode=relative)", &["plateau", "threshold_mode=relative", "rel, abs"]),
        ("plateau(min=-1)", &["plateau", "min=-1", ">= 0"]),
        (
            "sequential(warmup(steps=2), cosine(t_max=3), milestones=[2, 5])",
            &["sequential", "milestones=[2, 5]", "1 milestone"],
        ),
        (
            "sequential(warmup(steps=2), cosine(t_max=3), linear, milestones=[5, 5])",
            &["sequential", "strictly increasing"],
        ),
        ("sequential(warmup(steps=2), cosine(t_max=0), milestones=[2])", &["cosine", "t_max=0"]),
        ("chained()", &["chained", "at least one schedule"]),
        ("sequential()", &["sequential", "at least one schedule"]),
    ];
    for (text, needles) in cases {
        let e = err(text);
        for n in *needles {
            assert!(e.contains(n), "`{text}`: error `{e}` lacks `{n}`");
        }
    }
}

#[test]
fn error_missing_required_key() {
    for (text, key) in [
        ("step", "step_size"),
        ("step(gamma=0.5)", "step_size"),
        ("multistep", "milestones"),
        ("exponential", "gamma"),
        ("cosine()", "t_max"),
        ("cosine_restarts(t_mult=2)", "t_0"),
        ("inverse_sqrt", "warmup"),
        ("cyclic(step_size_up=3)", "max"),
        ("one_cycle(max=0.1)", "total_steps"),
        ("warmup(start_factor=0.1)", "steps"),
        ("sequential(warmup(steps=2), cosine(t_max=3))", "milestones"),
    ] {
        let e = err(text);
        assert!(e.contains(&format!("missing required key `{key}`")), "`{text}`: {e}");
    }
}

#[test]
fn error_malformed_text() {
    for text in [
        "",
        "   ",
        "step(step_size=3",
        "step(step_size=3))",
        "step(step_size=3) extra",
        "step step_size=3",
        "step(step_size=)",
        "step(=3)",
        "step(step_size=3;gamma=0.1)",
        "multistep(milestones=[1,2)",
        "multistep(milestones=[1 2])",
        "3(step_size=1)",
        "chained(warmup(steps=2) cosine(t_max=3))",
        "step(step_size=3,,gamma=0.1)",
        "cosine(t_max=10)\u{e9}",
    ] {
        let e = err(text);
        assert!(e.contains("malformed") || e.contains("empty") || e.contains("unknown schedule"), "`{text}`: {e}");
    }
    let e = err("step(step_size=3");
    assert!(e.contains("column 17"), "{e}");
    let e = err("step(30)");
    assert!(e.contains("malformed") && e.contains("key=value"), "{e}");
    let e = err("step(gamma)");
    assert!(e.contains("step: expected `key=value`, got `gamma`") && e.contains("valid keys: step_size, gamma"), "{e}");
    let e = err("cosine(t_max=10, warmup(steps=3))");
    assert!(e.contains("cosine: expected `key=value`, got `warmup`"), "{e}");
}

/// `depth` schedules: `chained(` (or `sequential(`, alternating) around a cosine.
fn nested(depth: usize) -> String {
    let mut text = "cosine(t_max=9)".to_string();
    for d in 1..depth {
        text = if d % 2 == 0 { format!("sequential({text})") } else { format!("chained({text})") };
    }
    text
}

#[test]
fn nesting_up_to_the_limit_parses_prints_and_serialises() {
    let text = nested(MAX_DEPTH);
    let s = p(&text);
    assert_eq!(s.depth(), MAX_DEPTH);
    assert_eq!(p(&s.to_text()), s);
    assert_close(s.value(0.5, 3), p("cosine(t_max=9)").value(0.5, 3));
    // The deepest accepted schedule stays within serde_json's nesting limit, inside an optimizer
    // configuration as the lab's store and the checkpoints hold it.
    let cfg = crate::OptimConfig::new("adam").schedule("lr", s.clone());
    let json = serde_json::to_string(&cfg).unwrap();
    let back: crate::OptimConfig = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, cfg);
    assert_eq!(p("chained(cosine(t_max=9), chained(step(step_size=2)))").depth(), 3);
    assert_eq!(p("step(step_size=2)").depth(), 1);
}

#[test]
fn nesting_beyond_the_limit_is_refused_with_depth_and_column() {
    // One level too deep: the error names the depth and the column where it starts.
    let text = nested(MAX_DEPTH + 1);
    let e = err(&text);
    let column = text.find("cosine").unwrap() + 1;
    assert!(e.contains(&format!("schedules nested {} deep", MAX_DEPTH + 1)), "{e}");
    assert!(e.contains(&format!("at most {MAX_DEPTH} levels")), "{e}");
    assert!(e.contains(&format!("at column {column}")), "{e}");
    // 10,000 and 200,000 levels (the first overflowed the stack of the recursive parser): a clean
    // error, which quotes only the start of the text.
    for depth in [10_000, 200_000] {
        let text = "chained(".repeat(depth) + "cosine(t_max=9)" + &")".repeat(depth);
        let e = err(&text);
        assert!(e.contains(&format!("schedules nested {} deep", MAX_DEPTH + 1)), "{e}");
        assert!(e.contains(&format!("at column {}", 8 * MAX_DEPTH + 1)), "{e}");
        assert!(e.contains(&format!("({} characters)", text.len())) && e.len() < 300, "{e}");
    }
    // Unbalanced: no closing parentheses at all.
    let e = err(&"chained(".repeat(50_000));
    assert!(e.contains("nested") && e.len() < 300, "{e}");
    // A schedule built (or deserialised) directly is checked by validate, without recursion.
    let mut s = p("cosine(t_max=9)");
    for _ in 0..MAX_DEPTH {
        s = Schedule::Chained { schedules: vec![s] };
    }
    let e = s.validate().unwrap_err();
    assert!(e.contains(&format!("chained: schedules nested {} deep", MAX_DEPTH + 1)), "{e}");
}

#[test]
fn serde_json_round_trip_for_every_schedule() {
    for text in EXAMPLES {
        let s = p(text);
        let json = serde_json::to_string(&s).unwrap();
        let back: Schedule = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(back, s, "{json}");
        back.validate().unwrap();
    }
    let json = serde_json::to_string(&p("step(step_size=3, gamma=0.5)")).unwrap();
    assert_eq!(json, r#"{"kind":"step","step_size":3,"gamma":0.5}"#);
    let json = serde_json::to_string(&p("cosine_restarts(t_0=3)")).unwrap();
    assert!(json.starts_with(r#"{"kind":"cosine_restarts""#), "{json}");
}

#[test]
fn serde_round_trips_plateau_state_exactly() {
    let mut s = p("plateau(mode=max, patience=1, factor=0.5, cooldown=2)");
    for (i, m) in [0.5, f64::INFINITY, 0.1, 0.2, 0.3, 0.4, 0.4, 0.4].into_iter().enumerate() {
        s.observe(m, i as u64 + 1);
        let json = serde_json::to_string(&s).unwrap();
        let back: Schedule = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s, "{json}");
        assert_eq!(p(&s.to_text()), s, "{}", s.to_text());
    }
    // best = +inf (an infinite accuracy) survives JSON, which has no infinities.
    let Schedule::Plateau { best, num_reductions, .. } = &s else { unreachable!() };
    assert_eq!(*best, Some(f64::INFINITY));
    assert!(*num_reductions >= 1);
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains(r#""best":"inf""#), "{json}");
    // The fresh state may be left out of hand-written JSON.
    let fresh: Schedule = serde_json::from_str(
        r#"{"kind":"plateau","mode":"min","factor":0.1,"patience":10,"threshold":0.0001,
            "threshold_mode":"rel","cooldown":0,"min":0,"eps":1e-8}"#,
    )
    .unwrap();
    assert_eq!(fresh, p("plateau"));
    // Unknown fields and bad values are caught.
    assert!(serde_json::from_str::<Schedule>(r#"{"kind":"exponential","gamma":0.9,"gama":1}"#).is_err());
    assert!(serde_json::from_str::<Schedule>(r#"{"kind":"exponentia","gamma":0.9}"#).is_err());
    let bad: Schedule = serde_json::from_str(r#"{"kind":"exponential","gamma":-0.9}"#).unwrap();
    let e = bad.validate().unwrap_err();
    assert!(e.contains("exponential: bad value gamma=-0.9"), "{e}");
}

#[test]
fn resume_after_serde_continues_identically() {
    let metrics = [3.0, 2.0, 2.5, 2.4, 2.6, 2.7, 2.8, 1.0, 1.5, 1.6, 1.7, 1.8, 1.9];
    let text =
        "sequential(chained(warmup(steps=3), plateau(patience=1, factor=0.5)), plateau(patience=0), milestones=[8])";
    let mut a = p(text);
    let mut b = p(text);
    for (t, m) in metrics.iter().enumerate() {
        let t = t as u64;
        assert_eq!(a.value(0.1, t).to_bits(), b.value(0.1, t).to_bits());
        a.observe(*m, t + 1);
        b.observe(*m, t + 1);
        b = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn inverse_sqrt_hand_values() {
    let s = p("inverse_sqrt(warmup=4)");
    let base = 0.5;
    // s = t + 1: linear warm-up base*s/4 up to s = 4, then base*sqrt(4/s).
    let want = [0.125, 0.25, 0.375, 0.5, 0.5 * (0.8f64).sqrt(), 0.5 * (4.0f64 / 6.0).sqrt()];
    for (t, w) in want.iter().enumerate() {
        assert_close(s.value(base, t as u64), *w);
    }
    assert_close(s.value(base, 15), 0.25); // sqrt(4/16) = 1/2
    assert_close(s.value(base, 399), 0.05); // sqrt(4/400) = 1/10
    let s = p("inverse_sqrt(warmup=1)");
    assert_close(s.value(2.0, 0), 2.0);
    assert_close(s.value(2.0, 3), 1.0);
    assert_close(s.value(2.0, 8), 2.0 / 3.0);
    assert!(s.value(1.0, u64::MAX) > 0.0);
}

#[test]
fn warmup_hand_values() {
    let s = p("warmup(steps=4)");
    for (t, w) in [0.0, 0.025, 0.05, 0.075, 0.1, 0.1, 0.1].iter().enumerate() {
        assert_close(s.value(0.1, t as u64), *w);
    }
    let s = p("warmup(steps=5, start_factor=0.2)");
    for (t, w) in [0.2, 0.36, 0.52, 0.68, 0.84, 1.0, 1.0].iter().enumerate() {
        assert_close(s.value(1.0, t as u64), *w);
    }
    assert_eq!(s.value(1.0, u64::MAX), 1.0);
}

#[test]
fn schedules_on_betas() {
    // beta1 = 0.9 decaying exponentially.
    let s = p("exponential(gamma=0.99)");
    assert_close(s.value(0.9, 0), 0.9);
    assert_close(s.value(0.9, 1), 0.891);
    assert_close(s.value(0.9, 10), 0.9 * 0.99f64.powi(10));
    for t in 0..1000 {
        let v = s.value(0.9, t);
        assert!(v > 0.0 && v <= 0.9 && v >= s.value(0.9, t + 1));
    }
    // beta2 = 0.999 warming up from 0.99 (start_factor = 0.99/0.999) to 0.999.
    let s = p("warmup(steps=10, start_factor=0.990990990990991)");
    assert_close(s.value(0.999, 0), 0.99);
    assert_close(s.value(0.999, 10), 0.999);
    // momentum increasing 0.85 -> 0.95 along a cosine: eta_min above the base.
    let s = p("cosine(t_max=10, eta_min=0.95)");
    assert_close(s.value(0.85, 0), 0.85);
    assert_close(s.value(0.85, 5), 0.9);
    assert_close(s.value(0.85, 10), 0.95);
    for t in 0..10 {
        assert!(s.value(0.85, t) < s.value(0.85, t + 1));
    }
    // torch CyclicLR's inverse momentum cycle (base_momentum=0.8, max_momentum=0.9).
    let s = p("cyclic(max=0.8, base=0.9, step_size_up=4)");
    for (t, w) in [0.9, 0.875, 0.85, 0.825, 0.8, 0.825, 0.85, 0.875, 0.9, 0.875].iter().enumerate() {
        assert_close(s.value(0.123, t as u64), *w);
    }
    // Step schedule on weight decay configured 0 stays 0.
    assert_eq!(p("step(step_size=2)").value(0.0, 5), 0.0);
}

#[test]
fn constant_and_step_values() {
    let s = p("constant(factor=0.5, total_iters=3)");
    assert_eq!([0, 1, 2, 3, 4].map(|t| s.value(0.2, t)), [0.1, 0.1, 0.1, 0.2, 0.2]);
    assert_eq!(p("constant").value(0.3, 0), 0.3);
    assert_eq!(p("constant(factor=0, total_iters=2)").value(0.3, 1), 0.0);
    assert_eq!(p("constant(factor=0, total_iters=2)").value(0.3, 2), 0.3);
    let s = p("multistep(milestones=[2, 2, 5], gamma=0.5)");
    assert_eq!([0, 1, 2, 4, 5, 100].map(|t| s.value(1.0, t)), [1.0, 1.0, 0.25, 0.25, 0.125, 0.125]);
}

#[test]
fn cosine_is_periodic_like_torch() {
    let s = p("cosine(t_max=4, eta_min=0.1)");
    assert_close(s.value(1.0, 0), 1.0);
    assert_close(s.value(1.0, 2), 0.55);
    assert_close(s.value(1.0, 4), 0.1);
    assert_close(s.value(1.0, 6), 0.55);
    assert_close(s.value(1.0, 8), 1.0);
    assert_close(s.value(1.0, 12), 0.1);
}

#[test]
fn cosine_restarts_positions() {
    assert_eq!(restart_position(0, 3, 2), (0, 3));
    assert_eq!(restart_position(2, 3, 2), (2, 3));
    assert_eq!(restart_position(3, 3, 2), (0, 6));
    assert_eq!(restart_position(8, 3, 2), (5, 6));
    assert_eq!(restart_position(9, 3, 2), (0, 12));
    assert_eq!(restart_position(20, 3, 2), (11, 12));
    assert_eq!(restart_position(21, 3, 2), (0, 24));
    assert_eq!(restart_position(7, 3, 1), (1, 3));
    // No overflow at the end of time.
    let (c, l) = restart_position(u64::MAX, 3, 1000);
    assert!(c < l);
    let v = p("cosine_restarts(t_0=1, t_mult=2)").value(1.0, u64::MAX);
    assert!(v.is_finite());
}

#[test]
fn one_cycle_holds_final_value_past_total_steps() {
    let s = p("one_cycle(max=1, total_steps=10, div_factor=10, final_div_factor=100)");
    assert_close(s.value(0.5, 0), 0.1);
    assert_close(s.value(0.5, 2), 1.0); // end of the warm-up phase: pct_start*10 - 1 = 2
    assert_close(s.value(0.5, 9), 1e-3);
    assert_eq!(s.value(0.5, 10), s.value(0.5, 9));
    assert_eq!(s.value(0.5, u64::MAX), s.value(0.5, 9));
    // Without max, the configured value is the peak.
    let s = p("one_cycle(total_steps=10)");
    assert_close(s.value(0.5, 0), 0.02);
    assert_close(s.value(0.5, 2), 0.5);
    assert!(s.is_multiplicative());
    let s = p("one_cycle(total_steps=1)");
    assert!(s.value(0.5, 0).is_finite());
}

#[test]
fn plateau_decision_logic() {
    // patience 1, no cooldown: a reduction after two bad epochs in a row.
    let mut s = p("plateau(patience=1, factor=0.5)");
    let mut seen = Vec::new();
    for (t, m) in [1.0, 0.5, 0.6, 0.7, 0.4, 0.4, 0.4, 0.4, 0.4].iter().enumerate() {
        seen.push(s.value(1.0, t as u64));
        s.observe(*m, t as u64 + 1);
    }
    assert_eq!(seen, [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]);

    // Cooldown: bad epochs during cooldown do not count.
    let mut s = p("plateau(patience=0, factor=0.5, cooldown=2)");
    let mut seen = Vec::new();
    for t in 0..8 {
        seen.push(s.value(1.0, t));
        s.observe(1.0, t + 1); // first is an improvement on +inf, then all bad
    }
    assert_eq!(seen, [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]);

    // min clamps, eps skips tiny reductions.
    let mut s = p("plateau(patience=0, factor=0.1, min=0.003)");
    for t in 0..10 {
        s.observe(5.0, t + 1);
    }
    assert_eq!(s.value(1.0, 10), 0.003);
    assert_eq!(s.value(1e-9, 10), 1e-9); // 1e-9 - max(1e-10, 0.003) < 0: never applied
    let s2 = p("plateau(patience=0, num_reductions=50)");
    let v = s2.value(1.0, 0);
    assert!(v > 1e-9 && v <= 1e-7, "{v}"); // stops once a reduction would be smaller than eps=1e-8
    let s3 = p("plateau(patience=0, eps=0, num_reductions=3)");
    assert_close(s3.value(2.0, 0), 0.002);

    // max mode + abs threshold.
    let mut s = p("plateau(mode=max, patience=0, threshold=0.1, threshold_mode=abs)");
    s.observe(0.5, 1);
    s.observe(0.55, 2); // not better than 0.5 + 0.1
    assert_close(s.value(1.0, 2), 0.1);
    s.observe(0.7, 3); // better
    assert_close(s.value(1.0, 3), 0.1);
    let Schedule::Plateau { best, .. } = &s else { unreachable!() };
    assert_eq!(*best, Some(0.7));

    // NaN metrics are never an improvement.
    let mut s = p("plateau(patience=0)");
    s.observe(f64::NAN, 1);
    assert_close(s.value(1.0, 1), 0.1);
}

#[test]
fn observe_in_composites() {
    // chained: every member observes.
    let mut s = p("chained(plateau(patience=0, factor=0.5), plateau(patience=1, factor=0.5))");
    for t in 0..3 {
        s.observe(1.0, t + 1);
    }
    // first: reductions after metrics 2 and 3; second: after metric 3.
    assert_close(s.value(1.0, 3), 0.125);
    // sequential: the member active at time t observes (with its local time).
    let mut s = p("sequential(plateau(patience=0, factor=0.5), plateau(patience=0, factor=0.1), milestones=[2])");
    s.observe(1.0, 1);
    s.observe(1.0, 2); // goes to the second member (active from t = 2): its first metric, an improvement
    s.observe(1.0, 3); // second member: bad -> reduce
    assert_close(s.value(1.0, 1), 1.0);
    assert_close(s.value(1.0, 3), 0.1);
    // Others ignore metrics.
    let mut c = p("cosine(t_max=5)");
    c.observe(1.0, 1);
    assert_eq!(c, p("cosine(t_max=5)"));
}

#[test]
fn sequential_milestones_like_torch() {
    let s = p("sequential(constant(factor=0.1, total_iters=10), exponential(gamma=0.5), milestones=[3])");
    let v: Vec<f64> = (0..6).map(|t| s.value(1.0, t)).collect();
    assert_eq!(v, [0.1, 0.1, 0.1, 1.0, 0.5, 0.25]); // at t == milestone the next member starts at local 0
    assert_eq!(sequential_position(&[3, 8], 0), (0, 0));
    assert_eq!(sequential_position(&[3, 8], 3), (1, 0));
    assert_eq!(sequential_position(&[3, 8], 7), (1, 4));
    assert_eq!(sequential_position(&[3, 8], 8), (2, 0));
    assert_eq!(sequential_position(&[0], 0), (1, 0));
}

#[test]
fn chained_product_and_zero_base() {
    let s = p("chained(warmup(steps=4), exponential(gamma=0.5))");
    assert!(s.is_multiplicative());
    assert_close(s.value(2.0, 2), 2.0 * 0.5 * 0.25);
    assert_eq!(s.value(0.0, 2), 0.0);
    // One additive member absorbs the base; others multiply.
    let s = p("chained(warmup(steps=4), cosine(t_max=10, eta_min=0.01))");
    assert!(!s.is_multiplicative());
    let cos = p("cosine(t_max=10, eta_min=0.01)");
    for t in 0..12 {
        assert_close(s.value(0.1, t), p("warmup(steps=4)").value(1.0, t) * cos.value(0.1, t));
        // base 0 (e.g. weight decay 0): the limit, no NaN.
        assert_close(s.value(0.0, t), p("warmup(steps=4)").value(1.0, t) * cos.value(0.0, t));
    }
    // Two additive members: product of ratios for base != 0; at base 0 the second is ignored.
    let s = p("chained(cosine(t_max=10, eta_min=0.01), cyclic(max=0.5, step_size_up=5))");
    let cyc = p("cyclic(max=0.5, step_size_up=5)");
    for t in 0..12 {
        assert_close(s.value(0.1, t), 0.1 * (cos.value(0.1, t) / 0.1) * (cyc.value(0.1, t) / 0.1));
        assert_close(s.value(0.0, t), cos.value(0.0, t));
        assert!(s.value(0.0, t).is_finite());
    }
    // Order does not matter.
    let a = p("chained(step(step_size=2), cosine(t_max=7, eta_min=0.02), linear)");
    let b = p("chained(linear, cosine(t_max=7, eta_min=0.02), step(step_size=2))");
    for t in 0..10 {
        assert_close(a.value(0.3, t), b.value(0.3, t));
    }
}

#[test]
fn closed_forms_hold_at_extreme_times() {
    for text in EXAMPLES {
        let s = p(text);
        for t in [0, 1, 1 << 20, 1 << 40, u64::MAX - 1, u64::MAX] {
            let v = s.value(0.1, t);
            assert!(!v.is_nan(), "{text} at t={t}: {v}");
        }
    }
}

#[test]
fn invalid_deserialised_schedules_never_panic_or_hang() {
    for json in [
        r#"{"kind":"step","step_size":0,"gamma":0.1}"#,
        r#"{"kind":"cosine_restarts","t_0":0,"t_mult":0,"eta_min":0}"#,
        r#"{"kind":"polynomial","total_iters":0,"power":1}"#,
        r#"{"kind":"sequential","schedules":[],"milestones":[3]}"#,
        r#"{"kind":"chained","schedules":[]}"#,
        r#"{"kind":"one_cycle","total_steps":0,"pct_start":0.3,"anneal":"cos","div_factor":25,"final_div_factor":1e4,"three_phase":false}"#,
    ] {
        let mut s: Schedule = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert!(s.validate().is_err(), "{json}");
        for t in [0, 1, 5, u64::MAX] {
            let _ = s.value(0.1, t);
            s.observe(1.0, t);
        }
    }
}
