//! The `dumplens` command: parses the command line and hands over to the libraries.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    },
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
        } => {
            let options = api::standalone::ServeOptions {
                listen,
                data_dir,
                database_url,
                pg_bindir,
            };
            api::standalone::serve(options, |url| println!("PgDumpLens is ready at {url}"))
                .await
                .map_err(anyhow::Error::from)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
