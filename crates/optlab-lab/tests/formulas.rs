//! Formula functions in the lab: the same trajectories as the built-in functions they write out,
//! and formula tasks in experiment files.

use optlab_lab::function_task::{run_one, Limits, Problem};
use optlab_lab::plan::Plan;
use optlab_lab::spec::{parse, task_kind, TaskKind};
use optlab_optim::OptimConfig;

const ROSENBROCK: &str = "f(x, y) = (1 - x)^2 + 100*(y - x^2)^2";

fn trace(p: &Problem, cfg: &OptimConfig, steps: u64) -> Vec<f64> {
    let lim = Limits { max_steps: steps, xtol: 0.0, patience: u32::MAX, time_limit: None };
    let mut t = Vec::new();
    let r = run_one(p, cfg, &[-1.5, 2.0], &lim, Some(&mut t)).unwrap();
    assert_eq!(r.steps, steps);
    t
}

/// Adam and SGD on the formula for Rosenbrock follow the trajectory of `rosenbrock` for 200 steps,
/// within rounding (the gradients differ in the last bits only).
#[test]
fn rosenbrock_formula_gives_the_trajectory_of_rosenbrock() {
    let named = Problem::new("rosenbrock", 1e-300).unwrap();
    let formula = Problem::new(ROSENBROCK, 1e-300).unwrap();
    for cfg in [OptimConfig::new("adam").set("lr", 0.01), OptimConfig::new("sgd").set("lr", 1e-3)] {
        let (a, b) = (trace(&named, &cfg, 200), trace(&formula, &cfg, 200));
        assert_eq!(a.len(), 201 * 3);
        assert_eq!(a.len(), b.len());
        let worst = a.iter().zip(&b).map(|(u, v)| (u - v).abs() / (1.0 + u.abs())).fold(0.0, f64::max);
        assert!(worst < 1e-10, "{}: largest relative difference {worst:e}", cfg.name);
        // The run moved: the comparison is not of two constant traces.
        assert!((a[a.len() - 3] - a[0]).abs() > 1.0, "{}", cfg.name);
    }
}

#[test]
fn formula_problems_use_their_start_box_and_minimum() {
    let p = Problem::new("f(x, y) = x^2 + 4*y^2; start x in [1, 2]; min (0, 0)", 1e-6).unwrap();
    assert_eq!(p.start_box, vec![(1.0, 2.0), (-5.0, 5.0)]);
    assert_eq!(p.fstar, Some(0.0));
    let starts =
        optlab_lab::function_task::random_starts(&p, 3, optlab_lab::function_task::StartStream::Evaluation, 50);
    assert!(starts.iter().all(|s| (1.0..=2.0).contains(&s[0]) && (-5.0..=5.0).contains(&s[1])));
}

#[test]
fn formulas_are_tasks_of_experiment_files() {
    assert_eq!(task_kind(ROSENBROCK), Some(TaskKind::Function));
    assert_eq!(task_kind("f(x) = x +"), None);
    let text = format!(
        r#"
[experiment]
name = "formula"

[[comparison]]
name = "banana"
tasks = ["{ROSENBROCK}; min (1, 1)", "booth"]
steps = 50
optimizers = [{{ name = "adam", set = {{ lr = 0.01 }} }}]
"#
    );
    let exp = parse(&text, "formula.toml", "formula").unwrap();
    let plan = Plan::new(&exp).unwrap();
    assert!(plan.runs.iter().any(|r| r.task == format!("{ROSENBROCK}; min (1, 1)")));
    let bad = text.replace("(1 - x)^2", "(1 - x^2");
    let e = parse(&bad, "formula.toml", "formula").unwrap_err().to_string();
    assert!(e.contains("formula.toml:7: key `tasks` in comparison `banana`: formula `"), "{e}");
    assert!(e.contains("column 37: expected `)`, found `;`"), "{e}");
}

/// `data = "csv:PATH"` with `label`, and the Gaussian task's `blobs_*` keys, in experiment files.
#[test]
fn csv_data_and_gaussian_settings_in_experiment_files() {
    let exp = |body: &str| {
        format!(
            "[experiment]\nname = \"n\"\n\n[[comparison]]\nname = \"c\"\n{body}optimizers = [{{ name = \"adam\" }}]\n"
        )
    };
    let ok = parse(
        &exp("tasks = [\"blobs-two-layer\", \"mnist-mlp\"]\ndata = \"csv:data/primer/primer-4d.csv\"\nlabel = \"label\"\n"),
        "e.toml",
        "n",
    )
    .unwrap();
    let net = &ok.comparisons[0].network;
    assert_eq!(net.data.as_deref(), Some(std::path::Path::new("csv:data/primer/primer-4d.csv")));
    assert_eq!(net.label.as_deref(), Some("label"));
    let ok = parse(
        &exp("tasks = [\"blobs-neuron\"]\nblobs_samples = 400\nblobs_dim = 6\nblobs_separation = 1.5\n"),
        "e.toml",
        "n",
    )
    .unwrap();
    let net = &ok.comparisons[0].network;
    assert_eq!((net.blobs_samples, net.blobs_dim, net.blobs_separation), (Some(400), Some(6), Some(1.5)));
    let err = |body: &str| parse(&exp(body), "e.toml", "n").unwrap_err().to_string();
    let e = err("tasks = [\"blobs-neuron\"]\ndata = \"csv:x.csv\"\n");
    assert!(e.contains("e.toml:7: key `data` in comparison `c`: a CSV table needs `label`"), "{e}");
    let e = err("tasks = [\"mnist-cnn\"]\ndata = \"csv:x.csv\"\nlabel = \"y\"\n");
    assert!(e.contains("CSV tables of features are for the blobs and MLP tasks, not `mnist-cnn`"), "{e}");
    let e = err("tasks = [\"blobs-neuron\"]\nlabel = \"y\"\n");
    assert!(e.contains("key `label` in comparison `c`"), "{e}");
    let e = err("tasks = [\"mnist-mlp\"]\nblobs_dim = 3\n");
    assert!(
        e.contains("e.toml:7: key `blobs_dim` in comparison `c`: this setting is for the blobs tasks, not `mnist-mlp`"),
        "{e}"
    );
    let e = err("tasks = [\"blobs-neuron\"]\nblobs_samples = 1\n");
    assert!(e.contains("key `blobs_samples`"), "{e}");
    let e = err("tasks = [\"sphere\"]\nblobs_separation = 2.0\n");
    assert!(e.contains("this setting is for network tasks"), "{e}");
}
