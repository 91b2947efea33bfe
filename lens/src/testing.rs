//! The integration-test harness: one managed cluster per test process, started on first use
//! from the same code `dumplens serve` uses, and a fresh database per test.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use sqlx::{Connection, Executor};

use crate::postgres::{BINDIR_ENV, ManagedCluster, PgInstall, SearchPath};

struct Shared {
    cluster: Mutex<Option<ManagedCluster>>,
    dir: PathBuf,
    admin_url: String,
    install: PgInstall,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// Finds PostgreSQL the way `dumplens serve` does (`DUMPLENS_PG_BINDIR`, then the project's
/// install, ...), panicking with the reason when there is none.
pub fn pg_install() -> PgInstall {
    SearchPath::standard(std::env::var_os(BINDIR_ENV).map(PathBuf::from))
        .find()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A directory for test files that the unprivileged server user can reach when tests run as
/// root (temporary directories are created with mode 0700).
pub fn reachable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("dumplens-test-")
        .tempdir()
        .expect("create a temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("make the temporary directory searchable");
    dir
}

fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        let install = pg_install();
        let dir = reachable_tempdir().keep();
        let cluster = ManagedCluster::start(&dir.join("cluster"), install.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        harden(&cluster.admin_url());
        // Statics are never dropped; stop the server and remove its files when the test
        // process exits instead.
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe { nix::libc::atexit(stop_shared_cluster) };
        Shared {
            admin_url: cluster.admin_url(),
            cluster: Mutex::new(Some(cluster)),
            dir,
            install,
        }
    })
}

/// Revokes PUBLIC's CONNECT on the cluster's own databases, as `dumplens serve` does, so tests
/// see what a sandbox role sees in production.
fn harden(admin_url: &str) {
    block_on_own_thread(async {
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("connect to the test cluster");
        crate::sandbox::harden_server(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    })
}

/// Runs `future` to completion on a thread of its own: shared fixtures start on first use,
/// usually inside a test's async runtime, which cannot block on another.
fn block_on_own_thread<T: Send>(future: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime")
                    .block_on(future)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

extern "C" fn stop_shared_cluster() {
    if let Some(shared) = SHARED.get() {
        if let Ok(mut cluster) = shared.cluster.lock() {
            drop(cluster.take());
        }
        let _ = std::fs::remove_dir_all(&shared.dir);
    }
}

/// The superuser URL of this process's shared cluster.
pub fn admin_url() -> &'static str {
    &shared().admin_url
}

/// The installation the shared cluster runs.
pub fn install() -> &'static PgInstall {
    &shared().install
}

/// A database of its own for one test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

/// Creates an empty database no other test uses. Safe to call from concurrent tests.
pub async fn database() -> TestDatabase {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let admin_url = admin_url();
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to the test cluster");
    let create = format!("CREATE DATABASE {name}");
    admin
        .execute(create.as_str())
        .await
        .expect("create a test database");
    let url = format!("{}/{name}", admin_url.rsplit_once('/').expect("a URL").0);
    TestDatabase { name, url }
}

/// The shared fixture dumps: `DUMPLENS_FIXTURES`, or `shared/fixtures/dumps` beside the
/// checkout (where CI and every session have it).
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("DUMPLENS_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/dumps")
        })
}

/// One fixture dump by file name; panics naming the path when it is missing.
pub fn fixture(name: &str) -> PathBuf {
    let path = fixtures_dir().join(name);
    assert!(path.is_file(), "fixture {} is missing", path.display());
    path
}

/// `EXPECTED.json` of the fixtures.
pub fn expected_facts() -> serde_json::Value {
    let path = fixture("EXPECTED.json");
    let text = std::fs::read_to_string(&path).expect("read EXPECTED.json");
    serde_json::from_str(&text).expect("EXPECTED.json is JSON")
}

/// A server URL for the shared cluster's superuser on `database`.
pub fn admin_server_url() -> crate::conninfo::ServerUrl {
    admin_url().parse().expect("the cluster's URL parses")
}

/// Answers HTTP requests on a loopback port for the rest of the test process: `respond` gets
/// the request's number (from 0), its request line and the connection, which it may keep
/// open by moving it into a collection of its own. Returns `http://127.0.0.1:PORT`.
fn http_server(
    mut respond: impl FnMut(usize, &str, std::net::TcpStream) + Send + 'static,
) -> String {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("bound");
    std::thread::spawn(move || {
        for (number, stream) in listener.incoming().flatten().enumerate() {
            let mut reader = BufReader::new(stream.try_clone().expect("a socket"));
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            respond(number, &request_line, stream);
        }
    });
    format!("http://{addr}")
}

fn ok_head(length: usize) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n")
}

/// Serves `body` over plain HTTP on a loopback port for the rest of the test process (404 for
/// paths containing `missing`); returns `http://127.0.0.1:PORT`.
pub fn serve_over_http(body: Vec<u8>) -> String {
    use std::io::Write;
    http_server(move |_, request_line, mut stream| {
        if request_line.contains("missing") {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        } else {
            let _ = stream.write_all(ok_head(body.len()).as_bytes());
            let _ = stream.write_all(&body);
        }
    })
}

/// Serves `body` like [`serve_over_http`], except that the first request gets half of it and
/// then nothing more, its connection held open (a stalled network). Returns the URL and the
/// number of requests so far.
pub fn serve_over_http_stalling_once(
    body: Vec<u8>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = requests.clone();
    let mut stalled = Vec::new();
    let url = http_server(move |number, _, mut stream| {
        counted.fetch_add(1, Ordering::SeqCst);
        let _ = stream.write_all(ok_head(body.len()).as_bytes());
        if number == 0 {
            let _ = stream.write_all(&body[..body.len() / 2]);
            stalled.push(stream);
        } else {
            let _ = stream.write_all(&body);
        }
    });
    (url, requests)
}

/// How many roles and databases of sandbox `id` exist on the shared cluster.
pub async fn sandbox_objects(id: &str) -> i64 {
    let mut admin = sqlx::PgConnection::connect(admin_url())
        .await
        .expect("connect to the test cluster");
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM pg_roles WHERE rolname LIKE $1)
              + (SELECT count(*) FROM pg_database WHERE datname LIKE $1)",
    )
    .bind(format!("dl\\_{id}%"))
    .fetch_one(&mut admin)
    .await
    .expect("count sandbox objects")
}

/// A local S3-compatible store: moto's server mode (PyPI `moto[server]`, installed under
/// `.tools/moto` by `./dev setup --tests`), one per test process, with a bucket `dumps`.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    _process: crate::process::Supervised,
}

/// The bucket every test object goes into.
pub const S3_BUCKET: &str = "dumps";

static S3: OnceLock<S3Server> = OnceLock::new();

/// Starts the shared S3 server on first use (it dies with the test process).
pub fn s3_server() -> &'static S3Server {
    S3.get_or_init(|| {
        let program =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/moto/bin/moto_server");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut command = std::process::Command::new(&program);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let process = crate::process::Supervised::spawn(command, nix::sys::signal::Signal::SIGKILL)
            .unwrap_or_else(|e| panic!("{} (run ./dev setup --tests): {e}", program.display()));
        let endpoint = format!("http://127.0.0.1:{port}");
        let create = bucket(&endpoint);
        let create = create.create_bucket(&S3_CREDENTIALS);
        let url = rusty_s3::S3Action::sign(&create, SIGNED_FOR);
        block_on_own_thread(async {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                let create = reqwest::Client::new()
                    .put(url.clone())
                    .header(reqwest::header::CONTENT_LENGTH, 0);
                match create.send().await {
                    Ok(response) if response.status().is_success() => break,
                    Err(e) if e.is_connect() && tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await
                    }
                    other => panic!("the S3 server at {endpoint} did not start: {other:?}"),
                }
            }
        });
        S3Server {
            endpoint,
            _process: process,
        }
    })
}

/// The credentials the tests use (moto accepts any).
pub static S3_CREDENTIALS: std::sync::LazyLock<rusty_s3::Credentials> =
    std::sync::LazyLock::new(|| rusty_s3::Credentials::new("dumplens-test", "test-secret"));

const SIGNED_FOR: std::time::Duration = std::time::Duration::from_secs(60);

fn bucket(endpoint: &str) -> rusty_s3::Bucket {
    let endpoint = endpoint.parse().expect("an endpoint URL");
    rusty_s3::Bucket::new(endpoint, rusty_s3::UrlStyle::Path, S3_BUCKET, "us-east-1")
        .expect("a bucket")
}

impl S3Server {
    /// Stores `body` as object `key` of the test bucket.
    pub async fn put(&self, key: &str, body: Vec<u8>) {
        let bucket = bucket(&self.endpoint);
        let put = bucket.put_object(Some(&S3_CREDENTIALS), key);
        let response = reqwest::Client::new()
            .put(rusty_s3::S3Action::sign(&put, SIGNED_FOR))
            .body(body)
            .send()
            .await
            .expect("put an object");
        assert!(response.status().is_success(), "{response:?}");
    }
}

/// Fixture `name` restored once per test process (as the sandbox role, like every restore):
/// its first sandbox database and that database's schema graph.
pub async fn restored(name: &str) -> (String, crate::schema::SchemaGraph) {
    static RESTORED: tokio::sync::Mutex<
        std::collections::BTreeMap<String, (String, crate::schema::SchemaGraph)>,
    > = tokio::sync::Mutex::const_new(std::collections::BTreeMap::new());
    let mut restored = RESTORED.lock().await;
    if let Some(done) = restored.get(name) {
        return done.clone();
    }
    let summary = crate::restore::restore(
        &fixture(name),
        &crate::sandbox::new_id(),
        &crate::restore::Target::Admin(admin_server_url()),
        &crate::restore::RestoreOptions::default(),
        std::sync::Arc::new(|_| {}),
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let database = summary.databases[0].sandbox.clone();
    let url = admin_server_url().with_database(&database);
    let mut conn = sqlx::PgConnection::connect_with(&url.connect_options())
        .await
        .expect("connect to the restored database");
    let graph = crate::schema::introspect(&mut conn)
        .await
        .expect("read the schema");
    restored.insert(name.to_string(), (database.clone(), graph.clone()));
    (database, graph)
}

/// A superuser connection to `database` on the shared cluster.
pub async fn connect(database: &str) -> sqlx::PgConnection {
    let url = admin_server_url().with_database(database);
    sqlx::PgConnection::connect_with(&url.connect_options())
        .await
        .unwrap_or_else(|e| panic!("connect to {database}: {e}"))
}

/// The table of `graph` named `schema.table`, or just `table`.
pub fn table<'a>(graph: &'a crate::schema::SchemaGraph, name: &str) -> &'a crate::schema::Table {
    graph
        .tables
        .iter()
        .find(|t| t.name == name || format!("{}.{}", t.schema, t.name) == name)
        .unwrap_or_else(|| panic!("no table {name}"))
}

/// SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// A memory figure of process `pid` from /proc/PID/status (`VmHWM:` for the peak, `VmRSS:`
/// now), in MiB.
pub fn memory_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("process {pid}: {e}"));
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} for process {pid}"));
    kib / 1024.0
}

/// A number from the environment (benchmark sizes), or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `dumplens serve` (the program at `dumplens`) with `args` as a process of its own that
/// dies with this one; returns it and its base URL once it listens.
pub fn serve_process(
    dumplens: &std::path::Path,
    args: &[&std::ffi::OsStr],
) -> (crate::process::Supervised, String) {
    let out = tempfile::NamedTempFile::new().expect("a file for serve's output");
    let mut serve = std::process::Command::new(dumplens);
    serve
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(out.reopen().expect("serve's output"))
        .stderr(std::process::Stdio::null());
    let process = crate::process::Supervised::spawn(serve, nix::sys::signal::Signal::SIGTERM)
        .expect("start dumplens serve");
    let started = std::time::Instant::now();
    loop {
        let printed = std::fs::read_to_string(out.path()).unwrap_or_default();
        if let Some(url) = printed
            .lines()
            .find_map(|l| l.strip_prefix("PgDumpLens is ready at "))
        {
            return (process, url.trim_end_matches('/').to_string());
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "dumplens serve did not start: {printed}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
