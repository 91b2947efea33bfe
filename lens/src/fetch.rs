//! Fetching a dump from where a `Dump` points: an http(s) URL, streamed to a scratch file,
//! bounded by the disk budget, with its SHA-256 checked when one is given.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::dump::limits::DiskBudget;
use crate::dump::{DumpError, Limits};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0:?} is not an http or https URL")]
    NotHttp(String),
    #[error("cannot download {url}: {reason}")]
    Download { url: String, reason: String },
    #[error("the download of {url} has SHA-256 {actual}, not the {expected} given")]
    Checksum {
        url: String,
        expected: String,
        actual: String,
    },
    #[error(transparent)]
    Dump(#[from] DumpError),
}

/// A downloaded file; removed when dropped.
#[derive(Debug)]
pub struct Fetched {
    pub path: tempfile::TempPath,
    pub sha256: String,
    pub bytes: u64,
}

/// Downloads `url` into `scratch`, streaming (constant memory), within `limits` and the free
/// disk. With `expected_sha256`, a different file is an error and is not kept.
pub async fn fetch_url(
    url: &str,
    expected_sha256: Option<&str>,
    limits: &Limits,
    scratch: &Path,
) -> Result<Fetched, FetchError> {
    let parsed = url::Url::parse(url).map_err(|_| FetchError::NotHttp(url.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(FetchError::NotHttp(url.to_string()));
    }
    let failed = |reason: String| FetchError::Download {
        url: parsed.to_string(),
        reason,
    };
    let mut response = reqwest::get(parsed.clone())
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("the server answered {}", response.status())));
    }
    let mut budget = DiskBudget::new(scratch, limits, "downloading the dump")?;
    let file = tempfile::Builder::new()
        .prefix("dumplens-download-")
        .tempfile_in(scratch)
        .map_err(|e| DumpError::io(scratch, e))?;
    let (mut out, path) = file.into_parts();
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
        budget.reserve(chunk.len() as u64)?;
        hasher.update(&chunk);
        out.write_all(&chunk).map_err(|e| DumpError::io(&path, e))?;
        bytes += chunk.len() as u64;
    }
    out.flush().map_err(|e| DumpError::io(&path, e))?;
    let sha256: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if let Some(expected) = expected_sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(FetchError::Checksum {
            url: parsed.to_string(),
            expected: expected.to_string(),
            actual: sha256,
        });
    }
    Ok(Fetched {
        path,
        sha256,
        bytes,
    })
}
