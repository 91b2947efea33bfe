//! Prometheus metrics and the health endpoint of the operator.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabel {
    pub phase: String,
}

/// What the operator counts.
pub struct Metrics {
    registry: Registry,
    pub reconciles: Counter,
    pub failures: Counter,
    dumps: Family<PhaseLabel, Gauge>,
    pub restore_seconds: Histogram,
    /// The phase of every Dump seen (by UID), from which the per-phase gauge is set.
    phases: Mutex<HashMap<String, String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("dumplens");
        let reconciles = Counter::default();
        let failures = Counter::default();
        let dumps = Family::<PhaseLabel, Gauge>::default();
        let restore_seconds = Histogram::new(exponential_buckets(1.0, 2.0, 14));
        registry.register("reconciles", "Reconciliations of Dumps", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Reconciliations that failed",
            failures.clone(),
        );
        registry.register("dumps", "Dumps by phase", dumps.clone());
        registry.register(
            "restore_duration_seconds",
            "Time from a restore Job's start to its completion",
            restore_seconds.clone(),
        );
        Self {
            registry,
            reconciles,
            failures,
            dumps,
            restore_seconds,
            phases: Mutex::new(HashMap::new()),
        }
    }
}

impl Metrics {
    /// Records the phase of Dump `uid` (`None` once it is gone) and refreshes the gauge.
    pub fn set_phase(&self, uid: &str, phase: Option<&str>) {
        let mut phases = self.phases.lock().expect("not poisoned");
        match phase {
            Some(phase) => phases.insert(uid.to_string(), phase.to_string()),
            None => phases.remove(uid),
        };
        self.dumps.clear();
        for phase in phases.values() {
            self.dumps
                .get_or_create(&PhaseLabel {
                    phase: phase.clone(),
                })
                .inc();
        }
    }

    fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String");
        text
    }
}

/// Serves `/metrics` and `/healthz` on `addr` until the process stops.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(|State(metrics): State<Arc<Metrics>>| async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
                    .into_response()
            }),
        )
        .with_state(metrics);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await
}
