//! Uploading a dump file: create an upload, send the bytes as a streaming body (in one request
//! or several, each saying where it starts with `Content-Range`), and when the last byte is in,
//! the file becomes a dump and its restore starts. Memory stays constant whatever the size; an
//! interrupted upload resumes from what the server has (`GET` says how much).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures::StreamExt;
use lens::dump::limits::DiskBudget;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Problem;
use crate::catalog::{DumpInfo, Visibility, check_name, parse_ttl};
use crate::routes::AppState;

/// How long a request sending an upload may go without a byte arriving.
const UPLOAD_STALL: std::time::Duration = std::time::Duration::from_secs(60);

/// Where uploads go, and how big one may be.
#[derive(Clone, Debug)]
pub struct Uploads {
    pub dir: PathBuf,
    pub max_bytes: u64,
    /// Uploads a request is sending now: two at once would interleave their bytes.
    pub sending: Arc<Mutex<HashSet<String>>>,
}

/// Marks an upload as being sent for as long as it lives.
struct Sending<'a> {
    uploads: &'a Uploads,
    id: String,
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        self.uploads
            .sending
            .lock()
            .expect("not poisoned")
            .remove(&self.id);
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct NewUpload {
    /// The file's name, shown as the dump's name.
    name: String,
    /// The file's size in bytes, when known up front (then the upload ends at that size;
    /// otherwise with the first request that has no `Content-Range`).
    size: Option<u64>,
    /// How long the dump lives once Ready, e.g. 30m, 24h, 7d [default: until deleted].
    ttl: Option<String>,
    /// On Kubernetes: Private (default; its data needs the share token) or Public.
    visibility: Option<Visibility>,
}

/// An upload as the server has it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Upload {
    pub id: String,
    pub name: String,
    pub size: Option<u64>,
    /// Bytes received so far: where the next request starts.
    pub offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// A finished upload: the dump it became, the file's SHA-256, and (for a Private dump on
/// Kubernetes) its share token, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Uploaded {
    pub dump: DumpInfo,
    pub sha256: String,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_token: Option<String>,
}

fn problem(status: StatusCode, detail: impl Into<String>) -> Problem {
    Problem::new(status, detail)
}

fn io_problem(err: std::io::Error) -> Problem {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("storing the upload: {err}"),
    )
}

impl Uploads {
    fn part(&self, id: &str) -> Result<PathBuf, Problem> {
        let path = lens::uploads::path(&self.dir, id)
            .map_err(|_| problem(StatusCode::NOT_FOUND, format!("there is no upload {id:?}")))?;
        Ok(path.with_extension("part"))
    }

    fn meta(&self, id: &str) -> Result<PathBuf, Problem> {
        Ok(self.part(id)?.with_extension("json"))
    }

    async fn read(&self, id: &str) -> Result<Upload, Problem> {
        let meta = tokio::fs::read(self.meta(id)?)
            .await
            .map_err(|_| problem(StatusCode::NOT_FOUND, format!("there is no upload {id:?}")))?;
        let mut upload: Upload = serde_json::from_slice(&meta)
            .map_err(|e| problem(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        upload.offset = tokio::fs::metadata(self.part(id)?)
            .await
            .map_err(io_problem)?
            .len();
        Ok(upload)
    }
}

/// Starts an upload.
#[utoipa::path(post, path = "/api/v1/uploads", request_body = NewUpload, responses(
    (status = 201, body = Upload), (status = 400, body = Problem), (status = 413, body = Problem),
))]
pub(crate) async fn create(
    State(state): State<AppState>,
    body: Result<Json<NewUpload>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Upload>), Problem> {
    let Json(request) = body.map_err(|e| problem(StatusCode::BAD_REQUEST, e.body_text()))?;
    let uploads = &state.uploads;
    if let Some(size) = request.size
        && size > uploads.max_bytes
    {
        return Err(too_large(uploads.max_bytes));
    }
    let name = request.name.trim();
    check_name(name)?;
    if let Some(ttl) = &request.ttl {
        parse_ttl(ttl)?;
    }
    tokio::fs::create_dir_all(&uploads.dir)
        .await
        .map_err(io_problem)?;
    let upload = Upload {
        id: lens::sandbox::new_id(),
        name: name.to_string(),
        size: request.size,
        offset: 0,
        ttl: request.ttl,
        visibility: request.visibility,
    };
    tokio::fs::write(uploads.part(&upload.id)?, b"")
        .await
        .map_err(io_problem)?;
    let meta = serde_json::to_vec(&upload).expect("an upload serialises");
    tokio::fs::write(uploads.meta(&upload.id)?, meta)
        .await
        .map_err(io_problem)?;
    Ok((StatusCode::CREATED, Json(upload)))
}

fn too_large(max: u64) -> Problem {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("an upload may be at most {max} bytes"),
    )
}

/// How far an upload got.
#[utoipa::path(get, path = "/api/v1/uploads/{id}", params(("id" = String, Path)), responses(
    (status = 200, body = Upload), (status = 404, body = Problem),
))]
pub(crate) async fn status(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Upload>, Problem> {
    state.uploads.read(&id).await.map(Json)
}

/// `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`): (start, total).
fn content_range(headers: &HeaderMap) -> Result<Option<(u64, Option<u64>)>, Problem> {
    let Some(value) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let bad = || {
        problem(
            StatusCode::BAD_REQUEST,
            "Content-Range must read bytes START-END/TOTAL (TOTAL may be *)",
        )
    };
    let text = value.to_str().map_err(|_| bad())?;
    let range = text.strip_prefix("bytes ").ok_or_else(bad)?;
    let (span, total) = range.split_once('/').ok_or_else(bad)?;
    let (start, _end) = span.split_once('-').ok_or_else(bad)?;
    let start = start.parse().map_err(|_| bad())?;
    let total = match total {
        "*" => None,
        n => Some(n.parse().map_err(|_| bad())?),
    };
    Ok(Some((start, total)))
}

/// Sends bytes of an upload: the whole file, or a part starting where the server's copy ends.
/// When the last byte is in, the upload becomes a dump (201); before that, 202 says how far it
/// got.
#[utoipa::path(put, path = "/api/v1/uploads/{id}", params(("id" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, body = Uploaded), (status = 202, body = Upload),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 408, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem), (status = 507, body = Problem),
    ))]
pub(crate) async fn put(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::response::Response, Problem> {
    use axum::response::IntoResponse;
    let uploads = &state.uploads;
    if !uploads
        .sending
        .lock()
        .expect("not poisoned")
        .insert(id.clone())
    {
        return Err(problem(
            StatusCode::CONFLICT,
            "another request is sending this upload now",
        ));
    }
    let _sending = Sending {
        uploads,
        id: id.clone(),
    };
    let mut upload = uploads.read(&id).await?;
    let range = content_range(&headers)?;
    let (start, total) = match range {
        Some((start, total)) => (start, total.or(upload.size)),
        // Without a range, the body is the whole file.
        None => (0, None),
    };
    if start != upload.offset {
        return Err(problem(
            StatusCode::CONFLICT,
            format!(
                "this part starts at byte {start}, but the server has {} bytes: send from there",
                upload.offset
            ),
        ));
    }
    if let (Some(total), Some(size)) = (total, upload.size)
        && total != size
    {
        return Err(problem(
            StatusCode::CONFLICT,
            format!("the upload was created with size {size}, not {total}"),
        ));
    }
    let total = total.or(upload.size);
    if total.is_some_and(|t| t > uploads.max_bytes) {
        return Err(too_large(uploads.max_bytes));
    }
    let part = uploads.part(&id)?;
    let mut budget = DiskBudget::new(&uploads.dir, &lens::dump::Limits::default(), "the upload")
        .map_err(|e| problem(StatusCode::INSUFFICIENT_STORAGE, e.to_string()))?;
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(&part)
        .await
        .map_err(io_problem)?;
    // A file sent whole in this request is hashed as it arrives; a resumed one is read again.
    let mut hasher = (start == 0).then(Sha256::new);
    let mut stream = body.into_data_stream();
    loop {
        // A sender that vanished without closing its connection must not hold the upload
        // (one sender at a time) for as long as TCP takes to notice.
        let next = tokio::time::timeout(UPLOAD_STALL, stream.next()).await;
        let Ok(next) = next else {
            file.flush().await.map_err(io_problem)?;
            return Err(problem(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "nothing arrived for {} s; the server has {} bytes: send the rest from there",
                    UPLOAD_STALL.as_secs(),
                    upload.offset
                ),
            ));
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            problem(
                StatusCode::BAD_REQUEST,
                format!("the upload was cut off at byte {}: {e}", upload.offset),
            )
        })?;
        let after = upload.offset + chunk.len() as u64;
        if after > uploads.max_bytes || total.is_some_and(|t| after > t) {
            file.flush().await.map_err(io_problem)?;
            return Err(match total {
                Some(t) if after > t => problem(
                    StatusCode::BAD_REQUEST,
                    format!("more bytes than the {t} the upload was said to have"),
                ),
                _ => too_large(uploads.max_bytes),
            });
        }
        budget
            .reserve(chunk.len() as u64)
            .map_err(|e| problem(StatusCode::INSUFFICIENT_STORAGE, e.to_string()))?;
        file.write_all(&chunk).await.map_err(io_problem)?;
        if let Some(hasher) = hasher.as_mut() {
            hasher.update(&chunk);
        }
        upload.offset = after;
    }
    file.flush().await.map_err(io_problem)?;
    drop(file);
    let complete = match (range, total) {
        (None, _) => true,
        (Some(_), Some(total)) => upload.offset == total,
        (Some(_), None) => false,
    };
    if !complete {
        return Ok((StatusCode::ACCEPTED, Json(upload)).into_response());
    }
    let file = lens::uploads::path(&uploads.dir, &id)
        .map_err(|e| problem(StatusCode::NOT_FOUND, e.to_string()))?;
    tokio::fs::rename(&part, &file).await.map_err(io_problem)?;
    let _ = tokio::fs::remove_file(uploads.meta(&id)?).await;
    let sha256 = match hasher {
        Some(hasher) => format!("{:x}", hasher.finalize()),
        None => sha256_of(&file).await.map_err(io_problem)?,
    };
    let created = state
        .catalog
        .add_upload(
            &id,
            &upload.name,
            &file,
            upload.ttl.as_deref(),
            upload.visibility,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Uploaded {
            dump: created.dump,
            sha256,
            bytes: upload.offset,
            share_token: created.share_token,
        }),
    )
        .into_response())
}

async fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}
