//! The OpenAPI 3.1 document, generated from the handlers' annotations and the types they
//! return (never written by hand); served at `/api/v1/openapi.json`.

use utoipa::OpenApi;

use crate::{read, routes, uploads};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PgDumpLens",
        description = "Restored PostgreSQL dumps: schema, rows, relationships."
    ),
    paths(
        routes::healthz,
        routes::version,
        routes::list_dumps,
        routes::create_dump,
        routes::get_dump,
        routes::delete_dump,
        routes::renew_share_token,
        uploads::create,
        uploads::status,
        uploads::put,
        read::databases,
        read::schema,
        read::er_diagram,
        read::rows,
        read::relationships,
        read::follow,
        read::suggestions,
        read::search,
        read::console,
    )
)]
struct ApiDoc;

/// The document, with this build's version. Error responses are problem documents, so their
/// content type is `application/problem+json`.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").into();
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in operation.responses.responses.iter_mut() {
                let utoipa::openapi::RefOr::T(response) = response else {
                    continue;
                };
                if status.starts_with('4') || status.starts_with('5') {
                    if let Some(json) = response.content.shift_remove("application/json") {
                        response
                            .content
                            .insert("application/problem+json".into(), json);
                    }
                }
            }
        }
    }
    document
}
