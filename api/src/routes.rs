//! The router and the endpoints that describe the server itself.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use lens::store::{DumpRecord, Store};
use serde::Serialize;
use sqlx::PgPool;

use crate::Problem;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The server that holds the metadata and the sandboxes.
    pub pool: PgPool,
    /// The dumps this server knows.
    pub store: Store,
    /// Drives the dumps' lifecycle (restores, deletion).
    pub(crate) worker: crate::standalone::Worker,
    /// Where uploaded files go.
    pub uploads: crate::uploads::Uploads,
    /// Read-only connections to the sandboxes.
    pub readers: crate::read::Readers,
    /// `server_version` of that server.
    pub postgres_version: String,
    /// Whether PgDumpLens runs that server itself (rather than `--database-url`).
    pub managed_postgres: bool,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/api/v1/version", get(version))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/dumps", get(list_dumps))
        .route("/api/v1/dumps/{id}", get(get_dump).delete(delete_dump))
        .route("/api/v1/uploads", post(crate::uploads::create))
        .route(
            "/api/v1/uploads/{id}",
            get(crate::uploads::status).put(crate::uploads::put),
        )
        .merge(crate::read::routes())
        .fallback(crate::problem::not_found)
        .with_state(state)
}

/// Until the web UI is served here (issue 8), the root says where the API is.
async fn index() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "name": "PgDumpLens",
        "version": env!("CARGO_PKG_VERSION"),
        "links": {
            "dumps": "/api/v1/dumps",
            "version": "/api/v1/version",
            "health": "/healthz",
        },
    }))
}

/// The OpenAPI 3.1 document of this API, generated from the code.
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    status: &'static str,
}

/// Healthy when the PostgreSQL server answers within a second.
#[utoipa::path(get, path = "/healthz", responses(
    (status = 200, body = Health), (status = 503, body = Problem),
))]
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, Problem> {
    let ping = sqlx::query("SELECT 1").execute(&state.pool);
    match tokio::time::timeout(Duration::from_secs(1), ping).await {
        Ok(Ok(_)) => Ok(Json(Health { status: "ok" })),
        Ok(Err(err)) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("PostgreSQL does not answer: {err}"),
        )),
        Err(_) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "PostgreSQL did not answer within 1 s",
        )),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Version {
    version: &'static str,
    postgres: PostgresInUse,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PostgresInUse {
    version: String,
    managed: bool,
}

/// This server's version and the PostgreSQL it uses.
#[utoipa::path(get, path = "/api/v1/version", responses((status = 200, body = Version)))]
pub(crate) async fn version(State(state): State<AppState>) -> Json<Version> {
    Json(Version {
        version: env!("CARGO_PKG_VERSION"),
        postgres: PostgresInUse {
            version: state.postgres_version.clone(),
            managed: state.managed_postgres,
        },
    })
}

pub(crate) fn store_problem(err: lens::store::StoreError) -> Problem {
    tracing::error!(%err, "metadata store");
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string())
}

/// Every dump, newest first.
#[utoipa::path(get, path = "/api/v1/dumps", responses(
    (status = 200, body = Vec<DumpRecord>), (status = 503, body = Problem),
))]
pub(crate) async fn list_dumps(
    State(state): State<AppState>,
) -> Result<Json<Vec<DumpRecord>>, Problem> {
    state.store.list().await.map(Json).map_err(store_problem)
}

/// One dump.
#[utoipa::path(get, path = "/api/v1/dumps/{id}", params(("id" = String, Path)), responses(
    (status = 200, body = DumpRecord), (status = 404, body = Problem),
))]
pub(crate) async fn get_dump(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DumpRecord>, Problem> {
    dump_record(&state, &id).await.map(Json)
}

/// Deletes a dump that is not being restored: its sandbox, its record, and its file when it
/// was an upload.
#[utoipa::path(delete, path = "/api/v1/dumps/{id}", params(("id" = String, Path)), responses(
    (status = 204, description = "deleted"), (status = 404, body = Problem), (status = 409, body = Problem),
))]
pub(crate) async fn delete_dump(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    match state.worker.delete(&id).await {
        Ok(Some(record)) => {
            state.readers.forget(&id, &record).await;
            Ok(StatusCode::NO_CONTENT)
        }
        Ok(None) => Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("there is no dump {id:?}"),
        )),
        Err(err @ crate::standalone::WorkerError::Busy(_)) => {
            Err(Problem::new(StatusCode::CONFLICT, err.to_string()))
        }
        Err(err) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            err.to_string(),
        )),
    }
}

/// The record of dump `id`, or a 404 naming it.
pub(crate) async fn dump_record(state: &AppState, id: &str) -> Result<DumpRecord, Problem> {
    match state.store.get(id).await.map_err(store_problem)? {
        Some(record) => Ok(record),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("there is no dump {id:?}"),
        )),
    }
}
