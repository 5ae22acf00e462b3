//! Tiny ImageNet (<http://cs231n.stanford.edu/tiny-imagenet-200.zip>): 200 classes of 64×64 colour
//! JPEGs, in the archive's own layout:
//!
//! ```text
//! <dir>/wnids.txt                          one class id (wnid) a line; line order = label
//! <dir>/train/<wnid>/images/*.JPEG         the training images of each class
//! <dir>/val/images/*.JPEG                  the validation images
//! <dir>/val/val_annotations.txt            "<file>\t<wnid>\t<x0>\t<y0>\t<x1>\t<y1>" a line
//! ```
//!
//! `<dir>` may also be the folder holding `tiny-imagenet-200/`. Images are decoded with the `image`
//! crate (JPEG only), converted to RGB (the archive has some greyscale images), scaled to `[0, 1]`
//! and stored CHW, `sample_shape` `[3, 64, 64]`. Training images are taken class by class in
//! `wnids.txt` order, each class's files sorted by name; validation images in the order of
//! `val_annotations.txt`. Every missing piece of the layout is an error naming it.

use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::error::DataError;

/// Side of a Tiny ImageNet image.
pub const TINY_SIDE: usize = 64;
const ARCHIVE_DIR: &str = "tiny-imagenet-200";

fn io(path: &Path, source: std::io::Error) -> DataError {
    DataError::Io { path: path.to_path_buf(), source }
}

fn bad(path: &Path, detail: String) -> DataError {
    DataError::BadDimensions { path: path.to_path_buf(), detail }
}

fn need_folder(path: &Path, expected: &str) -> Result<(), DataError> {
    if path.is_dir() {
        return Ok(());
    }
    let found = if path.exists() { "not a folder" } else { "no such folder" };
    Err(DataError::NotAFolder { path: path.to_path_buf(), found: found.into(), expected: expected.into() })
}

fn need_file(path: &Path) -> Result<(), DataError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(DataError::Missing { path: path.to_path_buf() })
    }
}

/// The folder holding `wnids.txt`: `dir` itself or its `tiny-imagenet-200/`.
fn root(dir: &Path) -> Result<PathBuf, DataError> {
    need_folder(dir, "the Tiny ImageNet folder (with wnids.txt, train/ and val/)")?;
    for base in [dir.to_path_buf(), dir.join(ARCHIVE_DIR)] {
        if base.join("wnids.txt").is_file() {
            return Ok(base);
        }
    }
    Err(DataError::NotInDir {
        dir: dir.to_path_buf(),
        what: "Tiny ImageNet class list".into(),
        looked_for: vec!["wnids.txt".into(), format!("{ARCHIVE_DIR}/wnids.txt")],
    })
}

/// The class ids of `wnids.txt`, in file order (blank lines skipped; a repeated id is an error).
pub fn read_wnids(path: &Path) -> Result<Vec<String>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
    let mut ids: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let id = line.trim();
        if id.is_empty() {
            continue;
        }
        if ids.iter().any(|w| w.as_str() == id) {
            return Err(bad(path, format!("line {}: class `{id}` is listed twice", i + 1)));
        }
        ids.push(id.to_string());
    }
    if ids.is_empty() {
        return Err(bad(path, "lists no classes".into()));
    }
    Ok(ids)
}

/// Decodes one JPEG into CHW RGB values in `[0, 1]`, appended to `out`; it must be 64×64.
fn append_image(path: &Path, out: &mut Vec<f32>) -> Result<(), DataError> {
    let bytes = std::fs::read(path).map_err(|e| io(path, e))?;
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map_err(|e| bad(path, format!("not a readable JPEG: {e}")))?;
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    if (w as usize, h as usize) != (TINY_SIDE, TINY_SIDE) {
        return Err(bad(path, format!("image is {w}x{h}, expected {TINY_SIDE}x{TINY_SIDE}")));
    }
    let raw = rgb.as_raw();
    let plane = TINY_SIDE * TINY_SIDE;
    out.reserve(3 * plane);
    for c in 0..3 {
        out.extend((0..plane).map(|p| f32::from(raw[3 * p + c]) / 255.0));
    }
    Ok(())
}

fn jpegs_in(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("jpeg") || x == "jpg"))
        .collect();
    files.sort();
    Ok(files)
}

/// Tiny ImageNet's training set (`train = true`) or its labelled validation set (`train =
/// false`), from `dir` in the archive's layout (see the module documentation). The classes are
/// those of `wnids.txt` (200 in the real archive; any number in small copies).
pub fn load_tiny_imagenet(dir: &Path, train: bool) -> Result<Dataset, DataError> {
    let base = root(dir)?;
    let wnids = read_wnids(&base.join("wnids.txt"))?;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    if train {
        let train_dir = base.join("train");
        need_folder(&train_dir, "the training images, one folder per class (train/<wnid>/images/)")?;
        for (label, wnid) in wnids.iter().enumerate() {
            let class_dir = train_dir.join(wnid).join("images");
            need_folder(&class_dir, &format!("the training images of class `{wnid}` (listed in wnids.txt)"))?;
            let files = jpegs_in(&class_dir)?;
            if files.is_empty() {
                return Err(DataError::NotInDir {
                    dir: class_dir,
                    what: format!("training images of class `{wnid}`"),
                    looked_for: vec!["*.JPEG".into()],
                });
            }
            for f in files {
                append_image(&f, &mut images)?;
                labels.push(label as u32);
            }
        }
    } else {
        let val_dir = base.join("val");
        need_folder(&val_dir, "the validation set (val/images/ and val/val_annotations.txt)")?;
        let img_dir = val_dir.join("images");
        need_folder(&img_dir, "the validation images")?;
        let ann = val_dir.join("val_annotations.txt");
        need_file(&ann)?;
        let text = std::fs::read_to_string(&ann).map_err(|e| io(&ann, e))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut fields = line.split('\t');
            let (Some(file), Some(wnid)) = (fields.next(), fields.next()) else {
                return Err(bad(&ann, format!("line {}: expected `<file>\\t<wnid>\\t...`, found `{line}`", i + 1)));
            };
            let label = wnids
                .iter()
                .position(|w| w == wnid.trim())
                .ok_or_else(|| bad(&ann, format!("line {}: class `{}` is not in wnids.txt", i + 1, wnid.trim())))?;
            let path = img_dir.join(file.trim());
            need_file(&path)?;
            append_image(&path, &mut images)?;
            labels.push(label as u32);
        }
        if labels.is_empty() {
            return Err(bad(&ann, "lists no validation images".into()));
        }
    }
    let name = format!("tiny-imagenet ({})", if train { "train" } else { "val" });
    Dataset::new(name, images, labels, vec![3, TINY_SIDE, TINY_SIDE], wnids.len())
}
