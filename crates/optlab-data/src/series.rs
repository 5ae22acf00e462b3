//! One numeric column of a CSV file (a time series, for `optlab ema`), and the shipped daily
//! temperature series (`data/seattle-weather/`, NOAA, public domain).
//!
//! The CSV dialect: the first line is the header; fields are separated by `,`; a field may be
//! quoted with `"` (a doubled `""` inside is one quote); blank lines are skipped; surrounding
//! spaces are trimmed. Every row must have as many fields as the header, and the chosen column
//! must hold a finite number on every row: anything else is an error naming the line.

use crate::DataError;
use std::path::Path;

/// `data/seattle-weather/seattle-weather.csv`, embedded: daily weather in Seattle 2012–2015
/// (1,461 rows; columns `date,precipitation,temp_max,temp_min,wind,weather`).
pub static SEATTLE_WEATHER_CSV: &str = include_str!("../../../data/seattle-weather/seattle-weather.csv");

/// The name the embedded file is reported under.
pub const SEATTLE_WEATHER_NAME: &str = "<embedded>/data/seattle-weather/seattle-weather.csv";

/// The shipped daily maximum temperatures (°C) of Seattle, 2012/01/01 to 2015/12/31.
pub fn shipped_temperature() -> Result<Vec<f64>, DataError> {
    csv_column(SEATTLE_WEATHER_CSV, SEATTLE_WEATHER_NAME, "temp_max")
}

fn csv_error(source: &str, line: usize, detail: String) -> DataError {
    DataError::CsvSeries { file: source.to_string(), line, detail }
}

/// Splits one CSV line into fields (quotes as in the module docs).
fn fields(line: &str, source: &str, lineno: usize) -> Result<Vec<String>, DataError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                _ => cur.push(c),
            }
        } else {
            match c {
                ',' => {
                    out.push(if was_quoted {
                        std::mem::take(&mut cur)
                    } else {
                        std::mem::take(&mut cur).trim().to_string()
                    });
                    was_quoted = false;
                }
                '"' if cur.trim().is_empty() && !was_quoted => {
                    cur.clear();
                    quoted = true;
                    was_quoted = true;
                }
                _ if was_quoted && !c.is_whitespace() => {
                    return Err(csv_error(source, lineno, format!("text `{c}` after a closing quote")));
                }
                _ => cur.push(c),
            }
        }
    }
    if quoted {
        return Err(csv_error(source, lineno, "a quoted field is not closed".into()));
    }
    out.push(if was_quoted { cur } else { cur.trim().to_string() });
    Ok(out)
}

/// The values of column `column` of the CSV text `text` (named `source` in errors), in file order.
pub fn csv_column(text: &str, source: &str, column: &str) -> Result<Vec<f64>, DataError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)));
    let Some((hline, header)) = lines.by_ref().find(|(_, l)| !l.trim().is_empty()) else {
        return Err(csv_error(source, 1, "the file is empty (no header line)".into()));
    };
    let names = fields(header, source, hline)?;
    let Some(col) = names.iter().position(|n| n == column) else {
        return Err(csv_error(
            source,
            hline,
            format!("no column `{column}` in the header; the columns are: {}", names.join(", ")),
        ));
    };
    let mut values = Vec::new();
    for (lineno, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f = fields(line, source, lineno)?;
        if f.len() != names.len() {
            return Err(csv_error(source, lineno, format!("{} fields, but the header has {}", f.len(), names.len())));
        }
        let t = &f[col];
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => values.push(v),
            _ => return Err(csv_error(source, lineno, format!("column `{column}`: `{t}` is not a finite number"))),
        }
    }
    if values.is_empty() {
        return Err(csv_error(source, hline, format!("column `{column}` has no values (only a header)")));
    }
    Ok(values)
}

/// [`csv_column`] of a file (at most [`crate::MAX_FILE_BYTES`]).
pub fn read_csv_column(path: &Path, column: &str) -> Result<Vec<f64>, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing { path: path.into() },
        _ => DataError::Io { path: path.into(), source: e },
    })?;
    if meta.len() > crate::MAX_FILE_BYTES {
        return Err(DataError::TooLarge {
            path: path.into(),
            what: "CSV file".into(),
            gzip: false,
            limit: crate::MAX_FILE_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| DataError::Io { path: path.into(), source: e })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        csv_error(&path.display().to_string(), line, format!("not UTF-8 text (invalid byte at offset {at})"))
    })?;
    csv_column(&text, &path.display().to_string(), column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_series_is_the_four_years_of_daily_maxima() {
        let t = shipped_temperature().unwrap();
        assert_eq!(t.len(), 1461);
        // The first and last rows of the file: 2012/01/01 12.8 °C, 2015/12/31 5.6 °C.
        assert_eq!((t[0], t[1460]), (12.8, 5.6));
        assert!(t.iter().all(|v| (-10.0..45.0).contains(v)));
    }

    #[test]
    fn quoted_fields_crlf_and_blank_lines() {
        let text = "a,\"b, c\",d\r\n1,\"x,\"\"y\"\"\",2.5\r\n\r\n 3 ,z, -1e2 \r\n";
        assert_eq!(csv_column(text, "t.csv", "d").unwrap(), vec![2.5, -100.0]);
        assert_eq!(csv_column(text, "t.csv", "a").unwrap(), vec![1.0, 3.0]);
    }

    #[test]
    fn bad_input_names_the_file_line_and_column() {
        let e = csv_column("a,b\n1,2\n", "t.csv", "c").unwrap_err().to_string();
        assert!(e.contains("t.csv") && e.contains("`c`") && e.contains("a, b"), "{e}");
        let e = csv_column("a,b\n1,2\n3,x\n", "t.csv", "b").unwrap_err().to_string();
        assert!(e.contains("t.csv") && e.contains("line 3") && e.contains("`x`"), "{e}");
        let e = csv_column("a,b\n1,2\n3\n", "t.csv", "b").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("1 fields"), "{e}");
        let e = csv_column("a,b\n1,nan\n", "t.csv", "b").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("nan"), "{e}");
        let e = csv_column("a,b\n", "t.csv", "b").unwrap_err().to_string();
        assert!(e.contains("no values"), "{e}");
        let e = csv_column("", "t.csv", "b").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = csv_column("a,b\n1,\"2\n", "t.csv", "b").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("not closed"), "{e}");
        let e = read_csv_column(Path::new("/nonexistent/x.csv"), "b").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/x.csv") && e.contains("no such file"), "{e}");
    }
}
