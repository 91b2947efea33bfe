//! Restore and introspection benchmarks, each against its baseline measured side by side on the
//! same server in the same run:
//!
//! - `dumplens restore` of a pgbench database (custom, directory-in-tar, plain) against bare
//!   `pg_restore -j 2` (archives) and `psql -1 -f` (plain); peak memory of `dumplens restore`;
//! - introspection of a generated schema (tables x 10 columns): time and catalog queries.
//!
//! `cargo bench --bench restore` (scale 50, about 750 MB, 3 runs each, and 5,000 tables by
//! default); `DUMPLENS_BENCH_SCALE`, `DUMPLENS_BENCH_RUNS` and `DUMPLENS_BENCH_TABLES` change
//! that.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lens::conninfo::ServerUrl;
use lens::testing::{admin_server_url, env_number, install, reachable_tempdir};
use sqlx::{Connection, Executor, PgConnection};

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

/// Runs `command` to completion; returns its wall time and peak resident memory (KiB).
// The child is reaped by wait4, which std's Child::wait cannot do: it also returns the child's
// own resource usage.
#[allow(clippy::zombie_processes)]
fn run_measured(command: &mut Command) -> (Duration, u64) {
    let start = Instant::now();
    let child = command.spawn().expect("spawn");
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

/// One `dumplens restore`: wall time, peak RSS (KiB), and the load time it reports (its wall
/// time less inspection, sandbox creation and ANALYZE).
fn dumplens_restore(admin: &ServerUrl, file: &Path) -> (Duration, u64, Duration) {
    let output = std::env::temp_dir().join(format!("dumplens-bench-{}.json", std::process::id()));
    let (wall, rss) = run_measured(
        Command::new(DUMPLENS)
            .arg("restore")
            .arg(file)
            .args(["--jobs", "2", "--json"])
            .env("DUMPLENS_ADMIN_URL", admin.as_str())
            .env("DUMPLENS_PG_BINDIR", &install().bin_dir)
            .stdout(std::fs::File::create(&output).unwrap()),
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    let _ = std::fs::remove_file(&output);
    let load = Duration::from_secs_f64(summary["loadSeconds"].as_f64().unwrap());
    (wall, rss, load)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Times `baseline` and `ours` `runs` times each, in ABBA order, and prints the medians and
/// ratios. Each restored database is dropped before the next run starts, so neither side pays
/// for writing back the other's dirty pages.
async fn compare(
    what: &str,
    baseline_name: &str,
    admin: &ServerUrl,
    runs: usize,
    mut baseline: impl FnMut(&ServerUrl) -> Duration,
    ours_file: &Path,
) {
    let (mut base, mut wall, mut load, mut rss) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for run in 0..runs {
        for ours_now in [run % 2 == 1, run % 2 == 0] {
            if ours_now {
                let (w, r, l) = dumplens_restore(admin, ours_file);
                wall.push(w);
                load.push(l);
                rss = rss.max(r);
                drop_sandboxes(admin).await;
            } else {
                let target = fresh_database(admin, "bench_baseline").await;
                base.push(baseline(&target));
                execute(admin, "DROP DATABASE bench_baseline").await;
            }
        }
    }
    let (base, wall, load) = (median(base), median(wall), median(load));
    println!(
        "| {what} | {:.2} s | {baseline_name} {:.2} s | {:.3} | {:.3} | {} MB |",
        wall.as_secs_f64(),
        base.as_secs_f64(),
        wall.as_secs_f64() / base.as_secs_f64(),
        load.as_secs_f64() / base.as_secs_f64(),
        rss / 1024
    );
}

async fn restore_benchmarks(admin: &ServerUrl, dumps: &Dumps, runs: usize) {
    println!("Medians of {runs} runs each, in ABBA order; ratio = dumplens / baseline.");
    println!();
    println!(
        "| restore | dumplens (end to end) | baseline | ratio | ratio of the load alone | dumplens peak RSS |"
    );
    println!("|---|---|---|---|---|---|");
    let pg_restore = |file: PathBuf| {
        move |target: &ServerUrl| {
            run_measured(
                libpq(&mut Command::new(install().program("pg_restore")), target)
                    .args(["--no-owner", "--no-privileges", "--jobs=2", "--dbname"])
                    .arg(target.database().unwrap())
                    .arg(&file)
                    .stdout(std::process::Stdio::null()),
            )
            .0
        }
    };
    compare(
        "custom",
        "pg_restore -j 2",
        admin,
        runs,
        pg_restore(dumps.custom.clone()),
        &dumps.custom,
    )
    .await;
    compare(
        "directory (packed as tar)",
        "pg_restore -j 2 (of the folder)",
        admin,
        runs,
        pg_restore(dumps.directory.clone()),
        &dumps.directory_tar,
    )
    .await;
    let plain = dumps.plain.clone();
    let psql = move |target: &ServerUrl| {
        run_measured(
            libpq(&mut Command::new(install().program("psql")), target)
                .args(["-q", "-1", "-X", "-v", "ON_ERROR_STOP=1", "-f"])
                .arg(&plain)
                .stdout(std::process::Stdio::null()),
        )
        .0
    };
    compare("plain", "psql -1 -f", admin, runs, psql, &dumps.plain).await;
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

    let mut conn_for_graph = PgConnection::connect_with(&db.connect_options())
        .await
        .unwrap();
    QUERIES.store(0, Ordering::SeqCst);
    let started = Instant::now();
    let graph = lens::schema::introspect(&mut conn_for_graph).await.unwrap();
    let elapsed = started.elapsed();
    let queries = QUERIES.load(Ordering::SeqCst);
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
    drop(conn_for_graph);
    execute(admin, "DROP DATABASE bench_schema WITH (FORCE)").await;
}

/// Statements sent through sqlx, counted from its own per-statement log events.
static QUERIES: AtomicUsize = AtomicUsize::new(0);

struct CountQueries;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountQueries {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            QUERIES.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::main]
async fn main() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{Layer, filter::Targets};
    let counting =
        CountQueries.with_filter(Targets::new().with_target("sqlx::query", tracing::Level::TRACE));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(counting))
        .expect("the only subscriber");
    // `cargo bench` passes --bench; `cargo test --benches` would run this too: skip quietly then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let admin = admin_server_url();
    let scale = env_number("DUMPLENS_BENCH_SCALE", 50);
    let tables = env_number("DUMPLENS_BENCH_TABLES", 5000);
    let dir = reachable_tempdir();
    let dumps = make_dumps(&admin, scale, dir.path()).await;
    let runs = env_number("DUMPLENS_BENCH_RUNS", 3) as usize;
    restore_benchmarks(&admin, &dumps, runs).await;
    introspection_benchmark(&admin, tables).await;
}
