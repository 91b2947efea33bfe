//! The web UI: the single-page app built from `web/`, embedded in the binary and served at
//! every path outside the API.

use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "$DUMPLENS_WEB_DIST"]
struct Assets;

/// A file of the app, or the app's page for any other path (the app routes on the client);
/// unknown paths under the API stay the API's 404.
pub(crate) async fn serve(uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") {
        return crate::problem::not_found(uri).await.into_response();
    }
    let file = path.trim_start_matches('/');
    if let Some(asset) = Assets::get(file).filter(|_| !file.is_empty()) {
        // Vite names the files under assets/ by their content hash: they never change.
        let cache = if file.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (header::CONTENT_TYPE, asset.metadata.mimetype().to_string()),
                (header::CACHE_CONTROL, cache.to_string()),
            ],
            asset.data,
        )
            .into_response();
    }
    match Assets::get("index.html") {
        Some(page) => (
            [(header::CACHE_CONTROL, "no-cache")],
            Html(page.data),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html(
                "<h1>PgDumpLens</h1><p>This binary was built without the web UI. Build it with \
                 <code>./dev setup</code> (which runs <code>npm run build</code> in \
                 <code>web/</code>) and rebuild; the API is at <a href=\"/api/v1/dumps\">/api/v1</a>.</p>",
            ),
        )
            .into_response(),
    }
}
