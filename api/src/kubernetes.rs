//! `dumplens api`: the API over `Dump` resources. Dumps are read from a cache the watch keeps
//! (every request asks which dump an id is; the API server is asked once per change, not per
//! request); uploads and url/s3 sources become Dumps in the api's own namespace, where the
//! uploads volume is.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use crds::{Dump, DumpSource, DumpSpec, SHARE_TOKEN_ANNOTATION};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use lens::fetch::RemoteSource;
use lens::lifecycle::Phase;
use lens::store::StoredPhase;

use crate::Problem;
use crate::access::token_hash;
use crate::catalog::{Created, Database, DumpInfo, Visibility, not_found, parse_ttl};

/// The Dumps of the cluster, as the watch last saw them.
#[derive(Clone)]
pub struct Dumps {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// Where the api creates Dumps.
    namespace: String,
    cache: Store<Dump>,
}

impl std::fmt::Debug for Dumps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dumps")
            .field("namespace", &self.inner.namespace)
            .finish_non_exhaustive()
    }
}

/// A share token: 256 random bits, hex.
pub fn new_share_token() -> String {
    lens::sandbox::random_hex(32)
}

fn kube_problem(err: kube::Error) -> Problem {
    match &err {
        kube::Error::Api(status) if status.code == 404 => {
            Problem::new(StatusCode::NOT_FOUND, status.message.clone())
        }
        kube::Error::Api(status) if (400..500).contains(&status.code) => Problem::new(
            StatusCode::from_u16(status.code).unwrap_or(StatusCode::BAD_REQUEST),
            format!("the Kubernetes API refused: {}", status.message),
        ),
        _ => {
            tracing::error!(%err, "Kubernetes API");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the Kubernetes API: {err}"),
            )
        }
    }
}

/// A url or s3 source as a Dump's `spec.source`. S3 credentials are not taken through the
/// API: a Secret reference would let any API caller send this namespace's Secrets' keys to a
/// store of their choosing. Credentialed buckets are for `kubectl apply`.
pub(crate) fn remote_source(source: RemoteSource) -> Result<DumpSource, Problem> {
    Ok(match source {
        RemoteSource::Url(object) => DumpSource {
            url: Some(crds::UrlSource {
                url: object.url,
                sha256: object.sha256,
            }),
            ..Default::default()
        },
        RemoteSource::S3(object) => DumpSource {
            s3: Some(crds::S3Source {
                bucket: object.bucket,
                key: object.key,
                endpoint: object.endpoint,
                region: object.region,
                sha256: object.sha256,
                credentials_secret_ref: None,
            }),
            ..Default::default()
        },
    })
}

/// A Dump's name made from a file name: a DNS label prefix for `generateName`.
fn name_prefix(name: &str) -> String {
    let mut prefix = String::new();
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (prefix.is_empty() || prefix.ends_with('-'))) {
            prefix.push(c);
        }
        if prefix.len() >= 40 {
            break;
        }
    }
    let prefix = prefix.trim_end_matches('-');
    if prefix.is_empty() {
        "dump-".to_string()
    } else {
        format!("{prefix}-")
    }
}

fn chrono_time(
    time: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.0.as_second(), time.0.subsec_nanosecond().max(0) as u32)
}

/// The API's view of a Dump.
fn info(dump: &Dump) -> Option<DumpInfo> {
    let id = crds::sandbox_id(dump.metadata.uid.as_deref()?);
    let status = dump.status.clone().unwrap_or_default();
    let phase = status
        .phase
        .as_deref()
        .and_then(Phase::parse)
        .unwrap_or(Phase::Pending);
    let databases = if phase == Phase::Ready {
        status
            .databases
            .iter()
            .map(|d| Database {
                name: d.name.clone(),
                sandbox: d.sandbox.clone(),
                tables: None,
            })
            .collect()
    } else {
        Vec::new()
    };
    Some(DumpInfo {
        id,
        name: dump.name_any(),
        namespace: dump.namespace(),
        phase: StoredPhase(phase),
        message: status.message,
        format: status.dump_format,
        pg_dump_version: status.pg_dump_version,
        size_bytes: status.size_bytes,
        tables: status.tables.and_then(|t| u64::try_from(t).ok()),
        databases,
        progress: None,
        created_at: dump
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(chrono_time),
        restored_at: status.restored_at.as_ref().and_then(chrono_time),
        expires_at: status.expires_at.as_ref().and_then(chrono_time),
        visibility: Some(dump.spec.visibility.into()),
    })
}

impl Dumps {
    /// Starts watching the Dumps of every namespace and returns once the first list is in.
    pub async fn watch(client: Client, namespace: String) -> Result<Self, kube::Error> {
        let (cache, writer) = reflector::store();
        let events = watcher(Api::<Dump>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .reflect(writer)
            .applied_objects();
        tokio::spawn(async move {
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                if let Err(err) = event {
                    tracing::warn!(%err, "watching Dumps");
                }
            }
        });
        // The first list must be in before a request is answered from the cache.
        cache.wait_until_ready().await.map_err(|_| {
            kube::Error::Service("the Dump watch ended before its first list".into())
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                namespace,
                cache,
            }),
        })
    }

    fn find(&self, id: &str) -> Option<Arc<Dump>> {
        self.inner.cache.state().into_iter().find(|dump| {
            dump.metadata
                .uid
                .as_deref()
                .is_some_and(|uid| crds::sandbox_id(uid) == id)
        })
    }

    pub fn list(&self) -> Vec<DumpInfo> {
        let mut dumps: Vec<DumpInfo> = self
            .inner
            .cache
            .state()
            .iter()
            .filter_map(|d| info(d))
            .collect();
        dumps.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        dumps
    }

    pub fn get(&self, id: &str) -> Option<DumpInfo> {
        self.find(id).as_deref().and_then(info)
    }

    /// Whether `token` is the share token of Private dump `id`.
    pub fn is_share_token(&self, id: &str, token: &str) -> bool {
        let Some(dump) = self.find(id) else {
            return false;
        };
        let kept = dump.annotations().get(SHARE_TOKEN_ANNOTATION);
        // Both sides are hashes: comparing them leaks nothing about the token.
        dump.spec.visibility == crds::Visibility::Private
            && kept.is_some_and(|kept| *kept == token_hash(token))
    }

    /// Deletes the Dump resource; the operator drops its sandbox and file.
    pub async fn delete(&self, id: &str) -> Result<DumpInfo, Problem> {
        let dump = self.find(id).ok_or_else(|| not_found(id))?;
        let api: Api<Dump> = Api::namespaced(
            self.inner.client.clone(),
            &dump.namespace().unwrap_or_default(),
        );
        // The UID precondition: never a newer Dump that took the same name.
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: dump.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        api.delete(&dump.name_any(), &params)
            .await
            .map_err(kube_problem)?;
        info(&dump).ok_or_else(|| not_found(id))
    }

    /// Creates a Dump in the api's namespace; a Private one gets a share token, returned once.
    pub async fn create(
        &self,
        name: &str,
        source: DumpSource,
        ttl: Option<&str>,
        visibility: Option<Visibility>,
    ) -> Result<Created, Problem> {
        if let Some(ttl) = ttl {
            parse_ttl(ttl)?;
        }
        let visibility = visibility.unwrap_or_default();
        let share_token = (visibility == Visibility::Private).then(new_share_token);
        let mut annotations =
            BTreeMap::from([("dumplens.io/file-name".to_string(), name.to_string())]);
        if let Some(token) = &share_token {
            annotations.insert(SHARE_TOKEN_ANNOTATION.into(), token_hash(token));
        }
        let mut dump = Dump::new(
            "",
            DumpSpec {
                source,
                ttl: ttl.map(str::to_string),
                expiry_policy: crds::ExpiryPolicy::default(),
                visibility: visibility.into(),
                restore: None,
            },
        );
        dump.metadata.name = None;
        dump.metadata.generate_name = Some(name_prefix(name));
        dump.metadata.annotations = Some(annotations);
        let api: Api<Dump> = Api::namespaced(self.inner.client.clone(), &self.inner.namespace);
        let created = api
            .create(&PostParams::default(), &dump)
            .await
            .map_err(kube_problem)?;
        let dump = info(&created).ok_or_else(|| {
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the created Dump has no UID",
            )
        })?;
        self.wait_until_seen(&dump.id, |_| true).await;
        Ok(Created { dump, share_token })
    }

    /// A new share token for dump `id` (the old one stops working).
    pub async fn renew_share_token(&self, id: &str) -> Result<String, Problem> {
        let dump = self.find(id).ok_or_else(|| not_found(id))?;
        if dump.spec.visibility != crds::Visibility::Private {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                format!("dump {id:?} is Public: any API token reads it, it has no share token"),
            ));
        }
        let token = new_share_token();
        let api: Api<Dump> = Api::namespaced(
            self.inner.client.clone(),
            &dump.namespace().unwrap_or_default(),
        );
        let patch = serde_json::json!({
            "metadata": {
                "uid": dump.metadata.uid,
                "annotations": {SHARE_TOKEN_ANNOTATION: token_hash(&token)},
            }
        });
        api.patch(
            &dump.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(kube_problem)?;
        // Answer once the cache has the new hash, so the token works on the next request.
        let hash = token_hash(&token);
        self.wait_until_seen(id, |d| {
            d.annotations().get(SHARE_TOKEN_ANNOTATION) == Some(&hash)
        })
        .await;
        Ok(token)
    }

    /// Waits (a few seconds at most) until the watch has brought dump `id` into the cache as
    /// `seen` wants it, so that the next request finds what this one wrote.
    async fn wait_until_seen(&self, id: &str, seen: impl Fn(&Dump) -> bool) {
        for _ in 0..50 {
            if self.find(id).is_some_and(|d| seen(&d)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What `dumplens api` needs.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    pub listen: std::net::SocketAddr,
    /// A role on the sandbox server that may create roles (for the console's reader roles).
    pub admin_url: String,
    /// Where the uploads volume is mounted (the operator mounts the same claim into Jobs).
    pub uploads_dir: std::path::PathBuf,
    /// Where Dumps made through the API go [default: the client's namespace].
    pub namespace: Option<String>,
    /// A Secret in that namespace whose every value is an API token.
    pub tokens_secret: Option<String>,
    /// A header an authenticating proxy sets; its presence makes a request an API caller's.
    pub trusted_proxy_header: Option<axum::http::HeaderName>,
    pub max_upload_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "dumplens api needs authentication: give --tokens-secret (a Secret of API tokens) or --trusted-proxy-header"
    )]
    NoAuthentication,
    #[error("the Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("the API tokens Secret {name:?} in namespace {namespace:?}: {reason}")]
    TokensSecret {
        name: String,
        namespace: String,
        reason: String,
    },
    #[error("the sandbox server (--admin-url, DUMPLENS_ADMIN_URL): {0}")]
    Admin(String),
    #[error(transparent)]
    Serve(#[from] crate::standalone::ServeError),
}

/// How often the tokens Secret is read again (a rotated token works within this).
const TOKENS_REFRESH: Duration = Duration::from_secs(10);

async fn read_tokens(secrets: &Api<Secret>, name: &str) -> Result<Vec<String>, String> {
    let secret = secrets.get(name).await.map_err(|e| e.to_string())?;
    let tokens: Vec<String> = secret
        .data
        .unwrap_or_default()
        .into_values()
        .filter_map(|v| String::from_utf8(v.0).ok())
        .collect();
    if tokens.iter().all(|t| t.trim().is_empty()) {
        return Err("it holds no token".into());
    }
    Ok(tokens)
}

/// Runs the API over the cluster's Dumps until SIGINT or SIGTERM. `ready` gets the URL.
pub async fn serve(options: ApiOptions, ready: impl FnOnce(&str)) -> Result<(), ApiError> {
    use crate::standalone::{ServeError, connect, shutdown_signal};
    if options.tokens_secret.is_none() && options.trusted_proxy_header.is_none() {
        return Err(ApiError::NoAuthentication);
    }
    let client = Client::try_default().await?;
    let namespace = options
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let access = crate::access::Access::required(Vec::new(), options.trusted_proxy_header.clone());
    if let Some(name) = &options.tokens_secret {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        let tokens = read_tokens(&secrets, name).await;
        access.set_tokens(tokens.map_err(|reason| ApiError::TokensSecret {
            name: name.clone(),
            namespace: namespace.clone(),
            reason,
        })?);
        let (access, name) = (access.clone(), name.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TOKENS_REFRESH).await;
                match read_tokens(&secrets, &name).await {
                    Ok(tokens) => access.set_tokens(tokens),
                    // Keep the tokens last read: an API server hiccup must not lock users out.
                    Err(reason) => tracing::warn!(%name, %reason, "reading the API tokens"),
                }
            }
        });
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServeError::Http)?;
    let admin_problem = |e: &dyn std::fmt::Display| ApiError::Admin(e.to_string());
    let admin: lens::conninfo::ServerUrl =
        options.admin_url.parse().map_err(|e| admin_problem(&e))?;
    let pool = connect(&options.admin_url)
        .await
        .map_err(|e| admin_problem(&e))?;
    let postgres_version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await
        .map_err(|e| admin_problem(&e))?;
    let store = lens::store::Store::open(&admin)
        .await
        .map_err(|e| admin_problem(&e))?;
    let dumps = Dumps::watch(client, namespace).await?;
    let state = crate::AppState {
        pool,
        catalog: crate::catalog::Catalog::Kubernetes(dumps),
        store: store.clone(),
        access,
        uploads: crate::uploads::Uploads {
            dir: options.uploads_dir.clone(),
            max_bytes: options.max_upload_bytes,
            sending: Default::default(),
        },
        readers: crate::read::Readers::new(admin, store),
        postgres_version,
        managed_postgres: false,
    };
    let server =
        axum::serve(listener, crate::router(state)).with_graceful_shutdown(shutdown_signal());
    ready(&format!("http://{addr}/"));
    server
        .await
        .map_err(|e| ApiError::Serve(ServeError::Http(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_dns_label_prefixes() {
        assert_eq!(name_prefix("pagila.dump"), "pagila-dump-");
        assert_eq!(name_prefix("My Dump (2).sql.gz"), "my-dump-2-sql-gz-");
        assert_eq!(name_prefix("---"), "dump-");
        assert_eq!(name_prefix("ünïcode"), "n-code-");
        assert!(name_prefix(&"x".repeat(300)).len() <= 41);
    }

    #[test]
    fn share_tokens_have_256_random_bits_and_are_kept_as_hashes() {
        let (a, b) = (new_share_token(), new_share_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
