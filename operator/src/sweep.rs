//! The periodic sweep: drops sandboxes on the server that no Dump owns (left by a Dump deleted
//! while the operator was down and its finalizer removed by hand, or by a crash between
//! creating a sandbox and recording it).

use std::collections::HashSet;
use std::sync::Arc;

use crds::Dump;
use kube::Api;
use kube::api::ListParams;
use lens::sandbox;

use crate::{Context, Error};

pub(crate) async fn run(context: Arc<Context>) {
    let mut interval = tokio::time::interval(context.config.sweep_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match sweep(&context).await {
            Ok(0) => {}
            Ok(dropped) => tracing::info!(dropped, "dropped sandboxes no Dump owns"),
            Err(err) => tracing::warn!(%err, "the sweep failed; it runs again later"),
        }
    }
}

/// Returns how many sandboxes it dropped.
async fn sweep(context: &Context) -> Result<usize, Error> {
    let mut admin = context.admin.acquire().await?;
    // Sandboxes first, Dumps second: a sandbox seen here was made for a Dump that existed
    // already, so it is in the list below unless that Dump is gone.
    let on_server = sandbox::existing_ids(&mut admin).await?;
    let dumps: Api<Dump> = Api::all(context.client.clone());
    let owned: HashSet<String> = dumps
        .list_metadata(&ListParams::default())
        .await?
        .items
        .iter()
        .filter_map(|d| d.metadata.uid.as_deref())
        .map(crds::sandbox_id)
        .collect();
    let mut dropped = 0;
    for id in on_server.into_iter().filter(|id| !owned.contains(id)) {
        let names = sandbox::names_on_server(&mut admin, &id).await?;
        sandbox::drop_all(&mut admin, &names).await?;
        context.store.forget_sandbox(&id).await?;
        dropped += 1;
    }
    Ok(dropped)
}
