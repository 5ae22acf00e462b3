//! The in-memory dataset: images (or feature vectors) as one flat `f32` buffer plus `u32` labels.

use crate::error::DataError;
use crate::rng::{Rng, STREAM_SPLIT};

/// A labelled dataset held in memory.
///
/// Sample `i` occupies `images[i * sample_len() .. (i + 1) * sample_len()]`, laid out as `sample_shape`
/// (row-major, CHW for images). Labels are `< classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Human-readable name, e.g. `"mnist-5k"`, `"mnist (train-images-idx3-ubyte.gz)"`, `"two-gaussians"`.
    pub name: String,
    /// `len() * sample_len()` values, sample after sample.
    pub images: Vec<f32>,
    /// One label per sample, each `< classes`.
    pub labels: Vec<u32>,
    /// `[1, 28, 28]` for MNIST, `[3, 32, 32]` for CIFAR-10 (CHW), `[d]` for feature vectors.
    pub sample_shape: Vec<usize>,
    /// Number of classes.
    pub classes: usize,
}

impl Dataset {
    /// Builds a dataset, checking that the buffer length matches `labels.len() * product(sample_shape)` and
    /// that every label is `< classes`.
    pub fn new(
        name: impl Into<String>,
        images: Vec<f32>,
        labels: Vec<u32>,
        sample_shape: Vec<usize>,
        classes: usize,
    ) -> Result<Dataset, DataError> {
        let name = name.into();
        let sample_len: usize = sample_shape.iter().product();
        if images.len() != labels.len() * sample_len {
            return Err(DataError::Invalid {
                detail: format!(
                    "{} values for {} labels of shape {:?} (expected {})",
                    images.len(),
                    labels.len(),
                    sample_shape,
                    labels.len() * sample_len
                ),
                dataset: name,
            });
        }
        if let Some((index, &value)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= classes) {
            return Err(DataError::Invalid {
                detail: format!("label {value} at index {index} is out of range (classes: {classes})"),
                dataset: name,
            });
        }
        Ok(Dataset { name, images, labels, sample_shape, classes })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per sample: the product of `sample_shape`.
    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// Sample `i` and its label. Panics if `i >= len()`, like slice indexing.
    pub fn sample(&self, i: usize) -> (&[f32], u32) {
        let s = self.sample_len();
        (&self.images[i * s..(i + 1) * s], self.labels[i])
    }

    /// A new dataset with the samples `idx` (in that order, repeats allowed); same name, shape and classes.
    /// Panics if an index is `>= len()`.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let mut images = Vec::new();
        let mut labels = Vec::new();
        self.gather(idx, &mut images, &mut labels);
        Dataset {
            name: self.name.clone(),
            images,
            labels,
            sample_shape: self.sample_shape.clone(),
            classes: self.classes,
        }
    }

    /// Seeded, stratified split into `(train, val)`.
    ///
    /// The validation part has exactly `round(len * val_fraction)` samples. Each class contributes its
    /// proportional share (largest-remainder rounding, ties to the lower class), the members chosen by a
    /// seeded shuffle of that class's indices. Both parts keep the original sample order. Errors if
    /// `val_fraction` is not inside (0, 1) or either part would be empty.
    pub fn split(&self, val_fraction: f64, seed: u64) -> Result<(Dataset, Dataset), DataError> {
        let n = self.len();
        let bad =
            |detail: String| DataError::BadSplit { dataset: self.name.clone(), len: n, fraction: val_fraction, detail };
        if !(val_fraction > 0.0 && val_fraction < 1.0) {
            return Err(bad("the fraction must lie strictly between 0 and 1".into()));
        }
        let n_val = (n as f64 * val_fraction).round() as usize;
        if n_val == 0 || n_val >= n {
            return Err(bad(format!("it would give {n_val} validation and {} training samples", n - n_val.min(n))));
        }
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.classes];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class[l as usize].push(i);
        }
        // Largest-remainder apportionment of n_val over the classes.
        let mut quota: Vec<usize> = by_class.iter().map(|m| m.len() * n_val / n).collect();
        let mut given: usize = quota.iter().sum();
        let mut order: Vec<usize> = (0..self.classes).collect();
        // Remainder of count*n_val/n is (count*n_val) % n; larger remainders first, ties by class index.
        order.sort_by_key(|&c| std::cmp::Reverse((by_class[c].len() * n_val) % n));
        for &c in order.iter().cycle() {
            if given == n_val {
                break;
            }
            if quota[c] < by_class[c].len() {
                quota[c] += 1;
                given += 1;
            }
        }
        let mut rng = Rng::new(seed, STREAM_SPLIT);
        let mut is_val = vec![false; n];
        for (members, &q) in by_class.iter_mut().zip(&quota) {
            rng.shuffle(members);
            for &i in &members[..q] {
                is_val[i] = true;
            }
        }
        let val_idx: Vec<usize> = (0..n).filter(|&i| is_val[i]).collect();
        let train_idx: Vec<usize> = (0..n).filter(|&i| !is_val[i]).collect();
        Ok((self.subset(&train_idx), self.subset(&val_idx)))
    }

    /// The first `n` samples (all of them if `n >= len()`).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        let s = self.sample_len();
        Dataset {
            name: self.name.clone(),
            images: self.images[..n * s].to_vec(),
            labels: self.labels[..n].to_vec(),
            sample_shape: self.sample_shape.clone(),
            classes: self.classes,
        }
    }

    /// Number of channels `channel_stats`/`normalise` work with: `sample_shape[0]` for multi-dimensional
    /// samples (CHW images), every feature for 1-D samples.
    pub fn channels(&self) -> usize {
        match self.sample_shape.len() {
            0 => 1,
            1 => self.sample_shape[0],
            _ => self.sample_shape[0],
        }
    }

    /// Per-channel mean and (population) standard deviation over all samples and positions, accumulated in
    /// `f64`. Channels are `sample_shape[0]` for images and each feature for 1-D samples. An empty dataset
    /// gives zeros.
    pub fn channel_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let c = self.channels();
        let s = self.sample_len();
        if c == 0 || s == 0 || self.is_empty() {
            return (vec![0.0; c], vec![0.0; c]);
        }
        let plane = s / c;
        let count = (self.len() * plane) as f64;
        let mut sum = vec![0f64; c];
        for sample in self.images.chunks_exact(s) {
            for (acc, chan) in sum.iter_mut().zip(sample.chunks_exact(plane)) {
                *acc += chan.iter().map(|&v| f64::from(v)).sum::<f64>();
            }
        }
        let mean: Vec<f64> = sum.iter().map(|&t| t / count).collect();
        let mut sq = vec![0f64; c];
        for sample in self.images.chunks_exact(s) {
            for ((acc, chan), &m) in sq.iter_mut().zip(sample.chunks_exact(plane)).zip(&mean) {
                *acc += chan.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>();
            }
        }
        let std = sq.iter().map(|&t| (t / count).sqrt() as f32).collect();
        (mean.iter().map(|&m| m as f32).collect(), std)
    }

    /// `x = (x - mean[c]) / std[c]` for every value of channel `c`. Errors (and leaves the data untouched) if
    /// the lengths are not `channels()` or a mean is not finite or a std is not finite and positive.
    pub fn normalise(&mut self, mean: &[f32], std: &[f32]) -> Result<(), DataError> {
        let c = self.channels();
        let bad = |detail: String| DataError::BadStats { dataset: self.name.clone(), detail };
        if mean.len() != c || std.len() != c {
            return Err(bad(format!("{} means and {} stds given, expected {c} (channels)", mean.len(), std.len())));
        }
        if let Some((i, m)) = mean.iter().enumerate().find(|(_, m)| !m.is_finite()) {
            return Err(bad(format!("mean[{i}] = {m} is not finite")));
        }
        if let Some((i, s)) = std.iter().enumerate().find(|(_, s)| !(s.is_finite() && **s > 0.0)) {
            return Err(bad(format!("std[{i}] = {s} is not finite and positive")));
        }
        let s = self.sample_len();
        if s == 0 {
            return Ok(());
        }
        let plane = s / c;
        let inv: Vec<f32> = std.iter().map(|&v| 1.0 / v).collect();
        for sample in self.images.chunks_exact_mut(s) {
            for ((chan, &m), &k) in sample.chunks_exact_mut(plane).zip(mean).zip(&inv) {
                for v in chan {
                    *v = (*v - m) * k;
                }
            }
        }
        Ok(())
    }

    /// Copies the samples `idx` into `x` (cleared first; afterwards `x.len() == idx.len() * sample_len()`) and
    /// their labels into `y`. Allocates only if `x`/`y` lack capacity, so reusing them across batches makes
    /// this allocation-free. Panics if an index is `>= len()`.
    pub fn gather(&self, idx: &[usize], x: &mut Vec<f32>, y: &mut Vec<u32>) {
        let s = self.sample_len();
        x.clear();
        y.clear();
        x.reserve(idx.len() * s);
        y.reserve(idx.len());
        for &i in idx {
            x.extend_from_slice(&self.images[i * s..(i + 1) * s]);
            y.push(self.labels[i]);
        }
    }

    /// Samples per class, `classes` entries.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        // 4 samples of shape [2, 1, 2]: channel 0 = (i, i+1), channel 1 = (10i, -10i).
        let images = (0..4)
            .flat_map(|i| {
                let i = i as f32;
                [i, i + 1.0, 10.0 * i, -10.0 * i]
            })
            .collect();
        Dataset::new("tiny", images, vec![0, 1, 1, 2], vec![2, 1, 2], 3).unwrap()
    }

    #[test]
    fn new_validates_lengths_and_labels() {
        let e = Dataset::new("a", vec![0.0; 5], vec![0, 1], vec![3], 2).unwrap_err();
        assert!(e.to_string().contains("5 values for 2 labels of shape [3] (expected 6)"), "{e}");
        let e = Dataset::new("b", vec![0.0; 6], vec![0, 2], vec![3], 2).unwrap_err();
        assert!(e.to_string().contains("label 2 at index 1 is out of range"), "{e}");
        assert!(e.to_string().contains("\"b\""), "{e}");
    }

    #[test]
    fn accessors() {
        let d = tiny();
        assert_eq!((d.len(), d.sample_len(), d.channels(), d.is_empty()), (4, 4, 2, false));
        assert_eq!(d.sample(2), (&[2.0, 3.0, 20.0, -20.0][..], 1));
        assert_eq!(d.class_counts(), vec![1, 2, 1]);
        let empty = d.take(0);
        assert!(empty.is_empty());
        assert_eq!(empty.class_counts(), vec![0, 0, 0]);
        assert_eq!(two_d().channels(), 3);
    }

    fn two_d() -> Dataset {
        Dataset::new("f", vec![1.0, 2.0, 3.0, 5.0, 6.0, 10.0], vec![0, 1], vec![3], 2).unwrap()
    }

    #[test]
    fn take_and_subset() {
        let d = tiny();
        let t = d.take(2);
        assert_eq!(t.labels, vec![0, 1]);
        assert_eq!(t.images, d.images[..8].to_vec());
        assert_eq!(d.take(99), d);
        let s = d.subset(&[3, 0, 3]);
        assert_eq!(s.labels, vec![2, 0, 2]);
        assert_eq!(s.sample(0).0, d.sample(3).0);
        assert_eq!(s.sample(1).0, d.sample(0).0);
        assert_eq!((s.name.as_str(), s.classes, s.sample_shape.clone()), ("tiny", 3, vec![2, 1, 2]));
    }

    #[test]
    fn channel_stats_exact() {
        let (mean, std) = tiny().channel_stats();
        // Channel 0 values: 0,1,1,2,2,3,3,4 -> mean 2, var (4+1+1+0+0+1+1+4)/8 = 1.5.
        // Channel 1 values: 0,0,10,-10,20,-20,30,-30 -> mean 0, var 2*(100+400+900)/8 = 350.
        assert_eq!(mean, vec![2.0, 0.0]);
        assert_eq!(std, vec![1.5f32.sqrt(), 350f32.sqrt()]);
        // 1-D samples: per feature.
        let (mean, std) = two_d().channel_stats();
        assert_eq!(mean, vec![3.0, 4.0, 6.5]);
        assert_eq!(std, vec![2.0, 2.0, 3.5]);
        assert_eq!(tiny().take(0).channel_stats(), (vec![0.0; 2], vec![0.0; 2]));
    }

    #[test]
    fn normalise_exact_and_errors_leave_data_untouched() {
        let mut d = two_d();
        d.normalise(&[3.0, 4.0, 6.5], &[2.0, 2.0, 3.5]).unwrap();
        assert_eq!(d.images, vec![-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]);
        let mut d = tiny();
        let before = d.clone();
        for (mean, std, needle) in [
            (vec![0.0], vec![1.0, 1.0], "1 means and 2 stds given, expected 2"),
            (vec![0.0, f32::NAN], vec![1.0, 1.0], "mean[1] = NaN"),
            (vec![0.0, 0.0], vec![1.0, 0.0], "std[1] = 0"),
            (vec![0.0, 0.0], vec![-1.0, 1.0], "std[0] = -1"),
            (vec![0.0, 0.0], vec![f32::INFINITY, 1.0], "std[0] = inf"),
        ] {
            let e = d.normalise(&mean, &std).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
            assert!(e.to_string().contains("tiny"), "{e}");
            assert_eq!(d, before);
        }
    }

    #[test]
    fn split_errors() {
        let d = tiny();
        for f in [0.0, 1.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            let e = d.split(f, 0).unwrap_err();
            assert!(e.to_string().contains("strictly between 0 and 1"), "{f}: {e}");
        }
        // 4 samples: 0.1 rounds to 0 validation samples, 0.9 to 4.
        let e = d.split(0.1, 0).unwrap_err();
        assert!(e.to_string().contains("0 validation and 4 training"), "{e}");
        let e = d.split(0.9, 0).unwrap_err();
        assert!(e.to_string().contains("4 validation and 0 training"), "{e}");
        assert!(e.to_string().contains("tiny") && e.to_string().contains("0.9"), "{e}");
    }

    #[test]
    fn split_is_seeded() {
        let labels: Vec<u32> = (0..200).map(|i| (i % 4) as u32).collect();
        let d = Dataset::new("s", (0..200).map(|i| i as f32).collect(), labels, vec![1], 4).unwrap();
        let (t1, v1) = d.split(0.25, 1).unwrap();
        let (_, v2) = d.split(0.25, 2).unwrap();
        assert_eq!(v1.len(), 50);
        assert_eq!(t1.len(), 150);
        assert_eq!(v1.class_counts(), vec![12 + 1, 12 + 1, 12, 12]);
        assert_ne!(v1.images, v2.images);
    }

    #[test]
    fn gather_reuses_capacity() {
        let d = tiny();
        let mut x = Vec::with_capacity(3 * d.sample_len());
        let mut y = Vec::with_capacity(3);
        let (px, py) = (x.as_ptr(), y.as_ptr());
        d.gather(&[1, 3, 2], &mut x, &mut y);
        d.gather(&[0, 0], &mut x, &mut y);
        assert_eq!((x.as_ptr(), y.as_ptr()), (px, py), "gather reallocated");
        assert_eq!(y, vec![0, 0]);
        assert_eq!(x, [d.sample(0).0, d.sample(0).0].concat());
    }
}
