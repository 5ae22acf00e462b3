//! Vectorisable cube root and power for the kernels.
//!
//! libm's `cbrt` and `pow` are scalar calls: one per element keeps a loop from vectorising and
//! made `adam_skew` and `adam_curvature` compute-bound at a tenth of the memory bandwidth. These
//! are written with operations the compiler vectorises (add, multiply, compare-and-select,
//! conversions and integer arithmetic on the bit patterns), no branches, no tables and (the cube
//! root) no division, so they run inside the fused loop. Like every kernel operation they are
//! IEEE-exact step by step (no fused multiply-add), so results are identical whatever the
//! instruction set (see [`crate::simd`]).
//!
//! Accuracy (tested against libm, see the tests below):
//! - [`cbrt_f32`]: within 1 ulp of libm's f64 cube root rounded to f32 for every f32 (checked
//!   exhaustively by the ignored test `cbrt_f32_exhaustive`: 11.7% of the inputs are 1 ulp off,
//!   the others correctly rounded); odd (`cbrt(-x) = -cbrt(x)`).
//! - [`cbrt_f64`]: within 2 ulp of libm's; odd, and exact under scaling by 8 (`cbrt(8x) =
//!   2 cbrt(x)` away from the subnormal and overflow ends: the first guess is an exact integer
//!   third of the exponent bits, and every later operation scales by a power of 2).
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

/// One Newton step for `y ≈ x^(-1/3)`, given `xs3 = x/3`: `y·(4/3 − (x/3)·y³)`, no division.
macro_rules! newton_inv_cbrt {
    ($y:expr, $xs3:expr) => {{
        let y = $y;
        y * (4.0 / 3.0 - ($xs3 * y) * (y * y))
    }};
}

/// The cube root of `xs` from `y ≈ xs^(-1/3)`: `c = xs·y²`, then one Newton correction of `c`
/// (`c + (xs − c³)·y²/3`, `y²` standing in for `1/c²`).
macro_rules! cbrt_from_inverse {
    ($xs:expr, $y:expr) => {{
        let (xs, y) = ($xs, $y);
        let yy = y * y;
        let c = xs * yy;
        c + (xs - c * c * c) * (yy * (1.0 / 3.0))
    }};
}

/// `|x|` scaled into the range the cube-root iterations handle, and the factor that scales its
/// root back: subnormals by 2^24 (exact) and 2^-8; the largest values by 2^-24 and 2^8 (so that
/// `c³` stays finite).
#[inline(always)]
fn cbrt_scale_f32(x: f32) -> (f32, f32) {
    let ax = x.abs();
    let (scale_in, scale_out) = if ax < f32::MIN_POSITIVE {
        (16_777_216.0, 1.0 / 256.0)
    } else if ax > 1e37 {
        (1.0 / 16_777_216.0, 256.0)
    } else {
        (1.0, 1.0)
    };
    (ax * scale_in, scale_out)
}

/// Real cube root of an `f32` (sign-keeping: `cbrt(-8) = -2`), vectorisable and division-free.
///
/// Newton's iteration for the *inverse* cube root `y ≈ |x|^(-1/3)` needs no division; two steps
/// from a guess within 4% leave `y` within 2e-5, then `c = x·y²` and one Newton correction of `c`
/// (`c + (x − c³)·y²/3`, `y²` standing in for `1/c²`) give the root. Written for few operations
/// on a short dependency chain (about 70 cycles): in a fused loop the chain's length, not only
/// the operation count, limits the speed.
#[inline(always)]
pub fn cbrt_f32(x: f32) -> f32 {
    let (xs, scale_out) = cbrt_scale_f32(x);
    let xs3 = xs * (1.0 / 3.0);
    // bits(y) = K - bits(x)/3 (a third of the exponent and mantissa bits, negated and
    // re-biased), evaluated in f32: its rounding moves y by under 2e-5.
    let guess = 1_419_910_442.0f32 - (xs.to_bits() as i32 as f32) * (1.0 / 3.0);
    // SAFETY: bits(xs) < 2^31, so `guess` lies in (7e8, 1.5e9), inside i32.
    let y = f32::from_bits(unsafe { guess.to_int_unchecked::<i32>() } as u32);
    let y = newton_inv_cbrt!(newton_inv_cbrt!(y, xs3), xs3);
    let c = cbrt_from_inverse!(xs, y);
    // 0 and NaN come out as themselves; inf would not (inf - inf).
    let r = if x.abs() == f32::INFINITY { f32::INFINITY } else { c * scale_out };
    f32::from_bits(r.to_bits() | (x.to_bits() & 0x8000_0000))
}

/// As [`cbrt_scale_f32`], for f64: subnormals by 2^54 and 2^-18, the largest values by 2^-54 and
/// 2^18.
#[inline(always)]
fn cbrt_scale_f64(x: f64) -> (f64, f64) {
    let ax = x.abs();
    let (scale_in, scale_out) = if ax < f64::MIN_POSITIVE {
        (18_014_398_509_481_984.0, 1.0 / 262_144.0)
    } else if ax > 1e300 {
        (1.0 / 18_014_398_509_481_984.0, 262_144.0)
    } else {
        (1.0, 1.0)
    };
    (ax * scale_in, scale_out)
}

/// Real cube root of an `f64` (sign-keeping), vectorisable and division-free (as [`cbrt_f32`],
/// with three Newton steps for `y`).
#[inline(always)]
pub fn cbrt_f64(x: f64) -> f64 {
    let (xs, scale_out) = cbrt_scale_f64(x);
    let xs3 = xs * (1.0 / 3.0);
    // K - hi/3 on the high 32 bits (floor(hi/3) as a multiply and a shift), within 4%.
    let hi = xs.to_bits() >> 32;
    let y = f64::from_bits((1_430_187_600 - ((hi * 0xAAAA_AAAB) >> 33)) << 32);
    let y = newton_inv_cbrt!(newton_inv_cbrt!(newton_inv_cbrt!(y, xs3), xs3), xs3);
    let c = cbrt_from_inverse!(xs, y);
    let r = if x.abs() == f64::INFINITY { f64::INFINITY } else { c * scale_out };
    f64::from_bits(r.to_bits() | (x.to_bits() & 0x8000_0000_0000_0000))
}

/// 1.5·2^52: adding it rounds an f64 of magnitude below 2^51 to an integer (ties to even).
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// ln 2 split so that `n · LN2_HI` is exact for |n| < 2^11 (Cody & Waite).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // 0.6931471803691238
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // 1.9082149292705877e-10

/// `e^x` for `x <= 0` in f64, vectorisable: results below `f64::MIN_POSITIVE` (x < -708.3964)
/// flush to 0. Positive `x` is outside the domain (it is clamped to 0).
#[inline(always)]
pub fn exp_neg_f64(x: f64) -> f64 {
    // ln(f64::MIN_POSITIVE), rounded up: every x from here on has a normal result.
    const LO: f64 = -708.396_418_532_264_1;
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

/// `e^x` for `x <= 0` in f32, vectorisable: results below `f32::MIN_POSITIVE` (x < -87.33654) flush
/// to 0. Positive `x` is outside the domain (it is clamped to 0).
#[inline(always)]
pub fn exp_neg_f32(x: f32) -> f32 {
    // ln(f32::MIN_POSITIVE), rounded up to an f32.
    const LO: f32 = -87.336_54;
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

    /// Every positive finite f32 (about 2.1e9 values, 1.5 minutes in release): the figure in
    /// the module documentation. `cargo test -p optlab-optim --release -- --ignored cbrt_f32_exhaustive`
    #[test]
    #[ignore = "exhaustive: run by hand"]
    fn cbrt_f32_exhaustive() {
        let (mut worst, mut off) = (0, 0u64);
        for bits in 1..0x7f80_0000u32 {
            let x = f32::from_bits(bits);
            let d = ulp_diff_f32(cbrt_f32(x), (x as f64).cbrt() as f32);
            worst = worst.max(d);
            off += (d > 0) as u64;
        }
        println!("cbrt_f32: worst {worst} ulp, {off} of {} inputs not correctly rounded", 0x7f80_0000u32 - 1);
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
        fn cbrt_f64_exact_under_scaling_by_8(m in 1.0f64..8.0, e in -900i32..900) {
            let x = m * 2f64.powi(e);
            prop_assert_eq!(cbrt_f64(8.0 * x), 2.0 * cbrt_f64(x), "x = {:e}", x);
            prop_assert_eq!(cbrt_f64(-x), -cbrt_f64(x));
            prop_assert_eq!(cbrt_f32(-(x as f32)).to_bits(), (-cbrt_f32(x as f32)).to_bits());
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
        // The flush starts exactly where results stop being normal (proptest found x = -708.3963,
        // a normal result, flushed by an earlier, rounder cut-off).
        assert!(exp_neg_f64(-708.3964185322641) >= f64::MIN_POSITIVE);
        assert!(exp_neg_f32(-87.33654) >= f32::MIN_POSITIVE);
        assert!(ulp_diff_f64(exp_neg_f64(-708.3963), (-708.3963f64).exp()) <= 2);
        assert_eq!(exp_neg_f64(-708.3965), 0.0);
        assert_eq!(exp_neg_f32(-87.3366), 0.0);
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
