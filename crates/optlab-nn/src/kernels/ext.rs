//! The kernels as a burn backend extension: an extension trait implemented for the `Flex` backend
//! (forward) and for `Autodiff<Flex>` (forward plus a handwritten backward pass), routed by
//! burn's generated `Dispatch` implementation. Only f32 contiguous-or-copied tensors reach the
//! kernels; [`super`] checks dtype, device and options first and falls back to burn otherwise.

use super::conv::{conv2d_backward, conv2d_forward, ConvGeom};
use super::linear::{linear_backward, linear_forward};
use super::pool::{max_pool2d_backward, max_pool2d_forward, PoolGeom};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Flex, TensorMetadata};
use burn::tensor::{DType, TensorData};
use std::borrow::Cow;
use std::sync::Arc;

/// optlab's own kernels on burn tensors.
#[backend_extension(Flex, Autodiff)]
pub trait OptlabKernels: Backend {
    /// `conv2d(x, weight) + bias`, then ReLU when `relu`: x `[n, c, h, w]`, weight
    /// `[o, c, kh, kw]`, bias `[o]`, all f32; `padding` is (top, left, bottom, right) zeros;
    /// dilation 1, one group. The caller has checked the shapes with [`ConvGeom::new`].
    fn optlab_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 4],
        relu: bool,
    ) -> FloatTensor<Self>;

    /// Max pooling of x `[n, c, h, w]` (f32) over `kernel` windows at `stride`, no padding,
    /// dilation 1, floor mode. The caller has checked the shapes with [`PoolGeom::new`].
    fn optlab_max_pool2d(x: FloatTensor<Self>, kernel: [usize; 2], stride: [usize; 2]) -> FloatTensor<Self>;

    /// `x · weight + bias`, then ReLU when `relu`: x `[n, i]`, weight `[i, o]` (burn's `Linear`
    /// layout), bias `[o]`, all f32. The caller has checked the shapes.
    fn optlab_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;
}

/// The f32 elements of `t` in row-major order (borrowed when `t` is contiguous).
fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    debug_assert_eq!(t.dtype(), DType::F32);
    match t.as_slice::<f32>() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(t.to_contiguous().into_data().try_into_vec::<f32>().expect("f32 tensor data")),
    }
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.shape();
    [s[0], s[1], s[2], s[3]]
}

fn tensor(v: Vec<f32>, shape: impl Into<burn::tensor::Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape.into()))
}

fn geom(x: &FlexTensor, weight: &FlexTensor, stride: [usize; 2], padding: [usize; 4]) -> ConvGeom {
    // The public entry point validated these shapes; a failure here is a bug of this crate.
    ConvGeom::new(dims4(x), dims4(weight), stride, padding).unwrap_or_else(|e| panic!("optlab_conv2d: {e}"))
}

impl OptlabKernels for Flex {
    fn optlab_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        stride: [usize; 2],
        padding: [usize; 4],
        relu: bool,
    ) -> FlexTensor {
        let g = geom(&x, &weight, stride, padding);
        let y = conv2d_forward(&g, &values(&x), &values(&weight), &values(&bias), relu);
        tensor(y, [g.n, g.o, g.oh, g.ow])
    }

    fn optlab_max_pool2d(x: FlexTensor, kernel: [usize; 2], stride: [usize; 2]) -> FlexTensor {
        let (y, _, shape) = pool_forward(&x, kernel, stride);
        tensor(y, shape)
    }

    fn optlab_linear(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, relu: bool) -> FlexTensor {
        let [n, i, o] = linear_dims(&x, &weight);
        tensor(linear_forward(n, i, o, &values(&x), &values(&weight), Some(&values(&bias)), relu), [n, o])
    }
}

/// `[n, i, o]` of a product of x `[n, i]` and weight `[i, o]`.
fn linear_dims(x: &FlexTensor, weight: &FlexTensor) -> [usize; 3] {
    let (xs, ws) = (x.shape(), weight.shape());
    // The public entry point validated these shapes; a failure here is a bug of this crate.
    assert!(xs.num_dims() == 2 && ws.num_dims() == 2 && xs[1] == ws[0], "optlab_linear: shapes {xs:?} and {ws:?}");
    [xs[0], xs[1], ws[1]]
}

#[derive(Debug)]
struct LinearBackward;

/// The input and weight, and the output when ReLU was fused (its sign is the ReLU mask).
#[derive(Clone, Debug)]
struct LinearState {
    x: FlexTensor,
    weight: FlexTensor,
    relu_output: Option<FlexTensor>,
}

impl Backward<Flex, 3> for LinearBackward {
    type State = LinearState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let st = ops.state;
        let [n, i, o] = linear_dims(&st.x, &st.weight);
        let y = st.relu_output.as_ref().map(values);
        let need = [node_x.is_some(), node_weight.is_some(), node_bias.is_some()];
        let r = linear_backward(n, i, o, &values(&st.x), &values(&st.weight), y.as_deref(), &values(&dy), need);
        if let (Some(node), Some(dx)) = (node_x, r.x) {
            grads.register::<Flex>(node.id, tensor(dx, [n, i]));
        }
        if let (Some(node), Some(dw)) = (node_weight, r.weight) {
            grads.register::<Flex>(node.id, tensor(dw, [i, o]));
        }
        if let (Some(node), Some(db)) = (node_bias, r.bias) {
            grads.register::<Flex>(node.id, tensor(db, [o]));
        }
    }
}

/// Max pooling of `x`: maxima, their indices and the output shape.
fn pool_forward(x: &FlexTensor, kernel: [usize; 2], stride: [usize; 2]) -> (Vec<f32>, Vec<u32>, [usize; 4]) {
    let [n, c, _, _] = dims4(x);
    let g = PoolGeom::new(dims4(x), kernel, stride).unwrap_or_else(|e| panic!("optlab_max_pool2d: {e}"));
    let (y, idx) = max_pool2d_forward(&g, &values(x));
    (y, idx, [n, c, g.oh, g.ow])
}

#[derive(Debug)]
struct MaxPool2dBackward;

/// The input shape and pooling options, and where each maximum came from.
#[derive(Clone, Debug)]
struct MaxPool2dState {
    x_shape: [usize; 4],
    kernel: [usize; 2],
    stride: [usize; 2],
    indices: Arc<Vec<u32>>,
}

impl Backward<Flex, 1> for MaxPool2dBackward {
    type State = MaxPool2dState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let Some(node) = node_x else { return };
        let st = ops.state;
        let g = PoolGeom::new(st.x_shape, st.kernel, st.stride).unwrap_or_else(|e| panic!("optlab_max_pool2d: {e}"));
        let dx = max_pool2d_backward(&g, &values(&dy), &st.indices);
        grads.register::<Flex>(node.id, tensor(dx, st.x_shape));
    }
}

#[derive(Debug)]
struct Conv2dBackward;

/// What the backward pass needs: the input and weight, the output when ReLU was fused (its
/// sign is the ReLU mask), and the options.
#[derive(Clone, Debug)]
struct Conv2dState {
    x: FlexTensor,
    weight: FlexTensor,
    relu_output: Option<FlexTensor>,
    stride: [usize; 2],
    padding: [usize; 4],
}

impl Backward<Flex, 3> for Conv2dBackward {
    type State = Conv2dState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let st = ops.state;
        let g = geom(&st.x, &st.weight, st.stride, st.padding);
        let y = st.relu_output.as_ref().map(values);
        let r = conv2d_backward(
            &g,
            &values(&st.x),
            &values(&st.weight),
            y.as_deref(),
            &values(&dy),
            node_x.is_some(),
            node_weight.is_some() || node_bias.is_some(),
        );
        if let (Some(node), Some(dx)) = (node_x, r.x) {
            grads.register::<Flex>(node.id, tensor(dx, [g.n, g.c, g.h, g.w]));
        }
        if let Some((dw, db)) = r.weight_bias {
            if let Some(node) = node_weight {
                grads.register::<Flex>(node.id, tensor(dw, [g.o, g.c, g.kh, g.kw]));
            }
            if let Some(node) = node_bias {
                grads.register::<Flex>(node.id, tensor(db, [g.o]));
            }
        }
    }
}

impl<C: CheckpointStrategy> OptlabKernels for Autodiff<Flex, C> {
    fn optlab_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 4],
        relu: bool,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        let (x, weight, bias) = (x.into_primitive(), weight.into_primitive(), bias.into_primitive());
        let y = Flex::optlab_conv2d(x.clone(), weight.clone(), bias, stride, padding, relu);
        match Conv2dBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let relu_output = relu.then(|| y.clone());
                prep.finish(Conv2dState { x, weight, relu_output, stride, padding }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn optlab_max_pool2d(x: FloatTensor<Self>, kernel: [usize; 2], stride: [usize; 2]) -> FloatTensor<Self> {
        let nodes = [x.node()];
        let x = x.into_primitive();
        let x_shape = dims4(&x);
        match MaxPool2dBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (y, indices, shape) = pool_forward(&x, kernel, stride);
                let state = MaxPool2dState { x_shape, kernel, stride, indices: Arc::new(indices) };
                prep.finish(state, tensor(y, shape))
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::optlab_max_pool2d(x, kernel, stride)),
        }
    }

    fn optlab_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        let (x, weight, bias) = (x.into_primitive(), weight.into_primitive(), bias.into_primitive());
        let y = Flex::optlab_linear(x.clone(), weight.clone(), bias, relu);
        match LinearBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let relu_output = relu.then(|| y.clone());
                prep.finish(LinearState { x, weight, relu_output }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}
