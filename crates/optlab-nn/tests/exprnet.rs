//! Expression networks (the primer's one- and multi-neuron classifiers written as expressions)
//! trained on the shipped CSV example with optlab optimizers.

use std::path::{Path, PathBuf};

use optlab_nn::exprnet::{train, CsvTable, ExprNet, ExprTrainConfig};
use optlab_optim::OptimConfig;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/primer")
}

fn setup(net: &str) -> (ExprNet, CsvTable) {
    let table = CsvTable::load(&root().join("primer-4d.csv"), "label").unwrap();
    assert_eq!(table.columns, ["xp", "xq", "xr", "xs"]);
    assert_eq!(table.rows(), 400);
    let text = std::fs::read_to_string(root().join(net)).unwrap();
    (ExprNet::parse(&text, &table.columns).unwrap(), table)
}

fn cfg(optimizer: OptimConfig, steps: u64) -> ExprTrainConfig {
    ExprTrainConfig { optimizer, steps, batch_size: 8, seed: 1, init: 1.0, every: 50 }
}

#[test]
fn one_neuron_classifier_learns_with_sgd_momentum_and_adam() {
    let (net, table) = setup("one-neuron.net");
    assert_eq!(net.params, ["ap", "aq", "ar", "as", "ab"]);
    assert!(net.custom_loss);
    for opt in [OptimConfig::new("sgd").set("lr", 0.05).set("momentum", 0.9), OptimConfig::new("adam").set("lr", 0.05)]
    {
        let r = train(&net, &table, &cfg(opt.clone(), 1500)).unwrap();
        assert!(r.final_loss < 0.5 * r.initial_loss, "{}: {} -> {}", opt.name, r.initial_loss, r.final_loss);
        let acc = r.accuracy.unwrap();
        assert!(acc > 0.9, "{}: accuracy {acc}", opt.name);
        assert_eq!(r.curve.first().map(|p| p.0), Some(0));
        assert_eq!(r.curve.last().map(|p| p.0), Some(1499));
    }
}

#[test]
fn multi_neuron_classifier_learns_and_runs_are_reproducible() {
    let (net, table) = setup("multi-neuron.net");
    assert_eq!(net.nodes, ["xw", "xz", "xo"]);
    assert_eq!(net.params.len(), 5 + 5 + 3);
    let c = cfg(OptimConfig::new("adam").set("lr", 0.02), 3000);
    let r = train(&net, &table, &c).unwrap();
    assert!(r.accuracy.unwrap() > 0.9, "accuracy {:?}", r.accuracy);
    assert!(r.final_loss < 0.1, "squared error {}", r.final_loss);
    assert_eq!(train(&net, &table, &c).unwrap(), r, "the same seed gives the same run");
    let mut other = c.clone();
    other.seed = 2;
    assert_ne!(train(&net, &table, &other).unwrap().params, r.params);
}

/// An optimizer that needs the Hessian diagonal gets it (second-order jets on the graph).
#[test]
fn hessian_optimizers_train_expression_networks() {
    let (net, table) = setup("one-neuron.net");
    let r = train(&net, &table, &cfg(OptimConfig::new("adam_curvature").set("lr", 0.05), 500)).unwrap();
    assert!(r.final_loss < r.initial_loss, "{} -> {}", r.initial_loss, r.final_loss);
}

#[test]
fn divergence_is_an_error_naming_the_step() {
    let (net, table) = setup("one-neuron.net");
    let e = train(&net, &table, &cfg(OptimConfig::new("sgd").set("lr", 1e6), 200)).unwrap_err().to_string();
    assert!(e.starts_with("diverged: expression network: non-finite loss"), "{e}");
    assert!(e.contains("at step"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// The burn tasks on a CSV table, and the Gaussian task's settings.

use optlab_nn::{NetworkSettings, TrainConfig};

fn csv_settings() -> NetworkSettings {
    NetworkSettings {
        epochs: 8,
        batch_size: 16,
        data: Some(format!("csv:{}", root().join("primer-4d.csv").display()).into()),
        label: Some("label".into()),
        ..NetworkSettings::default()
    }
}

#[test]
fn blobs_and_mlp_tasks_train_on_a_csv_table() {
    for task in ["blobs-neuron", "blobs-two-layer", "mnist-mlp"] {
        let cfg = TrainConfig::with(task, OptimConfig::new("adam").set("lr", 0.01), csv_settings());
        let (train_set, val) = optlab_nn::train::load_data(&cfg).unwrap();
        assert_eq!((train_set.len(), val.len()), (320, 80), "{task}");
        assert_eq!(train_set.sample_shape, [4]);
        let r = optlab_nn::train(&cfg, &mut |_| {}).unwrap();
        let last = r.epochs.last().unwrap();
        assert!(last.accuracy() > 0.85, "{task}: {last}");
    }
}

#[test]
fn csv_tables_are_checked() {
    let e = |net: NetworkSettings, task: &str| {
        optlab_nn::train(&TrainConfig::with(task, OptimConfig::new("adam"), net), &mut |_| {}).unwrap_err().to_string()
    };
    let no_label = NetworkSettings { label: None, ..csv_settings() };
    assert!(e(no_label, "blobs-neuron").contains("a CSV table needs `label`"));
    let cnn = e(csv_settings(), "mnist-cnn");
    assert!(cnn.contains("CSV tables of features are for the blobs and MLP tasks, not mnist-cnn"), "{cnn}");
    let wrong = NetworkSettings { label: Some("xs".into()), ..csv_settings() };
    let msg = e(wrong, "blobs-neuron");
    assert!(msg.contains("label `-2.5311` of row 1 (column `xs`) is not a class number"), "{msg}");
    let label_only = NetworkSettings { label: Some("label".into()), data: None, ..NetworkSettings::default() };
    assert!(e(label_only, "blobs-neuron").contains("`data` is not `csv:PATH`"));
    let blobs_on_csv = NetworkSettings { blobs_dim: Some(3), ..csv_settings() };
    assert!(e(blobs_on_csv, "blobs-neuron").contains("`data` is a CSV table"));
}

#[test]
fn the_gaussian_task_takes_samples_dimension_and_separation() {
    let net = NetworkSettings {
        blobs_samples: Some(600),
        blobs_dim: Some(5),
        blobs_separation: Some(6.0),
        ..NetworkSettings::default()
    };
    let cfg = TrainConfig::with("blobs-two-layer", OptimConfig::new("adam").set("lr", 0.05), net.clone());
    let (t, v) = optlab_nn::train::load_data(&cfg).unwrap();
    assert_eq!((t.len() + v.len(), t.sample_shape.clone()), (600, vec![5]));
    let r = optlab_nn::train(&cfg, &mut |_| {}).unwrap();
    // Centres 6 apart: the Bayes accuracy is Φ(3) ≈ 99.9 %.
    assert!(r.epochs.last().unwrap().accuracy() > 0.97);
    let e = |n: NetworkSettings, task: &str| {
        optlab_nn::train(&TrainConfig::with(task, OptimConfig::new("adam"), n), &mut |_| {}).unwrap_err().to_string()
    };
    assert!(e(net.clone(), "mnist-mlp").contains("is a setting of the blobs tasks, not of mnist-mlp"));
    assert!(e(NetworkSettings { blobs_dim: Some(0), ..net.clone() }, "blobs-neuron").contains("blobs_dim"));
    assert!(e(NetworkSettings { blobs_separation: Some(f64::NAN), ..net }, "blobs-neuron").contains("blobs_separation"));
}

// ---------------------------------------------------------------------------------------------
// The description language.

fn table() -> CsvTable {
    CsvTable::parse("xp,xq,label\n1,2,1\n-1,0.5,0\n0.3,-2,1\n", Path::new("t.csv"), "label").unwrap()
}

fn cols() -> Vec<String> {
    vec!["xp".into(), "xq".into()]
}

#[test]
fn names_are_inputs_nodes_parameters_and_the_label() {
    let net = ExprNet::parse("# one neuron\nxw = sigmoid(ap*xp + aq*xq + b)  # output\n", &cols()).unwrap();
    assert_eq!(net.inputs, [0, 1]);
    assert_eq!(net.params, ["ap", "aq", "b"]);
    assert_eq!(net.nodes, ["xw"]);
    let (out, loss) = net.forward(&[1.0, 2.0], &[0.5, -0.25, 0.1], 1.0);
    let want = 1.0 / (1.0 + (-(0.5 - 0.5 + 0.1f64)).exp());
    assert!((out - want).abs() < 1e-15);
    assert!((loss - (1.0 - want).powi(2)).abs() < 1e-15);
    let net = ExprNet::parse("h = tanh(a*xq)\no = sigmoid(c*h)\nloss = -(y*log(o) + (1-y)*log(1-o))", &cols()).unwrap();
    assert_eq!(
        (net.inputs.clone(), net.params.clone(), net.custom_loss),
        (vec![1], vec!["a".into(), "c".into()], true)
    );
}

#[test]
fn the_gradient_is_the_mean_of_the_samples_gradients() {
    let net = ExprNet::parse("h = tanh(a*xp + b*xq)\no = sigmoid(c*h + d)", &cols()).unwrap();
    let t = table();
    let theta = [0.3, -0.7, 1.1, 0.2];
    let (mut g, mut h) = ([0.0; 4], [0.0; 4]);
    let l = net.loss_and_grad(&t, &[0, 1, 2], &theta, &mut g, Some(&mut h));
    let eps = 1e-6;
    for k in 0..4 {
        let (mut p, mut m) = (theta, theta);
        p[k] += eps;
        m[k] -= eps;
        let mut tmp = [0.0; 4];
        let fp = net.loss_and_grad(&t, &[0, 1, 2], &p, &mut tmp, None);
        let fm = net.loss_and_grad(&t, &[0, 1, 2], &m, &mut tmp, None);
        assert!((g[k] - (fp - fm) / (2.0 * eps)).abs() < 1e-8, "d/dtheta{k}");
        assert!(
            (h[k] - (fp - 2.0 * l + fm) / (eps * eps)).abs() < 1e-3,
            "H{k}{k}: {} vs {}",
            h[k],
            (fp - 2.0 * l + fm) / (eps * eps)
        );
    }
}

#[test]
fn bad_descriptions_name_line_and_column() {
    let e = |s: &str| ExprNet::parse(s, &cols()).unwrap_err().to_string();
    assert!(e("xw = a*xp +\n").contains("line 1, column 12"), "{}", e("xw = a*xp +\n"));
    assert!(e("\n\nxw = a*(xp\n").contains("line 3, column 11"), "{}", e("\n\nxw = a*(xp\n"));
    assert!(
        e("xw = a*xp\nxo = b*xz\nxz = c*xw").contains("line 2, column 8"),
        "{}",
        e("xw = a*xp\nxo = b*xz\nxz = c*xw")
    );
    assert!(e("xw = a*y").contains("line 1, column 8"), "{}", e("xw = a*y"));
    assert!(e("xp = a*xq").contains("`xp` is a column of the data"));
    assert!(e("xw a*xp").contains("expected a definition"));
    assert!(e("xw = 2*xp").contains("no learnable parameter"));
    assert!(e("# nothing\n").contains("defines no node"));
    assert!(e("loss = (y - a)^2\nxw = a*xp").contains("the `loss` line must be the last"));
}
