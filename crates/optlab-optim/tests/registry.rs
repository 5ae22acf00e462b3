//! The registry is the one description of the optimizers: the docs table, the wrapper's default
//! and every entry's metadata are checked against it.

use optlab_optim::{registry, Kind, Layout, OptimConfig, Parity, Value};

/// docs/optimizers.md lists every registered optimizer (a table row or bullet opening with its
/// name in backticks), and lists none that is not registered.
#[test]
fn docs_table_lists_exactly_the_registered_optimizers() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/optimizers.md");
    let text = std::fs::read_to_string(path).expect("docs/optimizers.md");
    let mut listed = Vec::new();
    for line in text.lines() {
        let rest = line.strip_prefix("| `").or_else(|| line.strip_prefix("- `"));
        if let Some(name) = rest.and_then(|r| r.split('`').next()) {
            if name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                listed.push(name.to_string());
            }
        }
    }
    for name in registry::names() {
        assert!(listed.iter().any(|l| l == name), "docs/optimizers.md has no row for `{name}`");
    }
    for l in &listed {
        assert!(registry::names().contains(&l.as_str()), "docs/optimizers.md lists `{l}`, which is not registered");
    }
}

/// Lookahead's default inner optimizer is stored by name: "adam", whatever adam's position in the
/// registry (it used to be registry position 4, which inserting an optimizer before adam would
/// have changed silently).
#[test]
fn lookahead_default_inner_optimizer_is_adam_by_name() {
    let spec = registry::spec("lookahead").unwrap();
    let inner = spec.hypers.iter().find(|h| h.name == "inner").unwrap();
    assert!(matches!(inner.kind, Kind::Optimizer(_)));
    assert_eq!(inner.default, Value::N("adam"));
    assert_eq!(inner.default_text(), "adam");
    let o = registry::build::<f64>(Layout::single("x", 2), &OptimConfig::new("lookahead")).unwrap();
    assert_eq!(o.hyper(0).unwrap().spec().name, "adam", "the default inner optimizer");
    let o = registry::build::<f64>(Layout::single("x", 2), &OptimConfig::new("lookahead").set("inner", "SGD")).unwrap();
    assert_eq!(o.hyper(0).unwrap().spec().name, "sgd");
}

/// Every entry's metadata is usable: variants name valid settings and build, parity sources name
/// something, names are unique.
#[test]
fn every_entry_has_valid_metadata() {
    let mut seen = std::collections::BTreeSet::new();
    for e in registry::REGISTRY {
        let s = (e.spec)();
        assert!(seen.insert(s.name), "{} registered twice", s.name);
        match s.parity {
            Parity::Torch(c) => assert!(c.chars().next().is_some_and(|c| c.is_ascii_uppercase()), "{}: {c}", s.name),
            Parity::Reference(p) => assert!(!p.is_empty(), "{}", s.name),
            Parity::Hand => {}
        }
        let mut vn = std::collections::BTreeSet::new();
        for v in s.variants {
            assert!(vn.insert(v.name), "{}: variant {} twice", s.name, v.name);
            assert!(!v.set.is_empty(), "{}: variant {} sets nothing", s.name, v.name);
            let cfg = v.set.iter().fold(OptimConfig::new(s.name), |c, (k, val)| c.set(k, val));
            // Muon takes matrices: its variants are built for one.
            let l =
                if e.fallback.is_some() { Layout::new().with("x", &[3, 2]).unwrap() } else { Layout::single("x", 3) };
            registry::build::<f64>(l, &cfg).unwrap_or_else(|err| panic!("{}: variant {}: {err}", s.name, v.name));
        }
    }
}

/// Every numeric hyperparameter of every registered optimizer can follow a schedule: an identity
/// schedule (`exponential(gamma=1)`) leaves every step bit for bit as without it, and `current`
/// reports the scheduled value; a decaying one changes what `current` reports.
#[test]
fn every_numeric_hyperparameter_of_every_optimizer_can_be_scheduled() {
    use optlab_optim::Schedule;
    let vectors = Layout::new().with("a", &[3]).unwrap().with("b", &[2]).unwrap();
    // The same 5 numbers as a 3x1 and a 1x2 matrix for optimizers that take only matrices (Muon).
    let matrices = Layout::new().with("a", &[3, 1]).unwrap().with("b", &[1, 2]).unwrap();
    let layout_of =
        |name: &str| if registry::fallback(name).unwrap().is_some() { matrices.clone() } else { vectors.clone() };
    let run = |cfg: &OptimConfig| {
        let mut o = registry::build::<f64>(layout_of(&cfg.name), cfg).unwrap_or_else(|e| panic!("{}: {e}", cfg.name));
        let (mut a, mut b) = (vec![0.5, -1.0, 2.0], vec![1.5, -0.25]);
        for s in 0..3 {
            let t = s as f64;
            let (ga, gb) = ([a[0] + t, 2.0 * a[1], a[2] - 1.0], [b[0] * 0.5, b[1] + 0.1 * t]);
            o.step(&mut [&mut a[..], &mut b[..]], &[&ga[..], &gb[..]], Some(&[&[1.0; 3][..], &[0.5; 2][..]])).unwrap();
        }
        (a, b, o)
    };
    let mut n = 0;
    for name in registry::names() {
        let spec = registry::spec(name).unwrap();
        // lbfgs's `step` without evaluations needs max_iter = 1.
        let config =
            || if *name == "lbfgs" { OptimConfig::new(name).set("max_iter", 1) } else { OptimConfig::new(name) };
        let plain = run(&config());
        for h in spec.hypers.iter().filter(|h| h.schedulable()) {
            let Value::F(base) = h.default else { panic!("{name}: {} is schedulable but not a number", h.name) };
            let cfg = config().schedule(h.name, Schedule::Exponential { gamma: 1.0 });
            let sched = run(&cfg);
            assert_eq!(sched.2.current(0, h.name), Some(base), "{name}: {}", h.name);
            // (A key the optimizer schedules itself, such as adam_scheduled_betas' betas, follows
            // the user's schedule instead: then the steps differ, as documented.)
            if plain.2.current(0, h.name) == Some(base) {
                assert!(
                    plain.0 == sched.0 && plain.1 == sched.1,
                    "{name}: an identity schedule on {} changed the steps",
                    h.name
                );
            }
            let cfg = config().schedule(h.name, Schedule::Exponential { gamma: 0.5 });
            let mut o = registry::build::<f64>(layout_of(name), &cfg).unwrap();
            assert_eq!(o.current(0, h.name), Some(base), "{name}: {} before the first step", h.name);
            let (mut a, mut b) = (vec![0.5, -1.0, 2.0], vec![1.5, -0.25]);
            o.step(
                &mut [&mut a[..], &mut b[..]],
                &[&[1.0, -1.0, 0.5][..], &[0.25, 2.0][..]],
                Some(&[&[1.0; 3][..], &[0.5; 2][..]]),
            )
            .unwrap();
            assert_eq!(o.current(0, h.name), Some(base * 0.5), "{name}: {} after one step", h.name);
            n += 1;
        }
    }
    assert!(n > 50, "only {n} schedulable hyperparameters");
}
