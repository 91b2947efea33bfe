//! The operator on the real control plane, run as `dumplens operator` (one process for the
//! whole test binary, as in a cluster): Dumps of every source become Ready through restore
//! Jobs and hold exactly the fixtures' facts; TTLs, failures, restarts, concurrency and hostile
//! dumps; and nothing is left when a Dump goes.

mod common;

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

/// A connection to the metadata store, as the admin.
async fn store() -> PgConnection {
    let url = admin_server_url().with_database(lens::store::DATABASE);
    PgConnection::connect_with(&url.connect_options())
        .await
        .unwrap()
}

/// Rows of dump `id` in `table` of the metadata store.
async fn stored(table: &str, id: &str) -> i64 {
    let mut conn = store().await;
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE dump_id = $1"))
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// Waits until the operator has stored fingerprints of dump `id` (it takes them after Ready,
/// as the dump's reader, which it makes for that).
async fn wait_fingerprinted(id: &str) {
    for _ in 0..300 {
        if stored("fingerprints", id).await > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no fingerprints of {id} were stored");
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
    assert_eq!(stored("schema_graphs", &id).await, 1);
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

    wait_fingerprinted(&id).await;
    assert_eq!(sandbox_objects(&id).await, 3, "role, reader and database");
    delete(&ns, "world");
    assert_eq!(sandbox_objects(&id).await, 0);
    assert_eq!(stored("fingerprints", &id).await, 0);
    assert_eq!(stored("schema_graphs", &id).await, 0);
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
    wait_fingerprinted(&id).await;
    assert_eq!(
        sandbox_objects(&id).await,
        3,
        "one role, its reader, one database"
    );
    // Fingerprints an operator did not get to are taken by the next one.
    sqlx::query("DELETE FROM fingerprints WHERE dump_id = $1")
        .bind(&id)
        .execute(&mut store().await)
        .await
        .unwrap();
    operator.kill_and_restart();
    wait_fingerprinted(&id).await;
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
    assert_eq!(stored("schema_graphs", &id).await, databases.len() as i64);
    // The first Job found out how many databases were needed; only the second is left.
    gone(&ns, "job", &format!("dl-{id}-restore")).await;
    delete(&ns, "cluster");
    assert_eq!(sandbox_objects(&id).await, 0);
    gone(&ns, "job", &format!("dl-{id}-restore-all")).await;
}

/// `dumplens api` over this control plane, with API tokens from a Secret in the uploads
/// namespace and a trusted proxy header.
struct ApiServer {
    process: e2e::ApiProcess,
    token: String,
    document: Value,
}

async fn api_server() -> &'static ApiServer {
    static API: tokio::sync::OnceCell<ApiServer> = tokio::sync::OnceCell::const_new();
    API.get_or_init(|| async {
        let ns = &operator().uploads_namespace;
        let token = lens::sandbox::random_hex(16);
        // Applied, not created: a test that failed to start the api leaves the Secret for the
        // next to reuse.
        apply(
            ns,
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-tokens\nstringData:\n  ci: {token}\n"
            ),
        );
        let uploads = e2e::claim_dir(ns, "uploads");
        let flags = [
            "--namespace",
            ns.as_str(),
            "--tokens-secret",
            "api-tokens",
            "--trusted-proxy-header",
            "X-Forwarded-User",
            "--uploads-dir",
        ];
        let args: Vec<&OsStr> = flags
            .iter()
            .map(OsStr::new)
            .chain([uploads.as_os_str()])
            .collect();
        let process =
            e2e::ApiProcess::start(Path::new(DUMPLENS), admin_server_url().as_str(), &args).await;
        // The document is public: no token needed.
        let document = reqwest::get(format!("{}/api/v1/openapi.json", process.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ApiServer {
            process,
            token,
            document,
        }
    })
    .await
}

/// Calls the api with `headers`; every JSON answer is checked against its OpenAPI document.
async fn call(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let api = api_server().await;
    let mut request = reqwest::Client::new().request(
        method.to_uppercase().parse().unwrap(),
        format!("{}{path}", api.process.url),
    );
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    if status == 401 {
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"dumplens\""
        );
    }
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if content_type.contains("json") {
        common::conforms(&api.document, method, path, status, &content_type, &body);
    }
    (status, body)
}

/// Polls dump `id` through the api (as an API caller) until it is Ready.
async fn api_ready(id: &str, bearer: &str) -> Value {
    for _ in 0..900 {
        let (status, dump) = call(
            "get",
            &format!("/api/v1/dumps/{id}"),
            &[("authorization", bearer)],
            None,
        )
        .await;
        if status == 200 && dump["phase"] == "Ready" {
            return dump;
        }
        assert_ne!(dump["phase"], "Failed", "{dump}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "dump {id} never became Ready; api log {}, operator log {}",
        api_server().await.process.log.display(),
        operator().log.display()
    );
}

#[tokio::test]
async fn the_api_on_kubernetes_needs_a_token_and_private_dumps_their_share_token() {
    let api = api_server().await;
    let ns = &operator().uploads_namespace;
    let bearer = format!("Bearer {}", api.token);
    let auth = [("authorization", bearer.as_str())];

    // Without a token only health, version and the document answer.
    assert_eq!(call("get", "/api/v1/dumps", &[], None).await.0, 401);
    let wrong = [("authorization", "Bearer not-the-token")];
    assert_eq!(call("get", "/api/v1/dumps", &wrong, None).await.0, 401);
    assert_eq!(call("get", "/healthz", &[], None).await.0, 200);
    assert_eq!(call("get", "/api/v1/version", &[], None).await.0, 200);
    let proxied = [("x-forwarded-user", "ann")];
    assert_eq!(call("get", "/api/v1/dumps", &proxied, None).await.0, 200);

    // An upload becomes a Private Dump in the api's namespace, with a share token.
    let file = std::fs::read(fixture("pagila.pg18.custom.dump")).unwrap();
    let new_upload = serde_json::json!({"name": "pagila.dump", "size": file.len()});
    let (status, upload) = call("post", "/api/v1/uploads", &auth, Some(new_upload)).await;
    assert_eq!(status, 201, "{upload}");
    let upload_id = upload["id"].as_str().unwrap().to_string();
    let response = reqwest::Client::new()
        .put(format!("{}/api/v1/uploads/{upload_id}", api.process.url))
        .header("authorization", &bearer)
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let uploaded: Value = response.json().await.unwrap();
    assert_eq!(uploaded["sha256"], lens::testing::sha256_hex(&file));
    let dump = &uploaded["dump"];
    assert_eq!(dump["namespace"], ns.as_str());
    assert_eq!(dump["visibility"], "Private");
    let id = dump["id"].as_str().unwrap().to_string();
    let share = uploaded["shareToken"].as_str().unwrap().to_string();
    assert_eq!(share.len(), 64, "256 random bits, hex");

    // The resource keeps the token's hash, not the token.
    let name = dump["name"].as_str().unwrap();
    let resource = get(ns, name).unwrap();
    assert_eq!(
        resource["spec"]["source"]["upload"]["id"],
        upload_id.as_str()
    );
    let kept = &resource["metadata"]["annotations"]["dumplens.io/share-token-sha256"];
    assert_eq!(*kept, lens::testing::sha256_hex(share.as_bytes()));
    assert!(!resource.to_string().contains(&share));

    api_ready(&id, &bearer).await;
    let databases = format!("/api/v1/dumps/{id}/databases");
    // An API token alone does not read a Private dump's data, however the id is spelled.
    let (status, problem) = call("get", &databases, &auth, None).await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("X-Share-Token")
    );
    let spelled = format!(
        "/api/v1/dumps/%{:02x}{}/databases",
        id.as_bytes()[0],
        &id[1..]
    );
    assert_eq!(call("get", &spelled, &auth, None).await.0, 403);
    // The share token alone does.
    let shared = [("x-share-token", share.as_str())];
    let (status, listed) = call("get", &databases, &shared, None).await;
    assert_eq!(status, 200, "{listed}");
    let sandbox = listed[0]["sandbox"].as_str().unwrap().to_string();
    let rows = format!(
        "/api/v1/dumps/{id}/databases/{sandbox}/tables/public/customer/rows?f.customer_id=eq:1"
    );
    let (status, page) = call("get", &rows, &shared, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["rows"][0]["first_name"], "MARY", "{page}");
    let sql = format!("/api/v1/dumps/{id}/databases/{sandbox}/sql");
    let count = serde_json::json!({"sql": "SELECT count(*) AS films FROM film"});
    let (status, result) = call("post", &sql, &shared, Some(count)).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["rows"][0]["films"], 1000, "{result}");
    // ...and nothing else: not the list, not deleting, not another token.
    assert_eq!(call("get", "/api/v1/dumps", &shared, None).await.0, 401);
    assert_eq!(
        call("delete", &format!("/api/v1/dumps/{id}"), &shared, None)
            .await
            .0,
        401
    );
    let forged = [("x-share-token", "0".repeat(64))];
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(call("get", &databases, &forged, None).await.0, 401);

    // A new share token replaces the old one.
    let renew = format!("/api/v1/dumps/{id}/share-token");
    assert_eq!(call("post", &renew, &shared, None).await.0, 401);
    let (status, renewed) = call("post", &renew, &auth, None).await;
    assert_eq!(status, 200, "{renewed}");
    let new_share = renewed["shareToken"].as_str().unwrap();
    assert_eq!(call("get", &databases, &shared, None).await.0, 401);
    let new_shared = [("x-share-token", new_share)];
    assert_eq!(call("get", &databases, &new_shared, None).await.0, 200);

    // A diff reads both sides: a Private side needs its share token too.
    let diff = format!("/api/v1/dumps/{id}/databases/{sandbox}/diff/{id}/{sandbox}/schema");
    assert_eq!(call("get", &diff, &auth, None).await.0, 403);
    let (status, same) = call("get", &diff, &new_shared, None).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["changes"], serde_json::json!([]));

    // Deleting through the api deletes the Dump; the operator drops the sandbox and the file.
    let (status, _) = call("delete", &format!("/api/v1/dumps/{id}"), &auth, None).await;
    assert_eq!(status, 204);
    let uploaded_file = e2e::claim_dir(ns, "uploads").join(&upload_id);
    eventually("the Dump, its sandbox and its file are gone", async || {
        get(ns, name).is_none() && !uploaded_file.exists() && sandbox_objects(&id).await == 0
    })
    .await;
    assert_eq!(
        call("get", &format!("/api/v1/dumps/{id}"), &auth, None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn the_api_on_kubernetes_makes_dumps_from_urls_and_the_cli_uploads_to_it() {
    let api = api_server().await;
    let bearer = format!("Bearer {}", api.token);
    let auth = [("authorization", bearer.as_str())];

    // Bad sources and TTLs are refused before anything is created.
    for (body, says) in [
        (
            serde_json::json!({"source": {"url": {"url": "file:///etc/passwd"}}}),
            "not an http",
        ),
        (
            serde_json::json!({"source": {"url": {"url": "https://x.test/d", "sha256": "ABC"}}}),
            "SHA-256",
        ),
        (
            serde_json::json!({"source": {"s3": {"bucket": "", "key": "k"}}}),
            "bucket",
        ),
        (
            serde_json::json!({"source": {"url": {"url": "https://x.test/d"}}, "ttl": "5w"}),
            "ttl",
        ),
        (
            serde_json::json!({"source": {"url": {"url": "https://x.test/d"}}, "name": "a/b"}),
            "name",
        ),
        (
            serde_json::json!({"source": {"ftp": {}}}),
            "unknown variant",
        ),
    ] {
        let (status, problem) = call("post", "/api/v1/dumps", &auth, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{body}: {problem}"
        );
    }

    // A Public dump from a URL: any API token reads it, and it has no share token.
    let url = serve_fixture("world.pg18.custom.dump");
    let body =
        serde_json::json!({"source": {"url": {"url": url}}, "visibility": "Public", "ttl": "1h"});
    let (status, created) = call("post", "/api/v1/dumps", &auth, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert!(created.get("shareToken").is_none(), "{created}");
    assert!(
        created["dump"]["name"]
            .as_str()
            .unwrap()
            .starts_with("world-pg18-custom-dump-"),
        "{created}"
    );
    let id = created["dump"]["id"].as_str().unwrap().to_string();
    let ready = api_ready(&id, &bearer).await;
    assert!(ready["expiresAt"].is_string(), "{ready}");
    assert_eq!(ready["tables"], 3);
    let (status, databases) =
        call("get", &format!("/api/v1/dumps/{id}/databases"), &auth, None).await;
    assert_eq!(status, 200, "{databases}");
    assert_eq!(databases[0]["name"], "world");
    let listed = call("get", "/api/v1/dumps", &auth, None).await.1;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == id.as_str()),
        "{listed}"
    );
    assert_eq!(
        call("delete", &format!("/api/v1/dumps/{id}"), &auth, None)
            .await
            .0,
        204
    );

    // The CLI with a token: it uploads, follows the Dump to Ready and prints its share token.
    let cache = lens::testing::reachable_tempdir();
    let output = std::process::Command::new(DUMPLENS)
        .args([
            "upload",
            "--json",
            "--ttl",
            "2h",
            "--server",
            &api.process.url,
        ])
        .arg(fixture("chinook.pg18.custom.dump"))
        .env("DUMPLENS_TOKEN", &api.token)
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["dump"]["phase"], "Ready", "{printed}");
    assert_eq!(printed["dump"]["tables"], 11, "{printed}");
    assert!(printed["dump"]["expiresAt"].is_string(), "{printed}");
    let id = printed["dump"]["id"].as_str().unwrap();
    let share = printed["shareToken"].as_str().unwrap();
    let shared = [("x-share-token", share)];
    assert_eq!(
        call(
            "get",
            &format!("/api/v1/dumps/{id}/databases"),
            &shared,
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call("delete", &format!("/api/v1/dumps/{id}"), &auth, None)
            .await
            .0,
        204
    );

    // Without the token the CLI says what the server wants.
    let refused = std::process::Command::new(DUMPLENS)
        .args(["upload", "--server", &api.process.url])
        .arg(fixture("chinook.pg18.custom.dump"))
        .env_remove("DUMPLENS_TOKEN")
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("401") && stderr.contains("API token"),
        "{stderr}"
    );
}
