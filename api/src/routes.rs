//! The router and the endpoints that describe the server itself.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use lens::store::Store;
use serde::Serialize;
use sqlx::PgPool;

use crate::Problem;
use crate::catalog::{Catalog, Created, DumpInfo, NewDump};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The server that holds the metadata and the sandboxes.
    pub pool: PgPool,
    /// The dumps this server serves.
    pub(crate) catalog: Catalog,
    /// The metadata store: schema graphs and fingerprints of restored databases, readers'
    /// passwords.
    pub store: Store,
    /// Who may call the API.
    pub access: crate::access::Access,
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
        .route("/healthz", get(healthz))
        .route("/api/v1/version", get(version))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/dumps", get(list_dumps).post(create_dump))
        .route("/api/v1/dumps/{id}", get(get_dump).delete(delete_dump))
        .route("/api/v1/dumps/{id}/share-token", post(renew_share_token))
        .route("/api/v1/uploads", post(crate::uploads::create))
        .route(
            "/api/v1/uploads/{id}",
            get(crate::uploads::status).put(crate::uploads::put),
        )
        .merge(crate::read::routes())
        .merge(crate::diff::routes())
        .fallback(crate::web::serve)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::access::check,
        ))
        .with_state(state)
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

/// Every dump, newest first.
#[utoipa::path(get, path = "/api/v1/dumps", responses(
    (status = 200, body = Vec<DumpInfo>), (status = 503, body = Problem),
))]
pub(crate) async fn list_dumps(
    State(state): State<AppState>,
) -> Result<Json<Vec<DumpInfo>>, Problem> {
    state.catalog.list().await.map(Json)
}

/// Creates a dump the server downloads from an http(s) URL or an S3 object (standalone: the
/// server fetches it, with S3 credentials from its environment; on Kubernetes: a `Dump` whose
/// restore Job fetches it).
#[utoipa::path(post, path = "/api/v1/dumps", request_body = NewDump, responses(
    (status = 201, body = Created), (status = 400, body = Problem), (status = 401, body = Problem),
    (status = 503, body = Problem),
))]
pub(crate) async fn create_dump(
    State(state): State<AppState>,
    body: Result<Json<NewDump>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Created>), Problem> {
    let Json(request) = body.map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let created = state.catalog.add_remote(request).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One dump.
#[utoipa::path(get, path = "/api/v1/dumps/{id}", params(("id" = String, Path)), responses(
    (status = 200, body = DumpInfo), (status = 404, body = Problem),
))]
pub(crate) async fn get_dump(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DumpInfo>, Problem> {
    state.catalog.get(&id).await.map(Json)
}

/// Deletes a dump that is not being restored: its sandbox, its record, and its file when it
/// was an upload or a download.
#[utoipa::path(delete, path = "/api/v1/dumps/{id}", params(("id" = String, Path)), responses(
    (status = 204, description = "deleted"), (status = 404, body = Problem),
    (status = 409, body = Problem),
))]
pub(crate) async fn delete_dump(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let dump = state.catalog.delete(&id).await?;
    state.readers.forget(&id, &dump).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShareToken {
    share_token: String,
}

/// A new share token for a Private dump on Kubernetes (the previous one stops working): for
/// Dumps made with `kubectl`, or when a token has leaked.
#[utoipa::path(post, path = "/api/v1/dumps/{id}/share-token", params(("id" = String, Path)), responses(
    (status = 200, body = ShareToken), (status = 404, body = Problem),
    (status = 409, body = Problem),
))]
pub(crate) async fn renew_share_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ShareToken>, Problem> {
    match &state.catalog {
        Catalog::Kubernetes(dumps) => Ok(Json(ShareToken {
            share_token: dumps.renew_share_token(&id).await?,
        })),
        Catalog::Standalone(_) => Err(Problem::new(
            StatusCode::CONFLICT,
            "share tokens are for Private dumps on Kubernetes; this server has none",
        )),
    }
}
