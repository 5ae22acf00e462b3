//! optlab's own kernels against burn-flex's result on random shapes: forward, and the gradients of
//! input, weight and bias, within f32 rounding.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use optlab_nn::kernels;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn rand_vec(n: usize, rng: &mut StdRng) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

/// `a` equals `b` within `tol` relative to the largest |b| (f32 rounding of sums of many terms).
fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * scale, "{what}[{i}]: {x} vs burn {y} (scale {scale})");
    }
}

#[derive(Clone, Debug)]
struct Case {
    x: [usize; 4],
    o: usize,
    k: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 4],
    relu: bool,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..6, 1usize..5, 1usize..6, 3usize..11, 3usize..11, 1usize..4, 1usize..4, 1usize..3, 1usize..3)
        .prop_flat_map(|(n, c, o, h, w, kh, kw, sh, sw)| {
            (Just((n, c, o, h, w, kh, kw, sh, sw)), 0usize..3, 0usize..3, any::<bool>(), any::<u64>())
        })
        .prop_map(|((n, c, o, h, w, kh, kw, sh, sw), ph, pw, relu, seed)| Case {
            x: [n, c, h, w],
            o,
            k: [kh, kw],
            stride: [sh, sw],
            padding: [ph, pw, ph, pw],
            relu,
            seed,
        })
}

fn layer(c: &Case, rng: &mut StdRng, device: &Device) -> Conv2d {
    let [t, l, b, r] = c.padding;
    let mut conv = Conv2dConfig::new([c.x[1], c.o], c.k)
        .with_stride(c.stride)
        .with_padding(PaddingConfig2d::Explicit(t, l, b, r))
        .init(device);
    let wshape = [c.o, c.x[1], c.k[0], c.k[1]];
    let w = rand_vec(wshape.iter().product(), rng);
    conv.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, wshape), device));
    conv.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(rand_vec(c.o, rng), [c.o]), device)));
    conv
}

/// Output, and the gradients of x, weight and bias of `sum(y · r)`, with optlab's kernel or burn's.
fn run(c: &Case, ours: bool) -> [Vec<f32>; 4] {
    let device = Device::flex().autodiff();
    let mut rng = StdRng::seed_from_u64(c.seed);
    let conv = layer(c, &mut rng, &device);
    let x =
        Tensor::<4>::from_data(TensorData::new(rand_vec(c.x.iter().product(), &mut rng), c.x), &device).require_grad();
    let y = if ours {
        kernels::conv2d(x.clone(), &conv, c.relu)
    } else if c.relu {
        relu(conv.forward(x.clone()))
    } else {
        conv.forward(x.clone())
    };
    let r = Tensor::<4>::from_data(TensorData::new(rand_vec(y.shape().num_elements(), &mut rng), y.shape()), &device);
    let grads = (y.clone() * r).sum().backward();
    let g = |t: Option<Tensor<4>>| values(t.expect("gradient"));
    [
        values(y),
        g(x.grad(&grads)),
        g(conv.weight.val().grad(&grads)),
        values(conv.bias.as_ref().unwrap().val().grad(&grads).expect("bias gradient")),
    ]
}

fn check(c: &Case) {
    let ours = run(c, true);
    let burn = run(c, false);
    assert_close("output", &ours[0], &burn[0], 1e-5);
    // With ReLU, an output within rounding of 0 may fall on either side of the mask in the two
    // implementations; such cases (rare with random data) only compare the forward pass.
    if c.relu && burn[0].iter().any(|v| *v != 0.0 && v.abs() < 1e-4) {
        return;
    }
    assert_close("grad x", &ours[1], &burn[1], 1e-4);
    assert_close("grad weight", &ours[2], &burn[2], 1e-4);
    assert_close("grad bias", &ours[3], &burn[3], 1e-4);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn conv2d_matches_burn_on_random_shapes(c in case()) {
        let ok = c.x[2] + c.padding[0] + c.padding[2] >= c.k[0] && c.x[3] + c.padding[1] + c.padding[3] >= c.k[1];
        prop_assume!(ok);
        check(&c);
    }
}

#[test]
fn conv2d_matches_burn_on_the_networks_layers() {
    // MNIST CNN conv1 and conv2, CIFAR CNN conv1 (batch sizes that leave a partial group of 4).
    for (x, o) in [([6, 1, 28, 28], 32), ([5, 32, 26, 26], 64), ([3, 3, 32, 32], 32)] {
        for relu in [true, false] {
            check(&Case { x, o, k: [3, 3], stride: [1, 1], padding: [0; 4], relu, seed: 11 });
        }
    }
}

/// ResNet's deep stages: 8×8, 4×4 and 2×2 maps, whose samples the kernel takes in blocks (of 4,
/// 16 and 64 samples), the stride-2 3×3 and 1×1 convolutions that enter them, with batches that
/// leave a partial block, and more blocks than the backward pass's groups.
#[test]
fn conv2d_matches_burn_on_small_maps_taken_in_blocks() {
    for (x, o, k, stride, padding) in [
        ([21, 6, 8, 8], 5, [3, 3], [1, 1], [1; 4]),
        ([37, 4, 4, 4], 5, [3, 3], [1, 1], [1; 4]),
        ([19, 4, 8, 8], 6, [3, 3], [2, 2], [1; 4]),
        ([19, 4, 8, 8], 6, [1, 1], [2, 2], [0; 4]),
        ([70, 3, 2, 2], 4, [3, 3], [1, 1], [1; 4]),
        ([41, 2, 8, 8], 3, [3, 3], [1, 1], [1; 4]),
    ] {
        for relu in [true, false] {
            check(&Case { x, o, k, stride, padding, relu, seed: 13 });
        }
    }
}

#[test]
fn asymmetric_padding_matches_burn() {
    check(&Case { x: [2, 3, 7, 6], o: 4, k: [3, 2], stride: [2, 1], padding: [2, 0, 1, 1], relu: false, seed: 5 });
}

#[test]
fn without_autodiff_and_unsupported_options_match_burn() {
    // Plain Flex device (inference): the Flex implementation of the extension.
    let device = Device::flex();
    let c = Case { x: [3, 2, 9, 8], o: 4, k: [3, 3], stride: [1, 2], padding: [1, 1, 1, 1], relu: true, seed: 2 };
    let mut rng = StdRng::seed_from_u64(1);
    let conv = layer(&c, &mut rng, &device);
    let x = Tensor::<4>::from_data(TensorData::new(rand_vec(c.x.iter().product(), &mut rng), c.x), &device);
    assert_close(
        "flex output",
        &values(kernels::conv2d(x.clone(), &conv, true)),
        &values(relu(conv.forward(x.clone()))),
        1e-5,
    );
    // `Same` padding and dilation are left to burn: identical results.
    let mut same = conv.clone();
    same.padding = PaddingConfig2d::Same;
    assert_eq!(values(kernels::conv2d(x.clone(), &same, false)), values(same.forward(x.clone())));
    let mut dilated = conv.clone();
    dilated.dilation = [2, 2];
    assert_eq!(values(kernels::conv2d(x.clone(), &dilated, false)), values(dilated.forward(x)));
}

#[test]
fn conv2d_is_deterministic() {
    let c = Case { x: [9, 3, 12, 12], o: 8, k: [3, 3], stride: [1, 1], padding: [1, 1, 1, 1], relu: true, seed: 9 };
    assert_eq!(run(&c, true), run(&c, true));
}

/// Max pooling output and input gradient of `sum(y · r)`, with optlab's kernel or burn's.
fn run_pool(x_shape: [usize; 4], kernel: [usize; 2], stride: [usize; 2], seed: u64, ours: bool) -> [Vec<f32>; 2] {
    let device = Device::flex().autodiff();
    let mut rng = StdRng::seed_from_u64(seed);
    let pool = MaxPool2dConfig::new(kernel).with_strides(stride).init();
    let x = Tensor::<4>::from_data(TensorData::new(rand_vec(x_shape.iter().product(), &mut rng), x_shape), &device)
        .require_grad();
    let y = if ours { kernels::max_pool2d(x.clone(), &pool) } else { pool.forward(x.clone()) };
    let r = Tensor::<4>::from_data(TensorData::new(rand_vec(y.shape().num_elements(), &mut rng), y.shape()), &device);
    let grads = (y.clone() * r).sum().backward();
    [values(y), values(x.grad(&grads).expect("gradient"))]
}

fn check_pool(x_shape: [usize; 4], kernel: [usize; 2], stride: [usize; 2], seed: u64) {
    let ours = run_pool(x_shape, kernel, stride, seed, true);
    let burn = run_pool(x_shape, kernel, stride, seed, false);
    // The maxima are copies and each input gradient a sum of at most a few products: exact
    // unless overlapping windows add in another order.
    assert_close("pool output", &ours[0], &burn[0], 0.0);
    assert_close("pool grad x", &ours[1], &burn[1], 1e-6);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn max_pool2d_matches_burn_on_random_shapes(
        n in 1usize..4, c in 1usize..4, h in 1usize..10, w in 1usize..10,
        kh in 1usize..4, kw in 1usize..4, sh in 1usize..4, sw in 1usize..4, seed in any::<u64>(),
    ) {
        prop_assume!(h >= kh && w >= kw);
        check_pool([n, c, h, w], [kh, kw], [sh, sw], seed);
    }
}

#[test]
fn max_pool2d_matches_burn_on_the_networks_layers() {
    check_pool([5, 64, 24, 24], [2, 2], [2, 2], 1);
    check_pool([3, 32, 30, 30], [2, 2], [2, 2], 2);
    check_pool([3, 64, 13, 13], [2, 2], [2, 2], 3);
}

fn linear_layer(i: usize, o: usize, rng: &mut StdRng, device: &Device) -> Linear {
    let mut l = LinearConfig::new(i, o).init(device);
    l.weight = Param::from_tensor(Tensor::from_data(TensorData::new(rand_vec(i * o, rng), [i, o]), device));
    l.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(rand_vec(o, rng), [o]), device)));
    l
}

/// Output, and the gradients of x, weight and bias of `sum(y · r)` through a linear layer (with
/// ReLU when `relu`), with optlab's kernel or burn's; `threads` sizes the pool it runs in.
fn run_linear(n: usize, i: usize, o: usize, relu_too: bool, seed: u64, ours: bool, threads: usize) -> [Vec<f32>; 4] {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let device = Device::flex().autodiff();
        let mut rng = StdRng::seed_from_u64(seed);
        let l = linear_layer(i, o, &mut rng, &device);
        let x = Tensor::<2>::from_data(TensorData::new(rand_vec(n * i, &mut rng), [n, i]), &device).require_grad();
        let y = if ours {
            kernels::linear(x.clone(), &l, relu_too)
        } else if relu_too {
            relu(l.forward(x.clone()))
        } else {
            l.forward(x.clone())
        };
        let r = Tensor::<2>::from_data(TensorData::new(rand_vec(n * o, &mut rng), [n, o]), &device);
        let grads = (y.clone() * r).sum().backward();
        [
            values(y),
            values(x.grad(&grads).expect("x gradient")),
            values(l.weight.val().grad(&grads).expect("weight gradient")),
            values(l.bias.as_ref().unwrap().val().grad(&grads).expect("bias gradient")),
        ]
    })
}

fn check_linear(n: usize, i: usize, o: usize, relu_too: bool, seed: u64, threads: usize) {
    let ours = run_linear(n, i, o, relu_too, seed, true, threads);
    let burn = run_linear(n, i, o, relu_too, seed, false, threads);
    assert_close("linear output", &ours[0], &burn[0], 1e-5);
    if relu_too && burn[0].iter().any(|v| *v != 0.0 && v.abs() < 1e-4) {
        return; // an output within rounding of 0 may fall on either side of the ReLU mask
    }
    assert_close("linear grad x", &ours[1], &burn[1], 1e-4);
    assert_close("linear grad weight", &ours[2], &burn[2], 1e-4);
    assert_close("linear grad bias", &ours[3], &burn[3], 1e-4);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn linear_matches_burn_on_random_shapes(
        n in 1usize..40, i in 1usize..70, o in 1usize..40, relu_too in any::<bool>(), seed in any::<u64>(),
        threads in 1usize..4,
    ) {
        check_linear(n, i, o, relu_too, seed, threads);
    }
}

#[test]
fn linear_matches_burn_on_the_networks_layers_and_threads_do_not_change_it() {
    // The MLP's first and last layers at batch 64, and the MNIST CNN's fc1 (parallel products).
    for (n, i, o, relu_too) in [(64, 784, 256, true), (64, 128, 10, false), (16, 9216, 128, true)] {
        check_linear(n, i, o, relu_too, 4, 2);
        assert_eq!(run_linear(n, i, o, relu_too, 4, true, 1), run_linear(n, i, o, relu_too, 4, true, 2));
    }
}

#[test]
fn linear_without_autodiff_or_bias_matches_burn() {
    let device = Device::flex();
    let mut rng = StdRng::seed_from_u64(8);
    let l = linear_layer(7, 5, &mut rng, &device);
    let x = Tensor::<2>::from_data(TensorData::new(rand_vec(21, &mut rng), [3, 7]), &device);
    assert_close(
        "flex linear",
        &values(kernels::linear(x.clone(), &l, true)),
        &values(relu(l.forward(x.clone()))),
        1e-5,
    );
    let mut no_bias = l.clone();
    no_bias.bias = None;
    assert_eq!(values(kernels::linear(x.clone(), &no_bias, false)), values(no_bias.forward(x)));
}

/// A convolution without bias (ResNet's) runs on optlab's kernel with a constant zero bias:
/// output and gradients as burn's, and no bias gradient anywhere.
#[test]
fn conv2d_without_bias_matches_burn() {
    let c = Case { x: [3, 4, 9, 9], o: 6, k: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1], relu: false, seed: 21 };
    let run_nb = |ours: bool| {
        let device = Device::flex().autodiff();
        let mut rng = StdRng::seed_from_u64(c.seed);
        let mut conv = layer(&c, &mut rng, &device);
        conv.bias = None;
        let x = Tensor::<4>::from_data(TensorData::new(rand_vec(c.x.iter().product(), &mut rng), c.x), &device)
            .require_grad();
        let y = if ours { kernels::conv2d(x.clone(), &conv, false) } else { conv.forward(x.clone()) };
        let r =
            Tensor::<4>::from_data(TensorData::new(rand_vec(y.shape().num_elements(), &mut rng), y.shape()), &device);
        let grads = (y.clone() * r).sum().backward();
        [values(y), values(x.grad(&grads).unwrap()), values(conv.weight.val().grad(&grads).unwrap())]
    };
    let (ours, burn) = (run_nb(true), run_nb(false));
    assert_close("no-bias output", &ours[0], &burn[0], 1e-5);
    assert_close("no-bias grad x", &ours[1], &burn[1], 1e-4);
    assert_close("no-bias grad weight", &ours[2], &burn[2], 1e-4);
}
