//! The `dumplens` command: parses the command line and hands over to the libraries.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod diff;
mod upload;

#[derive(Parser)]
#[command(
    name = "dumplens",
    version,
    about = "Look inside PostgreSQL dumps in a browser"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run PgDumpLens on this machine: its own PostgreSQL, the API and the UI on one port.
    Serve {
        /// Address to listen on (loopback only).
        #[arg(long, default_value = api::standalone::DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Where the PostgreSQL cluster and uploaded dumps live [default: /var/lib/dumplens as
        /// root, else the user's data directory, e.g. ~/.local/share/dumplens].
        #[arg(long, env = "DUMPLENS_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Use an existing PostgreSQL server (a role that may create databases and roles)
        /// instead of a managed cluster.
        #[arg(long, env = "DUMPLENS_DATABASE_URL", conflicts_with = "pg_bindir")]
        database_url: Option<String>,
        /// Directory holding the PostgreSQL binaries (initdb, postgres, pg_restore).
        #[arg(long, env = lens::postgres::BINDIR_ENV)]
        pg_bindir: Option<PathBuf>,
        /// How long the dumps given here live (e.g. 24h, 30m) [default: until removed].
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: Option<std::time::Duration>,
        /// How often expired dumps and orphaned sandboxes are looked for.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "30s", hide = true)]
        sweep_interval: std::time::Duration,
        /// The largest upload accepted, in bytes.
        #[arg(long, env = "DUMPLENS_MAX_UPLOAD_BYTES", default_value_t = api::standalone::DEFAULT_MAX_UPLOAD_BYTES)]
        max_upload_bytes: u64,
        /// A file with one API token per line: every /api/v1 request must then send one
        /// (Authorization: Bearer TOKEN), and --listen may be a non-loopback address.
        #[arg(long, env = "DUMPLENS_TOKEN_FILE")]
        token_file: Option<PathBuf>,
        /// Dump files to restore and serve (a file given again is not restored twice).
        dumps: Vec<PathBuf>,
    },
    /// Tell what a dump file is (format, versions, databases) without restoring it.
    Inspect {
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a dump into new sandbox databases, as a role that owns only them.
    Restore(commands::RestoreArgs),
    /// Run the Kubernetes operator for Dump resources (in a cluster, or outside one from
    /// KUBECONFIG).
    Operator(commands::OperatorArgs),
    /// Serve the API over the cluster's Dump resources (Kubernetes mode; the chart runs it).
    Api(commands::ApiArgs),
    /// Upload a dump file to a PgDumpLens server, with progress, resuming an interrupted
    /// upload of the same file; waits until it is Ready and prints where.
    Upload(upload::UploadArgs),
    /// Look at a dump file in the browser: sends it to the local `dumplens serve` (starting
    /// one when none runs), waits until it is Ready and opens it.
    Open(upload::OpenArgs),
    /// What changed between two dumps: schema and rows, exactly. Files go to the local
    /// `dumplens serve` (started when none runs); ids are looked up on --server.
    Diff(diff::DiffArgs),
    /// Print the API's OpenAPI 3.1 document (what `/api/v1/openapi.json` serves).
    Openapi,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DUMPLENS_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Serve {
            listen,
            data_dir,
            database_url,
            pg_bindir,
            ttl,
            sweep_interval,
            max_upload_bytes,
            token_file,
            dumps,
        } => {
            let access = match token_file {
                Some(path) => match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        let tokens: Vec<String> = text.lines().map(str::to_string).collect();
                        if tokens.iter().all(|t| t.trim().is_empty()) {
                            eprintln!("error: --token-file {} holds no token", path.display());
                            return ExitCode::FAILURE;
                        }
                        api::access::Access::required(tokens, None)
                    }
                    Err(err) => {
                        eprintln!("error: cannot read --token-file {}: {err}", path.display());
                        return ExitCode::FAILURE;
                    }
                },
                None => api::access::Access::open(),
            };
            let options = api::standalone::ServeOptions {
                listen,
                data_dir,
                database_url,
                pg_bindir,
                dumps,
                ttl,
                sweep_interval,
                restore_program: None,
                max_upload_bytes,
                access,
            };
            api::standalone::serve(options, |url| println!("PgDumpLens is ready at {url}"))
                .await
                .map_err(anyhow::Error::from)
        }
        Command::Inspect { file, json } => commands::inspect(&file, json),
        Command::Restore(args) => commands::restore(args).await,
        Command::Operator(args) => commands::operator(args).await,
        Command::Api(args) => commands::api(args).await,
        Command::Upload(args) => upload::upload(args).await,
        Command::Open(args) => upload::open(args).await,
        Command::Diff(args) => diff::diff(args).await,
        Command::Openapi => serde_json::to_string_pretty(&api::openapi::document())
            .map(|document| println!("{document}"))
            .map_err(anyhow::Error::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
