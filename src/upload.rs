//! `dumplens upload`: sends a dump file to a PgDumpLens server as a streaming upload with a
//! progress bar, resumes an upload of the same file that was cut off, then follows the restore
//! until the dump is Ready.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tokio::io::AsyncSeekExt;

#[derive(clap::Args)]
pub struct UploadArgs {
    /// The dump file.
    file: PathBuf,
    /// The PgDumpLens server.
    #[arg(long, env = "DUMPLENS_SERVER", default_value = "http://127.0.0.1:8432")]
    server: String,
    /// The dump's name [default: the file's name].
    #[arg(long)]
    name: Option<String>,
    /// How long the dump lives once Ready, e.g. 30m, 24h, 7d [default: until deleted].
    #[arg(long)]
    ttl: Option<String>,
    /// An API token, when the server asks for one (Kubernetes, or serve --token-file).
    #[arg(long, env = "DUMPLENS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// On Kubernetes: let every API token holder read the dump (default: Private, readable
    /// with the share token this prints).
    #[arg(long)]
    public: bool,
    /// Print `{"dump": ..., "shareToken": ...}` as JSON when it is Ready, instead of lines.
    #[arg(long)]
    json: bool,
}

/// An HTTP client that sends `token` as the bearer token of every request.
fn client(token: Option<&str>) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the token must be printable ASCII")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

/// Where an unfinished upload of a file is remembered, so running the command again resumes
/// it: a file per (server, path, size, modification time).
fn resume_file(server: &str, path: &Path, metadata: &std::fs::Metadata) -> Option<PathBuf> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (server, path, metadata.len(), metadata.modified().ok()).hash(&mut hasher);
    Some(
        dirs::cache_dir()?
            .join("dumplens/uploads")
            .join(format!("{:016x}", hasher.finish())),
    )
}

/// The body of a problem document, or the status, as an error.
async fn failure(response: reqwest::Response) -> anyhow::Error {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|p| p["detail"].as_str().map(str::to_string))
        .unwrap_or(text);
    anyhow::anyhow!("the server answered {status}: {detail}")
}

pub async fn upload(args: UploadArgs) -> anyhow::Result<()> {
    let path = args
        .file
        .canonicalize()
        .with_context(|| format!("{}", args.file.display()))?;
    let metadata = std::fs::metadata(&path)?;
    let size = metadata.len();
    let server = args.server.trim_end_matches('/').to_string();
    let http = client(args.token.as_deref())?;
    let name = args.name.clone().unwrap_or_else(|| {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });

    // An earlier upload of this file to this server, if the server still has it.
    let remembered = resume_file(&server, &path, &metadata);
    let earlier = match remembered
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
    {
        Some(id) => {
            let response = http
                .get(format!("{server}/api/v1/uploads/{}", id.trim()))
                .send()
                .await?;
            if response.status().is_success() {
                Some(response.json::<Value>().await?)
            } else {
                None
            }
        }
        None => None,
    };
    let upload = match earlier {
        Some(upload) => upload,
        None => {
            let response = http
                .post(format!("{server}/api/v1/uploads"))
                .json(&json!({
                    "name": name,
                    "size": size,
                    "ttl": args.ttl,
                    "visibility": if args.public { "Public" } else { "Private" },
                }))
                .send()
                .await
                .with_context(|| format!("connecting to {server}"))?;
            if !response.status().is_success() {
                return Err(failure(response).await);
            }
            response.json().await?
        }
    };
    let id = upload["id"]
        .as_str()
        .context("the server gave no upload id")?
        .to_string();
    if let Some(file) = &remembered {
        std::fs::create_dir_all(file.parent().expect("a cache file has a parent"))?;
        std::fs::write(file, &id)?;
    }
    let offset = upload["offset"].as_u64().unwrap_or(0);

    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .expect("a valid template"),
    );
    if offset > 0 {
        bar.println(format!("resuming from byte {offset}"));
    }
    bar.set_position(offset);
    let mut file = tokio::fs::File::open(&path).await?;
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    let progress = bar.clone();
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            progress.inc(chunk.len() as u64);
        }
    });
    let last = size.saturating_sub(1);
    let response = http
        .put(format!("{server}/api/v1/uploads/{id}"))
        .header("content-range", format!("bytes {offset}-{last}/{size}"))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .context("sending the file (run the same command again to resume)")?;
    bar.finish_and_clear();
    if response.status() != reqwest::StatusCode::CREATED {
        return Err(failure(response).await);
    }
    if let Some(file) = &remembered {
        let _ = std::fs::remove_file(file);
    }
    let uploaded: Value = response.json().await?;
    eprintln!(
        "uploaded {size} bytes, SHA-256 {}",
        uploaded["sha256"].as_str().unwrap_or("?")
    );

    let id = uploaded["dump"]["id"]
        .as_str()
        .context("the server named no dump")?;
    let share_token = uploaded["shareToken"].as_str();
    let dump = follow(&http, &server, id).await?;
    if args.json {
        println!("{}", json!({"dump": dump, "shareToken": share_token}));
    } else {
        println!("{name} is Ready: {server}/api/v1/dumps/{id}");
        if let Some(token) = share_token {
            println!("share token (send as X-Share-Token; shown only now): {token}");
        }
    }
    Ok(())
}

/// Follows dump `id` on `server` until it is Ready (returned) or Failed (an error).
async fn follow(http: &reqwest::Client, server: &str, id: &str) -> anyhow::Result<Value> {
    let dump_url = format!("{server}/api/v1/dumps/{id}");
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(200));
    loop {
        let response = http.get(&dump_url).send().await?;
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        let dump: Value = response.json().await?;
        let phase = dump["phase"].as_str().unwrap_or_default();
        spinner.set_message(format!(
            "{phase} {}",
            dump["progress"]["current"].as_str().unwrap_or("")
        ));
        match phase {
            "Ready" => {
                spinner.finish_and_clear();
                return Ok(dump);
            }
            "Failed" => {
                spinner.finish_and_clear();
                bail!(
                    "the restore failed: {}",
                    dump["message"].as_str().unwrap_or("no reason given")
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}
