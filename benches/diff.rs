//! Comparing two copies of a 5M-row table in two databases, with 100 changed rows spread over
//! the key range and with none: the exact diff (`lens::diff::table_data_diff`) from both
//! tables' fingerprints (as every restore takes them, after Ready), and reading both tables
//! (before the fingerprints are there), against a naive baseline that fetches both tables in
//! key order and compares them row by row, and against `SELECT count(*)` of both; the time the
//! fingerprints take; and the peak memory of this process, which runs the diffs.
//!
//! `cargo bench --bench diff`; `DUMPLENS_BENCH_ROWS` (5,000,000) changes the size.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use lens::diff::{DataDiffOptions, fingerprint, table_data_diff};
use lens::testing::{admin_server_url, env_number};
use sqlx::{Connection, Executor, PgConnection};

fn peak_rss_mib() -> f64 {
    lens::testing::memory_mib(std::process::id(), "VmHWM:")
}

async fn database(name: &str, rows: i64) -> PgConnection {
    let admin = admin_server_url();
    let mut conn = PgConnection::connect_with(&admin.connect_options())
        .await
        .unwrap();
    conn.execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
        .await
        .unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let mut db = PgConnection::connect_with(&admin.with_database(name).connect_options())
        .await
        .unwrap();
    db.execute(
        format!(
            "CREATE TABLE big (id int8 PRIMARY KEY, label text, amount numeric, at timestamptz);
             INSERT INTO big SELECT i, md5(i::text), i / 7.0, '2020-01-01'::timestamptz + i * interval '1 s'
               FROM generate_series(1, {rows}) i;"
        )
        .as_str(),
    )
    .await
    .unwrap();
    db.execute("VACUUM ANALYZE big").await.unwrap();
    db
}

/// The naive way: both tables in key order, compared row by row as they stream.
async fn naive(a: &mut PgConnection, b: &mut PgConnection) -> u64 {
    let sql = "SELECT id, big::text FROM big ORDER BY id";
    let mut rows_a = sqlx::query_as::<_, (i64, String)>(sql).fetch(a);
    let mut rows_b = sqlx::query_as::<_, (i64, String)>(sql).fetch(b);
    let (mut next_a, mut next_b) = (
        rows_a.try_next().await.unwrap(),
        rows_b.try_next().await.unwrap(),
    );
    let mut differences = 0;
    loop {
        match (&next_a, &next_b) {
            (None, None) => return differences,
            (Some((ka, ra)), Some((kb, rb))) if ka == kb => {
                differences += u64::from(ra != rb);
                next_a = rows_a.try_next().await.unwrap();
                next_b = rows_b.try_next().await.unwrap();
            }
            (Some((ka, _)), Some((kb, _))) if ka < kb => {
                differences += 1;
                next_a = rows_a.try_next().await.unwrap();
            }
            (Some(_), None) => {
                differences += 1;
                next_a = rows_a.try_next().await.unwrap();
            }
            _ => {
                differences += 1;
                next_b = rows_b.try_next().await.unwrap();
            }
        }
    }
}

async fn count(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM big")
        .fetch_one(conn)
        .await
        .unwrap()
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would run this too: skip quietly then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rows = env_number("DUMPLENS_BENCH_ROWS", 5_000_000) as i64;
    let mut a = database("bench_diff_a", rows).await;
    let mut b = database("bench_diff_b", rows).await;
    let graph_a = lens::schema::introspect(&mut a).await.unwrap();
    let graph_b = lens::schema::introspect(&mut b).await.unwrap();
    let (table_a, table_b) = (
        graph_a.table("public", "big").unwrap().clone(),
        graph_b.table("public", "big").unwrap().clone(),
    );
    let baseline_rss = peak_rss_mib();
    println!("diff of two {rows}-row tables (best of 2 each, side by side)");
    for changed in [0, 100] {
        if changed > 0 {
            // 100 rows spread evenly over the key range.
            b.execute(
                format!("UPDATE big SET label = 'changed' WHERE id % ({rows} / 100) = 0").as_str(),
            )
            .await
            .unwrap();
            b.execute("VACUUM ANALYZE big").await.unwrap();
        }
        // As the restores of the two dumps would, once each was Ready.
        let started = Instant::now();
        let (fingerprint_a, fingerprint_b) =
            tokio::join!(fingerprint(&mut a, &table_a), fingerprint(&mut b, &table_b));
        let fingerprinting = started.elapsed();
        let (fingerprint_a, fingerprint_b) = (fingerprint_a.unwrap(), fingerprint_b.unwrap());
        let fingerprints = (fingerprint_a.as_ref(), fingerprint_b.as_ref());
        let mut counts = Vec::new();
        // From fingerprints, and reading both tables.
        let mut exact = [Vec::new(), Vec::new()];
        let mut naives = Vec::new();
        let mut found = [0; 3];
        for _ in 0..2 {
            let started = Instant::now();
            let (na, nb) = (count(&mut a).await, count(&mut b).await);
            counts.push(started.elapsed());
            assert_eq!((na, nb), (rows, rows));

            for (way, fingerprints) in [fingerprints, (None, None)].into_iter().enumerate() {
                let started = Instant::now();
                let diff = table_data_diff(
                    &mut a,
                    &table_a,
                    &mut b,
                    &table_b,
                    fingerprints,
                    &DataDiffOptions::default(),
                )
                .await
                .unwrap();
                exact[way].push(started.elapsed());
                assert_eq!(diff.from_fingerprints, fingerprints.0.is_some());
                found[way] = diff.changed;
            }

            let started = Instant::now();
            found[2] = naive(&mut a, &mut b).await;
            naives.push(started.elapsed());
        }
        assert_eq!(found, [changed; 3], "all find every change");
        let best = |d: &[Duration]| d.iter().min().copied().unwrap();
        let (counts, naives) = (best(&counts), best(&naives));
        let target = if changed == 0 { 5.0 } else { 8.0 };
        println!(
            "  {changed} changed rows: naive fetch-and-compare {} | count(*) of both {} | fingerprints of both (once per restore) {}",
            secs(naives),
            secs(counts),
            secs(fingerprinting),
        );
        for (how, times) in ["from fingerprints", "reading both tables"]
            .iter()
            .zip(&exact)
        {
            let exact = best(times);
            println!(
                "    exact diff {how}: {} ({:.1}x faster than naive; target >= 10x) (diff / counts {:.2}x; target <= {target}x)",
                secs(exact),
                naives.as_secs_f64() / exact.as_secs_f64(),
                exact.as_secs_f64() / counts.as_secs_f64(),
            );
        }
    }
    println!(
        "  peak RSS of the process running the diffs: {:.1} MiB (before them {baseline_rss:.1} MiB; target < 200 MB)",
        peak_rss_mib()
    );
}
