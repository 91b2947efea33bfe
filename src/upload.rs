//! `dumplens upload`: sends a dump file to a PgDumpLens server as a streaming upload with a
//! progress bar, resumes an upload of the same file that was cut off, then follows the restore
//! until the dump is Ready. `dumplens open` does the same against the local `dumplens serve`,
//! starting one when none runs, and opens a browser.

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
    #[arg(long, env = "DUMPLENS_SERVER", default_value = DEFAULT_SERVER)]
    server: String,
    /// An API token, when the server asks for one (Kubernetes, or serve --token-file).
    #[arg(long, env = "DUMPLENS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(flatten)]
    dump: DumpOptions,
    /// Print `{"dump": ..., "shareToken": ...}` as JSON when it is Ready, instead of lines.
    #[arg(long)]
    json: bool,
}

/// What the dump made from an uploaded file is like.
#[derive(clap::Args, Default)]
pub struct DumpOptions {
    /// The dump's name [default: the file's name].
    #[arg(long)]
    name: Option<String>,
    /// How long the dump lives once Ready, e.g. 30m, 24h, 7d [default: until deleted].
    #[arg(long)]
    ttl: Option<String>,
    /// On Kubernetes: let every API token holder read the dump (default: Private, readable
    /// with the share token this prints).
    #[arg(long)]
    public: bool,
}

#[derive(clap::Args)]
pub struct OpenArgs {
    /// The dump file.
    file: PathBuf,
    /// Where the local `dumplens serve` listens (one is started there when none answers).
    #[arg(long, default_value = api::standalone::DEFAULT_LISTEN)]
    listen: std::net::SocketAddr,
    #[command(flatten)]
    dump: DumpOptions,
    /// Print the URL instead of opening a browser.
    #[arg(long)]
    no_browser: bool,
}

/// Where `dumplens serve` listens by default.
pub(crate) const DEFAULT_SERVER: &str = "http://127.0.0.1:8432";

/// An HTTP client that sends `token` as the bearer token, and `share_tokens` as the share
/// tokens, of every request.
pub(crate) fn client(
    token: Option<&str>,
    share_tokens: &[String],
) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    let sensitive = |text: String| {
        let mut value = reqwest::header::HeaderValue::from_str(&text)
            .context("tokens must be printable ASCII")?;
        value.set_sensitive(true);
        anyhow::Ok(value)
    };
    if let Some(token) = token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            sensitive(format!("Bearer {token}"))?,
        );
    }
    if !share_tokens.is_empty() {
        headers.insert("x-share-token", sensitive(share_tokens.join(","))?);
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
pub(crate) async fn failure(response: reqwest::Response) -> anyhow::Error {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|p| p["detail"].as_str().map(str::to_string))
        .unwrap_or(text);
    anyhow::anyhow!("the server answered {status}: {detail}")
}

pub async fn upload(args: UploadArgs) -> anyhow::Result<()> {
    let http = client(args.token.as_deref(), &[])?;
    let server = args.server.trim_end_matches('/');
    let (dump, share_token) = send(&http, server, &args.file, &args.dump).await?;
    let id = dump["id"].as_str().unwrap_or_default();
    if args.json {
        println!("{}", json!({"dump": dump, "shareToken": share_token}));
    } else {
        let name = dump["name"].as_str().unwrap_or_default();
        println!(
            "{name} is Ready: {}",
            dump_page(server, id, share_token.as_deref())
        );
        if let Some(token) = share_token {
            println!("share token (send as X-Share-Token; shown only now): {token}");
        }
    }
    Ok(())
}

/// Uploads `file` to `server` (resuming an earlier upload of it that was cut off) and follows
/// the dump it becomes until Ready: the dump, and its share token if it has one.
pub(crate) async fn send(
    http: &reqwest::Client,
    server: &str,
    file: &Path,
    options: &DumpOptions,
) -> anyhow::Result<(Value, Option<String>)> {
    let path = file
        .canonicalize()
        .with_context(|| format!("{}", file.display()))?;
    let metadata = std::fs::metadata(&path)?;
    let size = metadata.len();
    let name = options.name.clone().unwrap_or_else(|| {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });

    // An earlier upload of this file to this server, if the server still has it.
    let remembered = resume_file(server, &path, &metadata);
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
                    "ttl": options.ttl,
                    "visibility": if options.public { "Public" } else { "Private" },
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
    let mut offset = upload["offset"].as_u64().unwrap_or(0);
    let mut waited = 0;
    let response = loop {
        let response = put_from(http, server, &id, &path, offset, size).await?;
        if response.status() != reqwest::StatusCode::CONFLICT || waited == CONFLICT_WAIT_SECONDS {
            break response;
        }
        // The server still has the request of an attempt that was cut off open (it notices
        // within a minute), or has more bytes than we thought: ask again and send from there.
        if waited == 0 {
            eprintln!("the server is still finishing an earlier attempt; waiting");
        }
        waited += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let status = http
            .get(format!("{server}/api/v1/uploads/{id}"))
            .send()
            .await?;
        if !status.status().is_success() {
            return Err(failure(status).await);
        }
        offset = status.json::<Value>().await?["offset"]
            .as_u64()
            .unwrap_or(0);
    };
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
    let share_token = uploaded["shareToken"].as_str().map(str::to_string);
    Ok((follow(http, server, id).await?, share_token))
}

/// How long to keep asking when the server says another request is sending the upload: longer
/// than the server waits for bytes of a stalled request.
const CONFLICT_WAIT_SECONDS: u32 = 90;

/// Sends `path` from byte `offset` on as upload `id`, with a progress bar.
async fn put_from(
    http: &reqwest::Client,
    server: &str,
    id: &str,
    path: &Path,
    offset: u64,
    size: u64,
) -> anyhow::Result<reqwest::Response> {
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .expect("a valid template"),
    );
    if offset > 0 {
        eprintln!("resuming from byte {offset}");
    }
    bar.set_position(offset);
    let mut file = tokio::fs::File::open(path).await?;
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
    Ok(response)
}

/// `dumplens open`: the file into the local server (started when none answers), then a browser.
pub async fn open(args: OpenArgs) -> anyhow::Result<()> {
    let server = format!("http://{}", args.listen);
    let http = reqwest::Client::new();
    if http.get(format!("{server}/healthz")).send().await.is_err() {
        start_serve(&http, &server, args.listen).await?;
    }
    let (dump, share_token) = send(&http, &server, &args.file, &args.dump).await?;
    let url = dump_page(
        &server,
        dump["id"].as_str().unwrap_or_default(),
        share_token.as_deref(),
    );
    println!(
        "{} is Ready: {url}",
        dump["name"].as_str().unwrap_or_default()
    );
    if !args.no_browser {
        webbrowser::open(&url).with_context(|| format!("opening a browser at {url}"))?;
    }
    Ok(())
}

/// The dump's page in the web UI; with a share token, the link that opens it (the token rides
/// in the fragment, which browsers do not send to servers or write to their logs).
fn dump_page(server: &str, id: &str, share_token: Option<&str>) -> String {
    match share_token {
        Some(token) => format!("{server}/dumps/{id}#share={token}"),
        None => format!("{server}/dumps/{id}"),
    }
}

/// Starts `dumplens serve` on `listen` in a process group of its own (it keeps running after
/// this command, like a server started by hand) and waits until it answers.
pub(crate) async fn start_serve(
    http: &reqwest::Client,
    server: &str,
    listen: std::net::SocketAddr,
) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let data_dir = std::env::var_os("DUMPLENS_DATA_DIR")
        .map(PathBuf::from)
        .or_else(api::standalone::default_data_dir)
        .context("no data directory: set DUMPLENS_DATA_DIR")?;
    std::fs::create_dir_all(&data_dir)?;
    let log_path = data_dir.join("serve.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("{}", log_path.display()))?;
    let child = std::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--listen", &listen.to_string(), "--data-dir"])
        .arg(&data_dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting dumplens serve")?;
    eprintln!(
        "started dumplens serve (pid {}) at {server}; its log is {}",
        child.id(),
        log_path.display()
    );
    for _ in 0..1200 {
        if http.get(format!("{server}/healthz")).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "dumplens serve did not answer at {server} within 120 s; see {}",
        log_path.display()
    )
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_server_is_where_serve_listens_by_default() {
        assert_eq!(
            super::DEFAULT_SERVER,
            format!("http://{}", api::standalone::DEFAULT_LISTEN)
        );
    }
}
