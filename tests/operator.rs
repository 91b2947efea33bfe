//! The operator on the real control plane: a Dump whose url serves a fixture becomes Ready
//! through a restore Job, holds exactly the fixture's facts, and leaves nothing when deleted.

use std::time::Duration;

use lens::testing::{admin_server_url, fixture, serve_over_http};
use sqlx::{Connection, PgConnection};

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

// Multi-threaded: the operator runs on this runtime while the test blocks on kubectl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_dump_becomes_ready_and_leaves_nothing_when_deleted() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,operator=debug")
        .with_test_writer()
        .try_init();
    let client = e2e::client().await;
    let ns = e2e::namespace(&client).await;
    let config = operator::Config {
        admin: admin_server_url(),
        restore_command: vec![DUMPLENS.to_string()],
        restore_image: "dumplens:test".into(),
        active_deadline_seconds: 600,
        backoff_limit: 0,
        ttl_seconds_after_finished: 3600,
    };
    let metrics = std::sync::Arc::new(operator::metrics::Metrics::default());
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    tokio::spawn(operator::metrics::serve(metrics_addr, metrics.clone()));
    tokio::spawn(operator::run(client.clone(), config, metrics));
    let base = serve_over_http(std::fs::read(fixture("world.pg18.custom.dump")).unwrap());
    let dump = format!(
        "apiVersion: dumplens.io/v1alpha1\nkind: Dump\nmetadata:\n  name: world\nspec:\n  source:\n    url:\n      url: {base}/world.dump\n"
    );
    let applied = e2e::kubectl(&["apply", "-n", &ns, "-f", "-"], Some(&dump));
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );

    let waited = e2e::kubectl(
        &[
            "wait",
            "-n",
            &ns,
            "--for=condition=Ready",
            "dump/world",
            "--timeout=30s",
        ],
        None,
    );
    let status = e2e::kubectl(&["get", "dump", "world", "-n", &ns, "-o", "json"], None);
    let dump: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(waited.status.success(), "not Ready: {}", dump["status"]);
    assert_eq!(dump["status"]["phase"], "Ready");
    assert_eq!(dump["status"]["tables"], 3);
    assert_eq!(
        dump["status"]["observedGeneration"],
        dump["metadata"]["generation"]
    );
    let listed =
        String::from_utf8(e2e::kubectl(&["get", "dumps", "-n", &ns], None).stdout).unwrap();
    assert!(listed.lines().nth(1).unwrap().contains("Ready"), "{listed}");

    let sandbox = dump["status"]["databases"][0]["sandbox"].as_str().unwrap();
    let url = admin_server_url().with_database(sandbox);
    let mut conn = PgConnection::connect_with(&url.connect_options())
        .await
        .unwrap();
    let cities: i64 = sqlx::query_scalar("SELECT count(*) FROM city")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(cities, 4079);
    drop(conn);

    let scraped = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scraped.contains("dumplens_dumps{phase=\"Ready\"} 1"),
        "{scraped}"
    );
    assert!(
        scraped.contains("dumplens_restore_duration_seconds_count 1"),
        "{scraped}"
    );
    assert!(
        !scraped.contains("dumplens_reconciles_total 0"),
        "{scraped}"
    );
    let health = reqwest::get(format!("http://{metrics_addr}/healthz"))
        .await
        .unwrap();
    assert!(health.status().is_success());

    let id = dump["metadata"]["uid"].as_str().unwrap().replace('-', "");
    assert_eq!(
        lens::testing::sandbox_objects(&id).await,
        2,
        "role and database"
    );
    let deleted = e2e::kubectl(
        &["delete", "dump", "world", "-n", &ns, "--timeout=60s"],
        None,
    );
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    assert_eq!(lens::testing::sandbox_objects(&id).await, 0);
    let secret = e2e::kubectl(&["get", "secret", &format!("dl-{id}"), "-n", &ns], None);
    assert!(!secret.status.success(), "the Secret outlived its Dump");
    for _ in 0..100 {
        let jobs = e2e::kubectl(&["get", "jobs", "-n", &ns, "-o", "name"], None);
        if jobs.stdout.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the restore Job outlived its Dump");
}
