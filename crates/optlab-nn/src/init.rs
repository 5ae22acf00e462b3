//! Initial weights from torch: a safetensors file written by
//! `safetensors.torch.save_file(model.state_dict(), FILE)` (`optlab train --init FILE`).
//!
//! Names and layouts are torch's (docs/networks.md gives the torch module of every task):
//! a parameter path of the burn model maps to its `state_dict` key by
//! [`crate::models::torch_name`]; convolution weights are `[out, in, kh, kw]` in both; a linear
//! layer's weight is `[out, in]` in torch and `[in, out]` in burn, so 2-D tensors are transposed
//! on loading. BatchNorm's `running_mean`/`running_var` are loaded too; its `num_batches_tracked`
//! counters are ignored (they only matter for `momentum=None`). The tensors must be float32 (or
//! float64, converted). A missing tensor, a tensor of another shape or dtype, or a tensor the model
//! does not have is an error naming it and the file.

use crate::adapter::{state_tensors, write_params, ParamInfo};
use crate::error::NnError;
use crate::models::torch_name;
use burn::module::{Module, ParamId};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

/// The torch shape of a burn tensor of shape `shape` (2-D: transposed).
fn torch_shape(shape: &[usize]) -> Vec<usize> {
    if shape.len() == 2 {
        vec![shape[1], shape[0]]
    } else {
        shape.to_vec()
    }
}

/// Reads `path` and returns the values of every float tensor of `module` in burn's layout, in
/// the order of [`state_tensors`].
pub fn read_torch_weights(infos: &[ParamInfo], path: &Path) -> Result<Vec<Vec<f32>>, NnError> {
    let err = |what: String| NnError::Init { path: path.display().to_string(), what };
    let bytes = std::fs::read(path).map_err(|e| NnError::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| err(format!("not a safetensors file: {e}")))?;
    let wanted: Vec<String> = infos.iter().map(|p| torch_name(&p.name)).collect();
    let mut extra: Vec<&str> = st
        .names()
        .into_iter()
        .filter(|n| !n.ends_with("num_batches_tracked") && !wanted.iter().any(|w| w.as_str() == *n))
        .collect();
    if !extra.is_empty() {
        extra.sort_unstable();
        return Err(err(format!(
            "holds tensors this network does not have: {} (the network's: {})",
            extra.join(", "),
            wanted.join(", ")
        )));
    }
    let mut out = Vec::with_capacity(infos.len());
    for (info, name) in infos.iter().zip(&wanted) {
        let view = st.tensor(name).map_err(|_| err(format!("tensor `{name}` is missing")))?;
        let want = torch_shape(&info.shape);
        if view.shape() != want.as_slice() {
            return Err(err(format!("tensor `{name}` has shape {:?}, the network's is {want:?}", view.shape())));
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect(),
            Dtype::F64 => {
                data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32).collect()
            }
            other => return Err(err(format!("tensor `{name}` is {other:?}; expected F32 (or F64)"))),
        };
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(err(format!("tensor `{name}` holds a non-finite value at flat index {i}")));
        }
        let values = if info.shape.len() == 2 {
            let (rows, cols) = (want[0], want[1]); // torch [out, in] -> burn [in, out]
            let mut t = vec![0.0f32; values.len()];
            for r in 0..rows {
                for c in 0..cols {
                    t[c * rows + r] = values[r * cols + c];
                }
            }
            t
        } else {
            values
        };
        out.push(values);
    }
    Ok(out)
}

/// `module` with every float tensor (parameters and running statistics) replaced by the values
/// of the torch safetensors file `path`.
pub fn load_torch_init<M: Module>(module: M, path: &Path) -> Result<M, NnError> {
    let infos = state_tensors(&module);
    let values = read_torch_weights(&infos, path)?;
    let index: HashMap<ParamId, usize> = infos.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    Ok(write_params(module, &index, &values))
}
