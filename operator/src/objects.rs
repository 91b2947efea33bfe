//! The objects a Dump needs, built from it alone (no API calls): names, the sandbox Secret,
//! the restore Job, and the status conditions.

use crds::Dump;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{Resource, ResourceExt};
use lens::conninfo::ServerUrl;
use serde_json::json;

use crate::{Config, Error};

/// The sandbox id of a Dump: its UID without dashes, so no other Dump can claim its sandbox.
pub fn sandbox_id(dump: &Dump) -> Result<String, Error> {
    let uid = dump
        .uid()
        .ok_or_else(|| Error::Invalid("the Dump has no UID yet".into()))?;
    Ok(uid.replace('-', "").to_ascii_lowercase())
}

pub(crate) fn secret_name(dump: &Dump) -> Result<String, Error> {
    Ok(format!("dl-{}", sandbox_id(dump)?))
}

pub(crate) fn job_name(dump: &Dump) -> Result<String, Error> {
    Ok(format!("dl-{}-restore", sandbox_id(dump)?))
}

fn owner(dump: &Dump) -> serde_json::Value {
    json!([dump
        .controller_owner_ref(&())
        .expect("a Dump read from the API has a name and UID")])
}

/// The Secret holding the sandbox role's login, owned by the Dump.
pub fn sandbox_secret(dump: &Dump, role: &ServerUrl) -> Result<Secret, Error> {
    Ok(serde_json::from_value(json!({
        "metadata": {
            "name": secret_name(dump)?,
            "ownerReferences": owner(dump),
            "labels": {"app.kubernetes.io/component": "restore", "dumplens.io/dump": dump.name_any()},
        },
        "type": "Opaque",
        "stringData": {"DUMPLENS_TARGET_URL": role.as_str()},
    }))
    .expect("a valid Secret"))
}

/// The restore Job: `dumplens restore` of the Dump's source as the sandbox role, its one-line
/// JSON summary (or its error) left as the pod's termination message.
pub fn restore_job(dump: &Dump, config: &Config) -> Result<Job, Error> {
    let source = &dump.spec.source;
    let mut args = vec![
        "restore".to_string(),
        "--json".into(),
        "--id".into(),
        sandbox_id(dump)?,
    ];
    match &source.url {
        Some(url) => {
            args.extend(["--url".to_string(), url.url.clone()]);
            if let Some(sha256) = &url.sha256 {
                args.extend(["--sha256".to_string(), sha256.clone()]);
            }
        }
        None => {
            return Err(Error::Invalid(
                "only url sources can be restored yet".into(),
            ));
        }
    }
    if let Some(jobs) = dump.spec.restore.as_ref().and_then(|r| r.parallel_jobs) {
        args.extend(["--jobs".to_string(), jobs.to_string()]);
    }
    let command: Vec<String> = config.restore_command.iter().cloned().chain(args).collect();
    let resources = dump.spec.restore.as_ref().and_then(|r| r.resources.clone());
    Ok(serde_json::from_value(json!({
        "metadata": {
            "name": job_name(dump)?,
            "ownerReferences": owner(dump),
            "labels": {"app.kubernetes.io/component": "restore", "dumplens.io/dump": dump.name_any()},
        },
        "spec": {
            "backoffLimit": config.backoff_limit,
            "activeDeadlineSeconds": config.active_deadline_seconds,
            "ttlSecondsAfterFinished": config.ttl_seconds_after_finished,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/component": "restore"}},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": false,
                    "containers": [{
                        "name": "restore",
                        "image": config.restore_image,
                        "command": command,
                        "env": [{"name": "DUMPLENS_TARGET_URL", "valueFrom": {"secretKeyRef": {
                            "name": secret_name(dump)?, "key": "DUMPLENS_TARGET_URL"}}}],
                        "resources": resources,
                        "terminationMessagePolicy": "FallbackToLogsOnError",
                    }],
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
        ("Reconciling", phase == "Restoring"),
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
