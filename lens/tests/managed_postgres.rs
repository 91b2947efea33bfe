//! The managed cluster against real PostgreSQL binaries (the project's install, or the
//! machine's).

use std::os::unix::fs::PermissionsExt;

use lens::postgres::{ManagedCluster, PgError};
use lens::testing::{pg_install, reachable_tempdir};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid};
use sqlx::{Connection, PgConnection};

async fn query_one(url: &str, sql: &str) -> String {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    sqlx::query_scalar::<_, String>(sql)
        .fetch_one(&mut conn)
        .await
        .expect("query")
}

fn start(root: &std::path::Path) -> ManagedCluster {
    ManagedCluster::start(root, pg_install()).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_cluster_is_created_tuned_for_throwaway_data_and_reused_on_the_next_start() {
    let dir = reachable_tempdir();
    let root = dir.path().join("cluster");
    let mut cluster = start(&root);
    let url = cluster.admin_url();
    for (setting, expected) in [
        ("fsync", "off"),
        ("synchronous_commit", "off"),
        ("full_page_writes", "off"),
        ("wal_level", "minimal"),
        ("listen_addresses", "127.0.0.1"),
    ] {
        assert_eq!(query_one(&url, &format!("SHOW {setting}")).await, expected);
    }
    let mut conn = PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    cluster.stop();

    let cluster = start(&root);
    let value = query_one(&cluster.admin_url(), "SELECT v FROM kept").await;
    assert_eq!(value, "still here");
    // A Unix socket is served too, in a directory only the server user (and root) can enter.
    let socket_dir = cluster.socket_dir().expect("short path has a socket");
    let socket = socket_dir.join(format!(".s.PGSQL.{}", cluster.port()));
    assert!(socket.exists(), "{} missing", socket.display());
    assert_eq!(
        std::fs::metadata(socket_dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[tokio::test]
async fn the_server_never_runs_as_root() {
    let dir = reachable_tempdir();
    let cluster = start(&dir.path().join("cluster"));
    let status = std::fs::read_to_string(format!("/proc/{}/status", cluster.pid())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let real_uid: u32 = uid_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let expected = if Uid::effective().is_root() {
        nix::unistd::User::from_name("nobody")
            .unwrap()
            .unwrap()
            .uid
            .as_raw()
    } else {
        Uid::effective().as_raw()
    };
    assert_eq!(real_uid, expected);
}

#[tokio::test]
async fn a_killed_server_is_reported_and_the_cluster_recovers_on_the_next_start() {
    let dir = reachable_tempdir();
    let root = dir.path().join("cluster");
    let cluster = start(&root);
    kill(Pid::from_raw(cluster.pid()), Signal::SIGKILL).unwrap();
    let exit = cluster.exited().await;
    assert!(exit.to_string().contains("killed by SIGKILL"), "{exit}");
    assert!(exit.to_string().contains("postgres.log"), "{exit}");
    drop(cluster);
    // The crash left postmaster.pid behind.
    assert!(root.join("pgdata/postmaster.pid").exists());
    let cluster = start(&root);
    assert_eq!(query_one(&cluster.admin_url(), "SELECT 'up'").await, "up");
}

#[tokio::test]
async fn a_stale_pid_file_naming_a_live_unrelated_process_does_not_block_start() {
    let dir = reachable_tempdir();
    let root = dir.path().join("cluster");
    let mut cluster = start(&root);
    cluster.stop();
    // After a reboot the old pid often belongs to another process; PostgreSQL alone would then
    // refuse to start. Our own pid is such a process.
    let pid_file = root.join("pgdata/postmaster.pid");
    std::fs::write(
        &pid_file,
        format!("{}\n{}\n", std::process::id(), root.display()),
    )
    .unwrap();
    let cluster = start(&root);
    assert_eq!(query_one(&cluster.admin_url(), "SELECT 'up'").await, "up");
}

#[tokio::test]
async fn a_second_start_on_a_running_cluster_is_refused() {
    let dir = reachable_tempdir();
    let root = dir.path().join("cluster");
    let cluster = start(&root);
    let err = ManagedCluster::start(&root, pg_install()).unwrap_err();
    assert!(
        matches!(err, PgError::AlreadyRunning { pid, .. } if pid == cluster.pid()),
        "{err}"
    );
}

#[tokio::test]
async fn clusters_in_different_directories_run_side_by_side() {
    let (a, b) = (reachable_tempdir(), reachable_tempdir());
    let first = start(a.path());
    let second = start(b.path());
    assert_ne!(first.port(), second.port());
    assert_eq!(query_one(&first.admin_url(), "SELECT 'a'").await, "a");
    assert_eq!(query_one(&second.admin_url(), "SELECT 'b'").await, "b");
}

#[test]
fn an_unwritable_data_directory_is_one_clear_error_and_nothing_is_created() {
    let dir = reachable_tempdir();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let err = ManagedCluster::start(&file.join("cluster"), pg_install()).unwrap_err();
    assert!(matches!(err, PgError::DataDirNotWritable { .. }), "{err}");
    assert!(err.to_string().contains("--data-dir"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn as_root_a_data_directory_the_server_user_cannot_reach_is_refused() {
    let dir = reachable_tempdir();
    let private = dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let result = ManagedCluster::start(&private.join("cluster"), pg_install());
    if Uid::effective().is_root() {
        let err = result.unwrap_err();
        assert!(matches!(err, PgError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains("nobody"), "{err}");
    } else {
        // As a normal user the server runs as us, and our own private directory is fine.
        result.unwrap_or_else(|e| panic!("{e}"));
    }
}

#[tokio::test]
async fn tests_get_a_database_each_even_when_run_concurrently() {
    let tasks: Vec<_> = (0..8)
        .map(|_| tokio::spawn(lens::testing::database()))
        .collect();
    let mut databases = Vec::new();
    for task in tasks {
        databases.push(task.await.unwrap());
    }
    let mut names: Vec<_> = databases.iter().map(|d| d.name.clone()).collect();
    names.dedup();
    assert_eq!(names.len(), 8);
    for db in &databases {
        assert_eq!(
            query_one(&db.url, "SELECT current_database()::text").await,
            db.name
        );
    }
}
