//! The read API over HTTP against restored fixtures: databases, schema graphs, ER diagrams and
//! rows, with real values from pagila and chinook, and problem documents for bad requests;
//! world is there to be deleted.

use std::sync::OnceLock;
use std::time::Duration;

mod common;

use lens::testing::{admin_url, expected_facts, fixture};
use serde_json::Value;
use sqlx::Connection;

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

/// One `dumplens serve` (in this process, on a thread and runtime of its own) over the test
/// cluster, with pagila and chinook; its base URL.
fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let (ready, url) = std::sync::mpsc::channel();
        let options = api::standalone::ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: Some(lens::testing::reachable_tempdir().keep()),
            database_url: Some(admin_url().to_string()),
            pg_bindir: None,
            dumps: vec![
                fixture("pagila.pg18.custom.dump"),
                fixture("chinook.pg15.sql"),
                fixture("world.pg18.custom.dump"),
                fixture("pagila-v2.pg18.custom.dump"),
            ],
            ttl: None,
            sweep_interval: Duration::from_secs(3600),
            restore_program: Some(DUMPLENS.into()),
            max_upload_bytes: 50 << 20,
            access: api::access::Access::open(),
        };
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let served = api::standalone::serve(options, |url| {
                    ready.send(url.trim_end_matches('/').to_string()).unwrap()
                });
                if let Err(err) = served.await {
                    panic!("dumplens serve stopped: {err}");
                }
            })
        });
        url.recv_timeout(Duration::from_secs(120))
            .expect("dumplens serve started")
    })
}

/// GETs `path`; every JSON response is checked against the server's OpenAPI document.
async fn get(path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{}{path}", server())).await.unwrap();
    checked("get", path, response).await
}

/// POSTs `body` to `path`, checked like [`get`].
async fn post(path: &str, body: Value) -> (u16, Value) {
    let url = format!("{}{path}", server());
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    checked("post", path, response).await
}

async fn checked(method: &str, path: &str, response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if content_type.contains("json") {
        conforms(method, path, status, &content_type, &body).await;
    }
    (status, body)
}

/// The server's OpenAPI document.
async fn openapi() -> &'static Value {
    static DOCUMENT: tokio::sync::OnceCell<Value> = tokio::sync::OnceCell::const_new();
    DOCUMENT
        .get_or_init(|| async {
            let url = format!("{}/api/v1/openapi.json", server());
            reqwest::get(url).await.unwrap().json().await.unwrap()
        })
        .await
}

async fn conforms(method: &str, path: &str, status: u16, content_type: &str, body: &Value) {
    common::conforms(openapi().await, method, path, status, content_type, body);
}

async fn ok(path: &str) -> Value {
    let (status, body) = get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The id and first sandbox database of the dump named `name`, once it is Ready.
async fn ready(name: &str) -> (String, String) {
    for _ in 0..600 {
        let dumps = ok("/api/v1/dumps").await;
        let dump = dumps
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .cloned();
        match dump {
            Some(d) if d["phase"] == "Ready" => {
                let id = d["id"].as_str().unwrap().to_string();
                let databases = ok(&format!("/api/v1/dumps/{id}/databases")).await;
                let sandbox = databases[0]["sandbox"].as_str().unwrap().to_string();
                return (id, sandbox);
            }
            Some(d) if d["phase"] == "Failed" => panic!("{name} failed: {d}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("{name} never became Ready");
}

fn rows_path(id: &str, database: &str, table: &str, query: &str) -> String {
    let (schema, table) = table.split_once('.').unwrap();
    format!("/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/rows?{query}")
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let document = openapi().await;
    assert_eq!(document["openapi"], "3.1.0");
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    for path in [
        "/api/v1/dumps",
        "/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/rows",
        "/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/relationships",
    ] {
        assert!(
            paths.iter().any(|p| p.as_str() == path),
            "{path} in {paths:?}"
        );
    }
    let responses = &document["paths"]["/api/v1/dumps/{id}"]["get"]["responses"];
    let problem = &responses["404"]["content"]["application/problem+json"]["schema"];
    assert!(problem.is_object(), "{responses}");
    // The check every response here passes can fail.
    let dump = &responses["200"]["content"]["application/json"]["schema"];
    assert!(!common::schema_errors(document, dump, &serde_json::json!({"id": 5})).is_empty());
    assert!(
        !common::schema_errors(document, problem, &serde_json::json!({"status": "x"})).is_empty()
    );
}

#[tokio::test]
async fn databases_and_schema_of_a_restored_dump() {
    let (id, database) = ready("pagila.pg18.custom.dump").await;
    let databases = ok(&format!("/api/v1/dumps/{id}/databases")).await;
    assert_eq!(databases[0]["name"], "pagila");
    let expected = &expected_facts()["facts"]["pagila"]["rows_only"];
    assert_eq!(databases[0]["tables"], expected.as_object().unwrap().len());
    let schema = ok(&format!("/api/v1/dumps/{id}/databases/{database}/schema")).await;
    let customer = schema["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "customer")
        .unwrap();
    assert_eq!(customer["primaryKey"]["columns"][0], "customer_id");
    let (status, problem) = get(&format!("/api/v1/dumps/{id}/databases/postgres/schema")).await;
    assert_eq!(status, 404);
    assert_eq!(
        problem["detail"],
        format!("dump {id:?} has no database \"postgres\"")
    );
}

#[tokio::test]
async fn a_pagila_customers_rentals_through_filters_and_pages() {
    let (id, database) = ready("pagila.pg18.custom.dump").await;
    let path = rows_path(
        &id,
        &database,
        "public.customer",
        "f.email=eq:MARY.SMITH@sakilacustomer.org",
    );
    let mary = ok(&path).await;
    assert_eq!(mary["rows"].as_array().unwrap().len(), 1);
    let customer_id = mary["rows"][0]["customer_id"].as_i64().unwrap();
    assert_eq!(mary["rows"][0]["first_name"], "MARY");

    let query = format!("f.customer_id=eq:{customer_id}&count=exact&limit=10&sort=rental_date");
    let mut page = ok(&rows_path(&id, &database, "public.rental", &query)).await;
    let total = page["exactTotal"].as_i64().unwrap();
    assert!(total > 10, "{page}");
    let mut seen = 0;
    loop {
        let rows = page["rows"].as_array().unwrap();
        assert!(rows.iter().all(|r| r["customer_id"] == customer_id));
        seen += rows.len() as i64;
        let Some(next) = page["next"].as_str() else {
            break;
        };
        page = ok(&rows_path(
            &id,
            &database,
            "public.rental",
            &format!("{query}&after={next}"),
        ))
        .await;
    }
    assert_eq!(seen, total);
}

#[tokio::test]
async fn chinook_invoice_lines_of_an_invoice() {
    let (id, database) = ready("chinook.pg15.sql").await;
    let lines = ok(&rows_path(
        &id,
        &database,
        "public.invoice_line",
        "f.invoice_id=eq:1&count=exact",
    ))
    .await;
    let counted = lines["exactTotal"].as_i64().unwrap();
    assert_eq!(lines["rows"].as_array().unwrap().len() as i64, counted);
    assert!(counted > 0);
    assert!(lines["sql"].as_str().unwrap().contains("\"invoice_line\""));
}

#[tokio::test]
async fn er_diagrams_as_json_and_mermaid() {
    let (id, database) = ready("pagila.pg18.custom.dump").await;
    let base = format!("/api/v1/dumps/{id}/databases/{database}/er");
    let json = ok(&format!("{base}?schema=public&table=rental&depth=1")).await;
    assert!(
        json["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == "public.customer")
    );
    let (status, mermaid) = get(&format!("{base}?schema=public&table=rental&format=mermaid")).await;
    assert_eq!(status, 200);
    assert!(mermaid.as_str().unwrap().starts_with("erDiagram\n"));
    let (status, problem) = get(&format!("{base}?schema=public&table=rental&depth=9")).await;
    assert_eq!(
        (status, &problem["detail"]),
        (400, &Value::from("depth is 1 to 5"))
    );
}

#[tokio::test]
async fn bad_requests_are_problem_documents_naming_the_mistake() {
    let (id, database) = ready("pagila.pg18.custom.dump").await;
    for (query, status, says) in [
        ("sort=nope", 400, "has no column \"nope\""),
        ("f.customer_id=like:1", 400, "unknown filter \"like\""),
        (
            "f.customer_id=eq:abc",
            400,
            "invalid input syntax for type integer",
        ),
        ("limit=100000", 400, "limit is at most 1000"),
        ("after=garbage", 400, "cursor"),
        ("bogus=1", 400, "unknown query parameter \"bogus\""),
    ] {
        let (got, problem) = get(&rows_path(&id, &database, "public.customer", query)).await;
        assert_eq!(got, status, "{query}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{query}: {problem}"
        );
    }
    let (status, problem) = get(&rows_path(&id, &database, "public.\"customer\"", "")).await;
    assert_eq!(status, 404, "{problem}");
    let (status, _) = get("/api/v1/dumps/nope/databases").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_rows_relationships_and_the_row_a_key_points_at() {
    let (id, database) = ready("pagila.pg18.custom.dump").await;
    let base = format!("/api/v1/dumps/{id}/databases/{database}/tables/public");
    let explained = ok(&format!("{base}/film/relationships?k.film_id=1&samples=2")).await;
    assert_eq!(explained["row"]["film_id"], 1);
    assert_eq!(explained["delete"]["allowed"], false);
    let inventory = explained["inbound"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["table"] == "public.inventory")
        .unwrap();
    assert!(inventory["count"].as_i64().unwrap() > 0);
    assert_eq!(inventory["samples"].as_array().unwrap().len(), 2);
    assert!(
        ["low", "medium", "high", "critical"]
            .contains(&explained["risk"]["level"].as_str().unwrap())
    );

    let language = ok(&format!(
        "{base}/film/follow?constraint=film_language_id_fkey&k.film_id=1"
    ))
    .await;
    assert_eq!(language["table"], "public.language");
    assert_eq!(
        language["row"]["language_id"],
        explained["row"]["language_id"]
    );

    let (status, problem) = get(&format!("{base}/film/relationships?k.film_id=999999")).await;
    assert_eq!(status, 404, "{problem}");
    let (status, problem) = get(&format!("{base}/film/follow?k.film_id=1")).await;
    assert_eq!(
        (status, &problem["detail"]),
        (400, &Value::from("name the foreign key: constraint=NAME"))
    );
}

#[tokio::test]
async fn suggestions_for_a_filter() {
    let (id, database) = ready("pagila.pg18.custom.dump").await;
    let path = format!(
        "/api/v1/dumps/{id}/databases/{database}/tables/public/customer/columns/last_name/suggestions?prefix=smi&limit=3"
    );
    let suggested = ok(&path).await;
    assert_eq!(suggested["values"][0]["value"], "SMITH", "{suggested}");
    let (status, problem) = get(&format!("{path}&bogus=1")).await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `bogus`"),
        "{problem}"
    );
    let (status, problem) = get("/api/v1/nothing").await;
    assert_eq!(
        (status, &problem["detail"]),
        (404, &Value::from("there is no /api/v1/nothing here"))
    );
}

#[tokio::test]
async fn searching_every_table_for_text() {
    let (id, database) = ready("pagila.pg18.custom.dump").await;
    let found = ok(&format!(
        "/api/v1/dumps/{id}/databases/{database}/search?q=MARY.SMITH@&limit=10"
    ))
    .await;
    assert_eq!(found["complete"], true);
    assert_eq!(found["matches"][0]["table"], "public.customer", "{found}");
    let (status, problem) = get(&format!("/api/v1/dumps/{id}/databases/{database}/search")).await;
    assert_eq!(status, 400, "{problem}");
}

#[tokio::test]
async fn the_sql_console_reads_and_cannot_write_or_reach_another_dump() {
    let (id, database) = ready("pagila.pg18.custom.dump").await;
    let sql = format!("/api/v1/dumps/{id}/databases/{database}/sql");
    let result = post(&sql, serde_json::json!({"sql": "SELECT first_name, last_name FROM customer ORDER BY customer_id LIMIT 3;"})).await.1;
    assert_eq!(result["rows"][0]["first_name"], "MARY", "{result}");
    assert_eq!(result["columns"][1]["name"], "last_name");
    let capped = post(
        &sql,
        serde_json::json!({"sql": "SELECT * FROM rental", "maxRows": 5}),
    )
    .await
    .1;
    assert_eq!(
        (
            capped["rows"].as_array().unwrap().len(),
            &capped["truncated"]
        ),
        (5, &Value::Bool(true))
    );
    let plan = post(
        &sql,
        serde_json::json!({"sql": "SELECT * FROM film WHERE film_id = 1", "explain": "plan"}),
    )
    .await
    .1;
    assert!(plan["plan"][0]["Plan"]["Node Type"].is_string(), "{plan}");

    for (statement, says) in [
        ("DELETE FROM rental", "this statement returns no rows"),
        (
            "WITH d AS (DELETE FROM rental RETURNING *) SELECT count(*) FROM d",
            "permission denied",
        ),
        ("SELECT lo_creat(-1)", "read-only transaction"),
        (
            "SELECT 1; DROP TABLE rental",
            "cannot insert multiple commands",
        ),
        (
            "SELECT set_config('transaction_read_only', 'off', true)",
            "read-write",
        ),
        ("SELECT pg_read_file('/etc/passwd')", "permission denied"),
        ("SELECT * FROM pg_authid", "permission denied"),
    ] {
        let (status, problem) = post(&sql, serde_json::json!({"sql": statement})).await;
        assert_eq!(status, 400, "{statement}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{statement}: {problem}"
        );
    }
    let rentals = post(
        &sql,
        serde_json::json!({"sql": "SELECT count(*) AS n FROM rental"}),
    )
    .await
    .1;
    assert_eq!(rentals["rows"][0]["n"], 16044);

    // The reader's login opens its own sandbox and nothing else.
    let (other, other_database) = ready("chinook.pg15.sql").await;
    assert_ne!(other, id);
    let reader = format!("dl_{id}_r");
    let admin: lens::conninfo::ServerUrl = admin_url().parse().unwrap();
    let mut conn = sqlx::PgConnection::connect_with(&admin.connect_options())
        .await
        .unwrap();
    sqlx::query(&format!("ALTER ROLE {reader} PASSWORD 'known'"))
        .execute(&mut conn)
        .await
        .unwrap();
    let as_reader = admin
        .with_login(&reader, "known")
        .with_database(&other_database);
    let refused = sqlx::PgConnection::connect_with(&as_reader.connect_options())
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
}

#[tokio::test]
async fn what_a_dump_defines_runs_as_its_reader_never_as_the_admin() {
    // A cast the dump defines, which comparing the composite column by its text form calls:
    // it says who it runs as. As the server's admin it could read the server's files.
    let dump = "SET client_encoding = 'UTF8';
CREATE TYPE public.pair AS (a integer, b integer);
CREATE FUNCTION public.pair_text(public.pair) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'ran as %', current_user; END $$;
CREATE CAST (public.pair AS text) WITH FUNCTION public.pair_text(public.pair);
CREATE TABLE public.pairs (id integer NOT NULL, p public.pair);
COPY public.pairs (id, p) FROM stdin;
1\t(1,2)
\\.
ALTER TABLE ONLY public.pairs ADD CONSTRAINT pairs_pkey PRIMARY KEY (id);
";
    let (status, created) = post(
        "/api/v1/uploads",
        serde_json::json!({"name": "casts.sql", "size": dump.len()}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, done) = put_part(created["id"].as_str().unwrap(), dump.as_bytes(), None).await;
    assert_eq!(status, 201, "{done}");
    let (id, database) = ready("casts.sql").await;
    let (status, problem) = get(&format!(
        "/api/v1/dumps/{id}/databases/{database}/diff/{id}/{database}/data"
    ))
    .await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("ran as dl_{id}_r")),
        "{problem}"
    );
}

#[tokio::test]
async fn deleting_a_dump_drops_its_sandbox_and_forgets_it() {
    let (id, database) = ready("world.pg18.custom.dump").await;
    ok(&rows_path(&id, &database, "public.city", "limit=1")).await;
    let url = format!("{}/api/v1/dumps/{id}", server());
    let deleted = reqwest::Client::new().delete(&url).send().await.unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    assert_eq!(lens::testing::sandbox_objects(&id).await, 0);
    let (status, _) = get(&format!("/api/v1/dumps/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = get(&rows_path(&id, &database, "public.city", "limit=1")).await;
    assert_eq!(status, 404);
    let again = reqwest::Client::new().delete(&url).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 404);
}

async fn put_part(id: &str, bytes: &[u8], range: Option<String>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .put(format!("{}/api/v1/uploads/{id}", server()))
        .body(bytes.to_vec());
    if let Some(range) = range {
        request = request.header("content-range", range);
    }
    checked(
        "put",
        &format!("/api/v1/uploads/{id}"),
        request.send().await.unwrap(),
    )
    .await
}

#[tokio::test]
async fn an_upload_in_two_parts_resumes_and_becomes_a_ready_dump() {
    let bytes = std::fs::read(fixture("world.pg18.custom.dump")).unwrap();
    let total = bytes.len();
    let (status, created) = post(
        "/api/v1/uploads",
        serde_json::json!({"name": "world upload.dump", "size": total}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let half = total / 2;
    let (status, partial) = put_part(
        &id,
        &bytes[..half],
        Some(format!("bytes 0-{}/{total}", half - 1)),
    )
    .await;
    assert_eq!(
        (status, &partial["offset"]),
        (202, &Value::from(half)),
        "{partial}"
    );
    // Sent again from the start: refused, saying where to go on from.
    let (status, problem) = put_part(&id, &bytes[..10], Some(format!("bytes 0-9/{total}"))).await;
    assert_eq!(status, 409);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("the server has {half} bytes")),
        "{problem}"
    );
    assert_eq!(ok(&format!("/api/v1/uploads/{id}")).await["offset"], half);
    let (status, done) = put_part(
        &id,
        &bytes[half..],
        Some(format!("bytes {half}-{}/{total}", total - 1)),
    )
    .await;
    assert_eq!(status, 201, "{done}");
    let sha256 = lens::testing::sha256_hex(&bytes);
    assert_eq!(done["sha256"], sha256);
    assert_eq!(done["bytes"], total);
    let (dump, database) = ready("world upload.dump").await;
    assert_eq!(dump, id);
    let cities = ok(&rows_path(
        &dump,
        &database,
        "public.city",
        "count=exact&limit=1",
    ))
    .await;
    assert_eq!(cities["exactTotal"], 4079);

    let (status, problem) = post(
        "/api/v1/uploads",
        serde_json::json!({"name": "big.dump", "size": 1u64 << 40}),
    )
    .await;
    assert_eq!(status, 413, "{problem}");
    let (status, _) = post("/api/v1/uploads", serde_json::json!({"name": "../x"})).await;
    assert_eq!(status, 400);
    let small = post(
        "/api/v1/uploads",
        serde_json::json!({"name": "small.dump", "size": 3}),
    )
    .await
    .1;
    let small = small["id"].as_str().unwrap();
    let (status, problem) = put_part(small, b"x", Some("bytes x".into())).await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Content-Range must read"),
        "{problem}"
    );
    let (status, problem) = put_part(small, b"12345", None).await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("more bytes than the 3"),
        "{problem}"
    );
    let (status, _) = put_part("nope", b"x", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn dumplens_upload_sends_a_file_and_waits_until_it_is_ready() {
    let cache = lens::testing::reachable_tempdir();
    let output = std::process::Command::new(DUMPLENS)
        .args([
            "upload",
            "--json",
            "--name",
            "chinook by the CLI",
            "--server",
            server(),
        ])
        .arg(fixture("chinook.pg18.custom.dump"))
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let dump = &printed["dump"];
    assert_eq!(dump["phase"], "Ready");
    assert_eq!(dump["name"], "chinook by the CLI");
    assert_eq!(dump["tables"], 11);
    assert!(
        printed["shareToken"].is_null(),
        "standalone has no share tokens"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let sha256 =
        lens::testing::sha256_hex(&std::fs::read(fixture("chinook.pg18.custom.dump")).unwrap());
    assert!(stderr.contains(&format!("SHA-256 {sha256}")), "{stderr}");
    // Nothing is left to resume once the upload is done.
    let left = std::fs::read_dir(cache.path().join("dumplens/uploads"))
        .unwrap()
        .count();
    assert_eq!(left, 0);

    let refused = std::process::Command::new(DUMPLENS)
        .args(["upload", "--server", server(), "/nonexistent.dump"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("/nonexistent.dump"));
}

#[tokio::test]
async fn an_upload_takes_one_sender_at_a_time() {
    let created = post(
        "/api/v1/uploads",
        serde_json::json!({"name": "slow.dump", "size": 8}),
    )
    .await
    .1;
    let id = created["id"].as_str().unwrap().to_string();
    // The first request sends 4 bytes, then waits with its body open.
    let (more, body) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    more.send(Ok(b"PGDM".to_vec())).await.unwrap();
    let url = format!("{}/api/v1/uploads/{id}", server());
    let first = tokio::spawn(
        reqwest::Client::new()
            .put(&url)
            .header("content-range", "bytes 0-7/8")
            .body(reqwest::Body::wrap_stream(futures::stream::unfold(
                body,
                |mut body| async move { body.recv().await.map(|chunk| (chunk, body)) },
            )))
            .send(),
    );
    for _ in 0..100 {
        if ok(&format!("/api/v1/uploads/{id}")).await["offset"] == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, problem) = put_part(&id, b"XXXX", Some("bytes 4-7/8".into())).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("another request"),
        "{problem}"
    );
    more.send(Ok(b"\x01\x0e\x00\x00".to_vec())).await.unwrap();
    drop(more);
    let first = first.await.unwrap().unwrap();
    // Complete (not a real dump: its restore fails, which is not what this test is about).
    assert_eq!(first.status().as_u16(), 201);
}

/// A TCP proxy to the test server that passes requests on slowly (16 KiB per 20 ms) until
/// `slow` is cleared, which cuts the connections made until then (what they still hold is
/// dropped, as when a sender's connection breaks: else the bytes a killed sender left in the
/// kernel's buffers would still reach the server, on a loaded machine all of them); returns
/// its URL.
async fn slow_proxy(slow: std::sync::Arc<std::sync::atomic::AtomicBool>) -> String {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = server().trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        loop {
            let (client, _) = listener.accept().await.unwrap();
            let server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
            });
            let slow = slow.clone();
            let was_slow = slow.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = vec![0; 16 << 10];
                while let Ok(n) = client_read.read(&mut buffer).await {
                    let cut = was_slow && !slow.load(Ordering::SeqCst);
                    if n == 0 || cut || server_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                    if was_slow {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn dumplens_upload_killed_midway_resumes_where_the_server_stopped() {
    use std::sync::atomic::Ordering;
    let slow = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let proxy = slow_proxy(slow.clone()).await;
    let cache = lens::testing::reachable_tempdir();
    let file = fixture("pagila.pg18.custom.dump");
    let upload = || {
        let mut command = std::process::Command::new(DUMPLENS);
        command
            .args(["upload", "--name", "pagila resumed", "--server", &proxy])
            .arg(&file)
            .env("XDG_CACHE_HOME", cache.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };
    let mut first = upload().spawn().unwrap();
    // The CLI remembers the upload's id in its cache: find it, and wait for bytes to arrive.
    let remembered = cache.path().join("dumplens/uploads");
    let mut offset = 0;
    for _ in 0..400 {
        let id = std::fs::read_dir(&remembered)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read_to_string(e.unwrap().path()).ok());
        if let Some(id) = id {
            offset = ok(&format!("/api/v1/uploads/{}", id.trim())).await["offset"]
                .as_u64()
                .unwrap();
            if offset >= 64 << 10 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(offset >= 64 << 10, "the upload never got going");
    first.kill().unwrap();
    first.wait().unwrap();
    slow.store(false, Ordering::SeqCst);
    // Awaited, not blocked on: the proxy runs on this test's runtime.
    let second = tokio::process::Command::from(upload())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{:?}: {stderr}", second.status);
    let resumed_at: u64 = stderr
        .split("resuming from byte ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("it did not resume: {stderr}"))
        .parse()
        .unwrap();
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(
        resumed_at >= offset && resumed_at < size,
        "{resumed_at} of {size}"
    );
    // The file the server has is the file that was sent, byte for byte.
    let sha256 = lens::testing::sha256_hex(&std::fs::read(&file).unwrap());
    assert!(stderr.contains(&format!("SHA-256 {sha256}")), "{stderr}");
    let (_, sandbox) = ready("pagila resumed").await;
    assert!(sandbox.starts_with("dl_"));
}

#[tokio::test]
async fn pagila_against_pagila_v2_schema_data_and_rows() {
    let (a, database_a) = ready("pagila.pg18.custom.dump").await;
    let (b, database_b) = ready("pagila-v2.pg18.custom.dump").await;
    let base = format!("/api/v1/dumps/{a}/databases/{database_a}/diff/{b}/{database_b}");

    let schema = ok(&format!("{base}/schema")).await;
    let names: Vec<&str> = schema["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"public.film.streaming_url"), "{names:?}");
    assert!(names.contains(&"public.idx_actor_last_name"), "{names:?}");
    let script = reqwest::get(format!("{}{base}/schema?format=sql", server()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        script.starts_with("BEGIN;") && script.contains("CREATE TABLE \"public\".\"review\""),
        "{script}"
    );

    let data = ok(&format!("{base}/data")).await;
    let changed: Vec<(String, u64, u64, u64)> = data["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["added"].as_u64().unwrap()
                + t["removed"].as_u64().unwrap()
                + t["changed"].as_u64().unwrap()
                > 0
        })
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["added"].as_u64().unwrap(),
                t["removed"].as_u64().unwrap(),
                t["changed"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("actor", 2, 0, 0),
        ("customer", 0, 0, 3),
        ("film_actor", 0, 1, 0),
        ("payment_p2007_04", 0, 1, 0),
        ("rental", 0, 0, 1),
    ];
    let expected: Vec<(String, u64, u64, u64)> = expected
        .iter()
        .map(|(t, a, r, c)| (t.to_string(), *a, *r, *c))
        .collect();
    assert_eq!(changed, expected);
    assert_eq!(data["tablesOnlyInB"], serde_json::json!(["public.review"]));
    // One table at a time, as the CLI asks to show progress.
    let one = ok(&format!("{base}/data?tables=public.customer")).await;
    assert_eq!(one["tables"].as_array().unwrap().len(), 1);
    assert_eq!(one["tables"][0]["changed"], 3);
    let (status, problem) = get(&format!("{base}/data?tables=public.nope")).await;
    assert_eq!(status, 404, "{problem}");

    // The changed customers a page at a time, in key order.
    let rows = format!("{base}/tables/public/customer/rows");
    let first = ok(&format!("{rows}?limit=2")).await;
    let second = ok(&format!("{rows}?offset=2&limit=2")).await;
    let ids: Vec<&Value> = first["changes"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["changes"].as_array().unwrap())
        .map(|c| &c["key"]["customer_id"])
        .collect();
    assert_eq!(ids, [5, 77, 599]);
    assert_eq!(first["changes"][0]["columns"][0], "email");
    // Once both restores' fingerprints are stored (taken after Ready), the same rows come from
    // them rather than from reading both tables whole.
    let rental = format!("{base}/tables/public/rental/rows");
    let mut from_fingerprints = ok(&rental).await;
    for _ in 0..600 {
        if from_fingerprints["fromFingerprints"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        from_fingerprints = ok(&rental).await;
    }
    assert_eq!(from_fingerprints["fromFingerprints"], true);
    assert_eq!(from_fingerprints["changes"][0]["key"]["rental_id"], 15999);
    assert_eq!(from_fingerprints["changed"], 1);

    for (query, says) in [
        ("?limit=0", "limit"),
        ("?offset=-1", "offset"),
        ("?bogus=1", "bogus"),
    ] {
        let (status, problem) = get(&format!("{rows}{query}")).await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{problem}"
        );
    }
    let (status, _) = get(&format!("{base}/tables/public/nope/rows")).await;
    assert_eq!(status, 404);
    let (status, _) = get(&format!(
        "/api/v1/dumps/{a}/databases/{database_a}/diff/nope/x/schema"
    ))
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn dumplens_diff_of_two_dump_ids_prints_schema_and_row_changes() {
    let (a, _) = ready("pagila.pg18.custom.dump").await;
    let (b, _) = ready("pagila-v2.pg18.custom.dump").await;
    let run = |json: bool| {
        let mut command = std::process::Command::new(DUMPLENS);
        command.args(["diff", &a, &b, "--server", server()]);
        if json {
            command.arg("--json");
        }
        command.output().unwrap()
    };
    let text = run(false);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    for line in [
        "schema: 10 change(s)",
        "  added column public.film.streaming_url",
        "rows: 5 of ",
        "  public.customer: 0 added, 0 removed, 3 changed",
        "  public.rental: 0 added, 0 removed, 1 changed",
        "  public.review: only in B",
    ] {
        assert!(stdout.contains(line), "{line:?} in\n{stdout}");
    }
    let json = run(true);
    let printed: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(printed["schema"]["changes"].as_array().unwrap().len(), 10);
    assert_eq!(
        printed["data"]["tablesOnlyInB"],
        serde_json::json!(["public.review"])
    );

    let missing = std::process::Command::new(DUMPLENS)
        .args(["diff", &a, "nosuchdump", "--server", server()])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("nosuchdump is neither a file nor a dump"),
        "{stderr}"
    );
    let path = std::process::Command::new(DUMPLENS)
        .args(["diff", &a, "../uploads", "--server", server()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&path.stderr);
    assert!(
        stderr.contains("is neither a file nor a dump id"),
        "{stderr}"
    );
}
