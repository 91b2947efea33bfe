//! `dumplens serve`: one process that runs its own PostgreSQL cluster (or uses an existing
//! server) and serves the API on a loopback port.

mod worker;

pub(crate) use worker::{Worker, WorkerError};

use std::net::SocketAddr;
use std::path::PathBuf;

use std::time::Duration;

use lens::conninfo::{InvalidUrl, ServerUrl};
use lens::postgres::{ManagedCluster, PgError, SearchPath, ServerExit};
use lens::store::Store;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::net::TcpListener;

use crate::{AppState, router};

/// The address `dumplens serve` listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8432";

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Where the cluster, metadata and uploads live. `None` picks the platform default.
    pub data_dir: Option<PathBuf>,
    /// Use this server instead of a managed cluster.
    pub database_url: Option<String>,
    /// Where to find PostgreSQL binaries, before the standard search.
    pub pg_bindir: Option<PathBuf>,
    /// Dump files to restore (again, unless already there).
    pub dumps: Vec<PathBuf>,
    /// How long the dumps given here live; `None` for as long as the server keeps them.
    pub ttl: Option<Duration>,
    /// How often expired dumps and orphaned sandboxes are looked for.
    pub sweep_interval: Duration,
    /// The `dumplens` program that runs restores; this executable when `None`.
    pub restore_program: Option<PathBuf>,
    /// The largest upload accepted, in bytes.
    pub max_upload_bytes: u64,
    /// Who may call the API (open by default, which only a loopback address allows).
    pub access: crate::access::Access,
}

/// The largest upload accepted unless told otherwise: 64 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 64 << 30;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0}: without API tokens (--token-file) dumplens serve only listens on a loopback address such as 127.0.0.1"
    )]
    NotLoopback(SocketAddr),

    #[error(
        "{0} is already in use (another dumplens serve?); pass --listen 127.0.0.1:PORT with a free port, or port 0 to pick one"
    )]
    AddressInUse(SocketAddr),

    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },

    #[error("no data directory given and none could be derived from $HOME; pass --data-dir DIR")]
    NoDataDir,

    #[error(transparent)]
    Postgres(#[from] PgError),

    #[error("cannot connect to PostgreSQL at the given --database-url: {0}")]
    Connect(sqlx::Error),

    #[error("--database-url: {0}")]
    InvalidUrl(#[from] InvalidUrl),

    #[error(transparent)]
    Store(#[from] lens::store::StoreError),

    #[error(transparent)]
    Sandbox(#[from] lens::sandbox::SandboxError),

    #[error(transparent)]
    Worker(#[from] worker::WorkerError),

    #[error("cannot find the dumplens executable to run restores: {0}")]
    NoExecutable(std::io::Error),

    #[error("{0}; run dumplens serve again to restart it")]
    PostgresDied(ServerExit),

    #[error("the HTTP server failed: {0}")]
    Http(std::io::Error),
}

/// The data directory used when none is given: `/var/lib/dumplens` for root (the server user
/// must reach it, which rules out root's home), the user's data directory otherwise.
pub fn default_data_dir() -> Option<PathBuf> {
    if nix::unistd::Uid::effective().is_root() {
        return Some(PathBuf::from("/var/lib/dumplens"));
    }
    dirs::data_dir().map(|dir| dir.join("dumplens"))
}

/// Runs until SIGINT or SIGTERM (a clean exit) or until the managed server dies (an error).
/// `ready` is called with the URL once the API answers.
pub async fn serve(options: ServeOptions, ready: impl FnOnce(&str)) -> Result<(), ServeError> {
    if !options.listen.ip().is_loopback() && options.access.is_open() {
        return Err(ServeError::NotLoopback(options.listen));
    }
    // Bind first: an occupied port should fail before a cluster is started for nothing.
    let listener =
        TcpListener::bind(options.listen)
            .await
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::AddrInUse => ServeError::AddressInUse(options.listen),
                _ => ServeError::Listen {
                    addr: options.listen,
                    source,
                },
            })?;
    let addr = listener.local_addr().map_err(ServeError::Http)?;

    let data_dir = options
        .data_dir
        .clone()
        .or_else(default_data_dir)
        .ok_or(ServeError::NoDataDir)?;
    let (cluster, admin_url) = match &options.database_url {
        Some(url) => (None, url.clone()),
        None => {
            let data_dir = data_dir.clone();
            let explicit = options
                .pg_bindir
                .clone()
                .or_else(|| std::env::var_os(lens::postgres::BINDIR_ENV).map(PathBuf::from));
            let cluster = tokio::task::spawn_blocking(move || {
                let install = SearchPath::standard(explicit).find()?;
                ManagedCluster::start(&data_dir.join("postgres"), install)
            })
            .await
            .expect("cluster start does not panic")?;
            let url = cluster.admin_url();
            (Some(cluster), url)
        }
    };

    let pool = connect(&admin_url).await.map_err(ServeError::Connect)?;
    let postgres_version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await
        .map_err(ServeError::Connect)?;
    let admin: ServerUrl = admin_url.parse()?;
    if cluster.is_some() {
        // Our own cluster: no sandbox role may connect to the databases that are not its own.
        let mut conn = lens::sandbox::connect(&admin.connect_options()).await?;
        lens::sandbox::harden_server(&mut conn).await?;
    }
    let store = Store::open(&admin).await?;
    let exe = match &options.restore_program {
        Some(program) => program.clone(),
        None => std::env::current_exe().map_err(ServeError::NoExecutable)?,
    };
    // The orphan sweep drops every sandbox without a record: only on a server that is ours alone.
    let uploads = data_dir.join("uploads");
    let worker = worker::Worker::new(
        store.clone(),
        admin.clone(),
        exe,
        cluster.is_some(),
        uploads.clone(),
    );
    worker.recover().await?;
    for dump in &options.dumps {
        let record = worker.add_file(dump, options.ttl).await?;
        tracing::info!(id = %record.id, name = %record.name, phase = %record.phase.0, "dump");
    }
    tokio::spawn(worker.clone().run_sweeps(options.sweep_interval));
    let state = AppState {
        pool,
        catalog: crate::catalog::Catalog::Standalone(worker.clone()),
        access: options.access.clone(),
        uploads: crate::uploads::Uploads {
            dir: uploads,
            max_bytes: options.max_upload_bytes,
            sending: Default::default(),
        },
        readers: crate::read::Readers::new(admin, store.clone()),
        store,
        postgres_version,
        managed_postgres: cluster.is_some(),
    };

    let url = format!("http://{addr}/");
    let app = router(state);
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown_signal());
    ready(&url);

    let outcome = match &cluster {
        Some(cluster) => tokio::select! {
            result = server => result.map_err(ServeError::Http),
            exit = cluster.exited() => Err(ServeError::PostgresDied(exit)),
        },
        None => server.await.map_err(ServeError::Http),
    };
    if let Some(mut cluster) = cluster {
        tokio::task::spawn_blocking(move || cluster.stop())
            .await
            .expect("cluster stop does not panic");
    }
    outcome
}

pub(crate) async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new().max_connections(16).connect(url).await
}

pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("install a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
