//! Pieces shared by the kernels: gradient preparation (maximize, L2 weight decay) and torch's
//! two-sided `lerp`.
//!
//! Each has a general form and a short one, chosen per step by the kernel's `S` parameter (see
//! [`crate::algorithm::Algorithm::simple`]): `S = true` is promised only when the short form is
//! exact (`g' = g`; `lerp` on its `w < 0.5` side), so the loop does 2 operations where the
//! general form does 8. The general forms multiply by 0 and 1, which equals the short forms for
//! finite values; the short forms also keep infinities (`0·inf` would be NaN), as torch does.

use crate::algorithm::{Algorithm, Chunk, StepCtx, MAX_ACC, MAX_BUFFERS};
use crate::float::Float;
use crate::hyper::Hyper;

/// `g' = sign * g + wd * p`: torch's `maximize` (negated gradient) and L2 weight decay
/// (`grad.add(param, alpha=weight_decay)`), branch-free. With `wd = 0` this is exactly `±g`.
#[derive(Clone, Copy, Debug)]
pub struct GradPrep<T> {
    pub sign: T,
    pub wd: T,
}

impl<T: Float> GradPrep<T> {
    pub fn new(maximize: bool, l2: f64) -> Self {
        GradPrep { sign: T::of(if maximize { -1.0 } else { 1.0 }), wd: T::of(l2) }
    }
    #[inline(always)]
    pub fn apply(&self, g: T, p: T) -> T {
        self.sign * g + self.wd * p
    }
    /// Whether `g' = g` (no maximize, no L2 decay).
    pub fn plain(&self) -> bool {
        self.sign == T::ONE && self.wd == T::ZERO
    }
    /// `g` when `S` (only where [`GradPrep::plain`]), else [`GradPrep::apply`].
    #[inline(always)]
    pub fn get<const S: bool>(&self, g: T, p: T) -> T {
        if S {
            g
        } else {
            self.apply(g, p)
        }
    }
}

/// torch's `lerp(m, g, w)`: `m + w (g - m)` when `|w| < 0.5`, else `g - (g - m)(1 - w)`, written as
/// `(a_m m + a_g g) + c (g - m)` so one loop serves both sides exactly.
#[derive(Clone, Copy, Debug)]
pub struct Lerp<T> {
    am: T,
    ag: T,
    c: T,
}

impl<T: Float> Lerp<T> {
    pub fn new(w: f64) -> Self {
        if w.abs() < 0.5 {
            Lerp { am: T::ONE, ag: T::ZERO, c: T::of(w) }
        } else {
            Lerp { am: T::ZERO, ag: T::ONE, c: T::of(-(1.0 - w)) }
        }
    }
    #[inline(always)]
    pub fn apply(&self, m: T, g: T) -> T {
        (self.am * m + self.ag * g) + self.c * (g - m)
    }
    /// Whether the weight is on the `w < 0.5` side, where the result is `m + w (g - m)`.
    pub fn low(&self) -> bool {
        self.am == T::ONE
    }
    /// `m + w (g - m)` when `S` (only where [`Lerp::low`]), else [`Lerp::apply`].
    #[inline(always)]
    pub fn get<const S: bool>(&self, m: T, g: T) -> T {
        if S {
            m + self.c * (g - m)
        } else {
            self.apply(m, g)
        }
    }
}

/// `acc + x²` in f64: for f32 elements `x²` is exact in f64, so a multiply and an add give the
/// bits of the fused multiply-add (and vectorise on every instruction set); f64 elements keep
/// the fused multiply-add, as torch's norm accumulates (exactly rounded, the same everywhere).
#[inline(always)]
pub fn add_sq<T: Float>(x: T, acc: f64) -> f64 {
    let x = x.to_f64();
    if T::BYTES == 4 {
        acc + x * x
    } else {
        x.mul_add(x, acc)
    }
}

/// `1 - b^t` with `t` as a float power, as Python's `b ** step` computes it.
pub fn bias_correction(b: f64, step: u64) -> f64 {
    1.0 - b.powf(step as f64)
}

// Shared hyperparameter docs (the names and defaults are declared in each optimizer's file).
pub const LR_DOC: &str = "learning rate";
pub const BETA1_DOC: &str = "decay of the first-moment average";
pub const BETA2_DOC: &str = "decay of the second-moment average";
pub const EPS_DOC: &str = "added to the denominator for stability";
pub const WEIGHT_DECAY_DOC: &str = "L2 penalty coefficient (added to the gradient)";
pub const MAXIMIZE_DOC: &str = "maximise the objective instead of minimising it";
pub const DECOUPLED_DOC: &str = "decoupled weight decay: p <- p (1 - lr weight_decay) before the update, instead of adding weight_decay p to the gradient";

/// One step of `A` with the settings `set` at step 3, in both kernel forms from the same inputs:
/// `Ok(true)` if the short form applied and gave bit-identical parameters and state, `Ok(false)`
/// if the settings rule the short form out (the registry's [`FormsCheck`](crate::registry::FormsCheck)).
#[doc(hidden)]
pub fn check_forms<T: Float, A: Algorithm<T>>(set: &[(&str, &str)]) -> Result<bool, String> {
    let name = A::spec().name;
    let mut hp = Hyper::defaults(A::spec());
    for (k, v) in set {
        hp.set_str(k, v).map_err(|e| format!("{name} {set:?}: {e}"))?;
    }
    A::validate(&hp).map_err(|e| format!("{name} {set:?}: {e}"))?;
    let alg = A::new(&hp).map_err(|e| format!("{name} {set:?}: {e}"))?;
    let n = 1000;
    let mut scalars: Vec<f64> = A::scalars(&hp).iter().map(|s| s.1).collect();
    let ctx = StepCtx { step: 3, len: n, tensor: "x", acc: [0.0; MAX_ACC] };
    let c = alg.prepare(&hp, &ctx, &mut scalars).map_err(|e| format!("{name} {set:?}: {e}"))?;
    if !A::simple(&c) {
        return Ok(false);
    }
    let val = |i: usize, k: f64| T::of(((i * 7919 + 13) % 1000) as f64 * 1e-3 * k - 0.3 * k);
    let g: Vec<T> = (0..n).map(|i| val(i, 2.0)).collect();
    let h: Vec<T> = (0..n).map(|i| val(i + 3, 5.0)).collect();
    let nb = A::buffers(&hp).len();
    let run = |short: bool| {
        let mut p: Vec<T> = (0..n).map(|i| val(i + 1, 1.0)).collect();
        // Non-negative state (second moments must be), different per buffer.
        let mut bufs: Vec<Vec<T>> = (0..MAX_BUFFERS)
            .map(|b| if b < nb { (0..n).map(|i| val(i + 5 * b, 1.0).abs()).collect() } else { vec![] })
            .collect();
        let mut it = bufs.iter_mut();
        let s: [&mut [T]; MAX_BUFFERS] = std::array::from_fn(|_| &mut it.next().unwrap()[..]);
        let ch = Chunk { p: &mut p, g: &g, h: &h, s };
        if short {
            A::update::<true>(&c, ch)
        } else {
            A::update::<false>(&c, ch)
        }
        (p, bufs)
    };
    let (a, b) = (run(true), run(false));
    let bits = |v: &Vec<T>| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
    if bits(&a.0) != bits(&b.0) {
        return Err(format!("{name} {set:?} ({}): the short form changes the parameters", T::NAME));
    }
    for k in 0..nb {
        if bits(&a.1[k]) != bits(&b.1[k]) {
            return Err(format!("{name} {set:?} ({}): the short form changes buffer {k}", T::NAME));
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::{add_sq, GradPrep, Lerp};
    use crate::registry::REGISTRY;

    /// For f32 elements [`add_sq`]'s multiply and add have the bits of the fused multiply-add it
    /// replaced in the LAMB and LARS norms (an f32 square is exact in f64).
    #[test]
    fn f32_squares_add_as_the_fused_multiply_add() {
        let mut acc = 0.0f64;
        for i in 0..100_000u32 {
            let x = f32::from_bits(i.wrapping_mul(2_654_435_761) & 0x7fff_ffff);
            if !x.is_finite() {
                continue;
            }
            let want = (x as f64).mul_add(x as f64, acc);
            acc = add_sq(x, acc);
            assert_eq!(acc.to_bits(), want.to_bits(), "{x}");
            if !acc.is_finite() {
                acc = 0.0;
            }
        }
    }

    /// For every registered optimizer with a kernel, its defaults and each of its variants: where the
    /// short form applies it gives bit-identical steps; optimizers that declare a short form use it
    /// for their defaults.
    #[test]
    fn short_and_general_forms_give_identical_steps() {
        let mut checked = 0;
        for e in REGISTRY {
            let spec = (e.spec)();
            let Some(forms) = e.forms else { continue };
            let defaults: &[(&str, &str)] = &[];
            for set in std::iter::once(defaults).chain(spec.variants.iter().map(|v| v.set)) {
                for check in forms {
                    let short = check(set).unwrap_or_else(|m| panic!("{m}"));
                    if set.is_empty() {
                        assert_eq!(short, e.has_short_form, "{}: short form for the defaults", spec.name);
                    }
                    checked += short as usize;
                }
            }
        }
        assert!(checked >= 2 * 14, "only {checked} short-form checks ran");
    }

    #[test]
    fn short_forms_are_refused_where_they_would_be_wrong() {
        assert!(!GradPrep::<f32>::new(true, 0.0).plain());
        assert!(!GradPrep::<f32>::new(false, 1e-4).plain());
        assert!(GradPrep::<f32>::new(false, 0.0).plain());
        assert!(Lerp::<f64>::new(0.1).low() && !Lerp::<f64>::new(0.7).low());
    }
}
