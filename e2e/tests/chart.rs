//! The Helm chart lints cleanly, and what it renders for the default values and for the
//! variants in charts/dumplens/ci/ is accepted by a real API server (server-side dry run).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
