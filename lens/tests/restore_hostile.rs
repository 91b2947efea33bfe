//! Hostile and broken dumps: a restore never reaches beyond its own sandbox, refuses what it
//! must, says so, and leaves nothing behind when it fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lens::conninfo::ServerUrl;
use lens::restore::{RestoreError, RestoreOptions, RestoreSummary, Target, restore};
use lens::sandbox::{self, SandboxNames};
use lens::testing::{admin_server_url, fixture, reachable_tempdir};
use sqlx::{Connection, Executor, PgConnection};

async fn admin() -> PgConnection {
    PgConnection::connect_with(&admin_server_url().connect_options())
        .await
        .unwrap()
}

/// What a dump must not be able to change, measured before and after.
#[derive(Debug, PartialEq)]
struct ClusterState {
    roles: Vec<String>,
    databases: Vec<String>,
    auto_conf_settings: i64,
    postgres_db_settings: i64,
}

async fn cluster_state() -> ClusterState {
    let mut conn = admin().await;
    // Other tests create sandboxes concurrently; compare everything else.
    let roles = sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles WHERE rolname NOT LIKE 'dl\\_%' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let databases = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname NOT LIKE 'dl\\_%' AND datname NOT LIKE 'test\\_%' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let auto_conf_settings = sqlx::query_scalar(
        "SELECT count(*) FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let postgres_db_settings = sqlx::query_scalar("SELECT count(*) FROM pg_db_role_setting")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    ClusterState {
        roles,
        databases,
        auto_conf_settings,
        postgres_db_settings,
    }
}

async fn restore_file(path: &Path) -> (String, Result<RestoreSummary, RestoreError>) {
    let id = sandbox::new_id();
    let result = restore(
        path,
        &id,
        &Target::Admin(admin_server_url()),
        &RestoreOptions::default(),
        Arc::new(|_| {}),
    )
    .await;
    (id, result)
}

/// Restores `script` (a plain SQL dump) and checks the invariants every hostile dump must keep.
/// Returns the summary (of a failed restore, too).
async fn restore_hostile_script(script: &str, marker: &Path) -> RestoreSummary {
    let dir = reachable_tempdir();
    let path = dir.path().join("hostile.sql");
    std::fs::write(&path, script).unwrap();
    let before = cluster_state().await;
    let (id, result) = restore_file(&path).await;
    let summary = match result {
        Ok(summary) => summary,
        Err(RestoreError::Failed(summary)) => {
            assert_eq!(
                lens::testing::sandbox_objects(&id).await,
                0,
                "a failed restore left its sandbox"
            );
            *summary
        }
        Err(other) => panic!("unexpected error: {other}"),
    };
    assert!(!marker.exists(), "the dump created {}", marker.display());
    assert_eq!(
        cluster_state().await,
        before,
        "the dump changed the cluster"
    );
    summary
}

fn marker() -> (tempfile::TempDir, PathBuf) {
    let dir = reachable_tempdir();
    // World-writable, so only permissions in PostgreSQL stand between a dump and this file.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let marker = dir.path().join("pwned");
    (dir, marker)
}

fn all_messages(summary: &RestoreSummary) -> String {
    let errors = summary.errors.iter().map(ToString::to_string);
    errors
        .chain(summary.warnings.iter().cloned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn psql_meta_commands_are_refused_with_their_line() {
    let (_dir, marker) = marker();
    let m = marker.display();
    for (command, line) in [
        (format!("\\! touch {m}"), 2),
        (format!("\\o |touch {m}"), 2),
        (format!("SELECT 1 \\g |touch {m}"), 2),
        (format!("\\copy t from program 'touch {m}'"), 2),
        ("\\i /etc/passwd".to_string(), 2),
        ("\\ir ../x.sql".to_string(), 2),
        (format!("\\setenv PAGER 'touch {m}'"), 2),
    ] {
        let script = format!("CREATE TABLE t (a int);\n{command}\nSELECT 1;\n");
        let summary = restore_hostile_script(&script, &marker).await;
        let refused = summary
            .errors
            .iter()
            .find(|e| e.message.contains("refused the psql meta-command"))
            .unwrap_or_else(|| panic!("{command}: {summary:?}"));
        assert_eq!(refused.location, format!("line {line}"), "{command}");
    }
}

#[tokio::test]
async fn server_side_file_and_program_access_is_denied_to_the_sandbox_role() {
    let (_dir, marker) = marker();
    let m = marker.display();
    for statement in [
        format!("COPY t TO PROGRAM 'touch {m}';"),
        format!("COPY t FROM PROGRAM 'touch {m}';"),
        format!("COPY t TO '{m}';"),
        "COPY t FROM '/etc/passwd';".to_string(),
        "SELECT pg_read_file('/etc/passwd');".to_string(),
        "SELECT lo_import('/etc/passwd');".to_string(),
        "CREATE EXTENSION dblink;".to_string(),
    ] {
        let script = format!("CREATE TABLE t (a text);\n{statement}\n");
        let summary = restore_hostile_script(&script, &marker).await;
        assert!(
            summary.errors.iter().any(|e| e.location == "line 2"),
            "{statement}: {summary:?}"
        );
    }
}

#[tokio::test]
async fn cluster_level_statements_are_refused_and_reported() {
    let (_dir, marker) = marker();
    for statement in [
        "ALTER SYSTEM SET log_min_messages = 'panic';",
        "ALTER DATABASE postgres SET search_path = evil;",
        "CREATE ROLE evil SUPERUSER LOGIN PASSWORD 'x';",
        "ALTER ROLE postgres PASSWORD 'stolen';",
        "DROP DATABASE postgres;",
        "CREATE TABLESPACE evil LOCATION '/tmp';",
    ] {
        let script = format!("CREATE TABLE t (a int);\n{statement}\n");
        let summary = restore_hostile_script(&script, &marker).await;
        let messages = all_messages(&summary);
        assert!(messages.contains("refused"), "{statement}: {messages}");
    }
}

#[tokio::test]
async fn ownership_and_role_switches_are_skipped_and_counted() {
    let (_dir, marker) = marker();
    let script = "SET ROLE postgres;\nSET SESSION AUTHORIZATION postgres;\nCREATE TABLE t (a int);\n\
                  ALTER TABLE t OWNER TO postgres;\nGRANT ALL ON t TO PUBLIC;\nCREATE DATABASE other;\n";
    let summary = restore_hostile_script(script, &marker).await;
    assert!(summary.errors.is_empty(), "{summary:?}");
    let messages = all_messages(&summary);
    assert!(
        messages.contains("skipped 3 ownership and 1 privilege"),
        "{messages}"
    );
    assert!(
        messages.contains("skipped 1 CREATE/ALTER DATABASE"),
        "{messages}"
    );
}

/// A CHECK constraint that calls a function running COPY ... TO PROGRAM for every row loaded:
/// against a superuser pg_restore this runs the program; against the sandbox role it cannot.
#[tokio::test]
async fn an_archive_whose_check_constraint_runs_a_program_cannot_run_it() {
    let (dir, marker) = marker();
    let source = lens::testing::database().await;
    let mut conn = PgConnection::connect(&source.url).await.unwrap();
    conn.execute(
        format!(
            "CREATE FUNCTION pwn(v int) RETURNS boolean LANGUAGE plpgsql AS $$
             BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {}'''; RETURN true; END $$;
             CREATE TABLE t (v int CHECK (pwn(v)));
             INSERT INTO t VALUES (1), (2);",
            marker.display()
        )
        .as_str(),
    )
    .await
    .unwrap();
    // The source ran the program for its own rows (we are its superuser here); the marker is
    // removed before the dump is restored.
    assert!(
        marker.exists(),
        "the source database should have run the program"
    );
    std::fs::remove_file(&marker).unwrap();
    let archive = dir.path().join("pwn.dump");
    let status = std::process::Command::new(lens::testing::install().program("pg_dump"))
        .arg("--format=custom")
        .arg("--file")
        .arg(&archive)
        .arg(&source.url)
        .status()
        .unwrap();
    assert!(status.success());

    let before = cluster_state().await;
    let (id, result) = restore_file(&archive).await;
    let Err(RestoreError::Failed(summary)) = result else {
        panic!("the restore should fail: {result:?}");
    };
    assert!(!marker.exists(), "the archive ran a program");
    let messages = all_messages(&summary);
    assert!(messages.contains("TOC entry"), "{messages}");
    assert!(
        messages.contains("permission denied") || messages.contains("must be superuser"),
        "{messages}"
    );
    assert_eq!(lens::testing::sandbox_objects(&id).await, 0);
    assert_eq!(cluster_state().await, before);
}

#[tokio::test]
async fn a_sandbox_role_cannot_connect_to_other_databases() {
    let names = SandboxNames::new(&sandbox::new_id(), 1).unwrap();
    let password = sandbox::new_password();
    let mut admin = admin().await;
    sandbox::create(&mut admin, &names, &password)
        .await
        .unwrap();
    let role = admin_server_url().with_login(&names.role, &password);
    let target = Target::Existing {
        role: role.with_database(&names.databases[0]),
        databases: names.databases.clone(),
    };
    restore(
        &fixture("world.pg18.custom.dump"),
        "existing",
        &target,
        &RestoreOptions::default(),
        Arc::new(|_| {}),
    )
    .await
    .unwrap();
    // Its own database works; the cluster's and another sandbox do not.
    let own = role.with_database(&names.databases[0]);
    PgConnection::connect_with(&own.connect_options())
        .await
        .unwrap();
    let other = SandboxNames::new(&sandbox::new_id(), 1).unwrap();
    sandbox::create(&mut admin, &other, &sandbox::new_password())
        .await
        .unwrap();
    for database in ["postgres", "template1", other.databases[0].as_str()] {
        let url: ServerUrl = role.with_database(database);
        let err = PgConnection::connect_with(&url.connect_options())
            .await
            .expect_err(database);
        assert!(
            err.to_string().contains("permission denied"),
            "{database}: {err}"
        );
    }
    sandbox::drop_all(&mut admin, &names).await.unwrap();
    sandbox::drop_all(&mut admin, &other).await.unwrap();
    assert_eq!(lens::testing::sandbox_objects(&names.role[3..]).await, 0);
}

#[tokio::test]
async fn a_truncated_archive_fails_clearly_and_leaves_nothing() {
    let dir = reachable_tempdir();
    let bytes = std::fs::read(fixture("pagila.pg18.custom.dump")).unwrap();
    let path = dir.path().join("truncated.dump");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let (id, result) = restore_file(&path).await;
    let err = result.unwrap_err();
    assert!(matches!(err, RestoreError::Failed(_)), "{err}");
    assert_eq!(lens::testing::sandbox_objects(&id).await, 0);
}

#[tokio::test]
async fn a_truncated_compressed_script_fails_clearly_and_leaves_nothing() {
    let dir = reachable_tempdir();
    let bytes = std::fs::read(fixture("pagila.pg18.sql.gz")).unwrap();
    let path = dir.path().join("truncated.sql.gz");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let (id, result) = restore_file(&path).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("damaged") || err.contains("truncated"),
        "{err}"
    );
    assert_eq!(lens::testing::sandbox_objects(&id).await, 0);
}

#[tokio::test]
async fn a_file_that_is_not_a_dump_is_refused_before_anything_is_created() {
    let (id, result) = restore_file(&fixture("EXPECTED.json")).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("not a PostgreSQL dump"), "{err}");
    assert_eq!(lens::testing::sandbox_objects(&id).await, 0);
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_without_filling_the_disk() {
    let dir = reachable_tempdir();
    let path = dir.path().join("bomb.sql.gz");
    // A statement followed by 1 GiB of spaces (whitespace between statements).
    let mut bomb = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut encoder, b"SELECT 1;\n").unwrap();
        encoder.finish().unwrap()
    };
    bomb.extend(lens::dump::limits::gzip_bomb(1 << 30));
    std::fs::write(&path, bomb).unwrap();
    let (id, result) = restore_file(&path).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("decompression bomb"), "{err}");
    assert_eq!(lens::testing::sandbox_objects(&id).await, 0);
}

#[tokio::test]
async fn an_archive_newer_than_pg_restore_names_the_version_needed() {
    let dir = reachable_tempdir();
    // A stand-in for an old pg_restore (only its --version is asked before refusing).
    let old = dir.path().join("pg_restore");
    std::fs::write(&old, "#!/bin/sh\necho 'pg_restore (PostgreSQL) 15.4'\n").unwrap();
    std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let options = RestoreOptions {
        pg_bindir: Some(dir.path().to_path_buf()),
        ..RestoreOptions::default()
    };
    let id = sandbox::new_id();
    let err = restore(
        &fixture("pagila.pg18.custom.dump"),
        &id,
        &Target::Admin(admin_server_url()),
        &options,
        Arc::new(|_| {}),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("needs pg_restore 17 or newer"), "{err}");
    assert!(err.contains("15.4"), "{err}");
    assert_eq!(lens::testing::sandbox_objects(&id).await, 0);
}

async fn restore_script_with(
    script: &str,
    options: &RestoreOptions,
) -> (String, Result<RestoreSummary, RestoreError>) {
    let dir = reachable_tempdir();
    let path = dir.path().join("script.sql");
    std::fs::write(&path, script).unwrap();
    let id = sandbox::new_id();
    let result = restore(
        &path,
        &id,
        &Target::Admin(admin_server_url()),
        options,
        Arc::new(|_| {}),
    )
    .await;
    (id, result)
}

#[tokio::test]
async fn a_restore_that_runs_too_long_is_stopped_and_removed() {
    let options = RestoreOptions {
        limits: lens::dump::Limits {
            max_duration: std::time::Duration::from_secs(2),
            ..Default::default()
        },
        ..RestoreOptions::default()
    };
    let started = std::time::Instant::now();
    let (id, result) =
        restore_script_with("CREATE TABLE t (a int);\nSELECT pg_sleep(600);\n", &options).await;
    let err = result.unwrap_err();
    assert!(matches!(err, RestoreError::TimedOut(_)), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(lens::testing::sandbox_objects(&id).await, 0);
}

#[tokio::test]
async fn continue_on_error_keeps_the_restore_and_lists_the_errors() {
    let options = RestoreOptions {
        continue_on_error: true,
        ..RestoreOptions::default()
    };
    let script =
        "CREATE TABLE t (a int);\nINSERT INTO missing VALUES (1);\nINSERT INTO t VALUES (1);\n";
    let (id, result) = restore_script_with(script, &options).await;
    let summary = result.unwrap();
    assert_eq!(summary.errors.len(), 1, "{summary:?}");
    assert_eq!(summary.errors[0].location, "line 2");
    assert!(
        summary.errors[0]
            .message
            .contains("\"missing\" does not exist"),
        "{:?}",
        summary.errors
    );
    assert_eq!(summary.databases[0].tables, 1);
    let mut admin = admin().await;
    let names = sandbox::names_on_server(&mut admin, &id).await.unwrap();
    sandbox::drop_all(&mut admin, &names).await.unwrap();
}

#[tokio::test]
async fn dumpall_databases_with_spaces_capitals_and_quotes_get_a_sandbox_each() {
    let script = "\\restrict k\nCREATE ROLE postgres;\n\\unrestrict k\n\\connect template1\nSET x = 1;\n\
        CREATE DATABASE \"My Db\" WITH TEMPLATE = template0;\n\\connect -reuse-previous=on \"dbname='My Db'\"\n\
        CREATE TABLE one (a int);\nCOPY one (a) FROM stdin;\n1\n2\n\\.\n\
        CREATE DATABASE \"It's \"\"Quoted\"\"\" WITH TEMPLATE = template0;\n\\connect -reuse-previous=on \"dbname='It''s \"\"Quoted\"\"'\"\n\
        CREATE TABLE two (b text);\nINSERT INTO two VALUES ('x');\n";
    let dir = reachable_tempdir();
    let path = dir.path().join("cluster.sql");
    std::fs::write(
        &path,
        format!("--\n-- PostgreSQL database cluster dump\n--\n\n{script}"),
    )
    .unwrap();
    let (id, result) = restore_file(&path).await;
    let summary = result.unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = summary
        .databases
        .iter()
        .map(|d| d.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["My Db", "It's \"Quoted\""]);
    let count = |db: &str, sql: &'static str| {
        let url = admin_server_url().with_database(db);
        async move {
            let mut conn = PgConnection::connect_with(&url.connect_options())
                .await
                .unwrap();
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count(&summary.databases[0].sandbox, "SELECT count(*) FROM one").await,
        2
    );
    assert_eq!(
        count(&summary.databases[1].sandbox, "SELECT count(*) FROM two").await,
        1
    );
    assert!(all_messages(&summary).contains("roles, tablespaces and server settings"));
    let mut admin = admin().await;
    let names = sandbox::names_on_server(&mut admin, &id).await.unwrap();
    assert_eq!(names.databases.len(), 2);
    sandbox::drop_all(&mut admin, &names).await.unwrap();
}

#[tokio::test]
async fn a_dump_that_grows_past_the_size_limit_is_stopped_and_removed() {
    let options = RestoreOptions {
        limits: lens::dump::Limits {
            max_database_bytes: 32 << 20,
            ..Default::default()
        },
        ..RestoreOptions::default()
    };
    // Small to ship, large once loaded: the data is generated on the server.
    let script = "CREATE TABLE t (a text);\nINSERT INTO t SELECT repeat('x', 1000) FROM generate_series(1, 2000000);\n";
    let (id, result) = restore_script_with(script, &options).await;
    let err = result.unwrap_err();
    assert!(matches!(err, RestoreError::TooBig { .. }), "{err}");
    assert_eq!(lens::testing::sandbox_objects(&id).await, 0);
}

#[tokio::test]
async fn a_reader_made_by_several_processes_at_once_is_made_once() {
    // The API's first read and the fingerprints taken after Ready ask for the reader at the
    // same moment (two processes on Kubernetes): each must succeed, with the same password.
    let names = SandboxNames::new(&sandbox::new_id(), 1).unwrap();
    sandbox::create(&mut admin().await, &names, &sandbox::new_password())
        .await
        .unwrap();
    let password = sandbox::new_password();
    let admin_url = admin_server_url();
    let made = futures::future::join_all(
        (0..6).map(|_| sandbox::ensure_reader(&admin_url, &names, &password)),
    )
    .await;
    assert!(made.iter().all(Result::is_ok), "{made:?}");
    let reader = admin_url
        .with_login(&names.reader(), &password)
        .with_database(&names.databases[0]);
    let mut conn = PgConnection::connect_with(&reader.connect_options())
        .await
        .unwrap();
    let read_only: String = sqlx::query_scalar("SHOW default_transaction_read_only")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(read_only, "on");
    conn.close().await.unwrap();
    sandbox::drop_all(&mut admin().await, &names).await.unwrap();
    assert_eq!(lens::testing::sandbox_objects(&names.role[3..]).await, 0);
}
