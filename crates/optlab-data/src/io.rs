//! Reading data files, transparently gunzipping those that start with the gzip magic bytes, with the
//! number of bytes read bounded before they are read: by what an IDX header announces, and by
//! [`MAX_FILE_BYTES`].

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::DataError;

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Most bytes one data file may hold (after decompression): 1 GiB, about 1.37 million 28×28 MNIST
/// images (4 GiB once converted to `f32`) or 349,000 CIFAR-10 records. Larger files (or headers
/// announcing more) are refused before anything is allocated for them.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Deflate's largest compression ratio: a gzip file of `n` bytes inflates to at most `1032·n`
/// bytes, so a header announcing more cannot be telling the truth.
pub(crate) const MAX_DEFLATE_RATIO: u64 = 1032;

/// A data file opened for reading: raw, or inflated on the fly as it is read.
pub(crate) struct Source<'a> {
    reader: Box<dyn Read + 'a>,
    path: PathBuf,
    /// The data is gzip (detected by the magic bytes, not the extension).
    pub gzip: bool,
    /// Bytes stored on disk (or embedded), before decompression.
    pub stored: u64,
}

/// Reads up to `n` bytes (fewer only at the end of the data) and returns them.
fn read_up_to(r: &mut dyn Read, n: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n.min(1 << 16) as usize);
    r.take(n).read_to_end(&mut out)?;
    Ok(out)
}

impl<'a> Source<'a> {
    /// Opens `path`; a missing file is [`DataError::Missing`].
    pub(crate) fn open(path: &Path) -> Result<Source<'static>, DataError> {
        let io = |source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::NotFound {
                DataError::Missing { path: path.to_path_buf() }
            } else {
                DataError::Io { path: path.to_path_buf(), source }
            }
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let stored = file.metadata().map_err(io)?.len();
        let start = read_up_to(&mut file, 2).map_err(io)?;
        let gzip = start == GZIP_MAGIC;
        let raw = std::io::Cursor::new(start).chain(file);
        let reader: Box<dyn Read> = if gzip { Box::new(flate2::read::MultiGzDecoder::new(raw)) } else { Box::new(raw) };
        Ok(Source { reader, path: path.to_path_buf(), gzip, stored })
    }

    /// Reads from bytes in memory (the embedded data); `path` is only used in errors.
    pub(crate) fn from_bytes(raw: &'a [u8], path: &Path) -> Source<'a> {
        let gzip = raw.starts_with(&GZIP_MAGIC);
        let reader: Box<dyn Read + 'a> =
            if gzip { Box::new(flate2::read::MultiGzDecoder::new(raw)) } else { Box::new(raw) };
        Source { reader, path: path.to_path_buf(), gzip, stored: raw.len() as u64 }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Most bytes the data can hold once decompressed: the stored size of a raw file, the
    /// deflate bound for gzip.
    pub(crate) fn max_inflated(&self) -> u64 {
        if self.gzip {
            self.stored.saturating_mul(MAX_DEFLATE_RATIO)
        } else {
            self.stored
        }
    }

    /// Reads the next `n` bytes, or fewer at the end of the data. Decompression failures are
    /// [`DataError::CorruptGzip`].
    pub(crate) fn read(&mut self, n: u64) -> Result<Vec<u8>, DataError> {
        read_up_to(&mut self.reader, n).map_err(|source| {
            let path = self.path.clone();
            if self.gzip {
                DataError::CorruptGzip { path, source }
            } else {
                DataError::Io { path, source }
            }
        })
    }

    /// Reads exactly `n` more bytes, the rest of the data as a header announced it (the caller has
    /// checked `n` against [`MAX_FILE_BYTES`]); `header` bytes were read before, `what` names the
    /// file's kind in errors. Fewer bytes are [`DataError::Truncated`]; more are
    /// [`DataError::TrailingData`] for a raw file and, for gzip, [`DataError::InflatesPastHeader`]
    /// as soon as the stream goes one byte past the announced size (nothing beyond is inflated).
    pub(crate) fn read_announced(&mut self, header: u64, n: u64, what: &str) -> Result<Vec<u8>, DataError> {
        let expected = header + n;
        if !self.gzip && self.stored != expected {
            let (path, what, found) = (self.path.clone(), what.to_string(), self.stored);
            return Err(if found < expected {
                DataError::Truncated { path, what, expected, found }
            } else {
                DataError::TrailingData { path, what, expected, found }
            });
        }
        let mut out = Vec::with_capacity(n as usize);
        (&mut self.reader).take(n + 1).read_to_end(&mut out).map_err(|source| {
            let path = self.path.clone();
            if self.gzip {
                DataError::CorruptGzip { path, source }
            } else {
                DataError::Io { path, source }
            }
        })?;
        let got = out.len() as u64;
        let path = self.path.clone();
        let what = what.to_string();
        if got < n {
            return Err(DataError::Truncated { path, what, expected, found: header + got });
        }
        if got > n {
            return Err(if self.gzip {
                DataError::InflatesPastHeader { path, what, announced: expected }
            } else {
                // The file grew after it was opened.
                DataError::TrailingData { path, what, expected, found: header + got }
            });
        }
        Ok(out)
    }

    /// Reads the whole data, refusing (before reading it, for a raw file; as soon as the stream
    /// goes past it, for gzip) more than [`MAX_FILE_BYTES`]. `what` names the file's kind in errors.
    pub(crate) fn read_all(&mut self, what: &str) -> Result<Vec<u8>, DataError> {
        self.read_all_limited(what, MAX_FILE_BYTES)
    }

    /// [`Source::read_all`] with the limit `limit`.
    fn read_all_limited(&mut self, what: &str, limit: u64) -> Result<Vec<u8>, DataError> {
        let gzip = self.gzip;
        let too_large = |path: PathBuf| DataError::TooLarge { path, what: what.to_string(), gzip, limit };
        if !gzip && self.stored > limit {
            return Err(too_large(self.path.clone()));
        }
        let out = self.read(limit + 1)?;
        if out.len() as u64 > limit {
            return Err(too_large(self.path.clone()));
        }
        Ok(out)
    }
}

/// Reads `path` fully (at most [`MAX_FILE_BYTES`]); if it starts with the gzip magic bytes (whatever its
/// extension) it is decompressed.
pub(crate) fn read_maybe_gz(path: &Path, what: &str) -> Result<Vec<u8>, DataError> {
    Source::open(path)?.read_all(what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Zeros, then an error: reading more than `left` bytes is a failure of the reader under test.
    struct Zeros {
        left: usize,
    }

    impl Read for Zeros {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.left == 0 {
                return Err(std::io::Error::other("read 1 MiB: far past any bound"));
            }
            let n = buf.len().min(self.left);
            buf[..n].fill(0);
            self.left -= n;
            Ok(n)
        }
    }

    /// A gzip source that inflates to more zeros than any bound below (1 MiB), and fails
    /// (`CorruptGzip`) when read to its end: a bounded reader never gets there.
    fn endless_gzip() -> Source<'static> {
        Source { reader: Box::new(Zeros { left: 1 << 20 }), path: "endless.gz".into(), gzip: true, stored: 100 }
    }

    #[test]
    fn an_endless_stream_stops_one_byte_past_the_announced_size() {
        let e = endless_gzip().read_announced(16, 1568, "IDX image file").unwrap_err();
        assert!(matches!(e, DataError::InflatesPastHeader { announced: 1584, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "endless.gz: IDX image file: the gzip stream inflates to more than the 1584 bytes its header announces"
        );
        let e = endless_gzip().read_all_limited("CIFAR-10 batch", 5000).unwrap_err();
        assert!(matches!(e, DataError::TooLarge { limit: 5000, gzip: true, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "endless.gz: CIFAR-10 batch inflates to more than the limit of 5000 bytes for one data file"
        );
    }

    #[test]
    fn read_all_refuses_a_gzip_bomb_and_a_large_raw_file() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 16];
        for _ in 0..64 {
            enc.write_all(&zeros).unwrap();
        }
        let bomb = enc.finish().unwrap(); // 4 MiB of zeros in a few KB
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        let path = Path::new("bomb.gz");
        let e = Source::from_bytes(&bomb, path).read_all_limited("CIFAR-10 batch", 1 << 20).unwrap_err();
        assert!(matches!(e, DataError::TooLarge { limit: 1048576, gzip: true, .. }), "{e:?}");
        assert_eq!(Source::from_bytes(&bomb, path).read_all_limited("x", 1 << 22).unwrap().len(), 1 << 22);
        let raw = vec![7u8; 3000];
        let e = Source::from_bytes(&raw, Path::new("big.bin")).read_all_limited("CIFAR-10 batch", 2999).unwrap_err();
        assert_eq!(e.to_string(), "big.bin: CIFAR-10 batch holds more than the limit of 2999 bytes for one data file");
        assert_eq!(Source::from_bytes(&raw, Path::new("big.bin")).read_all_limited("x", 3000).unwrap(), raw);
    }
}
