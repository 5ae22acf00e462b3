//! Instruction-set dispatch for the kernels.
//!
//! Rust compiles for the baseline x86-64 (SSE2) unless told otherwise, which leaves one core
//! compute-bound on sqrt and division in optimizers such as Adam. The engine therefore compiles
//! each algorithm's kernels three times — baseline, AVX2 and AVX-512 — by calling them from
//! `#[target_feature]` wrappers, and picks one per optimizer at construction from what the CPU
//! supports. Results are bit-identical across the three: the operations are IEEE-exact (add,
//! multiply, divide, square root, comparisons), and rustc never contracts a multiply and an add
//! into a fused multiply-add.

use serde::{Deserialize, Serialize};

/// Which kernels to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Simd {
    /// The widest the CPU supports.
    #[default]
    Auto,
    /// Baseline (SSE2 on x86-64).
    Base,
    /// AVX2 (falls back to the baseline where unsupported).
    Avx2,
    /// AVX-512 (falls back to AVX2, then the baseline).
    Avx512,
}

impl std::str::FromStr for Simd {
    type Err = crate::OptimError;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "auto" => Ok(Simd::Auto),
            "base" => Ok(Simd::Base),
            "avx2" => Ok(Simd::Avx2),
            "avx512" => Ok(Simd::Avx512),
            _ => Err(crate::OptimError::Malformed(format!("simd `{s}`: expected auto, base, avx2 or avx512"))),
        }
    }
}

impl Simd {
    /// The kernels actually used for a request on this CPU.
    pub fn resolve(self) -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
            let avx512 = avx2
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512bw");
            match self {
                Simd::Auto | Simd::Avx512 if avx512 => Simd::Avx512,
                Simd::Auto | Simd::Avx512 | Simd::Avx2 if avx2 => Simd::Avx2,
                _ => Simd::Base,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Simd::Base
        }
    }
}

/// Per kernel `k` (an `#[inline(always)]` function generic over `T: Float`), a function of the
/// same arguments plus `simd: Simd` that runs `k` compiled for that instruction set: for kernels
/// outside the engine's per-instruction-set entry points (Muon's product, Adafactor's passes, which
/// run on rayon's threads). Results must not depend on it.
macro_rules! isa_dispatch {
    ($(fn $name:ident = $kernel:ident ($($a:ident: $ty:ty),*) -> $r:ty;)*) => {$(
        #[allow(clippy::too_many_arguments)]
        fn $name<T: $crate::float::Float>(simd: $crate::simd::Simd, $($a: $ty),*) -> $r {
            #[cfg(target_arch = "x86_64")]
            {
                #[allow(clippy::too_many_arguments)]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<T: $crate::float::Float>($($a: $ty),*) -> $r {
                    $kernel($($a),*)
                }
                #[allow(clippy::too_many_arguments)]
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
                unsafe fn avx512<T: $crate::float::Float>($($a: $ty),*) -> $r {
                    $kernel($($a),*)
                }
                match simd {
                    // SAFETY: `Simd::resolve` returned these only where the CPU has them.
                    $crate::simd::Simd::Avx512 => return unsafe { avx512($($a),*) },
                    $crate::simd::Simd::Avx2 => return unsafe { avx2($($a),*) },
                    _ => {}
                }
            }
            $kernel($($a),*)
        }
    )*};
}

pub(crate) use isa_dispatch;
