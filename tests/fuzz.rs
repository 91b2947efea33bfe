//! Property-based requests generated from the OpenAPI document (schemathesis, from PyPI,
//! installed by `./dev setup --tests`) against a `dumplens serve` of its own with the demo dump:
//! no server errors, every status and body as the document says.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

#[tokio::test]
async fn generated_requests_find_no_server_errors_and_nothing_undocumented() {
    let dir = lens::testing::reachable_tempdir();
    let data = dir.path().join("data");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/chinook.dump");
    let args = [OsStr::new("--data-dir"), data.as_os_str(), demo.as_os_str()];
    let (mut server, url) = lens::testing::serve_process(Path::new(DUMPLENS), &args);
    let started = Instant::now();
    // The demo dump restored, so the generated requests can reach real data.
    loop {
        let dumps: serde_json::Value = reqwest::get(format!("{url}/api/v1/dumps"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if dumps[0]["phase"] == "Ready" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{dumps}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let schemathesis =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/schemathesis/bin/schemathesis");
    let report = dir.path().join("report");
    let run = Command::new(&schemathesis)
        .current_dir(dir.path())
        .args(["run", &format!("{url}/api/v1/openapi.json")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-time",
            "30",
            "--workers",
            "2",
            "--seed",
            "20261204",
            "--report-dir",
        ])
        .arg(&report)
        .output()
        .unwrap_or_else(|e| panic!("{} (run ./dev setup --tests): {e}", schemathesis.display()));
    server.stop(Signal::SIGTERM, Duration::from_secs(10), Signal::SIGKILL);
    let output = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{output}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        output.contains("generated"),
        "schemathesis generated nothing: {output}"
    );
}
