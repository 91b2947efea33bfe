//! The objects a Dump needs, built from it alone (no API calls): names, the sandbox Secret,
//! the restore Job (its source mounted or passed as arguments), and the status conditions.

use std::path::{Component, Path};

use crds::Dump;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{Resource, ResourceExt};
use lens::conninfo::ServerUrl;
use serde_json::{Value, json};

use crate::{Config, Error};

/// Where a restore Job mounts the uploads volume (and the operator's own mount, in the chart).
pub const UPLOADS_MOUNT: &str = "/var/lib/dumplens/uploads";
/// Where a restore Job mounts a `pvc` source's claim.
const SOURCE_MOUNT: &str = "/source";
/// Keeps a finished restore Job (and so its outcome) until the operator has recorded it in the
/// Dump's status, whatever its ttlSecondsAfterFinished.
pub const JOB_FINALIZER: &str = "dumplens.io/outcome";
/// The key of the sandbox Secret holding the role's connection URL.
pub const SECRET_KEY: &str = "DUMPLENS_TARGET_URL";

/// The sandbox id of a Dump: its UID without dashes, so no other Dump can claim its sandbox.
pub fn sandbox_id(dump: &Dump) -> Result<String, Error> {
    let uid = dump
        .uid()
        .ok_or_else(|| Error::Spec("the Dump has no UID yet".into()))?;
    Ok(crds::sandbox_id(&uid))
}

pub(crate) fn secret_name(dump: &Dump) -> Result<String, Error> {
    Ok(format!("dl-{}", sandbox_id(dump)?))
}

/// Every restore Job a Dump may have: for one database, and for all of a pg_dumpall file's.
pub(crate) fn job_names(dump: &Dump) -> Result<[String; 2], Error> {
    Ok([job_name(dump, 1)?, job_name(dump, 2)?])
}

/// The restore Job of a Dump whose sandbox has `databases` databases: a pg_dumpall file is
/// found to need more than one only by its first Job, so its second has a name of its own.
pub(crate) fn job_name(dump: &Dump, databases: usize) -> Result<String, Error> {
    let suffix = if databases == 1 { "" } else { "-all" };
    Ok(format!("dl-{}-restore{suffix}", sandbox_id(dump)?))
}

fn metadata(dump: &Dump, name: String) -> Value {
    json!({
        "name": name,
        "ownerReferences": [dump
            .controller_owner_ref(&())
            .expect("a Dump read from the API has a name and UID")],
        "labels": {"app.kubernetes.io/component": "restore", "dumplens.io/dump": dump.name_any()},
    })
}

/// The Secret holding the sandbox role's login, owned by the Dump.
pub fn sandbox_secret(dump: &Dump, role: &ServerUrl) -> Result<Secret, Error> {
    Ok(serde_json::from_value(json!({
        "metadata": metadata(dump, secret_name(dump)?),
        "type": "Opaque",
        "stringData": {SECRET_KEY: role.as_str()},
    }))
    .expect("a valid Secret"))
}

/// How a restore Job reaches its source: `dumplens restore` arguments, environment and
/// volumes.
#[derive(Default)]
struct SourceAccess {
    args: Vec<String>,
    env: Vec<Value>,
    volumes: Vec<Value>,
    mounts: Vec<Value>,
}

fn source_access(dump: &Dump, config: &Config) -> Result<SourceAccess, Error> {
    let source = &dump.spec.source;
    // Downloads and unpacked directory dumps go to /tmp, the one writable place.
    let mut access = SourceAccess {
        volumes: vec![json!({"name": "scratch", "emptyDir": {}})],
        mounts: vec![json!({"name": "scratch", "mountPath": "/tmp"})],
        ..SourceAccess::default()
    };
    if let Some(url) = &source.url {
        access.args = vec!["--url".into(), url.url.clone()];
        if let Some(sha256) = &url.sha256 {
            access.args.extend(["--sha256".into(), sha256.clone()]);
        }
    } else if let Some(s3) = &source.s3 {
        access.args = vec![
            "--s3-bucket".into(),
            s3.bucket.clone(),
            "--s3-key".into(),
            s3.key.clone(),
        ];
        let flags = [
            ("--s3-endpoint", &s3.endpoint),
            ("--s3-region", &s3.region),
            ("--sha256", &s3.sha256),
        ];
        for (flag, value) in flags {
            if let Some(value) = value {
                access.args.extend([flag.to_string(), value.clone()]);
            }
        }
        if let Some(secret) = &s3.credentials_secret_ref {
            for (variable, key) in [
                ("AWS_ACCESS_KEY_ID", "accessKeyId"),
                ("AWS_SECRET_ACCESS_KEY", "secretAccessKey"),
            ] {
                access
                    .env
                    .push(json!({"name": variable, "valueFrom": {"secretKeyRef": {
                    "name": secret.name, "key": key}}}));
            }
        }
    } else if let Some(pvc) = &source.pvc {
        let path = Path::new(pvc.path.trim_start_matches('/'));
        let inside = path.components().all(|c| matches!(c, Component::Normal(_)));
        if !inside || path.as_os_str().is_empty() {
            return Err(Error::Spec(format!(
                "spec.source.pvc.path {:?} is not a file path inside the claim",
                pvc.path
            )));
        }
        access.args = vec![Path::new(SOURCE_MOUNT).join(path).display().to_string()];
        access
            .volumes
            .push(json!({"name": "source", "persistentVolumeClaim": {
            "claimName": pvc.claim, "readOnly": true}}));
        access
            .mounts
            .push(json!({"name": "source", "mountPath": SOURCE_MOUNT, "readOnly": true}));
    } else if let Some(upload) = &source.upload {
        let claim = config.uploads_claim.as_ref().ok_or_else(|| {
            Error::Spec(
                "this operator has no uploads volume (--uploads-claim), so it cannot restore uploads"
                    .into(),
            )
        })?;
        let file = lens::uploads::path(Path::new(UPLOADS_MOUNT), &upload.id)
            .map_err(|e| Error::Spec(format!("spec.source.upload.id: {e}")))?;
        access.args = vec![file.display().to_string()];
        access
            .volumes
            .push(json!({"name": "uploads", "persistentVolumeClaim": {
            "claimName": claim, "readOnly": true}}));
        access
            .mounts
            .push(json!({"name": "uploads", "mountPath": UPLOADS_MOUNT, "readOnly": true}));
    } else {
        return Err(Error::Spec("spec.source names no source".into()));
    }
    Ok(access)
}

/// The restore Job: `dumplens restore` of the Dump's source as the sandbox role into
/// `databases`, its one-line JSON summary (or its error) left as the pod's termination message.
pub fn restore_job(dump: &Dump, config: &Config, databases: &[String]) -> Result<Job, Error> {
    let access = source_access(dump, config)?;
    let mut args = vec![
        "restore".to_string(),
        "--json".into(),
        "--id".into(),
        sandbox_id(dump)?,
    ];
    args.extend(access.args);
    if databases.len() > 1 {
        for database in databases {
            args.extend(["--target-database".to_string(), database.clone()]);
        }
    }
    if let Some(settings) = &dump.spec.restore {
        if let Some(jobs) = settings.parallel_jobs {
            args.extend(["--jobs".to_string(), jobs.to_string()]);
        }
        for table in &settings.skip_table_data {
            table
                .parse::<lens::restore::TableName>()
                .map_err(|e| Error::Spec(format!("spec.restore.skipTableData: {e}")))?;
            args.extend(["--skip-table-data".to_string(), table.clone()]);
        }
    }
    let command: Vec<String> = config.restore_command.iter().cloned().chain(args).collect();
    let resources = dump
        .spec
        .restore
        .as_ref()
        .and_then(|r| r.resources.clone())
        .or_else(|| config.restore_resources.clone());
    let mut env = vec![json!({"name": SECRET_KEY, "valueFrom": {"secretKeyRef": {
        "name": secret_name(dump)?, "key": SECRET_KEY}}})];
    env.extend(access.env);
    let mut metadata = metadata(dump, job_name(dump, databases.len())?);
    metadata["finalizers"] = json!([JOB_FINALIZER]);
    Ok(serde_json::from_value(json!({
        "metadata": metadata,
        "spec": {
            "backoffLimit": config.backoff_limit,
            "activeDeadlineSeconds": config.active_deadline_seconds,
            "ttlSecondsAfterFinished": config.ttl_seconds_after_finished,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/component": "restore"}},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": false,
                    // Pod Security Standards "restricted": the restore needs no privilege.
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [{
                        "name": "restore",
                        "image": config.restore_image,
                        "command": command,
                        "env": env,
                        "resources": resources,
                        "volumeMounts": access.mounts,
                        "terminationMessagePolicy": "FallbackToLogsOnError",
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }],
                    "volumes": access.volumes,
                },
            },
        },
    }))
    .expect("a valid Job"))
}

/// Ready, Reconciling and Stalled for `phase`; a condition that keeps its status keeps its
/// lastTransitionTime, so writing the same status twice changes nothing (no reconcile storms).
pub(crate) fn conditions(dump: &Dump, phase: &str, message: &str) -> Vec<Condition> {
    let previous = dump
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    [
        ("Ready", phase == "Ready"),
        ("Reconciling", matches!(phase, "Pending" | "Restoring")),
        ("Stalled", phase == "Failed"),
    ]
    .into_iter()
    .map(|(kind, on)| {
        let status = if on { "True" } else { "False" };
        let since = previous
            .iter()
            .find(|c| c.type_ == kind && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| Time(k8s_openapi::jiff::Timestamp::now()));
        Condition {
            type_: kind.into(),
            status: status.into(),
            reason: phase.into(),
            message: if on { message.into() } else { String::new() },
            last_transition_time: since,
            observed_generation: dump.metadata.generation,
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            admin: "postgres://admin:pw@db:5432/postgres".parse().unwrap(),
            restore_command: vec!["dumplens".into()],
            restore_image: "dumplens:1".into(),
            active_deadline_seconds: 600,
            backoff_limit: 0,
            ttl_seconds_after_finished: 60,
            restore_resources: None,
            uploads_claim: Some("lens-uploads".into()),
            uploads_dir: None,
            sweep_interval: std::time::Duration::from_secs(600),
            ui_url: None,
        }
    }

    fn dump(source: Value) -> Dump {
        serde_json::from_value(json!({
            "apiVersion": "dumplens.io/v1alpha1", "kind": "Dump",
            "metadata": {"name": "d", "namespace": "team", "uid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
            "spec": {"source": source},
        }))
        .unwrap()
    }

    fn one() -> Vec<String> {
        vec!["dl_0f1e2d3c4b5a69788796a5b4c3d2e1f0".into()]
    }

    #[test]
    fn a_pg_dumpall_restore_names_each_sandbox_database() {
        let databases = vec!["dl_x_1".to_string(), "dl_x_2".to_string()];
        let job = restore_job(
            &dump(json!({"url": {"url": "https://x/all.sql"}})),
            &config(),
            &databases,
        )
        .unwrap();
        assert!(job.name_any().ends_with("-restore-all"));
        let command = container(&job)["command"].clone();
        assert_eq!(
            command.as_array().unwrap()[7..],
            json!(["--target-database", "dl_x_1", "--target-database", "dl_x_2"])
                .as_array()
                .unwrap()[..]
        );
    }

    fn container(job: &Job) -> Value {
        serde_json::to_value(job).unwrap()["spec"]["template"]["spec"]["containers"][0].clone()
    }

    #[test]
    fn an_s3_source_passes_the_object_and_the_credentials_from_the_secret() {
        let job = restore_job(
            &dump(
                json!({"s3": {"bucket": "b", "key": "k/x.dump", "endpoint": "http://minio:9000",
                               "credentialsSecretRef": {"name": "login"}}}),
            ),
            &config(),
            &one(),
        )
        .unwrap();
        let container = container(&job);
        let command: Vec<&str> = container["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            command[5..],
            [
                "--s3-bucket",
                "b",
                "--s3-key",
                "k/x.dump",
                "--s3-endpoint",
                "http://minio:9000"
            ]
        );
        assert_eq!(
            container["env"][1],
            json!({"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "login", "key": "accessKeyId"}}})
        );
        assert_eq!(
            job.metadata.finalizers,
            Some(vec![JOB_FINALIZER.to_string()])
        );
    }

    #[test]
    fn a_pvc_source_is_mounted_read_only_and_cannot_leave_the_claim() {
        let job = restore_job(
            &dump(json!({"pvc": {"claim": "dumps", "path": "/nightly/a.dump"}})),
            &config(),
            &one(),
        )
        .unwrap();
        let container = container(&job);
        assert_eq!(container["command"][5], "/source/nightly/a.dump");
        assert_eq!(
            container["volumeMounts"][1],
            json!({"name": "source", "mountPath": "/source", "readOnly": true})
        );
        for path in ["../etc/passwd", "a/../../b", "/", ""] {
            let refused = restore_job(
                &dump(json!({"pvc": {"claim": "dumps", "path": path}})),
                &config(),
                &one(),
            );
            assert!(matches!(refused, Err(Error::Spec(_))), "{path}");
        }
    }

    #[test]
    fn an_upload_needs_the_uploads_volume() {
        let upload = dump(json!({"upload": {"id": "abc123"}}));
        let job = restore_job(&upload, &config(), &one()).unwrap();
        assert_eq!(
            container(&job)["command"][5],
            "/var/lib/dumplens/uploads/abc123"
        );
        let without = Config {
            uploads_claim: None,
            ..config()
        };
        let Err(Error::Spec(reason)) = restore_job(&upload, &without, &one()) else {
            panic!("an upload without a volume was accepted");
        };
        assert!(reason.contains("--uploads-claim"), "{reason}");
    }

    #[test]
    fn the_restore_job_runs_under_the_restricted_pod_security_standard() {
        let job = serde_json::to_value(
            restore_job(
                &dump(json!({"url": {"url": "https://x/y.dump"}})),
                &config(),
                &one(),
            )
            .unwrap(),
        )
        .unwrap();
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["runAsUser"], 65532,
            "the image's user"
        );
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(pod["automountServiceAccountToken"], false);
        let container = &pod["containers"][0];
        let security = &container["securityContext"];
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
        // With the root read-only, /tmp (downloads, unpacked directory dumps, pg_restore's
        // lists) must be a volume of the pod's own.
        let mounts = container["volumeMounts"].as_array().unwrap();
        let tmp = mounts.iter().find(|m| m["mountPath"] == "/tmp").unwrap();
        let volumes = pod["volumes"].as_array().unwrap();
        let volume = volumes.iter().find(|v| v["name"] == tmp["name"]).unwrap();
        assert_eq!(volume["emptyDir"], json!({}));
    }
}
