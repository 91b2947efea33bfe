//! Dump files: recognising them by content, reading their headers, and reading their contents
//! within bounds.

pub mod archive;
pub mod format;
pub mod limits;
pub mod script;
pub mod sections;
pub mod statement;

use std::fs::File;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use archive::{ArchiveHeader, ArchiveKind};
pub use format::{DumpFormat, Layout, OuterCompression, Packing, ScriptHeader};
pub use limits::{LimitExceeded, Limits};

use format::Sniffed;

/// Bytes of the start of a file looked at to recognise it.
const HEAD_BYTES: usize = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error(
        "this is not a PostgreSQL dump: it is neither a pg_dump archive (custom, tar or directory format) nor an SQL script"
    )]
    NotADump,

    #[error("the dump is damaged: {0}")]
    Corrupt(String),

    #[error("the dump is refused: {0}")]
    TooLarge(String),

    #[error("{what} is not supported: {hint}")]
    Unsupported { what: String, hint: String },

    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl DumpError {
    /// Classifies an I/O error met while reading a dump: a tripped limit, damaged compressed
    /// data, or a real I/O failure.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        if let Some(limit) = source
            .get_ref()
            .and_then(|e| e.downcast_ref::<LimitExceeded>())
        {
            return Self::TooLarge(limit.0.clone());
        }
        match source.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput => {
                Self::Corrupt(source.to_string())
            }
            std::io::ErrorKind::UnexpectedEof => {
                Self::Corrupt("the file ends too early (truncated?)".into())
            }
            _ => Self::Io {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}

/// What `dumplens inspect` reports: read from the file without restoring anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DumpInfo {
    pub format: DumpFormat,
    /// For scripts, the compression of the whole file; for archives, of the data inside.
    pub compression: Option<String>,
    pub pg_dump_version: Option<String>,
    pub server_version: Option<String>,
    /// The databases inside, as named in the dump (empty when the dump does not say).
    pub databases: Vec<String>,
    pub toc_entries: Option<u64>,
    #[serde(skip)]
    pub layout: Layout,
    /// The archive header, for archives.
    #[serde(skip)]
    pub archive: Option<ArchiveHeader>,
}

/// Recognises the dump at `path` and reads its header.
pub fn inspect(path: &Path, limits: &Limits) -> Result<DumpInfo, DumpError> {
    let format::Opened { outer, reader, .. } = format::open_decompressed(path, limits)?;
    let (head, reader) = format::peek(reader, HEAD_BYTES).map_err(|e| DumpError::io(path, e))?;
    let layout = |packing| Layout { outer, packing };
    match format::sniff(&head)? {
        Sniffed::Archive => {
            if outer.is_some() {
                return Err(unpack_first("a compressed custom-format archive"));
            }
            let header = ArchiveHeader::parse(&head)?;
            Ok(archive_info(header, DumpFormat::Custom, layout(None)))
        }
        Sniffed::Tar => {
            let (header, toc_first_at_root) = toc_in_tar(path, reader)?;
            // Both pg_dump -Ft and a directory dump's toc.dat may say "tar"; pg_dump -Ft writes
            // toc.dat as the first member, at the root, and never compresses.
            let is_tar_format = header.kind == ArchiveKind::Tar
                && header.compression == "none"
                && toc_first_at_root;
            if is_tar_format {
                if outer.is_some() {
                    return Err(unpack_first("a compressed tar-format archive"));
                }
                Ok(archive_info(header, DumpFormat::Tar, layout(None)))
            } else {
                Ok(archive_info(
                    header,
                    DumpFormat::Directory,
                    layout(Some(Packing::Tar)),
                ))
            }
        }
        Sniffed::Zip => {
            if outer.is_some() {
                return Err(unpack_first("a compressed zip file"));
            }
            let header = toc_in_zip(path)?;
            Ok(archive_info(
                header,
                DumpFormat::Directory,
                layout(Some(Packing::Zip)),
            ))
        }
        Sniffed::Script => {
            let text = String::from_utf8_lossy(&head);
            let header = ScriptHeader::read(&text);
            // Only a pg_dumpall file needs reading to the end to list its databases; a plain
            // pg_dump script names none (or, with --create, just the one it restores).
            let databases = if header.dumpall {
                sections::database_names(reader, limits).map_err(|e| match e {
                    script::ScriptError::Io(e) => DumpError::io(path, e),
                    other => DumpError::Corrupt(other.to_string()),
                })?
            } else {
                Vec::new()
            };
            Ok(DumpInfo {
                format: if header.dumpall {
                    DumpFormat::Dumpall
                } else {
                    DumpFormat::Plain
                },
                compression: outer.map(|c| c.name().to_string()),
                pg_dump_version: header.pg_dump_version,
                server_version: header.server_version,
                databases,
                toc_entries: None,
                layout: layout(None),
                archive: None,
            })
        }
    }
}

fn unpack_first(what: &str) -> DumpError {
    DumpError::Unsupported {
        what: what.into(),
        hint: "decompress it and upload the archive itself (its data is compressed already)".into(),
    }
}

fn archive_info(header: ArchiveHeader, format: DumpFormat, layout: Layout) -> DumpInfo {
    DumpInfo {
        format,
        compression: Some(header.compression.to_string()),
        pg_dump_version: header.pg_dump_version.clone(),
        server_version: header.server_version.clone(),
        databases: header.database.iter().cloned().collect(),
        toc_entries: Some(header.toc_entries),
        layout,
        archive: Some(header),
    }
}

/// Is this tar member the `toc.dat` of an archive: at the top, or in one folder (a directory
/// dump packed with its folder name)?
pub(crate) fn is_toc_path(path: &Path) -> bool {
    let parts: Vec<_> = path
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    parts
        .last()
        .is_some_and(|last| last.as_os_str() == "toc.dat")
        && parts.len() <= 2
}

/// The header of the archive's `toc.dat`, and whether it was the tar's first member, at its root.
fn toc_in_tar(
    path: &Path,
    reader: Box<dyn BufRead + Send>,
) -> Result<(ArchiveHeader, bool), DumpError> {
    let mut tar = tar::Archive::new(reader);
    for (index, entry) in tar
        .entries()
        .map_err(|e| DumpError::io(path, e))?
        .enumerate()
    {
        let entry = entry.map_err(|e| DumpError::io(path, e))?;
        let member = entry.path().map_err(|e| DumpError::io(path, e))?;
        if is_toc_path(&member) {
            let first_at_root = index == 0 && member.as_os_str() == "toc.dat";
            let mut head = Vec::new();
            entry
                .take(HEAD_BYTES as u64)
                .read_to_end(&mut head)
                .map_err(|e| DumpError::io(path, e))?;
            return Ok((ArchiveHeader::parse(&head)?, first_at_root));
        }
    }
    Err(DumpError::Unsupported {
        what: "a tar file without a toc.dat".into(),
        hint: "upload a pg_dump -Ft archive, or a tar of the folder pg_dump -Fd wrote".into(),
    })
}

fn toc_in_zip(path: &Path) -> Result<ArchiveHeader, DumpError> {
    let file = File::open(path).map_err(|e| DumpError::io(path, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| DumpError::Corrupt(e.to_string()))?;
    let toc = (0..zip.len()).find(|&i| {
        zip.name_for_index(i)
            .is_some_and(|name| is_toc_path(Path::new(name)))
    });
    let Some(index) = toc else {
        return Err(DumpError::Unsupported {
            what: "a zip file without a toc.dat".into(),
            hint: "zip the folder pg_dump -Fd wrote".into(),
        });
    };
    let entry = zip
        .by_index(index)
        .map_err(|e| DumpError::Corrupt(e.to_string()))?;
    let mut head = Vec::new();
    entry
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| DumpError::io(path, e))?;
    ArchiveHeader::parse(&head)
}
