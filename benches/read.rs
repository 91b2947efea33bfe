//! Reading a restored table, each against its baseline in the same run:
//!
//! - a page of 100 rows of a 5M-row table at depth 0, 10^5, 10^6 and 4.9·10^6: keyset
//!   (`lens::browse`) against `OFFSET` plus `count(*)` (the original design's method), and
//!   the same keyset pages end to end over HTTP from `dumplens serve`;
//! - value suggestions (`pg_stats`) against `GROUP BY ... ORDER BY count(*) DESC`;
//! - 200 concurrent clients fetching pages over loopback: p50/p99 and errors.
//!
//! `cargo bench --bench read`; `DUMPLENS_BENCH_ROWS` (5,000,000) and `DUMPLENS_BENCH_RUNS` (7)
//! change the size and the repetitions (medians are reported).

use std::sync::Arc;
use std::time::{Duration, Instant};

use lens::browse::{self, PageRequest};
use lens::testing::{admin_server_url, env_number, install, reachable_tempdir};
use sqlx::{Connection, Executor, PgConnection};

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn timed<F: AsyncFnMut()>(runs: usize, mut f: F) -> Duration {
    f().await; // warm
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        samples.push(started.elapsed());
    }
    median(samples)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would run this too: skip quietly then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rows = env_number("DUMPLENS_BENCH_ROWS", 5_000_000) as i64;
    let runs = env_number("DUMPLENS_BENCH_RUNS", 7) as usize;
    let admin = admin_server_url();

    // A database with one big table, dumped, so `dumplens serve` restores it like any dump.
    let source = "bench_read_source";
    let mut conn = PgConnection::connect_with(&admin.connect_options())
        .await
        .unwrap();
    conn.execute(format!("DROP DATABASE IF EXISTS {source}").as_str())
        .await
        .unwrap();
    conn.execute(format!("CREATE DATABASE {source}").as_str())
        .await
        .unwrap();
    let source_url = admin.with_database(source);
    let mut db = PgConnection::connect_with(&source_url.connect_options())
        .await
        .unwrap();
    let started = Instant::now();
    db.execute(
        format!(
            "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS name, g % 1000 AS bucket,
                 now() - g * interval '1 second' AS seen FROM generate_series(1, {rows}) g;
             ALTER TABLE big ADD PRIMARY KEY (id); ANALYZE big;"
        )
        .as_str(),
    )
    .await
    .unwrap();
    eprintln!("made {rows} rows in {:?}", started.elapsed());
    let dir = reachable_tempdir();
    let dump = dir.path().join("big.dump");
    let status = std::process::Command::new(install().program("pg_dump"))
        .args(["-Fc", "-Z", "1", "-f"])
        .arg(&dump)
        .env_clear()
        .envs(source_url.libpq_env())
        .status()
        .unwrap();
    assert!(status.success(), "pg_dump");

    let graph = lens::schema::introspect(&mut db).await.unwrap();
    let big = graph
        .tables
        .iter()
        .find(|t| t.name == "big")
        .unwrap()
        .clone();
    let depths: Vec<i64> = [0, 100_000, 1_000_000, rows - rows / 50]
        .into_iter()
        .filter(|d| *d < rows)
        .collect();

    println!("page of 100 rows of a {rows}-row table (median of {runs})");
    println!(
        "| depth | keyset | OFFSET + count(*) | keyset / OFFSET | keyset / depth 0 | HTTP end to end |"
    );
    println!("|---|---|---|---|---|---|");
    let server = serve(&dump).await;
    let http = reqwest::Client::new();
    let mut first = None;
    for depth in &depths {
        let request = PageRequest {
            limit: 100,
            after: (*depth > 0).then(|| browse::cursor(&[Some(depth.to_string())])),
            ..PageRequest::default()
        };
        let keyset = timed(runs, async || {
            let page = browse::page(&mut db, &big, &request).await.unwrap();
            assert_eq!(page.rows.len(), 100);
        })
        .await;
        let offset = timed(runs, async || {
            let sql = format!("SELECT * FROM big ORDER BY id OFFSET {depth} LIMIT 100");
            let page = sqlx::query(&sql).fetch_all(&mut db).await.unwrap();
            assert_eq!(page.len(), 100);
            sqlx::query("SELECT count(*) FROM big")
                .execute(&mut db)
                .await
                .unwrap();
        })
        .await;
        let url = format!(
            "{}&limit=100{}",
            server.rows_url,
            request
                .after
                .as_ref()
                .map(|a| format!("&after={a}"))
                .unwrap_or_default()
        );
        let over_http = timed(runs, async || {
            let response = http.get(&url).send().await.unwrap();
            assert!(response.status().is_success());
            response.bytes().await.unwrap();
        })
        .await;
        let first = *first.get_or_insert(keyset);
        println!(
            "| {depth} | {} | {} | {:.4}x | {:.2}x | {} |",
            ms(keyset),
            ms(offset),
            keyset.as_secs_f64() / offset.as_secs_f64(),
            keyset.as_secs_f64() / first.as_secs_f64(),
            ms(over_http)
        );
    }

    let suggested = timed(runs, async || {
        let s = lens::suggest::suggest(&mut db, &big, "bucket", None, 10)
            .await
            .unwrap();
        assert_eq!(s.source, "statistics");
    })
    .await;
    let grouped = timed(runs, async || {
        sqlx::query(
            "SELECT bucket, count(*) FROM big GROUP BY bucket ORDER BY count(*) DESC LIMIT 10",
        )
        .fetch_all(&mut db)
        .await
        .unwrap();
    })
    .await;
    println!(
        "\nsuggestions for a column: pg_stats {} against GROUP BY {}: {:.0}x faster",
        ms(suggested),
        ms(grouped),
        grouped.as_secs_f64() / suggested.as_secs_f64()
    );

    concurrent_clients(&server.rows_url, 200, Duration::from_secs(10)).await;
}

struct Served {
    /// The rows endpoint of the big table, with a `?`.
    rows_url: String,
}

/// `dumplens serve` (in this process, on its own runtime thread) over the test cluster with the
/// dump; waits until it is Ready.
async fn serve(dump: &std::path::Path) -> Served {
    let (ready, url) = std::sync::mpsc::channel();
    let options = api::standalone::ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: None,
        database_url: Some(lens::testing::admin_url().to_string()),
        pg_bindir: None,
        dumps: vec![dump.to_path_buf()],
        ttl: None,
        sweep_interval: Duration::from_secs(3600),
        restore_program: Some(DUMPLENS.into()),
        max_upload_bytes: 1 << 30,
        access: api::access::Access::open(),
    };
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            api::standalone::serve(options, |url| {
                ready.send(url.trim_end_matches('/').to_string()).unwrap()
            })
            .await
            .unwrap()
        })
    });
    let base = url.recv_timeout(Duration::from_secs(120)).unwrap();
    let started = Instant::now();
    loop {
        let dumps: serde_json::Value = reqwest::get(format!("{base}/api/v1/dumps"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let dump = dumps
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "big.dump")
            .cloned();
        if let Some(dump) = dump.filter(|d| d["phase"] == "Ready") {
            let id = dump["id"].as_str().unwrap();
            let sandbox = dump["databases"][0]["sandbox"].as_str().unwrap();
            eprintln!("restored the dump in {:?}", started.elapsed());
            return Served {
                rows_url: format!(
                    "{base}/api/v1/dumps/{id}/databases/{sandbox}/tables/public/big/rows?"
                ),
            };
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "never Ready: {dumps}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `clients` tasks fetching pages (at random depths) for `duration`; prints latency
/// percentiles and errors.
async fn concurrent_clients(rows_url: &str, clients: usize, duration: Duration) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (http, latencies, errors) = (http.clone(), latencies.clone(), errors.clone());
        let url = rows_url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut n = client as u64;
            while Instant::now() < deadline {
                n = n
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let after = browse::cursor(&[Some(((n >> 33) % 4_000_000).to_string())]);
                let started = Instant::now();
                let fetched = async {
                    let response = http
                        .get(format!("{url}limit=100&after={after}"))
                        .send()
                        .await?
                        .error_for_status()?;
                    response.bytes().await
                };
                match fetched.await {
                    Ok(_) => latencies.lock().unwrap().push(started.elapsed()),
                    Err(_) => {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "\n{clients} concurrent clients for {duration:?}: {} pages ({:.0}/s), p50 {}, p99 {}, {} errors",
        latencies.len(),
        latencies.len() as f64 / duration.as_secs_f64(),
        ms(at(0.5)),
        ms(at(0.99)),
        errors.load(std::sync::atomic::Ordering::Relaxed)
    );
}
