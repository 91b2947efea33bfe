//! A test stand-in for the kubelet (there is no container runtime here): it registers a Node,
//! binds pending Pods to it (no scheduler runs either), runs each Pod's first container command
//! as a local process with the Pod's environment, and writes the phase, exit code and a
//! termination message (the tail of the output) back through the API, so Jobs complete through
//! the real Job controller. Images are ignored: the command must exist on this machine. Volume
//! mounts become local directories (see [`volume_dirs`]), and the mount paths in the command,
//! its arguments and environment values are rewritten to them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::io::AsyncReadExt;

/// The node every test Pod lands on.
pub const NODE: &str = "dumplens-test-runner";

/// Keeps this much of a container's output as its termination message.
const MESSAGE_BYTES: usize = 4096;

/// Registers the node and runs Pods until the watch fails.
pub async fn run(client: Client, work_dir: PathBuf) -> Result<(), kube::Error> {
    register_node(&client).await?;
    let pods: Api<Pod> = Api::all(client.clone());
    let mut running: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let events = watcher(pods, watcher::Config::default())
        .applied_objects()
        .default_backoff();
    let mut events = std::pin::pin!(events);
    while let Some(pod) = events
        .try_next()
        .await
        .map_err(|e| kube::Error::Service(Box::new(std::io::Error::other(e.to_string()))))?
    {
        let uid = pod.uid().unwrap_or_default();
        let ns = pod.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        if pod.metadata.deletion_timestamp.is_some() {
            if node.as_deref() == Some(NODE) || node.is_none() {
                if let Some(task) = running.remove(&uid) {
                    task.abort();
                }
                // What a kubelet does once the containers are gone.
                let _ = api
                    .delete(&pod.name_any(), &DeleteParams::default().grace_period(0))
                    .await;
            }
            continue;
        }
        match node.as_deref() {
            None => bind(&api, &pod.name_any()).await,
            Some(NODE) if !running.contains_key(&uid) && is_pending(&pod) => {
                let task = tokio::spawn(run_pod(client.clone(), pod, work_dir.clone()));
                running.insert(uid, task);
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_pending(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_none_or(|phase| phase == "Pending")
}

async fn register_node(client: &Client) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
    }))
    .expect("a valid Node");
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e),
    }
    let capacity = json!({"cpu": "2", "memory": "24Gi", "pods": "110"});
    nodes
        .patch_status(
            NODE,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "capacity": capacity, "allocatable": capacity,
                "conditions": [{"type": "Ready", "status": "True", "reason": "TestPodRunner",
                                "message": "a test stand-in for the kubelet",
                                "lastHeartbeatTime": Time(k8s_openapi::jiff::Timestamp::now()),
                                "lastTransitionTime": Time(k8s_openapi::jiff::Timestamp::now())}],
            }})),
        )
        .await?;
    Ok(())
}

async fn bind(pods: &Api<Pod>, name: &str) {
    let binding = json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": NODE},
    });
    if let Err(err) = pods
        .create_subresource::<_, serde_json::Value>(
            "binding",
            name,
            &PostParams::default(),
            &binding,
        )
        .await
    {
        tracing::debug!(%err, name, "binding a pod failed (it may be bound already)");
    }
}

async fn set_status(pods: &Api<Pod>, name: &str, status: serde_json::Value) {
    if let Err(err) = pods
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
    {
        tracing::warn!(%err, name, "could not write a pod's status");
    }
}

/// The container's environment: literal values and keys of Secrets.
async fn environment(
    client: &Client,
    ns: &str,
    pod: &Pod,
) -> Result<Vec<(String, String)>, String> {
    let container = &pod.spec.as_ref().expect("pods have a spec").containers[0];
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut env = Vec::new();
    for var in container.env.iter().flatten() {
        if let Some(value) = &var.value {
            env.push((var.name.clone(), value.clone()));
        } else if let Some(key) = var
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
        {
            let secret = secrets
                .get(&key.name)
                .await
                .map_err(|e| format!("secret {}: {e}", key.name))?;
            let value = secret
                .data
                .and_then(|d| d.get(&key.key).cloned())
                .ok_or_else(|| format!("secret {} has no key {}", key.name, key.key))?;
            env.push((
                var.name.clone(),
                String::from_utf8_lossy(&value.0).into_owned(),
            ));
        }
    }
    Ok(env)
}

/// Where the runner keeps the contents of PersistentVolumeClaim `claim` of namespace `ns`: a
/// test puts files here for a Pod to read, or reads what a Pod wrote.
pub fn claim_dir(work_dir: &Path, ns: &str, claim: &str) -> PathBuf {
    work_dir.join("claims").join(ns).join(claim)
}

/// A local directory for each volume mount of the Pod's first container, longest mount path
/// first: a claim's shared directory, a hostPath as it is, and for emptyDir, Secret and
/// ConfigMap volumes a directory of the Pod's own (Secret and ConfigMap keys written as files).
async fn volume_dirs(
    client: &Client,
    ns: &str,
    pod: &Pod,
    work_dir: &Path,
    pod_dir: &Path,
) -> Result<Vec<(String, PathBuf)>, String> {
    let spec = pod.spec.as_ref().expect("pods have a spec");
    let mut mounts = Vec::new();
    for mount in spec.containers[0].volume_mounts.iter().flatten() {
        let volume = spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)
            .ok_or_else(|| format!("no volume {}", mount.name))?;
        let dir = if let Some(claim) = &volume.persistent_volume_claim {
            claim_dir(work_dir, ns, &claim.claim_name)
        } else if let Some(host) = &volume.host_path {
            PathBuf::from(&host.path)
        } else {
            pod_dir.join("volumes").join(&volume.name)
        };
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some(secret) = &volume.secret {
            let name = secret.secret_name.clone().unwrap_or_default();
            let secret = Api::<Secret>::namespaced(client.clone(), ns)
                .get(&name)
                .await
                .map_err(|e| format!("secret {name}: {e}"))?;
            files.extend(secret.data.into_iter().flatten().map(|(k, v)| (k, v.0)));
        }
        if let Some(config_map) = &volume.config_map {
            let name = config_map.name.clone();
            let config_map = Api::<ConfigMap>::namespaced(client.clone(), ns)
                .get(&name)
                .await
                .map_err(|e| format!("config map {name}: {e}"))?;
            files.extend(
                config_map
                    .data
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k, v.into_bytes())),
            );
        }
        for (key, contents) in files {
            std::fs::write(dir.join(&key), contents).map_err(|e| format!("{key}: {e}"))?;
        }
        let dir = match mount.sub_path.as_deref() {
            Some(sub) if !sub.is_empty() => dir.join(sub),
            _ => dir,
        };
        mounts.push((mount.mount_path.clone(), dir));
    }
    mounts.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    Ok(mounts)
}

/// Rewrites each mount path in `value` (as a whole path component, e.g. `/data` in `cat
/// /data/x` but not in `/database`) to its local directory, in one pass, so a local directory
/// is never rewritten again. `mounts` come longest first, so the most specific mount wins.
fn map_paths(value: &str, mounts: &[(String, PathBuf)]) -> String {
    let is_path_char = |c: char| c.is_alphanumeric() || "_-.".contains(c);
    let mut out = String::with_capacity(value.len());
    let mut at = 0;
    while at < value.len() {
        let before = value[..at].chars().next_back();
        let starts_path = before.is_none_or(|c| !(is_path_char(c) || c == '/'));
        let mount = mounts.iter().find(|(mount_path, _)| {
            value[at..].starts_with(mount_path.as_str())
                && value[at + mount_path.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !is_path_char(c))
        });
        match mount {
            Some((mount_path, dir)) if starts_path => {
                out.push_str(&dir.display().to_string());
                at += mount_path.len();
            }
            _ => {
                let c = value[at..].chars().next().expect("not at the end");
                out.push(c);
                at += c.len_utf8();
            }
        }
    }
    out
}

async fn run_pod(client: Client, pod: Pod, work_dir: PathBuf) {
    let dir = work_dir.join(pod.uid().unwrap_or_default());
    let name = pod.name_any();
    let ns = pod.namespace().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let container = pod.spec.as_ref().expect("pods have a spec").containers[0].clone();
    let now = || Time(k8s_openapi::jiff::Timestamp::now());
    let started = now();
    let argv: Vec<String> = container
        .command
        .clone()
        .unwrap_or_default()
        .into_iter()
        .chain(container.args.clone().unwrap_or_default())
        .collect();
    let terminated = |code: i32, reason: &str, message: String| {
        json!({
            "phase": if code == 0 { "Succeeded" } else { "Failed" },
            "containerStatuses": [{
                "name": container.name, "image": container.image.clone().unwrap_or_default(),
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": code, "reason": reason, "message": message,
                                         "startedAt": started, "finishedAt": now()}},
            }],
        })
    };
    let prepared = async {
        let mounts = volume_dirs(&client, &ns, &pod, &work_dir, &dir).await?;
        let env = environment(&client, &ns, &pod).await?;
        Ok::<_, String>((mounts, env))
    };
    let (mounts, env) = match prepared.await {
        Ok(prepared) => prepared,
        Err(message) => {
            set_status(
                &pods,
                &name,
                terminated(128, "CreateContainerConfigError", message),
            )
            .await;
            return;
        }
    };
    let argv: Vec<String> = argv.iter().map(|a| map_paths(a, &mounts)).collect();
    let env: Vec<(String, String)> = env
        .into_iter()
        .map(|(k, v)| (k, map_paths(&v, &mounts)))
        .collect();
    let Some((program, args)) = argv.split_first() else {
        let message = "the test pod runner needs a command (it cannot run an image's entrypoint)";
        set_status(
            &pods,
            &name,
            terminated(128, "ContainerCannotRun", message.into()),
        )
        .await;
        return;
    };
    let _ = std::fs::create_dir_all(&dir);
    let child = tokio::process::Command::new(program)
        .args(args)
        .envs(env)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => {
            set_status(
                &pods,
                &name,
                terminated(128, "ContainerCannotRun", format!("{program}: {err}")),
            )
            .await;
            return;
        }
    };
    set_status(
        &pods,
        &name,
        json!({
            "phase": "Running", "startTime": started,
            "containerStatuses": [{
                "name": container.name, "image": container.image.clone().unwrap_or_default(),
                "imageID": "", "ready": true, "restartCount": 0, "started": true,
                "state": {"running": {"startedAt": started}},
            }],
        }),
    )
    .await;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (_, _, status) = tokio::join!(
        stdout.read_to_end(&mut out),
        stderr.read_to_end(&mut err),
        child.wait()
    );
    out.extend_from_slice(&err);
    let tail = &out[out.len().saturating_sub(MESSAGE_BYTES)..];
    let message = String::from_utf8_lossy(tail).trim().to_string();
    let code = status.ok().and_then(|s| s.code()).unwrap_or(137);
    let reason = if code == 0 { "Completed" } else { "Error" };
    set_status(&pods, &name, terminated(code, reason, message)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_rewritten_only_as_whole_components() {
        let mounts = vec![
            ("/data/sub".to_string(), PathBuf::from("/tmp/b")),
            ("/data".to_string(), PathBuf::from("/tmp/a")),
        ];
        assert_eq!(
            map_paths("echo hi > /data/out.txt", &mounts),
            "echo hi > /tmp/a/out.txt"
        );
        assert_eq!(map_paths("/data/sub/x", &mounts), "/tmp/b/x");
        assert_eq!(
            map_paths("/database and /data", &mounts),
            "/database and /tmp/a"
        );
        assert_eq!(map_paths("file=/data", &mounts), "file=/tmp/a");
        assert_eq!(map_paths("/x/data/y", &mounts), "/x/data/y");
    }

    #[test]
    fn a_local_directory_is_not_rewritten_again() {
        // Claims live under the runner's directory in /tmp, and /tmp is a mount too.
        let mounts = vec![
            ("/source".to_string(), PathBuf::from("/tmp/runner/claims/x")),
            ("/tmp".to_string(), PathBuf::from("/tmp/runner/pod/tmp")),
        ];
        assert_eq!(
            map_paths("/source/a.sql /tmp/b", &mounts),
            "/tmp/runner/claims/x/a.sql /tmp/runner/pod/tmp/b"
        );
    }
}
