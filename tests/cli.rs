//! The one-shot commands as a user (or a Kubernetes Job) runs them.

use std::process::Command;

use lens::testing::{admin_url, fixture, reachable_tempdir};
use serde_json::Value;

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

#[test]
fn inspect_prints_exactly_the_documented_fields() {
    let output = Command::new(DUMPLENS)
        .args(["inspect", "--json"])
        .arg(fixture("cluster.pg18.dumpall.sql"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let info: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut keys: Vec<_> = info.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "compression",
            "databases",
            "format",
            "pgDumpVersion",
            "serverVersion",
            "tocEntries"
        ]
    );
    assert_eq!(info["format"], "dumpall");
    assert_eq!(info["databases"], serde_json::json!(["chinook", "world"]));
    assert_eq!(info["tocEntries"], Value::Null);
}

#[test]
fn inspect_of_something_else_is_one_clear_error() {
    let output = Command::new(DUMPLENS)
        .arg("inspect")
        .arg(fixture("EXPECTED.json"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.trim(),
        "error: this is not a PostgreSQL dump: it is neither a pg_dump archive (custom, tar or directory format) nor an SQL script"
    );
}

#[test]
fn restore_prints_a_json_summary_and_fails_with_one() {
    let output = Command::new(DUMPLENS)
        .args(["restore", "--json", "--id", "clitest"])
        .arg(fixture("world.pg18.custom.dump"))
        .env("DUMPLENS_ADMIN_URL", admin_url())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["id"], "clitest");
    assert_eq!(summary["format"], "custom");
    assert_eq!(summary["databases"][0]["name"], "world");
    assert_eq!(summary["databases"][0]["sandbox"], "dl_clitest");
    assert_eq!(summary["databases"][0]["tables"], 3);
    assert_eq!(summary["databases"][0]["rows"], 4079 + 239 + 984);

    let dir = reachable_tempdir();
    let hostile = dir.path().join("hostile.sql");
    std::fs::write(&hostile, "CREATE TABLE t (a int);\n\\! id\n").unwrap();
    let output = Command::new(DUMPLENS)
        .args(["restore", "--json"])
        .arg(&hostile)
        .env("DUMPLENS_ADMIN_URL", admin_url())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["errors"][0]["location"], "line 2");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("error: the restore failed with 1 error(s)"),
        "{stderr}"
    );
}

#[test]
fn restore_downloads_from_a_url_and_checks_its_checksum() {
    let bytes = std::fs::read(fixture("world.pg18.custom.dump")).unwrap();
    let sha256 = lens::testing::sha256_hex(&bytes);
    let base = lens::testing::serve_over_http(bytes);
    let restore = |url: String, sha: &str| {
        Command::new(DUMPLENS)
            .args(["restore", "--json", "--url", &url, "--sha256", sha])
            .env("DUMPLENS_ADMIN_URL", admin_url())
            .output()
            .unwrap()
    };
    let ok = restore(format!("{base}/world.dump"), &sha256);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let summary: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(summary["databases"][0]["tables"], 3);

    let wrong = restore(format!("{base}/world.dump"), &"0".repeat(64));
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains(&format!("has SHA-256 {sha256}, not the {}", "0".repeat(64))),
        "{stderr}"
    );

    let missing = restore(format!("{base}/missing"), &sha256);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("the server answered 404 Not Found"),
        "{stderr}"
    );

    let file = Command::new(DUMPLENS)
        .args(["restore", "--url", "file:///etc/passwd"])
        .env("DUMPLENS_ADMIN_URL", admin_url())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&file.stderr).contains("is not an http or https URL"));
}

#[tokio::test]
async fn restore_downloads_from_an_s3_compatible_store() {
    let s3 = lens::testing::s3_server();
    s3.put(
        "nightly/chinook.dump",
        std::fs::read(fixture("chinook.pg18.custom.dump")).unwrap(),
    )
    .await;
    let credentials = &lens::testing::S3_CREDENTIALS;
    let restore = |key: &str| {
        Command::new(DUMPLENS)
            .args(["restore", "--json", "--s3-bucket", lens::testing::S3_BUCKET])
            .args(["--s3-key", key, "--s3-endpoint", &s3.endpoint])
            .env("DUMPLENS_ADMIN_URL", admin_url())
            .env("AWS_ACCESS_KEY_ID", credentials.key())
            .env("AWS_SECRET_ACCESS_KEY", credentials.secret())
            .output()
            .unwrap()
    };
    let ok = restore("nightly/chinook.dump");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let summary: Value = serde_json::from_slice(&ok.stdout).unwrap();
    let tables = lens::testing::expected_facts()["facts"]["chinook"]["rows_only"]
        .as_object()
        .unwrap()
        .len();
    assert_eq!(summary["databases"][0]["tables"], tables);

    // The error names the object, not the presigned URL (which carries the access key id).
    let missing = restore("nightly/missing.dump");
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("cannot download s3://dumps/nightly/missing.dump: the server answered 404"),
        "{stderr}"
    );
    assert!(!stderr.contains(credentials.key()), "{stderr}");
}
