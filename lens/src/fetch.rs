//! Fetching a dump from where a `Dump` points: an http(s) URL or an object in an S3-compatible
//! store, streamed to a scratch file, bounded by the disk budget, with its SHA-256 checked when
//! one is given.

use std::io::Write;
use std::path::Path;

pub use rusty_s3::Credentials;
use sha2::{Digest, Sha256};

use crate::dump::limits::DiskBudget;
use crate::dump::{DumpError, Limits};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0:?} is not an http or https URL")]
    NotHttp(String),
    #[error("{0:?} is not a usable S3 endpoint (give an http or https URL)")]
    S3Endpoint(String),
    #[error("{0:?} is not a SHA-256: give 64 lowercase hex digits")]
    BadChecksum(String),
    #[error("{0} does not name an object: give a bucket and a key")]
    S3Object(String),
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

/// Downloads `object` into `scratch`, streaming (constant memory), within `limits` and the free
/// disk. With a SHA-256 given, a different file is an error and is not kept.
async fn fetch_url(
    object: &UrlObject,
    limits: &Limits,
    scratch: &Path,
) -> Result<Fetched, FetchError> {
    let url = &object.url;
    let parsed = url::Url::parse(url).map_err(|_| FetchError::NotHttp(url.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(FetchError::NotHttp(url.to_string()));
    }
    let name = parsed.to_string();
    download(parsed, &name, object.sha256.as_deref(), limits, scratch).await
}

/// An object in S3 or an S3-compatible store.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Object {
    pub bucket: String,
    pub key: String,
    /// The store's endpoint; AWS's regional endpoint when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `us-east-1` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The object's SHA-256 (hex); a different download is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A file on an http(s) server.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UrlObject {
    pub url: String,
    /// The file's SHA-256 (hex); a different download is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Where a dump is downloaded from, in the shape a `Dump`'s `spec.source` gives it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum RemoteSource {
    Url(UrlObject),
    S3(S3Object),
}

impl RemoteSource {
    /// Refuses what could never be downloaded, before anything is recorded: not http(s), an
    /// unusable endpoint, an empty bucket or key, a checksum that is not 64 hex digits.
    pub fn check(&self) -> Result<(), FetchError> {
        let http = |text: &str, error: fn(String) -> FetchError| match url::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
            _ => Err(error(text.to_string())),
        };
        match self {
            RemoteSource::Url(object) => http(&object.url, FetchError::NotHttp)?,
            RemoteSource::S3(object) => {
                if let Some(endpoint) = &object.endpoint {
                    http(endpoint, FetchError::S3Endpoint)?;
                }
                if object.bucket.is_empty() || object.key.is_empty() {
                    return Err(FetchError::S3Object(object.to_string()));
                }
            }
        }
        match self.sha256() {
            Some(sha256)
                if sha256.len() != 64
                    || !sha256
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                Err(FetchError::BadChecksum(sha256.to_string()))
            }
            _ => Ok(()),
        }
    }

    fn sha256(&self) -> Option<&str> {
        match self {
            RemoteSource::Url(object) => object.sha256.as_deref(),
            RemoteSource::S3(object) => object.sha256.as_deref(),
        }
    }

    /// Downloads the file into `scratch` (S3 credentials from `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`, anonymous without them).
    pub async fn fetch(&self, limits: &Limits, scratch: &Path) -> Result<Fetched, FetchError> {
        match self {
            RemoteSource::Url(object) => fetch_url(object, limits, scratch).await,
            RemoteSource::S3(object) => {
                let credentials = Credentials::from_env();
                fetch_s3(object, credentials.as_ref(), limits, scratch).await
            }
        }
    }
}

impl std::fmt::Display for S3Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// How long a presigned request stays valid; S3 checks it when the download starts.
const PRESIGNED_FOR: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Downloads `object` like [`fetch_url`], with a request presigned by `credentials` (anonymous
/// when absent). Errors name the object, never the signed URL.
async fn fetch_s3(
    object: &S3Object,
    credentials: Option<&Credentials>,
    limits: &Limits,
    scratch: &Path,
) -> Result<Fetched, FetchError> {
    use rusty_s3::S3Action;
    let region = object.region.as_deref().unwrap_or("us-east-1");
    // AWS serves buckets as virtual hosts; other stores (MinIO, Ceph, moto) by path.
    let (endpoint, style) = match &object.endpoint {
        Some(endpoint) => (endpoint.clone(), rusty_s3::UrlStyle::Path),
        None => (
            format!("https://s3.{region}.amazonaws.com"),
            rusty_s3::UrlStyle::VirtualHost,
        ),
    };
    let bad_endpoint = || FetchError::S3Endpoint(endpoint.clone());
    let parsed = url::Url::parse(&endpoint).map_err(|_| bad_endpoint())?;
    let bucket = rusty_s3::Bucket::new(parsed, style, object.bucket.clone(), region.to_string())
        .map_err(|_| bad_endpoint())?;
    let signed = bucket
        .get_object(credentials, &object.key)
        .sign(PRESIGNED_FOR);
    download(
        signed,
        &object.to_string(),
        object.sha256.as_deref(),
        limits,
        scratch,
    )
    .await
}

async fn download(
    url: url::Url,
    name: &str,
    expected_sha256: Option<&str>,
    limits: &Limits,
    scratch: &Path,
) -> Result<Fetched, FetchError> {
    let failed = |reason: String| FetchError::Download {
        url: name.to_string(),
        reason,
    };
    // A server that stops sending must not keep the dump Fetching forever.
    let stalled = |e: reqwest::Error| {
        if e.is_timeout() {
            failed(format!(
                "nothing arrived for {} s",
                limits.max_download_stall.as_secs()
            ))
        } else {
            failed(e.without_url().to_string())
        }
    };
    let client = reqwest::Client::builder()
        .connect_timeout(limits.max_download_stall)
        .read_timeout(limits.max_download_stall)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let mut response = client.get(url).send().await.map_err(stalled)?;
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
    while let Some(chunk) = response.chunk().await.map_err(stalled)? {
        budget.reserve(chunk.len() as u64)?;
        hasher.update(&chunk);
        out.write_all(&chunk).map_err(|e| DumpError::io(&path, e))?;
        bytes += chunk.len() as u64;
    }
    out.flush().map_err(|e| DumpError::io(&path, e))?;
    let sha256 = format!("{:x}", hasher.finalize());
    if let Some(expected) = expected_sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(FetchError::Checksum {
            url: name.to_string(),
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
