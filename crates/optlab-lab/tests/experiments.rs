//! Every shipped experiment file parses, validates and expands to a plan.

use optlab_lab::plan::Plan;
use optlab_lab::spec::{load, TaskKind};
use std::path::Path;

#[test]
fn shipped_experiments_parse_and_expand() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let exp = load(&path).unwrap_or_else(|e| panic!("{e}"));
        let plan = Plan::new(&exp).unwrap_or_else(|e| panic!("{e}"));
        assert!(!plan.runs.is_empty(), "{}", path.display());
        names.push((exp.info.name.clone(), plan));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let get = |n: &str| &names.iter().find(|(m, _)| m == n).unwrap_or_else(|| panic!("experiment {n} missing")).1;
    // Adam beta1 × beta2 on the multi-neuron classifier at batch sizes 8 and 32.
    let p = get("adam-betas");
    assert_eq!(p.info.comparisons[0].swept, ["beta1", "beta2", "batch_size"]);
    assert_eq!(p.runs.len() / 3, 3 * 3 * 2);
    // SGD, SGD+momentum, Adam at three learning rates on two classifiers.
    let p = get("sgd-momentum-adam");
    assert_eq!(p.runs.len(), 2 * 3 * 3 * 3);
    // Four optimizers × three learning rates on the MNIST CNN at batch 512.
    let p = get("mnist-cnn-optimizers");
    assert_eq!(p.runs.len(), 12);
    assert!(p.runs.iter().all(|r| r.config()["settings"]["network"]["batch_size"] == 512));
    // Triangular vs constant learning rate.
    let p = get("lr-schedule-cnn");
    assert!(p.runs.iter().any(|r| r.optimizer.schedules.is_empty()));
    assert!(p.runs.iter().any(|r| r.optimizer.schedules.iter().any(|s| s.key == "lr")));
    // The reproductions of the study documents (docs/reproductions.md).
    let p = get("mnist-cnn-study");
    assert_eq!(p.runs.len(), 5 + 4 + 2 + 4);
    assert!(p.runs.iter().all(|r| r.task == "mnist-cnn" && r.config()["settings"]["network"]["batch_size"] == 64));
    assert!(p
        .runs
        .iter()
        .any(|r| r.optimizer.name == "sgd" && r.optimizer.set.get("nesterov").map(String::as_str) == Some("true")));
    let p = get("adam-variants");
    assert_eq!(p.runs.len(), 8 * 2);
    for name in ["adam_skew", "adam_third"] {
        let authors = |r: &&optlab_lab::plan::RunSpec| {
            r.optimizer.name == name && r.optimizer.set.get("authors").map(String::as_str) == Some("true")
        };
        assert_eq!(p.runs.iter().filter(authors).count(), 2, "{name}");
    }
    let p = get("adam-variants-cifar");
    assert_eq!(p.runs.len(), 2 * 6);
    let tasks: std::collections::BTreeSet<&str> = p.runs.iter().map(|r| r.task.as_str()).collect();
    assert_eq!(tasks.into_iter().collect::<Vec<_>>(), ["cifar-cnn", "cifar-mlp"]);
    let p = get("resnet18-triangular");
    assert_eq!(p.runs.len(), 2 * 2);
    assert!(p.runs.iter().all(|r| r.task == "tinyimagenet-resnet18"));
    assert_eq!(p.runs.iter().filter(|r| r.optimizer.schedules.iter().any(|s| s.key == "lr")).count(), 2);
    // The batch-512 comparison with enough steps: 4,500 training digits at batch 64, 5 epochs.
    let p = get("mnist-cnn-optimizers-steps");
    assert_eq!(p.runs.len(), 12);
    assert!(p.runs.iter().all(|r| r.config()["settings"]["network"]["batch_size"] == 64));
    // The DeepOBS protocol on the MNIST MLP and CNN: phase one is 6 trials per optimizer and
    // task with one tuning seed, the same trials for every optimizer, pruned by the median rule.
    let p = get("mnist-deepobs");
    assert_eq!(p.runs.len(), 2 * 4 * 6);
    assert!(p.runs.iter().all(|r| r.tune.as_ref().unwrap().prune
        == Some(optlab_lab::record::PruneRule::Median { warmup_epochs: 1, startup_trials: 2 })));
    assert!(p.waiting.is_some() && p.runs.iter().all(|r| r.tune.is_some() && r.seed == 100));
    let trials = |o: &str| -> Vec<String> {
        p.runs
            .iter()
            .filter(|r| r.task == "mnist-cnn" && r.optimizer.name == o)
            .map(|r| r.swept["lr"].clone())
            .collect()
    };
    assert_eq!(trials("adam"), trials("adam_curvature"));
    assert_eq!(trials("adam").len(), 6);
    // The AlgoPerf protocol on the MNIST CNN: 3 studies × 3 trials, each study with its seed.
    let p = get("mnist-algoperf");
    assert_eq!(p.runs.len(), 4 * 3 * 3);
    assert_eq!(p.info.comparisons[0].tune.as_ref().unwrap().target, Some(optlab_lab::record::ValTarget::Accuracy(0.9)));
    for r in &p.runs {
        assert_eq!(r.seed, 100 + r.tune.as_ref().unwrap().study.unwrap() as u64);
        assert_eq!(
            r.tune.as_ref().unwrap().prune,
            Some(optlab_lab::record::PruneRule::Asha { min_epochs: 1, reduction: 3 })
        );
    }
    // The test-function study and the default experiment.
    assert!(get("function-study").runs.iter().all(|r| r.kind == TaskKind::Function));
    let d = get("default");
    assert!(d.runs.iter().any(|r| r.kind == TaskKind::Function) && d.runs.iter().any(|r| r.task == "mnist-mlp"));
}

#[test]
fn the_documented_example_parses() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/experiments.md")).unwrap();
    let start = doc.find("```toml\n").expect("a TOML example in docs/experiments.md") + "```toml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let exp = optlab_lab::spec::parse(&doc[start..end], "docs/experiments.md", "doc").unwrap_or_else(|e| panic!("{e}"));
    let plan = Plan::new(&exp).unwrap();
    // blobs-two-layer: adam 3×3×2 points, sgd and rmsprop only batch sizes; rosenbrock: no batch
    // size, 5 random starts; 3 seeds throughout.
    assert_eq!(plan.runs.len(), 3 * (18 + 2 + 2) + 3 * 5 * (9 + 1 + 1));
}

/// A small valid experiment with `extra` added to its comparison.
fn with(extra: &str) -> String {
    format!(
        "[experiment]\nname = \"deep\"\n\n[[comparison]]\nname = \"c\"\ntasks = [\"rosenbrock\"]\nsteps = 10\n{extra}\n"
    )
}

fn parse_err(text: &str) -> String {
    match optlab_lab::spec::parse(text, "deep.toml", "deep") {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn deeply_nested_schedules_in_a_file_are_errors_not_stack_overflows() {
    // 20,000 levels of `chained(` used to overflow the stack of the schedule parser.
    let deep = format!("{}cosine(t_max=9){}", "chained(".repeat(20_000), ")".repeat(20_000));
    for (extra, key) in [
        (format!("optimizers = [{{ name = \"adam\", schedules = {{ lr = \"{deep}\" }} }}]"), "lr"),
        (format!("optimizers = [{{ name = \"adam\" }}]\n[comparison.grid]\nlr_schedule = [\"{deep}\"]"), "lr_schedule"),
    ] {
        let m = parse_err(&with(&extra));
        assert!(m.starts_with("deep.toml:") && m.contains(&format!("key `{key}` in comparison `c`")), "{m}");
        assert!(m.contains("schedules nested 33 deep") && m.contains("at most 32 levels"), "{m}");
        assert!(m.contains("at column 257") && m.len() < 400, "{m}");
    }
    // 32 levels are accepted and expand to a plan.
    let ok = format!("{}cosine(t_max=9){}", "chained(".repeat(31), ")".repeat(31));
    let text = with(&format!("optimizers = [{{ name = \"adam\", schedules = {{ lr = \"{ok}\" }} }}]"));
    let exp = optlab_lab::spec::parse(&text, "deep.toml", "deep").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Plan::new(&exp).unwrap().runs[0].optimizer.schedules[0].schedule.depth(), 32);
}

#[test]
fn deeply_nested_toml_values_are_errors_not_stack_overflows() {
    // The toml crate limits its own nesting: arrays, inline tables and dotted keys nested 20,000
    // deep are a clean error with the file and line.
    let n = 20_000;
    for extra in [
        format!("starts = {}1{}", "[".repeat(n), "]".repeat(n)),
        format!("targets = {}1{}", "{ a = ".repeat(n), " }".repeat(n)),
        format!("{} = 1", vec!["a"; n].join(".")),
    ] {
        let m = parse_err(&with(&extra));
        assert!(m.starts_with("deep.toml:8:"), "{}", &m[..m.len().min(300)]);
        assert!(
            m.contains("values nested too deeply: arrays, inline tables and dotted keys nest at most 80 levels"),
            "{m}"
        );
        assert!(m.len() < 400, "{}", &m[..300]);
    }
}
