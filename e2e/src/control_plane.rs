//! etcd, kube-apiserver and kube-controller-manager on free loopback ports.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lens::process::Supervised;
use nix::sys::signal::Signal;

use crate::HarnessError;
use crate::certs::{self, Pki};

const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Controllers the tests rely on; no scheduler and no kubelet run (see the pod runner).
const CONTROLLERS: &str = "job,garbage-collector-controller,namespace-controller,ttl-after-finished-controller,serviceaccount-controller,serviceaccount-token-controller";

struct Component {
    name: &'static str,
    process: Supervised,
    log: PathBuf,
}

/// A running control plane. Dropping it stops every process (they also die with the test
/// process, by their parent-death signal).
pub struct ControlPlane {
    dir: PathBuf,
    components: Vec<Component>,
    /// An admin kubeconfig (client certificate in `system:masters`).
    pub kubeconfig: PathBuf,
    pub server: String,
    pub pki: Pki,
}

fn free_port() -> Result<u16, HarnessError> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|source| HarnessError::Io {
            path: "127.0.0.1:0".into(),
            source,
        })?;
    Ok(listener.local_addr().expect("bound").port())
}

impl ControlPlane {
    /// Starts etcd, kube-apiserver and kube-controller-manager from `bin_dir`, with their data
    /// and logs in `dir`. Blocks until the API server is ready.
    pub fn start(bin_dir: &Path, dir: &Path) -> Result<Self, HarnessError> {
        let pki = certs::generate(dir)?;
        let mut plane = Self {
            dir: dir.to_path_buf(),
            components: Vec::new(),
            kubeconfig: dir.join("kubeconfig"),
            server: String::new(),
            pki,
        };
        let (etcd_client, etcd_peer, apiserver) = (free_port()?, free_port()?, free_port()?);
        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        plane.spawn(
            "etcd",
            Command::new(bin_dir.join("etcd"))
                .arg("--data-dir")
                .arg(dir.join("etcd"))
                .args([
                    "--listen-client-urls",
                    &etcd_url,
                    "--advertise-client-urls",
                    &etcd_url,
                ])
                .args([
                    "--listen-peer-urls",
                    &format!("http://127.0.0.1:{etcd_peer}"),
                ])
                .args([
                    "--initial-advertise-peer-urls",
                    &format!("http://127.0.0.1:{etcd_peer}"),
                ])
                .args([
                    "--initial-cluster",
                    &format!("default=http://127.0.0.1:{etcd_peer}"),
                ])
                // Test data: no need to survive a power cut.
                .arg("--unsafe-no-fsync"),
        )?;
        plane.wait_until("etcd", || http_ok(etcd_client, "/health"))?;

        let pki = plane.pki.clone();
        plane.server = format!("https://127.0.0.1:{apiserver}");
        plane.spawn(
            "kube-apiserver",
            Command::new(bin_dir.join("kube-apiserver"))
                .args(["--etcd-servers", &etcd_url])
                .args([
                    "--bind-address",
                    "127.0.0.1",
                    "--advertise-address",
                    "127.0.0.1",
                ])
                .args(["--secure-port", &apiserver.to_string()])
                .arg("--tls-cert-file")
                .arg(&pki.server_cert)
                .arg("--tls-private-key-file")
                .arg(&pki.server_key)
                .arg("--client-ca-file")
                .arg(&pki.ca_cert)
                .arg("--service-account-key-file")
                .arg(&pki.service_account_public)
                .arg("--service-account-signing-key-file")
                .arg(&pki.service_account_key)
                .args(["--service-account-issuer", "https://kubernetes.default.svc"])
                .args(["--authorization-mode", "Node,RBAC"])
                .args(["--service-cluster-ip-range", "10.96.0.0/16"])
                .arg("--cert-dir")
                .arg(dir.join("apiserver-certs")),
        )?;
        plane.write_kubeconfig()?;
        plane.wait_until("kube-apiserver", || {
            plane
                .kubectl()
                .args(["get", "--raw", "/readyz"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })?;

        plane.install_crds()?;
        plane.spawn(
            "kube-controller-manager",
            Command::new(bin_dir.join("kube-controller-manager"))
                .arg("--kubeconfig")
                .arg(&plane.kubeconfig)
                .arg("--authentication-kubeconfig")
                .arg(&plane.kubeconfig)
                .arg("--authorization-kubeconfig")
                .arg(&plane.kubeconfig)
                .args(["--controllers", CONTROLLERS])
                .arg("--service-account-private-key-file")
                .arg(&pki.service_account_key)
                .arg("--root-ca-file")
                .arg(&pki.ca_cert)
                .args(["--leader-elect=false", "--bind-address", "127.0.0.1"])
                .args(["--secure-port", &free_port()?.to_string()]),
        )?;
        Ok(plane)
    }

    /// kubectl for the harness's own calls, with a discovery cache of its own: discovery cached
    /// before the CRDs existed would hide them from the tests' kubectl for hours.
    fn kubectl(&self) -> Command {
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.join("kubectl-cache"));
        command
    }

    /// Applies the project's CustomResourceDefinitions (the checked-in `crds/*.yaml`) and waits
    /// until the API server serves them.
    fn install_crds(&self) -> Result<(), HarnessError> {
        let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds");
        let kubectl = |args: &[&str]| self.kubectl().args(args).output();
        for args in [
            vec![
                "apply",
                "--server-side",
                "-f",
                crds.to_str().expect("a UTF-8 path"),
            ],
            vec![
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd",
                "--all",
            ],
        ] {
            let output = kubectl(&args).map_err(|source| HarnessError::Io {
                path: "kubectl".into(),
                source,
            })?;
            if !output.status.success() {
                return Err(HarnessError::Start {
                    component: "the project's CRDs",
                    reason: String::from_utf8_lossy(&output.stderr).trim().to_string(),
                    log: crds.clone(),
                });
            }
        }
        // The OpenAPI document (which `kubectl explain` reads) follows a little later.
        self.wait_until("kube-apiserver", || {
            kubectl(&["get", "--raw", "/openapi/v3/apis/dumplens.io/v1alpha1"])
                .is_ok_and(|o| o.status.success())
        })
    }

    fn spawn(&mut self, name: &'static str, command: &mut Command) -> Result<(), HarnessError> {
        let log = self.dir.join(format!("{name}.log"));
        let out = File::create(&log).map_err(|source| HarnessError::Io {
            path: log.clone(),
            source,
        })?;
        let err = out.try_clone().map_err(|source| HarnessError::Io {
            path: log.clone(),
            source,
        })?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let program = command.get_program().to_owned();
        let command = std::mem::replace(command, Command::new(&program));
        let process =
            Supervised::spawn(command, Signal::SIGTERM).map_err(|source| HarnessError::Start {
                component: name,
                reason: source.to_string(),
                log: log.clone(),
            })?;
        self.components.push(Component { name, process, log });
        Ok(())
    }

    /// Polls `ready` until it holds; fails naming the component, why, and its log.
    fn wait_until(
        &self,
        name: &'static str,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), HarnessError> {
        let component = self
            .components
            .iter()
            .find(|c| c.name == name)
            .expect("spawned before waiting");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(how) = component.process.exit() {
                return Err(HarnessError::Start {
                    component: name,
                    reason: how,
                    log: component.log.clone(),
                });
            }
            if ready() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(HarnessError::Start {
                    component: name,
                    reason: format!("not ready within {} s", READY_TIMEOUT.as_secs()),
                    log: component.log.clone(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn write_kubeconfig(&self) -> Result<(), HarnessError> {
        let path = |p: &Path| p.display().to_string();
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {}\n    certificate-authority: {}\n\
             users:\n- name: admin\n  user:\n    client-certificate: {}\n    client-key: {}\n\
             contexts:\n- name: e2e\n  context:\n    cluster: e2e\n    user: admin\ncurrent-context: e2e\n",
            self.server,
            path(&self.pki.ca_cert),
            path(&self.pki.client_cert),
            path(&self.pki.client_key),
        );
        std::fs::write(&self.kubeconfig, kubeconfig).map_err(|source| HarnessError::Io {
            path: self.kubeconfig.clone(),
            source,
        })
    }

    /// Stops every component, newest first (test processes: a short grace, then SIGKILL).
    /// Idempotent.
    pub fn stop(&mut self) {
        while let Some(mut component) = self.components.pop() {
            component
                .process
                .stop(Signal::SIGTERM, Duration::from_secs(3), Signal::SIGKILL);
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A plain-HTTP GET on loopback answered with 200.
fn http_ok(port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200")
}
