//! Speed of the data path: loading the shipped subset, shuffling an epoch, gathering a batch.

use criterion::{criterion_group, criterion_main, Criterion};
use optlab_data::{shipped_mnist, shuffle_into};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    c.bench_function("shipped_mnist (5000 digits, gunzip + decode)", |b| b.iter(|| shipped_mnist().unwrap()));
    let d = shipped_mnist().unwrap();
    let mut perm = vec![0; 60_000];
    c.bench_function("shuffle_into 60000", |b| b.iter(|| shuffle_into(black_box(&mut perm), 1, 2)));
    let idx: Vec<usize> = (0..128).map(|k| (k * 37) % d.len()).collect();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    c.bench_function("gather batch 128 x 784", |b| b.iter(|| d.gather(black_box(&idx), &mut x, &mut y)));
}

criterion_group!(benches, bench);
criterion_main!(benches);
