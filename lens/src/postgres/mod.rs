//! PostgreSQL managed by PgDumpLens itself: finding binaries, and a private throwaway cluster.

mod cluster;
mod discovery;
mod server_user;

use std::path::PathBuf;

pub use cluster::{ManagedCluster, ServerExit};
pub use discovery::{
    BINDIR_ENV, ClientProgram, MIN_SERVER_MAJOR, PgInstall, SearchPath, parse_version,
};
pub use server_user::ServerUser;

/// What can go wrong finding or running PostgreSQL. Each message is one sentence saying what is
/// wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "no PostgreSQL server binaries found (looked in {}); run `./dev setup` to install PostgreSQL 18 into the project, or set DUMPLENS_PG_BINDIR to a directory holding initdb and postgres",
        display_paths(searched)
    )]
    NotFound { searched: Vec<PathBuf> },

    #[error(
        "no {program} found (looked in {}); run `./dev setup`, or set DUMPLENS_PG_BINDIR to a PostgreSQL bin directory",
        display_paths(searched)
    )]
    NoClient {
        program: String,
        searched: Vec<PathBuf>,
    },

    #[error(
        "{} does not hold PostgreSQL server binaries (initdb and postgres); point DUMPLENS_PG_BINDIR or --pg-bindir at a PostgreSQL bin directory",
        .0.display()
    )]
    NotAnInstall(PathBuf),

    #[error(
        "PostgreSQL {version} in {} is too old: PgDumpLens needs {needed} or newer; run `./dev setup` to install PostgreSQL 18, or set DUMPLENS_PG_BINDIR to a newer installation",
        bin_dir.display()
    )]
    TooOld {
        version: String,
        bin_dir: PathBuf,
        needed: u32,
    },

    #[error(
        "cannot write the data directory {} ({source}); pass a --data-dir you can write to",
        path.display()
    )]
    DataDirNotWritable {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "{} cannot be reached by the unprivileged user '{user}' that runs PostgreSQL (a parent directory is not searchable by it, as under root's home); keep the data directory and the PostgreSQL binaries outside such directories",
        path.display()
    )]
    Unreachable { path: PathBuf, user: String },

    #[error(
        "the PostgreSQL cluster in {} is already running (pid {pid}), probably for another dumplens process; stop that one or use another --data-dir",
        data_dir.display()
    )]
    AlreadyRunning { data_dir: PathBuf, pid: i32 },

    #[error(
        "the cluster in {} was not created by PgDumpLens or is damaged ({what}); move it away or pass another --data-dir",
        path.display()
    )]
    Damaged { path: PathBuf, what: String },

    #[error("initdb failed: {reason}; its output is in {}", log.display())]
    InitdbFailed { reason: String, log: PathBuf },

    #[error("PostgreSQL did not start: {reason}; its log is in {}", log.display())]
    StartFailed { reason: String, log: PathBuf },

    #[error(
        "running as root, PostgreSQL must run as the unprivileged user '{0}', which this system lacks; run dumplens as a normal user"
    )]
    NoServerUser(String),

    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },

    #[error("unexpected I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no candidate directories".into();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
