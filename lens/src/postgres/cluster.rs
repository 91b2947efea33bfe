//! A private PostgreSQL cluster that PgDumpLens initialises, starts, reuses and stops.
//!
//! Layout of the cluster directory:
//! - `pgdata/`: the data directory (owned by the server user, mode 0700);
//! - `run/`: the Unix socket directory (owned by the server user, mode 0700, so only we and the
//!   server user can connect through it);
//! - `superuser-password`: the password of the `postgres` role (mode 0600, owned by us);
//! - `postgres.log`: the server's output.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{PgError, PgInstall, ServerUser};
use crate::process::Supervised;

/// The superuser role `initdb` creates.
pub const SUPERUSER: &str = "postgres";

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// A stale server may still be shutting down after its parent died; wait this long for it.
const STALE_SERVER_GRACE: Duration = Duration::from_secs(5);
const LOG_ROTATE_BYTES: u64 = 8 << 20;
/// `sun_path` is 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// Settings for throwaway data: a sandbox never needs to survive a power cut, so durability is
/// traded for speed. Passed on the command line so they hold for reused clusters too.
const THROWAWAY_SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", "127.0.0.1"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("wal_level", "minimal"),
    ("max_wal_senders", "0"),
];

/// How the server process ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("PostgreSQL (pid {pid}) {how}; its log is in {}", log.display())]
pub struct ServerExit {
    pub pid: i32,
    pub how: String,
    pub log: PathBuf,
}

/// A running cluster. Dropping it stops the server; the server also stops if this process dies
/// (it gets SIGINT, a fast shutdown, when the thread that started it ends).
#[derive(Debug)]
pub struct ManagedCluster {
    install: PgInstall,
    root: PathBuf,
    port: u16,
    password: String,
    socket_dir: Option<PathBuf>,
    server: Supervised,
}

impl ManagedCluster {
    /// Starts the cluster kept in `root`, creating it first if there is none. Blocks until the
    /// server accepts connections; call it from `spawn_blocking` in async code.
    pub fn start(root: &Path, install: PgInstall) -> Result<Self, PgError> {
        let server_user = ServerUser::for_current_process()?;
        let layout = Layout::create(root)?;
        if let Some(user) = &server_user {
            user.require_reachable(&layout.pgdata())?;
            user.require_reachable(&install.program("postgres"))?;
        }
        if !layout.pgdata().exists() {
            initdb(&layout, &install, server_user.as_ref())?;
        }
        let password = fs::read_to_string(layout.password_file())
            .map_err(|_| PgError::Damaged {
                path: layout.root.clone(),
                what: "its superuser-password file is missing".into(),
            })?
            .trim()
            .to_string();
        remove_stale_pid_file(&layout.pgdata())?;
        let socket_dir = layout.socket_dir(server_user.as_ref())?;

        // The port is free when we look but another process may take it before the server binds
        // it; try a few.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let port = free_loopback_port(&layout)?;
            match spawn_server(
                &layout,
                &install,
                server_user.as_ref(),
                port,
                socket_dir.as_deref(),
            ) {
                Ok(server) => {
                    return Ok(Self {
                        install,
                        root: layout.root,
                        port,
                        password,
                        socket_dir,
                        server,
                    });
                }
                Err(PgError::StartFailed { reason, .. })
                    if reason.contains("could not create any TCP/IP sockets") && attempts < 3 =>
                {
                    tracing::debug!(port, "port taken while starting PostgreSQL; trying another")
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// A connection URL for the superuser and `database`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// A connection URL for the superuser and the `postgres` database.
    pub fn admin_url(&self) -> String {
        self.url("postgres")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> i32 {
        self.server.pid()
    }

    /// The Unix socket directory, unless the path would be too long for a socket.
    pub fn socket_dir(&self) -> Option<&Path> {
        self.socket_dir.as_deref()
    }

    pub fn install(&self) -> &PgInstall {
        &self.install
    }

    pub fn log_file(&self) -> PathBuf {
        Layout::at(&self.root).log_file()
    }

    /// Resolves when the server exits for any reason other than [`ManagedCluster::stop`].
    pub async fn exited(&self) -> ServerExit {
        ServerExit {
            pid: self.server.pid(),
            how: self.server.exited().await,
            log: self.log_file(),
        }
    }

    /// Stops the server with a fast shutdown (an immediate one if it takes too long) and waits
    /// for it to exit. Idempotent.
    pub fn stop(&mut self) {
        self.server
            .stop(Signal::SIGINT, STOP_TIMEOUT, Signal::SIGQUIT);
    }
}

impl Drop for ManagedCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Layout {
    root: PathBuf,
}

impl Layout {
    fn at(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// Creates the cluster directory (readable by the server user) and checks we can write it.
    fn create(root: &Path) -> Result<Self, PgError> {
        let not_writable = |source| PgError::DataDirNotWritable {
            path: root.to_path_buf(),
            source,
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(root)
            .map_err(not_writable)?;
        let root = root.canonicalize().map_err(not_writable)?;
        let layout = Self { root };
        // Opening the log is the first write; it tells us early if the directory is read-only.
        layout.open_log().map_err(not_writable)?;
        Ok(layout)
    }

    fn pgdata(&self) -> PathBuf {
        self.root.join("pgdata")
    }

    /// initdb writes here; it becomes `pgdata` only once complete, so a crash during initdb never
    /// leaves a half-made cluster that a later start would try to use.
    fn initdb_scratch(&self) -> PathBuf {
        self.root.join("pgdata.initdb")
    }

    fn password_file(&self) -> PathBuf {
        self.root.join("superuser-password")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    fn open_log(&self) -> std::io::Result<File> {
        let path = self.log_file();
        if fs::metadata(&path).is_ok_and(|m| m.len() > LOG_ROTATE_BYTES) {
            fs::rename(&path, path.with_extension("log.1"))?;
        }
        OpenOptions::new().create(true).append(true).open(path)
    }

    /// The socket directory, or `None` when a socket path under it would be too long.
    fn socket_dir(&self, user: Option<&ServerUser>) -> Result<Option<PathBuf>, PgError> {
        let dir = self.root.join("run");
        // ".s.PGSQL.65535" is the longest socket name.
        if dir.as_os_str().len() + "/.s.PGSQL.65535".len() > MAX_SOCKET_PATH {
            tracing::info!(dir = %dir.display(), "path too long for a Unix socket; TCP only");
            return Ok(None);
        }
        make_private_dir(&dir, user)?;
        Ok(Some(dir))
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PgError + '_ {
    move |source| PgError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (if needed) with mode 0700, owned by the server user.
fn make_private_dir(dir: &Path, user: Option<&ServerUser>) -> Result<(), PgError> {
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_error(dir)(e)),
    }
    if let Some(user) = user {
        user.give(dir)?;
    }
    Ok(())
}

fn write_private_file(path: &Path, contents: &str) -> Result<(), PgError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path))?;
    file.write_all(contents.as_bytes()).map_err(io_error(path))
}

fn random_password() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn initdb(layout: &Layout, install: &PgInstall, user: Option<&ServerUser>) -> Result<(), PgError> {
    let scratch = layout.initdb_scratch();
    if scratch.exists() {
        fs::remove_dir_all(&scratch).map_err(io_error(&scratch))?;
    }
    make_private_dir(&scratch, user)?;

    let password = random_password();
    // initdb runs as the server user, so it reads the password from a file of its own; the file
    // lives only as long as initdb runs.
    let pwfile = layout.root.join("initdb-password");
    write_private_file(&pwfile, &password)?;
    if let Some(user) = user {
        user.give(&pwfile)?;
    }
    let mut command = Command::new(install.program("initdb"));
    command
        .arg("--pgdata")
        .arg(&scratch)
        .args(["--username", SUPERUSER, "--auth=scram-sha-256"])
        .args(["--encoding=UTF8", "--locale=C", "--no-sync"])
        .arg("--pwfile")
        .arg(&pwfile)
        .stdin(Stdio::null());
    if let Some(user) = user {
        user.apply(&mut command);
    }
    let output = command.output();
    let _ = fs::remove_file(&pwfile);
    let output = output.map_err(|source| PgError::Spawn {
        program: install.program("initdb"),
        source,
    })?;
    if !output.status.success() {
        let _ = fs::remove_dir_all(&scratch);
        let log = layout.log_file();
        if let Ok(mut file) = layout.open_log() {
            let _ = file.write_all(&output.stdout);
            let _ = file.write_all(&output.stderr);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .find(|l| l.contains("error:"))
            .or_else(|| stderr.lines().last())
            .unwrap_or("no output")
            .trim()
            .to_string();
        return Err(PgError::InitdbFailed { reason, log });
    }
    write_private_file(&layout.password_file(), &password)?;
    fs::rename(&scratch, layout.pgdata()).map_err(io_error(&scratch))?;
    tracing::info!(dir = %layout.root.display(), version = %install.version, "created a PostgreSQL cluster");
    Ok(())
}

/// A `postmaster.pid` left by a crash stops PostgreSQL from starting when its pid now belongs
/// to another process. The file is ours to remove unless a server really runs on this data
/// directory (its working directory is the data directory).
fn remove_stale_pid_file(pgdata: &Path) -> Result<(), PgError> {
    let pid_file = pgdata.join("postmaster.pid");
    let Ok(contents) = fs::read_to_string(&pid_file) else {
        return Ok(());
    };
    let pid = contents
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok());
    if let Some(pid) = pid {
        let deadline = Instant::now() + STALE_SERVER_GRACE;
        while serves_data_dir(pid, pgdata) {
            if Instant::now() > deadline {
                return Err(PgError::AlreadyRunning {
                    data_dir: pgdata.to_path_buf(),
                    pid,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    match fs::remove_file(&pid_file) {
        Ok(()) => tracing::warn!(?pid, "removed a stale postmaster.pid left by a crash"),
        // The server we waited for removed it as it shut down (our parent was just killed).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&pid_file)(e)),
    }
    Ok(())
}

fn serves_data_dir(pid: i32, pgdata: &Path) -> bool {
    fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == pgdata)
}

fn free_loopback_port(layout: &Layout) -> Result<u16, PgError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_error(&layout.root))?;
    let port = listener
        .local_addr()
        .map_err(io_error(&layout.root))?
        .port();
    Ok(port)
}

fn spawn_server(
    layout: &Layout,
    install: &PgInstall,
    user: Option<&ServerUser>,
    port: u16,
    socket_dir: Option<&Path>,
) -> Result<Supervised, PgError> {
    let log_path = layout.log_file();
    let log = layout.open_log().map_err(io_error(&log_path))?;
    let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
    let stderr = log.try_clone().map_err(io_error(&log_path))?;

    let program = install.program("postgres");
    let mut command = Command::new(&program);
    command
        .arg("-D")
        .arg(layout.pgdata())
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(socket_dir.map(Path::as_os_str).unwrap_or_default());
    for (name, value) in THROWAWAY_SETTINGS {
        command.arg("-c").arg(format!("{name}={value}"));
    }
    command.stdin(Stdio::null()).stdout(log).stderr(stderr);
    if let Some(user) = user {
        user.apply(&mut command);
    }
    let mut server = Supervised::spawn(command, Signal::SIGINT)
        .map_err(|source| PgError::Spawn { program, source })?;

    let pid_file = layout.pgdata().join("postmaster.pid");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if server.exit().is_some() {
            server.stop(Signal::SIGQUIT, Duration::ZERO, Signal::SIGKILL);
            return Err(PgError::StartFailed {
                reason: fatal_reason(&log_path, log_start),
                log: log_path,
            });
        }
        if is_ready(&pid_file) {
            tracing::info!(port, pid = server.pid(), "PostgreSQL is ready");
            return Ok(server);
        }
        if Instant::now() > deadline {
            server.stop(Signal::SIGQUIT, Duration::from_secs(5), Signal::SIGKILL);
            return Err(PgError::StartFailed {
                reason: format!(
                    "it did not accept connections within {} s",
                    START_TIMEOUT.as_secs()
                ),
                log: log_path,
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The 8th line of `postmaster.pid` is the postmaster's status, `ready` once it accepts
/// connections (PostgreSQL 10 and later).
fn is_ready(pid_file: &Path) -> bool {
    fs::read_to_string(pid_file)
        .is_ok_and(|text| text.lines().nth(7).is_some_and(|s| s.trim() == "ready"))
}

/// The first FATAL or PANIC message the server logged since `offset`.
fn fatal_reason(log: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(log) {
        let _ = file.seek(SeekFrom::Start(offset));
        let _ = file.read_to_string(&mut text);
    }
    let line = text
        .lines()
        .find(|l| l.contains("FATAL:") || l.contains("PANIC:"))
        .or_else(|| text.lines().rfind(|l| !l.trim().is_empty()));
    match line {
        Some(line) => line
            .split_once("FATAL:")
            .or_else(|| line.split_once("PANIC:"))
            .map_or(line, |(_, message)| message)
            .trim()
            .to_string(),
        None => "it exited without a message".into(),
    }
}
