//! Uploading a large file to `dumplens serve` (its own process, so its memory is its own): the
//! server's peak memory, and the throughput against `cp` of the same file to the same disk,
//! measured side by side. The client is curl, in a process of its own, so the numbers are the
//! server's and not a client sharing its process; each step starts after `sync`, so none pays
//! for the previous one's writeback, and each upload is deleted after.
//!
//! `cargo bench --bench upload`; `DUMPLENS_BENCH_UPLOAD_MB` (2048) changes the size.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

fn peak_rss_mib(pid: i32) -> f64 {
    lens::testing::memory_mib(pid as u32, "VmHWM:")
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would run this too: skip quietly then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let megabytes = lens::testing::env_number("DUMPLENS_BENCH_UPLOAD_MB", 2048) as usize;
    let dir = lens::testing::reachable_tempdir();
    let source = dir.path().join("big.bin");
    {
        // Incompressible bytes, like a compressed dump.
        let mut file = std::io::BufWriter::new(std::fs::File::create(&source).unwrap());
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..megabytes {
            for word in block.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes());
            }
            file.write_all(&block).unwrap();
        }
    }
    let bytes = (megabytes as u64) << 20;

    let data = dir.path().join("data");
    let limit = (bytes * 2).to_string();
    let args = [
        OsStr::new("--data-dir"),
        data.as_os_str(),
        OsStr::new("--max-upload-bytes"),
        OsStr::new(&limit),
    ];
    let (mut server, url) = lens::testing::serve_process(Path::new(DUMPLENS), &args);
    let idle = peak_rss_mib(server.pid());

    // Side by side: cp, the upload, three times; the best of each.
    let mut copies = Vec::new();
    let mut uploads = Vec::new();
    let sync = || assert!(Command::new("sync").status().unwrap().success());
    for round in 0..3 {
        let copy = dir.path().join(format!("copy{round}.bin"));
        sync();
        let started = Instant::now();
        assert!(
            Command::new("cp")
                .arg(&source)
                .arg(&copy)
                .status()
                .unwrap()
                .success()
        );
        copies.push(started.elapsed());
        std::fs::remove_file(&copy).unwrap();

        sync();
        let (elapsed, uploaded) = upload(&url, &source).await;
        uploads.push(elapsed);
        assert_eq!(uploaded["bytes"], bytes);
        let id = uploaded["dump"]["id"].as_str().unwrap();
        delete_when_settled(&url, id).await;
    }
    // What hashing alone allows: SHA-256 of the same bytes, read from the page cache, on one
    // core (the server computes it as the bytes arrive).
    let mut hashes = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut file =
            std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&source).unwrap());
        let mut hasher = sha2::Sha256::default();
        std::io::copy(&mut file, &mut hasher).unwrap();
        std::hint::black_box(sha2::Digest::finalize(hasher));
        hashes.push(started.elapsed());
    }
    let peak = peak_rss_mib(server.pid());
    server.stop(Signal::SIGTERM, Duration::from_secs(10), Signal::SIGKILL);
    let best = |d: &[Duration]| d.iter().min().copied().unwrap();
    let (copy, upload, hash) = (best(&copies), best(&uploads), best(&hashes));
    let rate = |d: Duration| bytes as f64 / d.as_secs_f64() / (1 << 20) as f64;
    println!("upload of a {megabytes} MiB file to dumplens serve (best of 3, side by side)");
    println!(
        "  cp {:.2} s ({:.0} MiB/s); upload by curl over loopback HTTP (streamed to disk, SHA-256 as it arrives) {:.2} s ({:.0} MiB/s): {:.2}x of cp's throughput (target >= 0.5)",
        copy.as_secs_f64(),
        rate(copy),
        upload.as_secs_f64(),
        rate(upload),
        rate(upload) / rate(copy)
    );
    println!(
        "  SHA-256 alone of the same bytes from the page cache, one core: {:.2} s ({:.0} MiB/s): {:.2}x of cp's throughput, the most an upload that hashes can reach",
        hash.as_secs_f64(),
        rate(hash),
        rate(hash) / rate(copy)
    );
    println!("  server peak RSS {peak:.1} MiB (idle {idle:.1} MiB; target < 64 MiB)");
}

/// Uploads `file` with curl; the time of the PUT and the server's answer.
async fn upload(url: &str, file: &Path) -> (Duration, serde_json::Value) {
    let size = std::fs::metadata(file).unwrap().len();
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(format!("{url}/api/v1/uploads"))
        .json(&serde_json::json!({"name": "big.bin", "size": size}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let started = Instant::now();
    let output = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--fail-with-body",
            "-X",
            "PUT",
            "-T",
        ])
        .arg(file)
        .arg(format!("{url}/api/v1/uploads/{id}"))
        .output()
        .expect("curl runs");
    let elapsed = started.elapsed();
    assert!(output.status.success(), "{output:?}");
    (elapsed, serde_json::from_slice(&output.stdout).unwrap())
}

/// Deletes dump `id` (and so its file) once its restore has failed (the file is not a dump).
async fn delete_when_settled(url: &str, id: &str) {
    let http = reqwest::Client::new();
    for _ in 0..600 {
        let response = http
            .delete(format!("{url}/api/v1/dumps/{id}"))
            .send()
            .await
            .unwrap();
        if response.status().as_u16() == 204 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("dump {id} could not be deleted");
}
