//! Datasets for optlab's network experiments.
//!
//! * [`Dataset`]: images or feature vectors in one flat `f32` buffer plus `u32` labels, with seeded stratified
//!   [`Dataset::split`], [`Dataset::subset`]/[`Dataset::take`], per-channel [`Dataset::channel_stats`] /
//!   [`Dataset::normalise`], and allocation-free batch [`Dataset::gather`].
//! * Loaders: [`load_mnist`] / [`load_mnist_dir`] (IDX, raw or gzip), [`load_cifar10`] (binary batches),
//!   [`load_tiny_imagenet`] (the archive's JPEG folders),
//!   [`shipped_mnist`] (the 5,000-digit subset embedded from `data/mnist-5k/`), and the synthetic
//!   [`two_gaussians`].
//! * [`csv_column`] / [`read_csv_column`]: one numeric column of a CSV file; [`shipped_temperature`], the
//!   daily maximum temperatures embedded from `data/seattle-weather/` (NOAA, public domain).
//! * [`Augmenter`]: seeded random crop (padding 4) and horizontal flip of training batches.
//! * [`shuffled`] / [`shuffle_into`]: epoch permutations reproducible from `(seed, epoch)` on any platform.
//!
//! Every failure is a [`DataError`] naming the file (or dataset) and the offending values. See `docs/data.md`.

mod augment;
mod cifar;
mod csv;
mod dataset;
mod error;
mod io;
mod mnist;
mod rng;
mod series;
mod synthetic;
mod tinyimagenet;

pub use augment::{Augmenter, CROP_PADDING};
pub use cifar::{load_cifar10, CIFAR_RECORD};
pub use csv::CsvTable;
pub use dataset::Dataset;
pub use error::DataError;
pub use io::MAX_FILE_BYTES;
pub use mnist::{load_mnist, load_mnist_dir, shipped_mnist, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC};
pub use rng::{shuffle_into, shuffled};
pub use series::{csv_column, read_csv_column, shipped_temperature, SEATTLE_WEATHER_CSV, SEATTLE_WEATHER_NAME};
pub use synthetic::two_gaussians;
pub use tinyimagenet::{load_tiny_imagenet, read_wnids, TINY_SIDE};
