//! The one number formatter of optlab: hyperparameter values, ranges, schedule text and
//! experiment files all print numbers with it, so the same value reads the same everywhere.

/// Shortest text that reads back as exactly `x`: plain decimal (`0.9`, `1`, `250000`) for
/// `1e-3 <= |x| < 1e6` and for 0, exponent form otherwise (`1e-8`, `2.5e6`); `inf`, `-inf`, `NaN`.
pub fn fmt_num(x: f64) -> String {
    if x != 0.0 && x.is_finite() && (x.abs() < 1e-3 || x.abs() >= 1e6) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_num;

    #[test]
    fn reads_back_exactly_with_the_documented_cut_offs() {
        for x in [0.0, 1e-3, 1e-4, 0.9, 1.0, 3e-2, 999_999.0, 1e6, 12345678.0, 1e-300, -2.5e-7, 1.0 / 3.0, 0.1 + 0.2] {
            assert_eq!(fmt_num(x).parse::<f64>().unwrap(), x, "{x}");
        }
        let cases = [
            (1.0, "1"),
            (0.1, "0.1"),
            (0.01, "0.01"),
            (1e-3, "0.001"),
            (1e-4, "1e-4"),
            (1e-8, "1e-8"),
            (999_999.0, "999999"),
            (1e6, "1e6"),
            (0.0, "0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, want) in cases {
            assert_eq!(fmt_num(x), want);
        }
        assert_eq!(fmt_num(f64::NAN), "NaN");
    }
}
