//! Order statistics shared by the study's learning-rate protocol ([`crate::study`]) and the
//! report (`optlab_report::stats` re-exports them): quantiles interpolate linearly between order
//! statistics (R's type 7), and between a finite and an infinite value the infinite one is taken.

/// The values sorted, NaN dropped (infinities kept, at the ends).
pub fn sorted_finite_or_inf(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// Quantile `q` in [0, 1] of sorted values; NaN when empty. Between a finite and an infinite
/// value the infinite one is returned.
pub fn quantile_sorted(s: &[f64], q: f64) -> f64 {
    if s.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let i = pos.floor() as usize;
    let frac = pos - i as f64;
    if frac == 0.0 || i + 1 >= s.len() {
        return s[i];
    }
    let (a, b) = (s[i], s[i + 1]);
    if a.is_infinite() || b.is_infinite() {
        b
    } else {
        a + (b - a) * frac
    }
}

/// The median of the values (NaN dropped, infinities kept); NaN when none is left.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    quantile_sorted(&sorted_finite_or_inf(values), 0.5)
}
