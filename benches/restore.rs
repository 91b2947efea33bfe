//! Restore and introspection benchmarks, each against its baseline measured side by side on the
//! same server in the same run:
//!
//! - `dumplens restore` of a pgbench database (custom, directory-in-tar, plain) against bare
//!   `pg_restore -j 2` (archives) and `psql -1 -f` (plain); peak memory of `dumplens restore`;
//! - introspection of a generated schema (tables x 10 columns): time and catalog queries.
//!
//! `cargo bench --bench restore` (scale 50, about 750 MB, and 5,000 tables by default);
//! `DUMPLENS_BENCH_SCALE` and `DUMPLENS_BENCH_TABLES` make it smaller.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lens::conninfo::ServerUrl;
use lens::testing::{admin_server_url, install, reachable_tempdir};
use sqlx::{Connection, Executor, PgConnection};

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `command` to completion; returns its wall time and peak resident memory (KiB).
// The child is reaped by wait4, which std's Child::wait cannot do: it also returns the child's
// own resource usage.
#[allow(clippy::zombie_processes)]
fn run_measured(command: &mut Command) -> (Duration, u64) {
    let start = Instant::now();
    let child = command
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter for wait4.
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child with valid pointers.
    let waited = unsafe { nix::libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    assert_eq!(status, 0, "{command:?} failed");
    (start.elapsed(), usage.ru_maxrss as u64)
}

fn libpq<'a>(command: &'a mut Command, url: &ServerUrl) -> &'a mut Command {
    command.env_clear().envs(url.libpq_env())
}

async fn execute(url: &ServerUrl, sql: &str) {
    let mut conn = PgConnection::connect_with(&url.connect_options())
        .await
        .unwrap();
    conn.execute(sql).await.unwrap();
}

async fn fresh_database(admin: &ServerUrl, name: &str) -> ServerUrl {
    execute(admin, &format!("DROP DATABASE IF EXISTS {name}")).await;
    execute(admin, &format!("CREATE DATABASE {name}")).await;
    admin.with_database(name)
}

async fn drop_sandboxes(admin: &ServerUrl) {
    let mut conn = PgConnection::connect_with(&admin.connect_options())
        .await
        .unwrap();
    for id in lens::sandbox::existing_ids(&mut conn).await.unwrap() {
        let names = lens::sandbox::names_on_server(&mut conn, &id)
            .await
            .unwrap();
        lens::sandbox::drop_all(&mut conn, &names).await.unwrap();
    }
}

struct Dumps {
    custom: PathBuf,
    directory: PathBuf,
    directory_tar: PathBuf,
    plain: PathBuf,
}

async fn make_dumps(admin: &ServerUrl, scale: u64, dir: &Path) -> Dumps {
    let source = fresh_database(admin, "bench_source").await;
    let started = Instant::now();
    let status = libpq(&mut Command::new(install().program("pgbench")), &source)
        .args(["-i", "-q", "--foreign-keys", "-s", &scale.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    eprintln!("generated pgbench scale {scale} in {:?}", started.elapsed());
    let dumps = Dumps {
        custom: dir.join("bench.custom.dump"),
        directory: dir.join("bench.dir"),
        directory_tar: dir.join("bench.dir.tar"),
        plain: dir.join("bench.sql"),
    };
    for (format, path) in [
        ("custom", &dumps.custom),
        ("directory", &dumps.directory),
        ("plain", &dumps.plain),
    ] {
        let status = libpq(&mut Command::new(install().program("pg_dump")), &source)
            .arg(format!("--format={format}"))
            .arg("--file")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let status = Command::new("tar")
        .arg("-cf")
        .arg(&dumps.directory_tar)
        .arg("-C")
        .arg(&dumps.directory)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let size = std::fs::metadata(&dumps.plain).unwrap().len();
    eprintln!("plain dump: {} MB", size >> 20);
    dumps
}

fn dumplens_restore(admin: &ServerUrl, file: &Path) -> (Duration, u64) {
    run_measured(
        Command::new(DUMPLENS)
            .arg("restore")
            .arg(file)
            .args(["--jobs", "2", "--json"])
            .env("DUMPLENS_ADMIN_URL", admin.as_str())
            .env("DUMPLENS_PG_BINDIR", &install().bin_dir),
    )
}

fn report(what: &str, baseline_name: &str, baseline: Duration, ours: Duration, rss_kib: u64) {
    println!(
        "| {what} | {:.2} s | {baseline_name} {:.2} s | {:.3} | {} MB |",
        ours.as_secs_f64(),
        baseline.as_secs_f64(),
        ours.as_secs_f64() / baseline.as_secs_f64(),
        rss_kib / 1024
    );
}

async fn restore_benchmarks(admin: &ServerUrl, dumps: &Dumps) {
    println!("| restore | dumplens | baseline | ratio | dumplens peak RSS |");
    println!("|---|---|---|---|---|");
    let archive_cases = [
        ("custom", &dumps.custom, &dumps.custom),
        ("directory (tar)", &dumps.directory_tar, &dumps.directory),
    ];
    for (what, ours_file, baseline_file) in archive_cases {
        let target = fresh_database(admin, "bench_baseline").await;
        let (baseline, _) = run_measured(
            libpq(&mut Command::new(install().program("pg_restore")), &target)
                .args(["--no-owner", "--no-privileges", "--jobs=2", "--dbname"])
                .arg(target.database().unwrap())
                .arg(baseline_file),
        );
        let (ours, rss) = dumplens_restore(admin, ours_file);
        report(what, "pg_restore -j 2", baseline, ours, rss);
        drop_sandboxes(admin).await;
    }
    let target = fresh_database(admin, "bench_baseline").await;
    let (baseline, _) = run_measured(
        libpq(&mut Command::new(install().program("psql")), &target)
            .args(["-q", "-1", "-X", "-v", "ON_ERROR_STOP=1", "-f"])
            .arg(&dumps.plain),
    );
    let (ours, rss) = dumplens_restore(admin, &dumps.plain);
    report("plain", "psql -1 -f", baseline, ours, rss);
    drop_sandboxes(admin).await;
    execute(admin, "DROP DATABASE bench_baseline").await;
}

async fn introspection_benchmark(admin: &ServerUrl, tables: u64) {
    let db = fresh_database(admin, "bench_schema").await;
    let mut conn = PgConnection::connect_with(&db.connect_options())
        .await
        .unwrap();
    let started = Instant::now();
    for chunk in (0..tables).collect::<Vec<_>>().chunks(500) {
        let ddl: String = chunk
            .iter()
            .map(|t| {
                let columns: String = (1..10).map(|c| format!(", c{c} text")).collect();
                let reference = if *t > 0 {
                    format!(", parent int REFERENCES t{} (id)", t - 1)
                } else {
                    String::new()
                };
                format!("CREATE TABLE t{t} (id int PRIMARY KEY{columns}{reference});")
            })
            .collect();
        conn.execute(ddl.as_str()).await.unwrap();
    }
    eprintln!("created {tables} tables in {:?}", started.elapsed());
    conn.execute("ANALYZE").await.unwrap();

    let transactions =
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()";
    let mut probe = PgConnection::connect_with(&db.connect_options())
        .await
        .unwrap();
    probe
        .execute("SELECT pg_stat_force_next_flush()")
        .await
        .unwrap();
    let mut introspecting = PgConnection::connect_with(&db.connect_options())
        .await
        .unwrap();
    probe
        .execute("SELECT pg_stat_clear_snapshot()")
        .await
        .unwrap();
    let before: i64 = sqlx::query_scalar(transactions)
        .fetch_one(&mut probe)
        .await
        .unwrap();
    let started = Instant::now();
    let graph = lens::schema::introspect(&mut introspecting).await.unwrap();
    let elapsed = started.elapsed();
    introspecting
        .execute("SELECT pg_stat_force_next_flush()")
        .await
        .unwrap();
    introspecting.close().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    probe
        .execute("SELECT pg_stat_clear_snapshot()")
        .await
        .unwrap();
    let after: i64 = sqlx::query_scalar(transactions)
        .fetch_one(&mut probe)
        .await
        .unwrap();
    // Each catalog query is one transaction; so are the flush itself and the probe's own
    // queries between the two readings (clear_snapshot, the first reading).
    let queries = after - before - 3;
    let columns: usize = graph.tables.iter().map(|t| t.columns.len()).sum();
    println!();
    println!("| introspection | tables | columns | time | catalog queries |");
    println!("|---|---|---|---|---|");
    println!(
        "| schema graph | {} | {columns} | {:.2} s | {queries} |",
        graph.tables.len(),
        elapsed.as_secs_f64()
    );
    drop(conn);
    drop(probe);
    execute(admin, "DROP DATABASE bench_schema WITH (FORCE)").await;
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would run this too: skip quietly then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let admin = admin_server_url();
    let scale = env_number("DUMPLENS_BENCH_SCALE", 50);
    let tables = env_number("DUMPLENS_BENCH_TABLES", 5000);
    let dir = reachable_tempdir();
    let dumps = make_dumps(&admin, scale, dir.path()).await;
    restore_benchmarks(&admin, &dumps).await;
    introspection_benchmark(&admin, tables).await;
}
