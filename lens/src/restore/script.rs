//! Plain scripts through our own executor: statements and COPY data over the wire protocol,
//! as the sandbox role. psql is never run: it would execute `\!` and `\o |cmd` from the dump.

use std::path::Path;
use std::sync::atomic::Ordering;

use sqlx::{Connection, PgConnection};
use tokio::sync::mpsc;

use super::{
    MAX_ERRORS, Outcome, Progress, ProgressSink, RestoreError, RestoreIssue, RestoreOptions,
    TableName, identifier, skipped_rows,
};
use crate::conninfo::ServerUrl;
use crate::dump::format::open_decompressed;
use crate::dump::script::{ScriptError, ScriptItem, ScriptReader, connect_target};
use crate::dump::sections::is_connect;
use crate::dump::statement::{DatabaseVerb, StatementKind, changes_script_syntax, classify};
use crate::dump::{DumpError, DumpFormat, DumpInfo};

/// Items in flight between the lexer thread and the executor; each is at most a statement or
/// a 64 KiB COPY chunk, so this bounds memory.
const CHANNEL_DEPTH: usize = 32;
/// Report progress every this many statements (and at every COPY end).
const PROGRESS_EVERY: u64 = 200;

pub(super) async fn restore(
    file: &Path,
    info: &DumpInfo,
    role: &ServerUrl,
    sandboxes: &[String],
    options: &RestoreOptions,
    progress: &ProgressSink,
) -> Result<Outcome, RestoreError> {
    let opened = open_decompressed(file, &options.limits)?;
    let file_size = opened.file_size;
    let bytes_read = opened.file_bytes_read.clone();
    let (tx, mut rx) = mpsc::channel(CHANNEL_DEPTH);
    let max_statement = options.limits.max_statement_bytes;
    let lexer = tokio::task::spawn_blocking(move || {
        let mut script = ScriptReader::new(opened.reader, max_statement);
        while let Some(item) = script.next_item().transpose() {
            let failed = item.is_err();
            // A closed channel means the executor stopped early; so does the lexer.
            if tx.blocking_send(item).is_err() || failed {
                break;
            }
        }
    });

    let mut run = ScriptRun {
        single_transaction: !options.continue_on_error,
        role,
        info,
        sandboxes,
        conn: None,
        outcome: Outcome::default(),
        skipped: Skipped::default(),
        errors_dropped: 0,
        statements: 0,
        created: Vec::new(),
    };
    if info.format == DumpFormat::Plain {
        run.switch_to(Some(0)).await?;
    }
    let report = |statements: u64, current: Option<String>| {
        progress(&Progress {
            bytes_done: bytes_read.load(Ordering::Relaxed),
            bytes_total: file_size,
            items_done: statements,
            items_total: None,
            current,
        })
    };
    while let Some(item) = rx.recv().await {
        match item.map_err(|e| script_error(file, e))? {
            ScriptItem::Statement { sql, line } => {
                run.statement(&sql, line).await;
                if run.statements % PROGRESS_EVERY == 0 {
                    report(run.statements, None);
                }
            }
            ScriptItem::CopyStart { sql, line } => {
                let target = copy_target(&sql);
                let table = target.as_ref().map(|t| format!("{}.{}", t.schema, t.table));
                report(run.statements, table.clone());
                if target.is_some_and(|t| options.skip_table_data.contains(&t)) {
                    skip_copy_data(line, &mut rx, file).await?;
                    run.skipped.table_data += 1;
                } else {
                    run.copy(&sql, line, &mut rx, file).await?;
                }
                report(run.statements, table);
            }
            ScriptItem::MetaCommand { name, args, line } => {
                run.meta_command(&name, &args, line).await?
            }
            // COPY data outside a COPY cannot come from the lexer.
            ScriptItem::CopyData(_) | ScriptItem::CopyEnd { .. } => {}
        }
        if run.single_transaction && !run.outcome.errors.is_empty() {
            // The transaction is aborted and the restore has failed: stop reading. Dropping
            // the receiver ends the lexer thread.
            drop(rx);
            let _ = lexer.await;
            return Ok(run.finish());
        }
    }
    lexer
        .await
        .map_err(|e| RestoreError::Other(e.to_string()))?;
    run.switch_to(None).await?;
    Ok(run.finish())
}

fn script_error(file: &Path, error: ScriptError) -> RestoreError {
    match error {
        ScriptError::Io(e) => DumpError::io(file, e).into(),
        other => DumpError::Corrupt(other.to_string()).into(),
    }
}

/// `COPY public."Actor" (a, b) FROM stdin;` → public, Actor (pg_dump always qualifies).
fn copy_target(sql: &str) -> Option<TableName> {
    let rest = sql.get(4..)?.trim_start();
    let (schema, rest) = identifier(rest)?;
    let (table, _) = identifier(rest.strip_prefix('.')?)?;
    Some(TableName { schema, table })
}

/// Reads past the data of a COPY whose rows are not wanted.
async fn skip_copy_data(
    line: usize,
    items: &mut mpsc::Receiver<Result<ScriptItem, ScriptError>>,
    file: &Path,
) -> Result<(), RestoreError> {
    copy_in(None, "", line, items, file).await.map(|_| ())
}

#[derive(Default)]
struct Skipped {
    table_data: u64,
    ownership: u64,
    privileges: u64,
    replication: u64,
    cluster: u64,
    database: u64,
}

struct ScriptRun<'a> {
    /// Each database is restored in one transaction (like `psql -1`), which also lets
    /// PostgreSQL skip WAL for tables created and loaded in it; the first error ends the
    /// restore. Without it (continuing past errors), every statement commits on its own.
    single_transaction: bool,
    role: &'a ServerUrl,
    info: &'a DumpInfo,
    sandboxes: &'a [String],
    /// The sandbox the current section restores into; `None` before the first `\connect` of a
    /// pg_dumpall file and in sections that hold nothing to restore.
    conn: Option<PgConnection>,
    outcome: Outcome,
    skipped: Skipped,
    errors_dropped: u64,
    statements: u64,
    /// Databases the script created so far (`pg_dump --create` output): statements about them
    /// are the dump's own, not an attack on another database.
    created: Vec<String>,
}

impl ScriptRun<'_> {
    fn error(&mut self, line: usize, message: String) {
        self.error_at(format!("line {line}"), message);
    }

    fn error_at(&mut self, location: String, message: String) {
        if self.outcome.errors.len() < MAX_ERRORS {
            self.outcome.errors.push(RestoreIssue { location, message });
        } else {
            self.errors_dropped += 1;
        }
    }

    /// Connects to sandbox `index`, or leaves every sandbox for `None`, committing the
    /// transaction of the database it leaves.
    async fn switch_to(&mut self, index: Option<usize>) -> Result<(), RestoreError> {
        if let Some(mut conn) = self.conn.take() {
            if self.single_transaction
                && let Err(e) = sqlx::raw_sql("COMMIT").execute(&mut conn).await
            {
                self.error_at(
                    "end of database".into(),
                    format!("committing: {}", server_message(&e)),
                );
            }
            let _ = conn.close().await;
        }
        if let Some(index) = index {
            let url = self.role.with_database(&self.sandboxes[index]);
            let cannot = |e: sqlx::Error| {
                RestoreError::Other(format!(
                    "cannot connect to the sandbox {} as {}: {e}",
                    self.sandboxes[index],
                    url.user()
                ))
            };
            let mut conn = PgConnection::connect_with(&url.connect_options())
                .await
                .map_err(cannot)?;
            if self.single_transaction {
                sqlx::raw_sql("BEGIN")
                    .execute(&mut conn)
                    .await
                    .map_err(cannot)?;
            }
            self.conn = Some(conn);
        }
        Ok(())
    }

    async fn meta_command(
        &mut self,
        name: &str,
        args: &str,
        line: usize,
    ) -> Result<(), RestoreError> {
        match name {
            _ if is_connect(name) => {
                if self.info.format == DumpFormat::Plain {
                    // `pg_dump --create` output connects to the database it just created: the
                    // one sandbox.
                    return Ok(());
                }
                // pg_dumpall writes `\connect` with a database name and nothing else; anything
                // more (another user, host, a shell backtick) is refused.
                let Some(target) = connect_target(args) else {
                    self.error(
                        line,
                        format!("refused \\connect {args}: only a database name is allowed"),
                    );
                    return self.switch_to(None).await;
                };
                let index = self.info.databases.iter().position(|d| *d == target);
                self.switch_to(index).await
            }
            // pg_dump's guard against psql meta-commands in the dump; meaningless to us.
            "restrict" | "unrestrict" => Ok(()),
            _ => {
                self.error(
                    line,
                    format!(
                        "refused the psql meta-command \\{name}: a dump may not run psql commands"
                    ),
                );
                Ok(())
            }
        }
    }

    async fn statement(&mut self, sql: &str, line: usize) {
        self.statements += 1;
        let refused = |what: &str| format!("refused: {what}: {}", abbreviate(sql));
        match classify(sql) {
            StatementKind::Ownership => self.skipped.ownership += 1,
            StatementKind::Privileges => self.skipped.privileges += 1,
            StatementKind::Replication => self.skipped.replication += 1,
            StatementKind::Cluster if self.info.format == DumpFormat::Dumpall => {
                self.skipped.cluster += 1
            }
            StatementKind::Cluster => self.error(
                line,
                refused("a dump may not change roles, tablespaces or server settings"),
            ),
            StatementKind::Database {
                verb: DatabaseVerb::Create,
                name,
            } => {
                self.skipped.database += 1;
                self.created.push(name);
            }
            StatementKind::Database { name, .. }
                if self.info.databases.contains(&name) || self.created.contains(&name) =>
            {
                self.skipped.database += 1
            }
            StatementKind::Database { name, .. } => self.error(
                line,
                refused(&format!(
                    "database {name:?} is not one of this dump's databases"
                )),
            ),
            StatementKind::Setting if let Some(why) = changes_script_syntax(sql) => {
                self.error(line, refused(&why))
            }
            StatementKind::Setting | StatementKind::Execute => match self.conn.as_mut() {
                Some(conn) => {
                    if let Err(e) = sqlx::raw_sql(sql).execute(conn).await {
                        self.error(line, server_message(&e));
                    }
                }
                None if classify(sql) == StatementKind::Setting => {}
                None => self.error(
                    line,
                    format!(
                        "not restored: the statement is outside any database: {}",
                        abbreviate(sql)
                    ),
                ),
            },
        }
    }

    async fn copy(
        &mut self,
        sql: &str,
        line: usize,
        items: &mut mpsc::Receiver<Result<ScriptItem, ScriptError>>,
        file: &Path,
    ) -> Result<(), RestoreError> {
        self.statements += 1;
        if let Some(message) = copy_in(self.conn.as_mut(), sql, line, items, file).await? {
            self.error(line, message);
        }
        Ok(())
    }

    fn finish(mut self) -> Outcome {
        let Skipped {
            table_data,
            ownership,
            privileges,
            replication,
            cluster,
            database,
        } = self.skipped;
        if table_data > 0 {
            self.outcome.warnings.push(skipped_rows(table_data));
        }
        if ownership + privileges > 0 {
            self.outcome.warnings.push(format!(
                "skipped {ownership} ownership and {privileges} privilege statements (the sandbox role owns everything, as with pg_restore --no-owner --no-privileges)"
            ));
        }
        if replication > 0 {
            self.outcome.warnings.push(format!(
                "skipped {replication} security label, publication and subscription statements"
            ));
        }
        if cluster > 0 {
            self.outcome.warnings.push(format!(
                "skipped {cluster} statements about roles, tablespaces and server settings, which are not restored"
            ));
        }
        if database > 0 {
            self.outcome.warnings.push(format!(
                "skipped {database} CREATE/ALTER DATABASE statements (each database is restored into a sandbox database)"
            ));
        }
        if self.errors_dropped > 0 {
            self.outcome.warnings.push(format!(
                "{} more errors are not listed",
                self.errors_dropped
            ));
        }
        self.outcome
    }
}

/// Streams the data of one `COPY ... FROM stdin` into the sandbox. The data is always consumed
/// up to its end, also when the server refused the COPY; returns the server's error, if any.
async fn copy_in(
    conn: Option<&mut PgConnection>,
    sql: &str,
    line: usize,
    items: &mut mpsc::Receiver<Result<ScriptItem, ScriptError>>,
    file: &Path,
) -> Result<Option<String>, RestoreError> {
    let mut failure = None;
    let mut copy = match conn {
        Some(conn) => match conn.copy_in_raw(sql).await {
            Ok(copy) => Some(copy),
            Err(e) => {
                failure = Some(server_message(&e));
                None
            }
        },
        None => {
            failure = Some(format!(
                "not restored: COPY outside any database: {}",
                abbreviate(sql)
            ));
            None
        }
    };
    loop {
        let Some(item) = items.recv().await else {
            return Err(DumpError::Corrupt(format!(
                "line {line}: the script ends inside COPY data"
            ))
            .into());
        };
        match item.map_err(|e| script_error(file, e))? {
            ScriptItem::CopyData(data) => {
                if let Some(active) = copy.as_mut()
                    && let Err(e) = active.send(data).await
                {
                    failure = Some(server_message(&e));
                    // Dropping an unfinished COPY aborts it.
                    copy = None;
                }
            }
            ScriptItem::CopyEnd { .. } => break,
            other => {
                return Err(DumpError::Corrupt(format!(
                    "line {line}: unexpected {other:?} inside COPY data"
                ))
                .into());
            }
        }
    }
    if let Some(active) = copy
        && let Err(e) = active.finish().await
    {
        failure = Some(server_message(&e));
    }
    Ok(failure)
}

/// A server error as PostgreSQL words it, with its detail.
fn server_message(error: &sqlx::Error) -> String {
    match error.as_database_error() {
        Some(db) => {
            let pg = db.downcast_ref::<sqlx::postgres::PgDatabaseError>();
            match pg.detail() {
                Some(detail) => format!("ERROR: {} ({detail})", pg.message()),
                None => format!("ERROR: {}", pg.message()),
            }
        }
        None => error.to_string(),
    }
}

fn abbreviate(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 120 {
        format!("{}...", one_line.chars().take(120).collect::<String>())
    } else {
        one_line
    }
}
