mod common;

use common::*;
use optlab_data::{load_cifar10, DataError, CIFAR_RECORD};

fn batch(labels: &[u8], seed0: usize) -> Vec<u8> {
    labels.iter().enumerate().flat_map(|(k, &l)| cifar_record(l, seed0 + k)).collect()
}

#[test]
fn single_file_loads_exact_chw_values() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = batch(&[3, 0, 9], 0);
    let f = write(dir.path(), "test_batch.bin", &bytes);
    let d = load_cifar10(&f, true).unwrap();
    assert_eq!(d.len(), 3);
    assert_eq!(d.labels, vec![3, 0, 9]);
    assert_eq!(d.sample_shape, vec![3, 32, 32]);
    assert_eq!(d.classes, 10);
    assert_eq!(d.name, "cifar10 (test_batch.bin)");
    for k in 0..3 {
        let rec = &bytes[k * CIFAR_RECORD..(k + 1) * CIFAR_RECORD];
        let want: Vec<f32> = rec[1..].iter().map(|&b| b as f32 / 255.0).collect();
        assert_eq!(d.sample(k).0, &want[..]);
    }
    // Channel 1 (green), row 2, column 5 of sample 1 is record byte 1 + 1024 + 2*32 + 5.
    assert_eq!(d.sample(1).0[1024 + 69], bytes[CIFAR_RECORD + 1 + 1024 + 69] as f32 / 255.0);
}

#[test]
fn directory_train_and_test() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for b in 1..=5 {
        write(d, &format!("data_batch_{b}.bin"), &batch(&[b as u8, 9 - b as u8], 10 * b));
    }
    write(d, "test_batch.bin", &batch(&[7], 99));
    let train = load_cifar10(d, true).unwrap();
    assert_eq!(train.labels, vec![1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
    assert_eq!(train.name, "cifar10 (train)");
    assert_eq!(train.sample(9).0[0], cifar_record(4, 51)[1] as f32 / 255.0);
    let test = load_cifar10(d, false).unwrap();
    assert_eq!(test.labels, vec![7]);
    assert_eq!(test.images, cifar_record(7, 99)[1..].iter().map(|&b| b as f32 / 255.0).collect::<Vec<_>>());
}

#[test]
fn archive_subdirectory_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&sub).unwrap();
    write(&sub, "test_batch.bin", &gz(&batch(&[2, 2], 0)));
    assert_eq!(load_cifar10(dir.path(), false).unwrap().labels, vec![2, 2]);
}

#[test]
fn size_not_a_multiple_of_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = batch(&[1, 2], 0);
    bytes.pop();
    let f = write(dir.path(), "short.bin", &bytes);
    let e = load_cifar10(&f, true).unwrap_err();
    assert!(matches!(e, DataError::CifarSize { size: 6145, record: 3073, .. }), "{e:?}");
    assert!(e.to_string().contains("short.bin") && e.to_string().contains("6145"), "{e}");
    let f = write(dir.path(), "empty.bin", &[]);
    assert!(matches!(load_cifar10(&f, true).unwrap_err(), DataError::CifarSize { size: 0, .. }));
}

#[test]
fn label_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "b.bin", &batch(&[1, 2, 10], 0));
    let e = load_cifar10(&f, true).unwrap_err();
    assert!(matches!(e, DataError::LabelOutOfRange { index: 2, value: 10, .. }), "{e:?}");
}

#[test]
fn missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = load_cifar10(&d.join("nothing.bin"), true).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }) && e.to_string().contains("nothing.bin"), "{e:?}");
    let e = load_cifar10(d, false).unwrap_err();
    assert!(matches!(e, DataError::NotInDir { .. }), "{e:?}");
    assert!(e.to_string().contains("test_batch.bin"), "{e}");
    // A partial training set is an error naming the first missing batch.
    for b in [1, 2, 4, 5] {
        write(d, &format!("data_batch_{b}.bin"), &batch(&[0], b));
    }
    let e = load_cifar10(d, true).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }) && e.to_string().contains("data_batch_3.bin"), "{e:?}");
}

/// A single training batch validates on the `test_batch.bin` beside it, never on itself.
#[test]
fn single_file_takes_the_test_batch_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = write(d, "data_batch_1.bin", &batch(&[1, 2, 3], 0));
    // No test batch beside it: an error naming what was looked for, not the training records.
    let e = load_cifar10(&train, false).unwrap_err();
    assert!(matches!(e, DataError::NotInDir { .. }), "{e:?}");
    assert!(e.to_string().contains("test_batch.bin") && e.to_string().contains("data_batch_1.bin"), "{e}");
    write(d, "test_batch.bin", &batch(&[7, 8], 50));
    assert_eq!(load_cifar10(&train, true).unwrap().labels, vec![1, 2, 3]);
    let test = load_cifar10(&train, false).unwrap();
    assert_eq!(test.labels, vec![7, 8]);
    assert_eq!(test.name, "cifar10 (test_batch.bin)");
    // Training on the test batch itself: refused when asked for its validation set.
    let e = load_cifar10(&d.join("test_batch.bin"), false).unwrap_err();
    assert!(matches!(e, DataError::TrainIsTest { .. }), "{e:?}");
    assert!(e.to_string().contains("test_batch.bin") && e.to_string().contains("validate"), "{e}");
}
