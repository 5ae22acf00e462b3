//! Tables of numbers from CSV files: a header line of column names, then one sample per line;
//! one column is the label, the others are the features. Fields are separated by commas
//! (surrounding spaces are ignored; quotes are not interpreted), blank lines and lines starting
//! with `#` are skipped. Every error names the file, the line and the column.

use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::io::MAX_FILE_BYTES;

/// A CSV table: feature columns and a label column, all numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvTable {
    pub path: PathBuf,
    /// Names of the feature columns, in file order (the label column left out).
    pub columns: Vec<String>,
    /// Name of the label column.
    pub label: String,
    /// `rows × columns.len()` values, row after row.
    pub features: Vec<f64>,
    /// One label per row.
    pub labels: Vec<f64>,
}

fn bad(path: &Path, line: usize, column: usize, detail: impl Into<String>) -> DataError {
    DataError::Csv { path: path.to_path_buf(), line, column, detail: detail.into() }
}

impl CsvTable {
    /// Reads `path` with `label` as the label column.
    pub fn load(path: &Path, label: &str) -> Result<CsvTable, DataError> {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DataError::Missing { path: path.to_path_buf() },
            _ => DataError::Io { path: path.to_path_buf(), source: e },
        })?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(DataError::TooLarge {
                path: path.to_path_buf(),
                what: "CSV file".into(),
                gzip: false,
                limit: MAX_FILE_BYTES,
            });
        }
        let bytes = std::fs::read(path).map_err(|e| DataError::Io { path: path.to_path_buf(), source: e })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
            bad(path, line, 1, "the file is not UTF-8 text")
        })?;
        CsvTable::parse(&text, path, label)
    }

    /// Parses CSV `text` (`path` names it in errors).
    pub fn parse(text: &str, path: &Path, label: &str) -> Result<CsvTable, DataError> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        });
        let Some((hline, header)) = lines.next() else {
            return Err(bad(path, 1, 1, "the file has no header line"));
        };
        let names: Vec<String> = header.split(',').map(|s| s.trim().to_string()).collect();
        let mut col = 1;
        for (i, n) in names.iter().enumerate() {
            if n.is_empty() {
                return Err(bad(path, hline, col, format!("column {} has an empty name", i + 1)));
            }
            if names[..i].contains(n) {
                return Err(bad(path, hline, col, format!("column `{n}` is named twice")));
            }
            col += header.split(',').nth(i).map_or(0, |s| s.chars().count()) + 1;
        }
        let Some(li) = names.iter().position(|n| n == label) else {
            return Err(bad(
                path,
                hline,
                1,
                format!("no label column `{label}`; the columns are {}", names.join(", ")),
            ));
        };
        if names.len() < 2 {
            return Err(bad(path, hline, 1, "the table needs at least one feature column besides the label"));
        }
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for (ln, line) in lines {
            let mut col = 1;
            let mut k = 0;
            for field in line.split(',') {
                if k >= names.len() {
                    return Err(bad(path, ln, col, format!("more than the {} fields of the header", names.len())));
                }
                let t = field.trim();
                let lead = field.len() - field.trim_start().len();
                let v: f64 = t.parse().map_err(|_| {
                    bad(path, ln, col + lead, format!("`{t}` in column `{}` is not a number", names[k]))
                })?;
                if !v.is_finite() {
                    return Err(bad(path, ln, col + lead, format!("`{t}` in column `{}` is not finite", names[k])));
                }
                if k == li {
                    labels.push(v);
                } else {
                    features.push(v);
                }
                col += field.chars().count() + 1;
                k += 1;
            }
            if k < names.len() {
                return Err(bad(path, ln, col - 1, format!("{k} fields, the header has {}", names.len())));
            }
        }
        if labels.is_empty() {
            return Err(bad(path, hline + 1, 1, "the table has no rows"));
        }
        let columns = names.iter().enumerate().filter(|&(i, _)| i != li).map(|(_, n)| n.clone()).collect();
        Ok(CsvTable { path: path.to_path_buf(), columns, label: label.to_string(), features, labels })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.labels.len()
    }

    /// The features of row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        let d = self.columns.len();
        &self.features[i * d..(i + 1) * d]
    }

    /// The table as a classification [`Dataset`] (features as `f32`, sample shape `[columns]`):
    /// every label must be a whole number `0, 1, ...`; the classes are `0..=max label`.
    pub fn to_dataset(&self) -> Result<Dataset, DataError> {
        let mut labels = Vec::with_capacity(self.rows());
        for (i, &y) in self.labels.iter().enumerate() {
            if y < 0.0 || y.fract() != 0.0 || y > u32::MAX as f64 {
                return Err(DataError::Invalid {
                    dataset: self.path.display().to_string(),
                    detail: format!(
                        "label `{y}` of row {} (column `{}`) is not a class number 0, 1, 2, ...",
                        i + 1,
                        self.label
                    ),
                });
            }
            labels.push(y as u32);
        }
        let classes = labels.iter().copied().max().unwrap_or(0) as usize + 1;
        let images = self.features.iter().map(|&v| v as f32).collect();
        let name = format!("csv ({})", self.path.display());
        Dataset::new(name, images, labels, vec![self.columns.len()], classes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CsvTable, String> {
        CsvTable::parse(text, Path::new("d.csv"), "label").map_err(|e| e.to_string())
    }

    #[test]
    fn reads_features_and_labels() {
        let t = parse("# comment\nxp, xq,label\n1, 2, 0\n\n-3.5,4e-1,1\n").unwrap();
        assert_eq!(t.columns, ["xp", "xq"]);
        assert_eq!(t.features, [1.0, 2.0, -3.5, 0.4]);
        assert_eq!(t.labels, [0.0, 1.0]);
        assert_eq!(t.row(1), [-3.5, 0.4]);
        let d = t.to_dataset().unwrap();
        assert_eq!((d.classes, d.labels.clone(), d.sample_shape.clone()), (2, vec![0, 1], vec![2]));
    }

    #[test]
    fn errors_name_file_line_and_column() {
        assert_eq!(parse("a,label\n1,0\n2, x\n").unwrap_err(), "d.csv:3:4: `x` in column `label` is not a number");
        assert_eq!(parse("a,label\n1,0,3\n").unwrap_err(), "d.csv:2:5: more than the 2 fields of the header");
        assert_eq!(parse("a,b,label\n1,0\n").unwrap_err(), "d.csv:2:4: 2 fields, the header has 3");
        assert_eq!(parse("a,a,label\n").unwrap_err(), "d.csv:1:3: column `a` is named twice");
        assert_eq!(parse("a,y\n1,0\n").unwrap_err(), "d.csv:1:1: no label column `label`; the columns are a, y");
        assert_eq!(parse("a,label\n").unwrap_err(), "d.csv:2:1: the table has no rows");
        assert_eq!(parse("a,label\n1,inf\n").unwrap_err(), "d.csv:2:3: `inf` in column `label` is not finite");
        assert_eq!(parse("").unwrap_err(), "d.csv:1:1: the file has no header line");
        let e = parse("a,label\n1,0.5\n").unwrap().to_dataset().unwrap_err().to_string();
        assert!(e.contains("label `0.5` of row 1 (column `label`) is not a class number"), "{e}");
    }
}
