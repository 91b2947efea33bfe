//! The harness itself: a real API server that reports its version, a Job that completes through
//! the real Job controller with the test pod runner, and namespace deletion that removes what
//! the namespace held.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, ContainerStateTerminated, Namespace, Pod};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn job(name: &str, script: &str) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}],
            }},
        },
    }))
    .unwrap()
}

/// Runs `job` in `ns` until it finishes; returns whether it completed, the pod's phase, and the
/// container's terminated state.
async fn run_job(
    client: &Client,
    ns: &str,
    job: &Job,
) -> (bool, Option<String>, ContainerStateTerminated) {
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let name = job.metadata.name.clone().unwrap();
    jobs.create(&PostParams::default(), job).await.unwrap();
    let finished = eventually("the job to finish", async || {
        let job = jobs.get(&name).await.ok()?;
        (condition(&job, "Complete") || condition(&job, "Failed")).then_some(job)
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = pods
        .list(&ListParams::default().labels(&format!("job-name={name}")))
        .await
        .unwrap()
        .items
        .remove(0);
    let status = pod.status.unwrap();
    let terminated = status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    (condition(&finished, "Complete"), status.phase, terminated)
}

fn condition(job: &Job, kind: &str) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == kind && c.status == "True"))
}

#[tokio::test]
async fn kubectl_sees_the_real_api_server_version() {
    let output = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(e2e::kubeconfig())
        .args(["version", "-o", "json"])
        .output()
        .unwrap();
    let version: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let server = version["serverVersion"]["gitVersion"].as_str().unwrap();
    assert!(server.starts_with("v1.36."), "{server}");
}

#[tokio::test]
async fn a_job_completes_through_the_job_controller() {
    let client: Client = e2e::client().await;
    let ns = e2e::namespace(&client).await;
    let (completed, phase, terminated) = run_job(&client, &ns, &job("hello", "echo hi")).await;
    assert!(completed);
    assert_eq!(phase.as_deref(), Some("Succeeded"));
    assert_eq!(terminated.exit_code, 0);
    assert_eq!(terminated.message.as_deref(), Some("hi"));
}

#[tokio::test]
async fn a_failing_job_fails_with_its_exit_code_and_output() {
    let client: Client = e2e::client().await;
    let ns = e2e::namespace(&client).await;
    let failing = job("broken", "echo something broke >&2; exit 3");
    let (completed, phase, terminated) = run_job(&client, &ns, &failing).await;
    assert!(!completed);
    assert_eq!(phase.as_deref(), Some("Failed"));
    assert_eq!(terminated.exit_code, 3);
    assert_eq!(terminated.message.as_deref(), Some("something broke"));
}

#[tokio::test]
async fn deleting_a_namespace_removes_its_objects() {
    let client: Client = e2e::client().await;
    let ns = e2e::namespace(&client).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let config_map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "kept"}, "data": {"a": "b"}})).unwrap();
    config_maps
        .create(&PostParams::default(), &config_map)
        .await
        .unwrap();
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    jobs.create(&PostParams::default(), &job("sleeper", "sleep 600"))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    eventually("the pod to run", async || {
        let list = pods.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .then_some(())
    })
    .await;

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
    eventually("the namespace to be gone", async || {
        match namespaces.get(&ns).await {
            Err(kube::Error::Api(e)) if e.code == 404 => Some(()),
            _ => None,
        }
    })
    .await;
    assert!(
        config_maps
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn volume_mounts_become_local_directories() {
    let client: Client = e2e::client().await;
    let ns = e2e::namespace(&client).await;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
    let secret = serde_json::from_value(json!({
        "metadata": {"name": "creds"}, "stringData": {"password": "s3cret"},
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    std::fs::create_dir_all(e2e::claim_dir(&ns, "uploads")).unwrap();
    std::fs::write(
        e2e::claim_dir(&ns, "uploads").join("in.txt"),
        "from the claim",
    )
    .unwrap();
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "volumes"},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "main", "image": "busybox",
                "command": ["sh", "-c",
                    "cat /uploads/in.txt > /scratch/copy && cp /scratch/copy /uploads/out.txt && cat /creds/password"],
                "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}],
                "volumeMounts": [
                    {"name": "uploads", "mountPath": "/uploads"},
                    {"name": "scratch", "mountPath": "/scratch"},
                    {"name": "creds", "mountPath": "/creds"},
                ],
            }],
            "volumes": [
                {"name": "uploads", "persistentVolumeClaim": {"claimName": "uploads"}},
                {"name": "scratch", "emptyDir": {}},
                {"name": "creds", "secret": {"secretName": "creds"}},
            ],
        }}},
    }))
    .unwrap();
    let (completed, _, terminated) = run_job(&client, &ns, &job).await;
    let message = terminated.message.unwrap_or_default();
    assert!(completed, "{message}");
    assert_eq!(message, "s3cret");
    let out = std::fs::read_to_string(e2e::claim_dir(&ns, "uploads").join("out.txt")).unwrap();
    assert_eq!(out, "from the claim");
}

#[test]
fn a_component_that_fails_to_start_is_named_with_the_reason_and_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let bins = tempfile::tempdir().unwrap();
    // Missing altogether.
    let err = e2e::ControlPlane::start(bins.path(), dir.path())
        .err()
        .unwrap()
        .to_string();
    assert!(err.starts_with("etcd did not start"), "{err}");
    assert!(err.contains("etcd.log"), "{err}");
    // Starts, then dies.
    let fake = bins.path().join("etcd");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'no space left on device' >&2\nexit 2\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let err = e2e::ControlPlane::start(bins.path(), dir.path())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("etcd did not start: exited with code 2"),
        "{err}"
    );
    let log = std::fs::read_to_string(dir.path().join("etcd.log")).unwrap();
    assert!(log.contains("no space left on device"));
}
