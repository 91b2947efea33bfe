//! The operator at scale, on the test control plane: N Dumps (500 by default) applied at once,
//! each restored by a Job whose command does nothing (`true`), so what is measured is the
//! operator's own work: sandbox, Secret, Job, status and schema graph per Dump.
//!
//! Prints, side by side with their baselines from the same run: the time until every Dump is
//! Ready against the time `kubectl apply` takes to write them; the operator's peak memory
//! against its memory with no Dumps; and the reconciles per Dump per minute while nothing
//! changes (every Dump has a 24h TTL, so no TTL requeue falls in the minute).
//!
//! `cargo bench --bench operator_scale`; `DUMPLENS_BENCH_DUMPS` changes N.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use crds::Dump;
use kube::Api;
use kube::api::ListParams;

const DUMPLENS: &str = env!("CARGO_BIN_EXE_dumplens");

fn memory_mib(pid: i32, field: &str) -> f64 {
    lens::testing::memory_mib(pid as u32, field)
}

fn reconciles(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("dumplens_reconciles_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the reconcile counter")
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would run this too: skip quietly then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let count: usize = std::env::var("DUMPLENS_BENCH_DUMPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let client = e2e::client().await;
    let ns = e2e::namespace(&client).await;
    let admin = lens::testing::admin_server_url();
    let args = ["--restore-command", "true"].map(OsStr::new);
    let operator = e2e::OperatorProcess::start(Path::new(DUMPLENS), admin.as_str(), &args);
    let idle_at_start = {
        operator.scrape().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        memory_mib(operator.pid(), "VmRSS:")
    };

    let manifests: String = (0..count)
        .map(|i| {
            format!(
                "apiVersion: dumplens.io/v1alpha1\nkind: Dump\nmetadata:\n  name: d{i}\nspec:\n  ttl: 24h\n  source:\n    url:\n      url: https://dumps.example/{i}.dump\n---\n"
            )
        })
        .collect();
    let started = Instant::now();
    let applied = e2e::kubectl(&["apply", "-n", &ns, "-f", "-"], Some(&manifests));
    assert!(applied.status.success(), "{applied:?}");
    let apply_time = started.elapsed();
    let dumps: Api<Dump> = Api::namespaced(client.clone(), &ns);
    loop {
        let list = dumps
            .list(&ListParams::default())
            .await
            .expect("list Dumps");
        let ready = list
            .items
            .iter()
            .filter(|d| d.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Ready"))
            .count();
        if ready == count {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "{ready} of {count} Ready after 30 min; see {}",
            operator.log.display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settle_time = started.elapsed();
    let peak = memory_mib(operator.pid(), "VmHWM:");

    // Idle: let the last writes' watch events pass, then count a quiet minute.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let before = reconciles(&operator.scrape().await);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let idle_reconciles = reconciles(&operator.scrape().await) - before;

    println!("operator with {count} Dumps (status only: restore Jobs run `true`)");
    println!(
        "  time until all Ready      {:>8.1} s   kubectl apply of them {:>6.1} s   ratio {:.1}x",
        settle_time.as_secs_f64(),
        apply_time.as_secs_f64(),
        settle_time.as_secs_f64() / apply_time.as_secs_f64()
    );
    println!(
        "  operator peak memory      {peak:>8.1} MiB idle with no Dumps {idle_at_start:>6.1} MiB ratio {:.1}x (target < 100 MiB)",
        peak / idle_at_start
    );
    println!(
        "  reconciles while idle     {idle_reconciles:>8} in 60 s = {:.3} per Dump per minute (target 0)",
        idle_reconciles as f64 / count as f64
    );
}
