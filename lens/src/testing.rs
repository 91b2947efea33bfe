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
