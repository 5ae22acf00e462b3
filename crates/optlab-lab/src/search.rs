//! Search spaces (`[comparison.search]`): distributions over hyperparameters and the samplers that
//! draw `trials` points from them, deterministically from the experiment's seed.
//!
//! * `log_uniform = [lo, hi]`: `exp(U(ln lo, ln hi))`; `uniform = [lo, hi]`: `U(lo, hi)`; both
//!   rounded to 4 significant digits (so labels stay short) and kept in `[lo, hi]`;
//!   `int = [lo, hi]`: an integer in `lo..=hi`; `choice = [a, b, ...]`: one of the values.
//! * Samplers map a point `u` of the unit cube (one coordinate per searched key, in file order)
//!   to the values: `random` (SplitMix64 from the seed), `halton` (radical inverses in the first
//!   primes, from index 1, with a Cranley–Patterson shift drawn from the seed) and `sobol`
//!   (Joe and Kuo's direction numbers, from index 0, with a digital shift drawn from the seed).
//! * A *stream* numbers independent draws of one space (the AlgoPerf protocol's studies): each
//!   stream has shifts of its own.

use optlab_optim::fmt_num;

/// A distribution of one searched key.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    LogUniform(f64, f64),
    Uniform(f64, f64),
    Int(i64, i64),
    /// Values as text (hyperparameter values).
    Choice(Vec<String>),
}

impl Dist {
    /// The value at `u` in [0, 1), as text.
    pub fn value(&self, u: f64) -> String {
        let u = u.clamp(0.0, 1.0 - f64::EPSILON);
        match self {
            Dist::LogUniform(lo, hi) => round4((lo.ln() + u * (hi.ln() - lo.ln())).exp(), *lo, *hi),
            Dist::Uniform(lo, hi) => round4(lo + u * (hi - lo), *lo, *hi),
            Dist::Int(lo, hi) => {
                let n = (hi - lo) as f64 + 1.0;
                (lo + ((u * n).floor() as i64).min(hi - lo)).to_string()
            }
            Dist::Choice(v) => v[((u * v.len() as f64).floor() as usize).min(v.len() - 1)].clone(),
        }
    }

    /// The values that bound the distribution (checked against each optimizer's range).
    pub fn extremes(&self) -> Vec<String> {
        match self {
            Dist::LogUniform(lo, hi) | Dist::Uniform(lo, hi) => vec![fmt_num(*lo), fmt_num(*hi)],
            Dist::Int(lo, hi) => vec![lo.to_string(), hi.to_string()],
            Dist::Choice(v) => v.clone(),
        }
    }
}

/// `x` rounded to 4 significant digits, within `[lo, hi]`.
fn round4(x: f64, lo: f64, hi: f64) -> String {
    let r: f64 = format!("{x:.3e}").parse().unwrap_or(x);
    fmt_num(r.clamp(lo, hi))
}

/// Samplers of `sampler = ...`.
pub const SAMPLERS: &[&str] = &["halton", "sobol", "random"];

/// Most searched keys (the Sobol direction numbers below; Halton's primes).
pub const MAX_KEYS: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampler {
    Random,
    Halton,
    Sobol,
}

impl Sampler {
    pub fn from_name(s: &str) -> Option<Sampler> {
        match s {
            "random" => Some(Sampler::Random),
            "halton" => Some(Sampler::Halton),
            "sobol" => Some(Sampler::Sobol),
            _ => None,
        }
    }
}

/// SplitMix64: a small, well-mixed generator (Steele, Lea and Flood, 2014).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform in [0, 1) from 53 random bits.
fn unit(state: &mut u64) -> f64 {
    (splitmix(state) >> 11) as f64 / (1u64 << 53) as f64
}

const PRIMES: [u64; MAX_KEYS] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];

/// The radical inverse of `i` in base `b` (Halton's coordinate).
pub fn radical_inverse(mut i: u64, b: u64) -> f64 {
    let (mut f, mut r) = (1.0, 0.0);
    while i > 0 {
        f /= b as f64;
        r += f * (i % b) as f64;
        i /= b;
    }
    r
}

/// Joe and Kuo's direction numbers (new-joe-kuo-6.21201) of dimensions 2..=12: (s, a, m_1..m_s).
const JOE_KUO: [(u32, u32, &[u32]); MAX_KEYS - 1] = [
    (1, 0, &[1]),
    (2, 1, &[1, 3]),
    (3, 1, &[1, 3, 1]),
    (3, 2, &[1, 1, 1]),
    (4, 1, &[1, 1, 3, 3]),
    (4, 4, &[1, 3, 5, 13]),
    (5, 2, &[1, 1, 5, 5, 17]),
    (5, 4, &[1, 1, 5, 5, 5]),
    (5, 7, &[1, 1, 7, 11, 19]),
    (5, 11, &[1, 1, 5, 1, 1]),
    (5, 13, &[1, 1, 1, 3, 11]),
];

/// The 32 direction numbers of Sobol dimension `d` (0-based), scaled to 32 bits.
fn directions(d: usize) -> [u32; 32] {
    let mut v = [0u32; 32];
    if d == 0 {
        for (i, x) in v.iter_mut().enumerate() {
            *x = 1 << (31 - i);
        }
        return v;
    }
    let (s, a, m) = JOE_KUO[d - 1];
    let s = s as usize;
    for (i, (x, &mi)) in v.iter_mut().zip(m).enumerate() {
        *x = mi << (31 - i);
    }
    for i in s..32 {
        let mut x = v[i - s] ^ (v[i - s] >> s);
        for k in 1..s {
            if (a >> (s - 1 - k)) & 1 == 1 {
                x ^= v[i - k];
            }
        }
        v[i] = x;
    }
    v
}

/// The Sobol point `i` (0-based index) in `dims` dimensions, as 32-bit integers.
pub fn sobol_bits(i: u32, dims: usize) -> Vec<u32> {
    (0..dims)
        .map(|d| {
            let v = directions(d);
            (0..32).filter(|b| (i >> b) & 1 == 1).fold(0u32, |x, b| x ^ v[b])
        })
        .collect()
}

/// `n` points of the unit cube in `dims` dimensions from `sampler`, deterministic given `seed`
/// and `stream`.
pub fn unit_points(sampler: Sampler, dims: usize, n: usize, seed: u64, stream: u64) -> Vec<Vec<f64>> {
    assert!(dims <= MAX_KEYS, "at most {MAX_KEYS} searched keys");
    let mut state = seed ^ stream.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    match sampler {
        Sampler::Random => (0..n).map(|_| (0..dims).map(|_| unit(&mut state)).collect()).collect(),
        Sampler::Halton => {
            let shift: Vec<f64> = (0..dims).map(|_| unit(&mut state)).collect();
            (0..n)
                .map(|i| (0..dims).map(|d| (radical_inverse(i as u64 + 1, PRIMES[d]) + shift[d]).fract()).collect())
                .collect()
        }
        Sampler::Sobol => {
            let shift: Vec<u32> = (0..dims).map(|_| (splitmix(&mut state) >> 32) as u32).collect();
            (0..n)
                .map(|i| {
                    sobol_bits(i as u32, dims)
                        .into_iter()
                        .zip(&shift)
                        .map(|(x, s)| (x ^ s) as f64 / 4_294_967_296.0)
                        .collect()
                })
                .collect()
        }
    }
}

/// A checked search space.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    /// The searched keys and their distributions, in file order.
    pub keys: Vec<(String, Dist)>,
    pub sampler: Sampler,
    /// Trials per optimizer (per stream).
    pub trials: u32,
    /// The experiment's seed.
    pub seed: u64,
}

impl Search {
    /// The trials of stream `stream`: per trial, the values of the keys (aligned with `keys`).
    pub fn trials(&self, stream: u64) -> Vec<Vec<String>> {
        unit_points(self.sampler, self.keys.len(), self.trials as usize, self.seed, stream)
            .into_iter()
            .map(|u| self.keys.iter().zip(u).map(|((_, d), u)| d.value(u)).collect())
            .collect()
    }

    /// A trial as text: `lr=0.001 beta1=0.9` (keys in file order).
    pub fn trial_text(&self, values: &[String]) -> String {
        self.keys.iter().zip(values).map(|((k, _), v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}

/// The (key, value) pairs of a trial's text (`lr=0.001 beta1=0.9`).
pub fn parse_trial(text: &str) -> Vec<(String, String)> {
    text.split(' ').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halton_is_the_radical_inverse() {
        assert_eq!([1, 2, 3, 4].map(|i| radical_inverse(i, 2)), [0.5, 0.25, 0.75, 0.125]);
        assert!((radical_inverse(1, 3) - 1.0 / 3.0).abs() < 1e-15);
        assert!((radical_inverse(5, 3) - (2.0 / 3.0 + 1.0 / 9.0)).abs() < 1e-15);
    }

    #[test]
    fn sobol_first_points_and_stratification() {
        let s = 4_294_967_296.0;
        let p: Vec<Vec<f64>> = (0..4).map(|i| sobol_bits(i, 3).iter().map(|&x| x as f64 / s).collect()).collect();
        assert_eq!(p[0], [0.0, 0.0, 0.0]);
        assert_eq!(p[1], [0.5, 0.5, 0.5]);
        assert_eq!(p[2], [0.25, 0.75, 0.75]);
        assert_eq!(p[3], [0.75, 0.25, 0.25]);
        // The first 2^k points of every dimension (shifted or not) fill each of 2^k intervals once,
        // and every pair of the first dimensions is a (0, k, 2)-net: one point per 2^a × 2^b box.
        for seed in [0, 7] {
            let k = 6;
            let pts = unit_points(Sampler::Sobol, MAX_KEYS, 1 << k, seed, 0);
            for d in 0..MAX_KEYS {
                let mut seen = vec![0; 1 << k];
                for p in &pts {
                    seen[(p[d] * (1 << k) as f64) as usize] += 1;
                }
                assert!(seen.iter().all(|&c| c == 1), "dimension {d}: {seen:?}");
            }
            for a in 0..=k {
                let mut seen = vec![0; 1 << k];
                for p in &pts {
                    let i = (p[0] * (1 << a) as f64) as usize;
                    let j = (p[1] * (1 << (k - a)) as f64) as usize;
                    seen[(i << (k - a)) | j] += 1;
                }
                assert!(seen.iter().all(|&c| c == 1), "boxes 2^{a} x 2^{}", k - a);
            }
        }
    }

    #[test]
    fn samplers_are_deterministic_seeded_and_in_range() {
        for sampler in [Sampler::Random, Sampler::Halton, Sampler::Sobol] {
            let a = unit_points(sampler, 3, 20, 5, 0);
            assert_eq!(a, unit_points(sampler, 3, 20, 5, 0));
            assert_ne!(a, unit_points(sampler, 3, 20, 6, 0), "{sampler:?}: the seed changes the points");
            assert_ne!(a, unit_points(sampler, 3, 20, 5, 1), "{sampler:?}: each stream has its own points");
            assert!(a.iter().flatten().all(|u| (0.0..1.0).contains(u)));
        }
    }

    #[test]
    fn distributions_map_the_unit_interval() {
        let d = Dist::LogUniform(1e-4, 1.0);
        assert_eq!(d.value(0.0), "1e-4");
        assert_eq!(d.value(0.5), "0.01");
        assert_eq!(d.value(0.9999999), "1", "rounded to 4 digits, within the range");
        assert_eq!(Dist::Uniform(0.8, 0.999).value(0.0), "0.8");
        assert_eq!(Dist::Uniform(0.0, 1.0).value(0.123456), "0.1235");
        assert_eq!(Dist::Int(1, 3).value(0.0), "1");
        assert_eq!(Dist::Int(1, 3).value(0.99), "3");
        let c = Dist::Choice(vec!["0".into(), "0.5".into(), "0.9".into()]);
        assert_eq!([0.1, 0.4, 0.7].map(|u| c.value(u)), ["0", "0.5", "0.9"]);
        let s = Search {
            keys: vec![("lr".into(), d), ("momentum".into(), c)],
            sampler: Sampler::Halton,
            trials: 4,
            seed: 0,
        };
        let t = s.trials(0);
        assert_eq!(t.len(), 4);
        let text = s.trial_text(&t[0]);
        assert_eq!(parse_trial(&text), vec![("lr".into(), t[0][0].clone()), ("momentum".into(), t[0][1].clone())]);
    }
}
