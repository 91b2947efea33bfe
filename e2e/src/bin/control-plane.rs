//! Starts the test control plane and the test pod runner by hand (for debugging and demos),
//! prints the kubeconfig path, and stops everything on Ctrl-C or SIGTERM.
//!
//! `cargo run -p e2e --bin control-plane`

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let started = std::time::Instant::now();
    let result = async {
        let bin_dir = e2e::control_plane_binaries()?;
        let dir = tempfile::Builder::new()
            .prefix("dumplens-control-plane-")
            .tempdir()
            .map_err(|source| e2e::HarnessError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        let plane = e2e::ControlPlane::start(&bin_dir, dir.path())?;
        Ok::<_, e2e::HarnessError>((dir, plane))
    }
    .await;
    let (dir, plane) = match result {
        Ok(started) => started,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let runner = tokio::spawn(e2e::run_pod_runner(
        plane.kubeconfig.clone(),
        dir.path().join("pods"),
    ));
    println!(
        "control plane ready in {:.1} s; export KUBECONFIG={}",
        started.elapsed().as_secs_f64(),
        plane.kubeconfig.display()
    );
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    runner.abort();
    drop(plane);
    drop(dir);
    eprintln!("stopped");
    ExitCode::SUCCESS
}
