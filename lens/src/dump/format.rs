//! Recognising a dump by its content (never its name) and reading its header.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde::Serialize;

use super::DumpError;
use super::limits::{CountingReader, Limits};

/// What `pg_dump`/`pg_dumpall` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DumpFormat {
    /// A plain SQL script from `pg_dump`.
    Plain,
    /// A plain SQL script from `pg_dumpall`: several databases.
    Dumpall,
    /// `pg_dump -Fc`.
    Custom,
    /// `pg_dump -Ft`.
    Tar,
    /// `pg_dump -Fd`, uploaded as a tar or zip of the folder.
    Directory,
}

impl DumpFormat {
    /// Archives are restored by `pg_restore`; scripts by our own executor.
    pub fn is_archive(self) -> bool {
        matches!(self, Self::Custom | Self::Tar | Self::Directory)
    }
}

/// A compression wrapped around the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OuterCompression {
    Gzip,
    Zstd,
    Lz4,
}

impl OuterCompression {
    fn sniff(magic: &[u8]) -> Option<Self> {
        match magic {
            [0x1f, 0x8b, ..] => Some(Self::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Self::Zstd),
            [0x04, 0x22, 0x4d, 0x18, ..] => Some(Self::Lz4),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::Lz4 => "lz4",
        }
    }
}

/// How a directory-format dump was packed into one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Tar,
    Zip,
}

/// The container a dump arrived in: possibly compressed as a whole, possibly a tar or zip of a
/// directory-format dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub outer: Option<OuterCompression>,
    pub packing: Option<Packing>,
}

/// A dump file opened through its outer compression.
pub struct Opened {
    pub outer: Option<OuterCompression>,
    pub reader: Box<dyn BufRead + Send>,
    /// Bytes of the file consumed so far, for progress.
    pub file_bytes_read: Arc<AtomicU64>,
    pub file_size: u64,
}

/// Opens `path` through its outer compression (if any), bounded by `limits`.
pub fn open_decompressed(path: &Path, limits: &Limits) -> Result<Opened, DumpError> {
    let file = File::open(path).map_err(|e| DumpError::io(path, e))?;
    let file_size = file.metadata().map_err(|e| DumpError::io(path, e))?.len();
    let mut file = BufReader::with_capacity(256 << 10, file);
    let magic = file.fill_buf().map_err(|e| DumpError::io(path, e))?;
    let outer = OuterCompression::sniff(magic);
    let raw = CountingReader::new(file);
    let file_bytes_read = raw.counter();
    let decoded: Box<dyn Read + Send> = match outer {
        None => Box::new(raw),
        Some(OuterCompression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Some(OuterCompression::Zstd) => {
            Box::new(zstd::stream::read::Decoder::new(raw).map_err(|e| DumpError::io(path, e))?)
        }
        Some(OuterCompression::Lz4) => Box::new(lz4_flex::frame::FrameDecoder::new(raw)),
    };
    let reader: Box<dyn Read + Send> = match outer {
        None => decoded,
        Some(_) => {
            Box::new(limits.bound_decompression(decoded, file_bytes_read.clone(), file_size))
        }
    };
    Ok(Opened {
        outer,
        reader: Box::new(BufReader::with_capacity(256 << 10, reader)),
        file_bytes_read,
        file_size,
    })
}

/// Decides the format from the first bytes after decompression.
pub(crate) enum Sniffed {
    Archive,
    Tar,
    Zip,
    Script,
}

pub(crate) fn sniff(head: &[u8]) -> Result<Sniffed, DumpError> {
    if head.starts_with(b"PGDMP") {
        return Ok(Sniffed::Archive);
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Ok(Sniffed::Tar);
    }
    if head.starts_with(b"PK\x03\x04") {
        return Ok(Sniffed::Zip);
    }
    if looks_like_sql(head) {
        return Ok(Sniffed::Script);
    }
    Err(DumpError::NotADump)
}

/// A script is text whose first token (after comments) is an SQL keyword or a psql
/// meta-command; binary data has control bytes, and JSON or XML start with punctuation.
fn looks_like_sql(head: &[u8]) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // The head may end inside a multi-byte character.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap(),
        Err(_) => return false,
    };
    let first_token = text
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with("--"))
        .and_then(|l| l.chars().next());
    first_token.is_some_and(|c| c.is_ascii_alphabetic() || c == '\\')
        && !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c'))
}

/// Header facts of a plain script, from its leading comments.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScriptHeader {
    pub dumpall: bool,
    pub pg_dump_version: Option<String>,
    pub server_version: Option<String>,
}

impl ScriptHeader {
    /// Reads the comment block pg_dump and pg_dumpall write first.
    pub fn read(head: &str) -> Self {
        let mut header = Self::default();
        for line in head.lines().take(200) {
            if line.starts_with("-- PostgreSQL database cluster dump") {
                header.dumpall = true;
            } else if let Some(v) = line.strip_prefix("-- Dumped by pg_dump version ") {
                header.pg_dump_version.get_or_insert_with(|| first_word(v));
            } else if let Some(v) = line.strip_prefix("-- Dumped from database version ") {
                header.server_version.get_or_insert_with(|| first_word(v));
            }
        }
        header
    }
}

fn first_word(s: &str) -> String {
    s.split_whitespace().next().unwrap_or_default().to_string()
}

/// Reads up to `n` bytes without consuming them from the reader's point of view: the returned
/// reader yields the same bytes again first.
pub(crate) fn peek(
    mut reader: Box<dyn BufRead + Send>,
    n: usize,
) -> io::Result<(Vec<u8>, Box<dyn BufRead + Send>)> {
    let mut head = Vec::with_capacity(n);
    (&mut reader).take(n as u64).read_to_end(&mut head)?;
    let replay = io::Cursor::new(head.clone()).chain(reader);
    Ok((head, Box::new(BufReader::with_capacity(256 << 10, replay))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_header_reads_versions_and_dumpall_marker() {
        let header = ScriptHeader::read(
            "--\n-- PostgreSQL database cluster dump\n--\n\n-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)\n-- Dumped by pg_dump version 18.6\n",
        );
        assert!(header.dumpall);
        assert_eq!(header.pg_dump_version.as_deref(), Some("18.6"));
        assert_eq!(header.server_version.as_deref(), Some("15.18"));
    }

    #[test]
    fn binary_garbage_is_not_a_dump() {
        assert!(matches!(
            sniff(b"\x7fELF\x02\x01\x01\0\0\0"),
            Err(DumpError::NotADump)
        ));
        assert!(matches!(sniff(b""), Err(DumpError::NotADump)));
        assert!(matches!(sniff(b"{\"about\": 1}"), Err(DumpError::NotADump)));
        assert!(matches!(sniff(b"SELECT 1;"), Ok(Sniffed::Script)));
        assert!(matches!(
            sniff(b"--\n-- x\n--\n\n\\restrict k\n"),
            Ok(Sniffed::Script)
        ));
    }

    #[test]
    fn outer_compression_is_known_by_its_magic() {
        assert_eq!(
            OuterCompression::sniff(&[0x1f, 0x8b, 8]),
            Some(OuterCompression::Gzip)
        );
        assert_eq!(
            OuterCompression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Some(OuterCompression::Zstd)
        );
        assert_eq!(
            OuterCompression::sniff(&[0x04, 0x22, 0x4d, 0x18]),
            Some(OuterCompression::Lz4)
        );
        assert_eq!(OuterCompression::sniff(b"PGDMP"), None);
    }
}
