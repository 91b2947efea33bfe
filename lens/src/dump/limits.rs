//! Bounds on what an untrusted dump may consume, and byte counting for progress.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::DumpError;

/// Limits applied to one restore.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most bytes a compressed file may expand to.
    pub max_decompressed_bytes: u64,
    /// Most a compressed file may expand, as a multiple of its compressed size. Checked once
    /// `RATIO_GRACE_BYTES` have come out, so small highly compressible files are fine.
    pub max_ratio: u64,
    /// Longest a restore may run.
    pub max_duration: Duration,
    /// Longest one statement of a plain script may be.
    pub max_statement_bytes: usize,
    /// Free space to keep on the disk that holds unpacked files.
    pub min_free_disk_bytes: u64,
    /// Most the sandbox database(s) of one dump may grow to on the server while restoring.
    pub max_database_bytes: u64,
    /// Longest a download may go without a byte arriving (or a connection being made).
    pub max_download_stall: Duration,
}

/// Below this much output the ratio check does not apply.
const RATIO_GRACE_BYTES: u64 = 64 << 20;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_decompressed_bytes: 64 << 30,
            max_ratio: 200,
            max_duration: Duration::from_secs(4 * 3600),
            max_statement_bytes: 256 << 20,
            min_free_disk_bytes: 1 << 30,
            max_database_bytes: 256 << 30,
            max_download_stall: Duration::from_secs(60),
        }
    }
}

/// The error a bounded reader returns; `DumpError::from_io` recognises it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LimitExceeded(pub String);

impl Limits {
    /// Wraps a decompressing reader so that it fails once its output exceeds the size or ratio
    /// limit. `compressed` counts the input consumed so far; `compressed_size` is the file size.
    pub fn bound_decompression<R: Read>(
        &self,
        inner: R,
        compressed: Arc<AtomicU64>,
        compressed_size: u64,
    ) -> BoundedReader<R> {
        BoundedReader {
            inner,
            out: 0,
            compressed,
            compressed_size,
            max_bytes: self.max_decompressed_bytes,
            max_ratio: self.max_ratio,
        }
    }
}

pub struct BoundedReader<R> {
    inner: R,
    out: u64,
    compressed: Arc<AtomicU64>,
    compressed_size: u64,
    max_bytes: u64,
    max_ratio: u64,
}

impl<R: Read> Read for BoundedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.out > self.max_bytes {
            return Err(io::Error::other(LimitExceeded(format!(
                "it expands to more than {} bytes, the limit",
                self.max_bytes
            ))));
        }
        let consumed = self.compressed.load(Ordering::Relaxed).max(1);
        if self.out > RATIO_GRACE_BYTES && self.out / consumed > self.max_ratio {
            return Err(io::Error::other(LimitExceeded(format!(
                "it expands more than {}x ({} bytes from the first {} of {} compressed bytes): a decompression bomb",
                self.max_ratio, self.out, consumed, self.compressed_size
            ))));
        }
        Ok(n)
    }
}

/// Keeps what is written to a scratch disk within the size limit and the disk's free space
/// (less the space to keep free).
pub struct DiskBudget {
    left: u64,
    what: &'static str,
}

impl DiskBudget {
    /// A budget for writing into `dir`; `what` names the work in errors.
    pub fn new(dir: &Path, limits: &Limits, what: &'static str) -> Result<Self, DumpError> {
        let stat =
            nix::sys::statvfs::statvfs(dir).map_err(|e| DumpError::io(dir, io::Error::from(e)))?;
        let free = stat.blocks_available() as u64 * stat.fragment_size() as u64;
        let usable = free.saturating_sub(limits.min_free_disk_bytes);
        Ok(Self {
            left: usable.min(limits.max_decompressed_bytes),
            what,
        })
    }

    pub fn reserve(&mut self, size: u64) -> Result<(), DumpError> {
        self.left = self.left.checked_sub(size).ok_or_else(|| {
            DumpError::TooLarge(format!(
                "{} would exceed the size limit or the free disk space",
                self.what
            ))
        })?;
        Ok(())
    }
}

/// Counts the bytes read through it; the count is shared for progress reporting.
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            count: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn counter(&self) -> Arc<AtomicU64> {
        self.count.clone()
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A gzip file that expands to `size` bytes of spaces at a ratio of about 1000: one member of
/// 1 MiB repeated (gzip readers read concatenated members). Cheap to make, for tests.
#[cfg(any(test, feature = "testing"))]
pub fn gzip_bomb(size: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    io::Write::write_all(&mut encoder, &vec![b' '; 1 << 20]).expect("in memory");
    let member = encoder.finish().expect("in memory");
    member.repeat(size >> 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gzip_bomb_fails_once_past_the_grace_without_reading_it_all() {
        let bomb = gzip_bomb(1 << 30);
        let raw = CountingReader::new(io::Cursor::new(bomb.clone()));
        let counter = raw.counter();
        let limits = Limits::default();
        let mut reader = limits.bound_decompression(
            flate2::read::MultiGzDecoder::new(raw),
            counter,
            bomb.len() as u64,
        );
        let err = io::copy(&mut reader, &mut io::sink()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("decompression bomb"), "{message}");
        assert!(
            reader.out < 128 << 20,
            "read {} bytes before failing",
            reader.out
        );
    }

    #[test]
    fn the_size_limit_applies_to_any_ratio() {
        let limits = Limits {
            max_decompressed_bytes: 1000,
            ..Limits::default()
        };
        let data = vec![b'x'; 5000];
        let raw = CountingReader::new(io::Cursor::new(data));
        let counter = raw.counter();
        let mut reader = limits.bound_decompression(raw, counter, 5000);
        let err = io::copy(&mut reader, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("more than 1000 bytes"), "{err}");
    }
}
