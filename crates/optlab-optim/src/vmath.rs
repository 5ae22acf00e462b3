//! Vectorisable cube root and power for the kernels.
//!
//! libm's `cbrt` and `pow` are scalar calls: one per element keeps a loop from vectorising and
//! made `adam_skew` and `adam_curvature` compute-bound at a tenth of the memory bandwidth. These
//! are written with operations the compiler vectorises (add, multiply, divide, compare-and-select,
//! integer shifts on the bit patterns), no branches and no tables, so they run inside the fused
//! loop. Like every kernel operation they are IEEE-exact step by step (no fused multiply-add), so
//! results are identical whatever the instruction set (see [`crate::simd`]).
//!
//! Accuracy (tested against libm over wide ranges, see the tests below):
//! - [`cbrt_f32`]: within 1 ulp of libm's f64 cube root rounded to f32; odd, and exact under scaling by 8 (`cbrt(8x) = 2 cbrt(x)`), so ratios of cube
//!   roots of values that differ by a power of 8 are exact.
//! - [`cbrt_f64`]: within 2 ulp of libm's, with the same symmetry and scaling properties.
//! - [`exp_neg_f64`]/[`exp_neg_f32`] (`e^x` for `x <= 0`, all the kernels need): within 2 ulp of
//!   libm's `exp`; results that would be subnormal flush to 0.
//! - [`pow_ln_f64`]/[`pow_ln_f32`] (`b^a` for `b` in [0, 1] as `exp(a ln b)`): the product
//!   `a ln b` and `ln b` are rounded once each, and `e^x` turns an error of `x` relative to `x`
//!   into one `|x|` times larger in the result, so they are within `2|a ln b| + 2` ulp of libm's
//!   `powf` (the same conditioning as the input `a` has:
//!   its own rounding moves `b^a` by as much).
//!
//! Special values: `cbrt(±0) = ±0`, `cbrt(±inf) = ±inf`, NaN propagates, subnormals are
//! handled by exact rescaling. `b^0 = 1` for every `b` (also `0^0`), `0^a = 0` for `a > 0`,
//! `b^inf = 0` for `b < 1`, NaN propagates.

/// `floor(b / 3)` for any `u32`, as a multiply and a shift (vectorises, unlike a division).
#[inline(always)]
fn div3(b: u32) -> u32 {
    ((b as u64 * 0xAAAA_AAAB) >> 33) as u32
}

/// One Halley step for `y ≈ cbrt(x)`: cubic convergence.
macro_rules! halley {
    ($y:expr, $x:expr) => {{
        let y = $y;
        let y3 = y * y * y;
        // The ratio first: y times a sum would underflow for the smallest inputs.
        y * ((y3 + ($x + $x)) / ((y3 + y3) + $x))
    }};
}

/// Real cube root of an `f32` (sign-keeping: `cbrt(-8) = -2`), vectorisable.
#[inline(always)]
pub fn cbrt_f32(x: f32) -> f32 {
    let ax = x.abs();
    // Subnormals: scale by 2^24 (exact), take the root, scale the root back by 2^-8; the largest
    // values by 2^-24 and 2^8 (so that y³ + 2x cannot overflow).
    let tiny = ax < f32::MIN_POSITIVE;
    let big = ax > 1e37;
    let xs = if tiny {
        ax * 16_777_216.0
    } else if big {
        ax * (1.0 / 16_777_216.0)
    } else {
        ax
    };
    // A first guess within about 3%: a third of the exponent (and mantissa) bits, re-biased.
    let y0 = f32::from_bits(div3(xs.to_bits()).wrapping_add(709_958_130));
    let y1 = halley!(y0, xs);
    // A Newton step written as a small correction of y1, so that its rounding stays below an ulp.
    let y2 = y1 - (y1 - xs / (y1 * y1)) * (1.0 / 3.0);
    let r = if tiny {
        y2 * (1.0 / 256.0)
    } else if big {
        y2 * 256.0
    } else {
        y2
    };
    // 0, inf and NaN are their own cube roots.
    let r = if ax == 0.0 || ax.is_nan() || ax == f32::INFINITY { ax } else { r };
    f32::from_bits(r.to_bits() | (x.to_bits() & 0x8000_0000))
}

/// Real cube root of an `f64` (sign-keeping), vectorisable.
#[inline(always)]
pub fn cbrt_f64(x: f64) -> f64 {
    let ax = x.abs();
    // Subnormals: scale by 2^54, take the root, scale back by 2^-18; the largest values by 2^-54
    // and 2^18.
    let tiny = ax < f64::MIN_POSITIVE;
    let big = ax > 1e300;
    let xs = if tiny {
        ax * 18_014_398_509_481_984.0
    } else if big {
        ax * (1.0 / 18_014_398_509_481_984.0)
    } else {
        ax
    };
    // First guess from the high 32 bits (a third of the exponent, re-biased), within about 3%.
    let hi = (xs.to_bits() >> 32) as u32;
    let y0 = f64::from_bits((div3(hi).wrapping_add(715_094_163) as u64) << 32);
    let y = halley!(halley!(y0, xs), xs);
    // A Newton step written as a small correction, so that its rounding stays below an ulp.
    let y = y - (y - xs / (y * y)) * (1.0 / 3.0);
    let r = if tiny {
        y * (1.0 / 262_144.0)
    } else if big {
        y * 262_144.0
    } else {
        y
    };
    let r = if ax == 0.0 || ax.is_nan() || ax == f64::INFINITY { ax } else { r };
    f64::from_bits(r.to_bits() | (x.to_bits() & 0x8000_0000_0000_0000))
}

/// 1.5·2^52: adding it rounds an f64 of magnitude below 2^51 to an integer (ties to even).
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// ln 2 split so that `n · LN2_HI` is exact for |n| < 2^11 (Cody & Waite).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // 0.6931471803691238
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // 1.9082149292705877e-10

/// `e^x` for `x <= 0` in f64, vectorisable: results below `f64::MIN_POSITIVE` (x < -708.39)
/// flush to 0. Positive `x` is outside the domain (it is clamped to 0).
#[inline(always)]
pub fn exp_neg_f64(x: f64) -> f64 {
    const LO: f64 = -708.39;
    // (NaN stays NaN.)
    let xc = x.clamp(LO, 0.0);
    let n = (xc * std::f64::consts::LOG2_E + SHIFT) - SHIFT;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    // e^r for |r| <= ln2/2: Taylor series to degree 13 (truncation below 1e-17).
    let mut p = 1.0 / 6_227_020_800.0;
    p = p * r + 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2^n from the bits of the shifted sum (n in [-1022, 0]).
    let two_n = f64::from_bits(((n + (SHIFT + 1023.0)).to_bits().wrapping_sub(SHIFT.to_bits())) << 52);
    let y = p * two_n;
    if x < LO {
        0.0
    } else {
        y
    }
}

/// `e^x` for `x <= 0` in f32, vectorisable: results below `f32::MIN_POSITIVE` (x < -87.33) flush
/// to 0. Positive `x` is outside the domain (it is clamped to 0).
#[inline(always)]
pub fn exp_neg_f32(x: f32) -> f32 {
    const LO: f32 = -87.33;
    /// 1.5·2^23, the f32 counterpart of [`SHIFT`].
    const SHIFT32: f32 = 12_582_912.0;
    // ln 2 split so that `n · LN2_HI32` is exact for |n| < 2^15.
    const LN2_HI32: f32 = f32::from_bits(0x3f31_8000); // 0.693359375
    const LN2_LO32: f32 = f32::from_bits(0xb95e_8083); // -2.1219444e-4
                                                       // (NaN stays NaN.)
    let xc = x.clamp(LO, 0.0);
    let t = xc * std::f32::consts::LOG2_E + SHIFT32;
    let n = t - SHIFT32;
    let r = (xc - n * LN2_HI32) - n * LN2_LO32;
    // e^r for |r| <= ln2/2: Taylor series to degree 7 (truncation below 6e-9).
    let mut p = 1.0f32 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2^n from the bits of t (n in [-126, 0]).
    let two_n = f32::from_bits((t.to_bits().wrapping_sub(SHIFT32.to_bits()).wrapping_add(127)) << 23);
    let y = p * two_n;
    if x < LO {
        0.0
    } else {
        y
    }
}

/// `b^a` for `a >= 0` and `b` in [0, 1], given `ln_b = ln b` (f64), in f64.
#[inline(always)]
pub fn pow_ln_f64(a: f64, ln_b: f64) -> f64 {
    let y = exp_neg_f64(a * ln_b);
    if a == 0.0 {
        1.0
    } else {
        y
    }
}

/// `b^a` for `a >= 0` and `b` in [0, 1], given `ln_b = ln b`, in f32 (`a ln b` rounded to f32).
#[inline(always)]
pub fn pow_ln_f32(a: f32, ln_b: f64) -> f32 {
    let y = exp_neg_f32(a * ln_b as f32);
    if a == 0.0 {
        1.0
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ulp_diff_f32(a: f32, b: f32) -> u32 {
        let (x, y) = (a.to_bits() as i64, b.to_bits() as i64);
        (x - y).unsigned_abs() as u32
    }
    fn ulp_diff_f64(a: f64, b: f64) -> u64 {
        let (x, y) = (a.to_bits() as i128, b.to_bits() as i128);
        (x - y).unsigned_abs() as u64
    }

    /// Every f32 exponent, many mantissas (50,000 values of each sign, subnormals included):
    /// within 1 ulp of the f64 cube root of the exact f32 input, rounded to f32.
    #[test]
    fn cbrt_f32_within_1_ulp_over_the_whole_range() {
        let mut worst = 0;
        let mut bits: u32 = 1;
        while bits < 0x7f80_0000 {
            for x in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let want = (x as f64).cbrt() as f32;
                let got = cbrt_f32(x);
                worst = worst.max(ulp_diff_f32(got, want));
                assert!(ulp_diff_f32(got, want) <= 1, "cbrt_f32({x:e}) = {got:e}, want {want:e}");
            }
            bits = bits.wrapping_add(0x0001_3579);
        }
        assert!(worst <= 1);
    }

    #[test]
    fn cbrt_special_values_and_symmetry() {
        for (x, want) in [(0.0f32, 0.0f32), (8.0, 2.0), (-27.0, -3.0), (0.125, 0.5)] {
            assert_eq!(cbrt_f32(x), want, "{x}");
        }
        for x in [f32::from_bits(1), f32::MIN_POSITIVE, f32::MAX, -1e-40, 3e38] {
            assert!(ulp_diff_f32(cbrt_f32(x), (x as f64).cbrt() as f32) <= 1, "{x:e}");
        }
        assert_eq!(cbrt_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(cbrt_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(cbrt_f32(f32::NEG_INFINITY), f32::NEG_INFINITY);
        assert!(cbrt_f32(f32::NAN).is_nan());
        assert_eq!(cbrt_f64(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(cbrt_f64(f64::INFINITY), f64::INFINITY);
        assert_eq!(cbrt_f64(-f64::INFINITY), -f64::INFINITY);
        assert!(cbrt_f64(f64::NAN).is_nan());
        for x in [1.0f64, 8.0, 27.0, 1e-300, 5e-324, 1e300, f64::MAX, 0.001, 0.000125] {
            assert_eq!(cbrt_f64(-x), -cbrt_f64(x));
            assert!(ulp_diff_f64(cbrt_f64(x), x.cbrt()) <= 2, "{x:e}: {} vs {}", cbrt_f64(x), x.cbrt());
        }
        assert_eq!(cbrt_f64(8.0), 2.0);
        assert_eq!(cbrt_f64(-1.0), -1.0);
        // Exact under scaling by 8: the ratio of the roots of 0.001 and 0.001/8 is exactly 2.
        assert_eq!(cbrt_f64(0.001) / cbrt_f64(0.001 * 0.125), 2.0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn cbrt_f64_within_2_ulp_of_libm(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assume!(x.is_finite());
            let (got, want) = (cbrt_f64(x), x.cbrt());
            prop_assert!(ulp_diff_f64(got, want) <= 2, "cbrt_f64({:e}) = {:e}, libm {:e}", x, got, want);
        }

        #[test]
        fn exp_neg_within_2_ulp_of_libm(x in -708.0f64..0.0) {
            let (got, want) = (exp_neg_f64(x), x.exp());
            prop_assert!(ulp_diff_f64(got, want) <= 2, "exp_neg_f64({:e}) = {:e}, libm {:e}", x, got, want);
            let x32 = (x / 8.2) as f32;
            let (got, want) = (exp_neg_f32(x32), (x32 as f64).exp() as f32);
            prop_assert!(ulp_diff_f32(got, want) <= 2, "exp_neg_f32({:e}) = {:e}, want {:e}", x32, got, want);
        }

        #[test]
        fn pow_ln_close_to_powf(a in 0.0f64..2e4, bi in 0usize..5) {
            let b = [0.9, 0.999, 0.5, 0.1, 0.99999][bi];
            let x = (a * f64::ln(b)).abs();
            let want = b.powf(a);
            if want >= f64::MIN_POSITIVE {
                let got = pow_ln_f64(a, b.ln());
                prop_assert!(ulp_diff_f64(got, want) as f64 <= 2.0 * x + 2.0, "{}^{} = {:e} vs {:e}", b, a, got, want);
            }
            let (a32, b32) = (a as f32, b as f32);
            let want = (b32 as f64).powf(a32 as f64) as f32;
            if want >= f32::MIN_POSITIVE {
                let got = pow_ln_f32(a32, (b32 as f64).ln());
                prop_assert!(ulp_diff_f32(got, want) as f64 <= 2.0 * x + 2.0, "{}^{} = {:e} vs {:e}", b32, a32, got, want);
            }
        }
    }

    #[test]
    fn exp_and_pow_special_values() {
        assert_eq!(exp_neg_f64(0.0), 1.0);
        assert_eq!(exp_neg_f32(0.0), 1.0);
        assert_eq!(exp_neg_f64(-1e-17), 1.0);
        assert_eq!(exp_neg_f32(-1e-9), 1.0);
        assert_eq!(exp_neg_f64(-709.0), 0.0, "would be subnormal: flushed");
        assert_eq!(exp_neg_f32(-88.0), 0.0, "would be subnormal: flushed");
        assert_eq!(exp_neg_f64(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_neg_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_neg_f64(f64::NAN).is_nan() && exp_neg_f32(f32::NAN).is_nan());
        assert!(exp_neg_f64(-708.0) >= f64::MIN_POSITIVE && exp_neg_f32(-87.0) >= f32::MIN_POSITIVE);
        for b in [0.0, 0.9, 1.0] {
            assert_eq!(pow_ln_f64(0.0, f64::ln(b)), 1.0, "{b}^0");
            assert_eq!(pow_ln_f32(0.0, f64::ln(b)), 1.0, "{b}^0");
        }
        assert_eq!(pow_ln_f64(2.0, f64::ln(0.0)), 0.0);
        assert_eq!(pow_ln_f32(2.0, f64::ln(0.0)), 0.0);
        assert_eq!(pow_ln_f64(1e7, f64::ln(0.9)), 0.0);
        assert_eq!(pow_ln_f32(1e7, f64::ln(0.9)), 0.0);
        assert_eq!(pow_ln_f64(f64::INFINITY, f64::ln(0.9)), 0.0);
        assert_eq!(pow_ln_f32(f32::INFINITY, f64::ln(0.9)), 0.0);
        assert_eq!(pow_ln_f64(3.0, f64::ln(1.0)), 1.0);
        assert!(ulp_diff_f32(pow_ln_f32(1.0, f64::ln(0.9f32 as f64)), 0.9) <= 1);
        assert_eq!(pow_ln_f64(1.0, f64::ln(0.5)), 0.5);
        assert_eq!(pow_ln_f64(2.0, f64::ln(0.5)), 0.25);
        assert!(pow_ln_f64(f64::NAN, f64::ln(0.9)).is_nan());
        assert!(pow_ln_f32(f32::NAN, f64::ln(0.9)).is_nan());
        // Tiny exponents round to 1 (the frozen averages of adam_curvature).
        assert_eq!(pow_ln_f64(f64::EPSILON, f64::ln(0.9)), 1.0);
        assert_eq!(pow_ln_f32(f32::EPSILON, f64::ln(0.999)), 1.0);
    }
}
