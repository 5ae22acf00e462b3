//! Named tensors: what an optimizer is built for.

use crate::error::{OptimError, Result};
use serde::{Deserialize, Serialize};

/// One named tensor's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorDef {
    pub name: String,
    pub shape: Vec<usize>,
    pub len: usize,
}

/// The ordered, uniquely named tensors an optimizer updates. Steps pass tensors in this order;
/// state files match by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    tensors: Vec<TensorDef>,
}

impl Layout {
    pub fn new() -> Self {
        Layout::default()
    }

    /// One tensor of `len` elements named `name` (shape `[len]`).
    pub fn single(name: &str, len: usize) -> Self {
        Layout::new().with(name, &[len]).expect("a single tensor is a valid layout")
    }

    /// Adds a tensor; names must be unique and non-empty.
    pub fn with(mut self, name: &str, shape: &[usize]) -> Result<Self> {
        self.push(name, shape)?;
        Ok(self)
    }

    pub fn push(&mut self, name: &str, shape: &[usize]) -> Result<()> {
        if name.is_empty() {
            return Err(OptimError::Malformed("a tensor name is empty".into()));
        }
        if self.tensors.iter().any(|t| t.name == name) {
            return Err(OptimError::Tensor { tensor: name.into(), what: "the name is used twice".into() });
        }
        let len = shape.iter().product();
        self.tensors.push(TensorDef { name: name.into(), shape: shape.to_vec(), len });
        Ok(())
    }

    pub fn tensors(&self) -> &[TensorDef] {
        &self.tensors
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    pub fn names(&self) -> Vec<&str> {
        self.tensors.iter().map(|t| t.name.as_str()).collect()
    }

    /// Total number of elements.
    pub fn total_len(&self) -> usize {
        self.tensors.iter().map(|t| t.len).sum()
    }
}
