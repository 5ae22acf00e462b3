//! Reading whole files, transparently gunzipping those that start with the gzip magic bytes.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use crate::error::DataError;

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads `path` fully; if it starts with the gzip magic bytes (whatever its extension) it is decompressed.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::Missing { path: path.to_path_buf() }
        } else {
            DataError::Io { path: path.to_path_buf(), source }
        }
    })?;
    Ok(decode_maybe_gz(&raw, path)?.into_owned())
}

/// Decompresses `raw` if it is gzip data; `path` is only used in errors.
pub(crate) fn decode_maybe_gz<'a>(raw: &'a [u8], path: &Path) -> Result<Cow<'a, [u8]>, DataError> {
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(raw));
    }
    // IDX payloads are usually 3-5x larger than their gzip; the trailer's ISIZE field gives the exact
    // size (mod 2^32) of a single-member file, which avoids repeated reallocation.
    let hint = raw
        .len()
        .checked_sub(4)
        .map_or(0, |at| u32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]) as usize);
    let mut out = Vec::with_capacity(hint.min(1 << 30));
    flate2::read::MultiGzDecoder::new(raw)
        .read_to_end(&mut out)
        .map_err(|source| DataError::CorruptGzip { path: path.to_path_buf(), source })?;
    Ok(Cow::Owned(out))
}
