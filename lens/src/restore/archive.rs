//! Archives (custom, tar, directory) through `pg_restore`, run as the sandbox role.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::{
    Outcome, Progress, ProgressSink, RestoreError, RestoreIssue, RestoreOptions, skipped_rows,
};
use crate::conninfo::ServerUrl;
use crate::dump::limits::DiskBudget;
use crate::dump::{DumpError, DumpFormat, DumpInfo, Limits, Packing};
use crate::postgres::ClientProgram;

pub(super) async fn restore(
    file: &Path,
    info: &DumpInfo,
    pg_restore: &ClientProgram,
    target: &ServerUrl,
    options: &RestoreOptions,
    progress: &ProgressSink,
) -> Result<Outcome, RestoreError> {
    // pg_restore reads a directory-format dump from a folder, so a packed one is unpacked first.
    let unpacked = match info.layout.packing {
        Some(packing) => {
            let file = file.to_path_buf();
            let limits = options.limits.clone();
            let scratch = options.scratch_dir.clone();
            Some(
                tokio::task::spawn_blocking(move || {
                    unpack_directory(&file, packing, &limits, &scratch)
                })
                .await
                .map_err(|e| RestoreError::Other(e.to_string()))??,
            )
        }
        None => None,
    };
    let source = unpacked.as_ref().map_or(file, |dir| dir.path());

    let mut command = Command::new(&pg_restore.path);
    command
        .args(["--no-owner", "--no-privileges", "--no-tablespaces"])
        .args([
            "--no-security-labels",
            "--no-publications",
            "--no-subscriptions",
        ])
        .arg("--verbose")
        .arg(format_flag(info));
    // Rows not wanted: restore from pg_restore's own table of contents with their TABLE DATA
    // entries commented out.
    let (_list, skipped_tables) = match options.skip_table_data.is_empty() {
        true => (None, 0),
        false => {
            let (list, skipped) = contents_without_data(pg_restore, info, source, options).await?;
            command.arg("--use-list").arg(list.path());
            (Some(list), skipped)
        }
    };
    // The tar format cannot be restored in parallel.
    if options.jobs > 1 && info.format != DumpFormat::Tar {
        command.arg(format!("--jobs={}", options.jobs));
    }
    command
        .arg("--dbname")
        .arg(target.database().unwrap_or_default())
        .arg(source)
        .env_clear()
        .envs(target.libpq_env())
        .env("PGAPPNAME", "dumplens-restore")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| {
        RestoreError::Other(format!(
            "cannot run {}: {source}",
            pg_restore.path.display()
        ))
    })?;

    let mut parser = StderrParser::default();
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let total = info.toc_entries;
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| RestoreError::Other(format!("reading pg_restore's output: {e}")))?
    {
        if let Some(current) = parser.feed(&line) {
            progress(&Progress {
                bytes_done: 0,
                bytes_total: 0,
                items_done: parser.items_done,
                items_total: total,
                current,
            });
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| RestoreError::Other(format!("waiting for pg_restore: {e}")))?;
    let mut outcome = parser.finish();
    if skipped_tables > 0 {
        outcome.warnings.push(skipped_rows(skipped_tables));
    }
    if !status.success() && outcome.errors.is_empty() {
        outcome.errors.push(RestoreIssue {
            location: "pg_restore".into(),
            message: format!("exited with {status}"),
        });
    }
    Ok(outcome)
}

fn format_flag(info: &DumpInfo) -> &'static str {
    match info.format {
        DumpFormat::Tar => "--format=tar",
        DumpFormat::Directory => "--format=directory",
        _ => "--format=custom",
    }
}

/// The archive's table of contents (`pg_restore --list`) with the TABLE DATA entries of the
/// tables in `options.skip_table_data` commented out, in a scratch file; and how many.
async fn contents_without_data(
    pg_restore: &ClientProgram,
    info: &DumpInfo,
    source: &Path,
    options: &RestoreOptions,
) -> Result<(tempfile::NamedTempFile, u64), RestoreError> {
    let listed = Command::new(&pg_restore.path)
        .arg("--list")
        .arg(format_flag(info))
        .arg(source)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| {
            RestoreError::Other(format!("cannot run {}: {e}", pg_restore.path.display()))
        })?;
    if !listed.status.success() {
        return Err(RestoreError::Other(format!(
            "pg_restore --list failed: {}",
            String::from_utf8_lossy(&listed.stderr).trim()
        )));
    }
    let contents = String::from_utf8_lossy(&listed.stdout);
    let mut list = tempfile::NamedTempFile::new_in(&options.scratch_dir)
        .map_err(|e| DumpError::io(&options.scratch_dir, e))?;
    let mut skipped = 0;
    for line in contents.lines() {
        // `3642; 0 16390 TABLE DATA public actor postgres`: names as they are, unquoted.
        let skip = options
            .skip_table_data
            .iter()
            .any(|t| line.contains(&format!(" TABLE DATA {} {} ", t.schema, t.table)));
        skipped += u64::from(skip);
        let comment = if skip { ";" } else { "" };
        writeln!(list, "{comment}{line}").map_err(|e| DumpError::io(list.path(), e))?;
    }
    Ok((list, skipped))
}

/// Reads `pg_restore --verbose` output: counts items, and collects errors with the TOC entry
/// they belong to.
#[derive(Default)]
struct StderrParser {
    items_done: u64,
    toc_entry: Option<String>,
    outcome: Outcome,
    /// The error whose `Command was:` lines may follow.
    open_error: bool,
}

impl StderrParser {
    /// Returns `Some(current table)` when an item was started or finished.
    fn feed(&mut self, line: &str) -> Option<Option<String>> {
        if let Some(entry) = line.strip_prefix("pg_restore: from TOC entry ") {
            self.toc_entry = Some(format!("TOC entry {}", entry.trim()));
            self.open_error = false;
            return None;
        }
        if let Some(message) = line.strip_prefix("pg_restore: error: ") {
            if message.starts_with("errors ignored on restore") {
                return None;
            }
            self.push_error(message.to_string());
            return None;
        }
        if let Some(message) = line.strip_prefix("pg_restore: warning: ") {
            if !message.starts_with("errors ignored on restore") {
                self.outcome.warnings.push(message.to_string());
            }
            return None;
        }
        if let Some(command) = line.strip_prefix("Command was: ") {
            if self.open_error
                && let Some(last) = self.outcome.errors.last_mut()
            {
                let command: String = command.chars().take(300).collect();
                last.message.push_str(&format!(" (command: {command})"));
            }
            return None;
        }
        let verbose = line.strip_prefix("pg_restore: ")?;
        self.open_error = false;
        if let Some(table) = verbose
            .strip_prefix("processing data for table ")
            .map(|t| t.trim_matches('"').to_string())
        {
            self.items_done += 1;
            return Some(Some(table));
        }
        if verbose.starts_with("creating ")
            || verbose.starts_with("executing ")
            || verbose.starts_with("finished item ")
        {
            self.items_done += 1;
            return Some(None);
        }
        None
    }

    fn push_error(&mut self, message: String) {
        self.open_error = true;
        if self.outcome.errors.len() >= super::MAX_ERRORS {
            return;
        }
        let message = message
            .strip_prefix("could not execute query: ")
            .unwrap_or(&message)
            .to_string();
        self.outcome.errors.push(RestoreIssue {
            location: self.toc_entry.take().unwrap_or_else(|| "pg_restore".into()),
            message,
        });
    }

    fn finish(self) -> Outcome {
        self.outcome
    }
}

/// A directory-format dump unpacked into a private scratch folder (removed on drop).
pub(super) struct Unpacked(tempfile::TempDir);

impl Unpacked {
    fn path(&self) -> &Path {
        self.0.path()
    }
}

/// Only the files pg_dump writes into a directory dump are taken, flattened into one folder by
/// their base name: nothing can be written outside it, whatever paths the archive holds.
fn is_directory_dump_member(name: &str) -> bool {
    let base = name.split(['.']).next().unwrap_or_default();
    let extension = &name[base.len()..];
    let known_extension = matches!(
        extension,
        ".dat" | ".dat.gz" | ".dat.lz4" | ".dat.zst" | ".toc"
    );
    let known_base = base == "toc"
        || base == "blobs"
        || base.bytes().all(|b| b.is_ascii_digit())
        || base
            .strip_prefix("blob_")
            .or_else(|| base.strip_prefix("blobs_"))
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    !base.is_empty() && known_base && known_extension
}

fn unpack_directory(
    file: &Path,
    packing: Packing,
    limits: &Limits,
    scratch: &Path,
) -> Result<Unpacked, RestoreError> {
    let dir = tempfile::Builder::new()
        .prefix("dumplens-unpack-")
        .tempdir_in(scratch)
        .map_err(|e| DumpError::io(scratch, e))?;
    let mut budget = DiskBudget::new(dir.path(), limits, "unpacking the directory dump")?;
    let mut saw_toc = false;
    let mut take = |name: &str, size: u64, reader: &mut dyn Read| -> Result<(), RestoreError> {
        let Some(base) = Path::new(name).file_name().and_then(|n| n.to_str()) else {
            return Ok(());
        };
        if !is_directory_dump_member(base) {
            return Ok(());
        }
        saw_toc |= base == "toc.dat";
        budget.reserve(size)?;
        let target = dir.path().join(base);
        let mut out = File::create(&target).map_err(|e| DumpError::io(&target, e))?;
        // The declared size may lie; never copy more than was reserved.
        let copied =
            io::copy(&mut reader.take(size), &mut out).map_err(|e| DumpError::io(file, e))?;
        if copied != size {
            return Err(
                DumpError::Corrupt(format!("{name} is shorter than its header says")).into(),
            );
        }
        Ok(())
    };
    match packing {
        Packing::Tar => {
            let opened = crate::dump::format::open_decompressed(file, limits)?;
            let mut tar = tar::Archive::new(opened.reader);
            for entry in tar.entries().map_err(|e| DumpError::io(file, e))? {
                let mut entry = entry.map_err(|e| DumpError::io(file, e))?;
                if entry.header().entry_type() != tar::EntryType::Regular {
                    continue;
                }
                let name = entry
                    .path()
                    .map_err(|e| DumpError::io(file, e))?
                    .to_string_lossy()
                    .into_owned();
                let size = entry.size();
                take(&name, size, &mut entry)?;
            }
        }
        Packing::Zip => {
            let reader = File::open(file).map_err(|e| DumpError::io(file, e))?;
            let mut zip =
                zip::ZipArchive::new(reader).map_err(|e| DumpError::Corrupt(e.to_string()))?;
            for i in 0..zip.len() {
                let mut entry = zip
                    .by_index(i)
                    .map_err(|e| DumpError::Corrupt(e.to_string()))?;
                if !entry.is_file() {
                    continue;
                }
                let name = entry.name().to_string();
                let size = entry.size();
                take(&name, size, &mut entry)?;
            }
        }
    }
    if !saw_toc {
        return Err(DumpError::Corrupt("the packed directory dump has no toc.dat".into()).into());
    }
    Ok(Unpacked(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_pg_dump_writes_are_unpacked() {
        for name in [
            "toc.dat",
            "3384.dat.gz",
            "3384.dat",
            "3384.dat.zst",
            "blobs_12.toc",
            "blob_123.dat",
        ] {
            assert!(is_directory_dump_member(name), "{name}");
        }
        for name in [
            "",
            ".bashrc",
            "toc.dat.sh",
            "evil.so",
            "3384.dat.gz.exe",
            "x.dat",
        ] {
            assert!(!is_directory_dump_member(name), "{name}");
        }
    }

    #[test]
    fn errors_carry_their_toc_entry_and_command() {
        let mut parser = StderrParser::default();
        for line in [
            "pg_restore: connecting to database for restore",
            "pg_restore: creating TABLE \"public.t\"",
            "pg_restore: from TOC entry 215; 1259 16390 TABLE t postgres",
            "pg_restore: error: could not execute query: ERROR:  permission denied to create extension \"dblink\"",
            "Command was: CREATE EXTENSION dblink;",
            "pg_restore: processing data for table \"public.t\"",
            "pg_restore: warning: errors ignored on restore: 1",
        ] {
            parser.feed(line);
        }
        let outcome = parser.finish();
        assert_eq!(outcome.errors.len(), 1);
        assert_eq!(
            outcome.errors[0].location,
            "TOC entry 215; 1259 16390 TABLE t postgres"
        );
        assert!(
            outcome.errors[0]
                .message
                .starts_with("ERROR:  permission denied")
        );
        assert!(
            outcome.errors[0]
                .message
                .contains("CREATE EXTENSION dblink")
        );
        assert!(outcome.warnings.is_empty());
    }
}
