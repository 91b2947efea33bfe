//! The standalone adapter of the dump lifecycle: state in the metadata store, each restore in a
//! child process (`dumplens restore --target-url`, the same entrypoint a Kubernetes Job runs),
//! so a hostile dump that exhausts the restore's memory takes down only that child.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use lens::conninfo::ServerUrl;
use lens::dump::{self, DumpFormat, Limits};
use lens::fetch::RemoteSource;
use lens::lifecycle::{Event, Phase};
use lens::sandbox::{self, SandboxNames};
use lens::store::{DumpRecord, NewDump, Store, StoreError};
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sandbox(#[from] sandbox::SandboxError),
    #[error("cannot read {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the dump is {0}: wait until its restore has ended")]
    Busy(Phase),
}

/// Drives dumps through their lifecycle on this server.
#[derive(Clone, Debug)]
pub struct Worker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    admin: ServerUrl,
    /// The `dumplens` executable, to run restores as child processes.
    exe: PathBuf,
    /// Sweep sandboxes no record owns: only on a server PgDumpLens owns alone.
    sweep_orphans: bool,
    /// Where downloaded files go (the uploads directory).
    downloads: PathBuf,
}

impl Worker {
    pub fn new(
        store: Store,
        admin: ServerUrl,
        exe: PathBuf,
        sweep_orphans: bool,
        downloads: PathBuf,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                admin,
                exe,
                sweep_orphans,
                downloads,
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Records a dump file the user pointed at (kept when the dump goes) and starts restoring
    /// it. The same file given again is the same dump, unless that one has expired.
    pub async fn add_file(
        &self,
        path: &Path,
        ttl: Option<Duration>,
    ) -> Result<DumpRecord, WorkerError> {
        let path = path.canonicalize().map_err(|source| WorkerError::File {
            path: path.to_path_buf(),
            source,
        })?;
        let file = path.to_string_lossy().into_owned();
        let existing = self
            .store()
            .list()
            .await?
            .into_iter()
            .find(|d| d.file == file && !d.owns_file && d.phase.0 != Phase::Expired);
        if let Some(existing) = existing {
            return Ok(existing);
        }
        let size_bytes = std::fs::metadata(&path)
            .map_err(|source| WorkerError::File {
                path: path.clone(),
                source,
            })?
            .len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.clone());
        self.add(NewDump {
            id: sandbox::new_id(),
            name,
            file: path,
            owns_file: false,
            size_bytes,
            ttl,
            source: None,
        })
        .await
    }

    /// Records an uploaded file (this server's to delete with the dump) as dump `id` and starts
    /// restoring it.
    pub async fn add_upload(
        &self,
        id: &str,
        name: &str,
        path: &Path,
        ttl: Option<Duration>,
    ) -> Result<DumpRecord, WorkerError> {
        let size_bytes = std::fs::metadata(path)
            .map_err(|source| WorkerError::File {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        self.add(NewDump {
            id: id.to_string(),
            name: name.to_string(),
            file: path.to_path_buf(),
            owns_file: true,
            size_bytes,
            ttl,
            source: None,
        })
        .await
    }

    /// Records a dump this server downloads (into its uploads directory, so the file goes with
    /// the dump) and starts fetching it.
    pub async fn add_remote(
        &self,
        source: RemoteSource,
        name: &str,
        ttl: Option<Duration>,
    ) -> Result<DumpRecord, WorkerError> {
        let id = sandbox::new_id();
        let file = lens::uploads::path(&self.inner.downloads, &id).expect("a new id is valid");
        self.add(NewDump {
            id,
            name: name.to_string(),
            file,
            owns_file: true,
            size_bytes: 0,
            ttl,
            source: Some(source),
        })
        .await
    }

    async fn add(&self, dump: NewDump) -> Result<DumpRecord, WorkerError> {
        let record = self.store().insert(&dump).await?;
        self.spawn_restore(record.id.clone());
        Ok(record)
    }

    /// After a restart: work that was under way is redone from the start (its sandbox dropped
    /// first, so nothing is duplicated), and the fingerprints of Ready dumps are finished.
    pub async fn recover(&self) -> Result<(), WorkerError> {
        // Downloads cut off by the restart: each is fetched again from the start.
        let _ = tokio::fs::remove_dir_all(self.scratch_dir()).await;
        let mut ready = Vec::new();
        for record in self.store().list().await? {
            if record.phase.0.is_in_progress() {
                tracing::info!(id = %record.id, phase = %record.phase.0, "redoing an interrupted restore");
                self.store().reset_to_pending(&record.id).await?;
                self.spawn_restore(record.id);
            } else if record.phase.0 == Phase::Ready {
                ready.push(record.id);
            }
        }
        let worker = self.clone();
        tokio::spawn(async move {
            for id in ready {
                worker.fingerprint(&id).await;
            }
        });
        Ok(())
    }

    /// Takes the fingerprints of Ready dump `id`'s tables that have none yet. Diffs until this
    /// is done read whole tables; a failure here (the dump deleted meanwhile) costs only that.
    async fn fingerprint(&self, id: &str) {
        let started = std::time::Instant::now();
        match self
            .store()
            .record_fingerprints(&self.inner.admin, id)
            .await
        {
            Ok(0) => {}
            Ok(tables) => {
                tracing::info!(%id, tables, seconds = started.elapsed().as_secs_f64(), "tables fingerprinted");
            }
            Err(err) => tracing::warn!(%id, %err, "tables not fingerprinted"),
        }
    }

    fn spawn_restore(&self, id: String) {
        let worker = self.clone();
        tokio::spawn(async move {
            if let Err(err) = worker.restore(&id).await {
                tracing::error!(%id, %err, "restore bookkeeping failed");
            }
        });
    }

    async fn restore(&self, id: &str) -> Result<(), WorkerError> {
        let store = self.store();
        let Some(record) = store.get(id).await? else {
            return Ok(());
        };
        if let Some(source) = &record.source {
            if store.apply(id, &Event::FetchStarted).await?.is_none() {
                return Ok(());
            }
            if let Err(reason) = self.fetch(&record, source).await {
                return self.fail(id, reason).await;
            }
        }
        if store.apply(id, &Event::RestoreStarted).await?.is_none() {
            return Ok(());
        }
        match self.run_restore(&record).await {
            Ok(databases) => {
                store.apply(id, &Event::Restored).await?;
                match self.analyze(id, &databases).await {
                    Ok(()) => {
                        store.apply(id, &Event::Analyzed).await?;
                        tracing::info!(%id, name = %record.name, "dump is ready");
                        self.fingerprint(id).await;
                    }
                    Err(reason) => self.fail(id, reason).await?,
                }
            }
            Err(reason) => self.fail(id, reason).await?,
        }
        Ok(())
    }

    /// Downloads the file of a dump with a remote source to where its record says. A download
    /// cut off by a restart leaves only a scratch file, removed at the next start.
    async fn fetch(&self, record: &DumpRecord, source: &RemoteSource) -> Result<(), String> {
        let scratch = self.scratch_dir();
        tokio::fs::create_dir_all(&scratch)
            .await
            .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
        let fetched = source
            .fetch(&Limits::default(), &scratch)
            .await
            .map_err(|e| e.to_string())?;
        fetched
            .path
            .persist(&record.file)
            .map_err(|e| format!("cannot keep the download: {e}"))?;
        self.store()
            .set_size(&record.id, fetched.bytes)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(id = %record.id, sha256 = %fetched.sha256, bytes = fetched.bytes, "fetched");
        Ok(())
    }

    fn scratch_dir(&self) -> PathBuf {
        self.inner.downloads.join(".fetching")
    }

    async fn fail(&self, id: &str, reason: String) -> Result<(), WorkerError> {
        tracing::warn!(%id, %reason, "dump failed");
        self.drop_sandbox(id).await?;
        self.store().apply(id, &Event::Failed(reason)).await?;
        Ok(())
    }

    /// Creates the sandbox and runs `dumplens restore` into it as the sandbox role. Returns the
    /// sandbox databases, or the reason it failed, in words for a person.
    async fn run_restore(&self, record: &DumpRecord) -> Result<Vec<String>, String> {
        let file = PathBuf::from(&record.file);
        let info = {
            let file = file.clone();
            tokio::task::spawn_blocking(move || dump::inspect(&file, &Limits::default()))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?
        };
        self.store()
            .set_details(
                &record.id,
                serde_json::to_value(info.format)
                    .ok()
                    .as_ref()
                    .and_then(|v| v.as_str()),
                info.pg_dump_version.as_deref(),
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
        let count = if info.format == DumpFormat::Dumpall {
            info.databases.len().max(1)
        } else {
            1
        };
        let names = SandboxNames::new(&record.id, count).map_err(|e| e.to_string())?;
        let password = sandbox::new_password();
        let mut admin = PgConnection::connect_with(&self.inner.admin.connect_options())
            .await
            .map_err(|e| e.to_string())?;
        // A previous attempt (before a restart) may have left a sandbox: start clean.
        sandbox::drop_all(&mut admin, &names)
            .await
            .map_err(|e| e.to_string())?;
        sandbox::create(&mut admin, &names, &password)
            .await
            .map_err(|e| e.to_string())?;
        let _ = admin.close().await;

        let role = self
            .inner
            .admin
            .with_login(&names.role, &password)
            .with_database(&names.databases[0]);
        let mut command = tokio::process::Command::new(&self.inner.exe);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent. A restore must
        // not outlive the server that records it (tokio's worker threads, which fork it, live
        // as long as the runtime).
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = command
            .arg("restore")
            .arg(&file)
            .args(["--json", "--progress-json", "--id", &record.id])
            .args(
                names
                    .databases
                    .iter()
                    .flat_map(|db| ["--target-database", db.as_str()]),
            )
            // The URL carries a password: the environment, not the command line.
            .env("DUMPLENS_TARGET_URL", role.as_str())
            .env_remove("DUMPLENS_ADMIN_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.inner.exe.display()))?;
        let mut stderr = child.stderr.take().expect("piped");
        let stderr_task = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut summary = None;
        while let Ok(Some(line)) = lines.next_line().await {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if value["event"] == "progress" {
                let _ = self.store().set_progress(&record.id, &value).await;
            } else {
                summary = Some(value);
            }
        }
        let status = child.wait().await.map_err(|e| e.to_string())?;
        let stderr = stderr_task.await.unwrap_or_default();
        if let Some(summary) = &summary {
            let _ = self
                .store()
                .set_details(&record.id, None, None, Some(summary))
                .await;
        }
        if status.success() {
            return Ok(names.databases);
        }
        let first_error = summary.as_ref().and_then(|s| s["errors"].get(0)).map(|e| {
            format!(
                "{}: {}",
                e["location"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or("")
            )
        });
        let error_line = stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .map(str::to_string);
        Err(first_error
            .or(error_line)
            .unwrap_or_else(|| format!("the restore process ended with {status}")))
    }

    /// Builds and stores the schema graph of each restored database.
    async fn analyze(&self, id: &str, databases: &[String]) -> Result<(), String> {
        for database in databases {
            let url = self.inner.admin.with_database(database);
            self.store()
                .record_schema_graph(id, &url)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Drops the sandbox of dump `id`, whatever its size (databases of a pg_dumpall dump are
    /// found by name).
    async fn drop_sandbox(&self, id: &str) -> Result<(), WorkerError> {
        let mut admin = sandbox::connect(&self.inner.admin.connect_options()).await?;
        let names = owned_names(&mut admin, id).await?;
        sandbox::drop_all(&mut admin, &names).await?;
        Ok(())
    }

    /// Deletes a settled dump: its record, its sandbox, and its file when it was an upload.
    /// `Ok(None)` when there is no such dump; an error says when it is still being restored.
    pub async fn delete(&self, id: &str) -> Result<Option<DumpRecord>, WorkerError> {
        let Some(record) = self.store().delete_settled(id).await? else {
            return match self.store().get(id).await? {
                Some(record) => Err(WorkerError::Busy(record.phase.0)),
                None => Ok(None),
            };
        };
        self.drop_sandbox(id).await?;
        if record.owns_file {
            let _ = std::fs::remove_file(&record.file);
        }
        tracing::info!(%id, name = %record.name, "dump deleted");
        Ok(Some(record))
    }

    /// Applies the TTL: drops the sandbox (and the file, when it was an upload) of every dump
    /// whose time is up; the record stays, Expired.
    pub async fn expire_due(&self) -> Result<(), WorkerError> {
        for record in self.store().due_for_expiry().await? {
            self.drop_sandbox(&record.id).await?;
            if record.owns_file {
                let _ = std::fs::remove_file(&record.file);
            }
            self.store().apply(&record.id, &Event::Expired).await?;
            tracing::info!(id = %record.id, "dump expired");
        }
        Ok(())
    }

    /// Drops sandbox roles and databases that no live record owns (left by a crash between
    /// creating a sandbox and recording it, or by a deleted record).
    pub async fn sweep_orphans(&self) -> Result<(), WorkerError> {
        if !self.inner.sweep_orphans {
            return Ok(());
        }
        let live: HashSet<String> = self
            .store()
            .list()
            .await?
            .into_iter()
            .filter(|d| d.phase.0 != Phase::Expired)
            .map(|d| d.id)
            .collect();
        let mut admin = sandbox::connect(&self.inner.admin.connect_options()).await?;
        for id in sandbox::existing_ids(&mut admin).await? {
            if !live.contains(&id) {
                let names = owned_names(&mut admin, &id).await?;
                tracing::info!(%id, "dropping a sandbox no dump owns");
                sandbox::drop_all(&mut admin, &names).await?;
            }
        }
        Ok(())
    }

    /// Runs expiry and the orphan sweep every `interval`, forever.
    pub async fn run_sweeps(self, interval: Duration) {
        loop {
            if let Err(err) = self.expire_due().await {
                tracing::warn!(%err, "expiry sweep failed");
            }
            if let Err(err) = self.sweep_orphans().await {
                tracing::warn!(%err, "orphan sweep failed");
            }
            tokio::time::sleep(interval).await;
        }
    }
}

async fn owned_names(admin: &mut PgConnection, id: &str) -> Result<SandboxNames, WorkerError> {
    Ok(sandbox::names_on_server(admin, id).await?)
}
