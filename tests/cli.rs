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

/// SIGTERMs a process when dropped.
struct TerminateOnDrop(i32);

impl Drop for TerminateOnDrop {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        let _ = kill(nix::unistd::Pid::from_raw(self.0), Signal::SIGTERM);
    }
}

#[tokio::test]
async fn open_starts_a_local_server_when_none_runs_and_opens_the_browser_at_the_dump() {
    use std::os::unix::fs::PermissionsExt;
    let dir = reachable_tempdir();
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let opened = dir.path().join("opened");
    let browser = dir.path().join("browser");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\necho \"$1\" >> {}\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let open = |file: &str| {
        Command::new(DUMPLENS)
            .args(["open", "--listen", &listen.to_string()])
            .arg(fixture(file))
            .env("DUMPLENS_DATA_DIR", dir.path().join("data"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .env("BROWSER", &browser)
            .output()
            .unwrap()
    };

    let first = open("world.pg18.custom.dump");
    let stderr = String::from_utf8_lossy(&first.stderr);
    let pid: i32 = stderr
        .split("started dumplens serve (pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no server started: {stderr}"))
        .parse()
        .unwrap();
    let _server = TerminateOnDrop(pid);
    assert!(first.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&first.stdout);
    let url = stdout
        .trim()
        .strip_prefix("world.pg18.custom.dump is Ready: ")
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_string();
    // A graphical browser is started in the background: wait for it.
    let browsed = async |lines: usize| {
        for _ in 0..100 {
            let text = std::fs::read_to_string(&opened).unwrap_or_default();
            if text.lines().count() >= lines {
                return text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the browser was not opened {lines} times");
    };
    assert_eq!(browsed(1).await.trim(), url);
    // The browser is sent to the dump's page in the web UI.
    let id = url
        .strip_prefix(&format!("http://{listen}/dumps/"))
        .unwrap_or_else(|| panic!("{url}"));
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("<div id=\"root\">"), "{page}");
    let dump: Value = reqwest::get(format!("http://{listen}/api/v1/dumps/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dump["phase"], "Ready");
    assert_eq!(dump["tables"], 3);

    // The server runs on after the command; the next file goes to it.
    let second = open("chinook.pg18.custom.dump");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert!(!stderr.contains("started dumplens serve"), "{stderr}");
    let second_url = browsed(2).await.lines().nth(1).unwrap().to_string();
    assert_ne!(second_url, url);

    // dumplens diff of two files sends them to the same local server.
    let diff = Command::new(DUMPLENS)
        .args(["diff", "--server", &format!("http://{listen}")])
        .arg(fixture("pagila.pg18.custom.dump"))
        .arg(fixture("pagila-v2.pg18.custom.dump"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&diff.stdout);
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    assert!(
        stdout.contains("  public.customer: 0 added, 0 removed, 3 changed"),
        "{stdout}"
    );
}
