//! The OpenAPI 3.1 document, generated from the handlers' annotations and the types they
//! return (never written by hand); served at `/api/v1/openapi.json`.

use utoipa::OpenApi;

use crate::{diff, read, routes, uploads};

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
        diff::schema,
        diff::data,
        diff::table_rows,
    )
)]
struct ApiDoc;

/// The document, with this build's version. Error responses are problem documents, so their
/// content type is `application/problem+json`. Every `/api/v1` operation but the version and
/// this document may answer 401 (when tokens are configured: Kubernetes, or serve
/// --token-file), and reads of a dump's databases 403 (a Private dump without its share token).
pub fn document() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{
        ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
    };
    let mut document = ApiDoc::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").into();
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "apiToken",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components.add_security_scheme(
        "shareToken",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Share-Token"))),
    );
    let problem = |description: &str| {
        utoipa::openapi::ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    };
    for (path, item) in document.paths.paths.iter_mut() {
        let guarded = path.starts_with("/api/v1/")
            && path != "/api/v1/version"
            && path != "/api/v1/openapi.json";
        let dump_data = path.starts_with("/api/v1/dumps/{id}/databases");
        let operations = [
            (&mut item.get, true),
            (&mut item.post, path.ends_with("/sql")),
            (&mut item.put, false),
            (&mut item.delete, false),
        ];
        for (operation, reads) in operations {
            let Some(operation) = operation else { continue };
            let responses = &mut operation.responses.responses;
            if guarded {
                let api_token = SecurityRequirement::new("apiToken", Vec::<String>::new());
                let mut security = vec![api_token];
                if reads && path.starts_with("/api/v1/dumps/{id}") {
                    security.push(SecurityRequirement::new("shareToken", Vec::<String>::new()));
                }
                operation.security = Some(security);
                responses
                    .entry("401".into())
                    .or_insert_with(|| problem("no API token, or not a known one").into());
            }
            if dump_data {
                responses.entry("403".into()).or_insert_with(|| {
                    problem("a Private dump read without its share token").into()
                });
            }
            for (status, response) in responses.iter_mut() {
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn every_operation_has_its_own_id() {
        // Generated clients (the web UI's among them) key operations by id: a repeated one
        // silently gives one endpoint the other's parameters.
        let document = serde_json::to_value(super::document()).unwrap();
        let mut seen = HashSet::new();
        for item in document["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                if let Some(id) = operation["operationId"].as_str() {
                    assert!(
                        seen.insert(id.to_string()),
                        "operationId {id:?} is repeated"
                    );
                }
            }
        }
        assert!(seen.len() > 15, "only {} operations", seen.len());
    }

    #[test]
    fn the_web_ui_is_typed_against_this_document() {
        let copy = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/openapi.json");
        let committed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(copy).unwrap()).unwrap();
        let current = serde_json::to_value(super::document()).unwrap();
        assert!(
            committed == current,
            "web/openapi.json is out of date: run `cargo run -q -- openapi > web/openapi.json`"
        );
    }
}
