//! The Kubernetes adapter of the dump lifecycle: a kube-runtime Controller over `Dump`. For
//! each Dump it creates a sandbox (role and database named from the Dump's UID), a Secret with
//! the role's login, and a restore Job running `dumplens restore`; it records the Job's outcome
//! and the schema graph, applies the TTL, and its finalizer drops the sandbox. A periodic sweep
//! drops sandboxes no Dump owns.

pub mod metrics;
mod objects;
mod sweep;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crds::{DatabaseStatus, Dump, DumpStatus, ExpiryPolicy};
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use lens::conninfo::ServerUrl;
use lens::sandbox::{self, SandboxNames};
use lens::store::Store;

pub use objects::{JOB_FINALIZER, UPLOADS_MOUNT, restore_job, sandbox_id, sandbox_secret};

/// The finalizer that guards a Dump's sandbox.
pub const FINALIZER: &str = "dumplens.io/sandbox";
/// The field manager of every status write, and the controller named in Events.
pub const MANAGER: &str = "dumplens-operator";

/// Dumps reconciled at once: each may hold a connection to the sandbox server.
const CONCURRENCY: u16 = 16;
/// Admin connections to the sandbox server (creating and dropping sandboxes is quick).
const ADMIN_CONNECTIONS: u32 = 4;

/// What the operator needs besides the Kubernetes API.
#[derive(Clone, Debug)]
pub struct Config {
    /// A role on the sandbox server that may create roles and databases. The server must be
    /// PgDumpLens's own: the sweep drops every sandbox no Dump owns.
    pub admin: ServerUrl,
    /// The command that runs `dumplens` in a restore Job (`["dumplens"]` in the image).
    pub restore_command: Vec<String>,
    pub restore_image: String,
    pub active_deadline_seconds: i64,
    pub backoff_limit: i32,
    pub ttl_seconds_after_finished: i32,
    /// A restore Job's resources when its Dump names none.
    pub restore_resources: Option<k8s_openapi::api::core::v1::ResourceRequirements>,
    /// The PersistentVolumeClaim holding uploads, mounted into restore Jobs of upload sources.
    pub uploads_claim: Option<String>,
    /// The same volume as mounted here, to delete an upload with its Dump.
    pub uploads_dir: Option<PathBuf>,
    /// How often sandboxes that no Dump owns are looked for.
    pub sweep_interval: Duration,
    /// The UI's base URL; each Dump's status.url points into it.
    pub ui_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Sandbox(#[from] lens::sandbox::SandboxError),
    #[error(transparent)]
    Store(#[from] lens::store::StoreError),
    #[error("the sandbox server: {0}")]
    Database(#[from] sqlx::Error),
    /// The Dump asks for something that cannot be done; retrying will not help.
    #[error("{0}")]
    Spec(String),
}

struct Context {
    client: Client,
    config: Config,
    /// Connections to the sandbox server as the admin role, few and shared.
    admin: sqlx::PgPool,
    metrics: Arc<metrics::Metrics>,
    store: Store,
    recorder: Recorder,
    /// The Ready Dumps (sandbox ids) whose fingerprints this process has set out to take.
    fingerprinting: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Runs the controller (and the sweep) until the process stops, counting into `metrics`.
pub async fn run(
    client: Client,
    config: Config,
    metrics: Arc<metrics::Metrics>,
) -> Result<(), Error> {
    let store = Store::open(&config.admin).await?;
    let reporter = Reporter {
        controller: MANAGER.into(),
        instance: std::env::var("HOSTNAME").ok(),
    };
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(ADMIN_CONNECTIONS)
        .connect_lazy_with(config.admin.connect_options());
    let context = Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        admin,
        client: client.clone(),
        config,
        metrics,
        store,
        fingerprinting: Default::default(),
    });
    tokio::spawn(sweep::run(context.clone()));
    let dumps: Api<Dump> = Api::all(client.clone());
    let jobs: Api<Job> = Api::all(client);
    Controller::new(dumps, watcher::Config::default())
        .owns(jobs, watcher::Config::default())
        .with_config(kube::runtime::controller::Config::default().concurrency(CONCURRENCY))
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::warn!(%err, "reconcile failed");
            }
        })
        .await;
    Ok(())
}

fn error_policy(
    _: Arc<Dump>,
    err: &kube::runtime::finalizer::Error<Error>,
    context: Arc<Context>,
) -> Action {
    context.metrics.failures.inc();
    tracing::warn!(%err, "will retry");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(
    dump: Arc<Dump>,
    context: Arc<Context>,
) -> Result<Action, kube::runtime::finalizer::Error<Error>> {
    context.metrics.reconciles.inc();
    let api = dumps(&context, &dump);
    finalizer(&api, FINALIZER, dump, |event| async {
        match event {
            Finalizer::Apply(dump) => apply(&dump, &context).await,
            Finalizer::Cleanup(dump) => cleanup(&dump, &context).await,
        }
    })
    .await
}

fn dumps(context: &Context, dump: &Dump) -> Api<Dump> {
    Api::namespaced(
        context.client.clone(),
        &dump.namespace().unwrap_or_default(),
    )
}

fn namespaced<K>(context: &Context, dump: &Dump) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
    Api::namespaced(
        context.client.clone(),
        &dump.namespace().unwrap_or_default(),
    )
}

async fn apply(dump: &Dump, context: &Context) -> Result<Action, Error> {
    let status = dump.status.clone().unwrap_or_default();
    match status.phase.as_deref() {
        Some("Ready" | "Failed" | "Expired") => settled(dump, context, status).await,
        _ => restoring(dump, context).await,
    }
}

/// Until the restore Job has finished: make the sandbox, its Secret and the Job, and follow
/// the Job.
async fn restoring(dump: &Dump, context: &Context) -> Result<Action, Error> {
    // One sandbox database, until the restore Job finds a pg_dumpall file that needs more;
    // the status remembers how many.
    let count = dump.status.as_ref().map_or(0, |s| s.databases.len()).max(1);
    let names = SandboxNames::new(&sandbox_id(dump)?, count)?;
    let job = match objects::restore_job(dump, &context.config, &names.databases) {
        Ok(job) => job,
        Err(Error::Spec(reason)) => return fail(dump, context, reason).await,
        Err(e) => return Err(e),
    };
    let secrets: Api<Secret> = namespaced(context, dump);
    let secret_name = objects::secret_name(dump)?;
    // The Secret records the role's password: without it the sandbox cannot be used, so a
    // sandbox without its Secret (a crash between the two), or one made for another number
    // of databases, is made again.
    let secret = secrets.get_opt(&secret_name).await?;
    let login = secret.as_ref().map(secret_login).transpose()?;
    if login.and_then(|l| l.database()) != Some(names.databases[0].clone()) {
        let mut admin = context.admin.acquire().await?;
        if let Some(reason) = unavailable_version(dump, &mut admin).await? {
            // `fail` takes a connection of its own: never hold two from the pool at once.
            drop(admin);
            return fail(dump, context, reason).await;
        }
        let password = sandbox::new_password();
        let previous = sandbox::names_on_server(&mut admin, &sandbox_id(dump)?).await?;
        sandbox::drop_all(&mut admin, &previous).await?;
        sandbox::create(&mut admin, &names, &password).await?;
        let role = context
            .config
            .admin
            .with_login(&names.role, &password)
            .with_database(&names.databases[0]);
        if secret.is_some() {
            ignore_missing(secrets.delete(&secret_name, &DeleteParams::default()).await)?;
        }
        secrets
            .create(&PostParams::default(), &sandbox_secret(dump, &role)?)
            .await?;
    }
    let jobs: Api<Job> = namespaced(context, dump);
    let job = match jobs.get_opt(&job.name_any()).await? {
        Some(job) => job,
        None => jobs.create(&PostParams::default(), &job).await?,
    };
    let job_status = job.status.clone().unwrap_or_default();
    if job_status.succeeded.unwrap_or(0) > 0 {
        return ready(dump, context, &job, &names).await;
    }
    let mut next = DumpStatus {
        phase: Some("Restoring".into()),
        observed_generation: dump.metadata.generation,
        message: Some(format!("restore Job {} is running", job.name_any())),
        databases: sandboxes(&names.databases, &[]),
        ..DumpStatus::default()
    };
    if job_status.failed.unwrap_or(0) > 0 {
        let output = job_output(context, dump, &job).await?;
        match databases_needed(&output) {
            // A pg_dumpall file: record how many databases it needs; the next reconcile
            // makes them and restores again (this Job's download was all it cost).
            Some(needed) if needed > count => {
                release_job(context, dump, &job.name_any()).await?;
                ignore_missing(
                    jobs.delete(&job.name_any(), &DeleteParams::background())
                        .await,
                )?;
                let names = SandboxNames::new(&sandbox_id(dump)?, needed)?;
                next.databases = sandboxes(&names.databases, &[]);
                next.message = Some(format!(
                    "a pg_dumpall file with {needed} databases: restoring each into a sandbox database"
                ));
            }
            _ => return fail(dump, context, job_failure(&job, &output)).await,
        }
    }
    write_status(dump, context, next).await?;
    // Job changes wake the controller (it owns the Jobs); nothing to poll.
    Ok(Action::await_change())
}

/// The number of databases a restore Job said the dump needs (`dumplens restore --json` into
/// too few databases), if it said so.
fn databases_needed(output: &str) -> Option<usize> {
    output.lines().rev().find_map(|l| {
        let line: serde_json::Value = serde_json::from_str(l).ok()?;
        line["databasesNeeded"].as_u64().map(|n| n as usize)
    })
}

/// Why the sandbox server cannot restore this Dump with the PostgreSQL version it asks for.
async fn unavailable_version(
    dump: &Dump,
    admin: &mut sqlx::PgConnection,
) -> Result<Option<String>, Error> {
    let Some(wanted) = dump
        .spec
        .restore
        .as_ref()
        .and_then(|r| r.postgres_version.as_deref())
    else {
        return Ok(None);
    };
    let running = server_version(admin).await?;
    let major = running.split('.').next().unwrap_or_default();
    Ok((wanted != major && wanted != running).then(|| {
        format!(
            "spec.restore.postgresVersion asks for PostgreSQL {wanted}; the sandbox server runs {running}"
        )
    }))
}

async fn server_version(admin: &mut sqlx::PgConnection) -> Result<String, Error> {
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(admin)
        .await?;
    // "18.6 (Debian 18.6-1)" → "18.6"
    Ok(version
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

fn sandboxes(sandboxes: &[String], names: &[Option<String>]) -> Vec<DatabaseStatus> {
    sandboxes
        .iter()
        .enumerate()
        .map(|(i, sandbox)| DatabaseStatus {
            name: names.get(i).cloned().flatten(),
            sandbox: sandbox.clone(),
        })
        .collect()
}

/// The restore Job succeeded: record its summary, the schema graphs, the size and the expiry.
async fn ready(
    dump: &Dump,
    context: &Context,
    job: &Job,
    names: &SandboxNames,
) -> Result<Action, Error> {
    let id = sandbox_id(dump)?;
    // The summary is the one JSON line `dumplens restore --json` prints. A Job whose pod is
    // already gone (the operator was down past its TTL) still succeeded: what the summary
    // would add besides the format is read from the sandbox below.
    let summary = job_output(context, dump, job)
        .await?
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .unwrap_or_default();
    let role = sandbox_role(context, dump).await?;
    let mut graph_tables = 0;
    for database in &names.databases {
        let graph = context
            .store
            .record_schema_graph(&id, &role.with_database(database))
            .await?;
        graph_tables += graph.tables.len() as i64;
    }
    let tables = summary["databases"]
        .as_array()
        .map(|dbs| dbs.iter().filter_map(|d| d["tables"].as_i64()).sum())
        .unwrap_or(graph_tables);
    let (size, postgres_version) = {
        let mut admin = context.admin.acquire().await?;
        let size = sandbox::size(&mut admin, &names.databases).await?;
        (size, server_version(&mut admin).await?)
    };
    let restored_at = job
        .status
        .as_ref()
        .and_then(|s| s.completion_time.clone())
        .unwrap_or_else(|| Time(Timestamp::now()));
    if let Some(start) = job.status.as_ref().and_then(|s| s.start_time.as_ref()) {
        let seconds = restored_at.0.duration_since(start.0).as_secs_f64();
        context.metrics.restore_seconds.observe(seconds.max(0.0));
    }
    let dump_names: Vec<Option<String>> = summary["databases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| d["name"].as_str().map(str::to_string))
        .collect();
    let message = format!("restored {tables} tables");
    let next = DumpStatus {
        phase: Some("Ready".into()),
        observed_generation: dump.metadata.generation,
        conditions: objects::conditions(dump, "Ready", &message),
        databases: sandboxes(&names.databases, &dump_names),
        postgres_version: Some(postgres_version),
        dump_format: summary["format"].as_str().map(str::to_string),
        pg_dump_version: summary["pgDumpVersion"].as_str().map(str::to_string),
        tables: Some(tables),
        size_bytes: Some(size),
        expires_at: expiry(dump, &restored_at)?,
        restored_at: Some(restored_at),
        message: Some(message),
        url: context
            .config
            .ui_url
            .as_ref()
            .map(|base| format!("{}/dumps/{id}", base.trim_end_matches('/'))),
    };
    let action = requeue_at(next.expires_at.as_ref());
    write_status(dump, context, next).await?;
    release_job(context, dump, &job.name_any()).await?;
    fingerprint_once(context, &id);
    Ok(action)
}

/// Takes the fingerprints of Ready Dump `id`'s tables in the background, once per process: so a
/// restarted operator finishes what the last one did not (the store skips tables done). Diffs
/// until then read whole tables; a failure here (the Dump deleted meanwhile) costs only that.
fn fingerprint_once(context: &Context, id: &str) {
    let mut started = context.fingerprinting.lock().expect("not poisoned");
    if !started.insert(id.to_string()) {
        return;
    }
    let (store, admin, id) = (
        context.store.clone(),
        context.config.admin.clone(),
        id.to_string(),
    );
    tokio::spawn(async move {
        match store.record_fingerprints(&admin, &id).await {
            Ok(tables) => tracing::info!(%id, tables, "tables fingerprinted"),
            Err(err) => tracing::warn!(%id, %err, "tables not fingerprinted"),
        }
    });
}

/// The sandbox role's URL, from the Dump's Secret.
async fn sandbox_role(context: &Context, dump: &Dump) -> Result<ServerUrl, Error> {
    let secrets: Api<Secret> = namespaced(context, dump);
    secret_login(&secrets.get(&objects::secret_name(dump)?).await?)
}

/// The role's URL a sandbox Secret holds.
fn secret_login(secret: &Secret) -> Result<ServerUrl, Error> {
    let url = secret
        .data
        .as_ref()
        .and_then(|d| d.get(objects::SECRET_KEY))
        .and_then(|v| String::from_utf8(v.0.clone()).ok())
        .ok_or_else(|| Error::Spec(format!("Secret {} has no role URL", secret.name_any())))?;
    url.parse()
        .map_err(|e| Error::Spec(format!("Secret {}: {e}", secret.name_any())))
}

/// When the Dump expires, counted from `since` (when it settled), if it has a TTL.
fn expiry(dump: &Dump, since: &Time) -> Result<Option<Time>, Error> {
    let Some(ttl) = &dump.spec.ttl else {
        return Ok(None);
    };
    let ttl = humantime::parse_duration(ttl)
        .ok()
        .and_then(|d| SignedDuration::try_from(d).ok())
        .ok_or_else(|| Error::Spec(format!("spec.ttl {ttl:?} is not a duration")))?;
    Ok(since.0.checked_add(ttl).ok().map(Time))
}

fn requeue_at(at: Option<&Time>) -> Action {
    match at {
        Some(at) => {
            let wait = Timestamp::now().duration_until(at.0);
            Action::requeue(wait.try_into().unwrap_or(Duration::ZERO))
        }
        None => Action::await_change(),
    }
}

/// The restore failed (or cannot start): say why and drop the sandbox (a failed restore's
/// contents are of no use); the Job stays for its logs until its TTL.
async fn fail(dump: &Dump, context: &Context, reason: String) -> Result<Action, Error> {
    drop_sandbox(dump, context).await?;
    let failed_at = Time(Timestamp::now());
    let next = DumpStatus {
        phase: Some("Failed".into()),
        observed_generation: dump.metadata.generation,
        conditions: objects::conditions(dump, "Failed", &reason),
        expires_at: expiry(dump, &failed_at)?,
        message: Some(reason),
        ..DumpStatus::default()
    };
    let action = requeue_at(next.expires_at.as_ref());
    write_status(dump, context, next).await?;
    for name in objects::job_names(dump)? {
        release_job(context, dump, &name).await?;
    }
    Ok(action)
}

/// A Ready, Failed or Expired Dump: follow spec changes (the TTL) and expire it when due.
async fn settled(dump: &Dump, context: &Context, status: DumpStatus) -> Result<Action, Error> {
    let mut next = status.clone();
    next.observed_generation = dump.metadata.generation;
    for condition in &mut next.conditions {
        condition.observed_generation = dump.metadata.generation;
    }
    if next.phase.as_deref() != Some("Expired") {
        let since = match next.phase.as_deref() {
            Some("Ready") => next.restored_at.clone(),
            _ => next
                .conditions
                .iter()
                .find(|c| c.type_ == "Stalled")
                .map(|c| c.last_transition_time.clone()),
        };
        next.expires_at = match since {
            Some(since) => expiry(dump, &since)?,
            None => None,
        };
        if let Some(at) = &next.expires_at
            && at.0 <= Timestamp::now()
        {
            return expire(dump, context, next).await;
        }
    }
    if next.phase.as_deref() == Some("Ready") {
        fingerprint_once(context, &sandbox_id(dump)?);
    }
    let action = requeue_at(next.expires_at.as_ref());
    write_status(dump, context, next).await?;
    Ok(action)
}

/// The TTL ran out: apply the expiry policy.
async fn expire(dump: &Dump, context: &Context, mut next: DumpStatus) -> Result<Action, Error> {
    let ttl = dump.spec.ttl.clone().unwrap_or_default();
    match dump.spec.expiry_policy {
        ExpiryPolicy::Delete => {
            publish(
                context,
                dump,
                EventType::Normal,
                "Expired",
                format!("the TTL ({ttl}) ran out; deleting the Dump (expiryPolicy Delete)"),
            )
            .await;
            // The finalizer drops the sandbox.
            dumps(context, dump)
                .delete(&dump.name_any(), &DeleteParams::default())
                .await?;
        }
        ExpiryPolicy::DropDatabase => {
            remove_all(dump, context).await?;
            let message = format!(
                "the TTL ({ttl}) ran out; the sandbox was dropped (expiryPolicy DropDatabase)"
            );
            next.phase = Some("Expired".into());
            next.conditions = objects::conditions(dump, "Expired", &message);
            next.message = Some(message);
            write_status(dump, context, next).await?;
        }
    }
    Ok(Action::await_change())
}

/// Writes `next` as the Dump's status by server-side apply, when it differs, with an Event
/// when the phase changes.
async fn write_status(dump: &Dump, context: &Context, next: DumpStatus) -> Result<(), Error> {
    context
        .metrics
        .set_phase(&dump.uid().unwrap_or_default(), next.phase.as_deref());
    let previous = dump.status.as_ref();
    if previous == Some(&next) {
        return Ok(());
    }
    let phase_changed = previous.and_then(|s| s.phase.as_deref()) != next.phase.as_deref();
    let (phase, message) = (next.phase.clone(), next.message.clone());
    let patch = serde_json::json!({
        "apiVersion": "dumplens.io/v1alpha1", "kind": "Dump", "status": next,
    });
    dumps(context, dump)
        .patch_status(
            &dump.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(patch),
        )
        .await?;
    if phase_changed && let Some(phase) = phase {
        let kind = if phase == "Failed" {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(context, dump, kind, &phase, message.unwrap_or_default()).await;
    }
    Ok(())
}

/// Records an Event about `dump`; an Event that cannot be written is logged, not retried.
async fn publish(context: &Context, dump: &Dump, kind: EventType, reason: &str, note: String) {
    let event = Event {
        type_: kind,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(err) = context
        .recorder
        .publish(&event, &dump.object_ref(&()))
        .await
    {
        tracing::warn!(%err, dump = %dump.name_any(), "could not record an Event");
    }
}

/// The termination message of the restore Job's pod: its `--json` summary, or its error.
async fn job_output(context: &Context, dump: &Dump, job: &Job) -> Result<String, Error> {
    let pods: Api<Pod> = namespaced(context, dump);
    let list = pods
        .list(&ListParams::default().labels(&format!("job-name={}", job.name_any())))
        .await?;
    Ok(list
        .items
        .iter()
        .filter_map(|p| {
            p.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()
                .cloned()
        })
        .filter_map(|s| s.state?.terminated?.message)
        .next_back()
        .unwrap_or_default())
}

/// Why the restore Job failed, in the restore's own words (`output`) when it printed any.
fn job_failure(job: &Job, output: &str) -> String {
    if let Some(error) = output.lines().rev().find_map(|l| l.strip_prefix("error: ")) {
        return error.to_string();
    }
    let condition = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Failed" && c.status == "True"));
    match condition {
        Some(c) => format!(
            "the restore Job failed: {}",
            c.message
                .as_deref()
                .unwrap_or(c.reason.as_deref().unwrap_or("unknown"))
        ),
        None => "the restore Job failed".into(),
    }
}

/// Lets restore Job `name` go (its outcome is recorded): removes our finalizer from it.
async fn release_job(context: &Context, dump: &Dump, name: &str) -> Result<(), Error> {
    let jobs: Api<Job> = namespaced(context, dump);
    let Some(job) = jobs.get_opt(name).await? else {
        return Ok(());
    };
    let finalizers = job.finalizers();
    if !finalizers.iter().any(|f| f == JOB_FINALIZER) {
        return Ok(());
    }
    let kept: Vec<&String> = finalizers.iter().filter(|f| *f != JOB_FINALIZER).collect();
    // With the resourceVersion, a finalizer another controller just added is not dropped: the
    // patch fails and the reconcile is retried.
    let patch = serde_json::json!({"metadata": {
        "resourceVersion": job.resource_version(), "finalizers": kept,
    }});
    ignore_missing(
        jobs.patch(
            &job.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await,
    )
}

/// Drops the sandbox: databases, role, schema graphs and the Secret with its login. Whatever
/// never existed or is gone already is fine.
async fn drop_sandbox(dump: &Dump, context: &Context) -> Result<(), Error> {
    let id = sandbox_id(dump)?;
    let mut admin = context.admin.acquire().await?;
    let names = sandbox::names_on_server(&mut admin, &id).await?;
    sandbox::drop_all(&mut admin, &names).await?;
    context.store.forget_sandbox(&id).await?;
    context
        .fingerprinting
        .lock()
        .expect("not poisoned")
        .remove(&id);
    let secrets: Api<Secret> = namespaced(context, dump);
    ignore_missing(
        secrets
            .delete(&objects::secret_name(dump)?, &DeleteParams::default())
            .await,
    )
}

/// Drops the sandbox and everything else the Dump brought: its restore Job and its uploaded
/// file.
async fn remove_all(dump: &Dump, context: &Context) -> Result<(), Error> {
    drop_sandbox(dump, context).await?;
    if let (Some(dir), Some(upload)) = (&context.config.uploads_dir, &dump.spec.source.upload) {
        let file = lens::uploads::path(dir, &upload.id)?;
        match tokio::fs::remove_file(&file).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(file = %file.display(), %e, "could not delete an upload");
            }
            _ => {}
        }
    }
    let jobs: Api<Job> = namespaced(context, dump);
    for name in objects::job_names(dump)? {
        release_job(context, dump, &name).await?;
        ignore_missing(jobs.delete(&name, &DeleteParams::background()).await)?;
    }
    Ok(())
}

/// Already gone is as good as deleted.
fn ignore_missing<T>(result: Result<T, kube::Error>) -> Result<(), Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn cleanup(dump: &Dump, context: &Context) -> Result<Action, Error> {
    remove_all(dump, context).await?;
    context
        .metrics
        .set_phase(&dump.uid().unwrap_or_default(), None);
    Ok(Action::await_change())
}
