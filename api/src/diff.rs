//! Comparing two restored databases (of one dump or of two): the schema diff, a per-table
//! summary of row changes, and the row changes of one table. A request that is dropped (the
//! client went away) drops its queries with it.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use lens::diff::{DataDiffOptions, DiffError, Fingerprint, SchemaDiff, TableDataDiff};
use serde::{Deserialize, Serialize};

use crate::Problem;
use crate::read::{find_table, graph};
use crate::routes::AppState;

const BASE: &str = "/api/v1/dumps/{id}/databases/{database}/diff/{other}/{other_database}";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{BASE}/schema"), get(schema))
        .route(&format!("{BASE}/data"), get(data))
        .route(
            &format!("{BASE}/tables/{{schema}}/{{table}}/rows"),
            get(table_rows),
        )
}

/// How long one comparison query may run: a pass over a large table takes longer than the
/// read API's 10 s.
const DIFF_STATEMENT_TIMEOUT: &str = "10min";

/// A read-only transaction on `database` whose statements may run for
/// [`DIFF_STATEMENT_TIMEOUT`]; rolled back when dropped, so the pooled connection keeps its
/// usual timeout.
async fn comparing(
    state: &AppState,
    id: &str,
    database: &str,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, Problem> {
    let unavailable = |e: sqlx::Error| Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    let mut tx = crate::read::reader_pool(state, id, database)
        .await?
        .begin()
        .await
        .map_err(unavailable)?;
    sqlx::query(&format!(
        "SET LOCAL statement_timeout = '{DIFF_STATEMENT_TIMEOUT}'"
    ))
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    Ok(tx)
}

/// (dump, database, other dump, other database)
type Pair = (String, String, String, String);

/// The fingerprints of `table` taken after the restores of A and B, each given as (dump,
/// database); either is `None` while it has not been taken.
async fn fingerprints(
    state: &AppState,
    a: (&str, &str),
    b: (&str, &str),
    table: &lens::schema::Table,
) -> Result<(Option<Fingerprint>, Option<Fingerprint>), Problem> {
    let stored = |(id, database)| {
        state
            .store
            .fingerprint(id, database, &table.schema, &table.name)
    };
    let (a, b) = tokio::join!(stored(a), stored(b));
    Ok((
        a.map_err(crate::catalog::store_problem)?,
        b.map_err(crate::catalog::store_problem)?,
    ))
}

/// A comparison query PostgreSQL refused (cut by its timeout, or failed in a function the
/// dump defines) is about the data: 422; a connection that failed is ours: 503.
fn diff_problem(err: DiffError) -> Problem {
    match err {
        DiffError::Database(sqlx::Error::Database(db)) => {
            let what = if db.code().as_deref() == Some("57014") {
                "a comparison query ran out of time"
            } else {
                "a comparison query failed"
            };
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{what}: {}", db.message()),
            )
        }
        err => Problem::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SchemaQuery {
    /// `json` (default) or `sql`: the migration script that turns A into B.
    format: Option<String>,
}

/// What differs between the schemas of A (`{id}`/`{database}`) and B
/// (`{other}`/`{other_database}`): every object kind, renames, and the SQL of each change; or,
/// with `format=sql`, one script that turns A into B.
#[utoipa::path(get, operation_id = "schema_diff", path = "/api/v1/dumps/{id}/databases/{database}/diff/{other}/{other_database}/schema",
    params(("id" = String, Path, description = "dump A"), ("database" = String, Path, description = "a database of A"),
        ("other" = String, Path, description = "dump B"), ("other_database" = String, Path, description = "a database of B"), SchemaQuery),
    responses(
        (status = 200, description = "the differences, or the script with format=sql",
            content((SchemaDiff = "application/json"), (String = "text/plain"))),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
    ))]
pub(crate) async fn schema(
    State(state): State<AppState>,
    Path((id, database, other, other_database)): Path<Pair>,
    query: Result<Query<SchemaQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let query = crate::problem::query(query)?;
    let a = graph(&state, &id, &database).await?;
    let b = graph(&state, &other, &other_database).await?;
    let diff = lens::diff::schema_diff(&a, &b);
    match query.format.as_deref() {
        None | Some("json") => Ok(Json(diff).into_response()),
        Some("sql") => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            diff.script(),
        )
            .into_response()),
        Some(other) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            format!("format is json or sql, not {other:?}"),
        )),
    }
}

/// Row changes of every table both databases have, and the tables only one has.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DataSummary {
    pub tables: Vec<TableSummary>,
    /// `schema.table` of tables only A or only B has (their rows are all removed or added).
    pub tables_only_in_a: Vec<String>,
    pub tables_only_in_b: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TableSummary {
    pub schema: String,
    pub table: String,
    pub key: Vec<String>,
    pub rows_in_a: i64,
    pub rows_in_b: i64,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    /// False when the table has more differences than `max` and its counts are lower bounds.
    pub complete: bool,
    pub columns_only_in_a: Vec<String>,
    pub columns_only_in_b: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DataQuery {
    /// Differences counted per table at most (1 to 100,000; 10,000 by default).
    max: Option<usize>,
    /// Only these tables (`schema.table`, comma-separated), e.g. one at a time to show progress.
    tables: Option<String>,
}

/// Exact row changes of every table both databases have (partitioned parents, whose rows are
/// their partitions', are left out).
#[utoipa::path(get, operation_id = "data_diff", path = "/api/v1/dumps/{id}/databases/{database}/diff/{other}/{other_database}/data",
    params(("id" = String, Path, description = "dump A"), ("database" = String, Path, description = "a database of A"),
        ("other" = String, Path, description = "dump B"), ("other_database" = String, Path, description = "a database of B"), DataQuery),
    responses((status = 200, body = DataSummary), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub(crate) async fn data(
    State(state): State<AppState>,
    Path((id, database, other, other_database)): Path<Pair>,
    query: Result<Query<DataQuery>, QueryRejection>,
) -> Result<Json<DataSummary>, Problem> {
    let query = crate::problem::query(query)?;
    let max = bounded(query.max, 10_000, 100_000, "max")?;
    let a = graph(&state, &id, &database).await?;
    let b = graph(&state, &other, &other_database).await?;
    let (mut conn_a, mut conn_b) = (
        comparing(&state, &id, &database).await?,
        comparing(&state, &other, &other_database).await?,
    );
    let options = DataDiffOptions {
        max_differences: max,
        ..DataDiffOptions::default()
    };
    let name = |t: &lens::schema::Table| format!("{}.{}", t.schema, t.name);
    let mut summary = DataSummary {
        tables: Vec::new(),
        tables_only_in_a: a
            .tables
            .iter()
            .filter(|t| b.table(&t.schema, &t.name).is_none())
            .map(name)
            .collect(),
        tables_only_in_b: b
            .tables
            .iter()
            .filter(|t| a.table(&t.schema, &t.name).is_none())
            .map(name)
            .collect(),
    };
    let wanted: Option<Vec<&str>> = query.tables.as_deref().map(|t| t.split(',').collect());
    if let Some(wanted) = &wanted
        && let Some(unknown) = wanted
            .iter()
            .find(|w| !a.tables.iter().any(|t| name(t) == **w))
    {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("A has no table {unknown:?}"),
        ));
    }
    let chosen = |t: &&lens::schema::Table| {
        t.kind != "partitioned"
            && wanted
                .as_ref()
                .is_none_or(|w| w.contains(&name(t).as_str()))
    };
    for table_a in a.tables.iter().filter(chosen) {
        let Some(table_b) = b.table(&table_a.schema, &table_a.name) else {
            continue;
        };
        let (fingerprint_a, fingerprint_b) =
            fingerprints(&state, (&id, &database), (&other, &other_database), table_a).await?;
        let diff = lens::diff::table_data_diff(
            &mut conn_a,
            table_a,
            &mut conn_b,
            table_b,
            (fingerprint_a.as_ref(), fingerprint_b.as_ref()),
            &options,
        )
        .await
        .map_err(diff_problem)?;
        summary.tables.push(TableSummary {
            schema: diff.schema,
            table: diff.table,
            key: diff.key,
            rows_in_a: diff.rows_in_a,
            rows_in_b: diff.rows_in_b,
            added: diff.added,
            removed: diff.removed,
            changed: diff.changed,
            complete: diff.complete,
            columns_only_in_a: diff.columns_only_in_a,
            columns_only_in_b: diff.columns_only_in_b,
        });
    }
    Ok(Json(summary))
}

fn bounded(value: Option<usize>, default: usize, max: usize, name: &str) -> Result<usize, Problem> {
    match value.unwrap_or(default) {
        n if (1..=max).contains(&n) => Ok(n),
        n => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            format!("{name} must be 1 to {max}, not {n}"),
        )),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RowsQuery {
    /// Changes to skip (paging; 0 by default).
    offset: Option<usize>,
    /// Changes per page (1 to 1,000; 100 by default).
    limit: Option<usize>,
}

/// The changed rows of one table, in key order, a page at a time: added, removed, and changed
/// rows with the columns that changed and both versions.
#[utoipa::path(get, operation_id = "table_row_changes", path = "/api/v1/dumps/{id}/databases/{database}/diff/{other}/{other_database}/tables/{schema}/{table}/rows",
    params(("id" = String, Path, description = "dump A"), ("database" = String, Path, description = "a database of A"),
        ("other" = String, Path, description = "dump B"), ("other_database" = String, Path, description = "a database of B"),
        ("schema" = String, Path), ("table" = String, Path), RowsQuery),
    responses((status = 200, body = TableDataDiff), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub(crate) async fn table_rows(
    State(state): State<AppState>,
    Path((id, database, other, other_database, schema, table)): Path<(
        String,
        String,
        String,
        String,
        String,
        String,
    )>,
    query: Result<Query<RowsQuery>, QueryRejection>,
) -> Result<Json<TableDataDiff>, Problem> {
    let query = crate::problem::query(query)?;
    let offset = query.offset.unwrap_or(0);
    if offset > 1_000_000 {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "offset must be at most 1,000,000",
        ));
    }
    let limit = bounded(query.limit, 100, 1000, "limit")?;
    let a = graph(&state, &id, &database).await?;
    let b = graph(&state, &other, &other_database).await?;
    let (table_a, table_b) = (
        find_table(&a, &schema, &table)?,
        find_table(&b, &schema, &table)?,
    );
    let (mut conn_a, mut conn_b) = (
        comparing(&state, &id, &database).await?,
        comparing(&state, &other, &other_database).await?,
    );
    // Differences past this page are not looked for.
    let options = DataDiffOptions {
        max_differences: offset + limit,
        ..DataDiffOptions::default()
    };
    let (fingerprint_a, fingerprint_b) = fingerprints(
        &state,
        (&id, &database),
        (&other, &other_database),
        &table_a,
    )
    .await?;
    let mut diff = lens::diff::table_data_diff(
        &mut conn_a,
        &table_a,
        &mut conn_b,
        &table_b,
        (fingerprint_a.as_ref(), fingerprint_b.as_ref()),
        &options,
    )
    .await
    .map_err(diff_problem)?;
    diff.changes = diff.changes.into_iter().skip(offset).take(limit).collect();
    Ok(Json(diff))
}
