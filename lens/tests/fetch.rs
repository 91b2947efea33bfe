//! Downloading dumps: a stalled server is given up on with a clear error, and what was fetched
//! is checked against its SHA-256.

use std::time::Duration;

use lens::dump::Limits;
use lens::fetch::{RemoteSource, UrlObject};
use lens::testing::{
    reachable_tempdir, serve_over_http, serve_over_http_stalling_once, sha256_hex,
};

fn url(url: String, sha256: Option<String>) -> RemoteSource {
    RemoteSource::Url(UrlObject { url, sha256 })
}

#[tokio::test]
async fn a_download_that_stalls_fails_naming_the_stall_and_leaves_nothing() {
    let scratch = reachable_tempdir();
    let (base, _) = serve_over_http_stalling_once(vec![7; 1 << 20]);
    let limits = Limits {
        max_download_stall: Duration::from_millis(500),
        ..Limits::default()
    };
    let started = std::time::Instant::now();
    let error = url(format!("{base}/d.dump"), None)
        .fetch(&limits, scratch.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("nothing arrived for"), "{error}");
    assert!(error.contains("/d.dump"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_download_is_checked_against_its_sha256() {
    let scratch = reachable_tempdir();
    let body = b"PGDMP not really".to_vec();
    let base = serve_over_http(body.clone());
    let good = url(format!("{base}/d"), Some(sha256_hex(&body)));
    good.check().unwrap();
    let fetched = good
        .fetch(&Limits::default(), scratch.path())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&fetched.path).unwrap(), body);
    assert_eq!(fetched.bytes, body.len() as u64);

    let bad = url(format!("{base}/d"), Some("0".repeat(64)));
    let error = bad
        .fetch(&Limits::default(), scratch.path())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("SHA-256"), "{error}");
    drop(fetched);
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
}

#[test]
fn sources_that_could_never_be_fetched_are_refused_up_front() {
    for (source, says) in [
        (url("ftp://x.test/d".into(), None), "not an http"),
        (url("http://".into(), None), "not an http"),
        (
            url("https://x.test/d".into(), Some("ABC".into())),
            "SHA-256",
        ),
        (
            url("https://x.test/d".into(), Some("A".repeat(64))),
            "lowercase",
        ),
    ] {
        let error = source.check().unwrap_err().to_string();
        assert!(error.contains(says), "{source:?}: {error}");
    }
}
