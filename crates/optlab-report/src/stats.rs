//! Statistics over seeds and across tasks: medians with their spread, and performance profiles.
//!
//! Quantiles interpolate linearly between order statistics (R's type 7); a median of an even
//! number of values is the mean of the middle two. Where "not reached" counts as `+∞` (steps or
//! time to a target), a median between a finite value and `+∞` is `+∞`.

pub use optlab_lab::stats::{median, quantile_sorted, sorted_finite_or_inf};

/// The finite values, sorted.
pub fn sorted_finite(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// Median and range of a set of values (over seeds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// How many values it summarises.
    pub n: usize,
}

impl Spread {
    /// Over the finite values; `None` when there is none.
    pub fn finite(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        Spread::of_sorted(&sorted_finite(values))
    }

    /// Over the values with `+∞` meaning "never" (NaN dropped); `None` when empty.
    pub fn with_inf(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        Spread::of_sorted(&sorted_finite_or_inf(values))
    }

    fn of_sorted(s: &[f64]) -> Option<Spread> {
        if s.is_empty() {
            return None;
        }
        Some(Spread { median: quantile_sorted(s, 0.5), min: s[0], max: s[s.len() - 1], n: s.len() })
    }
}

/// Performance ratios (Dolan & Moré 2002): `costs[s][p]` is the cost (steps or seconds to the
/// target) of solver `s` on problem `p`, `+∞` (or NaN) when it never got there. The ratio is
/// `costs[s][p] / min_s costs[s][p]`, `+∞` when unsolved (also when no solver solved `p`). Costs
/// below `floor` count as `floor` (a run that starts at the target took "one step", not zero).
pub fn performance_ratios(costs: &[Vec<f64>], floor: f64) -> Vec<Vec<f64>> {
    let n_problems = costs.iter().map(|c| c.len()).max().unwrap_or(0);
    let cost = |s: usize, p: usize| -> f64 {
        match costs[s].get(p) {
            Some(&t) if t.is_finite() => t.max(floor),
            _ => f64::INFINITY,
        }
    };
    let best: Vec<f64> =
        (0..n_problems).map(|p| (0..costs.len()).map(|s| cost(s, p)).fold(f64::INFINITY, f64::min)).collect();
    (0..costs.len())
        .map(|s| {
            (0..n_problems)
                .map(|p| {
                    let t = cost(s, p);
                    if t.is_finite() && best[p].is_finite() {
                        t / best[p]
                    } else {
                        f64::INFINITY
                    }
                })
                .collect()
        })
        .collect()
}

/// `ρ(τ)`: the fraction of problems whose ratio is at most `τ`.
pub fn profile_value(ratios: &[f64], tau: f64) -> f64 {
    if ratios.is_empty() {
        return 0.0;
    }
    ratios.iter().filter(|&&r| r <= tau).count() as f64 / ratios.len() as f64
}

/// The step function `ρ(τ)` of one solver as its jump points: `(τ, ρ just after τ)` for each
/// distinct finite ratio, in increasing `τ`.
pub fn profile_steps(ratios: &[f64]) -> Vec<(f64, f64)> {
    let finite = sorted_finite(ratios.iter().copied());
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (k, &r) in finite.iter().enumerate() {
        let rho = (k + 1) as f64 / ratios.len() as f64;
        match out.last_mut() {
            Some(last) if last.0 == r => last.1 = rho,
            _ => out.push((r, rho)),
        }
    }
    out
}

/// TensorBoard's smoothing of a scalar series: the debiased exponential moving average with
/// weight `w` in [0, 1). With `a_0 = 0` and `k` the number of finite values so far,
///
/// ```text
/// a_k = w·a_{k−1} + (1 − w)·y_i        s_i = a_k / (1 − w^k)
/// ```
///
/// A non-finite `y_i` is passed through unchanged (and does not enter the average), and a
/// constant series is returned as it is, as TensorBoard does (`vz_line_chart2`'s `resmoothDataset`).
/// `w = 0` returns the series unchanged.
pub fn ema_smooth(ys: &[f64], w: f64) -> Vec<f64> {
    let constant = ys.iter().all(|&y| y == ys[0]);
    if w == 0.0 || constant {
        return ys.to_vec();
    }
    let (mut last, mut k) = (0.0f64, 0i32);
    ys.iter()
        .map(|&y| {
            if !y.is_finite() {
                return y;
            }
            last = last * w + (1.0 - w) * y;
            k += 1;
            last / (1.0 - w.powi(k))
        })
        .collect()
}

/// Median and range over several series `(x, y)` (each sorted by `x`) on the union of their `x`
/// values. At an `x` a series contributes its last value at or before `x`, and only while `x`
/// lies within the series' own range (no extrapolation past a run's end). Returns `(x, median,
/// min, max)`.
pub fn band(series: &[Vec<(f64, f64)>]) -> Vec<(f64, f64, f64, f64)> {
    let mut xs: Vec<f64> = series.iter().flat_map(|s| s.iter().map(|p| p.0)).filter(|x| x.is_finite()).collect();
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.dedup();
    let mut vals = Vec::with_capacity(series.len());
    let mut out = Vec::with_capacity(xs.len());
    for &x in &xs {
        vals.clear();
        for s in series {
            let (Some(first), Some(last)) = (s.first(), s.last()) else { continue };
            if x < first.0 || x > last.0 {
                continue;
            }
            let k = s.partition_point(|p| p.0 <= x);
            let y = s[k - 1].1;
            if y.is_finite() {
                vals.push(y);
            }
        }
        if let Some(sp) = Spread::finite(vals.iter().copied()) {
            out.push((x, sp.median, sp.min, sp.max));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantiles_interpolate_and_handle_infinity() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.5), 2.5);
        assert_eq!(quantile_sorted(&s, 0.25), 1.75);
        assert_eq!(quantile_sorted(&s, 1.0), 4.0);
        assert_eq!(quantile_sorted(&[1.0, f64::INFINITY], 0.5), f64::INFINITY);
        assert_eq!(quantile_sorted(&[1.0, 2.0, f64::INFINITY], 0.5), 2.0);
        assert!(quantile_sorted(&[], 0.5).is_nan());
        assert_eq!(median([3.0, f64::NAN, 1.0, 2.0]), 2.0);
    }

    #[test]
    fn medians_and_ranges() {
        let s = Spread::finite([3.0, 1.0, 2.0, f64::NAN, f64::INFINITY]).unwrap();
        assert_eq!(s, Spread { median: 2.0, min: 1.0, max: 3.0, n: 3 });
        let s = Spread::finite([4.0, 1.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert!(Spread::finite([f64::NAN]).is_none());
        let s = Spread::with_inf([10.0, f64::INFINITY, 20.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (20.0, 10.0, f64::INFINITY, 3));
        let s = Spread::with_inf([10.0, f64::INFINITY]).unwrap();
        assert_eq!(s.median, f64::INFINITY, "half the seeds never reached it: the median did not");
    }

    #[test]
    fn performance_profile_of_a_hand_made_example() {
        // Three solvers on four problems (steps to target; ∞ = never).
        let inf = f64::INFINITY;
        let costs = vec![
            vec![100.0, 200.0, inf, 50.0],   // A
            vec![200.0, 100.0, 300.0, 50.0], // B
            vec![400.0, inf, inf, 500.0],    // C
        ];
        let r = performance_ratios(&costs, 1.0);
        assert_eq!(r[0], vec![1.0, 2.0, inf, 1.0]);
        assert_eq!(r[1], vec![2.0, 1.0, 1.0, 1.0]);
        assert_eq!(r[2], vec![4.0, inf, inf, 10.0]);
        assert_eq!(profile_value(&r[0], 1.0), 0.5);
        assert_eq!(profile_value(&r[0], 2.0), 0.75);
        assert_eq!(profile_value(&r[0], 1e9), 0.75);
        assert_eq!(profile_value(&r[1], 1.0), 0.75);
        assert_eq!(profile_value(&r[1], 2.0), 1.0);
        assert_eq!(profile_value(&r[2], 3.9), 0.0);
        assert_eq!(profile_value(&r[2], 4.0), 0.25);
        assert_eq!(profile_steps(&r[0]), vec![(1.0, 0.5), (2.0, 0.75)]);
        assert_eq!(profile_steps(&r[2]), vec![(4.0, 0.25), (10.0, 0.5)]);
    }

    #[test]
    fn unsolved_problems_and_the_floor() {
        let inf = f64::INFINITY;
        let r = performance_ratios(&[vec![inf, 0.0], vec![inf, 4.0]], 1.0);
        assert_eq!(r, vec![vec![inf, 1.0], vec![inf, 4.0]]);
        let r = performance_ratios(&[vec![f64::NAN, 2.0]], 1.0);
        assert_eq!(r, vec![vec![inf, 1.0]]);
    }

    #[test]
    fn tensorboard_smoothing_against_numbers_worked_by_hand() {
        // w = 0.9, y = 1, 2, 4, NaN, 3:
        //   a1 = 0.1·1 = 0.1,               s1 = 0.1 / 0.1 = 1
        //   a2 = 0.09 + 0.2 = 0.29,         s2 = 0.29 / 0.19 = 1.526315789...
        //   a3 = 0.261 + 0.4 = 0.661,       s3 = 0.661 / 0.271 = 2.439114391...
        //   NaN passes through, a3 stays
        //   a4 = 0.5949 + 0.3 = 0.8949,     s4 = 0.8949 / 0.3439 = 2.602209944...
        let s = ema_smooth(&[1.0, 2.0, 4.0, f64::NAN, 3.0], 0.9);
        let want = [1.0, 0.29 / 0.19, 0.661 / 0.271, f64::NAN, 0.8949 / 0.3439];
        assert_eq!(s.len(), 5);
        for (i, (a, b)) in s.iter().zip(want).enumerate() {
            assert!(a.is_nan() && b.is_nan() || (a - b).abs() < 1e-12, "{i}: {a} vs {b}");
        }
        assert!((s[1] - 1.526_315_789_473_684).abs() < 1e-12 && (s[4] - 2.602_209_944_751_381).abs() < 1e-12);
        // w = 0.5, y = 4, 0: a1 = 2, s1 = 2 / 0.5 = 4; a2 = 1, s2 = 1 / 0.75 = 1.333...
        assert_eq!(ema_smooth(&[4.0, 0.0], 0.5), vec![4.0, 1.0 / 0.75]);
        // No smoothing, a constant series, an empty one.
        assert_eq!(ema_smooth(&[3.0, 1.0], 0.0), vec![3.0, 1.0]);
        assert_eq!(ema_smooth(&[2.5; 4], 0.9), vec![2.5; 4]);
        assert!(ema_smooth(&[], 0.9).is_empty());
    }

    #[test]
    fn band_follows_each_series_within_its_range() {
        let a = vec![(0.0, 4.0), (10.0, 2.0), (20.0, 1.0)];
        let b = vec![(0.0, 8.0), (5.0, 6.0), (10.0, 4.0)];
        let c = vec![(0.0, 6.0), (10.0, f64::NAN)];
        let out = band(&[a, b, c]);
        assert_eq!(out, vec![(0.0, 6.0, 4.0, 8.0), (5.0, 6.0, 4.0, 6.0), (10.0, 3.0, 2.0, 4.0), (20.0, 1.0, 1.0, 1.0)]);
    }

    proptest! {
        #[test]
        fn median_lies_within_the_range(v in proptest::collection::vec(-1e6f64..1e6, 1..30)) {
            let s = Spread::finite(v.iter().copied()).unwrap();
            prop_assert!(s.min <= s.median && s.median <= s.max);
            prop_assert_eq!(s.n, v.len());
            let below = v.iter().filter(|&&x| x < s.median).count();
            let above = v.iter().filter(|&&x| x > s.median).count();
            prop_assert!(below <= v.len() / 2 && above <= v.len() / 2);
        }

        #[test]
        fn profiles_are_monotone_and_someone_is_best(
            costs in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(f64::INFINITY), 1.0f64..1e4], 5), 1..6)
        ) {
            let r = performance_ratios(&costs, 1.0);
            for p in 0..5 {
                let solved = costs.iter().any(|c| c[p].is_finite());
                let best = r.iter().filter(|rs| rs[p] == 1.0).count();
                prop_assert_eq!(solved, best >= 1);
                prop_assert!(r.iter().all(|rs| rs[p] >= 1.0));
            }
            for rs in &r {
                let mut prev = 0.0;
                for tau in [1.0, 1.5, 2.0, 10.0, 1e3, 1e9] {
                    let v = profile_value(rs, tau);
                    prop_assert!(v >= prev && v <= 1.0);
                    prev = v;
                }
            }
        }
    }
}
