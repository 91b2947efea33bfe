//! Child processes that must not outlive us: a managed PostgreSQL server, or the control-plane
//! processes of the test harness.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::sync::watch;

/// A child process started from a thread of its own that lives exactly as long as the child.
/// The child gets `death_signal` when that thread ends, so also when this process dies, even by
/// SIGKILL (the kernel's parent-death signal is tied to the thread that forked, which is why a
/// short-lived thread must never start such a child).
#[derive(Debug)]
pub struct Supervised {
    pid: Pid,
    thread: Option<JoinHandle<()>>,
    exit: watch::Receiver<Option<String>>,
}

impl Supervised {
    /// Spawns `command` (in its own process group, so a terminal's Ctrl-C reaches only us).
    pub fn spawn(mut command: Command, death_signal: Signal) -> std::io::Result<Self> {
        command.process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(death_signal).map_err(std::io::Error::from)
            });
        }
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (exit_tx, exit) = watch::channel(None);
        let name = command.get_program().to_string_lossy().into_owned();
        let thread = std::thread::Builder::new()
            .name(format!("supervise {name}"))
            .spawn(move || {
                let mut child = match command.spawn() {
                    Ok(child) => child,
                    Err(err) => {
                        let _ = started_tx.send(Err(err));
                        return;
                    }
                };
                let _ = started_tx.send(Ok(child.id() as i32));
                let how = match child.wait() {
                    Ok(status) => describe_exit(status),
                    Err(err) => format!("could not be waited for ({err})"),
                };
                let _ = exit_tx.send(Some(how));
            })?;
        match started_rx.recv() {
            Ok(Ok(pid)) => Ok(Self {
                pid: Pid::from_raw(pid),
                thread: Some(thread),
                exit,
            }),
            Ok(Err(err)) => {
                let _ = thread.join();
                Err(err)
            }
            Err(_) => unreachable!("the supervising thread reports the spawn first"),
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// How the process ended, once it has.
    pub fn exit(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    /// Resolves with how the process ended.
    pub async fn exited(&self) -> String {
        let mut exit = self.exit.clone();
        match exit.wait_for(Option::is_some).await {
            Ok(how) => how.clone().expect("waited for Some"),
            Err(_) => unreachable!("the supervising thread reports the exit before it ends"),
        }
    }

    /// Sends `signal`, waits up to `grace` for the process to end, then sends `force`; returns
    /// once it has ended. Idempotent.
    pub fn stop(&mut self, signal: Signal, grace: Duration, force: Signal) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        let _ = kill(self.pid, signal);
        let deadline = Instant::now() + grace;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !thread.is_finished() {
            tracing::warn!(pid = %self.pid, "a child did not stop in time; forcing it");
            let _ = kill(self.pid, force);
        }
        let _ = thread.join();
    }
}

fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(signal) => format!("was killed by {signal}"),
            Err(_) => format!("was killed by signal {signal}"),
        },
        _ => "ended".into(),
    }
}
