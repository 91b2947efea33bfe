//! Sandboxes: a per-dump role and the database(s) it owns. Everything is named from the dump's
//! id, so cleanup drops exactly what one dump created and nothing else.

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};

use crate::conninfo::ServerUrl;

/// Every sandbox role and database name starts with this.
pub const PREFIX: &str = "dl_";

/// Why a sandbox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid dump id {0:?}: use 1 to 40 lowercase letters, digits or underscores")]
    InvalidId(String),
    #[error("the server refused {action}: {source}")]
    Server { action: String, source: sqlx::Error },
}

/// The names of one dump's role and databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxNames {
    pub role: String,
    pub databases: Vec<String>,
}

impl SandboxNames {
    /// The read-only login for people's SQL: `dl_<id>_r` (no id has an underscore, so no other
    /// sandbox's names can be it).
    pub fn reader(&self) -> String {
        format!("{}_r", self.role)
    }

    /// Names for `count` databases of dump `id`: `dl_<id>` for one database, `dl_<id>_<n>` for
    /// several (a `pg_dumpall` file). The role is `dl_<id>`.
    pub fn new(id: &str, count: usize) -> Result<Self, SandboxError> {
        validate_id(id)?;
        let role = format!("{PREFIX}{id}");
        let databases = if count == 1 {
            vec![role.clone()]
        } else {
            (1..=count).map(|n| format!("{role}_{n}")).collect()
        };
        Ok(Self { role, databases })
    }
}

/// Dump ids become parts of role and database names, so they are restricted to characters that
/// need no quoting and leave room within PostgreSQL's 63-byte identifiers. No underscores: in
/// `dl_<id>_<n>` the id must end where the database number starts. (A Kubernetes UID without
/// its dashes fits.)
pub fn validate_id(id: &str) -> Result<(), SandboxError> {
    let valid = (1..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(SandboxError::InvalidId(id.to_string()))
    }
}

/// A fresh random dump id (96 bits, hex).
pub fn new_id() -> String {
    random_hex(12)
}

/// A random password for a sandbox role (192 bits, hex).
pub fn new_password() -> String {
    random_hex(24)
}

/// `bytes` bytes from the OS random source, as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the OS random source is available");
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

async fn run(conn: &mut PgConnection, sql: String) -> Result<(), SandboxError> {
    conn.execute(sql.as_str())
        .await
        .map(|_| ())
        .map_err(|source| SandboxError::Server {
            action: sql
                .split(" PASSWORD ")
                .next()
                .unwrap_or_default()
                .to_string(),
            source,
        })
}

/// Creates the role (login, no special powers, `password`) and its databases, which only it
/// may connect to. On failure, drops whatever was created.
pub async fn create(
    admin: &mut PgConnection,
    names: &SandboxNames,
    password: &str,
) -> Result<(), SandboxError> {
    let result = create_inner(admin, names, password).await;
    if result.is_err() {
        let _ = drop_all(admin, names).await;
    }
    result
}

async fn create_inner(
    admin: &mut PgConnection,
    names: &SandboxNames,
    password: &str,
) -> Result<(), SandboxError> {
    let role = &names.role;
    // The password is hex we generated, so it is safe inside the literal.
    debug_assert!(password.bytes().all(|b| b.is_ascii_hexdigit()));
    run(
        admin,
        format!(
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD '{password}'"
        ),
    )
    .await?;
    for database in &names.databases {
        run(
            admin,
            format!(
                "CREATE DATABASE {database} OWNER {role} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"
            ),
        )
        .await?;
        run(
            admin,
            format!("REVOKE ALL ON DATABASE {database} FROM PUBLIC"),
        )
        .await?;
    }
    Ok(())
}

/// Drops the databases (closing their sessions) and the role. Whatever does not exist is
/// already gone, which is success.
pub async fn drop_all(admin: &mut PgConnection, names: &SandboxNames) -> Result<(), SandboxError> {
    for database in &names.databases {
        run(
            admin,
            format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        )
        .await?;
    }
    run(admin, format!("DROP ROLE IF EXISTS {}", names.reader())).await?;
    run(admin, format!("DROP ROLE IF EXISTS {}", names.role)).await
}

/// Makes (or sets the password of) the sandbox's reader: a login that may only read the
/// sandbox databases, always in read-only transactions with a statement timeout; everything
/// the API runs on a sandbox runs as it. Its databases' privileges go with them when they are dropped.
/// `admin` must be a superuser (it grants on the owner's behalf, and BYPASSRLS, so the reader
/// sees every row as the owner does).
pub async fn ensure_reader(
    admin: &ServerUrl,
    names: &SandboxNames,
    password: &str,
) -> Result<(), SandboxError> {
    debug_assert!(password.bytes().all(|b| b.is_ascii_hexdigit()));
    let reader = names.reader();
    let mut conn = connect(&admin.connect_options()).await?;
    // One at a time per reader, across processes (the API's first read and the fingerprints
    // after Ready ask at once): concurrent CREATE ROLEs or GRANTs on one object fail. Held
    // until this connection closes.
    sqlx::query("SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtext($1))")
        .bind(&reader)
        .execute(&mut conn)
        .await
        .map_err(|source| SandboxError::Server {
            action: "waiting for the reader role's lock".into(),
            source,
        })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)")
            .bind(&reader)
            .fetch_one(&mut conn)
            .await
            .map_err(|source| SandboxError::Server {
                action: "looking for the reader role".into(),
                source,
            })?;
    let verb = if exists { "ALTER" } else { "CREATE" };
    // A backstop well above what the API opens (8 connections per database and replica).
    let limit = 32 * names.databases.len().max(1);
    run(
        &mut conn,
        format!(
            "{verb} ROLE {reader} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS NOINHERIT CONNECTION LIMIT {limit} PASSWORD '{password}'"
        ),
    )
    .await?;
    for setting in [
        "default_transaction_read_only = on",
        "statement_timeout = '10s'",
        "idle_in_transaction_session_timeout = '30s'",
    ] {
        run(&mut conn, format!("ALTER ROLE {reader} SET {setting}")).await?;
    }
    for database in &names.databases {
        run(
            &mut conn,
            format!("GRANT CONNECT ON DATABASE {database} TO {reader}"),
        )
        .await?;
        let mut db = connect(&admin.with_database(database).connect_options()).await?;
        let schemas: Vec<String> = sqlx::query_scalar(
            "SELECT quote_ident(nspname) FROM pg_namespace
             WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
               AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'",
        )
        .fetch_all(&mut db)
        .await
        .map_err(|source| SandboxError::Server {
            action: "listing schemas to grant on".into(),
            source,
        })?;
        for schema in schemas {
            run(
                &mut db,
                format!("GRANT USAGE ON SCHEMA {schema} TO {reader}"),
            )
            .await?;
            run(
                &mut db,
                format!("GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {reader}"),
            )
            .await?;
            run(
                &mut db,
                format!("GRANT SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {reader}"),
            )
            .await?;
        }
    }
    // Lets the lock go.
    let _ = conn.close().await;
    Ok(())
}

/// The bytes databases `databases` take on disk together (those that exist).
pub async fn size(conn: &mut PgConnection, databases: &[String]) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(pg_database_size(datname)), 0)::int8 FROM pg_database
         WHERE datname = ANY($1)",
    )
    .bind(databases)
    .fetch_one(conn)
    .await
}

/// The ids of every sandbox on the server (from its roles and databases).
pub async fn existing_ids(admin: &mut PgConnection) -> Result<Vec<String>, SandboxError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'dl\\_%'
         UNION SELECT datname::text FROM pg_database WHERE datname LIKE 'dl\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .map_err(|source| SandboxError::Server {
        action: "listing sandboxes".into(),
        source,
    })?;
    let mut ids: Vec<String> = names
        .iter()
        .filter_map(|name| name.strip_prefix(PREFIX))
        // dl_<id>_<n> is database n of dump <id> (ids have no underscores).
        .map(|rest| rest.split('_').next().unwrap_or(rest).to_string())
        .filter(|id| validate_id(id).is_ok())
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The role and databases of sandbox `id` as they exist on the server (any number of
/// databases, so cleanup needs no record of how many a dump had).
pub async fn names_on_server(
    admin: &mut PgConnection,
    id: &str,
) -> Result<SandboxNames, SandboxError> {
    validate_id(id)?;
    let role = format!("{PREFIX}{id}");
    let databases: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname = $1 OR datname ~ ('^' || $1 || '_[0-9]+$')
         ORDER BY 1",
    )
    .bind(&role)
    .fetch_all(&mut *admin)
    .await
    .map_err(|source| SandboxError::Server {
        action: "listing a sandbox's databases".into(),
        source,
    })?;
    Ok(SandboxNames { role, databases })
}

/// Makes a server fit to hold sandboxes: no role may connect to the databases that are not its
/// own (PostgreSQL grants CONNECT on every database to PUBLIC by default). For a server that
/// PgDumpLens owns; sandboxes are created with the grant revoked already.
pub async fn harden_server(admin: &mut PgConnection) -> Result<(), SandboxError> {
    let databases: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(datname) FROM pg_database
         WHERE datallowconn AND has_database_privilege('public', oid, 'CONNECT')",
    )
    .fetch_all(&mut *admin)
    .await
    .map_err(|source| SandboxError::Server {
        action: "listing databases".into(),
        source,
    })?;
    for database in databases {
        run(
            admin,
            format!("REVOKE CONNECT, TEMPORARY ON DATABASE {database} FROM PUBLIC"),
        )
        .await?;
    }
    Ok(())
}

/// Connects as the admin.
pub async fn connect(options: &PgConnectOptions) -> Result<PgConnection, SandboxError> {
    PgConnection::connect_with(options)
        .await
        .map_err(|source| SandboxError::Server {
            action: "connecting".into(),
            source,
        })
}
