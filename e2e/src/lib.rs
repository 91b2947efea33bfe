//! End-to-end test harness: a real Kubernetes control plane (etcd, kube-apiserver,
//! kube-controller-manager built from the Go module proxy by `controlplane/build.sh`) on
//! loopback, with a test stand-in for the kubelet. One control plane per test process, started
//! on first use; a namespace per test.

pub mod certs;
pub mod control_plane;
pub mod pod_runner;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

pub use control_plane::ControlPlane;

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("generating certificates: {0}")]
    Certificates(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{component} did not start: {reason}; its log is {}", log.display())]
    Start {
        component: &'static str,
        reason: String,
        log: PathBuf,
    },
    #[error("building the control plane failed (run {script} to see why): {reason}")]
    Build { script: String, reason: String },
}

/// Builds (or finds in the cache) the control-plane binaries; returns their directory.
pub fn control_plane_binaries() -> Result<PathBuf, HarnessError> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("controlplane/build.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|source| HarnessError::Io {
            path: script.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(HarnessError::Build {
            script: script.display().to_string(),
            reason: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

struct Shared {
    plane: Mutex<Option<ControlPlane>>,
    dir: PathBuf,
    kubeconfig: PathBuf,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        let bin_dir = control_plane_binaries().unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::Builder::new()
            .prefix("dumplens-e2e-")
            .tempdir()
            .expect("a temporary directory")
            .keep();
        let plane = ControlPlane::start(&bin_dir, &dir).unwrap_or_else(|e| panic!("{e}"));
        let kubeconfig = plane.kubeconfig.clone();
        start_pod_runner(kubeconfig.clone(), dir.join("pods"));
        // Statics are never dropped: stop the processes and remove the files at exit.
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe { nix::libc::atexit(stop_shared) };
        Shared {
            plane: Mutex::new(Some(plane)),
            dir,
            kubeconfig,
        }
    })
}

extern "C" fn stop_shared() {
    if let Some(shared) = SHARED.get() {
        if let Ok(mut plane) = shared.plane.lock() {
            drop(plane.take());
        }
        let _ = std::fs::remove_dir_all(&shared.dir);
    }
}

/// The pod runner lives on a thread of its own, with its own runtime, for the whole process.
fn start_pod_runner(kubeconfig: PathBuf, work_dir: PathBuf) {
    std::thread::Builder::new()
        .name("test-pod-runner".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(run_pod_runner(kubeconfig, work_dir));
        })
        .expect("start the pod runner thread");
}

/// Runs the test pod runner against the control plane of `kubeconfig` until it fails.
pub async fn run_pod_runner(kubeconfig: PathBuf, work_dir: PathBuf) {
    let client = client_for(&kubeconfig).await;
    if let Err(err) = pod_runner::run(client, work_dir).await {
        tracing::error!(%err, "the test pod runner stopped");
    }
}

async fn client_for(kubeconfig: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("the harness's kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a client configuration");
    Client::try_from(config).expect("a client")
}

/// Where the test pod runner keeps PersistentVolumeClaim `claim` of namespace `ns`.
pub fn claim_dir(ns: &str, claim: &str) -> PathBuf {
    pod_runner::claim_dir(&shared().dir.join("pods"), ns, claim)
}

/// The admin kubeconfig of this process's control plane (started on first use).
pub fn kubeconfig() -> &'static Path {
    &shared().kubeconfig
}

/// A client of this process's control plane, as cluster admin.
pub async fn client() -> Client {
    client_for(kubeconfig()).await
}

/// Creates a namespace for one test.
pub async fn namespace(client: &Client) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).expect("valid");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create a namespace");
    name
}

/// Runs kubectl against this process's control plane, with `stdin` as its input.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    let mut input = child.stdin.take().expect("piped");
    if let Some(text) = stdin {
        input
            .write_all(text.as_bytes())
            .expect("kubectl reads its input");
    }
    drop(input);
    child.wait_with_output().expect("kubectl finishes")
}

/// Runs `command` (dumplens and its arguments) against this process's control plane and the
/// sandbox server `admin_url`, its stderr appended to `log`; killed with the test process.
fn spawn_dumplens(
    command: &[std::ffi::OsString],
    admin_url: &str,
    log: &Path,
) -> lens::process::Supervised {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("a log file");
    let mut process = std::process::Command::new(&command[0]);
    process
        .args(&command[1..])
        .env("KUBECONFIG", kubeconfig())
        .env("DUMPLENS_ADMIN_URL", admin_url)
        .env("DUMPLENS_LOG", "info,operator=debug,api=debug,sqlx=warn")
        .stdout(std::process::Stdio::null())
        .stderr(log);
    lens::process::Supervised::spawn(process, nix::sys::signal::Signal::SIGKILL)
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"))
}

fn free_loopback_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// `dumplens api` (the Kubernetes mode of the API) run as its own process against this
/// process's control plane.
pub struct ApiProcess {
    _process: lens::process::Supervised,
    /// Its base URL, without a trailing slash.
    pub url: String,
    /// Its log (stderr).
    pub log: PathBuf,
}

impl ApiProcess {
    /// Starts `dumplens api` with `args` besides the listen address, and waits until it is
    /// healthy.
    pub async fn start(dumplens: &Path, admin_url: &str, args: &[&std::ffi::OsStr]) -> Self {
        let listen = free_loopback_port();
        let log = shared().dir.join(format!("api-{}.log", listen.port()));
        let mut command: Vec<std::ffi::OsString> = vec![
            dumplens.into(),
            "api".into(),
            "--listen".into(),
            listen.to_string().into(),
        ];
        command.extend(args.iter().map(|a| a.to_os_string()));
        let process = spawn_dumplens(&command, admin_url, &log);
        let url = format!("http://{listen}");
        for _ in 0..300 {
            if let Ok(response) = reqwest::get(format!("{url}/healthz")).await
                && response.status().is_success()
            {
                return Self {
                    _process: process,
                    url,
                    log,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("dumplens api did not become healthy; its log:\n{said}");
    }
}

/// `dumplens operator` run as its own process against this process's control plane (as in a
/// cluster); its restore Jobs run through the pod runner.
pub struct OperatorProcess {
    process: Option<lens::process::Supervised>,
    command: Vec<std::ffi::OsString>,
    admin_url: String,
    /// Where /metrics and /healthz are served.
    pub metrics: std::net::SocketAddr,
    /// The operator's log (stderr), appended to across restarts.
    pub log: PathBuf,
}

impl OperatorProcess {
    /// Starts `dumplens` (the binary at that path) as an operator with `args` (which name the
    /// restore command) besides the metrics address.
    pub fn start(dumplens: &Path, admin_url: &str, args: &[&std::ffi::OsStr]) -> Self {
        let metrics = free_loopback_port();
        let log = shared()
            .dir
            .join(format!("operator-{}.log", metrics.port()));
        let mut command: Vec<std::ffi::OsString> = vec![
            dumplens.into(),
            "operator".into(),
            "--restore-image".into(),
            "dumplens:test".into(),
            "--metrics-listen".into(),
            metrics.to_string().into(),
        ];
        command.extend(args.iter().map(|a| a.to_os_string()));
        let mut operator = Self {
            process: None,
            command,
            admin_url: admin_url.to_string(),
            metrics,
            log,
        };
        operator.spawn();
        operator
    }

    fn spawn(&mut self) {
        self.process = Some(spawn_dumplens(&self.command, &self.admin_url, &self.log));
    }

    pub fn pid(&self) -> i32 {
        self.process.as_ref().expect("running").pid()
    }

    /// Kills the operator (SIGKILL: no chance to tidy up) and starts it again.
    pub fn kill_and_restart(&mut self) {
        if let Some(mut process) = self.process.take() {
            let kill = nix::sys::signal::Signal::SIGKILL;
            process.stop(kill, std::time::Duration::ZERO, kill);
        }
        self.spawn();
    }

    /// The operator's metrics, in the Prometheus text format (waiting for it to listen).
    pub async fn scrape(&self) -> String {
        let url = format!("http://{}/metrics", self.metrics);
        for _ in 0..100 {
            if let Ok(response) = reqwest::get(&url).await {
                return response.text().await.expect("a metrics page");
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no metrics at {url}; see {}", self.log.display());
    }
}
