//! Seeded image augmentation for training batches: random crop with zero padding and horizontal
//! flip (torchvision's `RandomCrop(size, padding=4)` and `RandomHorizontalFlip()`), reproducible
//! from `(seed, epoch)`.
//!
//! The augmentation of epoch `e` draws from the generator of [`crate::shuffled`] under the key of
//! `seed` and the stream `STREAM_AUGMENT ^ e`; per sample, in batch order: the crop offset `dy` in
//! `0..=2·pad`, then `dx`, then the flip (one draw below 2). It works on normalised data: the
//! padding is zeros, i.e. the channel mean.

use crate::rng::Rng;

/// Stream tag of [`Augmenter`] (xored with the epoch).
const STREAM_AUGMENT: u64 = 0x5311_7000_0000_0003;

/// The padding of the random crop (4 pixels, as in the CIFAR-10 ResNet recipes).
pub const CROP_PADDING: usize = 4;

/// Random crop (zero padding `pad`) and horizontal flip of CHW images, from one seeded generator
/// per epoch.
pub struct Augmenter {
    rng: Rng,
    pad: usize,
    scratch: Vec<f32>,
}

impl Augmenter {
    /// The generator of epoch `epoch` of a run seeded `seed`, crop padding `pad`.
    pub fn new(seed: u64, epoch: u64, pad: usize) -> Augmenter {
        Augmenter { rng: Rng::new(seed, STREAM_AUGMENT ^ epoch), pad, scratch: Vec::new() }
    }

    /// Augments every `[c, h, w]` image of `batch` (images one after another) in place.
    pub fn apply(&mut self, batch: &mut [f32], shape: [usize; 3]) {
        let [c, h, w] = shape;
        let len = c * h * w;
        if len == 0 {
            return;
        }
        let span = 2 * self.pad as u64 + 1;
        for img in batch.chunks_exact_mut(len) {
            let dy = self.rng.below(span) as isize - self.pad as isize;
            let dx = self.rng.below(span) as isize - self.pad as isize;
            let flip = self.rng.below(2) == 1;
            self.scratch.clear();
            self.scratch.extend_from_slice(img);
            for ch in 0..c {
                let src = &self.scratch[ch * h * w..(ch + 1) * h * w];
                let dst = &mut img[ch * h * w..(ch + 1) * h * w];
                for y in 0..h {
                    let sy = y as isize + dy;
                    for x in 0..w {
                        // Output pixel x takes the cropped pixel x (or w-1-x when flipped).
                        let cx = if flip { w - 1 - x } else { x };
                        let sx = cx as isize + dx;
                        dst[y * w + x] = if sy >= 0 && sy < h as isize && sx >= 0 && sx < w as isize {
                            src[sy as usize * w + sx as usize]
                        } else {
                            0.0
                        };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_padding_no_flip_is_identity_or_mirror() {
        // pad 0: the crop is the image; each image is itself or its mirror.
        let img: Vec<f32> = (0..2 * 3 * 4).map(|v| v as f32).collect();
        for seed in 0..8 {
            let mut b = img.clone();
            Augmenter::new(seed, 1, 0).apply(&mut b, [2, 3, 4]);
            let mirror: Vec<f32> = img.chunks(4).flat_map(|row| row.iter().rev().copied()).collect();
            assert!(b == img || b == mirror, "{b:?}");
        }
    }

    #[test]
    fn crops_shift_in_zeros_and_are_seeded() {
        let img = vec![1.0f32; 3 * 8 * 8 * 16];
        let mut a = img.clone();
        Augmenter::new(7, 2, 4).apply(&mut a, [3, 8, 8]);
        let mut b = img.clone();
        Augmenter::new(7, 2, 4).apply(&mut b, [3, 8, 8]);
        assert_eq!(a, b);
        let mut c = img.clone();
        Augmenter::new(7, 3, 4).apply(&mut c, [3, 8, 8]);
        assert_ne!(a, c);
        // Some images were shifted: zeros came in, and nothing but 0 and 1 appears.
        assert!(a.contains(&0.0) && a.iter().all(|v| *v == 0.0 || *v == 1.0));
        // A shift never exceeds the padding: the centre pixel of each channel stays 1 for pad 4
        // of an 8x8 image only when |dy|,|dx| <= 3; at most 4 rows/cols are zero.
        for im in a.chunks(64) {
            let zeros = im.iter().filter(|v| **v == 0.0).count();
            assert!(zeros <= 64 - 16, "{zeros}");
        }
    }
}
