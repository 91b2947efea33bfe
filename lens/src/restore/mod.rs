//! Restoring an untrusted dump into sandbox databases, as a role that owns nothing else.
//!
//! Archives go through `pg_restore --no-owner --no-privileges` run as the sandbox role; plain
//! scripts go through our own executor (psql would run `\!` shell commands from the dump).

mod archive;
mod script;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::{Connection, Executor, PgConnection};

use crate::conninfo::ServerUrl;
use crate::dump::{self, DumpError, DumpFormat, DumpInfo, Limits};
use crate::postgres::{PgError, SearchPath};
use crate::sandbox::{self, SandboxError, SandboxNames};

/// How to restore.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Parallel jobs for archive formats that allow it (custom and directory).
    pub jobs: u32,
    /// Keep going past errors, reporting them, instead of failing.
    pub continue_on_error: bool,
    pub limits: Limits,
    /// Where to look for `pg_restore` first.
    pub pg_bindir: Option<PathBuf>,
    /// Where to unpack directory-format dumps that arrive as tar or zip files.
    pub scratch_dir: PathBuf,
    /// Tables whose rows are not restored (their definitions are).
    pub skip_table_data: Vec<TableName>,
}

/// A schema-qualified table name as a person writes it: `schema.table`, either part in double
/// quotes when it holds a dot, a quote or capitals that matter (`"Sales"."Q1.2026"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub schema: String,
    pub table: String,
}

impl std::str::FromStr for TableName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("{text:?} is not a table name like schema.table");
        let (schema, rest) = identifier(text).ok_or_else(invalid)?;
        let rest = rest.strip_prefix('.').ok_or_else(invalid)?;
        let (table, rest) = identifier(rest).ok_or_else(invalid)?;
        if !rest.is_empty() {
            return Err(invalid());
        }
        Ok(Self { schema, table })
    }
}

/// The warning that says rows were left out on purpose.
fn skipped_rows(tables: u64) -> String {
    format!("skipped the rows of {tables} tables, as asked")
}

/// Reads one identifier from the start of `text` (quoted with `""` for a quote, or bare and
/// folded to lower case, as PostgreSQL reads it); returns it and the rest.
pub(crate) fn identifier(text: &str) -> Option<(String, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut name = String::new();
        let mut rest = quoted;
        loop {
            let end = rest.find('"')?;
            name.push_str(&rest[..end]);
            rest = &rest[end + 1..];
            match rest.strip_prefix('"') {
                Some(after) => {
                    name.push('"');
                    rest = after;
                }
                None => break,
            }
        }
        (!name.is_empty()).then_some((name, rest))
    } else {
        let end = text
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(text.len());
        (end > 0).then(|| (text[..end].to_lowercase(), &text[end..]))
    }
}

impl Default for RestoreOptions {
    fn default() -> Self {
        Self {
            jobs: 2,
            continue_on_error: false,
            limits: Limits::default(),
            pg_bindir: None,
            scratch_dir: std::env::temp_dir(),
            skip_table_data: Vec::new(),
        }
    }
}

/// Where the dump goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// Create the sandbox role and databases through this superuser (or CREATEROLE and
    /// CREATEDB) connection, then restore as the role. The admin does nothing else.
    Admin(ServerUrl),
    /// Restore into databases that exist already, connected as the sandbox role (user and
    /// password in the options): how a Kubernetes Job runs without admin credentials.
    Existing {
        role: ServerUrl,
        databases: Vec<String>,
    },
}

/// One error met while restoring, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreIssue {
    /// `line 12` for scripts, `TOC entry 215; 1259 16390 TABLE actor` for archives, or the
    /// database when nothing finer is known.
    pub location: String,
    pub message: String,
}

impl std::fmt::Display for RestoreIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoredDatabase {
    /// The name in the dump, when the dump names it.
    pub name: Option<String>,
    /// The sandbox database it was restored into.
    pub sandbox: String,
    pub tables: u64,
    /// Estimated after ANALYZE (exact for tables up to 30,000 rows).
    pub rows: u64,
}

/// What `dumplens restore` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSummary {
    pub id: String,
    pub format: DumpFormat,
    pub pg_dump_version: Option<String>,
    pub databases: Vec<RestoredDatabase>,
    pub warnings: Vec<String>,
    pub errors: Vec<RestoreIssue>,
    /// Time spent loading the dump, and analysing the result (ANALYZE and counting).
    pub load_seconds: f64,
    pub analyze_seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Dump(#[from] DumpError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Tools(#[from] PgError),
    #[error(
        "this archive (format {archive}, written by pg_dump {dumped_by}) needs pg_restore {needed} or newer, and the newest found is {found} ({path}); install PostgreSQL {needed} client tools or run `./dev setup`"
    )]
    PgRestoreTooOld {
        archive: String,
        dumped_by: String,
        needed: u32,
        found: String,
        path: String,
    },
    #[error("the dump holds {found} databases but {given} target databases were given")]
    TargetMismatch { found: usize, given: usize },
    #[error("the restore took longer than {0:?}, the limit")]
    TimedOut(Duration),
    #[error("the restored data grew past {limit} bytes, the limit for one dump")]
    TooBig { limit: u64 },
    #[error("the restore failed with {} error(s); the first: {}", .0.errors.len(), .0.errors[0])]
    Failed(Box<RestoreSummary>),
    #[error("{0}")]
    Other(String),
}

/// A step of a restore, for progress bars and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Bytes of the dump file read so far, and its size (scripts).
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// Statements (scripts) or TOC entries (archives) done, and the total when known.
    pub items_done: u64,
    pub items_total: Option<u64>,
    /// The table whose data is being loaded.
    pub current: Option<String>,
}

/// Receives progress; called from the restoring task, so it should be quick.
pub type ProgressSink = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Restores the dump in `file` as sandbox `id`.
pub async fn restore(
    file: &Path,
    id: &str,
    target: &Target,
    options: &RestoreOptions,
    progress: ProgressSink,
) -> Result<RestoreSummary, RestoreError> {
    sandbox::validate_id(id)?;
    // Reading the file and probing for pg_restore (which runs programs) block: off the runtime.
    let (info, pg_restore) = {
        let file = file.to_path_buf();
        let options = options.clone();
        tokio::task::spawn_blocking(move || {
            let info = dump::inspect(&file, &options.limits)?;
            let pg_restore = if info.format.is_archive() {
                Some(compatible_pg_restore(&info, &options)?)
            } else {
                None
            };
            Ok::<_, RestoreError>((info, pg_restore))
        })
        .await
        .map_err(|e| RestoreError::Other(e.to_string()))??
    };
    let database_count = match info.format {
        DumpFormat::Dumpall => info.databases.len(),
        _ => 1,
    };
    if database_count == 0 {
        return Err(DumpError::Unsupported {
            what: "a pg_dumpall file without databases".into(),
            hint: "it holds only roles and settings, which are not restored".into(),
        }
        .into());
    }

    let (role_url, databases, admin) = match target {
        Target::Admin(admin_url) => {
            let names = SandboxNames::new(id, database_count)?;
            let password = sandbox::new_password();
            let mut admin = sandbox::connect(&admin_url.connect_options()).await?;
            sandbox::create(&mut admin, &names, &password).await?;
            let role = admin_url.with_login(&names.role, &password);
            (role, names.databases.clone(), Some((admin, names)))
        }
        Target::Existing { role, databases } => {
            if databases.len() != database_count {
                return Err(RestoreError::TargetMismatch {
                    found: database_count,
                    given: databases.len(),
                });
            }
            (role.clone(), databases.clone(), None)
        }
    };

    let work = async {
        let started = std::time::Instant::now();
        let outcome = match &pg_restore {
            Some(program) => {
                let target = role_url.with_database(&databases[0]);
                archive::restore(file, &info, program, &target, options, &progress).await?
            }
            None => script::restore(file, &info, &role_url, &databases, options, &progress).await?,
        };
        let loaded = started.elapsed();
        let mut restored = Vec::new();
        for (i, sandbox_db) in databases.iter().enumerate() {
            let (tables, rows) = analyze(&role_url.with_database(sandbox_db)).await?;
            restored.push(RestoredDatabase {
                name: info.databases.get(i).cloned(),
                sandbox: sandbox_db.clone(),
                tables,
                rows,
            });
        }
        Ok::<_, RestoreError>(RestoreSummary {
            load_seconds: loaded.as_secs_f64(),
            analyze_seconds: (started.elapsed() - loaded).as_secs_f64(),
            id: id.to_string(),
            format: info.format,
            pg_dump_version: info.pg_dump_version.clone(),
            databases: restored,
            warnings: outcome.warnings,
            errors: outcome.errors,
        })
    };
    let watchdog = watch_database_size(&role_url, &databases, options.limits.max_database_bytes);
    let bounded = async {
        tokio::select! {
            result = work => result,
            exceeded = watchdog => Err(exceeded),
        }
    };
    let result = match tokio::time::timeout(options.limits.max_duration, bounded).await {
        Ok(result) => result,
        Err(_) => Err(RestoreError::TimedOut(options.limits.max_duration)),
    };
    let result = match result {
        Ok(summary) if !summary.errors.is_empty() && !options.continue_on_error => {
            Err(RestoreError::Failed(Box::new(summary)))
        }
        other => other,
    };
    // A failed restore leaves nothing behind when we created the sandbox; with an existing
    // target, whoever created it cleans up.
    if result.is_err()
        && let Some((mut admin, names)) = admin
    {
        if let Err(err) = sandbox::drop_all(&mut admin, &names).await {
            tracing::error!(%err, "could not drop the sandbox of a failed restore");
        }
    }
    result
}

/// What one restore run reported besides success.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub warnings: Vec<String>,
    pub errors: Vec<RestoreIssue>,
}

/// At most this many errors are kept; a hostile dump could produce millions.
pub(crate) const MAX_ERRORS: usize = 100;

fn compatible_pg_restore(
    info: &DumpInfo,
    options: &RestoreOptions,
) -> Result<crate::postgres::ClientProgram, RestoreError> {
    let program = SearchPath::standard(options.pg_bindir.clone()).find_client("pg_restore")?;
    let header = info.archive.as_ref().expect("archives have a header");
    let needed = header.restore_major_needed();
    if program.major < needed {
        return Err(RestoreError::PgRestoreTooOld {
            archive: header.version_string(),
            dumped_by: header.pg_dump_version.clone().unwrap_or_else(|| "?".into()),
            needed,
            found: program.version,
            path: program.path.display().to_string(),
        });
    }
    Ok(program)
}

/// How often the size of a restoring sandbox is checked.
const SIZE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Resolves (with the error to report) once the sandbox databases together exceed `limit`
/// bytes; never resolves otherwise. Checked as the sandbox role, which may size its own
/// databases. Dropping the restore future stops the load; the sandbox is dropped after.
async fn watch_database_size(role: &ServerUrl, databases: &[String], limit: u64) -> RestoreError {
    let mut interval = tokio::time::interval(SIZE_CHECK_INTERVAL);
    let mut conn = None;
    loop {
        interval.tick().await;
        if conn.is_none() {
            conn = PgConnection::connect_with(&role.with_database(&databases[0]).connect_options())
                .await
                .ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        match sandbox::size(c, databases).await {
            Ok(size) if size as u64 > limit => return RestoreError::TooBig { limit },
            Ok(_) => {}
            Err(_) => conn = None,
        }
    }
}

/// `ANALYZE`s a restored database and counts its tables and (estimated) rows.
async fn analyze(database: &ServerUrl) -> Result<(u64, u64), RestoreError> {
    let server =
        |e: sqlx::Error| RestoreError::Other(format!("analysing the restored database: {e}"));
    let mut conn = PgConnection::connect_with(&database.connect_options())
        .await
        .map_err(server)?;
    // The role may not analyse the shared catalogs; PostgreSQL says so in a notice per catalog.
    conn.execute("SET client_min_messages = error; ANALYZE")
        .await
        .map_err(server)?;
    let (tables, rows): (i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\\_toast%'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(server)?;
    Ok((tables as u64, rows as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_read_like_postgresql_reads_them() {
        let name = |s: &str| s.parse::<TableName>();
        let table = |schema: &str, table: &str| TableName {
            schema: schema.into(),
            table: table.into(),
        };
        assert_eq!(name("public.Rental"), Ok(table("public", "rental")));
        assert_eq!(
            name(r#""Sales"."Q1.2026 ""x""""#),
            Ok(table("Sales", r#"Q1.2026 "x""#))
        );
        for bad in [
            "rental", "a.b.c", "a.", ".b", "a b.c", r#""a.b"#, "a;drop.b",
        ] {
            assert!(name(bad).is_err(), "{bad}");
        }
    }
}
