//! The dumps a server serves, in one shape for both modes: standalone, the records of the
//! metadata database; on Kubernetes, the `Dump` resources.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use lens::fetch::RemoteSource;
use lens::lifecycle::Phase;
use lens::store::{DumpRecord, StoredPhase};
use serde::{Deserialize, Serialize};

use crate::Problem;
use crate::standalone::{Worker, WorkerError};

/// A dump as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DumpInfo {
    /// The `{id}` of every endpoint under `/api/v1/dumps/{id}`.
    pub id: String,
    /// The file's name; on Kubernetes the Dump resource's name.
    pub name: String,
    /// On Kubernetes: the Dump resource's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub phase: StoredPhase,
    /// What went wrong, or what is happening.
    pub message: Option<String>,
    /// The dump's format (custom, directory, tar, plain, dumpall).
    pub format: Option<String>,
    pub pg_dump_version: Option<String>,
    /// The dump file's size; on Kubernetes the restored sandbox's.
    pub size_bytes: Option<i64>,
    /// Tables restored, over all databases.
    pub tables: Option<u64>,
    /// The restored databases (empty until Ready).
    pub databases: Vec<Database>,
    /// The restore's latest progress event (standalone).
    pub progress: Option<serde_json::Value>,
    pub created_at: Option<DateTime<Utc>>,
    pub restored_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// On Kubernetes: Private (its data needs the share token) or Public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// One database of a dump.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Database {
    /// Its name in the dump (absent for a plain pg_dump script, which does not say).
    pub name: Option<String>,
    /// The sandbox database it was restored into: the `{database}` of the other endpoints.
    pub sandbox: String,
    /// Tables restored (standalone).
    pub tables: Option<u64>,
}

/// Who may read a dump's data on Kubernetes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Visibility {
    /// Only with the dump's share token.
    #[default]
    Private,
    /// With any API token.
    Public,
}

impl From<crds::Visibility> for Visibility {
    fn from(visibility: crds::Visibility) -> Self {
        match visibility {
            crds::Visibility::Private => Visibility::Private,
            crds::Visibility::Public => Visibility::Public,
        }
    }
}

impl From<Visibility> for crds::Visibility {
    fn from(visibility: Visibility) -> Self {
        match visibility {
            Visibility::Private => crds::Visibility::Private,
            Visibility::Public => crds::Visibility::Public,
        }
    }
}

impl From<DumpRecord> for DumpInfo {
    fn from(record: DumpRecord) -> Self {
        let summary = record.summary.unwrap_or_default();
        let databases: Vec<Database> = summary["databases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                Some(Database {
                    name: d["name"].as_str().map(str::to_string),
                    sandbox: d["sandbox"].as_str()?.to_string(),
                    tables: d["tables"].as_u64(),
                })
            })
            .collect();
        let tables =
            (!databases.is_empty()).then(|| databases.iter().filter_map(|d| d.tables).sum());
        // Databases are shown once they can be read.
        let databases = if record.phase.0 == Phase::Ready {
            databases
        } else {
            Vec::new()
        };
        DumpInfo {
            id: record.id,
            name: record.name,
            namespace: None,
            phase: record.phase,
            message: record.message,
            format: record.format,
            pg_dump_version: record.pg_dump_version,
            size_bytes: record.size_bytes,
            tables,
            databases,
            progress: record.progress,
            created_at: Some(record.created_at),
            restored_at: record.restored_at,
            expires_at: record.expires_at,
            visibility: None,
        }
    }
}

/// A dump to download and restore.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct NewDump {
    /// Where the file is: `{"url": {"url": ...}}` or `{"s3": {"bucket": ..., "key": ...}}`.
    pub source: RemoteSource,
    /// A name for it [default: the file name in the URL or key].
    pub name: Option<String>,
    /// How long it lives once Ready, e.g. 30m, 24h, 7d [default: until deleted].
    pub ttl: Option<String>,
    /// On Kubernetes: Private (default) or Public.
    pub visibility: Option<Visibility>,
}

/// A dump just created, and (for a Private one on Kubernetes) its share token: shown once,
/// only its hash is kept.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub dump: DumpInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_token: Option<String>,
}

/// A TTL as the `Dump` resource takes it: digits and a unit (s, m, h, d), repeated.
pub(crate) fn parse_ttl(text: &str) -> Result<Duration, Problem> {
    let bad = || {
        Problem::new(
            StatusCode::BAD_REQUEST,
            format!("ttl {text:?} must be a duration like 30m, 24h or 7d"),
        )
    };
    let mut rest = text;
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit = match rest.as_bytes()[digits] {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86400,
            _ => return Err(bad()),
        };
        let seconds = number.checked_mul(unit).ok_or_else(bad)?;
        total = total
            .checked_add(Duration::from_secs(seconds))
            .ok_or_else(bad)?;
        rest = &rest[digits + 1..];
    }
    if total.is_zero() {
        return Err(bad());
    }
    Ok(total)
}

/// A dump's name from the caller, or from the last part of its URL or key.
pub(crate) fn dump_name(name: Option<&str>, source: &RemoteSource) -> Result<String, Problem> {
    let from_source = || {
        let path = match source {
            RemoteSource::Url(object) => url::Url::parse(&object.url)
                .map(|u| u.path().to_string())
                .unwrap_or_default(),
            RemoteSource::S3(object) => object.key.clone(),
        };
        let last = path.rsplit('/').next().unwrap_or_default().to_string();
        if last.is_empty() { "dump".into() } else { last }
    };
    let name = name
        .map(str::trim)
        .map(str::to_string)
        .unwrap_or_else(from_source);
    check_name(&name)?;
    Ok(name)
}

/// A dump's name is shown and used as a file name: 1 to 255 bytes, no `/`, no control characters.
pub(crate) fn check_name(name: &str) -> Result<(), Problem> {
    if name.is_empty()
        || name.len() > 255
        || name.contains('/')
        || name.chars().any(char::is_control)
    {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "name must be 1 to 255 bytes, without / or control characters",
        ));
    }
    Ok(())
}

/// Where the dumps are kept.
#[derive(Clone, Debug)]
pub(crate) enum Catalog {
    Standalone(Worker),
    Kubernetes(crate::kubernetes::Dumps),
}

fn worker_problem(err: WorkerError) -> Problem {
    match err {
        WorkerError::Busy(_) => Problem::new(StatusCode::CONFLICT, err.to_string()),
        err => {
            tracing::error!(%err, "dump bookkeeping");
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string())
        }
    }
}

/// The metadata store could not answer.
pub(crate) fn store_problem(err: lens::store::StoreError) -> Problem {
    worker_problem(err.into())
}

pub(crate) fn not_found(id: &str) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, format!("there is no dump {id:?}"))
}

impl Catalog {
    /// Every dump, newest first.
    pub async fn list(&self) -> Result<Vec<DumpInfo>, Problem> {
        match self {
            Catalog::Standalone(worker) => {
                let records = worker.store().list().await;
                let records = records.map_err(store_problem)?;
                Ok(records.into_iter().map(DumpInfo::from).collect())
            }
            Catalog::Kubernetes(dumps) => Ok(dumps.list()),
        }
    }

    /// Dump `id`, or a 404 naming it.
    pub async fn get(&self, id: &str) -> Result<DumpInfo, Problem> {
        match self {
            Catalog::Standalone(worker) => match worker.store().get(id).await {
                Ok(Some(record)) => Ok(record.into()),
                Ok(None) => Err(not_found(id)),
                Err(err) => Err(store_problem(err)),
            },
            Catalog::Kubernetes(dumps) => dumps.get(id).ok_or_else(|| not_found(id)),
        }
    }

    /// Deletes dump `id` with its sandbox (and its file when the server holds it).
    pub async fn delete(&self, id: &str) -> Result<DumpInfo, Problem> {
        match self {
            Catalog::Standalone(worker) => match worker.delete(id).await {
                Ok(Some(record)) => Ok(record.into()),
                Ok(None) => Err(not_found(id)),
                Err(err) => Err(worker_problem(err)),
            },
            Catalog::Kubernetes(dumps) => dumps.delete(id).await,
        }
    }

    /// Makes the finished upload `upload_id` (its file at `path`) a dump.
    pub async fn add_upload(
        &self,
        upload_id: &str,
        name: &str,
        path: &std::path::Path,
        ttl: Option<&str>,
        visibility: Option<Visibility>,
    ) -> Result<Created, Problem> {
        match self {
            Catalog::Standalone(worker) => {
                let ttl = ttl.map(parse_ttl).transpose()?;
                let record = worker.add_upload(upload_id, name, path, ttl).await;
                Ok(Created {
                    dump: record.map_err(worker_problem)?.into(),
                    share_token: None,
                })
            }
            Catalog::Kubernetes(dumps) => {
                let source = crds::DumpSource {
                    upload: Some(crds::UploadSource {
                        id: upload_id.to_string(),
                    }),
                    ..Default::default()
                };
                dumps.create(name, source, ttl, visibility).await
            }
        }
    }

    /// Records a dump the server (standalone) or a restore Job (Kubernetes) downloads.
    pub async fn add_remote(&self, request: NewDump) -> Result<Created, Problem> {
        request
            .source
            .check()
            .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        let name = dump_name(request.name.as_deref(), &request.source)?;
        match self {
            Catalog::Standalone(worker) => {
                let ttl = request.ttl.as_deref().map(parse_ttl).transpose()?;
                let record = worker.add_remote(request.source, &name, ttl).await;
                Ok(Created {
                    dump: record.map_err(worker_problem)?.into(),
                    share_token: None,
                })
            }
            Catalog::Kubernetes(dumps) => {
                let source = crate::kubernetes::remote_source(request.source)?;
                dumps
                    .create(&name, source, request.ttl.as_deref(), request.visibility)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_read_like_the_dump_resource_takes_them() {
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("1d12h").unwrap(), Duration::from_secs(129_600));
        for bad in [
            "",
            "0s",
            "30",
            "m",
            "5w",
            "1h-",
            "99999999999999999999d",
            "1.5h",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_come_from_the_caller_or_the_source() {
        let url = |u: &str| {
            RemoteSource::Url(lens::fetch::UrlObject {
                url: u.into(),
                sha256: None,
            })
        };
        let name = |given, source| dump_name(given, &source).map_err(|p| p.detail);
        assert_eq!(
            name(None, url("https://x.test/d/pagila.dump?x=1")).unwrap(),
            "pagila.dump"
        );
        assert_eq!(name(None, url("https://x.test/")).unwrap(), "dump");
        assert_eq!(
            name(Some(" mine "), url("https://x.test/a")).unwrap(),
            "mine"
        );
        assert!(name(Some("a/b"), url("https://x.test/a")).is_err());
        assert!(name(Some("a\nb"), url("https://x.test/a")).is_err());
    }
}
