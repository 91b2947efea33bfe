//! The metadata store, in a database of its own (`dumplens`) on the server that holds the
//! sandboxes: one record per dump of the standalone server; in either mode (on Kubernetes the
//! Dump resource is the record) the schema graph and table fingerprints of every restored
//! database, and each dump's reader password.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::conninfo::ServerUrl;
use crate::fetch::RemoteSource;
use crate::lifecycle::{self, Event, Phase};
use crate::schema::SchemaGraph;

/// The metadata database's name.
pub const DATABASE: &str = "dumplens";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the metadata database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("updating the metadata database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("reading the schema of {database}: {source}")]
    Introspect {
        database: String,
        source: sqlx::Error,
    },
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
}

/// One dump as the store keeps it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DumpRecord {
    pub id: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub phase: StoredPhase,
    pub message: Option<String>,
    pub file: String,
    pub owns_file: bool,
    pub format: Option<String>,
    pub pg_dump_version: Option<String>,
    pub size_bytes: Option<i64>,
    pub summary: Option<serde_json::Value>,
    pub progress: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub restored_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Where the server downloads the file from (absent for files it was given or sent).
    pub source: Option<sqlx::types::Json<RemoteSource>>,
}

/// A phase read back from the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "Ready")]
pub struct StoredPhase(pub Phase);

impl TryFrom<String> for StoredPhase {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Phase::parse(&value)
            .map(StoredPhase)
            .ok_or_else(|| format!("unknown phase {value:?}"))
    }
}

/// A dump to record.
#[derive(Debug, Clone)]
pub struct NewDump {
    pub id: String,
    pub name: String,
    pub file: PathBuf,
    pub owns_file: bool,
    pub size_bytes: u64,
    pub ttl: Option<std::time::Duration>,
    pub source: Option<RemoteSource>,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects to the metadata database on the server `admin` points at, creating it (and
    /// bringing its schema up to date) when needed.
    pub async fn open(admin: &ServerUrl) -> Result<Self, StoreError> {
        let mut conn = PgConnection::connect_with(&admin.connect_options()).await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            let created = conn
                .execute(format!("CREATE DATABASE {DATABASE}").as_str())
                .await;
            // Another process may have created it in between: fine. A creation at the same
            // moment fails on pg_database's unique index (23505) rather than with 42P04.
            let duplicate = |e: &sqlx::Error| {
                e.as_database_error()
                    .is_some_and(|d| matches!(d.code().as_deref(), Some("42P04" | "23505")))
            };
            match created {
                Err(e) if !duplicate(&e) => return Err(e.into()),
                _ => {}
            }
        }
        conn.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(admin.with_database(DATABASE).connect_options())
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn insert(&self, dump: &NewDump) -> Result<DumpRecord, StoreError> {
        let expires_at = dump
            .ttl
            .and_then(|ttl| chrono::TimeDelta::from_std(ttl).ok())
            .map(|ttl| Utc::now() + ttl);
        let record = sqlx::query_as(
            "INSERT INTO dumps (id, name, phase, file, owns_file, size_bytes, expires_at, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        )
        .bind(&dump.id)
        .bind(&dump.name)
        .bind(Phase::Pending.as_str())
        .bind(dump.file.to_string_lossy().as_ref())
        .bind(dump.owns_file)
        .bind(dump.size_bytes as i64)
        .bind(expires_at)
        .bind(dump.source.clone().map(sqlx::types::Json))
        .fetch_one(&self.pool)
        .await?;
        Ok(record)
    }

    pub async fn get(&self, id: &str) -> Result<Option<DumpRecord>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM dumps WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn list(&self) -> Result<Vec<DumpRecord>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM dumps ORDER BY created_at DESC, id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Applies `event` if it is valid in the dump's current phase, atomically (a concurrent
    /// change of phase wins). Returns the new phase, or `None` when the event did not apply.
    pub async fn apply(&self, id: &str, event: &Event) -> Result<Option<Phase>, StoreError> {
        let Some(record) = self.get(id).await? else {
            return Ok(None);
        };
        let from = record.phase.0;
        let Some(to) = lifecycle::next(from, event) else {
            return Ok(None);
        };
        let message = match event {
            Event::Failed(reason) => Some(reason.as_str()),
            _ => None,
        };
        let updated = sqlx::query(
            "UPDATE dumps SET phase = $3, message = coalesce($4, message),
                 restored_at = CASE WHEN $3 = 'Ready' THEN now() ELSE restored_at END
             WHERE id = $1 AND phase = $2",
        )
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(message)
        .execute(&self.pool)
        .await?;
        Ok((updated.rows_affected() == 1).then_some(to))
    }

    /// Puts a dump back to Pending, for a restore redone after a restart.
    pub async fn reset_to_pending(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE dumps SET phase = 'Pending', progress = NULL, summary = NULL WHERE id = $1",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_progress(
        &self,
        id: &str,
        progress: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE dumps SET progress = $2 WHERE id = $1")
            .bind(id)
            .bind(progress)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_details(
        &self,
        id: &str,
        format: Option<&str>,
        pg_dump_version: Option<&str>,
        summary: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE dumps SET format = coalesce($2, format),
                 pg_dump_version = coalesce($3, pg_dump_version), summary = coalesce($4, summary)
             WHERE id = $1",
        )
        .bind(id)
        .bind(format)
        .bind(pg_dump_version)
        .bind(summary)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the size of a file the server has just downloaded.
    pub async fn set_size(&self, id: &str, size_bytes: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE dumps SET size_bytes = $2 WHERE id = $1")
            .bind(id)
            .bind(size_bytes as i64)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Dumps whose TTL has run out and that still hold a sandbox.
    pub async fn due_for_expiry(&self) -> Result<Vec<DumpRecord>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM dumps WHERE expires_at <= now() AND phase <> 'Expired'")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Reads the schema graph of the database `url` names and stores it for dump `id`; returns
    /// it.
    pub async fn record_schema_graph(
        &self,
        id: &str,
        url: &ServerUrl,
    ) -> Result<SchemaGraph, StoreError> {
        let database = url.database().unwrap_or_default();
        let failed = |source| StoreError::Introspect {
            database: database.clone(),
            source,
        };
        let mut conn = PgConnection::connect_with(&url.connect_options())
            .await
            .map_err(failed)?;
        let graph = crate::schema::introspect(&mut conn).await.map_err(failed)?;
        let _ = conn.close().await;
        let json = serde_json::to_value(&graph).expect("a schema graph serialises");
        sqlx::query(
            "INSERT INTO schema_graphs (dump_id, database, graph) VALUES ($1, $2, $3)
             ON CONFLICT (dump_id, database) DO UPDATE SET graph = excluded.graph",
        )
        .bind(id)
        .bind(&database)
        .bind(json)
        .execute(&self.pool)
        .await?;
        Ok(graph)
    }

    /// The stored schema graph of sandbox database `database` of dump `id`.
    pub async fn schema_graph(
        &self,
        id: &str,
        database: &str,
    ) -> Result<Option<SchemaGraph>, StoreError> {
        let graph: Option<sqlx::types::Json<SchemaGraph>> = sqlx::query_scalar(
            "SELECT graph FROM schema_graphs WHERE dump_id = $1 AND database = $2",
        )
        .bind(id)
        .bind(database)
        .fetch_optional(&self.pool)
        .await?;
        Ok(graph.map(|g| g.0))
    }

    /// The login of dump `id`'s reader, which can only read the dump's sandbox `databases`:
    /// made, or given the password kept here, by `admin` (a superuser).
    pub async fn reader_login(
        &self,
        admin: &ServerUrl,
        id: &str,
        databases: &[String],
    ) -> Result<ServerUrl, StoreError> {
        let names = crate::sandbox::SandboxNames {
            role: format!("{}{id}", crate::sandbox::PREFIX),
            databases: databases.to_vec(),
        };
        let password = self.reader_password(id).await?;
        crate::sandbox::ensure_reader(admin, &names, &password).await?;
        Ok(admin.with_login(&names.reader(), &password))
    }

    /// Takes the fingerprint ([`crate::diff::fingerprint`]) of every table that has one in the
    /// sandbox databases of dump `id` (those whose schema graphs are stored), as the dump's reader
    /// (a fingerprint hashes every column, by functions the dump may define), and stores them a
    /// table at a time; returns how many. A table whose fingerprint fails is logged and left
    /// out. Tables stored already are skipped, so this can run again after an interruption.
    pub async fn record_fingerprints(
        &self,
        admin: &ServerUrl,
        id: &str,
    ) -> Result<usize, StoreError> {
        let databases: Vec<String> = sqlx::query_scalar(
            "SELECT database FROM schema_graphs WHERE dump_id = $1 ORDER BY database",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut graphs = Vec::new();
        for database in &databases {
            if let Some(graph) = self.schema_graph(id, database).await? {
                graphs.push((database, graph));
            }
        }
        let fingerprintable = |t: &&crate::schema::Table| crate::diff::fingerprintable(t);
        if !graphs
            .iter()
            .any(|(_, graph)| graph.tables.iter().any(|t| fingerprintable(&t)))
        {
            return Ok(0);
        }
        let reader = self.reader_login(admin, id, &databases).await?;
        let mut recorded = 0;
        for (database, graph) in graphs {
            let mut conn =
                PgConnection::connect_with(&reader.with_database(database).connect_options())
                    .await?;
            // One grouped pass over the largest table may take longer than the reader's
            // usual 10 s.
            conn.execute("SET statement_timeout = '1h'").await?;
            for table in graph.tables.iter().filter(fingerprintable) {
                let taken: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT FROM fingerprints WHERE dump_id = $1 AND database = $2
                         AND schema_name = $3 AND table_name = $4)",
                )
                .bind(id)
                .bind(database)
                .bind(&table.schema)
                .bind(&table.name)
                .fetch_one(&self.pool)
                .await?;
                if taken {
                    continue;
                }
                let fingerprint = match crate::diff::fingerprint(&mut conn, table).await {
                    Ok(Some(fingerprint)) => fingerprint,
                    Ok(None) => continue,
                    // A function of the dump's failed (a cast, a type's hash): this table is
                    // diffed by reading it; the others are still fingerprinted.
                    Err(err) => {
                        tracing::warn!(%id, %database, schema = %table.schema, table = %table.name, %err, "table not fingerprinted");
                        continue;
                    }
                };
                sqlx::query(
                    "INSERT INTO fingerprints (dump_id, database, schema_name, table_name,
                         key_column, row_hash, shift, buckets, row_counts, hashes)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(database)
                .bind(&table.schema)
                .bind(&table.name)
                .bind(&fingerprint.key)
                .bind(&fingerprint.row_hash)
                .bind(fingerprint.shift)
                .bind(&fingerprint.buckets)
                .bind(&fingerprint.rows)
                .bind(&fingerprint.hashes)
                .execute(&self.pool)
                .await?;
                recorded += 1;
            }
            let _ = conn.close().await;
        }
        Ok(recorded)
    }

    /// The stored fingerprint of `schema.table` in sandbox database `database` of dump `id`.
    pub async fn fingerprint(
        &self,
        id: &str,
        database: &str,
        schema: &str,
        table: &str,
    ) -> Result<Option<crate::diff::Fingerprint>, StoreError> {
        type Stored = (String, String, i32, Vec<i64>, Vec<i64>, Vec<i64>);
        let stored: Option<Stored> = sqlx::query_as(
            "SELECT key_column, row_hash, shift, buckets, row_counts, hashes FROM fingerprints
             WHERE dump_id = $1 AND database = $2 AND schema_name = $3 AND table_name = $4",
        )
        .bind(id)
        .bind(database)
        .bind(schema)
        .bind(table)
        .fetch_optional(&self.pool)
        .await?;
        Ok(stored.map(
            |(key, row_hash, shift, buckets, rows, hashes)| crate::diff::Fingerprint {
                key,
                row_hash,
                shift,
                buckets,
                rows,
                hashes,
            },
        ))
    }

    /// Forgets dump `id` and its schema graphs, if it is settled (Ready, Failed or Expired): a
    /// restore under way owns its record until it ends. Returns the record forgotten; `None`
    /// when there was none or it is still in progress (see [`Store::get`] for which).
    pub async fn delete_settled(&self, id: &str) -> Result<Option<DumpRecord>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let record: Option<DumpRecord> = sqlx::query_as(
            "DELETE FROM dumps WHERE id = $1 AND phase IN ('Ready', 'Failed', 'Expired') RETURNING *",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        forget_sandbox(&mut tx, id).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Forgets what was recorded of dump `id`'s sandbox: its schema graphs (and with them the
    /// fingerprints) and its reader's password (none is fine).
    pub async fn forget_sandbox(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        forget_sandbox(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The password of dump `id`'s reader role: made (random, as [`crate::sandbox::new_password`]
    /// makes them) on first use and the same from then on, whichever process asks.
    pub async fn reader_password(&self, id: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO reader_passwords (dump_id, password) VALUES ($1, $2)
             ON CONFLICT (dump_id) DO NOTHING",
        )
        .bind(id)
        .bind(crate::sandbox::new_password())
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT password FROM reader_passwords WHERE dump_id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

async fn forget_sandbox(tx: &mut PgConnection, id: &str) -> Result<(), StoreError> {
    for table in ["schema_graphs", "reader_passwords"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE dump_id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}
