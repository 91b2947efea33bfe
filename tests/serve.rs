//! `dumplens serve` as a user runs it: the real binary, its own PostgreSQL, HTTP on loopback.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lens::testing::reachable_tempdir;
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid};

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

/// A running `dumplens serve` and the URL it printed; killed (SIGTERM) on drop.
struct Server {
    child: Child,
    url: String,
    stderr: tempfile::NamedTempFile,
}

impl Server {
    fn start(data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_command(Command::new(DUMPLENS), data_dir, extra)
    }

    fn start_command(mut command: Command, data_dir: &Path, extra: &[&str]) -> Self {
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().unwrap())
            .spawn()
            .expect("spawn dumplens");
        let stdout = child.stdout.take().unwrap();
        let Some(Ok(line)) = BufReader::new(stdout).lines().next() else {
            let said = std::fs::read_to_string(stderr.path()).unwrap_or_default();
            panic!("dumplens serve printed nothing; its stderr:\n{said}");
        };
        let url = line
            .strip_prefix("PgDumpLens is ready at ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        Self { child, url, stderr }
    }

    async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = reqwest::get(format!("{}{path}", self.url)).await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// Runs `dumplens serve` expecting it to fail; returns its stderr.
fn serve_fails(args: &[&str]) -> String {
    let output = Command::new(DUMPLENS)
        .arg("serve")
        .args(args)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "dumplens serve {args:?} succeeded"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    let error_lines: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line expected:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    error_lines[0].to_string()
}

fn postmaster_pid(data_dir: &Path) -> i32 {
    let text = std::fs::read_to_string(data_dir.join("postgres/pgdata/postmaster.pid")).unwrap();
    text.lines().next().unwrap().parse().unwrap()
}

fn is_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn serve_answers_health_and_version_and_stops_its_postgres_on_sigterm() {
    let dir = reachable_tempdir();
    let server = Server::start(dir.path(), &[]);
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    assert_eq!(server.get_json("healthz").await["status"], "ok");
    // The web UI's page at the root and at any path it routes itself; the API's 404 stays JSON.
    for path in ["", "dumps/abc?view=data"] {
        let page = reqwest::get(format!("{}{path}", server.url)).await.unwrap();
        assert_eq!(page.status(), 200, "/{path}");
        let html = page.text().await.unwrap();
        assert!(html.contains("<div id=\"root\">"), "/{path}: {html}");
    }
    let missing = reqwest::get(format!("{}api/v1/nothing", server.url))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let version = server.get_json("api/v1/version").await;
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["postgres"]["managed"], true);
    let pg_version = version["postgres"]["version"].as_str().unwrap();
    assert!(pg_version.starts_with(&lens::testing::install().major.to_string()));

    let pid = postmaster_pid(dir.path());
    assert!(server.terminate().success());
    assert!(!is_alive(pid), "PostgreSQL outlived dumplens serve");
}

#[tokio::test]
async fn instances_with_different_data_directories_run_side_by_side() {
    let (a, b) = (reachable_tempdir(), reachable_tempdir());
    let first = Server::start(a.path(), &[]);
    let second = Server::start(b.path(), &[]);
    assert_ne!(first.url, second.url);
    assert_eq!(first.get_json("healthz").await["status"], "ok");
    assert_eq!(second.get_json("healthz").await["status"], "ok");
}

#[tokio::test]
async fn a_killed_dumplens_takes_its_postgres_down_and_the_next_start_reuses_the_cluster() {
    let dir = reachable_tempdir();
    let mut server = Server::start(dir.path(), &[]);
    let pid = postmaster_pid(dir.path());
    server.child.kill().unwrap(); // SIGKILL: no chance to clean up
    server.child.wait().unwrap();
    for _ in 0..100 {
        if !is_alive(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!is_alive(pid), "PostgreSQL outlived a killed dumplens");
    let again = Server::start(dir.path(), &[]);
    assert_eq!(again.get_json("healthz").await["status"], "ok");
}

#[tokio::test]
async fn a_killed_postgres_stops_serve_with_one_sentence() {
    let dir = reachable_tempdir();
    let mut server = Server::start(dir.path(), &[]);
    let pid = postmaster_pid(dir.path());
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    assert!(!server.child.wait().unwrap().success());
    let stderr = std::fs::read_to_string(server.stderr.path()).unwrap();
    let error: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error.len(), 1, "{stderr}");
    assert!(
        error[0].contains(&format!("PostgreSQL (pid {pid}) was killed by SIGKILL")),
        "{}",
        error[0]
    );
    assert!(
        error[0].contains("run dumplens serve again"),
        "{}",
        error[0]
    );
}

#[test]
fn an_occupied_port_is_one_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = reachable_tempdir();
    let data_dir = dir.path().to_str().unwrap();
    let error = serve_fails(&["--listen", &addr, "--data-dir", data_dir]);
    assert!(
        error.contains(&addr) && error.contains("already in use"),
        "{error}"
    );
    // The port was checked before anything was written.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn listening_beyond_loopback_is_refused_without_authentication() {
    let error = serve_fails(&["--listen", "0.0.0.0:0"]);
    assert!(error.contains("loopback"), "{error}");
}

#[test]
fn missing_postgres_binaries_are_one_clear_error() {
    let dir = reachable_tempdir();
    let data_dir = dir.path().to_str().unwrap();
    let error = serve_fails(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir,
        "--pg-bindir",
        "/nonexistent/postgres/bin",
    ]);
    assert!(error.contains("/nonexistent/postgres/bin"), "{error}");
    assert!(error.contains("initdb and postgres"), "{error}");
}

#[test]
fn an_unwritable_data_directory_is_one_clear_error() {
    let dir = reachable_tempdir();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let data_dir = file.join("data");
    let error = serve_fails(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    assert!(error.contains("cannot write the data directory"), "{error}");
}

#[tokio::test]
async fn database_url_uses_an_existing_server_instead_of_a_managed_one() {
    let dir = reachable_tempdir();
    let url = lens::testing::admin_url();
    let server = Server::start(dir.path(), &["--database-url", url]);
    let version = server.get_json("api/v1/version").await;
    assert_eq!(version["postgres"]["managed"], false);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// As root the server runs as `nobody` (tested everywhere else here); this runs the whole of
/// `dumplens serve` as an ordinary user, the other way it is used.
#[tokio::test]
async fn serve_works_for_an_ordinary_user() {
    let dir = reachable_tempdir();
    let mut command = if Uid::effective().is_root() {
        // The binary must be where `nobody` can reach it; the build directory may not be.
        let binary = dir.path().join("dumplens");
        std::fs::copy(DUMPLENS, &binary).unwrap();
        let data_dir = dir.path().join("data");
        std::fs::create_dir(&data_dir).unwrap();
        nix::unistd::chown(&data_dir, Some(Uid::from_raw(65534)), None).unwrap();
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(binary)
            .env("DUMPLENS_PG_BINDIR", &lens::testing::install().bin_dir);
        command
    } else {
        Command::new(DUMPLENS)
    };
    command.env("HOME", dir.path());
    let server = Server::start_command(command, &dir.path().join("data"), &[]);
    assert_eq!(server.get_json("healthz").await["status"], "ok");
}

/// The superuser URL of the managed cluster in `data_dir` (for checks from outside).
fn cluster_admin(data_dir: &Path, port: u16, database: &str) -> String {
    let password = std::fs::read_to_string(data_dir.join("postgres/superuser-password")).unwrap();
    format!(
        "postgres://postgres:{}@127.0.0.1:{port}/{database}",
        password.trim()
    )
}

fn cluster_port(data_dir: &Path) -> u16 {
    let text = std::fs::read_to_string(data_dir.join("postgres/pgdata/postmaster.pid")).unwrap();
    text.lines().nth(3).unwrap().trim().parse().unwrap()
}

async fn sql_one(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

impl Server {
    /// Polls the dump list until every dump is in one of `phases`; returns the list.
    async fn wait_for_phases(&self, phases: &[&str]) -> Vec<serde_json::Value> {
        for _ in 0..600 {
            let dumps = self.get_json("api/v1/dumps").await;
            let dumps = dumps.as_array().unwrap().clone();
            if !dumps.is_empty()
                && dumps
                    .iter()
                    .all(|d| phases.contains(&d["phase"].as_str().unwrap()))
            {
                return dumps;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "dumps did not reach {phases:?}: {}",
            self.get_json("api/v1/dumps").await
        );
    }
}

fn fixture_arg(name: &str) -> String {
    lens::testing::fixture(name).to_str().unwrap().to_string()
}

#[tokio::test]
async fn serve_restores_the_dumps_it_is_given_and_stores_their_schema() {
    let dir = reachable_tempdir();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/chinook.dump");
    let dumpall = fixture_arg("cluster.pg18.dumpall.sql");
    let server = Server::start(dir.path(), &[demo, &dumpall]);
    let dumps = server.wait_for_phases(&["Ready"]).await;
    assert_eq!(dumps.len(), 2);
    let by_name = |name: &str| dumps.iter().find(|d| d["name"] == name).unwrap().clone();
    let chinook = by_name("chinook.dump");
    assert_eq!(chinook["format"], "custom");
    assert_eq!(chinook["databases"][0]["tables"], 11);
    let cluster = by_name("cluster.pg18.dumpall.sql");
    let databases = cluster["databases"].as_array().unwrap();
    let names: Vec<_> = databases
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["chinook", "world"]);
    let one = server
        .get_json(&format!("api/v1/dumps/{}", chinook["id"].as_str().unwrap()))
        .await;
    assert_eq!(one["name"], "chinook.dump");

    let meta = cluster_admin(dir.path(), cluster_port(dir.path()), "dumplens");
    assert_eq!(
        sql_one(&meta, "SELECT count(*) FROM schema_graphs").await,
        3
    );
    let tables = sql_one(
        &meta,
        "SELECT sum(jsonb_array_length(graph->'tables'))::int8 FROM schema_graphs",
    )
    .await;
    assert_eq!(tables, 11 + 11 + 3);
}

/// Waits until the metadata store `meta` holds `count` fingerprints.
async fn wait_for_fingerprints(meta: &str, count: i64) {
    for _ in 0..300 {
        if sql_one(meta, "SELECT count(*) FROM fingerprints").await == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never {count} fingerprints");
}

#[tokio::test]
async fn a_dump_given_again_is_not_restored_twice_and_its_fingerprints_are_finished() {
    let dir = reachable_tempdir();
    let world = fixture_arg("world.pg18.custom.dump");
    let server = Server::start(dir.path(), &[&world]);
    let first = server.wait_for_phases(&["Ready"]).await;
    // world's one table keyed by an integer column: city.
    let meta = cluster_admin(dir.path(), cluster_port(dir.path()), "dumplens");
    wait_for_fingerprints(&meta, 1).await;
    // As if the process had stopped before taking it.
    sql_one(
        &meta,
        "WITH d AS (DELETE FROM fingerprints RETURNING 1) SELECT count(*) FROM d",
    )
    .await;
    server.terminate();
    let server = Server::start(dir.path(), &[&world]);
    let second = server.wait_for_phases(&["Ready"]).await;
    assert_eq!(second.len(), 1);
    assert_eq!(first[0]["id"], second[0]["id"]);
    let meta = cluster_admin(dir.path(), cluster_port(dir.path()), "dumplens");
    wait_for_fingerprints(&meta, 1).await;
}

#[tokio::test]
async fn a_restore_interrupted_by_a_crash_is_redone_without_duplicates() {
    let dir = reachable_tempdir();
    let world = fixture_arg("world.pg18.custom.dump");
    let server = Server::start(dir.path(), &[&world]);
    let dumps = server.wait_for_phases(&["Ready"]).await;
    let id = dumps[0]["id"].as_str().unwrap().to_string();
    let port = cluster_port(dir.path());
    // As if the process died mid-restore: the record says Restoring, the sandbox half exists.
    let meta = cluster_admin(dir.path(), port, "dumplens");
    sql_one(&meta, &format!("WITH u AS (UPDATE dumps SET phase = 'Restoring' WHERE id = '{id}' RETURNING 1) SELECT count(*) FROM u")).await;
    server.terminate();

    let server = Server::start(dir.path(), &[]);
    let dumps = server.wait_for_phases(&["Ready"]).await;
    assert_eq!(dumps.len(), 1);
    assert_eq!(dumps[0]["id"], id.as_str());
    let admin = cluster_admin(dir.path(), cluster_port(dir.path()), "postgres");
    let sandboxes = sql_one(
        &admin,
        &format!("SELECT count(*) FROM pg_database WHERE datname LIKE 'dl\\_{id}%'"),
    )
    .await;
    assert_eq!(sandboxes, 1);
    let sandbox = cluster_admin(dir.path(), cluster_port(dir.path()), &format!("dl_{id}"));
    assert_eq!(sql_one(&sandbox, "SELECT count(*) FROM city").await, 4079);
}

#[tokio::test]
async fn expired_dumps_lose_their_sandbox_and_orphans_are_swept() {
    let dir = reachable_tempdir();
    let world = fixture_arg("world.pg18.custom.dump");
    let server = Server::start(
        dir.path(),
        &["--ttl", "2s", "--sweep-interval", "300ms", &world],
    );
    let dumps = server.wait_for_phases(&["Expired"]).await;
    let id = dumps[0]["id"].as_str().unwrap();
    let admin = cluster_admin(dir.path(), cluster_port(dir.path()), "postgres");
    let count_sandboxes = |pattern: String| {
        format!(
            "SELECT (SELECT count(*) FROM pg_database WHERE datname LIKE '{pattern}') + (SELECT count(*) FROM pg_roles WHERE rolname LIKE '{pattern}')"
        )
    };
    assert_eq!(
        sql_one(&admin, &count_sandboxes(format!("dl\\_{id}%"))).await,
        0
    );
    // The file was the user's, not an upload: it stays.
    assert!(lens::testing::fixture("world.pg18.custom.dump").exists());

    // A sandbox nobody recorded (a crash between creating and recording it) is swept.
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    conn.execute("CREATE ROLE dl_0rphan").await.unwrap();
    conn.execute("CREATE DATABASE dl_0rphan OWNER dl_0rphan")
        .await
        .unwrap();
    for _ in 0..100 {
        if sql_one(&admin, &count_sandboxes("dl\\_0rphan".into())).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the orphaned sandbox was not swept");
}

#[tokio::test]
async fn a_download_cut_off_by_a_crash_is_fetched_again_from_the_start() {
    let dir = reachable_tempdir();
    let file = std::fs::read(fixture_arg("world.pg18.custom.dump")).unwrap();
    let (base, requests) = lens::testing::serve_over_http_stalling_once(file.clone());
    let url = format!("{base}/world.dump");
    let mut server = Server::start(dir.path(), &[]);
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{}api/v1/dumps", server.url))
        .json(&serde_json::json!({"source": {"url": {"url": url}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["dump"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["dump"]["name"], "world.dump");
    server.wait_for_phases(&["Fetching"]).await;
    // Half the file is in a scratch file when the process dies.
    let scratch = dir.path().join("uploads/.fetching");
    for _ in 0..100 {
        if std::fs::read_dir(&scratch).is_ok_and(|mut d| d.next().is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let server = Server::start(dir.path(), &[]);
    let dumps = server.wait_for_phases(&["Ready"]).await;
    assert_eq!(dumps[0]["id"], id.as_str());
    assert_eq!(dumps[0]["sizeBytes"], file.len());
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
    let kept = std::fs::read(dir.path().join("uploads").join(&id)).unwrap();
    assert!(kept == file, "the file kept is the whole download");
    let sandbox = cluster_admin(dir.path(), cluster_port(dir.path()), &format!("dl_{id}"));
    assert_eq!(sql_one(&sandbox, "SELECT count(*) FROM city").await, 4079);
    // Deleting the dump deletes the downloaded file.
    let deleted = reqwest::Client::new()
        .delete(format!("{}api/v1/dumps/{id}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(!dir.path().join("uploads").join(&id).exists());
}

#[tokio::test]
async fn with_a_token_file_every_api_request_needs_a_token_and_any_address_is_allowed() {
    let dir = reachable_tempdir();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "first-token\n\nsecond-token\n").unwrap();
    let mut child = Command::new(DUMPLENS)
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--token-file")
        .arg(&tokens)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let port = line.rsplit(':').next().unwrap().trim_end_matches('/');
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let status = |token: Option<&'static str>, path: &'static str| {
        let mut request = client.get(format!("{url}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(None, "/api/v1/dumps").await, 401);
    assert_eq!(status(Some("third-token"), "/api/v1/dumps").await, 401);
    assert_eq!(status(Some("first-token"), "/api/v1/dumps").await, 200);
    assert_eq!(status(Some("second-token"), "/api/v1/dumps").await, 200);
    assert_eq!(status(None, "/healthz").await, 200);
    assert_eq!(status(None, "/api/v1/openapi.json").await, 200);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    child.wait().unwrap();

    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let error = serve_fails(&["--token-file", empty.to_str().unwrap()]);
    assert!(error.contains("holds no token"), "{error}");
}
