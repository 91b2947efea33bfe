//! The Helm chart lints cleanly, and what it renders for the default values and for the
//! variants in charts/dumplens/ci/ is accepted by a real API server (server-side dry run), also
//! in a namespace that enforces the `restricted` Pod Security Standard, with the restore Job the
//! operator makes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/dumplens")
}

fn helm() -> PathBuf {
    e2e::control_plane_binaries()
        .unwrap_or_else(|e| panic!("{e}"))
        .join("helm")
}

fn variants() -> Vec<Option<PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(chart().join("ci"))
        .unwrap()
        .map(|e| Some(e.unwrap().path()))
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "at least two variants besides the defaults"
    );
    files.insert(0, None);
    files
}

fn helm_with(args: &[&str], values: &Option<PathBuf>) -> std::process::Output {
    let mut command = Command::new(helm());
    command.args(args).arg(chart());
    if let Some(values) = values {
        command.arg("--values").arg(values);
    }
    command.output().unwrap()
}

#[test]
fn the_chart_lints_strictly_for_every_variant() {
    for values in variants() {
        let output = helm_with(&["lint", "--strict"], &values);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{values:?}: {stdout}");
        assert!(
            !stdout.contains("[WARNING]") && !stdout.contains("[ERROR]"),
            "{stdout}"
        );
    }
}

#[test]
fn the_values_schema_rejects_what_the_templates_cannot_use() {
    let output = Command::new(helm())
        .args(["template", "x"])
        .arg(chart())
        .args(["--set", "postgres.mode=mysql"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/postgres/mode"));
}

#[tokio::test]
async fn every_variant_is_accepted_by_the_api_server() {
    let client = e2e::client().await;
    for values in variants() {
        let namespace = e2e::namespace(&client).await;
        let rendered = helm_with(
            &[
                "template",
                "dumplens",
                "--include-crds",
                "--namespace",
                &namespace,
            ],
            &values,
        );
        assert!(
            rendered.status.success(),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        let mut apply = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(e2e::kubeconfig())
            .args([
                "apply",
                "--dry-run=server",
                "--namespace",
                &namespace,
                "-f",
                "-",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        apply
            .stdin
            .take()
            .unwrap()
            .write_all(&rendered.stdout)
            .unwrap();
        let output = apply.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{values:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        for kind in [
            "deployment.apps/dumplens-api",
            "deployment.apps/dumplens-operator",
        ] {
            assert!(
                stdout.contains(&format!("{kind} created (server dry run)")),
                "{stdout}"
            );
        }
    }
}

/// The api never runs without authentication: by default the chart makes a token Secret the
/// api reads (and may read, alone of all Secrets); with only a trusted proxy there is none.
#[test]
fn the_api_always_has_authentication() {
    let render = |set: &[&str]| {
        let mut command = Command::new(helm());
        command.args(["template", "x"]).arg(chart());
        for value in set {
            command.args(["--set", value]);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let default = render(&[]);
    let generated = "# Source: dumplens/templates/api-tokens.yaml";
    assert!(default.contains(generated), "{default}");
    assert!(default.contains("resourceNames: [\"x-dumplens-api-tokens\"]"));
    assert!(default.contains(
        "- name: DUMPLENS_TOKENS_SECRET\n              value: \"x-dumplens-api-tokens\""
    ));
    let proxied = render(&["api.auth.trustedProxyHeader=X-Forwarded-User"]);
    assert!(!proxied.contains("api-tokens"), "{proxied}");
    assert!(!proxied.contains("DUMPLENS_TOKENS_SECRET"));
    assert!(proxied.contains("value: \"X-Forwarded-User\""));
    let own = render(&["api.auth.tokensSecret=mine"]);
    assert!(!own.contains(generated));
    assert!(own.contains("resourceNames: [\"mine\"]"));
}

/// The chart runs the image `docker build` makes from the Dockerfile, as the README says to
/// tag it: the chart's appVersion is the crate version.
#[test]
fn the_default_image_is_the_one_the_dockerfile_builds() {
    let output = Command::new(helm())
        .args(["template", "x"])
        .arg(chart())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let rendered = String::from_utf8(output.stdout).unwrap();
    let image = format!("ghcr.io/pgdumplens/dumplens:{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        rendered.matches(&format!("image: {image}\n")).count(),
        2,
        "the api and the operator run {image}: {rendered}"
    );
    assert!(
        rendered.contains(&format!("value: {image}\n")),
        "restore Jobs too"
    );
}

/// The labels that make a namespace enforce the `restricted` Pod Security Standard, and warn
/// about workloads (Deployments, StatefulSets, Jobs) whose pods it would refuse.
const RESTRICTED: [&str; 2] = [
    "pod-security.kubernetes.io/enforce=restricted",
    "pod-security.kubernetes.io/warn=restricted",
];
const VIOLATES: &str = "violates PodSecurity \"restricted:latest\"";

/// The Pod a Deployment, StatefulSet or Job (as JSON) makes: its pod template, and for a
/// StatefulSet the volume of each claim template, as the StatefulSet controller adds them.
fn pod_of(workload: &Value) -> Value {
    let name = workload["metadata"]["name"].as_str().unwrap();
    let mut spec = workload["spec"]["template"]["spec"].clone();
    if let Some(claims) = workload["spec"]["volumeClaimTemplates"].as_array() {
        for claim in claims {
            let volume = claim["metadata"]["name"].as_str().unwrap();
            let volumes = spec["volumes"].as_array_mut().unwrap();
            volumes.push(
                serde_json::json!({"name": volume, "persistentVolumeClaim": {
                "claimName": format!("{volume}-{name}-0")}}),
            );
        }
    }
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("{name}-pod")},
        "spec": spec,
    })
}

/// `kubectl create --dry-run=server` of `object` in `namespace`.
fn dry_run_create(namespace: &str, object: &Value) -> std::process::Output {
    e2e::kubectl(
        &[
            "create",
            "--dry-run=server",
            "--namespace",
            namespace,
            "-f",
            "-",
        ],
        Some(&object.to_string()),
    )
}

/// The restore Job the operator makes for an uploaded dump (the most volumes of any source).
fn restore_job() -> Value {
    let dump: crds::Dump = serde_json::from_value(serde_json::json!({
        "apiVersion": "dumplens.io/v1alpha1", "kind": "Dump",
        "metadata": {"name": "d", "uid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
        "spec": {"source": {"upload": {"id": "abc123"}}},
    }))
    .unwrap();
    let config = operator::Config {
        admin: "postgres://admin:pw@db:5432/postgres".parse().unwrap(),
        restore_command: vec!["dumplens".into()],
        restore_image: format!("ghcr.io/pgdumplens/dumplens:{}", env!("CARGO_PKG_VERSION")),
        active_deadline_seconds: 600,
        backoff_limit: 0,
        ttl_seconds_after_finished: 60,
        restore_resources: None,
        uploads_claim: Some("dumplens-uploads".into()),
        uploads_dir: None,
        sweep_interval: std::time::Duration::from_secs(600),
        ui_url: None,
    };
    let job = operator::restore_job(&dump, &config, &["dl_x".into()]).unwrap();
    serde_json::to_value(job).unwrap()
}

/// Under Pod Security Admission at `restricted` the chart's workloads draw no warning, and the
/// pods of the api, the operator, the sandbox PostgreSQL and a restore Job are admitted (the
/// level is enforced on Pods, not on the objects that make them). The same restore pod without
/// its security contexts is refused, so the check can fail.
#[tokio::test]
async fn every_pod_meets_the_restricted_pod_security_standard() {
    let client = e2e::client().await;
    let namespace = e2e::namespace(&client).await;
    let mut label = vec!["label", "namespace", &namespace];
    label.extend(RESTRICTED);
    let labelled = e2e::kubectl(&label, None);
    assert!(labelled.status.success(), "{labelled:?}");

    let rendered = helm_with(&["template", "dumplens", "--namespace", &namespace], &None);
    assert!(rendered.status.success(), "{rendered:?}");
    let applied = e2e::kubectl(
        &[
            "apply",
            "--dry-run=server",
            "--namespace",
            &namespace,
            "-o",
            "json",
            "-f",
            "-",
        ],
        Some(&String::from_utf8(rendered.stdout).unwrap()),
    );
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(applied.status.success(), "{stderr}");
    assert!(!stderr.contains("PodSecurity"), "{stderr}");
    let objects: Value = serde_json::from_slice(&applied.stdout).unwrap();
    let items = objects["items"].as_array().unwrap();

    // Pods are admitted only with their service accounts: make the chart's for real.
    for account in items.iter().filter(|o| o["kind"] == "ServiceAccount") {
        let created = e2e::kubectl(
            &["create", "--namespace", &namespace, "-f", "-"],
            Some(&account.to_string()),
        );
        assert!(created.status.success(), "{created:?}");
    }
    // A restore Job's pod runs as the namespace's default account, which the service account
    // controller makes soon after the namespace.
    for attempt in 0.. {
        let found = e2e::kubectl(
            &["get", "serviceaccount", "default", "-n", &namespace],
            None,
        );
        if found.status.success() {
            break;
        }
        assert!(attempt < 100, "no default service account in {namespace}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let job = restore_job();
    let created = dry_run_create(&namespace, &job);
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(created.status.success(), "{stderr}");
    assert!(!stderr.contains("PodSecurity"), "{stderr}");

    let workloads: Vec<&Value> = items
        .iter()
        .filter(|o| matches!(o["kind"].as_str(), Some("Deployment" | "StatefulSet")))
        .chain([&job])
        .collect();
    let names: Vec<&str> = workloads
        .iter()
        .map(|w| w["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        4,
        "api, operator, sandbox and a restore: {names:?}"
    );
    for workload in workloads {
        let pod = pod_of(workload);
        let admitted = dry_run_create(&namespace, &pod);
        assert!(
            admitted.status.success(),
            "{}: {}",
            pod["metadata"]["name"],
            String::from_utf8_lossy(&admitted.stderr)
        );
    }

    let mut unprotected = job.clone();
    let spec = &mut unprotected["spec"]["template"]["spec"];
    spec.as_object_mut().unwrap().remove("securityContext");
    spec["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("securityContext");
    let warned = dry_run_create(&namespace, &unprotected);
    assert!(warned.status.success(), "{warned:?}");
    let stderr = String::from_utf8_lossy(&warned.stderr);
    assert!(stderr.contains("would violate PodSecurity"), "{stderr}");
    let refused = dry_run_create(&namespace, &pod_of(&unprotected));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(VIOLATES), "{stderr}");
    for missing in [
        "allowPrivilegeEscalation",
        "capabilities",
        "runAsNonRoot",
        "seccompProfile",
    ] {
        assert!(stderr.contains(missing), "{missing}: {stderr}");
    }
}
