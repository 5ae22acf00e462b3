//! The shipped experiments that need data optlab does not ship (docs/reproductions.md) run when
//! the data is supplied: each is read from experiments/, pointed at small synthetic files in the
//! real format, cut to one epoch (and, for the ResNet, to narrow stages), and run with `optlab run`.

mod common;
use common::{cifar_dir, optlab};

use std::path::Path;

use optlab_lab::store::{Store, DB_FILE};

fn shipped(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Replaces `from` (which must occur) by `to` everywhere in `text`.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "`{from}` is not in the shipped file");
    text.replace(from, to)
}

fn run_experiment(dir: &Path, text: &str) -> Vec<optlab_lab::record::RunRecord> {
    let exp = dir.join("exp.toml");
    std::fs::write(&exp, text).unwrap();
    let out = dir.join("out");
    let o =
        optlab().args(["run", exp.to_str().unwrap(), "--out", out.to_str().unwrap(), "--jobs", "1"]).output().unwrap();
    assert!(
        o.status.success(),
        "optlab run failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    Store::open(&out.join(DB_FILE)).unwrap().runs().unwrap()
}

/// Tiny ImageNet's layout with `classes` classes of `per_class` JPEGs and `val` validation JPEGs,
/// the images copied from the two committed 64×64 fixtures.
fn tiny_imagenet(root: &Path, classes: usize, per_class: usize, val: usize) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let jpeg = |k: usize| std::fs::read(fixtures.join(format!("tiny{}.jpg", k % 2))).unwrap();
    let wnids: Vec<String> = (0..classes).map(|c| format!("n{:08}", 2000 + c)).collect();
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join("wnids.txt"), wnids.join("\n") + "\n").unwrap();
    for (c, w) in wnids.iter().enumerate() {
        let d = root.join("train").join(w).join("images");
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..per_class {
            std::fs::write(d.join(format!("{w}_{i}.JPEG")), jpeg(c + i)).unwrap();
        }
    }
    let vd = root.join("val").join("images");
    std::fs::create_dir_all(&vd).unwrap();
    let mut ann = String::new();
    for i in 0..val {
        std::fs::write(vd.join(format!("val_{i}.JPEG")), jpeg(i)).unwrap();
        ann.push_str(&format!("val_{i}.JPEG\t{}\t0\t0\t63\t63\n", wnids[i % classes]));
    }
    std::fs::write(root.join("val").join("val_annotations.txt"), ann).unwrap();
}

/// The triangular-learning-rate ResNet-18 experiment, one epoch on synthetic Tiny ImageNet files.
#[test]
fn resnet18_triangular_runs_one_epoch_on_synthetic_tiny_imagenet() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tiny-imagenet-200");
    tiny_imagenet(&data, 3, 2, 3);
    let text = shipped("resnet18-triangular.toml");
    let text = edit(&text, "data = \"data/tiny-imagenet-200\"", &format!("data = \"{}\"", data.display()));
    let text = edit(&text, "epochs = 30", "epochs = 1\nwidths = [2, 4, 4, 4]");
    let runs = run_experiment(tmp.path(), &text);
    assert_eq!(runs.len(), 4);
    for r in &runs {
        assert_eq!(r.status.as_str(), "ok", "{}: {:?}", r.label, r.error);
        // 6 training images, batch 128: one step.
        assert_eq!((r.summary.steps, r.summary.epochs), (1, Some(1)), "{}", r.label);
        assert!(r.summary.final_val_loss.is_some_and(f64::is_finite), "{}", r.label);
    }
    assert_eq!(runs.iter().filter(|r| r.label.contains("cyclic")).count(), 2);
}

/// The Adam variants on the CIFAR-10 MLP and CNN, one epoch on synthetic CIFAR-10 batches.
#[test]
fn adam_variants_cifar_runs_one_epoch_on_synthetic_cifar() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar-10-batches-bin");
    cifar_dir(&data, 13, 10);
    let text = shipped("adam-variants-cifar.toml");
    let text = edit(&text, "data = \"data/cifar-10-batches-bin\"", &format!("data = \"{}\"", data.display()));
    let text = edit(&text, "epochs = 10", "epochs = 1");
    let runs = run_experiment(tmp.path(), &text);
    assert_eq!(runs.len(), 12);
    for r in &runs {
        assert_eq!(r.status.as_str(), "ok", "{} {}: {:?}", r.task, r.label, r.error);
        // 65 training records, batch 64: two steps.
        assert_eq!(r.summary.steps, 2, "{} {}", r.task, r.label);
    }
}
