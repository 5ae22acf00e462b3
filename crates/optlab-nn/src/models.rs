//! The networks: one-neuron and two-layer classifiers, an MLP, the classic MNIST CNN and a small
//! CIFAR-10 CNN, with their losses.
//!
//! Initialisation is PyTorch's default (weights and biases uniform in ±1/√fan_in) drawn from a
//! generator seeded by the caller, and dropout masks come from a seeded generator too, so a run
//! is reproducible whatever else uses burn's global random generator (tests run in parallel).

use crate::kernels;
use burn::module::{Module, Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{log_sigmoid, log_softmax, relu, sigmoid};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::Rng;

/// The loss a model is trained with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy over the classes (outputs = classes).
    CrossEntropy,
    /// Binary cross-entropy of sigmoid(output) (one output; labels 0/1).
    BinaryCrossEntropy,
    /// Squared error of sigmoid(output) against the 0/1 label (one output).
    Mse,
}

impl Loss {
    /// Mean loss over the batch. `labels` are class indices.
    pub fn mean(self, out: Tensor<2>, labels: &[u32]) -> Tensor<1> {
        let device = out.device();
        let [b, k] = out.dims();
        match self {
            Loss::CrossEntropy => {
                let mut onehot = vec![0.0f32; b * k];
                for (i, &l) in labels.iter().enumerate() {
                    onehot[i * k + l as usize] = 1.0;
                }
                let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [b, k]), &device);
                (log_softmax(out, 1) * onehot).sum().neg().div_scalar(b as f32)
            }
            Loss::BinaryCrossEntropy => {
                let y = targets01(labels, &device);
                let pos = log_sigmoid(out.clone()) * y.clone();
                let neg = log_sigmoid(out.neg()) * y.neg().add_scalar(1.0);
                (pos + neg).mean().neg()
            }
            Loss::Mse => {
                let y = targets01(labels, &device);
                (sigmoid(out) - y).powi_scalar(2).mean()
            }
        }
    }

    /// Number of correct predictions in the batch.
    pub fn correct(self, out: Tensor<2>, labels: &[u32]) -> usize {
        match self {
            Loss::CrossEntropy => {
                let pred: Vec<i64> = out.argmax(1).into_data().try_into_vec_as::<i64>().expect("argmax indices");
                pred.iter().zip(labels).filter(|(p, l)| **p == **l as i64).count()
            }
            Loss::BinaryCrossEntropy | Loss::Mse => {
                let z: Vec<f32> = out.into_data().try_into_vec_as::<f32>().expect("outputs");
                z.iter().zip(labels).filter(|(z, l)| (**z > 0.0) == (**l == 1)).count()
            }
        }
    }
}

fn targets01(labels: &[u32], device: &Device) -> Tensor<2> {
    let y: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
    Tensor::<2>::from_data(TensorData::new(y, [labels.len(), 1]), device)
}

/// Integer class labels as a burn tensor.
pub fn label_tensor(labels: &[u32], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::<1, Int>::from_data(TensorData::new(v, [labels.len()]), device)
}

/// A network of this crate: flat samples `[batch, sample_len]` in, outputs `[batch, k]` out.
/// `dropout` is the generator for dropout masks while training; `None` evaluates (no dropout).
pub trait Net: Module + Clone + core::fmt::Debug + Send {
    fn forward(&self, x: Tensor<2>, dropout: Option<&mut StdRng>) -> Tensor<2>;
    fn loss(&self) -> Loss;
}

fn uniform(n: usize, bound: f32, rng: &mut StdRng) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

/// A linear layer with PyTorch's default initialisation from `rng`.
pub fn linear(d_in: usize, d_out: usize, rng: &mut StdRng, device: &Device) -> Linear {
    let mut l = LinearConfig::new(d_in, d_out).init(device);
    let bound = 1.0 / (d_in as f32).sqrt();
    let w = uniform(d_in * d_out, bound, rng);
    let b = uniform(d_out, bound, rng);
    l.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device));
    l.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(b, [d_out]), device)));
    l
}

/// A valid-padding, stride-1 convolution with PyTorch's default initialisation from `rng`.
pub fn conv(c_in: usize, c_out: usize, k: usize, rng: &mut StdRng, device: &Device) -> Conv2d {
    let mut c = Conv2dConfig::new([c_in, c_out], [k, k]).init(device);
    let fan_in = c_in * k * k;
    let bound = 1.0 / (fan_in as f32).sqrt();
    let w = uniform(c_out * fan_in, bound, rng);
    let b = uniform(c_out, bound, rng);
    c.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [c_out, c_in, k, k]), device));
    c.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(b, [c_out]), device)));
    c
}

/// Inverted dropout with a mask drawn from `rng` (identity when `rng` is None or `p` is 0).
pub fn dropout<const D: usize>(x: Tensor<D>, p: f32, rng: Option<&mut StdRng>) -> Tensor<D> {
    let Some(rng) = rng else { return x };
    if p <= 0.0 {
        return x;
    }
    let shape = x.shape();
    let keep = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..shape.num_elements()).map(|_| if rng.random::<f32>() < p { 0.0 } else { keep }).collect();
    let mask = Tensor::<D>::from_data(TensorData::new(mask, shape), &x.device());
    x * mask
}

/// One neuron: sigmoid(w·x + b) (the sigmoid is in the loss).
#[derive(Module, Debug)]
pub struct OneNeuron {
    pub fc: Linear,
    #[module(skip)]
    pub loss: Loss,
}

impl OneNeuron {
    pub fn new(dim: usize, loss: Loss, rng: &mut StdRng, device: &Device) -> Self {
        OneNeuron { fc: linear(dim, 1, rng, device), loss }
    }
}

impl Net for OneNeuron {
    fn forward(&self, x: Tensor<2>, _: Option<&mut StdRng>) -> Tensor<2> {
        self.fc.forward(x)
    }
    fn loss(&self) -> Loss {
        self.loss
    }
}

/// Two layers of neurons: a sigmoid hidden layer of `hidden` units and one output neuron.
#[derive(Module, Debug)]
pub struct TwoLayer {
    pub fc1: Linear,
    pub fc2: Linear,
    #[module(skip)]
    pub loss: Loss,
}

impl TwoLayer {
    pub fn new(dim: usize, hidden: usize, loss: Loss, rng: &mut StdRng, device: &Device) -> Self {
        TwoLayer { fc1: linear(dim, hidden, rng, device), fc2: linear(hidden, 1, rng, device), loss }
    }
}

impl Net for TwoLayer {
    fn forward(&self, x: Tensor<2>, _: Option<&mut StdRng>) -> Tensor<2> {
        self.fc2.forward(sigmoid(self.fc1.forward(x)))
    }
    fn loss(&self) -> Loss {
        self.loss
    }
}

/// A multilayer perceptron with ReLU between layers; `widths` = input, hidden..., classes.
#[derive(Module, Debug)]
pub struct Mlp {
    pub layers: Vec<Linear>,
}

impl Mlp {
    /// `widths` has at least two entries, all positive (checked by the caller).
    pub fn new(widths: &[usize], rng: &mut StdRng, device: &Device) -> Self {
        Mlp { layers: widths.windows(2).map(|w| linear(w[0], w[1], rng, device)).collect() }
    }
}

impl Net for Mlp {
    fn forward(&self, mut x: Tensor<2>, _: Option<&mut StdRng>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            x = kernels::linear(x, l, i < last);
        }
        x
    }
    fn loss(&self) -> Loss {
        Loss::CrossEntropy
    }
}

/// The classic MNIST CNN of the PyTorch examples: conv 1→32 3×3, ReLU, conv 32→64 3×3, ReLU,
/// max-pool 2, dropout 0.25, fc 9216→128, ReLU, dropout 0.5, fc 128→10.
#[derive(Module, Debug)]
pub struct MnistCnn {
    pub conv1: Conv2d,
    pub conv2: Conv2d,
    pub pool: MaxPool2d,
    pub fc1: Linear,
    pub fc2: Linear,
    /// Dropout probabilities after the convolutions and after `fc1` (0.25 and 0.5).
    #[module(skip)]
    pub dropout: [f32; 2],
}

impl MnistCnn {
    pub fn new(rng: &mut StdRng, device: &Device) -> Self {
        MnistCnn {
            conv1: conv(1, 32, 3, rng, device),
            conv2: conv(32, 64, 3, rng, device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: linear(9216, 128, rng, device),
            fc2: linear(128, 10, rng, device),
            dropout: [0.25, 0.5],
        }
    }
}

impl Net for MnistCnn {
    fn forward(&self, x: Tensor<2>, mut dropout_rng: Option<&mut StdRng>) -> Tensor<2> {
        let [b, _] = x.dims();
        let x = x.reshape([b, 1, 28, 28]);
        let x = kernels::conv2d(x, &self.conv1, true);
        let x = kernels::conv2d(x, &self.conv2, true);
        let x = kernels::max_pool2d(x, &self.pool);
        let x = dropout(x, self.dropout[0], dropout_rng.as_deref_mut());
        let x = x.reshape([b, 9216]);
        let x = kernels::linear(x, &self.fc1, true);
        let x = dropout(x, self.dropout[1], dropout_rng);
        kernels::linear(x, &self.fc2, false)
    }
    fn loss(&self) -> Loss {
        Loss::CrossEntropy
    }
}

/// A small CIFAR-10 CNN: conv 3→32 3×3, ReLU, max-pool 2, conv 32→64 3×3, ReLU, max-pool 2,
/// dropout 0.25, fc 2304→128, ReLU, dropout 0.5, fc 128→10.
#[derive(Module, Debug)]
pub struct CifarCnn {
    pub conv1: Conv2d,
    pub conv2: Conv2d,
    pub pool: MaxPool2d,
    pub fc1: Linear,
    pub fc2: Linear,
    /// Dropout probabilities after the convolutions and after `fc1` (0.25 and 0.5).
    #[module(skip)]
    pub dropout: [f32; 2],
}

impl CifarCnn {
    pub fn new(rng: &mut StdRng, device: &Device) -> Self {
        CifarCnn {
            conv1: conv(3, 32, 3, rng, device),
            conv2: conv(32, 64, 3, rng, device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: linear(2304, 128, rng, device),
            fc2: linear(128, 10, rng, device),
            dropout: [0.25, 0.5],
        }
    }
}

impl Net for CifarCnn {
    fn forward(&self, x: Tensor<2>, mut dropout_rng: Option<&mut StdRng>) -> Tensor<2> {
        let [b, _] = x.dims();
        let x = x.reshape([b, 3, 32, 32]);
        let x = kernels::max_pool2d(kernels::conv2d(x, &self.conv1, true), &self.pool); // 30 -> 15
        let x = kernels::max_pool2d(kernels::conv2d(x, &self.conv2, true), &self.pool); // 13 -> 6
        let x = dropout(x, self.dropout[0], dropout_rng.as_deref_mut());
        let x = x.reshape([b, 2304]);
        let x = kernels::linear(x, &self.fc1, true);
        let x = dropout(x, self.dropout[1], dropout_rng);
        kernels::linear(x, &self.fc2, false)
    }
    fn loss(&self) -> Loss {
        Loss::CrossEntropy
    }
}

/// A convolution without bias (`bias=False` in torch), `k`×`k` with the given stride and zero
/// padding, weights uniform in ±1/√fan_in (PyTorch's default) from `rng`.
pub fn conv_no_bias(
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    padding: usize,
    rng: &mut StdRng,
    device: &Device,
) -> Conv2d {
    let mut c = Conv2dConfig::new([c_in, c_out], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
        .with_bias(false)
        .init(device);
    let fan_in = c_in * k * k;
    let w = uniform(c_out * fan_in, 1.0 / (fan_in as f32).sqrt(), rng);
    c.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [c_out, c_in, k, k]), device));
    c
}

/// Batch normalisation over the channels of `[batch, channels, h, w]`, as torch's
/// `nn.BatchNorm2d(channels)` (eps 1e-5, momentum 0.1) computes it, with torch's parameter names
/// (`weight`, `bias`, `running_mean`, `running_var`).
///
/// * Training ([`BatchNorm2d::forward`] with `train`): normalises with the batch mean and the
///   biased batch variance over batch and pixels, and updates the running statistics as
///   `running = 0.9 running + 0.1 batch`, with the *unbiased* batch variance (n/(n-1), n = batch ×
///   pixels) for `running_var`, exactly as torch does.
/// * Evaluation (not `train`): normalises with the running statistics, which stay unchanged.
///
/// The running statistics are burn `RunningState`s: not trained (see
/// [`crate::adapter::is_buffer`]), but kept in checkpoints and reported weights.
#[derive(Module, Debug)]
pub struct BatchNorm2d {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    pub running_mean: RunningState<Tensor<1>>,
    pub running_var: RunningState<Tensor<1>>,
}

/// BatchNorm's epsilon and momentum (torch's defaults).
pub const BN_EPS: f64 = 1e-5;
pub const BN_MOMENTUM: f64 = 0.1;

thread_local! {
    /// The momentum of the running statistics in training-mode forwards on this thread, when not
    /// [`BN_MOMENTUM`] (set by [`with_bn_momentum`]).
    static MOMENTUM: std::cell::Cell<Option<f64>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with every [`BatchNorm2d`] on this thread updating its running statistics with
/// momentum `m` (`running = (1 − m) running + m batch`) instead of [`BN_MOMENTUM`]: torch's
/// `momentum=None` cumulative average is `m = 1/k` at the k-th batch (what `update_bn` uses).
pub fn with_bn_momentum<R>(m: f64, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<f64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            MOMENTUM.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(MOMENTUM.with(|c| c.replace(Some(m))));
    f()
}

impl BatchNorm2d {
    /// Weight 1, bias 0, running mean 0, running variance 1 (torch's initial values).
    pub fn new(channels: usize, device: &Device) -> Self {
        BatchNorm2d {
            weight: Param::from_tensor(Tensor::ones([channels], device)),
            bias: Param::from_tensor(Tensor::zeros([channels], device)),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
        }
    }

    pub fn forward(&self, x: Tensor<4>, train: bool) -> Tensor<4> {
        let device = x.device();
        if !train {
            let mean = self.running_mean.value_sync().to_device(&device);
            let var = self.running_var.value_sync().to_device(&device);
            return burn::tensor::module::batch_norm(x, self.weight.val(), self.bias.val(), mean, var, BN_EPS);
        }
        let [b, _, h, w] = x.dims();
        let n = (b * h * w) as f64;
        let r = burn::tensor::module::batch_norm_train(x, self.weight.val(), self.bias.val(), BN_EPS);
        let unbiased = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
        let m = MOMENTUM.with(|c| c.get()).unwrap_or(BN_MOMENTUM);
        let old_mean = self.running_mean.value_sync().to_device(&device);
        let old_var = self.running_var.value_sync().to_device(&device);
        let mean = old_mean.mul_scalar(1.0 - m).add(r.mean.detach().mul_scalar(m));
        let var = old_var.mul_scalar(1.0 - m).add(r.variance.detach().mul_scalar(m * unbiased));
        self.running_mean.update(mean.detach());
        self.running_var.update(var.detach());
        // Applied now (one thread updates), so that the state read next (checkpoints, the best
        // weights, evaluation) is this step's.
        let _ = self.running_mean.value_sync();
        let _ = self.running_var.value_sync();
        r.output
    }
}

/// The 1×1 stride-s projection of a residual block whose shape changes: torch's
/// `nn.Sequential(conv, bn)` (named `downsample.0` and `downsample.1` there; `downsample.conv`
/// and `downsample.bn` here, which [`torch_name`] translates).
#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm2d,
}

/// A ResNet basic block: conv 3×3 (stride s) → BN → ReLU → conv 3×3 → BN, plus the identity or
/// the [`Downsample`] projection, then ReLU.
#[derive(Module, Debug)]
pub struct BasicBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub conv2: Conv2d,
    pub bn2: BatchNorm2d,
    pub downsample: Option<Downsample>,
}

impl BasicBlock {
    pub fn new(c_in: usize, c_out: usize, stride: usize, rng: &mut StdRng, device: &Device) -> Self {
        BasicBlock {
            conv1: conv_no_bias(c_in, c_out, 3, stride, 1, rng, device),
            bn1: BatchNorm2d::new(c_out, device),
            conv2: conv_no_bias(c_out, c_out, 3, 1, 1, rng, device),
            bn2: BatchNorm2d::new(c_out, device),
            downsample: (stride != 1 || c_in != c_out).then(|| Downsample {
                conv: conv_no_bias(c_in, c_out, 1, stride, 0, rng, device),
                bn: BatchNorm2d::new(c_out, device),
            }),
        }
    }

    pub fn forward(&self, x: Tensor<4>, train: bool) -> Tensor<4> {
        let out = relu(self.bn1.forward(kernels::conv2d(x.clone(), &self.conv1, false), train));
        let out = self.bn2.forward(kernels::conv2d(out, &self.conv2, false), train);
        let short = match &self.downsample {
            Some(d) => d.bn.forward(kernels::conv2d(x, &d.conv, false), train),
            None => x,
        };
        relu(out + short)
    }
}

/// Stage widths of ResNet-18 (the default of the `*-resnet18` tasks).
pub const RESNET18_WIDTHS: [usize; 4] = [64, 128, 256, 512];

/// ResNet-18, CIFAR variant: a 3×3 stride-1 stem convolution (no bias) with BN and ReLU, no
/// max-pool, four stages of two [`BasicBlock`]s (`widths`, default 64/128/256/512; stages 2–4
/// start with stride 2 and a 1×1 projection), global average pooling and a linear layer to the
/// classes. 11,173,962 parameters for 10 classes. Inputs are `channels`×`side`×`side` images,
/// flattened (any side; 32 for CIFAR-10, 64 for Tiny ImageNet, 8 in quick tests).
#[derive(Module, Debug)]
pub struct ResNet18 {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub layer1: Vec<BasicBlock>,
    pub layer2: Vec<BasicBlock>,
    pub layer3: Vec<BasicBlock>,
    pub layer4: Vec<BasicBlock>,
    pub fc: Linear,
    #[module(skip)]
    pub channels: usize,
    #[module(skip)]
    pub side: usize,
}

impl ResNet18 {
    pub fn new(
        channels: usize,
        side: usize,
        classes: usize,
        widths: [usize; 4],
        rng: &mut StdRng,
        device: &Device,
    ) -> Self {
        let conv1 = conv_no_bias(channels, widths[0], 3, 1, 1, rng, device);
        let bn1 = BatchNorm2d::new(widths[0], device);
        let mut c_in = widths[0];
        let mut stage = |c_out: usize, stride: usize, rng: &mut StdRng| {
            let first = BasicBlock::new(c_in, c_out, stride, rng, device);
            let second = BasicBlock::new(c_out, c_out, 1, rng, device);
            c_in = c_out;
            vec![first, second]
        };
        let layer1 = stage(widths[0], 1, rng);
        let layer2 = stage(widths[1], 2, rng);
        let layer3 = stage(widths[2], 2, rng);
        let layer4 = stage(widths[3], 2, rng);
        let fc = linear(widths[3], classes, rng, device);
        ResNet18 { conv1, bn1, layer1, layer2, layer3, layer4, fc, channels, side }
    }
}

impl Net for ResNet18 {
    /// Training mode (batch statistics, running statistics updated) when `dropout` is given,
    /// as while training; evaluation mode (running statistics) when it is None.
    fn forward(&self, x: Tensor<2>, dropout: Option<&mut StdRng>) -> Tensor<2> {
        let train = dropout.is_some();
        let [b, _] = x.dims();
        let x = x.reshape([b, self.channels, self.side, self.side]);
        let mut x = relu(self.bn1.forward(kernels::conv2d(x, &self.conv1, false), train));
        for block in self.layer1.iter().chain(&self.layer2).chain(&self.layer3).chain(&self.layer4) {
            x = block.forward(x, train);
        }
        let [_, c, _, _] = x.dims();
        let x = x.mean_dim(3).mean_dim(2).reshape([b, c]);
        self.fc.forward(x)
    }
    fn loss(&self) -> Loss {
        Loss::CrossEntropy
    }
}

/// The torch `state_dict` name of a parameter path of these networks: the same path, except
/// the projection of a residual block (`downsample.conv.*` → `downsample.0.*`, `downsample.bn.*`
/// → `downsample.1.*`, as in torch's `nn.Sequential`).
pub fn torch_name(name: &str) -> String {
    name.replace(".downsample.conv.", ".downsample.0.").replace(".downsample.bn.", ".downsample.1.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::parameters;
    use rand::SeedableRng;

    fn dev() -> Device {
        Device::flex().autodiff()
    }

    #[test]
    fn shapes_and_parameter_counts() {
        let d = dev();
        let mut rng = StdRng::seed_from_u64(0);
        let count =
            |p: Vec<crate::adapter::ParamInfo>| p.iter().map(|p| p.shape.iter().product::<usize>()).sum::<usize>();
        let cnn = MnistCnn::new(&mut rng, &d);
        // PyTorch's MNIST example network has 1,199,882 parameters.
        assert_eq!(count(parameters(&cnn)), 1_199_882);
        let out = cnn.forward(Tensor::zeros([2, 784], &d), None);
        assert_eq!(out.dims(), [2, 10]);
        let cifar = CifarCnn::new(&mut rng, &d);
        assert_eq!(cifar.forward(Tensor::zeros([3, 3072], &d), None).dims(), [3, 10]);
        let mlp = Mlp::new(&[784, 256, 128, 10], &mut rng, &d);
        assert_eq!(count(parameters(&mlp)), 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
        let names: Vec<_> = parameters(&mlp).into_iter().map(|p| p.name).collect();
        assert_eq!(names[0], "layers.0.weight");
        assert_eq!(OneNeuron::new(5, Loss::Mse, &mut rng, &d).forward(Tensor::zeros([4, 5], &d), None).dims(), [4, 1]);
    }

    #[test]
    fn same_seed_same_weights() {
        let d = dev();
        let w = |seed| {
            let m = Mlp::new(&[4, 3, 2], &mut StdRng::seed_from_u64(seed), &d);
            m.layers[0].weight.val().into_data().try_into_vec_as::<f32>().unwrap()
        };
        assert_eq!(w(1), w(1));
        assert_ne!(w(1), w(2));
        assert!(w(1).iter().all(|v| v.abs() <= 0.5));
    }

    #[test]
    fn losses_match_hand_computation() {
        let d = dev();
        let out = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 0.0, 0.5, -1.0, 3.0], [2, 3]), &d);
        let ce: f32 = Loss::CrossEntropy.mean(out.clone(), &[1, 2]).into_scalar();
        let lse = |a: [f32; 3]| a.iter().map(|v| v.exp()).sum::<f32>().ln();
        let want = ((lse([1.0, 2.0, 0.0]) - 2.0) + (lse([0.5, -1.0, 3.0]) - 3.0)) / 2.0;
        assert!((ce - want).abs() < 1e-6, "{ce} vs {want}");
        assert_eq!(Loss::CrossEntropy.correct(out, &[1, 0]), 1);
        let z = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -2.0], [2, 1]), &d);
        let s = |v: f32| 1.0 / (1.0 + (-v).exp());
        let bce: f32 = Loss::BinaryCrossEntropy.mean(z.clone(), &[1, 0]).into_scalar();
        let want = -(s(0.5).ln() + (1.0 - s(-2.0)).ln()) / 2.0;
        assert!((bce - want).abs() < 1e-6, "{bce} vs {want}");
        let mse: f32 = Loss::Mse.mean(z.clone(), &[0, 0]).into_scalar();
        assert!((mse - (s(0.5).powi(2) + s(-2.0).powi(2)) / 2.0).abs() < 1e-6);
        assert_eq!(Loss::Mse.correct(z, &[1, 1]), 1);
    }

    #[test]
    fn dropout_keeps_the_mean_and_zeroes_a_fraction() {
        let d = dev();
        let x = Tensor::<2>::ones([100, 100], &d);
        let y: Vec<f32> =
            dropout(x.clone(), 0.25, Some(&mut StdRng::seed_from_u64(3))).into_data().try_into_vec_as().unwrap();
        let zeros = y.iter().filter(|v| **v == 0.0).count() as f64 / 1e4;
        assert!((zeros - 0.25).abs() < 0.02, "{zeros}");
        let mean = y.iter().map(|v| *v as f64).sum::<f64>() / 1e4;
        assert!((mean - 1.0).abs() < 0.03, "{mean}");
        let same: Vec<f32> = dropout(x, 0.25, None).into_data().try_into_vec_as().unwrap();
        assert!(same.iter().all(|v| *v == 1.0));
    }
}
