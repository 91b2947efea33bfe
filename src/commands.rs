//! What the one-shot commands print: JSON for machines, a line or a progress bar for people.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use lens::conninfo::ServerUrl;
use lens::dump::{self, Limits};
use lens::fetch::RemoteSource;
use lens::restore::{self, Progress, RestoreError, RestoreOptions, Target};

pub fn inspect(file: &Path, json: bool) -> anyhow::Result<()> {
    let info = dump::inspect(file, &Limits::default())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
        println!(
            "format:          {}",
            serde_json::to_value(info.format)?.as_str().unwrap_or("?")
        );
        println!("compression:     {}", or_unknown(&info.compression));
        println!("pg_dump version: {}", or_unknown(&info.pg_dump_version));
        println!("server version:  {}", or_unknown(&info.server_version));
        println!("databases:       {}", info.databases.join(", "));
        if let Some(entries) = info.toc_entries {
            println!("TOC entries:     {entries}");
        }
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The dump file (or give --url, or --s3-bucket and --s3-key).
    #[arg(required_unless_present_any = ["url", "s3_bucket"], conflicts_with_all = ["url", "s3_bucket"])]
    file: Option<PathBuf>,
    /// Download the dump from this http(s) URL first (streamed to a scratch file).
    #[arg(long, conflicts_with = "s3_bucket")]
    url: Option<String>,
    /// Download the dump from this S3 bucket (credentials from AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY, anonymous without them).
    #[arg(long, requires = "s3_key")]
    s3_bucket: Option<String>,
    /// With --s3-bucket: the object's key.
    #[arg(long, requires = "s3_bucket")]
    s3_key: Option<String>,
    /// With --s3-bucket: the endpoint of an S3-compatible store [default: AWS].
    #[arg(long, requires = "s3_bucket")]
    s3_endpoint: Option<String>,
    /// With --s3-bucket: the region [default: us-east-1].
    #[arg(long, requires = "s3_bucket")]
    s3_region: Option<String>,
    /// With --url or --s3-bucket: the file's SHA-256; a different download fails the restore.
    #[arg(long)]
    sha256: Option<String>,
    /// A role that may create roles and databases; used only to create the sandbox.
    #[arg(
        long,
        env = "DUMPLENS_ADMIN_URL",
        required_unless_present = "target_url"
    )]
    admin_url: Option<String>,
    /// Restore as this (sandbox) role into databases that exist already.
    #[arg(long, env = "DUMPLENS_TARGET_URL", conflicts_with = "admin_url")]
    target_url: Option<String>,
    /// With --target-url: the sandbox database for each database of a pg_dumpall file, in
    /// order (default: the database in the URL).
    #[arg(long = "target-database", requires = "target_url")]
    target_databases: Vec<String>,
    /// The sandbox id: names the role (dl_ID) and databases [default: random].
    #[arg(long)]
    id: Option<String>,
    /// Print the summary as one line of JSON.
    #[arg(long)]
    json: bool,
    /// With --json: print progress events as JSON lines before the summary.
    #[arg(long, requires = "json")]
    progress_json: bool,
    /// Parallel pg_restore jobs (custom and directory formats).
    #[arg(long, default_value_t = 2)]
    jobs: u32,
    /// Restore this table's definition but not its rows (repeatable).
    #[arg(long = "skip-table-data", value_name = "SCHEMA.TABLE")]
    skip_table_data: Vec<lens::restore::TableName>,
    /// Keep going past errors and list them, instead of failing.
    #[arg(long)]
    continue_on_error: bool,
    /// Directory holding pg_restore.
    #[arg(long, env = lens::postgres::BINDIR_ENV)]
    pg_bindir: Option<PathBuf>,
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let target = match (&args.admin_url, &args.target_url) {
        (Some(admin), None) => Target::Admin(admin.parse().context("--admin-url")?),
        (None, Some(role)) => {
            let role: ServerUrl = role.parse().context("--target-url")?;
            let databases = if args.target_databases.is_empty() {
                role.database().into_iter().collect()
            } else {
                args.target_databases.clone()
            };
            Target::Existing { role, databases }
        }
        _ => anyhow::bail!("give either --admin-url or --target-url"),
    };
    let id = args.id.clone().unwrap_or_else(lens::sandbox::new_id);
    let options = RestoreOptions {
        jobs: args.jobs,
        continue_on_error: args.continue_on_error,
        pg_bindir: args.pg_bindir.clone(),
        skip_table_data: args.skip_table_data.clone(),
        ..RestoreOptions::default()
    };
    // A download lives as long as the restore needs it and is removed after.
    let sha256 = args.sha256.clone();
    let remote = match (&args.url, &args.s3_bucket, &args.s3_key) {
        (Some(url), _, _) => Some(RemoteSource::Url(lens::fetch::UrlObject {
            url: url.clone(),
            sha256,
        })),
        (None, Some(bucket), Some(key)) => Some(RemoteSource::S3(lens::fetch::S3Object {
            bucket: bucket.clone(),
            key: key.clone(),
            endpoint: args.s3_endpoint.clone(),
            region: args.s3_region.clone(),
            sha256,
        })),
        _ if sha256.is_some() => {
            anyhow::bail!("--sha256 checks a download: give --url or --s3-bucket")
        }
        _ => None,
    };
    let fetched = match &remote {
        Some(remote) => {
            remote.check()?;
            Some(remote.fetch(&options.limits, &options.scratch_dir).await?)
        }
        None => None,
    };
    let file = match (&fetched, &args.file) {
        (Some(fetched), _) => fetched.path.to_path_buf(),
        (None, Some(file)) => file.clone(),
        (None, None) => unreachable!("clap requires a file, --url or --s3-bucket"),
    };
    let bar = progress_bar(args.json);
    let sink_bar = bar.clone();
    let progress_json = args.json && args.progress_json;
    let sink: restore::ProgressSink = Arc::new(move |p: &Progress| {
        if progress_json {
            let mut event = serde_json::to_value(p).expect("progress serialises");
            event["event"] = "progress".into();
            println!("{event}");
        }
        show(&sink_bar, p)
    });
    let result = restore::restore(&file, &id, &target, &options, sink).await;
    bar.finish_and_clear();
    match result {
        Ok(summary) => {
            if args.json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                for db in &summary.databases {
                    println!(
                        "restored {} into {}: {} tables, about {} rows",
                        db.name.as_deref().unwrap_or("the dump"),
                        db.sandbox,
                        db.tables,
                        db.rows
                    );
                }
                for warning in &summary.warnings {
                    println!("warning: {warning}");
                }
                for error in &summary.errors {
                    println!("error (continued past): {error}");
                }
            }
            Ok(())
        }
        Err(RestoreError::Failed(summary)) => {
            if args.json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                for error in summary.errors.iter().skip(1).take(20) {
                    eprintln!("  also: {error}");
                }
            }
            Err(RestoreError::Failed(summary).into())
        }
        Err(RestoreError::TargetMismatch { found, given }) => {
            // What a Kubernetes operator reads to make the sandbox databases a pg_dumpall
            // file needs.
            if args.json {
                println!("{}", serde_json::json!({"databasesNeeded": found}));
            }
            Err(RestoreError::TargetMismatch { found, given }.into())
        }
        Err(err) => Err(err.into()),
    }
}

fn progress_bar(json: bool) -> ProgressBar {
    if json || !console_is_interactive() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {wide_msg} {pos}/{len} [{elapsed}]")
            .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn console_is_interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

fn show(bar: &ProgressBar, progress: &Progress) {
    if progress.bytes_total > 0 {
        bar.set_length(progress.bytes_total);
        bar.set_position(progress.bytes_done);
    } else {
        bar.set_length(progress.items_total.unwrap_or(0));
        bar.set_position(progress.items_done);
    }
    if let Some(table) = &progress.current {
        bar.set_message(format!("loading {table}"));
    }
}

#[derive(clap::Args)]
pub struct OperatorArgs {
    /// A role on the sandbox server that may create roles and databases.
    #[arg(long, env = "DUMPLENS_ADMIN_URL")]
    admin_url: String,
    /// The image restore Jobs run.
    #[arg(long, env = "DUMPLENS_RESTORE_IMAGE", default_value = concat!("ghcr.io/pgdumplens/dumplens:", env!("CARGO_PKG_VERSION")))]
    restore_image: String,
    /// The command that runs dumplens inside that image.
    #[arg(long, env = "DUMPLENS_RESTORE_COMMAND", default_value = "dumplens")]
    restore_command: String,
    /// How long a restore Job may run.
    #[arg(
        long,
        env = "DUMPLENS_RESTORE_DEADLINE_SECONDS",
        default_value_t = 14400
    )]
    restore_deadline_seconds: i64,
    /// Retries of a failed restore Job (a restore of the same file fails the same way, and a
    /// retry restores into what the failed attempt left, so none by default).
    #[arg(long, env = "DUMPLENS_RESTORE_BACKOFF_LIMIT", default_value_t = 0)]
    restore_backoff_limit: i32,
    /// How long a finished restore Job is kept (its outcome is in the Dump's status first).
    #[arg(long, env = "DUMPLENS_RESTORE_TTL_SECONDS", default_value_t = 3600)]
    restore_ttl_seconds: i32,
    /// A restore Job's resources when its Dump names none, as JSON (a ResourceRequirements,
    /// e.g. {"requests":{"cpu":"500m"}}).
    #[arg(long, env = "DUMPLENS_RESTORE_RESOURCES", value_parser = parse_resources)]
    restore_resources: Option<k8s_openapi::api::core::v1::ResourceRequirements>,
    /// The PersistentVolumeClaim the api stores uploads on, mounted into restore Jobs of
    /// upload sources (without it, upload sources fail).
    #[arg(long, env = "DUMPLENS_UPLOADS_CLAIM")]
    uploads_claim: Option<String>,
    /// The same volume mounted here, so an upload is deleted with its Dump.
    #[arg(long, env = "DUMPLENS_UPLOADS_DIR")]
    uploads_dir: Option<PathBuf>,
    /// How often to drop sandboxes that no Dump owns, e.g. 10m.
    #[arg(long, env = "DUMPLENS_SWEEP_INTERVAL", default_value = "10m", value_parser = humantime::parse_duration)]
    sweep_interval: Duration,
    /// The UI's public base URL, for each Dump's status.url.
    #[arg(long, env = "DUMPLENS_UI_URL")]
    ui_url: Option<String>,
    /// Where to serve /metrics (Prometheus) and /healthz.
    #[arg(long, default_value = "127.0.0.1:9090")]
    metrics_listen: std::net::SocketAddr,
}

fn parse_resources(
    json: &str,
) -> Result<k8s_openapi::api::core::v1::ResourceRequirements, serde_json::Error> {
    serde_json::from_str(json)
}

/// Runs the operator against the cluster of KUBECONFIG (or the one it runs in) until SIGINT
/// or SIGTERM.
pub async fn operator(args: OperatorArgs) -> anyhow::Result<()> {
    let config = operator::Config {
        admin: args.admin_url.parse().context("--admin-url")?,
        restore_command: vec![args.restore_command],
        restore_image: args.restore_image,
        active_deadline_seconds: args.restore_deadline_seconds,
        backoff_limit: args.restore_backoff_limit,
        ttl_seconds_after_finished: args.restore_ttl_seconds,
        restore_resources: args.restore_resources,
        uploads_claim: args.uploads_claim,
        uploads_dir: args.uploads_dir,
        sweep_interval: args.sweep_interval,
        ui_url: args.ui_url,
    };
    let client = kube::Client::try_default()
        .await
        .context("connecting to Kubernetes (KUBECONFIG, or the cluster this runs in)")?;
    let metrics = Arc::new(operator::metrics::Metrics::default());
    let listen = args.metrics_listen;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        ran = operator::run(client, config, metrics.clone()) => ran?,
        served = operator::metrics::serve(listen, metrics) => {
            served.with_context(|| format!("serving metrics on {listen}"))?;
        }
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct ApiArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: std::net::SocketAddr,
    /// A role on the sandbox server that may create roles (the SQL console's reader roles).
    #[arg(long, env = "DUMPLENS_ADMIN_URL")]
    admin_url: String,
    /// Where the uploads volume is mounted (the operator's --uploads-dir for the same claim).
    #[arg(
        long,
        env = "DUMPLENS_UPLOADS_DIR",
        default_value = "/var/lib/dumplens/uploads"
    )]
    uploads_dir: PathBuf,
    /// The namespace Dumps made through the API go into [default: the client's].
    #[arg(long, env = "POD_NAMESPACE")]
    namespace: Option<String>,
    /// A Secret in that namespace whose every value is an API token (read again every 10 s).
    #[arg(long, env = "DUMPLENS_TOKENS_SECRET")]
    tokens_secret: Option<String>,
    /// A header an authenticating proxy in front of the API sets (e.g. X-Forwarded-User); a
    /// request carrying it counts as an API caller's. Only for an API no one reaches around
    /// the proxy.
    #[arg(long, env = "DUMPLENS_TRUSTED_PROXY_HEADER")]
    trusted_proxy_header: Option<api::HeaderName>,
    /// The largest upload accepted, in bytes.
    #[arg(long, env = "DUMPLENS_MAX_UPLOAD_BYTES", default_value_t = api::standalone::DEFAULT_MAX_UPLOAD_BYTES)]
    max_upload_bytes: u64,
}

pub async fn api(args: ApiArgs) -> anyhow::Result<()> {
    let options = api::kubernetes::ApiOptions {
        listen: args.listen,
        admin_url: args.admin_url,
        uploads_dir: args.uploads_dir,
        namespace: args.namespace,
        tokens_secret: args.tokens_secret,
        trusted_proxy_header: args.trusted_proxy_header,
        max_upload_bytes: args.max_upload_bytes,
    };
    api::kubernetes::serve(options, |url| println!("PgDumpLens API is ready at {url}")).await?;
    Ok(())
}
