//! The operator on the real control plane, run as `dumplens operator` (one process for the
//! whole test binary, as in a cluster): Dumps of every source become Ready through restore
//! Jobs and hold exactly the fixtures' facts; TTLs, failures, restarts, concurrency and hostile
//! dumps; and nothing is left when a Dump goes.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use lens::testing::{admin_server_url, expected_facts, fixture, sandbox_objects, serve_over_http};
use serde_json::Value;
use sqlx::{Connection, PgConnection};

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

/// The operator process every test here shares.
struct Operator {
    process: tokio::sync::Mutex<e2e::OperatorProcess>,
    log: PathBuf,
    /// The namespace whose `uploads` claim the operator was told is the uploads volume.
    uploads_namespace: String,
}

static OPERATOR: OnceLock<Operator> = OnceLock::new();

/// Tests that read the operator's metrics or restart it take the process's lock for their
/// whole run, so they do not meet.
fn operator() -> &'static Operator {
    OPERATOR.get_or_init(|| {
        let uploads_namespace = format!("uploads-{}", std::process::id());
        let created = e2e::kubectl(&["create", "namespace", &uploads_namespace], None);
        assert!(created.status.success(), "{created:?}");
        let uploads_dir = e2e::claim_dir(&uploads_namespace, "uploads");
        let args: Vec<&OsStr> = [
            "--restore-command",
            DUMPLENS,
            "--uploads-claim",
            "uploads",
            "--sweep-interval",
            "1s",
            "--ui-url",
            "https://lens.example",
            "--uploads-dir",
        ]
        .iter()
        .map(OsStr::new)
        .chain([uploads_dir.as_os_str()])
        .collect();
        let process =
            e2e::OperatorProcess::start(Path::new(DUMPLENS), admin_server_url().as_str(), &args);
        Operator {
            log: process.log.clone(),
            process: tokio::sync::Mutex::new(process),
            uploads_namespace,
        }
    })
}

/// A namespace of the test's own, with the shared operator running.
async fn test_namespace() -> String {
    operator();
    e2e::namespace(&e2e::client().await).await
}

/// Serves fixture `name` over HTTP; returns its URL.
fn serve_fixture(name: &str) -> String {
    let base = serve_over_http(std::fs::read(fixture(name)).unwrap());
    format!("{base}/{name}")
}

fn apply(ns: &str, manifest: &str) {
    let applied = e2e::kubectl(&["apply", "-n", ns, "-f", "-"], Some(manifest));
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
}

fn url_dump(name: &str, url: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: dumplens.io/v1alpha1\nkind: Dump\nmetadata:\n  name: {name}\nspec:\n  source:\n    url:\n      url: {url}\n{extra_spec}"
    )
}

fn get(ns: &str, name: &str) -> Option<Value> {
    let out = e2e::kubectl(&["get", "dump", name, "-n", ns, "-o", "json"], None);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

/// Waits for `condition` (as `kubectl wait --for` takes it) and returns the Dump.
fn wait_for(ns: &str, name: &str, condition: &str) -> Value {
    let waited = e2e::kubectl(
        &[
            "wait",
            "-n",
            ns,
            condition,
            &format!("dump/{name}"),
            "--timeout=90s",
        ],
        None,
    );
    let dump = get(ns, name);
    assert!(
        waited.status.success(),
        "{name} never met {condition}: {}\n{dump:?}\noperator log: {}",
        String::from_utf8_lossy(&waited.stderr),
        operator().log.display()
    );
    dump.unwrap()
}

fn wait_ready(ns: &str, name: &str) -> Value {
    wait_for(ns, name, "--for=condition=Ready")
}

/// Waits until `check` holds, polling; panics with `what` after 60 s.
async fn eventually<F: AsyncFn() -> bool>(what: &str, check: F) {
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}; operator log: {}", operator().log.display());
}

fn sandbox_id(dump: &Value) -> String {
    dump["metadata"]["uid"].as_str().unwrap().replace('-', "")
}

/// Checks that the Dump's (first) sandbox holds exactly the rows `EXPECTED.json` gives for
/// `facts`.
async fn assert_facts(dump: &Value, facts: &str) {
    let database = dump["status"]["databases"][0]["sandbox"].as_str().unwrap();
    assert_database_facts(database, facts).await;
}

async fn assert_database_facts(database: &str, facts: &str) {
    let expected = &expected_facts()["facts"][facts]["rows_only"];
    let url = admin_server_url().with_database(database);
    let mut conn = PgConnection::connect_with(&url.connect_options())
        .await
        .unwrap();
    for (table, rows) in expected.as_object().unwrap() {
        let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM ONLY {table}"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(Some(count), rows.as_i64(), "{table} in {database}");
    }
}

fn table_count(facts: &str) -> usize {
    expected_facts()["facts"][facts]["rows_only"]
        .as_object()
        .unwrap()
        .len()
}

fn delete(ns: &str, name: &str) {
    let deleted = e2e::kubectl(&["delete", "dump", name, "-n", ns, "--timeout=60s"], None);
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
}

fn exists(ns: &str, kind: &str, name: &str) -> bool {
    e2e::kubectl(&["get", kind, name, "-n", ns], None)
        .status
        .success()
}

async fn gone(ns: &str, kind: &str, name: &str) {
    eventually(&format!("{kind} {name} outlived its Dump"), async || {
        !exists(ns, kind, name)
    })
    .await;
}

async fn stored_schema_graphs(id: &str) -> i64 {
    let url = admin_server_url().with_database(lens::store::DATABASE);
    let mut conn = PgConnection::connect_with(&url.connect_options())
        .await
        .unwrap();
    sqlx::query_scalar("SELECT count(*) FROM schema_graphs WHERE dump_id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_url_dump_becomes_ready_and_leaves_nothing_when_deleted() {
    let operator = operator().process.lock().await;
    let ns = test_namespace().await;
    apply(
        &ns,
        &url_dump("world", &serve_fixture("world.pg18.custom.dump"), ""),
    );

    let dump = wait_ready(&ns, "world");
    let status = &dump["status"];
    assert_eq!(status["phase"], "Ready");
    assert_eq!(status["tables"], table_count("world"));
    assert_eq!(status["observedGeneration"], dump["metadata"]["generation"]);
    assert_eq!(status["dumpFormat"], "custom");
    assert_eq!(status["pgDumpVersion"], "18.6");
    assert_eq!(status["databases"][0]["name"], "world");
    assert!(
        status["postgresVersion"]
            .as_str()
            .unwrap()
            .starts_with("18."),
        "{status}"
    );
    assert!(
        status["sizeBytes"].as_i64().unwrap() > 1_000_000,
        "{status}"
    );
    assert!(status["restoredAt"].is_string(), "{status}");
    assert!(status["expiresAt"].is_null(), "no TTL, no expiry: {status}");
    assert_eq!(
        status["url"],
        format!("https://lens.example/dumps/{}", sandbox_id(&dump))
    );
    let listed =
        String::from_utf8(e2e::kubectl(&["get", "dumps", "-n", &ns], None).stdout).unwrap();
    let row: Vec<&str> = listed.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..3], ["world", "Ready", "3"], "{listed}");
    assert_facts(&dump, "world").await;

    let id = sandbox_id(&dump);
    assert_eq!(stored_schema_graphs(&id).await, 1);
    let events = e2e::kubectl(
        &[
            "get",
            "events",
            "-n",
            &ns,
            "--field-selector",
            "involvedObject.name=world",
            "-o",
            "json",
        ],
        None,
    );
    let events: Value = serde_json::from_slice(&events.stdout).unwrap();
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"Restoring") && reasons.contains(&"Ready"),
        "{reasons:?}"
    );

    let scraped = operator.scrape().await;
    assert!(
        scraped.contains("dumplens_dumps{phase=\"Ready\"}"),
        "{scraped}"
    );
    assert!(
        !scraped.contains("dumplens_restore_duration_seconds_count 0"),
        "{scraped}"
    );
    assert!(
        !scraped.contains("dumplens_reconciles_total 0"),
        "{scraped}"
    );
    let health = reqwest::get(format!("http://{}/healthz", operator.metrics))
        .await
        .unwrap();
    assert!(health.status().is_success());

    assert_eq!(sandbox_objects(&id).await, 2, "role and database");
    delete(&ns, "world");
    assert_eq!(sandbox_objects(&id).await, 0);
    assert_eq!(stored_schema_graphs(&id).await, 0);
    assert!(
        !exists(&ns, "secret", &format!("dl-{id}")),
        "the Secret outlived its Dump"
    );
    gone(&ns, "job", &format!("dl-{id}-restore")).await;
}

#[tokio::test]
async fn s3_pvc_and_upload_sources_restore_side_by_side() {
    let operator = operator();
    let ns = test_namespace().await;
    // s3: a private object, the credentials in a Secret.
    let s3 = lens::testing::s3_server();
    s3.put(
        "team/pagila.dump",
        std::fs::read(fixture("pagila.pg18.custom.dump")).unwrap(),
    )
    .await;
    let credentials = &lens::testing::S3_CREDENTIALS;
    let secret = e2e::kubectl(
        &[
            "create",
            "secret",
            "generic",
            "s3-login",
            "-n",
            &ns,
            &format!("--from-literal=accessKeyId={}", credentials.key()),
            &format!("--from-literal=secretAccessKey={}", credentials.secret()),
        ],
        None,
    );
    assert!(secret.status.success(), "{secret:?}");
    // pvc: a file on a claim of the namespace.
    let claim = e2e::claim_dir(&ns, "dumps");
    std::fs::create_dir_all(claim.join("nightly")).unwrap();
    std::fs::copy(
        fixture("chinook.pg15.sql"),
        claim.join("nightly/chinook.sql"),
    )
    .unwrap();
    // upload: a file the api stored on the uploads volume (in the api's namespace).
    let uploads = e2e::claim_dir(&operator.uploads_namespace, "uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    let upload_id = lens::sandbox::new_id();
    std::fs::copy(fixture("world.pg18.custom.dump"), uploads.join(&upload_id)).unwrap();

    apply(
        &ns,
        &format!(
            "apiVersion: dumplens.io/v1alpha1\nkind: Dump\nmetadata:\n  name: pagila\nspec:\n  source:\n    s3:\n      bucket: {}\n      key: team/pagila.dump\n      endpoint: {}\n      credentialsSecretRef:\n        name: s3-login\n---\napiVersion: dumplens.io/v1alpha1\nkind: Dump\nmetadata:\n  name: chinook\nspec:\n  source:\n    pvc:\n      claim: dumps\n      path: /nightly/chinook.sql\n",
            lens::testing::S3_BUCKET,
            s3.endpoint
        ),
    );
    let upload_ns = &operator.uploads_namespace;
    apply(
        upload_ns,
        &format!(
            "apiVersion: dumplens.io/v1alpha1\nkind: Dump\nmetadata:\n  name: world-{upload_id}\nspec:\n  source:\n    upload:\n      id: {upload_id}\n"
        ),
    );

    let pagila = wait_ready(&ns, "pagila");
    let chinook = wait_ready(&ns, "chinook");
    let world = wait_ready(upload_ns, &format!("world-{upload_id}"));
    assert_eq!(pagila["status"]["tables"], table_count("pagila"));
    assert_eq!(chinook["status"]["dumpFormat"], "plain");
    assert_facts(&pagila, "pagila").await;
    assert_facts(&chinook, "chinook").await;
    assert_facts(&world, "world").await;

    // Deleting an upload's Dump deletes the uploaded file.
    delete(upload_ns, &format!("world-{upload_id}"));
    assert!(
        !uploads.join(&upload_id).exists(),
        "the upload outlived its Dump"
    );
    assert_eq!(sandbox_objects(&sandbox_id(&world)).await, 0);
    // A pvc's file is the user's: it stays.
    delete(&ns, "chinook");
    assert!(claim.join("nightly/chinook.sql").exists());
}

#[tokio::test]
async fn ttl_expiry_drops_the_sandbox_or_deletes_the_dump() {
    let ns = test_namespace().await;
    let url = serve_fixture("world.pg18.custom.dump");
    apply(&ns, &url_dump("kept", &url, "  ttl: 4s\n"));
    apply(
        &ns,
        &url_dump("deleted", &url, "  ttl: 4s\n  expiryPolicy: Delete\n"),
    );
    let kept = wait_ready(&ns, "kept");
    let deleted = wait_ready(&ns, "deleted");
    let restored: k8s_openapi::jiff::Timestamp = kept["status"]["restoredAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expires: k8s_openapi::jiff::Timestamp = kept["status"]["expiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(expires.duration_since(restored).as_secs(), 4);

    let expired = wait_for(&ns, "kept", "--for=jsonpath={.status.phase}=Expired");
    let id = sandbox_id(&kept);
    assert_eq!(sandbox_objects(&id).await, 0);
    assert!(!exists(&ns, "secret", &format!("dl-{id}")));
    assert_eq!(expired["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(expired["status"]["conditions"][0]["status"], "False");
    let message = expired["status"]["message"].as_str().unwrap();
    assert!(message.contains("the TTL (4s) ran out"), "{message}");

    gone(&ns, "dump", "deleted").await;
    assert_eq!(sandbox_objects(&sandbox_id(&deleted)).await, 0);
    // An Expired Dump is kept (so GitOps does not recreate it) and can then be deleted.
    delete(&ns, "kept");
}

#[tokio::test]
async fn a_corrupt_dump_fails_with_a_message_a_person_can_act_on() {
    let ns = test_namespace().await;
    let bytes = std::fs::read(fixture("pagila.pg18.sql.gz")).unwrap();
    let base = serve_over_http(bytes[..bytes.len() / 2].to_vec());
    apply(
        &ns,
        &url_dump("truncated", &format!("{base}/pagila.sql.gz"), ""),
    );
    apply(
        &ns,
        &url_dump(
            "old-server",
            &format!("{base}/pagila.sql.gz"),
            "  restore:\n    postgresVersion: \"9\"\n",
        ),
    );
    for (name, says) in [
        ("truncated", "truncated"),
        (
            "old-server",
            "asks for PostgreSQL 9; the sandbox server runs 18.",
        ),
    ] {
        let dump = wait_for(&ns, name, "--for=condition=Stalled");
        assert_eq!(dump["status"]["phase"], "Failed");
        let message = dump["status"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{name}: {message}");
        let ready = &dump["status"]["conditions"][0];
        assert_eq!(
            (&ready["type"], &ready["status"]),
            (&"Ready".into(), &"False".into())
        );
        // A failed restore's sandbox is of no use: it is dropped at once.
        assert_eq!(sandbox_objects(&sandbox_id(&dump)).await, 0, "{name}");
    }
}

#[tokio::test]
async fn an_operator_killed_mid_restore_finishes_it_once_after_a_restart() {
    let mut operator = operator().process.lock().await;
    let ns = test_namespace().await;
    // A script that pauses at its end keeps the restore running while the operator is down.
    let mut script = std::fs::read(fixture("chinook.pg15.sql")).unwrap();
    script.extend_from_slice(b"\nSELECT pg_sleep(3);\n");
    let base = serve_over_http(script);
    apply(&ns, &url_dump("slow", &format!("{base}/chinook.sql"), ""));
    let restoring = wait_for(&ns, "slow", "--for=jsonpath={.status.phase}=Restoring");
    let id = sandbox_id(&restoring);
    let job = format!("dl-{id}-restore");
    let uid_of_job = || {
        let out = e2e::kubectl(
            &[
                "get",
                "job",
                &job,
                "-n",
                &ns,
                "-o",
                "jsonpath={.metadata.uid}",
            ],
            None,
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first_job = uid_of_job();
    assert!(!first_job.is_empty());
    operator.kill_and_restart();

    let dump = wait_ready(&ns, "slow");
    assert_facts(&dump, "chinook").await;
    assert_eq!(uid_of_job(), first_job, "the restore Job was made again");
    assert_eq!(sandbox_objects(&id).await, 2, "one role, one database");
    delete(&ns, "slow");
}

#[tokio::test]
async fn the_same_source_twice_gives_two_independent_sandboxes() {
    let ns = test_namespace().await;
    let url = serve_fixture("world.pg18.custom.dump");
    apply(&ns, &url_dump("first", &url, ""));
    apply(&ns, &url_dump("second", &url, ""));
    let first = wait_ready(&ns, "first");
    let second = wait_ready(&ns, "second");
    assert_ne!(
        first["status"]["databases"][0]["sandbox"],
        second["status"]["databases"][0]["sandbox"]
    );
    delete(&ns, "first");
    assert_facts(&second, "world").await;
    delete(&ns, "second");
}

#[tokio::test]
async fn a_hostile_dump_cannot_touch_another_dumps_database() {
    let ns = test_namespace().await;
    apply(
        &ns,
        &url_dump("victim", &serve_fixture("world.pg18.custom.dump"), ""),
    );
    let victim = wait_ready(&ns, "victim");
    let victim_role = format!("dl_{}", sandbox_id(&victim));
    let victim_db = victim["status"]["databases"][0]["sandbox"]
        .as_str()
        .unwrap();
    // Statements the restore engine passes to the server, aimed at the victim's role and
    // database from inside a DO block, where the engine cannot see them.
    let script = format!(
        "CREATE TABLE t (x int);\n\
         DO $$ BEGIN EXECUTE 'ALTER ROLE {victim_role} PASSWORD ''taken'''; END $$;\n\
         DO $$ BEGIN EXECUTE 'ALTER DATABASE {victim_db} RENAME TO taken'; END $$;\n"
    );
    let hostile = serve_over_http(script.into_bytes());
    apply(
        &ns,
        &url_dump("hostile", &format!("{hostile}/hostile.sql"), ""),
    );
    let dump = wait_for(&ns, "hostile", "--for=condition=Stalled");
    let message = dump["status"]["message"].as_str().unwrap();
    assert!(message.contains("permission denied"), "{message}");

    // The victim still works with its own login and holds all its rows.
    let secrets: kube::Api<Secret> = kube::Api::namespaced(e2e::client().await, &ns);
    let secret = secrets
        .get(&format!("dl-{}", sandbox_id(&victim)))
        .await
        .unwrap();
    let login = &secret.data.unwrap()["DUMPLENS_TARGET_URL"].0;
    let login: lens::conninfo::ServerUrl = std::str::from_utf8(login).unwrap().parse().unwrap();
    PgConnection::connect_with(&login.connect_options())
        .await
        .unwrap();
    assert_facts(&victim, "world").await;
    delete(&ns, "victim");
}

#[tokio::test]
async fn the_sweep_drops_sandboxes_no_dump_owns() {
    operator();
    let id = lens::sandbox::new_id();
    let names = lens::sandbox::SandboxNames::new(&id, 1).unwrap();
    let mut admin = lens::sandbox::connect(&admin_server_url().connect_options())
        .await
        .unwrap();
    lens::sandbox::create(&mut admin, &names, &lens::sandbox::new_password())
        .await
        .unwrap();
    eventually("the orphan sandbox was not swept", async || {
        sandbox_objects(&id).await == 0
    })
    .await;
}

#[tokio::test]
async fn a_pg_dumpall_file_gets_a_sandbox_database_for_each_database() {
    let ns = test_namespace().await;
    let name = "cluster.pg18.dumpall.sql";
    apply(&ns, &url_dump("cluster", &serve_fixture(name), ""));
    let dump = wait_ready(&ns, "cluster");
    let expected = &expected_facts()["files"][name]["databases"];
    let databases = dump["status"]["databases"].as_array().unwrap();
    assert_eq!(
        databases.len(),
        expected.as_object().unwrap().len(),
        "{dump}"
    );
    let mut tables = 0;
    for database in databases {
        let facts = expected[database["name"].as_str().unwrap()]
            .as_str()
            .unwrap();
        assert_database_facts(database["sandbox"].as_str().unwrap(), facts).await;
        tables += table_count(facts);
    }
    assert_eq!(dump["status"]["tables"], tables);
    let id = sandbox_id(&dump);
    assert_eq!(stored_schema_graphs(&id).await, databases.len() as i64);
    // The first Job found out how many databases were needed; only the second is left.
    gone(&ns, "job", &format!("dl-{id}-restore")).await;
    delete(&ns, "cluster");
    assert_eq!(sandbox_objects(&id).await, 0);
    gone(&ns, "job", &format!("dl-{id}-restore-all")).await;
}
