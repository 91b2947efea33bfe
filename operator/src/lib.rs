//! The Kubernetes adapter of the dump lifecycle: a kube-runtime Controller over `Dump`. For
//! each Dump it creates a sandbox (role and database named from the Dump's UID), a Secret with
//! the role's login, and a restore Job running `dumplens restore`; it records the Job's outcome
//! in the Dump's status (server-side apply); its finalizer drops the sandbox.

pub mod metrics;
mod objects;

use std::sync::Arc;
use std::time::Duration;

use crds::{Dump, DumpStatus};
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, ResourceExt};
use lens::conninfo::ServerUrl;
use lens::sandbox::{self, SandboxNames};

pub use objects::{restore_job, sandbox_id, sandbox_secret};

/// The finalizer that guards a Dump's sandbox.
pub const FINALIZER: &str = "dumplens.io/sandbox";
/// The field manager of every status write.
pub const MANAGER: &str = "dumplens-operator";

/// What the operator needs besides the Kubernetes API.
#[derive(Clone, Debug)]
pub struct Config {
    /// A role on the sandbox server that may create roles and databases.
    pub admin: ServerUrl,
    /// The command that runs `dumplens` in a restore Job (`["dumplens"]` in the image).
    pub restore_command: Vec<String>,
    pub restore_image: String,
    pub active_deadline_seconds: i64,
    pub backoff_limit: i32,
    pub ttl_seconds_after_finished: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Sandbox(#[from] lens::sandbox::SandboxError),
    #[error("{0}")]
    Invalid(String),
}

struct Context {
    client: Client,
    config: Config,
    metrics: Arc<metrics::Metrics>,
}

/// Runs the controller until the process stops, counting into `metrics`.
pub async fn run(client: Client, config: Config, metrics: Arc<metrics::Metrics>) {
    let dumps: Api<Dump> = Api::all(client.clone());
    let jobs: Api<Job> = Api::all(client.clone());
    let context = Arc::new(Context {
        client,
        config,
        metrics,
    });
    Controller::new(dumps, watcher::Config::default())
        .owns(jobs, watcher::Config::default())
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::warn!(%err, "reconcile failed");
            }
        })
        .await;
}

fn error_policy(
    _: Arc<Dump>,
    err: &kube::runtime::finalizer::Error<Error>,
    _: Arc<Context>,
) -> Action {
    tracing::warn!(%err, "will retry");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(
    dump: Arc<Dump>,
    context: Arc<Context>,
) -> Result<Action, kube::runtime::finalizer::Error<Error>> {
    context.metrics.reconciles.inc();
    let ns = dump.namespace().unwrap_or_default();
    let api: Api<Dump> = Api::namespaced(context.client.clone(), &ns);
    finalizer(&api, FINALIZER, dump, |event| async {
        match event {
            Finalizer::Apply(dump) => apply(&dump, &context).await,
            Finalizer::Cleanup(dump) => cleanup(&dump, &context).await,
        }
    })
    .await
}

fn names(dump: &Dump) -> Result<SandboxNames, Error> {
    Ok(SandboxNames::new(&sandbox_id(dump)?, 1)?)
}

async fn apply(dump: &Dump, context: &Context) -> Result<Action, Error> {
    let ns = dump.namespace().unwrap_or_default();
    let names = names(dump)?;
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &ns);
    let jobs: Api<Job> = Api::namespaced(context.client.clone(), &ns);
    let secret_name = objects::secret_name(dump)?;

    // The Secret records the role's password: without it the sandbox cannot be used, so a
    // sandbox without its Secret (a crash between the two) is made again.
    if secrets.get_opt(&secret_name).await?.is_none() {
        let password = sandbox::new_password();
        let mut admin = sandbox::connect(&context.config.admin.connect_options()).await?;
        sandbox::drop_all(&mut admin, &names).await?;
        sandbox::create(&mut admin, &names, &password).await?;
        let role = context
            .config
            .admin
            .with_login(&names.role, &password)
            .with_database(&names.databases[0]);
        secrets
            .create(&PostParams::default(), &sandbox_secret(dump, &role)?)
            .await?;
    }
    let job_name = objects::job_name(dump)?;
    let job = match jobs.get_opt(&job_name).await? {
        Some(job) => job,
        None => {
            jobs.create(&PostParams::default(), &restore_job(dump, &context.config)?)
                .await?
        }
    };

    let status = job.status.clone().unwrap_or_default();
    let mut next = DumpStatus {
        observed_generation: dump.metadata.generation,
        databases: vec![crds::DatabaseStatus {
            name: None,
            sandbox: names.databases[0].clone(),
        }],
        ..DumpStatus::default()
    };
    if status.succeeded.unwrap_or(0) > 0 {
        let output = job_output(context, &ns, &job_name).await?;
        // The summary is the one JSON line `dumplens restore --json` prints; logs may follow.
        let summary = output
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .ok_or_else(|| {
                Error::Invalid(format!("the restore Job printed no summary: {output}"))
            })?;
        next.phase = Some("Ready".into());
        next.dump_format = summary["format"].as_str().map(str::to_string);
        next.pg_dump_version = summary["pgDumpVersion"].as_str().map(str::to_string);
        next.tables = summary["databases"][0]["tables"].as_i64();
        next.databases[0].name = summary["databases"][0]["name"].as_str().map(str::to_string);
        next.message = Some(format!(
            "restored {} tables",
            next.tables.unwrap_or_default()
        ));
        next.conditions = objects::conditions(dump, "Ready", next.message.as_deref().unwrap_or(""));
    } else if status.failed.unwrap_or(0) > 0 {
        let output = job_output(context, &ns, &job_name)
            .await
            .unwrap_or_default();
        let reason = output
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or("the restore Job failed")
            .to_string();
        next.phase = Some("Failed".into());
        next.message = Some(reason.clone());
        next.conditions = objects::conditions(dump, "Failed", &reason);
    } else {
        next.phase = Some("Restoring".into());
        next.message = Some("restoring".into());
        next.conditions = objects::conditions(dump, "Restoring", "restoring");
    }
    let was_ready = dump.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Ready");
    if next.phase.as_deref() == Some("Ready")
        && !was_ready
        && let (Some(start), Some(end)) = (&status.start_time, &status.completion_time)
    {
        let seconds = end.0.duration_since(start.0).as_secs_f64();
        context.metrics.restore_seconds.observe(seconds.max(0.0));
    }
    context
        .metrics
        .set_phase(&dump.uid().unwrap_or_default(), next.phase.as_deref());
    if dump.status.as_ref() != Some(&next) {
        let api: Api<Dump> = Api::namespaced(context.client.clone(), &ns);
        let patch = serde_json::json!({
            "apiVersion": "dumplens.io/v1alpha1", "kind": "Dump", "status": next,
        });
        api.patch_status(
            &dump.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(patch),
        )
        .await?;
    }
    // Job changes wake the controller (it owns the Jobs); nothing to poll.
    Ok(Action::await_change())
}

/// The termination message of the restore Job's pod: its `--json` summary, or its error.
async fn job_output(context: &Context, ns: &str, job: &str) -> Result<String, Error> {
    let pods: Api<Pod> = Api::namespaced(context.client.clone(), ns);
    let list = pods
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await?;
    let message = list
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
        .unwrap_or_default();
    Ok(message)
}

async fn cleanup(dump: &Dump, context: &Context) -> Result<Action, Error> {
    context
        .metrics
        .set_phase(&dump.uid().unwrap_or_default(), None);
    let ns = dump.namespace().unwrap_or_default();
    let mut admin = sandbox::connect(&context.config.admin.connect_options()).await?;
    let names = sandbox::names_on_server(&mut admin, &sandbox_id(dump)?).await?;
    sandbox::drop_all(&mut admin, &names).await?;
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &ns);
    let jobs: Api<Job> = Api::namespaced(context.client.clone(), &ns);
    // Already gone is as good as deleted.
    for result in [
        secrets
            .delete(&objects::secret_name(dump)?, &DeleteParams::default())
            .await
            .map(|_| ()),
        jobs.delete(&objects::job_name(dump)?, &DeleteParams::background())
            .await
            .map(|_| ()),
    ] {
        match result {
            Ok(()) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Action::await_change())
}
