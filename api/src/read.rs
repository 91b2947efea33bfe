//! Reading restored dumps: their databases, schema graphs and rows. Sandboxes are read through
//! read-only connections with a statement timeout; tables and columns are looked up in the
//! stored schema graph before any SQL is built.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lens::browse::{self, BrowseError, Filter, Page, PageRequest};
use lens::conninfo::ServerUrl;
use lens::lifecycle::Phase;
use lens::schema::{SchemaGraph, Table};
use lens::store::Store;
use lens::{er, relations};
use serde::Deserialize;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

use crate::Problem;
use crate::catalog::{Database, DumpInfo};
use crate::routes::AppState;

/// How long one statement against a sandbox may run.
const STATEMENT_TIMEOUT: &str = "10s";
/// Connections per sandbox database.
const CONNECTIONS_PER_SANDBOX: u32 = 8;

/// (dump id, sandbox database)
type SandboxDatabase = (String, String);
/// When a dump was found Ready, and its databases.
type ReadyDump = (Instant, Vec<Database>);
/// How long a dump found Ready is taken to be Ready without asking the store again.
const READY_FOR: Duration = Duration::from_secs(1);

/// Read-only connection pools to sandbox databases, made on first use, each as its dump's
/// reader; and the schema graphs of the sandboxes, kept once read.
#[derive(Clone, Debug)]
pub struct Readers {
    server: ServerUrl,
    /// Where each dump's reader password is kept, the same for every replica of the API.
    store: Store,
    pools: Arc<Mutex<HashMap<String, PgPool>>>,
    /// Held while a reader is made, so that one request makes it and the others then find it;
    /// every other request only looks its pool up.
    making: Arc<tokio::sync::Mutex<()>>,
    graphs: Arc<Mutex<HashMap<SandboxDatabase, Arc<SchemaGraph>>>>,
    /// The databases of dumps found Ready, and when.
    ready: Arc<Mutex<HashMap<String, ReadyDump>>>,
}

impl Readers {
    /// Pools that connect to sandboxes on the server of `server` (whose login makes the
    /// readers), with the readers' passwords in `store`.
    pub fn new(server: ServerUrl, store: Store) -> Self {
        Self {
            server,
            store,
            pools: Arc::default(),
            making: Arc::default(),
            graphs: Arc::default(),
            ready: Arc::default(),
        }
    }

    /// Lets go of everything kept for a deleted dump: its graphs and its connection pools.
    pub(crate) async fn forget(&self, id: &str, dump: &DumpInfo) {
        self.graphs
            .lock()
            .expect("not poisoned")
            .retain(|(dump, _), _| dump != id);
        self.ready.lock().expect("not poisoned").remove(id);
        let pools: Vec<PgPool> = {
            let mut pools = self.pools.lock().expect("not poisoned");
            let databases = dump.databases.iter();
            databases.filter_map(|d| pools.remove(&d.sandbox)).collect()
        };
        for pool in pools {
            pool.close().await;
        }
    }

    /// A pool of connections to `database` (one of dump `id`'s `databases`) as the dump's
    /// reader, which can read those databases and nothing else, in read-only transactions with
    /// a statement timeout. Everything the API runs on a sandbox runs so: the SQL people type,
    /// and the statements it builds, which can call what the dump defined (a cast to text, a
    /// view's functions) and must not do so with the rights of the server's admin. The reader
    /// is made (its password kept in the store) for all of `databases` on first use.
    pub(crate) async fn pool(
        &self,
        id: &str,
        databases: &[String],
        database: &str,
    ) -> Result<PgPool, Problem> {
        let made = || {
            self.pools
                .lock()
                .expect("not poisoned")
                .get(database)
                .cloned()
        };
        if let Some(pool) = made() {
            return Ok(pool);
        }
        let _making = self.making.lock().await;
        if let Some(pool) = made() {
            return Ok(pool);
        }
        let reader = self
            .store
            .reader_login(&self.server, id, databases)
            .await
            .map_err(|e| Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        for sandbox in databases {
            let login = reader.with_database(sandbox);
            let pool = PgPoolOptions::new()
                .max_connections(CONNECTIONS_PER_SANDBOX)
                .min_connections(0)
                .idle_timeout(Duration::from_secs(60))
                .connect_lazy_with(
                    // The reader's own settings say the same; these hold whatever they say.
                    login
                        .connect_options()
                        .options([
                            ("default_transaction_read_only", "on"),
                            ("statement_timeout", STATEMENT_TIMEOUT),
                        ])
                        .application_name("dumplens-read"),
                );
            let mut pools = self.pools.lock().expect("not poisoned");
            pools.insert(sandbox.clone(), pool);
        }
        made().ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                format!("dump {id:?} has no database {database:?}"),
            )
        })
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/dumps/{id}/databases", get(databases))
        .route(
            "/api/v1/dumps/{id}/databases/{database}/schema",
            get(schema),
        )
        .route(
            "/api/v1/dumps/{id}/databases/{database}/er",
            get(er_diagram),
        )
        .route(
            "/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/rows",
            get(rows),
        )
        .route(
            "/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/relationships",
            get(relationships),
        )
        .route(
            "/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/follow",
            get(follow),
        )
        .route(
            "/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/columns/{column}/suggestions",
            get(suggestions),
        )
        .route("/api/v1/dumps/{id}/databases/{database}/search", get(search))
        .route("/api/v1/dumps/{id}/databases/{database}/sql", post(console))
}

/// The databases of a Ready dump (one, or each of a pg_dumpall file's).
async fn ready_databases(state: &AppState, id: &str) -> Result<Vec<Database>, Problem> {
    // Every request on a dump asks this; a second-old answer spares the metadata database.
    if let Some((at, databases)) = state.readers.ready.lock().expect("not poisoned").get(id)
        && at.elapsed() < READY_FOR
    {
        return Ok(databases.clone());
    }
    let dump = state.catalog.get(id).await?;
    if dump.phase.0 != Phase::Ready {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("dump {id:?} is {}, not Ready", dump.phase.0.as_str()),
        ));
    }
    let databases = dump.databases;
    let mut ready = state.readers.ready.lock().expect("not poisoned");
    ready.insert(id.to_string(), (Instant::now(), databases.clone()));
    Ok(databases)
}

/// The databases of a Ready dump: one, or each of a pg_dumpall file's.
#[utoipa::path(get, path = "/api/v1/dumps/{id}/databases", params(("id" = String, Path, description = "the dump")), responses(
    (status = 200, body = Vec<Database>), (status = 404, body = Problem), (status = 409, body = Problem),
))]
pub(crate) async fn databases(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Database>>, Problem> {
    ready_databases(&state, &id).await.map(Json)
}

/// The schema graph of `database`, which must be one of dump `id`'s. A restored database's
/// graph never changes, so it is read from the store once and kept.
pub(crate) async fn graph(
    state: &AppState,
    id: &str,
    database: &str,
) -> Result<Arc<SchemaGraph>, Problem> {
    let databases = ready_databases(state, id).await?;
    if !databases.iter().any(|d| d.sandbox == database) {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("dump {id:?} has no database {database:?}"),
        ));
    }
    let key = (id.to_string(), database.to_string());
    if let Some(graph) = state.readers.graphs.lock().expect("not poisoned").get(&key) {
        return Ok(graph.clone());
    }
    let graph = state
        .store
        .schema_graph(id, database)
        .await
        .map_err(crate::catalog::store_problem)?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                format!("the schema of {database:?} has not been read yet"),
            )
        })?;
    let graph = Arc::new(graph);
    let mut graphs = state.readers.graphs.lock().expect("not poisoned");
    graphs.insert(key, graph.clone());
    Ok(graph)
}

/// The schema graph of a database: tables, columns, keys, indexes, views, functions...
#[utoipa::path(get, path = "/api/v1/dumps/{id}/databases/{database}/schema", params(("id" = String, Path, description = "the dump"), ("database" = String, Path, description = "a sandbox database of the dump, as `databases` lists them")), responses(
    (status = 200, body = SchemaGraph), (status = 404, body = Problem), (status = 409, body = Problem, description = "the dump is not Ready"),
))]
pub(crate) async fn schema(
    State(state): State<AppState>,
    Path((id, database)): Path<(String, String)>,
) -> Result<Json<SchemaGraph>, Problem> {
    graph(&state, &id, &database)
        .await
        .map(|graph| Json(SchemaGraph::clone(&graph)))
}

pub(crate) fn find_table(graph: &SchemaGraph, schema: &str, table: &str) -> Result<Table, Problem> {
    graph
        .tables
        .iter()
        .find(|t| t.schema == schema && t.name == table)
        .cloned()
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                format!("there is no table {schema:?}.{table:?}"),
            )
        })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ErQuery {
    /// With `table`: the table's schema; alone: every table of this schema.
    schema: Option<String>,
    /// A table and its neighbours (give `schema` too).
    table: Option<String>,
    /// Foreign-key hops from `table` (1 to 5; 1 by default).
    depth: Option<u32>,
    /// `json` (default) or `mermaid`.
    format: Option<String>,
}

/// The ER diagram of a table's neighbourhood, a schema, or the whole database, as a JSON graph
/// or as Mermaid `erDiagram` text (`format=mermaid`).
#[utoipa::path(get, path = "/api/v1/dumps/{id}/databases/{database}/er", params(("id" = String, Path, description = "the dump"), ("database" = String, Path, description = "a sandbox database of the dump, as `databases` lists them"), ErQuery), responses(
    (status = 200, description = "the diagram: JSON, or Mermaid text with format=mermaid",
        content((er::Diagram = "application/json"), (String = "text/plain"))),
    (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "the dump is not Ready"),
))]
pub(crate) async fn er_diagram(
    State(state): State<AppState>,
    Path((id, database)): Path<(String, String)>,
    query: Result<Query<ErQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let query = crate::problem::query(query)?;
    let bad = |detail: String| Problem::new(StatusCode::BAD_REQUEST, detail);
    let scope = match (query.schema, query.table) {
        (Some(schema), Some(table)) => er::Scope::Around {
            schema,
            table,
            depth: query.depth.unwrap_or(1),
        },
        (Some(schema), None) => er::Scope::Schema(schema),
        (None, None) => er::Scope::All,
        (None, Some(_)) => return Err(bad("give the table's schema too".into())),
    };
    let graph = graph(&state, &id, &database).await?;
    let diagram = er::diagram(&graph, &scope).map_err(|e| match e {
        er::ErError::Depth => bad(e.to_string()),
        _ => Problem::new(StatusCode::NOT_FOUND, e.to_string()),
    })?;
    match query.format.as_deref() {
        None | Some("json") => Ok(Json(diagram).into_response()),
        Some("mermaid") => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            er::mermaid(&diagram),
        )
            .into_response()),
        Some(other) => Err(bad(format!("format {other:?}: use json or mermaid"))),
    }
}

/// Reads the page request from the query string: `limit`, `sort`, `desc`, `after`,
/// `count=exact`, and a filter per `f.<column>=<op>:<value>` (repeatable, combined with AND).
fn page_request(query: Option<&str>) -> Result<PageRequest, Problem> {
    let bad = |detail: String| Problem::new(StatusCode::BAD_REQUEST, detail);
    let mut request = PageRequest::default();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "limit" => {
                request.limit = value
                    .parse()
                    .map_err(|_| bad(format!("limit {value:?} is not a number")))?
            }
            "sort" => request.sort = Some(value.into_owned()),
            "desc" => request.descending = matches!(value.as_ref(), "" | "true" | "1"),
            "after" => request.after = Some(value.into_owned()),
            "count" if value == "exact" => request.exact_count = true,
            "count" if value == "estimate" => {}
            other => match other.strip_prefix("f.") {
                Some(column) => request
                    .filters
                    .push(Filter::parse(column, &value).map_err(|e| bad(e.to_string()))?),
                None => return Err(bad(format!("unknown query parameter {other:?}"))),
            },
        }
    }
    Ok(request)
}

/// A page of rows, in key order or sorted by a column, filtered by `f.<column>=<op>:<value>`
/// parameters (ops: eq, ne, in (a JSON array), lt, le, gt, ge, isNull, notNull, contains,
/// startsWith; combined with AND). Pass the page's `next` as `after` for the next page.
#[utoipa::path(get, path = "/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/rows",
    params(("id" = String, Path, description = "the dump"), ("database" = String, Path, description = "a sandbox database of the dump, as `databases` lists them"), ("schema" = String, Path), ("table" = String, Path),
        ("limit" = Option<u32>, Query, description = "rows per page, 1 to 1000 (100)"),
        ("sort" = Option<String>, Query, description = "a column to sort by first"),
        ("desc" = Option<bool>, Query, description = "descending"),
        ("after" = Option<String>, Query, description = "the previous page's next"),
        ("count" = Option<String>, Query, description = "exact: count the matching rows")),
    responses((status = 200, body = Page), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "the dump is not Ready")))]
pub(crate) async fn rows(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page>, Problem> {
    let request = page_request(query.as_deref())?;
    let (_, table, mut conn) = table_and_reader(&state, &path).await?;
    browse::page(&mut conn, &table, &request)
        .await
        .map(Json)
        .map_err(browse_problem)
}

/// A row's key from the query string, and the query's other parameters.
struct KeyQuery {
    /// (column, value) for each `k.<column>=<value>`.
    key: Vec<(String, String)>,
    other: HashMap<String, String>,
}

/// Reads a row named in the query string: `k.<column>=<value>` for each column of its key;
/// the other parameters must be among `allowed`.
fn row_key(query: Option<&str>, allowed: &[&str]) -> Result<KeyQuery, Problem> {
    let mut key = Vec::new();
    let mut other = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.strip_prefix("k.") {
            Some(column) => key.push((column.to_string(), value.into_owned())),
            None if allowed.contains(&name.as_ref()) => {
                other.insert(name.into_owned(), value.into_owned());
            }
            None => {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    format!("unknown query parameter {name:?}"),
                ));
            }
        }
    }
    Ok(KeyQuery { key, other })
}

/// The sandbox's read-only connection, the schema graph and the table of a request.
async fn table_and_reader(
    state: &AppState,
    (id, database, schema, table): &(String, String, String, String),
) -> Result<(Arc<SchemaGraph>, Table, PoolConnection<Postgres>), Problem> {
    let graph = graph(state, id, database).await?;
    let table = find_table(&graph, schema, table)?;
    Ok((graph, table, reader(state, id, database).await?))
}

/// The pool of dump `id`'s reader for `database`, one of its databases.
pub(crate) async fn reader_pool(
    state: &AppState,
    id: &str,
    database: &str,
) -> Result<PgPool, Problem> {
    let databases: Vec<String> = ready_databases(state, id)
        .await?
        .into_iter()
        .map(|d| d.sandbox)
        .collect();
    if !databases.iter().any(|d| d == database) {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("dump {id:?} has no database {database:?}"),
        ));
    }
    state.readers.pool(id, &databases, database).await
}

/// A read-only connection to `database` of dump `id`, as its reader.
pub(crate) async fn reader(
    state: &AppState,
    id: &str,
    database: &str,
) -> Result<PoolConnection<Postgres>, Problem> {
    reader_pool(state, id, database)
        .await?
        .acquire()
        .await
        .map_err(|e| Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
}

/// Explains one row, named by `k.<column>=<value>` for each column of its key: the rows that
/// reference it (counts and samples), the rows it references, what deleting it would do along
/// every ON DELETE chain, and the risk of that.
#[utoipa::path(get, path = "/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/relationships",
    params(("id" = String, Path, description = "the dump"), ("database" = String, Path, description = "a sandbox database of the dump, as `databases` lists them"), ("schema" = String, Path), ("table" = String, Path), ("samples" = Option<u32>, Query, description = "sample rows per reference, 0 to 20 (3)")),
    responses((status = 200, body = relations::Explanation), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "the dump is not Ready")))]
pub(crate) async fn relationships(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<relations::Explanation>, Problem> {
    let KeyQuery { key, other } = row_key(query.as_deref(), &["samples"])?;
    let samples = match other.get("samples") {
        Some(n) => n.parse().map_err(|_| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                format!("samples {n:?} is not a number"),
            )
        })?,
        None => 3,
    };
    let (graph, table, mut conn) = table_and_reader(&state, &path).await?;
    relations::explain(&mut conn, &graph, &table, &key, samples)
        .await
        .map(Json)
        .map_err(browse_problem)
}

/// The row a foreign key of a row (named by `k.<column>=<value>`) points at.
#[utoipa::path(get, path = "/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/follow",
    params(("id" = String, Path, description = "the dump"), ("database" = String, Path, description = "a sandbox database of the dump, as `databases` lists them"), ("schema" = String, Path), ("table" = String, Path), ("constraint" = String, Query, description = "the foreign key's name")),
    responses((status = 200, body = relations::Outbound), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "the dump is not Ready")))]
pub(crate) async fn follow(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<relations::Outbound>, Problem> {
    let KeyQuery { key, other } = row_key(query.as_deref(), &["constraint"])?;
    let constraint = other.get("constraint").ok_or_else(|| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "name the foreign key: constraint=NAME",
        )
    })?;
    let (graph, table, mut conn) = table_and_reader(&state, &path).await?;
    relations::follow(&mut conn, &graph, &table, &key, constraint)
        .await
        .map(Json)
        .map_err(browse_problem)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SuggestQuery {
    /// Only values starting with this (case does not matter).
    prefix: Option<String>,
    /// At most this many (1 to 100; 10 by default).
    limit: Option<usize>,
}

/// The most common values of a column, for filter suggestions.
#[utoipa::path(get, path = "/api/v1/dumps/{id}/databases/{database}/tables/{schema}/{table}/columns/{column}/suggestions",
    params(("id" = String, Path, description = "the dump"), ("database" = String, Path, description = "a sandbox database of the dump, as `databases` lists them"), ("schema" = String, Path), ("table" = String, Path), ("column" = String, Path), SuggestQuery),
    responses((status = 200, body = lens::suggest::Suggestions), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "the dump is not Ready")))]
pub(crate) async fn suggestions(
    State(state): State<AppState>,
    Path((id, database, schema, table, column)): Path<(String, String, String, String, String)>,
    query: Result<Query<SuggestQuery>, QueryRejection>,
) -> Result<Json<lens::suggest::Suggestions>, Problem> {
    let query = crate::problem::query(query)?;
    let (_, table, mut conn) = table_and_reader(&state, &(id, database, schema, table)).await?;
    let limit = query.limit.unwrap_or(10);
    lens::suggest::suggest(&mut conn, &table, &column, query.prefix.as_deref(), limit)
        .await
        .map(Json)
        .map_err(browse_problem)
}

/// How long one search may take.
const SEARCH_BUDGET: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// The text to find (case does not matter).
    q: String,
    /// Rows at the most, over all tables (1 to 500; 50 by default).
    limit: Option<usize>,
}

/// Searches the text-like columns of every table, for at most 5 seconds.
#[utoipa::path(get, path = "/api/v1/dumps/{id}/databases/{database}/search",
    params(("id" = String, Path), ("database" = String, Path), SearchQuery),
    responses((status = 200, body = lens::search::SearchResults), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "the dump is not Ready")))]
pub(crate) async fn search(
    State(state): State<AppState>,
    Path((id, database)): Path<(String, String)>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<lens::search::SearchResults>, Problem> {
    let query = crate::problem::query(query)?;
    let graph = graph(&state, &id, &database).await?;
    let mut conn = reader(&state, &id, &database).await?;
    let limit = query.limit.unwrap_or(50);
    lens::search::search(&mut conn, &graph, &query.q, limit, SEARCH_BUDGET)
        .await
        .map(Json)
        .map_err(browse_problem)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ConsoleRequest {
    /// One statement (a query).
    sql: String,
    #[serde(default)]
    explain: lens::console::Explain,
    /// Rows at the most (1 to 10,000; 1,000 by default).
    max_rows: Option<usize>,
}

/// Runs one read-only statement as the sandbox's reader (which can read nothing else), in a
/// read-only transaction with a 10 s statement timeout; or returns its plan.
#[utoipa::path(post, path = "/api/v1/dumps/{id}/databases/{database}/sql",
    params(("id" = String, Path), ("database" = String, Path)), request_body = ConsoleRequest,
    responses((status = 200, body = lens::console::ConsoleResult), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "the dump is not Ready")))]
pub(crate) async fn console(
    State(state): State<AppState>,
    Path((id, database)): Path<(String, String)>,
    body: Result<Json<ConsoleRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<lens::console::ConsoleResult>, Problem> {
    let Json(request) = body.map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    graph(&state, &id, &database).await?;
    let mut conn = reader(&state, &id, &database).await?;
    let max_rows = request.max_rows.unwrap_or(1000);
    lens::console::run(&mut conn, &request.sql, request.explain, max_rows)
        .await
        .map(Json)
        .map_err(browse_problem)
}

/// A request PostgreSQL refused (a value of the wrong type, a statement cut by its timeout)
/// is the caller's to fix; a connection that failed is ours.
fn browse_problem(err: BrowseError) -> Problem {
    match err {
        BrowseError::BadRequest(detail) => Problem::new(StatusCode::BAD_REQUEST, detail),
        BrowseError::NotFound(detail) => Problem::new(StatusCode::NOT_FOUND, detail),
        BrowseError::Database(sqlx::Error::Database(db)) => {
            let status = if db.code().as_deref() == Some("57014") {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::BAD_REQUEST
            };
            Problem::new(status, db.message().to_string())
        }
        BrowseError::Database(other) => {
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, other.to_string())
        }
    }
}
