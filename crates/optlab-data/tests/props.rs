//! Property tests: shuffles, splits, gather, normalisation, synthetic data.

use optlab_data::{shuffle_into, shuffled, two_gaussians, Dataset};
use proptest::prelude::*;

/// A 1-feature dataset whose only feature is the sample index, with the given labels.
fn indexed(labels: Vec<u32>, classes: usize) -> Dataset {
    let images = (0..labels.len()).map(|i| i as f32).collect();
    Dataset::new("indexed", images, labels, vec![1], classes).unwrap()
}

fn is_permutation(p: &[usize]) -> bool {
    let mut seen = vec![false; p.len()];
    p.iter().all(|&i| i < p.len() && !std::mem::replace(&mut seen[i], true))
}

proptest! {
    #[test]
    fn shuffled_is_a_reproducible_permutation(n in 0usize..500, seed: u64, epoch: u64) {
        let p = shuffled(n, seed, epoch);
        prop_assert_eq!(p.len(), n);
        prop_assert!(is_permutation(&p));
        prop_assert_eq!(&p, &shuffled(n, seed, epoch));
        let mut q = vec![usize::MAX; n];
        shuffle_into(&mut q, seed, epoch);
        prop_assert_eq!(&p, &q);
    }

    #[test]
    fn shuffled_differs_per_epoch_and_seed(n in 20usize..300, seed: u64, epoch in 0u64..1_000_000) {
        // 20! > 2^61: equal permutations would mean the epoch or seed is ignored.
        let p = shuffled(n, seed, epoch);
        prop_assert_ne!(&p, &shuffled(n, seed, epoch + 1));
        prop_assert_ne!(&p, &shuffled(n, seed.wrapping_add(1), epoch));
    }

    #[test]
    fn split_is_stratified_disjoint_and_covering(
        labels in prop::collection::vec(0u32..5, 2..400),
        frac in 0.01f64..0.99,
        seed: u64,
    ) {
        let d = indexed(labels, 5);
        let n = d.len();
        let n_val = (n as f64 * frac).round() as usize;
        let result = d.split(frac, seed);
        if n_val == 0 || n_val == n {
            prop_assert!(result.is_err());
            return Ok(());
        }
        let (train, val) = result.unwrap();
        prop_assert_eq!(val.len(), n_val);
        prop_assert_eq!(train.len() + val.len(), n);
        let mut all: Vec<usize> = train.images.iter().chain(&val.images).map(|&v| v as usize).collect();
        // Each part keeps the original order.
        prop_assert!(train.images.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(val.images.windows(2).all(|w| w[0] < w[1]));
        all.sort_unstable();
        prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
        // Labels travel with their samples.
        for part in [&train, &val] {
            for k in 0..part.len() {
                prop_assert_eq!(part.labels[k], d.labels[part.images[k] as usize]);
            }
        }
        // Every class gives the floor or ceiling of its proportional share.
        for (c, (&total, &in_val)) in d.class_counts().iter().zip(&val.class_counts()).enumerate() {
            let share = total * n_val / n;
            let exact = share * n == total * n_val;
            prop_assert!(in_val == share || (!exact && in_val == share + 1),
                "class {} has {} of {} in val, share {}*{}/{}", c, in_val, total, total, n_val, n);
        }
        prop_assert_eq!(d.split(frac, seed).unwrap(), (train, val));
    }

    #[test]
    fn gather_copies_exactly(
        labels in prop::collection::vec(0u32..3, 1..60),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..80),
    ) {
        let n = labels.len();
        let images: Vec<f32> = (0..n * 6).map(|k| k as f32 * 0.5 - 3.0).collect();
        let d = Dataset::new("g", images, labels, vec![2, 3], 3).unwrap();
        let idx: Vec<usize> = picks.iter().map(|p| p.index(n)).collect();
        let mut x = vec![9.0; 3];
        let mut y = vec![7; 5];
        d.gather(&idx, &mut x, &mut y);
        prop_assert_eq!(x.len(), idx.len() * 6);
        prop_assert_eq!(y.len(), idx.len());
        for (k, &i) in idx.iter().enumerate() {
            let (s, l) = d.sample(i);
            prop_assert_eq!(&x[k * 6..(k + 1) * 6], s);
            prop_assert_eq!(y[k], l);
        }
        let sub = d.subset(&idx);
        prop_assert_eq!(sub.images, x);
        prop_assert_eq!(sub.labels, y);
    }

    #[test]
    fn normalise_gives_zero_mean_unit_std(
        n in 2usize..40,
        shift in -50f32..50.0,
        scale in 0.5f32..20.0,
        seed: u64,
    ) {
        // Three channels of 4x4 with different offsets and spreads.
        let perm = shuffled(n * 48, seed, 0);
        let images: Vec<f32> = perm.iter().enumerate()
            .map(|(k, &p)| shift * ((k / 16) % 3) as f32 + scale * (p as f32 / (n * 48) as f32 - 0.3))
            .collect();
        let mut d = Dataset::new("nrm", images, vec![0; n], vec![3, 4, 4], 1).unwrap();
        let (mean, std) = d.channel_stats();
        d.normalise(&mean, &std).unwrap();
        let (m2, s2) = d.channel_stats();
        for c in 0..3 {
            prop_assert!(m2[c].abs() < 1e-4, "channel {} mean {}", c, m2[c]);
            prop_assert!((s2[c] - 1.0).abs() < 1e-4, "channel {} std {}", c, s2[c]);
        }
    }

    #[test]
    fn two_gaussians_reproducible_and_balanced(n in 0usize..300, dim in 1usize..8, sep in 0f32..10.0, seed: u64) {
        let d = two_gaussians(n, dim, sep, seed);
        prop_assert_eq!(&d, &two_gaussians(n, dim, sep, seed));
        prop_assert_eq!(d.len(), n);
        prop_assert_eq!(d.sample_shape.clone(), vec![dim]);
        prop_assert_eq!(d.images.len(), n * dim);
        prop_assert_eq!(d.class_counts(), vec![n.div_ceil(2), n / 2]);
        prop_assert!(d.labels.iter().enumerate().all(|(k, &l)| l as usize == k % 2));
        prop_assert!(d.images.iter().all(|v| v.is_finite()));
        if n >= 2 {
            prop_assert_ne!(&d, &two_gaussians(n, dim, sep, seed.wrapping_add(1)));
        }
    }
}

#[test]
fn two_gaussians_moments() {
    let (n, dim, sep) = (20_000, 4, 3.0f32);
    let d = two_gaussians(n, dim, sep, 5);
    let c = sep as f64 / 2.0 / (dim as f64).sqrt();
    for class in 0..2u32 {
        let mut sum = vec![0f64; dim];
        let mut sq = vec![0f64; dim];
        for i in (0..n).filter(|&i| d.labels[i] == class) {
            for (j, &v) in d.sample(i).0.iter().enumerate() {
                sum[j] += v as f64;
                sq[j] += (v as f64).powi(2);
            }
        }
        let m = (n / 2) as f64;
        let centre = if class == 0 { -c } else { c };
        for j in 0..dim {
            let mean = sum[j] / m;
            let var = sq[j] / m - mean * mean;
            assert!((mean - centre).abs() < 0.04, "class {class} coord {j}: mean {mean}, want {centre}");
            assert!((var - 1.0).abs() < 0.05, "class {class} coord {j}: var {var}");
        }
    }
    // Distance between the empirical centres is the separation.
    let centre = |class: u32| -> Vec<f64> {
        let mut s = vec![0f64; dim];
        for i in (0..n).filter(|&i| d.labels[i] == class) {
            for (j, &v) in d.sample(i).0.iter().enumerate() {
                s[j] += v as f64 / (n / 2) as f64;
            }
        }
        s
    };
    let (a, b) = (centre(0), centre(1));
    let dist = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
    assert!((dist - sep as f64).abs() < 0.06, "distance {dist}");
}

#[test]
fn shuffled_edge_cases() {
    assert!(shuffled(0, 1, 1).is_empty());
    assert_eq!(shuffled(1, 1, 1), vec![0]);
    let mut empty: [usize; 0] = [];
    shuffle_into(&mut empty, 3, 4);
}

#[test]
fn shuffled_is_roughly_uniform() {
    // Position of element 0 over 10,000 epochs of a 10-permutation: each slot ~1,000 times.
    let mut hits = [0usize; 10];
    for epoch in 0..10_000 {
        let p = shuffled(10, 99, epoch);
        hits[p.iter().position(|&v| v == 0).unwrap()] += 1;
    }
    for (slot, &h) in hits.iter().enumerate() {
        assert!((880..1120).contains(&h), "slot {slot}: {h}");
    }
}
