//! The networks of issue 17 from the command line and from experiment files: `optlab train
//! --task cifar-mlp|cifar-resnet18|tinyimagenet-resnet18` and `optlab run` of an experiment
//! listing them, on small files in the real formats (a few steps each).

mod common;
use common::{cifar_dir, optlab, run_ok};

use optlab_lab::store::{Store, DB_FILE};

#[test]
fn train_runs_the_cifar_tasks_with_the_new_options() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    cifar_dir(&data, 2, 4);
    let d = data.to_str().unwrap();
    let out = run_ok(optlab().args([
        "train",
        "--task",
        "cifar-resnet18",
        "--data",
        d,
        "--widths",
        "4-8-8-8",
        "--batch-size",
        "5",
        "--max-steps",
        "2",
        "--augment",
        "--shuffle",
        "false",
        "--quiet",
        "--optimizer",
        "sgd",
    ]));
    assert!(out.contains("cifar-resnet18") && out.contains("2 steps"), "{out}");
    let out = run_ok(optlab().args([
        "train",
        "--task",
        "cifar-mlp",
        "--data",
        d,
        "--widths",
        "3072-8-10",
        "--epochs",
        "1",
        "--val-fraction",
        "0",
        "--quiet",
    ]));
    assert!(out.contains("(no validation)"), "{out}");
    let bad = optlab()
        .args(["train", "--task", "cifar-resnet18", "--data", d, "--widths", "4-8-10", "--quiet"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("widths") && err.contains("four stage widths"), "{err}");
}

#[test]
fn experiments_run_the_cifar_tasks() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    cifar_dir(&data, 2, 4);
    let exp = tmp.path().join("nets.toml");
    let text = format!(
        "[experiment]\nname = \"nets\"\n\n\
         [[comparison]]\nname = \"resnet\"\ntasks = [\"cifar-resnet18\"]\ndata = \"{d}\"\nwidths = [4, 4, 4, 4]\n\
         epochs = 1\nbatch_size = 5\naugment = true\nshuffle = false\noptimizers = [{{ name = \"sgd\" }}]\n\n\
         [[comparison]]\nname = \"mlp\"\ntasks = [\"cifar-mlp\"]\ndata = \"{d}\"\nwidths = [3072, 8, 10]\n\
         epochs = 1\nbatch_size = 5\nval_fraction = 0.0\noptimizers = [{{ name = \"adam\" }}]\n",
        d = data.display()
    );
    std::fs::write(&exp, text).unwrap();
    let out_dir = tmp.path().join("out");
    let out = run_ok(optlab().args(["run", exp.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]));
    assert!(out.contains("2 runs: 2 ran"), "{out}");
    let st = Store::open(&out_dir.join(DB_FILE)).unwrap();
    let runs = st.runs().unwrap();
    assert_eq!(runs.len(), 2);
    for r in &runs {
        assert_eq!(r.status.as_str(), "ok", "{}: {:?}", r.task, r.error);
        assert_eq!(r.summary.steps, 2, "{}", r.task);
    }
    // A setting the task cannot take is named with the file's line.
    std::fs::write(
        &exp,
        format!(
            "[experiment]\nname = \"nets\"\n[[comparison]]\nname = \"c\"\ntasks = [\"cifar-mlp\"]\ndata = \"{}\"\ndropout = 1.5\noptimizers = [{{ name = \"sgd\" }}]\n",
            data.display()
        ),
    )
    .unwrap();
    let bad = optlab().args(["run", exp.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("dropout") && err.contains("1.5"), "{err}");
}
