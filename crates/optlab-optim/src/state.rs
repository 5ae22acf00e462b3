//! Optimizer state keyed by tensor name, and its file format.
//!
//! File layout (all little-endian): the 8 bytes `OPTLABST`, a `u32` format version, a `u64`
//! header length, a JSON header (optimizer, dtype, step and epoch counts, groups with their
//! hyperparameters and schedules, per-tensor names, shapes, scalars and buffer names), then the
//! raw buffer data in header order. Files are written to a temporary name and renamed, so a
//! crash never leaves a half-written state file.

use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::layout::Layout;
use crate::schedule::Scheduled;
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 8] = b"OPTLABST";
const VERSION: u32 = 1;

/// A parameter group's hyperparameters and schedules (with the schedules' own state).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    pub hyper: Vec<(String, String)>,
    pub scheduled: Vec<Scheduled>,
    pub patterns: Vec<String>,
}

/// One tensor's state.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorState<T> {
    pub name: String,
    pub shape: Vec<usize>,
    pub group: usize,
    pub scalars: Vec<(String, f64)>,
    pub buffers: Vec<(String, Vec<T>)>,
}

/// The full state of an optimizer: everything a fresh optimizer needs to continue bit for bit.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T> {
    pub optimizer: String,
    pub dtype: String,
    pub step: u64,
    pub epoch: u64,
    pub groups: Vec<GroupState>,
    /// Global scalar state of the optimizer (e.g. YellowFin's tuner).
    pub global: Vec<(String, Vec<f64>)>,
    pub tensors: Vec<TensorState<T>>,
    /// A wrapped optimizer's state (Lookahead's inner optimizer).
    pub inner: Option<Box<OptimizerState<T>>>,
}

#[derive(Serialize, Deserialize)]
struct TensorHeader {
    name: String,
    shape: Vec<usize>,
    group: usize,
    scalars: Vec<(String, f64)>,
    buffers: Vec<String>,
    /// Buffer lengths, written only when one differs from the tensor's element count (factored
    /// state such as Adafactor's row and column moments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lens: Option<Vec<usize>>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    optimizer: String,
    dtype: String,
    step: u64,
    epoch: u64,
    groups: Vec<GroupState>,
    global: Vec<(String, Vec<f64>)>,
    tensors: Vec<TensorHeader>,
    inner: Option<Box<Header>>,
}

impl<T: Float> OptimizerState<T> {
    /// Checks the optimizer name, dtype and tensor names and shapes against a layout; the error
    /// names the first tensor that is missing, extra or of another shape.
    pub fn check_header(&self, optimizer: &str, layout: &Layout) -> Result<()> {
        self.check_names(optimizer, layout)?;
        for s in &self.tensors {
            for (b, v) in &s.buffers {
                if v.len() != s.shape.iter().product::<usize>() {
                    return Err(OptimError::State(format!(
                        "tensor `{}`: buffer `{b}` has {} elements for shape {:?}",
                        s.name,
                        v.len(),
                        s.shape
                    )));
                }
            }
        }
        Ok(())
    }

    /// [`OptimizerState::check_header`] without the buffer lengths (for optimizers whose buffers
    /// are not as long as their tensors, which check the lengths themselves).
    pub fn check_names(&self, optimizer: &str, layout: &Layout) -> Result<()> {
        if self.optimizer != optimizer {
            return Err(OptimError::State(format!(
                "the state is of optimizer `{}`, not `{optimizer}`",
                self.optimizer
            )));
        }
        if self.dtype != T::NAME {
            return Err(OptimError::State(format!(
                "the state holds {} values, the optimizer runs in {}",
                self.dtype,
                T::NAME
            )));
        }
        for t in layout.tensors() {
            match self.tensors.iter().find(|s| s.name == t.name) {
                None => return Err(OptimError::State(format!("tensor `{}` is missing from the state", t.name))),
                Some(s) if s.shape != t.shape => {
                    return Err(OptimError::State(format!(
                        "tensor `{}` has shape {:?} in the state, {:?} here",
                        t.name, s.shape, t.shape
                    )))
                }
                _ => {}
            }
        }
        for s in &self.tensors {
            if !layout.tensors().iter().any(|t| t.name == s.name) {
                return Err(OptimError::State(format!(
                    "tensor `{}` in the state is not among the optimizer's tensors",
                    s.name
                )));
            }
        }
        Ok(())
    }

    /// This state with its tensors in `layout` order (state files may list them in any order).
    pub fn ordered(&self, layout: &Layout) -> Result<OptimizerState<T>> {
        let mut out = self.clone();
        out.tensors = layout
            .tensors()
            .iter()
            .map(|t| {
                self.tensors
                    .iter()
                    .find(|s| s.name == t.name)
                    .cloned()
                    .ok_or_else(|| OptimError::State(format!("tensor `{}` is missing from the state", t.name)))
            })
            .collect::<Result<_>>()?;
        Ok(out)
    }

    fn header(&self) -> Header {
        Header {
            optimizer: self.optimizer.clone(),
            dtype: self.dtype.clone(),
            step: self.step,
            epoch: self.epoch,
            groups: self.groups.clone(),
            global: self.global.clone(),
            tensors: self
                .tensors
                .iter()
                .map(|t| TensorHeader {
                    name: t.name.clone(),
                    shape: t.shape.clone(),
                    group: t.group,
                    scalars: t.scalars.clone(),
                    buffers: t.buffers.iter().map(|(n, _)| n.clone()).collect(),
                    lens: {
                        let n: usize = t.shape.iter().product();
                        t.buffers
                            .iter()
                            .any(|(_, b)| b.len() != n)
                            .then(|| t.buffers.iter().map(|(_, b)| b.len()).collect())
                    },
                })
                .collect(),
            inner: self.inner.as_ref().map(|i| Box::new(i.header())),
        }
    }

    fn write_data(&self, out: &mut Vec<u8>) {
        for t in &self.tensors {
            for (_, b) in &t.buffers {
                T::to_le_bytes_vec(b, out);
            }
        }
        if let Some(i) = &self.inner {
            i.write_data(out);
        }
    }

    /// Serialises to bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header()).expect("state header serialises");
        let mut out = Vec::with_capacity(20 + header.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        self.write_data(&mut out);
        out
    }

    /// Parses bytes written by [`OptimizerState::to_bytes`]; `what` names the source in errors.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Self> {
        let bad = |m: String| OptimError::StateFile { path: what.to_string(), what: m };
        if bytes.len() < 20 || &bytes[..8] != MAGIC {
            return Err(bad("not an optlab state file (bad magic)".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
        if version != VERSION {
            return Err(bad(format!("format version {version}, this build reads version {VERSION}")));
        }
        let hlen = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
        let hend =
            20usize.checked_add(hlen).filter(|&e| e <= bytes.len()).ok_or_else(|| bad("truncated header".into()))?;
        let header: Header =
            serde_json::from_slice(&bytes[20..hend]).map_err(|e| bad(format!("corrupt header: {e}")))?;
        let mut pos = hend;
        let st = Self::from_header(header, bytes, &mut pos, &bad)?;
        if pos != bytes.len() {
            return Err(bad(format!("{} trailing bytes after the data", bytes.len() - pos)));
        }
        Ok(st)
    }

    fn from_header(h: Header, bytes: &[u8], pos: &mut usize, bad: &dyn Fn(String) -> OptimError) -> Result<Self> {
        if h.dtype != T::NAME {
            return Err(bad(format!("the file holds {} values, expected {}", h.dtype, T::NAME)));
        }
        let mut tensors = Vec::with_capacity(h.tensors.len());
        for t in h.tensors {
            let len: usize = t.shape.iter().product();
            if let Some(l) = &t.lens {
                if l.len() != t.buffers.len() {
                    return Err(bad(format!(
                        "tensor `{}`: {} buffer lengths for {} buffers",
                        t.name,
                        l.len(),
                        t.buffers.len()
                    )));
                }
            }
            let mut buffers = Vec::with_capacity(t.buffers.len());
            for (bi, b) in t.buffers.into_iter().enumerate() {
                let len = t.lens.as_ref().map_or(len, |l| l[bi]);
                let nbytes = len
                    .checked_mul(T::BYTES)
                    .ok_or_else(|| bad(format!("buffer `{b}` of tensor `{}`: length {len} overflows", t.name)))?;
                let end = pos
                    .checked_add(nbytes)
                    .filter(|&e| e <= bytes.len())
                    .ok_or_else(|| bad(format!("truncated data in buffer `{b}` of tensor `{}`", t.name)))?;
                let v: Vec<T> = bytes[*pos..end].chunks_exact(T::BYTES).map(T::from_le_bytes_slice).collect();
                *pos = end;
                buffers.push((b, v));
            }
            tensors.push(TensorState { name: t.name, shape: t.shape, group: t.group, scalars: t.scalars, buffers });
        }
        let inner = match h.inner {
            Some(i) => Some(Box::new(Self::from_header(*i, bytes, pos, bad)?)),
            None => None,
        };
        Ok(OptimizerState {
            optimizer: h.optimizer,
            dtype: h.dtype,
            step: h.step,
            epoch: h.epoch,
            groups: h.groups,
            global: h.global,
            tensors,
            inner,
        })
    }

    /// Writes atomically: to `path.tmp`, then renamed over `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let io = |e| OptimError::Io { path: path.display().to_string(), source: e };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&self.to_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| OptimError::Io { path: path.display().to_string(), source: e })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }
}
