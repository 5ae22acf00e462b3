//! Scores and tests over seeds: percentile-bootstrap intervals, the Mann–Whitney U test, the
//! AlgoPerf benchmark score of a performance profile, and the geometric-mean speed-up against a
//! baseline.
//!
//! Everything here is deterministic: the bootstrap draws from a SplitMix64 stream seeded by a hash
//! of what is being resampled (comparison, task, configurations), so a report depends only on its
//! records. Values are compared in the total order of `f64` with `+∞` meaning "never" (steps to a
//! target that was not reached, the loss of a diverged run); NaN is dropped.

use crate::stats::{quantile_sorted, sorted_finite_or_inf};

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 2000;

/// Coverage of the intervals: 95 % (the 2.5 % and 97.5 % percentiles of the resampled statistic).
pub const LEVEL: f64 = 0.95;

/// Significance level of the tests the report states.
pub const ALPHA: f64 = 0.05;

/// AlgoPerf's upper limit of the performance-profile integral.
pub const R_MAX: f64 = 4.0;

/// Largest pooled sample for which [`mann_whitney`] computes the exact distribution.
pub const EXACT_MAX: usize = 60;

/// SplitMix64 (Steele, Lea & Flood 2014): a small, fast, well-mixed deterministic stream.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`), by rejection so that there is no modulo bias.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return (x % n) as usize;
            }
        }
    }
}

/// FNV-1a over the parts (each followed by a zero byte): the bootstrap seed of what they name.
pub fn seed_of(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// A confidence interval (either end may be `±∞`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// Percentile bootstrap of `stat` over independent groups of values (the seeds of each
/// configuration involved): each of [`RESAMPLES`] times, every group is resampled with
/// replacement to its own size, and `stat` is applied to the resampled groups. Returns the
/// [`LEVEL`] interval of the statistics that are not NaN; `None` when a group is empty or every
/// statistic is NaN.
pub fn bootstrap(groups: &[Vec<f64>], seed: u64, stat: impl Fn(&[Vec<f64>]) -> f64) -> Option<Interval> {
    if groups.is_empty() || groups.iter().any(|g| g.is_empty()) {
        return None;
    }
    let mut rng = Rng::new(seed);
    let mut buf: Vec<Vec<f64>> = groups.iter().map(|g| Vec::with_capacity(g.len())).collect();
    let mut stats = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        for (g, b) in groups.iter().zip(buf.iter_mut()) {
            b.clear();
            b.extend((0..g.len()).map(|_| g[rng.below(g.len())]));
        }
        stats.push(stat(&buf));
    }
    let s = sorted_finite_or_inf(stats);
    if s.is_empty() {
        return None;
    }
    let tail = (1.0 - LEVEL) / 2.0;
    Some(Interval { lo: quantile_sorted(&s, tail), hi: quantile_sorted(&s, 1.0 - tail) })
}

/// The median (NaN dropped, `+∞` kept: a median between a finite value and `+∞` is `+∞`).
pub fn median(values: &[f64]) -> f64 {
    crate::stats::median(values.iter().copied())
}

/// `b / a`, the speed-up of `a` over `b` when both are costs: `+∞` when only `a` is finite, NaN
/// when neither is (nothing to compare), 0 when only `b` is finite.
pub fn ratio(b: f64, a: f64) -> f64 {
    match (a.is_finite(), b.is_finite()) {
        (true, true) => b / a,
        (true, false) => f64::INFINITY,
        (false, true) => 0.0,
        (false, false) => f64::NAN,
    }
}

/// `b − a` (how much lower `a` ends): `+∞` when only `b` is infinite, `−∞` when only `a` is, NaN
/// when both are.
pub fn difference(b: f64, a: f64) -> f64 {
    if a.is_infinite() && b.is_infinite() {
        f64::NAN
    } else {
        b - a
    }
}

/// The result of a two-sided Mann–Whitney U test of two samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MannWhitney {
    /// `U` of the first sample: the number of pairs in which it is the smaller (ties count ½).
    pub u: f64,
    pub n_a: usize,
    pub n_b: usize,
    /// Two-sided p-value.
    pub p: f64,
    /// Whether `p` is exact (the permutation distribution of U given the ties) or the normal
    /// approximation with tie and continuity corrections (pooled samples above [`EXACT_MAX`]).
    pub exact: bool,
    /// The smallest two-sided p-value these sample sizes (and ties) allow: when it is above
    /// [`ALPHA`], no outcome could have been significant.
    pub min_p: f64,
}

impl MannWhitney {
    pub fn significant(&self) -> bool {
        self.p <= ALPHA
    }
}

/// Two-sided Mann–Whitney U (Wilcoxon rank-sum) test of `a` against `b` (NaN dropped; `±∞` are
/// ranked like any value). `None` when a sample is empty.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    let a: Vec<f64> = a.iter().copied().filter(|x| !x.is_nan()).collect();
    let b: Vec<f64> = b.iter().copied().filter(|x| !x.is_nan()).collect();
    let (na, nb) = (a.len(), b.len());
    if na == 0 || nb == 0 {
        return None;
    }
    let n = na + nb;
    let mut pooled: Vec<(f64, bool)> = a.iter().map(|&x| (x, true)).chain(b.iter().map(|&x| (x, false))).collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Doubled mid-ranks (integers): a tie group over positions i..j (0-based) has rank (i+1+j)/2.
    let mut ranks2 = vec![0u64; n];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && pooled[j].0.total_cmp(&pooled[i].0).is_eq() {
            j += 1;
        }
        for r in &mut ranks2[i..j] {
            *r = (i + 1 + j) as u64;
        }
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    let r2_a: u64 = pooled.iter().zip(&ranks2).filter(|(p, _)| p.1).map(|(_, r)| *r).sum();
    // U_a = R_a − n_a(n_a+1)/2 counts the pairs in which a is the larger; U of "a smaller" is
    // n_a·n_b − U_a.
    let u_a_larger = r2_a as f64 / 2.0 - (na * (na + 1)) as f64 / 2.0;
    let u = (na * nb) as f64 - u_a_larger;
    let mean2 = (na * (n + 1)) as u64; // doubled mean of the rank sum of a
    if n <= EXACT_MAX {
        // Distribution of the doubled rank sum of a random subset of size n_a.
        let max_sum: usize = ranks2.iter().map(|&r| r as usize).sum();
        let mut ways = vec![vec![0.0f64; max_sum + 1]; na + 1];
        ways[0][0] = 1.0;
        for &r in &ranks2 {
            let r = r as usize;
            for k in (1..=na).rev() {
                let (lo, hi) = ways.split_at_mut(k);
                let (prev, cur) = (&lo[k - 1], &mut hi[0]);
                for s in (r..=max_sum).rev() {
                    if prev[s - r] != 0.0 {
                        cur[s] += prev[s - r];
                    }
                }
            }
        }
        let dist = &ways[na];
        let total: f64 = dist.iter().sum();
        let dev = |s: usize| (s as i64 - mean2 as i64).unsigned_abs();
        let obs = (r2_a as i64 - mean2 as i64).unsigned_abs();
        let p: f64 = dist.iter().enumerate().filter(|(s, _)| dev(*s) >= obs).map(|(_, w)| w).sum::<f64>() / total;
        let max_dev = dist.iter().enumerate().filter(|(_, w)| **w > 0.0).map(|(s, _)| dev(s)).max().unwrap_or(0);
        let min_p: f64 =
            dist.iter().enumerate().filter(|(s, _)| dev(*s) >= max_dev).map(|(_, w)| w).sum::<f64>() / total;
        return Some(MannWhitney { u, n_a: na, n_b: nb, p: p.min(1.0), exact: true, min_p: min_p.min(1.0) });
    }
    let (naf, nbf, nf) = (na as f64, nb as f64, n as f64);
    let mu = naf * nbf / 2.0;
    let var = naf * nbf / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    let p = if var <= 0.0 {
        1.0
    } else {
        let z = ((u - mu).abs() - 0.5).max(0.0) / var.sqrt();
        (2.0 * normal_sf(z)).min(1.0)
    };
    let z_max = ((mu - 0.5).max(0.0)) / var.max(f64::MIN_POSITIVE).sqrt();
    Some(MannWhitney { u, n_a: na, n_b: nb, p, exact: false, min_p: (2.0 * normal_sf(z_max)).min(1.0) })
}

/// `P(Z > z)` for a standard normal Z, from the complementary error function (its power series
/// below 2, its continued fraction above; about 1e-13 absolute accuracy).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        // Series of erf: erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1)).
        let mut sum = 0.0f64;
        let mut term = x;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs().max(1e-300) {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
            if n > 200.0 {
                break;
            }
        }
        return 1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum;
    }
    // Continued fraction (Lentz): erfc(x) = e^{−x²}/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))).
    let mut f = x;
    let (mut c, mut d) = (x, 0.0);
    for k in 1..300 {
        let a = k as f64 / 2.0;
        d = x + a * d;
        d = if d == 0.0 { 1e-300 } else { 1.0 / d };
        c = x + a / c;
        if c == 0.0 {
            c = 1e-300;
        }
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() / f
}

/// AlgoPerf's benchmark score of one solver from its performance ratios (one per problem, `+∞`
/// when it missed the target): `B = 1/(r_max − 1) · ∫_1^{r_max} ρ(τ) dτ`, in [0, 1]: 1 when the
/// solver was the fastest on every problem, 0 when it was never within `r_max` times the fastest.
pub fn profile_score(ratios: &[f64], r_max: f64) -> f64 {
    if ratios.is_empty() || r_max <= 1.0 {
        return f64::NAN;
    }
    // ∫_1^{r_max} 1[r ≤ τ] dτ = r_max − max(r, 1) for r < r_max.
    let sum: f64 = ratios.iter().filter(|r| r.is_finite() && **r < r_max).map(|r| r_max - r.max(1.0)).sum();
    sum / ratios.len() as f64 / (r_max - 1.0)
}

/// The geometric mean of the finite positive speed-ups and how many there were; NaN and 0 when
/// there is none.
pub fn geomean(speedups: &[f64]) -> (f64, usize) {
    let ok: Vec<f64> = speedups.iter().copied().filter(|s| s.is_finite() && *s > 0.0).collect();
    if ok.is_empty() {
        return (f64::NAN, 0);
    }
    ((ok.iter().map(|s| s.ln()).sum::<f64>() / ok.len() as f64).exp(), ok.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_fixed_and_uniform_enough() {
        // SplitMix64 from 0: the published first outputs.
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut r = Rng::new(7);
        let mut counts = [0usize; 3];
        for _ in 0..3000 {
            counts[r.below(3)] += 1;
        }
        assert!(counts.iter().all(|&c| (900..1100).contains(&c)), "{counts:?}");
        assert_ne!(seed_of(&["a", "bc"]), seed_of(&["ab", "c"]));
    }

    #[test]
    fn mann_whitney_against_tables_and_scipy() {
        // 3 vs 3, completely separated: U = 9 (a smaller in all 9 pairs), exact two-sided p = 2/20.
        let t = mann_whitney(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert_eq!((t.u, t.exact), (9.0, true));
        assert!((t.p - 0.1).abs() < 1e-12 && (t.min_p - 0.1).abs() < 1e-12, "{t:?}");
        assert!(!t.significant());
        // 5 vs 5 separated: p = 2/252 (two of the C(10, 5) = 252 splits are as extreme).
        let t = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]).unwrap();
        assert!((t.p - 2.0 / 252.0).abs() < 1e-12 && t.significant(), "{t:?}");
        // Interleaved: a = 1, 3, 5, 7; b = 2, 4, 6, 8. U(a smaller) = 10 of 16; 48 of the 70 splits
        // deviate from the mean 8 by at least 2 (enumerated by hand with itertools): p = 48/70.
        let t = mann_whitney(&[1.0, 3.0, 5.0, 7.0], &[2.0, 4.0, 6.0, 8.0]).unwrap();
        assert_eq!(t.u, 10.0);
        assert!((t.p - 48.0 / 70.0).abs() < 1e-12, "{t:?}");
        // Ties and infinities: [1, ∞, ∞] vs [∞, ∞, ∞] — the permutation distribution given ties.
        let inf = f64::INFINITY;
        let t = mann_whitney(&[1.0, inf, inf], &[inf, inf, inf]).unwrap();
        // Doubled ranks: 1 → 2, five ties over 2..6 → 8 each. R_a×2 ∈ {18 (with 1), 24}; mean×2 = 21.
        // Every subset deviates by 3: p = 1.
        assert_eq!(t.p, 1.0);
        assert!(mann_whitney(&[], &[1.0]).is_none());
        // Large samples: the normal approximation, symmetric in the arguments.
        let a: Vec<f64> = (0..40).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..40).map(|i| i as f64 + 10.5).collect();
        let (x, y) = (mann_whitney(&a, &b).unwrap(), mann_whitney(&b, &a).unwrap());
        assert!(!x.exact && (x.p - y.p).abs() < 1e-12 && x.p < 0.05, "{x:?}");
    }

    #[test]
    fn the_normal_tail() {
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-15);
        assert!((normal_sf(1.959_963_984_540_054) - 0.025).abs() < 1e-12);
        assert!((normal_sf(3.0) - 0.001_349_898_031_630_094_6).abs() < 1e-13);
        assert!((normal_sf(-1.0) - 0.841_344_746_068_542_9).abs() < 1e-12);
    }

    #[test]
    fn bootstrap_intervals_are_deterministic_and_cover() {
        let g = vec![vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]];
        let a = bootstrap(&g, 42, |s| median(&s[0])).unwrap();
        let b = bootstrap(&g, 42, |s| median(&s[0])).unwrap();
        assert_eq!(a, b);
        assert!(a.contains(5.0) && a.lo >= 1.0 && a.hi <= 9.0 && a.lo < a.hi, "{a:?}");
        // A constant sample: a point interval.
        let c = bootstrap(&[vec![3.0; 4]], 1, |s| median(&s[0])).unwrap();
        assert_eq!(c, Interval { lo: 3.0, hi: 3.0 });
        assert!(bootstrap(&[vec![]], 1, |s| median(&s[0])).is_none());
        // Never reached in every resample: +∞ at both ends.
        let d = bootstrap(&[vec![f64::INFINITY; 3]], 1, |s| median(&s[0])).unwrap();
        assert_eq!(d.lo, f64::INFINITY);
    }

    #[test]
    fn algoperf_score_by_hand() {
        let inf = f64::INFINITY;
        // ρ jumps to 1/2 at τ = 1 and to 3/4 at τ = 2: ∫_1^4 = 0.5·1 + 0.75·2 = 2; B = 2/3.
        assert!((profile_score(&[1.0, 2.0, inf, 1.0], 4.0) - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(profile_score(&[1.0, 1.0], 4.0), 1.0);
        assert_eq!(profile_score(&[4.0, 10.0, inf], 4.0), 0.0);
        assert!(profile_score(&[], 4.0).is_nan());
    }

    #[test]
    fn ratios_differences_and_geomeans() {
        let inf = f64::INFINITY;
        assert_eq!(ratio(200.0, 100.0), 2.0);
        assert_eq!(ratio(inf, 100.0), inf);
        assert_eq!(ratio(100.0, inf), 0.0);
        assert!(ratio(inf, inf).is_nan());
        assert_eq!(difference(3.0, 1.0), 2.0);
        assert_eq!(difference(inf, 1.0), inf);
        assert!(difference(inf, inf).is_nan());
        let (g, n) = geomean(&[2.0, 8.0, inf, f64::NAN]);
        assert!((g - 4.0).abs() < 1e-12 && n == 2);
        assert_eq!(geomean(&[inf]).1, 0);
    }
}
