// Helpers shared by the integration tests: writing small IDX / CIFAR files.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

pub fn idx_images(n: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0x0000_0803u32, n, rows, cols] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(pixels);
    b
}

pub fn idx_labels(n: u32, labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0x0000_0801u32, n] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(labels);
    b
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Deterministic pixel pattern of `n` 28x28 images.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n * 784).map(|k| ((k * 37 + k / 784 * 11) % 256) as u8).collect()
}

/// One CIFAR record: label byte then 3072 pixel bytes derived from `seed`.
pub fn cifar_record(label: u8, seed: usize) -> Vec<u8> {
    let mut r = vec![label];
    r.extend((0..3072).map(|k| ((k * 13 + seed * 101) % 256) as u8));
    r
}
