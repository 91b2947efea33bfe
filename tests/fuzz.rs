//! Property-based requests generated from the OpenAPI document (schemathesis, from PyPI,
//! installed by `./dev setup --tests`) against a `dumplens serve` of its own with the demo dump:
//! no server errors, every status and body as the document says.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lens::process::Supervised;
use nix::sys::signal::Signal;

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

#[tokio::test]
async fn generated_requests_find_no_server_errors_and_nothing_undocumented() {
    let dir = lens::testing::reachable_tempdir();
    let out = dir.path().join("serve.out");
    let mut serve = Command::new(DUMPLENS);
    serve
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/chinook.dump"))
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null());
    let mut server = Supervised::spawn(serve, Signal::SIGTERM).unwrap();
    let started = Instant::now();
    let url = loop {
        let printed = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(url) = printed
            .lines()
            .find_map(|l| l.strip_prefix("PgDumpLens is ready at "))
        {
            break url.trim_end_matches('/').to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not start: {printed}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
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
