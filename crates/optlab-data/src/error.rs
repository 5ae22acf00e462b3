//! The crate's error type. Every variant names the file (or, for in-memory operations, the dataset) and what
//! is wrong with it, with the values found and expected.

use std::path::PathBuf;

/// Everything that can go wrong loading or transforming a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file that was asked for does not exist.
    #[error("{}: no such file", path.display())]
    Missing { path: PathBuf },
    /// A folder was expected: the path is a file, or does not exist.
    #[error("{}: {found}; expected {expected}", path.display())]
    NotAFolder { path: PathBuf, found: String, expected: String },
    /// A training batch given as a single file is the test batch itself: validating on it would
    /// validate on the records trained on.
    #[error("{}: {detail}", path.display())]
    TrainIsTest { path: PathBuf, detail: String },
    /// None of the accepted file names exist in a directory.
    #[error("{}: no {what} found; looked for {}", dir.display(), looked_for.join(", "))]
    NotInDir { dir: PathBuf, what: String, looked_for: Vec<String> },
    /// Any other I/O failure (permissions, a directory where a file was expected, ...).
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file starts with the gzip magic bytes but does not decompress.
    #[error("{}: corrupt gzip data: {source}", path.display())]
    CorruptGzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The (decompressed) file is shorter than its header says.
    #[error("{}: truncated {what}: expected {expected} bytes, found {found}", path.display())]
    Truncated { path: PathBuf, what: String, expected: u64, found: u64 },
    /// The (decompressed) file is longer than its header says.
    #[error("{}: {what} has trailing data: expected {expected} bytes, found {found}", path.display())]
    TrailingData { path: PathBuf, what: String, expected: u64, found: u64 },
    /// A gzip stream that inflates past the size its IDX header announces; reading stopped one byte
    /// past it, so a "gzip bomb" costs no more memory than the announced size.
    #[error(
        "{}: {what}: the gzip stream inflates to more than the {announced} bytes its header announces",
        path.display()
    )]
    InflatesPastHeader { path: PathBuf, what: String, announced: u64 },
    /// An IDX header announcing more bytes than a data file may hold ([`crate::MAX_FILE_BYTES`]),
    /// or than its gzip file can inflate to (deflate compresses at most 1032:1); refused before
    /// anything is allocated or inflated.
    #[error("{}: {what} header announces {announced} bytes ({detail}), more than {limit_text}", path.display())]
    AnnouncedTooLarge { path: PathBuf, what: String, announced: u64, detail: String, limit_text: String },
    /// A file (without a header announcing its size) larger than [`crate::MAX_FILE_BYTES`] once
    /// decompressed.
    #[error(
        "{}: {what} {} more than the limit of {limit} bytes for one data file",
        path.display(),
        if *gzip { "inflates to" } else { "holds" }
    )]
    TooLarge { path: PathBuf, what: String, gzip: bool, limit: u64 },
    /// A CSV file that is not a table of numbers: the line and column (1-based) of the problem.
    #[error("{}:{line}:{column}: {detail}", path.display())]
    Csv { path: PathBuf, line: usize, column: usize, detail: String },
    /// The IDX magic number is not the one for this kind of file.
    #[error("{}: wrong magic number {found:#010x}, expected {expected:#010x} ({what})", path.display())]
    BadMagic { path: PathBuf, what: String, found: u32, expected: u32 },
    /// The header's dimensions are not the ones this format needs.
    #[error("{}: wrong dimensions: {detail}", path.display())]
    BadDimensions { path: PathBuf, detail: String },
    /// A label is not below the number of classes.
    #[error("{}: label {value} at index {index} is out of range (classes: {classes})", path.display())]
    LabelOutOfRange { path: PathBuf, index: usize, value: u32, classes: usize },
    /// The image file and the label file hold different numbers of samples.
    #[error(
        "mismatched counts: {} holds {images} images but {} holds {labels} labels",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch { images_path: PathBuf, images: usize, labels_path: PathBuf, labels: usize },
    /// A CIFAR-10 binary batch whose size is not a whole number of 3073-byte records (or is empty).
    #[error("{}: size {size} bytes is not a positive multiple of the {record}-byte CIFAR-10 record", path.display())]
    CifarSize { path: PathBuf, size: u64, record: usize },
    /// An in-memory dataset whose fields disagree (see [`crate::Dataset::new`]).
    #[error("dataset {dataset:?}: {detail}")]
    Invalid { dataset: String, detail: String },
    /// `split` was asked for a fraction outside (0, 1), or one that leaves a side empty.
    #[error("dataset {dataset:?} ({len} samples): cannot split with val_fraction {fraction}: {detail}")]
    BadSplit { dataset: String, len: usize, fraction: f64, detail: String },
    /// `normalise` got statistics of the wrong length or a non-positive / non-finite value.
    #[error("dataset {dataset:?}: cannot normalise: {detail}")]
    BadStats { dataset: String, detail: String },
    /// A series CSV file (or embedded CSV text, `optlab ema`) that cannot be read as asked: `line`
    /// is 1-based (0: the file as a whole).
    #[error("{file}: line {line}: {detail}")]
    CsvSeries { file: String, line: usize, detail: String },
}
