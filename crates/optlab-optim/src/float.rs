//! The scalar types an optimizer runs in: `f32` and `f64`.

/// A floating-point element type of parameters, gradients and optimizer state.
///
/// Hyperparameters and per-tensor coefficients are computed in `f64` and converted once per
/// tensor per step with [`Float::of`]; the per-element arithmetic runs in `Self`.
pub trait Float:
    Copy
    + Send
    + Sync
    + PartialOrd
    + std::fmt::Debug
    + std::fmt::Display
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + std::ops::AddAssign
    + std::ops::MulAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    /// Machine epsilon of the type.
    const EPSILON: Self;
    /// Name of the type as used on the command line and in state files.
    const NAME: &'static str;
    /// Size in bytes.
    const BYTES: usize;
    fn of(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    /// Real cube root, vectorisable ([`crate::vmath`]).
    fn vcbrt(self) -> Self;
    /// `b^self` for `self >= 0` given `ln_b = ln b`, vectorisable ([`crate::vmath`]).
    fn vpow_ln(self, ln_b: f64) -> Self;
    fn max(self, o: Self) -> Self;
    fn min(self, o: Self) -> Self;
    fn signum(self) -> Self;
    fn is_finite(self) -> bool;
    /// `self * a + b` rounded as two operations (not a fused multiply-add), as torch does.
    #[inline(always)]
    fn mul_add2(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    /// Whether every element is finite: one vectorisable pass (integer maximum of the magnitude
    /// bits; a value is non-finite exactly when its exponent bits are all ones).
    fn all_finite(xs: &[Self]) -> bool;
    fn to_le_bytes_vec(xs: &[Self], out: &mut Vec<u8>);
    fn from_le_bytes_slice(b: &[u8]) -> Self;
    /// The bits of `self` rounded to f32 (what bf16 state is rounded from).
    fn f32_bits(self) -> u32;
    /// The value of f32 bits, in this type.
    fn from_f32_bits(b: u32) -> Self;
    /// A 32-bit word kept bit-exactly in one element (its high bits for f64): packed bf16 state.
    /// The element is non-finite only when the word's high 16 bits are a non-finite bf16.
    fn store_u32(w: u32) -> Self;
    /// The word stored by [`Float::store_u32`].
    fn load_u32(self) -> u32;
}

macro_rules! impl_float {
    ($t:ty, $name:expr, $bits:ty, $exp:expr, $cbrt:path, $pow_ln:path) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const EPSILON: Self = <$t>::EPSILON;
            const NAME: &'static str = $name;
            const BYTES: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn of(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn vcbrt(self) -> Self {
                $cbrt(self)
            }
            #[inline(always)]
            fn vpow_ln(self, ln_b: f64) -> Self {
                $pow_ln(self, ln_b)
            }
            #[inline(always)]
            fn max(self, o: Self) -> Self {
                // torch.maximum semantics for finite inputs; branch-free so loops vectorise.
                if self >= o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn min(self, o: Self) -> Self {
                if self <= o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn signum(self) -> Self {
                if self > 0.0 {
                    1.0
                } else if self < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn all_finite(xs: &[Self]) -> bool {
                const MAG: $bits = <$bits>::MAX >> 1;
                let mut m: $bits = 0;
                for x in xs {
                    m = m.max(x.to_bits() & MAG);
                }
                m < $exp
            }
            fn to_le_bytes_vec(xs: &[Self], out: &mut Vec<u8>) {
                out.reserve(xs.len() * Self::BYTES);
                for x in xs {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            fn from_le_bytes_slice(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
            #[inline(always)]
            fn f32_bits(self) -> u32 {
                (self as f32).to_bits()
            }
            #[inline(always)]
            fn from_f32_bits(b: u32) -> Self {
                f32::from_bits(b) as $t
            }
            #[inline(always)]
            fn store_u32(w: u32) -> Self {
                <$t>::from_bits((w as $bits) << (8 * std::mem::size_of::<$t>() - 32))
            }
            #[inline(always)]
            fn load_u32(self) -> u32 {
                (self.to_bits() >> (8 * std::mem::size_of::<$t>() - 32)) as u32
            }
        }
    };
}
impl_float!(f32, "f32", u32, 0x7f80_0000, crate::vmath::cbrt_f32, crate::vmath::pow_ln_f32);
impl_float!(f64, "f64", u64, 0x7ff0_0000_0000_0000, crate::vmath::cbrt_f64, crate::vmath::pow_ln_f64);

#[cfg(test)]
mod tests {
    use super::Float;

    #[test]
    fn all_finite_detects_nan_and_infinities_anywhere() {
        for n in [1usize, 7, 64, 1000] {
            let mut v = vec![1.5f32; n];
            assert!(f32::all_finite(&v));
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                v[n / 2] = bad;
                assert!(!f32::all_finite(&v), "{bad} at {} of {n}", n / 2);
                v[n / 2] = f32::MAX;
                assert!(f32::all_finite(&v));
            }
            let mut w = vec![-0.0f64; n];
            w[n - 1] = f64::NAN;
            assert!(!f64::all_finite(&w));
            w[n - 1] = -f64::MAX;
            assert!(f64::all_finite(&w));
        }
    }
}
