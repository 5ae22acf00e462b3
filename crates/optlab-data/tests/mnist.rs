mod common;

use common::*;
use optlab_data::{load_mnist, load_mnist_dir, DataError};

#[test]
fn raw_idx_loads_exact_values() {
    let dir = tempfile::tempdir().unwrap();
    let px = pattern(2);
    let i = write(dir.path(), "imgs", &idx_images(2, 28, 28, &px));
    let l = write(dir.path(), "lbls", &idx_labels(2, &[3, 9]));
    let d = load_mnist(&i, &l).unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d.sample_shape, vec![1, 28, 28]);
    assert_eq!(d.classes, 10);
    assert_eq!(d.labels, vec![3, 9]);
    assert_eq!(d.name, "mnist (imgs)");
    let want: Vec<f32> = px.iter().map(|&b| b as f32 / 255.0).collect();
    assert_eq!(d.images, want);
    // 255 maps to exactly 1 and 0 to exactly 0.
    assert!(px.contains(&255) && px.contains(&0));
    assert_eq!(d.images.iter().cloned().fold(f32::MIN, f32::max), 1.0);
    assert_eq!(d.images.iter().cloned().fold(f32::MAX, f32::min), 0.0);
}

#[test]
fn gzip_is_detected_by_magic_not_extension() {
    let dir = tempfile::tempdir().unwrap();
    let px = pattern(3);
    // gzipped data without a .gz extension, raw data with one.
    let i = write(dir.path(), "images.idx", &gz(&idx_images(3, 28, 28, &px)));
    let l = write(dir.path(), "labels.gz", &idx_labels(3, &[0, 5, 7]));
    let d = load_mnist(&i, &l).unwrap();
    assert_eq!(d.labels, vec![0, 5, 7]);
    assert_eq!(d.sample(2).0[100], px[2 * 784 + 100] as f32 / 255.0);
    assert_eq!(d.images.len(), 3 * 784);
}

#[test]
fn missing_file_names_path() {
    let dir = tempfile::tempdir().unwrap();
    let l = write(dir.path(), "l", &idx_labels(0, &[]));
    let missing = dir.path().join("nope-images");
    let e = load_mnist(&missing, &l).unwrap_err();
    assert!(matches!(&e, DataError::Missing { path } if *path == missing), "{e:?}");
    assert!(e.to_string().contains("nope-images"), "{e}");
}

#[test]
fn truncated_image_file_reports_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i", &idx_images(3, 28, 28, &pattern(2)));
    let l = write(dir.path(), "l", &idx_labels(3, &[1, 2, 3]));
    let e = load_mnist(&i, &l).unwrap_err();
    match &e {
        DataError::Truncated { expected, found, path, .. } => {
            assert_eq!((*expected, *found), (16 + 3 * 784, 16 + 2 * 784));
            assert_eq!(path, &i);
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("expected 2368 bytes, found 1584"), "{msg}");
}

#[test]
fn truncated_header_and_truncated_labels() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i", &idx_images(1, 28, 28, &pattern(1))[..10]);
    let l = write(dir.path(), "l", &idx_labels(1, &[1]));
    let e = load_mnist(&i, &l).unwrap_err();
    assert!(matches!(e, DataError::Truncated { expected: 16, found: 10, .. }), "{e:?}");

    let i = write(dir.path(), "i", &idx_images(2, 28, 28, &pattern(2)));
    let l = write(dir.path(), "l", &idx_labels(2, &[1]));
    let e = load_mnist(&i, &l).unwrap_err();
    assert!(matches!(&e, DataError::Truncated { expected: 10, found: 9, path, .. } if *path == l), "{e:?}");
}

#[test]
fn trailing_data_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = idx_images(1, 28, 28, &pattern(1));
    bytes.push(0);
    let i = write(dir.path(), "i", &bytes);
    let l = write(dir.path(), "l", &idx_labels(1, &[4]));
    let e = load_mnist(&i, &l).unwrap_err();
    assert!(matches!(e, DataError::TrailingData { expected: 800, found: 801, .. }), "{e:?}");
}

#[test]
fn wrong_magic_reports_found_and_expected() {
    let dir = tempfile::tempdir().unwrap();
    let l = write(dir.path(), "l", &idx_labels(1, &[4]));
    let i = write(dir.path(), "i", &idx_images(1, 28, 28, &pattern(1)));
    // Files swapped.
    let e = load_mnist(&l, &i).unwrap_err();
    assert!(matches!(e, DataError::BadMagic { found: 0x801, expected: 0x803, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("0x00000801") && msg.contains("0x00000803"), "{msg}");
    let e = load_mnist(&i, &i).unwrap_err();
    assert!(matches!(&e, DataError::BadMagic { found: 0x803, expected: 0x801, path, .. } if *path == i), "{e:?}");
}

#[test]
fn wrong_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i", &idx_images(1, 28, 27, &vec![0; 28 * 27]));
    let l = write(dir.path(), "l", &idx_labels(1, &[4]));
    let e = load_mnist(&i, &l).unwrap_err();
    assert!(matches!(e, DataError::BadDimensions { .. }), "{e:?}");
    assert!(e.to_string().contains("28x27, expected 28x28"), "{e}");
}

#[test]
fn label_out_of_range_names_index_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i", &idx_images(3, 28, 28, &pattern(3)));
    let l = write(dir.path(), "l", &idx_labels(3, &[1, 9, 10]));
    let e = load_mnist(&i, &l).unwrap_err();
    assert!(matches!(e, DataError::LabelOutOfRange { index: 2, value: 10, classes: 10, .. }), "{e:?}");
    assert!(e.to_string().contains("label 10 at index 2"), "{e}");
}

#[test]
fn mismatched_counts_name_both_files_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "some-images", &idx_images(2, 28, 28, &pattern(2)));
    let l = write(dir.path(), "some-labels", &idx_labels(3, &[1, 2, 3]));
    let e = load_mnist(&i, &l).unwrap_err();
    assert!(matches!(e, DataError::CountMismatch { images: 2, labels: 3, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("some-images") && msg.contains("some-labels"), "{msg}");
    assert!(msg.contains("2 images") && msg.contains("3 labels"), "{msg}");
}

#[test]
fn corrupt_and_truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let l = write(dir.path(), "l", &idx_labels(2, &[1, 2]));
    let good = gz(&idx_images(2, 28, 28, &pattern(2)));
    // Truncated stream.
    let i = write(dir.path(), "cut.gz", &good[..good.len() / 2]);
    let e = load_mnist(&i, &l).unwrap_err();
    assert!(matches!(&e, DataError::CorruptGzip { path, .. } if *path == i), "{e:?}");
    assert!(e.to_string().contains("cut.gz") && e.to_string().contains("corrupt gzip"), "{e}");
    // Garbage after a valid gzip magic.
    let mut bad = vec![0x1f, 0x8b];
    bad.extend_from_slice(&[0xAB; 200]);
    let i = write(dir.path(), "garbage.gz", &bad);
    assert!(matches!(load_mnist(&i, &l).unwrap_err(), DataError::CorruptGzip { .. }));
    // Flipped bytes in the middle of the deflate data (caught at the latest by the CRC).
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 8] {
        *b ^= 0x5A;
    }
    let i = write(dir.path(), "flipped.gz", &flipped);
    assert!(matches!(load_mnist(&i, &l).unwrap_err(), DataError::CorruptGzip { .. }));
}

#[test]
fn directory_with_standard_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "train-images-idx3-ubyte.gz", &gz(&idx_images(2, 28, 28, &pattern(2))));
    write(d, "train-labels-idx1-ubyte.gz", &gz(&idx_labels(2, &[6, 1])));
    write(d, "t10k-images-idx3-ubyte", &idx_images(1, 28, 28, &pattern(1)));
    write(d, "t10k-labels-idx1-ubyte", &idx_labels(1, &[8]));
    let train = load_mnist_dir(d, true).unwrap();
    assert_eq!(train.labels, vec![6, 1]);
    assert_eq!(train.name, "mnist (train-images-idx3-ubyte.gz)");
    let test = load_mnist_dir(d, false).unwrap();
    assert_eq!(test.labels, vec![8]);
    assert_eq!(test.images, pattern(1).iter().map(|&b| b as f32 / 255.0).collect::<Vec<_>>());
}

#[test]
fn directory_with_dot_variant_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "t10k-images.idx3-ubyte", &idx_images(2, 28, 28, &pattern(2)));
    write(d, "t10k-labels.idx1-ubyte.gz", &gz(&idx_labels(2, &[2, 3])));
    assert_eq!(load_mnist_dir(d, false).unwrap().labels, vec![2, 3]);
}

#[test]
fn directory_missing_files_lists_what_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "train-images-idx3-ubyte", &idx_images(1, 28, 28, &pattern(1)));
    let e = load_mnist_dir(d, true).unwrap_err();
    assert!(matches!(e, DataError::NotInDir { .. }), "{e:?}");
    let msg = e.to_string();
    for name in ["train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte", "train-labels.idx1-ubyte"] {
        assert!(msg.contains(name), "{msg}");
    }
    let e = load_mnist_dir(&d.join("absent"), true).unwrap_err();
    assert!(matches!(e, DataError::NotAFolder { .. }) && e.to_string().contains("absent"), "{e:?}");
    assert!(e.to_string().contains("no such folder"), "{e}");
}

/// `--data` naming a file where the folder of IDX files is expected says so and names the files.
#[test]
fn a_file_where_the_folder_is_expected_names_the_folder_contents() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "train-images-idx3-ubyte", &idx_images(1, 28, 28, &pattern(1)));
    for train in [true, false] {
        let e = load_mnist_dir(&f, train).unwrap_err();
        assert!(matches!(e, DataError::NotAFolder { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(&*f.to_string_lossy()) && msg.contains("is a file, not a folder"), "{msg}");
        assert!(!msg.contains("no such file"), "{msg}");
        for name in
            ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        {
            assert!(msg.contains(name), "{msg}");
        }
    }
}

/// gzip of `head` followed by `zeros` zero bytes, written in chunks (the zeros are never in memory at once).
fn gz_with_zeros(head: &[u8], zeros: usize) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(head).unwrap();
    let chunk = vec![0u8; 1 << 16];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(chunk.len());
        e.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    e.finish().unwrap()
}

#[test]
fn gzip_bomb_past_the_announced_size_is_refused_without_inflating_it() {
    // A valid header announcing 2 images (1,584 bytes), then 2 images, then 8 MiB of zeros: an
    // 8 KB file. The stream is refused one byte past the announced size (it used to be inflated
    // whole, then reported as trailing data).
    let dir = tempfile::tempdir().unwrap();
    let bomb = gz_with_zeros(&idx_images(2, 28, 28, &pattern(2)), 8 << 20);
    assert!(bomb.len() < 20_000, "{}", bomb.len());
    let i = write(dir.path(), "bomb-images.gz", &bomb);
    let l = write(dir.path(), "l", &idx_labels(2, &[1, 2]));
    let e = load_mnist(&i, &l).unwrap_err();
    assert!(matches!(&e, DataError::InflatesPastHeader { announced: 1584, path, .. } if *path == i), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("bomb-images.gz") && msg.contains("more than the 1584 bytes its header announces"), "{msg}");
    // The same for a label file.
    let i = write(dir.path(), "i", &idx_images(2, 28, 28, &pattern(2)));
    let l = write(dir.path(), "bomb-labels.gz", &gz_with_zeros(&idx_labels(2, &[1, 2]), 8 << 20));
    let e = load_mnist(&i, &l).unwrap_err();
    assert!(matches!(&e, DataError::InflatesPastHeader { announced: 10, path, .. } if *path == l), "{e:?}");
    // A gzip file inflating to exactly the announced size loads (and one byte less is truncated).
    let l = write(dir.path(), "l.gz", &gz(&idx_labels(2, &[1, 2])));
    assert_eq!(load_mnist(&i, &l).unwrap().labels, vec![1, 2]);
    let l = write(dir.path(), "l.gz", &gz(&idx_labels(2, &[1])));
    let e = load_mnist(&i, &l).unwrap_err();
    assert!(matches!(e, DataError::Truncated { expected: 10, found: 9, .. }), "{e:?}");
}

#[test]
fn absurd_header_dimensions_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let l = write(dir.path(), "l", &idx_labels(1, &[1]));
    let announced = 16 + u64::from(u32::MAX) * 784;
    // 2^32 - 1 images, raw and gzipped (followed by 8 MiB of zeros, which used to be inflated
    // before the size was compared): above the 1 GiB limit of one data file.
    for (name, bytes) in [
        ("huge-raw", idx_images(u32::MAX, 28, 28, &pattern(1))),
        ("huge.gz", gz_with_zeros(&idx_images(u32::MAX, 28, 28, &[]), 8 << 20)),
    ] {
        let i = write(dir.path(), name, &bytes);
        let e = load_mnist(&i, &l).unwrap_err();
        assert!(matches!(&e, DataError::AnnouncedTooLarge { announced: a, .. } if *a == announced), "{name}: {e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains(name)
                && msg.contains(&format!("header announces {announced} bytes (4294967295 images of 28x28)"))
                && msg.contains("more than the limit of 1073741824 bytes for one data file"),
            "{msg}"
        );
    }
    // Within the limit, but more than a small gzip file can inflate to (deflate: at most 1032:1).
    let small = gz(&idx_images(1_000_000, 28, 28, &pattern(1)));
    let i = write(dir.path(), "small.gz", &small);
    let e = load_mnist(&i, &l).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::AnnouncedTooLarge { announced: 784_000_016, .. }), "{msg}");
    assert!(msg.contains(&format!("its {}-byte gzip file can inflate to", small.len())), "{msg}");
    // A label file announcing 2^32 - 1 labels (the limit is `MAX_FILE_BYTES`, 1 GiB).
    let i = write(dir.path(), "i", &idx_images(1, 28, 28, &pattern(1)));
    let l = write(dir.path(), "huge-labels", &idx_labels(u32::MAX, &[1]));
    let e = load_mnist(&i, &l).unwrap_err();
    assert!(matches!(e, DataError::AnnouncedTooLarge { announced: 4_294_967_303, .. }), "{e:?}");
}
