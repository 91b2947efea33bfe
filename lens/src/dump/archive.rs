//! The header of a `pg_dump` archive (custom format, or `toc.dat` of tar and directory
//! formats), read the way `pg_restore` reads it (`ReadHead` in pg_backup_archiver.c).

use super::DumpError;

/// What the archive header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveHeader {
    /// The archive format version, e.g. (1, 16, 0).
    pub version: (u8, u8, u8),
    pub kind: ArchiveKind,
    /// Compression of the data inside: `none`, `gzip`, `lz4` or `zstd`.
    pub compression: &'static str,
    pub database: Option<String>,
    pub server_version: Option<String>,
    pub pg_dump_version: Option<String>,
    pub toc_entries: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Custom,
    Tar,
    Directory,
}

impl ArchiveHeader {
    pub fn parse(bytes: &[u8]) -> Result<Self, DumpError> {
        let mut r = HeaderReader {
            bytes,
            pos: 0,
            int_size: 4,
            has_sign: true,
        };
        if r.take(5)? != b"PGDMP" {
            return Err(DumpError::Corrupt(
                "the archive has no PGDMP signature".into(),
            ));
        }
        let major = r.byte()?;
        let minor = r.byte()?;
        let revision = if major > 1 || minor > 0 { r.byte()? } else { 0 };
        let version = (major, minor, revision);
        r.has_sign = version > (1, 0, 0);
        r.int_size = r.byte()? as usize;
        if !(1..=8).contains(&r.int_size) {
            return Err(DumpError::Corrupt(format!(
                "the archive header gives an integer size of {} bytes",
                r.int_size
            )));
        }
        if version >= (1, 7, 0) {
            r.byte()?; // offset size
        }
        let kind = match r.byte()? {
            1 => ArchiveKind::Custom,
            3 => ArchiveKind::Tar,
            5 => ArchiveKind::Directory,
            other => {
                return Err(DumpError::Corrupt(format!(
                    "unknown archive format code {other}"
                )));
            }
        };
        let compression = if version >= (1, 15, 0) {
            match r.byte()? {
                0 => "none",
                1 => "gzip",
                2 => "lz4",
                3 => "zstd",
                other => {
                    return Err(DumpError::Corrupt(format!(
                        "unknown compression code {other}"
                    )));
                }
            }
        } else {
            let level = if version >= (1, 4, 0) {
                r.int()?
            } else if version >= (1, 2, 0) {
                i64::from(r.byte()?)
            } else {
                0
            };
            if level == 0 { "none" } else { "gzip" }
        };
        if version >= (1, 4, 0) {
            for _ in 0..7 {
                r.int()?; // creation time: sec, min, hour, day, month, year, isdst
            }
        }
        let (database, server_version, pg_dump_version) = if version >= (1, 10, 0) {
            (r.string()?, r.string()?, r.string()?)
        } else {
            (None, None, None)
        };
        let toc_entries = u64::try_from(r.int()?)
            .map_err(|_| DumpError::Corrupt("negative TOC entry count".into()))?;
        Ok(Self {
            version,
            kind,
            compression,
            database,
            server_version: server_version.map(|v| first_word(&v)),
            pg_dump_version: pg_dump_version.map(|v| first_word(&v)),
            toc_entries,
        })
    }

    /// The oldest `pg_restore` major version that reads this archive format. Each format version
    /// was introduced by one PostgreSQL release; for versions newer than this table knows, the
    /// release that wrote the archive is the safe answer.
    pub fn restore_major_needed(&self) -> u32 {
        let dumped_by = self
            .pg_dump_version
            .as_deref()
            .and_then(|v| v.split('.').next()?.parse().ok());
        match (self.version.0, self.version.1) {
            (1, ..=13) => 11,
            (1, 14) => 14,
            (1, 15) => 16,
            (1, 16) => 17,
            _ => dumped_by.unwrap_or(u32::MAX),
        }
    }

    pub fn version_string(&self) -> String {
        format!("{}.{}", self.version.0, self.version.1)
    }
}

fn first_word(s: &str) -> String {
    s.split_whitespace().next().unwrap_or_default().to_string()
}

struct HeaderReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    int_size: usize,
    has_sign: bool,
}

impl<'a> HeaderReader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DumpError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end =
            end.ok_or_else(|| DumpError::Corrupt("the archive header is truncated".into()))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, DumpError> {
        Ok(self.take(1)?[0])
    }

    /// `ReadInt`: a sign byte, then `int_size` bytes, least significant first.
    fn int(&mut self) -> Result<i64, DumpError> {
        let negative = self.has_sign && self.byte()? != 0;
        let value = self
            .take(self.int_size)?
            .iter()
            .rev()
            .fold(0i64, |acc, &b| (acc << 8) | i64::from(b));
        Ok(if negative { -value } else { value })
    }

    /// `ReadStr`: a length (negative for NULL), then that many bytes.
    fn string(&mut self) -> Result<Option<String>, DumpError> {
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= 1 << 16)
            .ok_or_else(|| DumpError::Corrupt("an archive header string is too long".into()))?;
        Ok(Some(String::from_utf8_lossy(self.take(len)?).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_head(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../shared/fixtures/dumps/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        bytes.truncate(4096);
        bytes
    }

    #[test]
    fn reads_a_pg18_custom_header() {
        let header = ArchiveHeader::parse(&fixture_head("pagila.pg18.custom.dump")).unwrap();
        assert_eq!(header.version, (1, 16, 0));
        assert_eq!(header.kind, ArchiveKind::Custom);
        assert_eq!(header.compression, "gzip");
        assert_eq!(header.database.as_deref(), Some("pagila"));
        assert_eq!(header.pg_dump_version.as_deref(), Some("18.6"));
        assert_eq!(header.server_version.as_deref(), Some("18.6"));
        assert_eq!(header.toc_entries, 204);
        assert_eq!(header.restore_major_needed(), 17);
    }

    #[test]
    fn reads_a_pg15_custom_header() {
        let header = ArchiveHeader::parse(&fixture_head("pagila.pg15.custom.dump")).unwrap();
        assert_eq!(header.version, (1, 14, 0));
        assert_eq!(header.compression, "gzip");
        assert_eq!(header.pg_dump_version.as_deref(), Some("15.18"));
        assert_eq!(header.toc_entries, 204);
        assert_eq!(header.restore_major_needed(), 14);
    }

    #[test]
    fn a_truncated_header_is_corrupt_not_a_panic() {
        let head = fixture_head("pagila.pg18.custom.dump");
        for len in [0, 5, 8, 12, 40, 70] {
            let err = ArchiveHeader::parse(&head[..len]).unwrap_err();
            assert!(matches!(err, DumpError::Corrupt(_)), "{len}: {err}");
        }
    }
}
