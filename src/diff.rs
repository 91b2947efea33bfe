//! `dumplens diff A B`: what changed between two dumps, schema and rows. A and B are dump files
//! (sent to the local `dumplens serve`, started when none runs) or dump ids on `--server`.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use crate::upload::{self, DumpOptions};

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The older dump: a file, or a dump id on the server.
    a: String,
    /// The newer dump: a file, or a dump id on the server.
    b: String,
    /// The server holding the dumps (files go to the local serve at this address).
    #[arg(long, env = "DUMPLENS_SERVER", default_value = upload::DEFAULT_SERVER)]
    server: String,
    /// An API token, when the server asks for one.
    #[arg(long, env = "DUMPLENS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Share tokens of Private dumps (repeatable).
    #[arg(long = "share-token")]
    share_tokens: Vec<String>,
    /// Print `{"schema": ..., "data": ...}` as JSON instead of lines.
    #[arg(long)]
    json: bool,
}

/// The id and first database of a Ready dump given as a file (sent to the server) or an id.
async fn dump(
    http: &reqwest::Client,
    server: &str,
    given: &str,
) -> anyhow::Result<(String, String)> {
    let ready = if Path::new(given).is_file() {
        upload::send(http, server, Path::new(given), &DumpOptions::default())
            .await?
            .0
    } else if given.is_empty() || !given.bytes().all(|b| b.is_ascii_alphanumeric()) {
        anyhow::bail!("{given:?} is neither a file nor a dump id (letters and digits)");
    } else {
        let response = http
            .get(format!("{server}/api/v1/dumps/{given}"))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(upload::failure(response)
                .await
                .context(format!("{given} is neither a file nor a dump")));
        }
        response.json::<Value>().await?
    };
    let id = ready["id"].as_str().context("the server named no dump")?;
    let database = ready["databases"][0]["sandbox"]
        .as_str()
        .with_context(|| format!("dump {id} is {}, not Ready", ready["phase"]))?;
    Ok((id.to_string(), database.to_string()))
}

async fn get_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    json_of(http.get(url)).await
}

async fn json_of(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let response = request.send().await?;
    if !response.status().is_success() {
        return Err(upload::failure(response).await);
    }
    Ok(response.json().await?)
}

/// The row changes of every table, asked for one table at a time to show progress; in the
/// shape of the `data` endpoint's answer.
async fn compare_rows(
    http: &reqwest::Client,
    server: &str,
    base: &str,
    a: &str,
    database_a: &str,
) -> anyhow::Result<Value> {
    let graph = get_json(
        http,
        &format!("{server}/api/v1/dumps/{a}/databases/{database_a}/schema"),
    )
    .await?;
    let names: Vec<String> = graph["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["kind"] != "partitioned")
        .map(|t| {
            format!(
                "{}.{}",
                t["schema"].as_str().unwrap_or_default(),
                t["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let bar = indicatif::ProgressBar::new(names.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("comparing rows {bar:30} {pos}/{len} {msg}")
            .expect("a valid template"),
    );
    let mut data = json!({"tables": [], "tablesOnlyInA": [], "tablesOnlyInB": []});
    for name in &names {
        bar.set_message(name.clone());
        let part = json_of(http.get(format!("{base}/data")).query(&[("tables", name)])).await?;
        for key in ["tables", "tablesOnlyInA", "tablesOnlyInB"] {
            let list = data[key].as_array_mut().expect("an array");
            for item in part[key].as_array().into_iter().flatten() {
                if !list.contains(item) {
                    list.push(item.clone());
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(data)
}

pub async fn diff(args: DiffArgs) -> anyhow::Result<()> {
    let server = args.server.trim_end_matches('/').to_string();
    let http = upload::client(args.token.as_deref(), &args.share_tokens)?;
    let files = Path::new(&args.a).is_file() || Path::new(&args.b).is_file();
    if files && http.get(format!("{server}/healthz")).send().await.is_err() {
        let listen = server
            .trim_start_matches("http://")
            .parse()
            .with_context(|| {
                format!(
                    "{server} does not answer, and is not an address to start dumplens serve on"
                )
            })?;
        upload::start_serve(&http, &server, listen).await?;
    }
    let (a, database_a) = dump(&http, &server, &args.a).await?;
    let (b, database_b) = dump(&http, &server, &args.b).await?;
    let base = format!("{server}/api/v1/dumps/{a}/databases/{database_a}/diff/{b}/{database_b}");
    let schema = get_json(&http, &format!("{base}/schema")).await?;
    let data = compare_rows(&http, &server, &base, &a, &database_a).await?;
    if args.json {
        println!("{}", json!({"schema": schema, "data": data}));
        return Ok(());
    }
    let changes = schema["changes"].as_array().cloned().unwrap_or_default();
    println!("schema: {} change(s)", changes.len());
    for change in &changes {
        let from = change["renamedFrom"]
            .as_str()
            .map(|f| format!(" (was {f})"))
            .unwrap_or_default();
        println!(
            "  {} {} {}{from}",
            change["change"].as_str().unwrap_or_default(),
            change["kind"].as_str().unwrap_or_default(),
            change["name"].as_str().unwrap_or_default()
        );
    }
    let tables = data["tables"].as_array().cloned().unwrap_or_default();
    let changed: Vec<&Value> = tables
        .iter()
        .filter(|t| {
            ["added", "removed", "changed"]
                .iter()
                .any(|k| t[k].as_u64().unwrap_or(0) > 0)
        })
        .collect();
    println!(
        "rows: {} of {} table(s) changed",
        changed.len(),
        tables.len()
    );
    for table in changed {
        let more = if table["complete"] == false {
            " (at least)"
        } else {
            ""
        };
        println!(
            "  {}.{}: {} added, {} removed, {} changed{more}",
            table["schema"].as_str().unwrap_or_default(),
            table["table"].as_str().unwrap_or_default(),
            table["added"],
            table["removed"],
            table["changed"]
        );
    }
    for (side, key) in [("A", "tablesOnlyInA"), ("B", "tablesOnlyInB")] {
        for table in data[key].as_array().into_iter().flatten() {
            println!("  {}: only in {side}", table.as_str().unwrap_or_default());
        }
    }
    Ok(())
}
