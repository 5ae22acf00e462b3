//! Loss landscapes of trained networks (`optlab landscape`): the loss on a grid
//! `θ + a·d1 + b·d2` around the trained weights `θ`, in 1-D (`b = 0`, a finer line) and 2-D.
//!
//! **Directions** ([`filter_normalized`]): Li et al. 2018, "Visualizing the Loss Landscape of
//! Neural Nets", with their default "ignore biasbn". A direction `d` is a seeded standard-normal
//! vector with the shape of `θ`; every filter of `d` is then scaled to the norm of the same filter
//! of `θ`. A filter is an output channel of a convolution (a 4-D weight `[out, in, k, k]`: one
//! slice of the first axis) or an output neuron of a linear layer (burn stores linear weights as
//! `[in, out]`: one column). One-dimensional tensors (biases, BatchNorm's scale and shift) get
//! `d = 0`, and BatchNorm's running statistics are not part of a direction (they stay those of
//! `θ`). `d1` comes from the seed, `d2` from the seed + 1.
//!
//! **Trajectory** ([`pca_plane`]): with the iterates of a run (the weights at every epoch end,
//! written by `optlab train --checkpoint DIR --keep-iterates` to `DIR/iterates.bin`), the
//! directions are the first two principal directions of the differences `θ_i − θ_final` over the
//! trainable parameters (uncentred: the top two right-singular vectors of the matrix of
//! differences, so the final weights are the origin of the plane), not filter-normalised, as in
//! the paper. The iterates are projected on them, the explained variance of each is reported, and
//! the loss is evaluated on a grid of that plane covering the path.
//!
//! **Evaluation**: the mean loss of the network in evaluation mode (no dropout; BatchNorm with
//! its running statistics) on a fixed set: the training set (the default, as in the paper) or the
//! validation split, optionally a seeded random subset of it ([`EvalChoice`]). The grid points are
//! evaluated in parallel on rayon's threads (one model copy per chunk of points).

use crate::adapter::{is_buffer, state_tensors, write_params, ParamInfo};
use crate::error::NnError;
use crate::models::Net;
use crate::train::{checksum, evaluate, load_data, with_model, TrainConfig, WithModel};
use burn::module::ParamId;
use burn::tensor::Device;
use optlab_data::Dataset;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// The file of iterates in a checkpoint folder (`optlab train --checkpoint DIR --keep-iterates`).
pub const ITERATES_FILE: &str = "iterates.bin";
/// Magic bytes of the iterates file.
const ITERATES_MAGIC: &[u8; 8] = b"OPTLABI1";

/// The weights at one epoch end (epoch 0: the initial weights), by parameter path, in the order
/// of [`crate::TrainReport::weights`].
#[derive(Clone, Debug, PartialEq)]
pub struct Iterate {
    pub epoch: u32,
    pub weights: Vec<(String, Vec<f32>)>,
}

#[derive(Serialize, Deserialize)]
struct IterHeader {
    params: Vec<(String, Vec<usize>)>,
    epochs: Vec<u32>,
}

/// Writes the iterates file `dir/iterates.bin` (atomically): magic, FNV-1a checksum of the rest,
/// header length, a JSON header (parameter names and shapes, the epochs), then each iterate's
/// blocks as little-endian `f32`.
pub(crate) fn write_iterates(
    dir: &Path,
    params: &[(String, Vec<usize>)],
    iterates: &[(u32, Vec<Vec<f32>>)],
) -> Result<(), NnError> {
    std::fs::create_dir_all(dir).map_err(|e| NnError::io(dir, e))?;
    let path = dir.join(ITERATES_FILE);
    let tmp = dir.join(format!("{ITERATES_FILE}.tmp"));
    let header = IterHeader { params: params.to_vec(), epochs: iterates.iter().map(|i| i.0).collect() };
    let header = serde_json::to_vec(&header).expect("header serialises");
    let mut out = Vec::new();
    out.extend_from_slice(ITERATES_MAGIC);
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for (_, blocks) in iterates {
        for v in blocks.iter().flatten() {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let sum = checksum(&out[16..]);
    out[8..16].copy_from_slice(&sum.to_le_bytes());
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| NnError::io(&path, e))
}

/// Reads an iterates file: the parameter names and shapes, and each iterate's blocks.
#[allow(clippy::type_complexity)]
pub(crate) fn read_iterates(path: &Path) -> Result<(Vec<(String, Vec<usize>)>, Vec<(u32, Vec<Vec<f32>>)>), NnError> {
    let bad = |what: String| NnError::Checkpoint { path: path.display().to_string(), what };
    let bytes = std::fs::read(path).map_err(|e| NnError::io(path, e))?;
    if bytes.len() < 24 || &bytes[..8] != ITERATES_MAGIC {
        return Err(bad("not an optlab iterates file (bad magic bytes or shorter than its 24-byte header)".into()));
    }
    let stored = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    if stored != checksum(&bytes[16..]) {
        return Err(bad("checksum mismatch: the file is corrupt and was not loaded".into()));
    }
    let hlen = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")) as usize;
    let header = bytes.get(24..24usize.saturating_add(hlen)).ok_or_else(|| bad("truncated header".into()))?;
    let header: IterHeader = serde_json::from_slice(header).map_err(|e| bad(format!("header: {e}")))?;
    let sizes: Vec<usize> = header.params.iter().map(|(_, s)| s.iter().product()).collect();
    let per: usize = sizes.iter().sum();
    let body = &bytes[24 + hlen..];
    if body.len() != per * 4 * header.epochs.len() {
        return Err(bad(format!(
            "{} bytes of weights, the header's {} iterates of {per} values need {}",
            body.len(),
            header.epochs.len(),
            per * 4 * header.epochs.len()
        )));
    }
    let mut vals = body.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")));
    let iterates =
        header.epochs.iter().map(|&e| (e, sizes.iter().map(|&n| vals.by_ref().take(n).collect()).collect())).collect();
    Ok((header.params, iterates))
}

/// A trained network read from a checkpoint folder: the run's configuration (task, seed and the
/// settings the checkpoint records), its weights and, when the folder has them, its iterates.
#[derive(Clone, Debug)]
pub struct Trained {
    pub cfg: TrainConfig,
    /// The training weights of the last epoch (what the run would resume from).
    pub weights: Vec<(String, Vec<f32>)>,
    pub epochs_done: u32,
    /// The iterates of `iterates.bin`, in epoch order (empty without the file).
    pub iterates: Vec<Iterate>,
}

/// Reads `dir/checkpoint.bin` (and `dir/iterates.bin` when present) as written by
/// `optlab train --checkpoint DIR`. The task, seed, batch size, optimizer name, `val_fraction`,
/// `train_limit`, the data folder and the loss come from the checkpoint; the model's shape
/// settings that it does not record (`widths`, `hidden`, the blobs data settings) from `net`,
/// which must match the run's (the evaluation refuses weights that do not fit the model).
pub fn load_trained(dir: &Path, net: crate::NetworkSettings) -> Result<Trained, NnError> {
    let path = dir.join(crate::train::CHECKPOINT_FILE);
    if !path.is_file() {
        return Err(NnError::Checkpoint {
            path: path.display().to_string(),
            what: "no such file: give the folder of `optlab train --checkpoint DIR`".into(),
        });
    }
    let ck = crate::train::read_checkpoint(&path)?;
    let p = &ck.progress;
    let bad = |what: String| NnError::Checkpoint { path: path.display().to_string(), what };
    let fixed = |name: &str| p.fixed.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let mut net = net;
    net.batch_size = p.batch_size;
    if let Some(v) = fixed("val_fraction") {
        net.val_fraction = v.parse().map_err(|_| bad(format!("val_fraction `{v}` is not a number")))?;
    }
    net.train_limit = match fixed("train_limit") {
        None | Some("none") => None,
        Some(v) => Some(v.parse().map_err(|_| bad(format!("train_limit `{v}` is not a number")))?),
    };
    match fixed("data") {
        None | Some("(default)") => {}
        Some(d) => net.data = Some(d.into()),
    }
    net.mse = fixed("loss") == Some("squared error");
    let mut cfg = TrainConfig::with(&p.task, optlab_optim::OptimConfig::new(&p.optimizer), net);
    cfg.seed = p.seed;
    let names: Vec<String> = p.params.iter().map(|(n, _)| n.clone()).collect();
    let weights = names.iter().cloned().zip(ck.weights).collect();
    let it_path = dir.join(ITERATES_FILE);
    let mut iterates = Vec::new();
    if it_path.is_file() {
        let (params, its) = read_iterates(&it_path)?;
        if params != p.params {
            return Err(NnError::Checkpoint {
                path: it_path.display().to_string(),
                what: "its parameters differ from those of checkpoint.bin (another run's iterates?)".into(),
            });
        }
        iterates = its
            .into_iter()
            .filter(|(e, _)| *e <= p.epochs_done)
            .map(|(epoch, blocks)| Iterate { epoch, weights: names.iter().cloned().zip(blocks).collect() })
            .collect();
    }
    Ok(Trained { cfg, weights, epochs_done: p.epochs_done, iterates })
}

/// Which samples the loss is evaluated on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalSet {
    /// The training set (as normalised for training; no augmentation).
    Train,
    /// The validation split (or the separate test set of the task's data folder).
    Val,
}

impl std::str::FromStr for EvalSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => Ok(EvalSet::Train),
            "val" => Ok(EvalSet::Val),
            other => Err(format!("`{other}`: expected `train` or `val`")),
        }
    }
}

impl std::fmt::Display for EvalSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EvalSet::Train => "train",
            EvalSet::Val => "val",
        })
    }
}

/// The evaluation set: which one and how many of its samples (a seeded random subset, None: all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalChoice {
    pub set: EvalSet,
    pub samples: Option<usize>,
}

/// What to compute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LandscapeConfig {
    /// Points per axis of the 2-D grids (at least 3; odd puts θ itself on the grid).
    pub grid: usize,
    /// The random-direction grid spans `a, b ∈ [−range, range]`.
    pub range: f64,
    /// Points of the 1-D curve along `d1` over `[−range, range]` (at least 3).
    pub points_1d: usize,
    /// Seed of the random directions (`d1` from it, `d2` from it + 1) and of the subset.
    pub seed: u64,
    pub eval: EvalChoice,
    /// Also the PCA plane of the iterates with the path on it (needs at least three iterates).
    pub trajectory: bool,
}

impl Default for LandscapeConfig {
    fn default() -> Self {
        LandscapeConfig {
            grid: 41,
            range: 1.0,
            points_1d: 101,
            seed: 0,
            eval: EvalChoice { set: EvalSet::Train, samples: Some(DEFAULT_SAMPLES) },
            trajectory: false,
        }
    }
}

/// Samples of the evaluation set by default (a seeded subset of the training set) for the
/// fully connected tasks; [`default_samples`] gives the default per task.
pub const DEFAULT_SAMPLES: usize = 500;

/// Samples of the convolutional tasks' default subset: a 41×41 grid of mnist-cnn on 500 samples
/// is about 21 TFLOP (135 s on the project's 2 cores), on 50 about 14 s (docs/landscape.md).
pub const CONV_SAMPLES: usize = 50;

/// The default size of the evaluation subset of `task`: [`DEFAULT_SAMPLES`] for the fully
/// connected tasks (`blobs-*`, `*-mlp`), [`CONV_SAMPLES`] for the convolutional ones
/// (`*-cnn`, `*-resnet18`), whose forward pass costs 50 times the MLP's multiply-adds per sample
/// or more, so that the default grid takes seconds on either.
pub fn default_samples(task: &str) -> usize {
    if task.ends_with("-cnn") || task.ends_with("-resnet18") {
        CONV_SAMPLES
    } else {
        DEFAULT_SAMPLES
    }
}

impl LandscapeConfig {
    /// Checks the sizes; errors name the setting and its value.
    pub fn validate(&self) -> Result<(), NnError> {
        if !(3..=1001).contains(&self.grid) {
            return Err(NnError::setting("grid", self.grid, "points per axis must lie in 3..=1001"));
        }
        if !(3..=100_001).contains(&self.points_1d) {
            return Err(NnError::setting("points_1d", self.points_1d, "must lie in 3..=100001"));
        }
        if !(self.range.is_finite() && self.range > 0.0) {
            return Err(NnError::setting("range", self.range, "must be a positive number"));
        }
        if self.eval.samples == Some(0) {
            return Err(NnError::setting("samples", 0, "must be at least 1 (leave it out for the whole set)"));
        }
        Ok(())
    }
}

/// Losses on a grid: `loss[j * a.len() + i]` at `(a[i], b[j])`.
#[derive(Clone, Debug, PartialEq)]
pub struct Surface {
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub loss: Vec<f64>,
}

impl Surface {
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.loss[j * self.a.len() + i]
    }
}

/// The iterates projected on the PCA plane, and the plane's landscape.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    /// (epoch, a, b) of each iterate; the last is (final epoch, 0, 0).
    pub points: Vec<(u32, f64, f64)>,
    /// The fraction of the squared distance of the iterates to the final weights that each
    /// direction explains.
    pub explained: [f64; 2],
    pub surface: Surface,
}

/// A network's landscape.
#[derive(Clone, Debug, PartialEq)]
pub struct NetLandscape {
    pub task: String,
    /// What the loss was evaluated on, e.g. `train, 500 of 4000 samples`.
    pub eval: String,
    /// The loss at θ.
    pub centre: f64,
    /// The random-direction grid.
    pub surface: Surface,
    /// The 1-D curve along `d1`: (a, loss).
    pub curve: Vec<(f64, f64)>,
    pub trajectory: Option<Trajectory>,
    /// Grid points evaluated, and the wall time of their evaluation (seconds).
    pub evaluations: usize,
    pub seconds: f64,
    pub threads: usize,
}

fn gaussian(rng: &mut StdRng) -> f64 {
    // Box–Muller.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Whether a tensor is part of a direction (its filters are normalised) or not (`d = 0`): biases
/// and other 1-D tensors and BatchNorm's running statistics are not.
pub fn in_direction(name: &str, shape: &[usize]) -> bool {
    shape.len() >= 2 && !is_buffer(name)
}

/// The element indices of filter `f` of a tensor of `shape`: for 2-D (burn's linear `[in, out]`)
/// column `f`, for 3-D and more slice `f` of the first axis. The number of filters is
/// [`filters`].
fn filter_indices(shape: &[usize], f: usize) -> Box<dyn Iterator<Item = usize>> {
    if shape.len() == 2 {
        let (rows, cols) = (shape[0], shape[1]);
        Box::new((0..rows).map(move |r| r * cols + f))
    } else {
        let per: usize = shape[1..].iter().product();
        Box::new(f * per..(f + 1) * per)
    }
}

/// The number of filters of a tensor of `shape` (see [`filter_indices`]).
pub fn filters(shape: &[usize]) -> usize {
    if shape.len() == 2 {
        shape[1]
    } else {
        shape[0]
    }
}

/// A filter-normalised random direction (Li et al. 2018, "ignore biasbn"): seeded normal values
/// with each filter scaled to the norm of that filter of `theta` (a filter of `theta` with norm 0
/// gives zeros), and zeros for the tensors that [`in_direction`] leaves out.
pub fn filter_normalized(params: &[(String, Vec<usize>)], theta: &[Vec<f32>], seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x4c69_2018_d1ec_7105);
    params
        .iter()
        .zip(theta)
        .map(|((name, shape), t)| {
            let mut d = vec![0.0f32; t.len()];
            if !in_direction(name, shape) {
                return d;
            }
            let raw: Vec<f64> = (0..t.len()).map(|_| gaussian(&mut rng)).collect();
            for f in 0..filters(shape) {
                let (mut nd, mut nt) = (0.0f64, 0.0f64);
                for i in filter_indices(shape, f) {
                    nd += raw[i] * raw[i];
                    nt += f64::from(t[i]) * f64::from(t[i]);
                }
                let scale = if nd > 0.0 { (nt / nd).sqrt() } else { 0.0 };
                for i in filter_indices(shape, f) {
                    d[i] = (raw[i] * scale) as f32;
                }
            }
            d
        })
        .collect()
}

/// The first two principal directions of the iterates' differences to the final weights.
#[derive(Clone, Debug, PartialEq)]
pub struct PcaPlane {
    /// Unit vectors (over the blocks passed in; zero on blocks left out).
    pub d1: Vec<Vec<f32>>,
    pub d2: Vec<Vec<f32>>,
    pub explained: [f64; 2],
    /// Coordinates of each iterate on (d1, d2).
    pub coords: Vec<(f64, f64)>,
}

/// Eigen-decomposition of a small symmetric matrix (cyclic Jacobi): eigenvalues and the
/// eigenvectors as columns `v[i * n + k]`.
fn jacobi(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        let diag: f64 = (0..n).map(|i| a[i * n + i].powi(2)).sum();
        if off <= 1e-30 * diag.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// The PCA plane of `iterates` around `last` (blocks in the same order; `keep[k]` false leaves
/// block `k` out, e.g. BatchNorm's running statistics): the top two right-singular vectors of the
/// matrix of rows `θ_i − last`. Needs differences spanning at least two directions.
pub fn pca_plane(iterates: &[Vec<Vec<f32>>], last: &[Vec<f32>], keep: &[bool]) -> Result<PcaPlane, NnError> {
    let rows: Vec<Vec<f64>> = iterates
        .iter()
        .map(|it| {
            it.iter()
                .zip(last)
                .zip(keep)
                .filter(|(_, k)| **k)
                .flat_map(|((x, y), _)| x.iter().zip(y).map(|(a, b)| f64::from(*a) - f64::from(*b)))
                .collect()
        })
        .collect();
    let n = rows.len();
    let mut g = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let dot: f64 = rows[i].iter().zip(&rows[j]).map(|(a, b)| a * b).sum();
            g[i * n + j] = dot;
            g[j * n + i] = dot;
        }
    }
    let total: f64 = (0..n).map(|i| g[i * n + i]).sum();
    let (vals, vecs) = jacobi(g, n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| vals[y].total_cmp(&vals[x]));
    if n < 2 || total.is_nan() || total <= 0.0 || vals[order[1]] <= 1e-12 * total {
        return Err(NnError::setting(
            "iterates",
            n,
            "the iterates' differences to the final weights span fewer than two directions (a trajectory \
             needs at least three distinct iterates: train two epochs or more with --keep-iterates)",
        ));
    }
    let len = rows[0].len();
    let mut dirs = Vec::new();
    let mut coords = vec![(0.0, 0.0); n];
    for (k, &o) in order.iter().take(2).enumerate() {
        let lam = vals[o];
        let mut v = vec![0.0f64; len];
        for (i, r) in rows.iter().enumerate() {
            let u = vecs[i * n + o];
            v.iter_mut().zip(r).for_each(|(v, x)| *v += u * x);
        }
        let norm = lam.sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        for (i, r) in rows.iter().enumerate() {
            let c: f64 = r.iter().zip(&v).map(|(a, b)| a * b).sum();
            if k == 0 {
                coords[i].0 = c;
            } else {
                coords[i].1 = c;
            }
        }
        // Back into blocks.
        let mut pos = 0;
        let blocks: Vec<Vec<f32>> = last
            .iter()
            .zip(keep)
            .map(|(b, &k)| {
                if !k {
                    return vec![0.0; b.len()];
                }
                let out = v[pos..pos + b.len()].iter().map(|&x| x as f32).collect();
                pos += b.len();
                out
            })
            .collect();
        dirs.push(blocks);
    }
    let explained = [vals[order[0]] / total, vals[order[1]] / total];
    let d2 = dirs.pop().expect("two directions");
    let d1 = dirs.pop().expect("two directions");
    Ok(PcaPlane { d1, d2, explained, coords })
}

/// Points per axis of the grid an experiment's `landscape = true` stores per run.
pub const REPORT_GRID: usize = 21;
/// Training samples (a seeded subset) the report's grids are evaluated on.
pub const REPORT_SAMPLES: usize = 200;

/// The grid of `landscape = true` (optlab-lab stores it, the report draws it): the training loss
/// on a [`REPORT_GRID`]² grid over `[−1, 1]²` of filter-normalised directions of seed 0, on
/// [`REPORT_SAMPLES`] training samples.
pub fn report_grid(cfg: &TrainConfig, weights: &[(String, Vec<f32>)]) -> Result<Surface, NnError> {
    let lc = LandscapeConfig {
        grid: REPORT_GRID,
        points_1d: 3,
        eval: EvalChoice { set: EvalSet::Train, samples: Some(REPORT_SAMPLES) },
        ..LandscapeConfig::default()
    };
    Ok(landscape(cfg, weights, &[], &lc)?.surface)
}

/// `n` evenly spaced values over `[lo, hi]`.
pub fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| if n == 1 { lo } else { lo + (hi - lo) * i as f64 / (n - 1) as f64 }).collect()
}

/// The landscape of a trained network with weights `weights` (by parameter path, as in
/// [`crate::TrainReport::weights`]) and, for the trajectory, its `iterates` (the last iterate
/// should be `weights`; the plane is centred on `weights`).
pub fn landscape(
    cfg: &TrainConfig,
    weights: &[(String, Vec<f32>)],
    iterates: &[Iterate],
    lc: &LandscapeConfig,
) -> Result<NetLandscape, NnError> {
    lc.validate()?;
    if lc.trajectory && iterates.len() < 3 {
        return Err(NnError::setting(
            "iterates",
            iterates.len(),
            "a trajectory needs at least three iterates (the initial weights and two epochs): train with \
             `optlab train --checkpoint DIR --keep-iterates` for two epochs or more",
        ));
    }
    let device = Device::flex().autodiff();
    let (train_set, val_set) = load_data(cfg)?;
    struct Job<'a> {
        cfg: &'a TrainConfig,
        device: &'a Device,
        weights: &'a [(String, Vec<f32>)],
        iterates: &'a [Iterate],
        lc: &'a LandscapeConfig,
    }
    impl WithModel for Job<'_> {
        type Out = NetLandscape;
        fn call<M: Net>(self, model: M, train: &Dataset, val: &Dataset) -> Result<NetLandscape, NnError> {
            run(self.cfg, model, train, val, self.device, self.weights, self.iterates, self.lc)
        }
    }
    with_model(cfg, &device, &train_set, &val_set, Job { cfg, device: &device, weights, iterates, lc })
}

/// The weights by name as blocks in the model's order, checked against its shapes.
fn blocks_of(infos: &[ParamInfo], weights: &[(String, Vec<f32>)], what: &str) -> Result<Vec<Vec<f32>>, NnError> {
    infos
        .iter()
        .map(|p| {
            let w = weights.iter().find(|(n, _)| *n == p.name).ok_or_else(|| NnError::Param {
                param: p.name.clone(),
                what: format!("missing from the {what} (a network of another task or shape?)"),
            })?;
            let len: usize = p.shape.iter().product();
            if w.1.len() != len {
                return Err(NnError::Param {
                    param: p.name.clone(),
                    what: format!(
                        "{} values in the {what}, the model has {len} (shape {:?}): give the run's --widths/--hidden",
                        w.1.len(),
                        p.shape
                    ),
                });
            }
            Ok(w.1.clone())
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run<M: Net>(
    cfg: &TrainConfig,
    model: M,
    train: &Dataset,
    val: &Dataset,
    device: &Device,
    weights: &[(String, Vec<f32>)],
    iterates: &[Iterate],
    lc: &LandscapeConfig,
) -> Result<NetLandscape, NnError> {
    let infos = state_tensors(&model);
    let theta = blocks_of(&infos, weights, "weights")?;
    let params: Vec<(String, Vec<usize>)> = infos.iter().map(|p| (p.name.clone(), p.shape.clone())).collect();
    let full = match lc.eval.set {
        EvalSet::Train => train,
        EvalSet::Val => {
            if val.is_empty() {
                return Err(NnError::setting(
                    "eval",
                    "val",
                    format!(
                        "the run has no validation set (val_fraction {}): use the training set",
                        cfg.net.val_fraction
                    ),
                ));
            }
            val
        }
    };
    let set = match lc.eval.samples {
        Some(n) if n < full.len() => {
            let perm = optlab_data::shuffled(full.len(), lc.seed, 0x1a5d);
            let mut idx = perm[..n].to_vec();
            idx.sort_unstable();
            full.subset(&idx)
        }
        _ => full.clone(),
    };
    let eval = format!("{}, {} of {} samples", lc.eval.set, set.len(), full.len());
    let index: HashMap<ParamId, usize> = infos.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let d1 = filter_normalized(&params, &theta, lc.seed);
    let d2 = filter_normalized(&params, &theta, lc.seed.wrapping_add(1));
    let ev = Evaluator { model: &model, index: &index, theta: &theta, set: &set, device };
    let start = Instant::now();
    let centre = ev.losses(&d1, &d2, &[(0.0, 0.0)])[0];
    let a = linspace(-lc.range, lc.range, lc.grid);
    let surface = ev.surface(&d1, &d2, a.clone(), a);
    let line = linspace(-lc.range, lc.range, lc.points_1d);
    let pts: Vec<(f64, f64)> = line.iter().map(|&x| (x, 0.0)).collect();
    let zero: Vec<Vec<f32>> = theta.iter().map(|b| vec![0.0; b.len()]).collect();
    let curve = line.iter().copied().zip(ev.losses(&d1, &zero, &pts)).collect();
    let mut evaluations = 1 + lc.grid * lc.grid + lc.points_1d;
    let trajectory = if lc.trajectory {
        let its = iterates
            .iter()
            .map(|it| blocks_of(&infos, &it.weights, &format!("iterate of epoch {}", it.epoch)))
            .collect::<Result<Vec<_>, _>>()?;
        let keep: Vec<bool> = params.iter().map(|(n, _)| !is_buffer(n)).collect();
        let plane = pca_plane(&its, &theta, &keep)?;
        let span = |f: fn(&(f64, f64)) -> f64| {
            let (lo, hi) = plane.coords.iter().map(f).fold((0.0f64, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
            let m = 0.25 * (hi - lo).max(1e-6);
            (lo - m, hi + m)
        };
        let (xa, xb) = (span(|c| c.0), span(|c| c.1));
        let surface = ev.surface(&plane.d1, &plane.d2, linspace(xa.0, xa.1, lc.grid), linspace(xb.0, xb.1, lc.grid));
        evaluations += lc.grid * lc.grid;
        let points = iterates.iter().zip(&plane.coords).map(|(it, c)| (it.epoch, c.0, c.1)).collect();
        Some(Trajectory { points, explained: plane.explained, surface })
    } else {
        None
    };
    Ok(NetLandscape {
        task: cfg.task.clone(),
        eval,
        centre,
        surface,
        curve,
        trajectory,
        evaluations,
        seconds: start.elapsed().as_secs_f64(),
        threads: rayon::current_num_threads(),
    })
}

/// Evaluates the loss at `θ + a·d1 + b·d2`.
struct Evaluator<'a, M> {
    model: &'a M,
    index: &'a HashMap<ParamId, usize>,
    theta: &'a [Vec<f32>],
    set: &'a Dataset,
    device: &'a Device,
}

impl<M: Net> Evaluator<'_, M> {
    fn surface(&self, d1: &[Vec<f32>], d2: &[Vec<f32>], a: Vec<f64>, b: Vec<f64>) -> Surface {
        let pts: Vec<(f64, f64)> = b.iter().flat_map(|&y| a.iter().map(move |&x| (x, y))).collect();
        let loss = self.losses(d1, d2, &pts);
        Surface { a, b, loss }
    }

    /// The losses at `pts`, in order, computed in parallel: the points in chunks, one model copy
    /// per chunk.
    fn losses(&self, d1: &[Vec<f32>], d2: &[Vec<f32>], pts: &[(f64, f64)]) -> Vec<f64> {
        let threads = rayon::current_num_threads().max(1);
        let chunk = pts.len().div_ceil(threads * 4).max(1);
        // A chunk of points with the model copy and device that evaluate it.
        type Job<'a, N> = (&'a [(f64, f64)], N, Device);
        let jobs: Vec<Job<'_, M>> = pts.chunks(chunk).map(|c| (c, self.model.clone(), self.device.clone())).collect();
        let (theta, index, set) = (self.theta, self.index, self.set);
        let parts: Vec<Vec<f64>> = jobs
            .into_par_iter()
            .map(|(c, model, device)| {
                let mut bufs: Vec<Vec<f32>> = theta.to_vec();
                c.iter()
                    .map(|&(a, b)| {
                        let (a, b) = (a as f32, b as f32);
                        for (k, buf) in bufs.iter_mut().enumerate() {
                            let (t, x, y) = (&theta[k], &d1[k], &d2[k]);
                            for i in 0..buf.len() {
                                buf[i] = t[i] + a * x[i] + b * y[i];
                            }
                        }
                        let m = write_params(model.clone(), index, &bufs);
                        evaluate(&m, set, &device).0
                    })
                    .collect()
            })
            .collect();
        parts.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<(String, Vec<usize>)> {
        vec![
            ("conv.weight".into(), vec![3, 2, 2, 2]),
            ("conv.bias".into(), vec![3]),
            ("fc.weight".into(), vec![4, 5]),
            ("fc.bias".into(), vec![5]),
            ("bn.running_mean".into(), vec![2, 2]),
        ]
    }

    fn theta(params: &[(String, Vec<usize>)]) -> Vec<Vec<f32>> {
        let mut rng = StdRng::seed_from_u64(9);
        params
            .iter()
            .map(|(_, s)| (0..s.iter().product::<usize>()).map(|_| rng.random_range(-2.0f32..2.0)).collect())
            .collect()
    }

    #[test]
    fn convolutional_tasks_default_to_fewer_samples() {
        for t in crate::TASKS {
            let want = if ["mnist-cnn", "cifar-cnn", "cifar-resnet18", "tinyimagenet-resnet18"].contains(t) {
                CONV_SAMPLES
            } else {
                DEFAULT_SAMPLES
            };
            assert_eq!(default_samples(t), want, "{t}");
        }
    }

    #[test]
    fn directions_are_filter_normalised_and_zero_on_biases() {
        let p = params();
        let mut t = theta(&p);
        // A filter of θ with norm 0 gives a zero filter.
        for i in filter_indices(&p[2].1, 3).collect::<Vec<_>>() {
            t[2][i] = 0.0;
        }
        let d = filter_normalized(&p, &t, 5);
        for (k, (name, shape)) in p.iter().enumerate() {
            if !in_direction(name, shape) {
                assert!(d[k].iter().all(|&v| v == 0.0), "{name} is not zero");
                continue;
            }
            assert_eq!(filters(shape), if shape.len() == 2 { shape[1] } else { shape[0] });
            for f in 0..filters(shape) {
                let nd: f64 = filter_indices(shape, f).map(|i| f64::from(d[k][i]).powi(2)).sum::<f64>().sqrt();
                let nt: f64 = filter_indices(shape, f).map(|i| f64::from(t[k][i]).powi(2)).sum::<f64>().sqrt();
                assert!((nd - nt).abs() <= 1e-5 * nt.max(1.0), "{name} filter {f}: {nd} vs {nt}");
            }
        }
        assert!(in_direction("fc.weight", &[4, 5]) && !in_direction("bn.running_mean", &[2, 2]));
        assert!(!in_direction("conv.bias", &[3]));
        // Seeded: the same seed gives the same direction, another seed another one.
        assert_eq!(d, filter_normalized(&p, &t, 5));
        assert_ne!(d, filter_normalized(&p, &t, 6));
        // A linear filter is a column of burn's [in, out] layout, not a row.
        assert_eq!(filter_indices(&[4, 5], 1).collect::<Vec<_>>(), vec![1, 6, 11, 16]);
        assert_eq!(filter_indices(&[3, 2, 2, 2], 1).collect::<Vec<_>>(), (8..16).collect::<Vec<_>>());
    }

    #[test]
    fn pca_recovers_a_planted_plane() {
        let n = 200;
        let mut rng = StdRng::seed_from_u64(3);
        let unit = |rng: &mut StdRng| -> Vec<f64> { (0..n).map(|_| gaussian(rng)).collect() };
        let u = unit(&mut rng);
        let mut v = unit(&mut rng);
        let nu = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        let u: Vec<f64> = u.iter().map(|x| x / nu).collect();
        let dot: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
        v.iter_mut().zip(&u).for_each(|(v, u)| *v -= dot * u);
        let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let v: Vec<f64> = v.iter().map(|x| x / nv).collect();
        let last: Vec<f32> = (0..n).map(|_| gaussian(&mut rng) as f32).collect();
        // Iterates θ_f + x u + y v, with more spread along u; split into two blocks and a third
        // block that is left out (it would otherwise dominate).
        let coords: Vec<(f64, f64)> = (0..8).map(|i| (3.0 * (i as f64 - 7.0), (i as f64 * 1.3).sin())).collect();
        let split = |w: Vec<f32>| vec![w[..120].to_vec(), w[120..].to_vec(), vec![100.0 * coords.len() as f32; 3]];
        let its: Vec<Vec<Vec<f32>>> = coords
            .iter()
            .map(|&(x, y)| split((0..n).map(|k| last[k] + (x * u[k] + y * v[k]) as f32).collect()))
            .collect();
        let mut last_b = split(last.clone());
        last_b[2] = vec![0.0; 3];
        let plane = pca_plane(&its, &last_b, &[true, true, false]).unwrap();
        let flat = |b: &[Vec<f32>]| -> Vec<f64> { b[..2].iter().flatten().map(|&x| f64::from(x)).collect() };
        let (d1, d2) = (flat(&plane.d1), flat(&plane.d2));
        let dotf = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
        // d1 is ±u (the larger spread), d2 lies in the plane, and both are unit vectors.
        assert!((dotf(&d1, &u).abs() - 1.0).abs() < 1e-4, "{}", dotf(&d1, &u));
        assert!((dotf(&d2, &u).powi(2) + dotf(&d2, &v).powi(2) - 1.0).abs() < 1e-4);
        assert!(dotf(&d1, &d2).abs() < 1e-4);
        assert!(plane.d1[2].iter().all(|&x| x == 0.0));
        assert!((plane.explained[0] + plane.explained[1] - 1.0).abs() < 1e-6);
        assert!(plane.explained[0] > plane.explained[1]);
        // The coordinates are the planted ones up to a rotation or reflection in the plane:
        // every distance to the final weights is kept.
        for (c, p) in plane.coords.iter().zip(&coords) {
            let (rc, rp) = (c.0.hypot(c.1), p.0.hypot(p.1));
            assert!((rc - rp).abs() < 1e-4 * rp.max(1.0), "{c:?} vs {p:?}");
        }
        // Iterates on one line only: refused, naming `iterates`.
        let line: Vec<Vec<Vec<f32>>> = (0..4).map(|i| vec![vec![i as f32; 3]]).collect();
        let e = pca_plane(&line, &[vec![0.0; 3]], &[true]).unwrap_err().to_string();
        assert!(e.contains("iterates") && e.contains("fewer than two directions"), "{e}");
    }

    #[test]
    fn iterates_round_trip_and_corruption_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = vec![("w".to_string(), vec![2, 2]), ("b".to_string(), vec![2])];
        let its = vec![(0, vec![vec![1.0, 2.0, 3.0, 4.0], vec![5.0, 6.0]]), (1, vec![vec![0.5; 4], vec![-1.0; 2]])];
        write_iterates(dir.path(), &p, &its).unwrap();
        let (p2, its2) = read_iterates(&dir.path().join(ITERATES_FILE)).unwrap();
        assert_eq!((p2, its2), (p, its));
        let path = dir.path().join(ITERATES_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let e = read_iterates(&path).unwrap_err().to_string();
        assert!(e.contains("checksum") && e.contains(ITERATES_FILE), "{e}");
    }

    #[test]
    fn bad_sizes_name_the_setting_and_value() {
        let bad = |lc: LandscapeConfig| lc.validate().unwrap_err().to_string();
        let d = LandscapeConfig::default();
        assert!(bad(LandscapeConfig { grid: 2, ..d }).contains("`grid` = `2`"));
        assert!(bad(LandscapeConfig { range: -1.0, ..d }).contains("`range` = `-1`"));
        assert!(bad(LandscapeConfig { points_1d: 0, ..d }).contains("`points_1d` = `0`"));
        assert!(bad(LandscapeConfig { eval: EvalChoice { set: EvalSet::Train, samples: Some(0) }, ..d })
            .contains("`samples` = `0`"));
        assert!(d.validate().is_ok());
        assert_eq!("val".parse::<EvalSet>(), Ok(EvalSet::Val));
        assert!("test".parse::<EvalSet>().unwrap_err().contains("`test`"));
    }
}
