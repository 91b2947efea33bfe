//! Who may call the API. Open on loopback in standalone mode unless tokens are configured;
//! otherwise every `/api/v1` request needs an API token (`Authorization: Bearer`) or, when an
//! authenticating proxy is trusted, the header it sets. On Kubernetes a Private dump's data
//! needs its share token (`X-Share-Token`), with or without an API token; the share token alone
//! opens that one dump for reading and nothing else. A dump id alone grants nothing.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Problem;
use crate::catalog::{Catalog, Visibility};
use crate::routes::AppState;

/// The hex SHA-256 of a token (API or share), as kept in place of the token.
pub(crate) fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// The header that carries a dump's share token.
pub const SHARE_TOKEN_HEADER: &str = "x-share-token";

#[derive(Clone, Debug, Default)]
pub struct Access {
    /// SHA-256 (hex) of each API token; `None` when the API is open.
    tokens: Option<Arc<RwLock<HashSet<String>>>>,
    /// A header an authenticating proxy in front of the API sets to the user's name.
    proxy_header: Option<HeaderName>,
}

impl Access {
    /// No authentication: standalone on a loopback address.
    pub fn open() -> Self {
        Self::default()
    }

    /// API tokens (replaceable later with [`Access::set_tokens`]) and/or a trusted proxy header.
    pub fn required(tokens: Vec<String>, proxy_header: Option<HeaderName>) -> Self {
        let access = Self {
            tokens: Some(Arc::default()),
            proxy_header,
        };
        access.set_tokens(tokens);
        access
    }

    pub fn is_open(&self) -> bool {
        self.tokens.is_none()
    }

    /// Replaces the API tokens (a rotated Secret takes effect without a restart).
    pub fn set_tokens(&self, tokens: Vec<String>) {
        if let Some(kept) = &self.tokens {
            let hashes = tokens
                .iter()
                .map(|t| t.trim())
                .filter(|t| !t.is_empty())
                .map(token_hash)
                .collect();
            *kept.write().expect("not poisoned") = hashes;
        }
    }

    /// Whether the request comes from an API caller: a known bearer token, or the trusted
    /// proxy's header.
    fn is_api_caller(&self, headers: &HeaderMap) -> bool {
        if let Some(name) = &self.proxy_header
            && headers
                .get(name)
                .is_some_and(|v| !v.as_bytes().trim_ascii().is_empty())
        {
            return true;
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match (bearer, &self.tokens) {
            // Hashes are compared, so the comparison's timing says nothing about a token.
            (Some(token), Some(tokens)) => tokens
                .read()
                .expect("not poisoned")
                .contains(&token_hash(token)),
            _ => false,
        }
    }
}

/// `/api/v1/dumps/{id}` and what follows it, for a path under it; the id decoded as the
/// router decodes it (`%61bc` is `abc`).
fn dump_path(path: &str) -> Option<(String, &str)> {
    let rest = path.strip_prefix("/api/v1/dumps/")?;
    let (id, below) = rest.split_once('/').unwrap_or((rest, ""));
    let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
    Some((id.into_owned(), below))
}

/// The other dump of a diff path below a dump (`databases/DB/diff/OTHER/...`), decoded.
fn diff_other(below: &str) -> Option<String> {
    let mut parts = below.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("databases"), Some(_), Some("diff"), Some(other)) => Some(
            percent_encoding::percent_decode_str(other)
                .decode_utf8_lossy()
                .into_owned(),
        ),
        _ => None,
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut response = Problem::new(StatusCode::UNAUTHORIZED, detail).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"dumplens\""),
    );
    response
}

/// The middleware that applies [`Access`] to every request.
pub(crate) async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let public = !path.starts_with("/api/v1/")
        || path == "/api/v1/version"
        || path == "/api/v1/openapi.json";
    if public || state.access.is_open() {
        return next.run(request).await;
    }
    let headers = request.headers();
    let api_caller = state.access.is_api_caller(headers);
    if let (Catalog::Kubernetes(dumps), Some((id, below))) = (&state.catalog, dump_path(path)) {
        let reads = request.method() == Method::GET
            || request.method() == Method::HEAD
            // The console runs read-only transactions as the dump's reader role.
            || (request.method() == Method::POST && below.ends_with("/sql"));
        // Several share tokens, comma-separated: a diff reads two dumps.
        let share_tokens: Vec<&str> = headers
            .get(SHARE_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').map(str::trim).collect())
            .unwrap_or_default();
        let shared = |id: &str| share_tokens.iter().any(|t| dumps.is_share_token(id, t));
        let private = |id: &str| {
            dumps
                .get(id)
                .is_some_and(|d| d.visibility == Some(Visibility::Private))
        };
        let data = below == "databases" || below.starts_with("databases/");
        // The dumps whose data the request reads: this one, and the other side of a diff.
        let mut read = vec![id];
        read.extend(diff_other(below));
        if reads
            && read
                .iter()
                .all(|id| shared(id) || (api_caller && !private(id)))
        {
            return next.run(request).await;
        }
        if api_caller && data {
            if let Some(id) = read.iter().find(|id| private(id) && !shared(id)) {
                return Problem::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "dump {id:?} is Private: send its share token in the X-Share-Token header"
                    ),
                )
                .into_response();
            }
        }
        if !api_caller && read.iter().any(|id| shared(id)) {
            // A share token opens its own dump for reading, not another or anything else.
            return unauthorized("a share token opens only its own dump, for reading");
        }
    }
    if api_caller {
        next.run(request).await
    } else {
        unauthorized("send an API token: Authorization: Bearer TOKEN")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn api_callers_have_a_known_token_or_the_trusted_header() {
        let access = Access::required(
            vec!["s3cret\n".into(), "  ".into()],
            Some("x-forwarded-user".parse().unwrap()),
        );
        assert!(access.is_api_caller(&headers(&[("authorization", "Bearer s3cret")])));
        assert!(!access.is_api_caller(&headers(&[("authorization", "Bearer s3cre")])));
        assert!(!access.is_api_caller(&headers(&[("authorization", "Bearer ")])));
        assert!(!access.is_api_caller(&headers(&[("authorization", "Basic s3cret")])));
        assert!(access.is_api_caller(&headers(&[("x-forwarded-user", "ann")])));
        assert!(!access.is_api_caller(&headers(&[("x-forwarded-user", " ")])));
        assert!(!access.is_api_caller(&headers(&[])));
        access.set_tokens(vec!["new".into()]);
        assert!(!access.is_api_caller(&headers(&[("authorization", "Bearer s3cret")])));
        assert!(access.is_api_caller(&headers(&[("authorization", "Bearer new")])));
    }

    #[test]
    fn without_a_proxy_header_configured_the_header_means_nothing() {
        let access = Access::required(vec!["t".into()], None);
        assert!(!access.is_api_caller(&headers(&[("x-forwarded-user", "ann")])));
    }

    #[test]
    fn dump_paths_split_into_id_and_below() {
        assert_eq!(dump_path("/api/v1/dumps/abc"), Some(("abc".into(), "")));
        assert_eq!(
            dump_path("/api/v1/dumps/%61bc/databases/x/schema"),
            Some(("abc".into(), "databases/x/schema"))
        );
        assert_eq!(dump_path("/api/v1/dumps"), None);
        assert_eq!(
            diff_other("databases/dl_a/diff/%62b/dl_b/schema"),
            Some("bb".into())
        );
        assert_eq!(diff_other("databases/dl_a/schema"), None);
        assert_eq!(dump_path("/api/v1/uploads/abc"), None);
    }
}
