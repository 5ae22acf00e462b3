//! optlab's own CPU kernels for the networks' hot operations, plugged into burn through its
//! backend-extension mechanism (see [`ext`]): burn stays the model and autodiff framework, and
//! these replace only burn-flex's computation where it was the bottleneck.
//!
//! - [`conv2d`]: a convolution (optionally with the following ReLU fused) as im2col + one
//!   `gemm` per block of samples, with its backward pass as two products per block instead of
//!   burn's transposed convolutions ([`conv`]);
//! - [`max_pool2d`]: max pooling whose backward pass adds the gradient at the recorded argmax
//!   ([`pool`]);
//! - [`linear`]: a fully connected layer with its bias (and optionally the following ReLU) in one
//!   pass, each product on one thread or all by its size ([`mod@linear`]).
//!
//! Each entry point checks dtype (f32), device (Flex, with or without autodiff) and options, and
//! falls back to burn's own operations for anything else, so the result is the same function
//! everywhere; the kernels are deterministic (batch sums in a fixed order, whatever the threads).

pub mod conv;
mod ext;
pub mod linear;
pub mod pool;

use burn::backend::{Dispatch, DispatchTensor, DispatchTensorKind};
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::Linear;
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::relu as burn_relu;
use burn::tensor::{DType, Tensor};
use conv::ConvGeom;
use ext::OptlabKernels;
use pool::PoolGeom;

/// Whether a dispatch tensor lives on the Flex backend (directly or under autodiff).
fn on_flex(t: &DispatchTensor) -> bool {
    #[allow(unreachable_patterns)]
    match &t.kind {
        DispatchTensorKind::Flex(_) => true,
        DispatchTensorKind::Autodiff(inner) => matches!(**inner, DispatchTensorKind::Flex(_)),
        _ => false,
    }
}

/// The stride, (top, left, bottom, right) padding and bias of `conv` if optlab's kernel computes
/// it on input `x`: f32, dilation 1, one group, valid or explicit padding, consistent shapes. A
/// convolution without bias gets a constant zero bias (adding 0 changes no value, and a constant
/// gets no gradient).
fn kernel_options(x: &Tensor<4>, conv: &Conv2d) -> Option<([usize; 2], [usize; 4], Tensor<1>)> {
    if conv.dilation != [1, 1] || conv.groups != 1 {
        return None;
    }
    let weight = conv.weight.val();
    let bias = match conv.bias.as_ref() {
        Some(b) => b.val(),
        None => Tensor::<1>::zeros([weight.dims()[0]], &weight.device()),
    };
    if x.dtype() != DType::F32 || weight.dtype() != DType::F32 || bias.dtype() != DType::F32 {
        return None;
    }
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Explicit(t, l, b, r) => [t, l, b, r],
        PaddingConfig2d::Same => return None,
    };
    let g = ConvGeom::new(x.dims(), weight.dims(), conv.stride, padding).ok()?;
    (bias.dims() == [g.o]).then_some((conv.stride, padding, bias))
}

/// `conv.forward(x)`, followed by ReLU when `relu`, computed by optlab's kernel when it applies
/// (see [`kernel_options`]) and by burn otherwise. Gradients flow to `conv`'s weight and bias
/// (and to `x`) exactly as through burn's own layer; parameter names and layouts are unchanged.
pub fn conv2d(x: Tensor<4>, conv: &Conv2d, relu: bool) -> Tensor<4> {
    let fallback = |x: Tensor<4>| {
        let y = conv.forward(x);
        if relu {
            burn_relu(y)
        } else {
            y
        }
    };
    let Some((stride, padding, bias)) = kernel_options(&x, conv) else { return fallback(x) };
    let (x, weight, bias) = (x.into_dispatch(), conv.weight.val().into_dispatch(), bias.into_dispatch());
    if !(on_flex(&x) && on_flex(&weight) && on_flex(&bias)) {
        return fallback(Tensor::from_dispatch(x));
    }
    Tensor::from_dispatch(<Dispatch as OptlabKernels>::optlab_conv2d(x, weight, bias, stride, padding, relu))
}

/// `pool.forward(x)`, computed by optlab's kernel for f32 tensors on Flex with valid padding,
/// dilation 1 and floor mode, and by burn otherwise.
pub fn max_pool2d(x: Tensor<4>, pool: &MaxPool2d) -> Tensor<4> {
    let ours = x.dtype() == DType::F32
        && pool.dilation == [1, 1]
        && !pool.ceil_mode
        && matches!(pool.padding, PaddingConfig2d::Valid)
        && PoolGeom::new(x.dims(), pool.kernel_size, pool.stride).is_ok();
    if !ours {
        return pool.forward(x);
    }
    let x = x.into_dispatch();
    if !on_flex(&x) {
        return pool.forward(Tensor::from_dispatch(x));
    }
    Tensor::from_dispatch(<Dispatch as OptlabKernels>::optlab_max_pool2d(x, pool.kernel_size, pool.stride))
}

/// `layer.forward(x)`, followed by ReLU when `relu`, computed by optlab's kernel for f32 tensors
/// on Flex with a bias (see [`mod@linear`]) and by burn otherwise. Gradients flow to the layer's
/// weight and bias (and to `x`) exactly as through burn's own layer.
pub fn linear(x: Tensor<2>, layer: &Linear, relu: bool) -> Tensor<2> {
    let fallback = |x: Tensor<2>| {
        let y = layer.forward(x);
        if relu {
            burn_relu(y)
        } else {
            y
        }
    };
    let Some(bias) = layer.bias.as_ref().map(|b| b.val()) else { return fallback(x) };
    let weight = layer.weight.val();
    let ours = [x.dtype(), weight.dtype(), bias.dtype()].iter().all(|d| *d == DType::F32)
        && x.dims()[1] == weight.dims()[0]
        && bias.dims() == [weight.dims()[1]];
    if !ours {
        return fallback(x);
    }
    let (x, weight, bias) = (x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch());
    if !(on_flex(&x) && on_flex(&weight) && on_flex(&bias)) {
        return fallback(Tensor::from_dispatch(x));
    }
    Tensor::from_dispatch(<Dispatch as OptlabKernels>::optlab_linear(x, weight, bias, relu))
}
