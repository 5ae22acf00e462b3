//! CIFAR-10, binary version (<https://www.cs.toronto.edu/~kriz/cifar.html>, `cifar-10-binary.tar.gz`).

use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::io::read_maybe_gz;

/// Bytes per record: one label byte, then 1024 red, 1024 green, 1024 blue pixels (each 32x32 row-major).
pub const CIFAR_RECORD: usize = 1 + 3 * 32 * 32;
const CLASSES: usize = 10;
const TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
const TEST_FILES: [&str; 1] = ["test_batch.bin"];
/// The directory name inside the official archive; looked into when `path` itself lacks the batches.
const ARCHIVE_DIR: &str = "cifar-10-batches-bin";

fn append_batch(path: &Path, images: &mut Vec<f32>, labels: &mut Vec<u32>) -> Result<(), DataError> {
    let bytes = read_maybe_gz(path, "CIFAR-10 batch")?;
    if bytes.is_empty() || bytes.len() % CIFAR_RECORD != 0 {
        return Err(DataError::CifarSize { path: path.to_path_buf(), size: bytes.len() as u64, record: CIFAR_RECORD });
    }
    let n = bytes.len() / CIFAR_RECORD;
    images.reserve(n * (CIFAR_RECORD - 1));
    labels.reserve(n);
    for (index, record) in bytes.chunks_exact(CIFAR_RECORD).enumerate() {
        let label = record[0];
        if usize::from(label) >= CLASSES {
            return Err(DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                index,
                value: u32::from(label),
                classes: CLASSES,
            });
        }
        labels.push(u32::from(label));
        images.extend(record[1..].iter().map(|&b| f32::from(b) / 255.0));
    }
    Ok(())
}

fn batch_files(dir: &Path, train: bool) -> Result<Vec<PathBuf>, DataError> {
    let names: &[&str] = if train { &TRAIN_FILES } else { &TEST_FILES };
    for base in [dir.to_path_buf(), dir.join(ARCHIVE_DIR)] {
        if names.iter().any(|n| base.join(n).is_file()) {
            // Every batch of the set must be there: a partial training set would silently shrink the data.
            let files: Vec<PathBuf> = names.iter().map(|n| base.join(n)).collect();
            if let Some(missing) = files.iter().find(|p| !p.is_file()) {
                return Err(DataError::Missing { path: missing.clone() });
            }
            return Ok(files);
        }
    }
    Err(DataError::NotInDir {
        dir: dir.to_path_buf(),
        what: format!("CIFAR-10 {} batches", if train { "training" } else { "test" }),
        looked_for: names.iter().flat_map(|n| [n.to_string(), format!("{ARCHIVE_DIR}/{n}")]).collect(),
    })
}

/// CIFAR-10 (binary version). `path` is either a directory holding `data_batch_1.bin` … `data_batch_5.bin`
/// (`train = true`) or `test_batch.bin` (`train = false`) — directly or in its `cifar-10-batches-bin/`
/// subdirectory — or a single `.bin` batch file: with `train = true` that file, with `train = false` the
/// `test_batch.bin` beside it (an error when there is none, or when `path` is that test batch itself:
/// it would validate on the records it trains on). Pixels are scaled to `[0, 1]`, `sample_shape` is
/// `[3, 32, 32]` (CHW), 10 classes. Name `"cifar10 (train)"`, `"cifar10 (test)"` or
/// `"cifar10 (<file name>)"`. Gzipped batch files are accepted too.
pub fn load_cifar10(path: &Path, train: bool) -> Result<Dataset, DataError> {
    let (files, name) = if path.is_dir() {
        (batch_files(path, train)?, format!("cifar10 ({})", if train { "train" } else { "test" }))
    } else if path.exists() && !train {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let beside = dir.join(TEST_FILES[0]);
        if !beside.is_file() {
            return Err(DataError::NotInDir {
                dir: dir.to_path_buf(),
                what: format!(
                    "CIFAR-10 test batch beside the training batch {} (to validate on)",
                    path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned())
                ),
                looked_for: vec![TEST_FILES[0].to_string()],
            });
        }
        let same = match (std::fs::canonicalize(path), std::fs::canonicalize(&beside)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same {
            return Err(DataError::TrainIsTest {
                path: path.to_path_buf(),
                detail: "this is the test batch: training on it would validate on the records it trains on; \
                     give a data_batch file or the folder of the batches"
                    .into(),
            });
        }
        (vec![beside], "cifar10 (test_batch.bin)".to_string())
    } else if path.exists() {
        let file = path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
        (vec![path.to_path_buf()], format!("cifar10 ({file})"))
    } else {
        return Err(DataError::Missing { path: path.to_path_buf() });
    };
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for f in &files {
        append_batch(f, &mut images, &mut labels)?;
    }
    Ok(Dataset { name, images, labels, sample_shape: vec![3, 32, 32], classes: CLASSES })
}
