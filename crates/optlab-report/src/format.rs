//! Number and name formatting for tables, plots and file names.

/// A number for people: three significant digits, plain between 1e-3 and 1e5, otherwise
/// scientific; `—` for NaN, `∞` / `−∞` for infinities.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        "—".into()
    } else if x.is_infinite() {
        if x > 0.0 { "∞" } else { "−∞" }.into()
    } else if x == 0.0 {
        "0".into()
    } else if x.abs() >= 1e-3 && x.abs() < 1e5 {
        let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
        let s = format!("{x:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{x:.2e}")
    }
}

/// A CSV number: shortest text that reads back to the same `f64`; `inf` / `-inf`; empty for NaN.
pub fn csv_num(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{x:?}")
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A Markdown table cell: pipes escaped, line breaks as spaces.
pub fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A file-name-safe form of a name: ASCII letters, digits, `-`, `_` and `.` kept, anything else
/// becomes `_` (a leading `.` too, so no hidden files).
pub fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect();
    if out.starts_with('.') {
        out.replace_range(0..1, "_");
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Compares two swept values: numerically when both parse as numbers, otherwise as text (numbers
/// first).
pub fn cmp_values(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// A log-axis tick label for `v = log10(value)`: `1e-3` at integers, otherwise the value with two
/// significant digits.
pub fn log_tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        let k = v.round() as i32;
        match k {
            0 => "1".into(),
            1 => "10".into(),
            2 => "100".into(),
            -1 => "0.1".into(),
            -2 => "0.01".into(),
            _ => format!("1e{k}"),
        }
    } else {
        let x = 10f64.powf(v);
        if (1e-2..1e3).contains(&x) {
            let digits = (1 - x.log10().floor() as i32).max(0) as usize;
            let s = format!("{x:.digits$}");
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                s
            }
        } else {
            format!("{x:.1e}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn numbers_for_people() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(0.123456), "0.123");
        assert_eq!(num(12.3456), "12.3");
        assert_eq!(num(1234.6), "1235");
        assert_eq!(num(1.5e-7), "1.50e-7");
        assert_eq!(num(f64::NAN), "—");
        assert_eq!(num(f64::INFINITY), "∞");
    }

    #[test]
    fn csv_numbers_round_trip() {
        for x in [0.1 + 0.2, 1e-300, 123456789.125, -2.5] {
            assert_eq!(csv_num(x).parse::<f64>().unwrap(), x);
        }
        assert_eq!(csv_num(f64::INFINITY), "inf");
        assert_eq!(csv_num(f64::NAN), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(slug("adam-grid"), "adam-grid");
        assert_eq!(slug("a/b c"), "a_b_c");
        assert_eq!(slug("../x"), "_._x");
        assert_eq!(slug(""), "_");
    }

    #[test]
    fn values_sort_numerically() {
        assert_eq!(cmp_values("0.9", "0.99"), Ordering::Less);
        assert_eq!(cmp_values("10", "9"), Ordering::Greater);
        assert_eq!(cmp_values("1e-3", "0.01"), Ordering::Less);
        assert_eq!(cmp_values("32", "cosine"), Ordering::Less);
        assert_eq!(cmp_values("b", "a"), Ordering::Greater);
    }

    #[test]
    fn log_ticks() {
        assert_eq!(log_tick(-3.0), "1e-3");
        assert_eq!(log_tick(0.0), "1");
        assert_eq!(log_tick(1.0), "10");
        assert_eq!(log_tick(0.5), "3.2");
        assert_eq!(log_tick(-4.5), "3.2e-5");
    }
}
