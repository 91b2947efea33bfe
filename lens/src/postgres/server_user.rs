//! PostgreSQL refuses to run as root. When PgDumpLens runs as root, the server runs as an
//! unprivileged system user instead, and the files it needs are handed to that user.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::unistd::{Gid, Uid, User};

use super::PgError;

/// The account the server runs as when we are root. `nobody` exists on every Linux system and
/// owns nothing else of value; creating a dedicated account would change the host's user list.
const UNPRIVILEGED_USER: &str = "nobody";

/// Who the PostgreSQL processes run as: `None` in `ServerUser::for_current_process` means "as
/// ourselves".
#[derive(Debug, Clone)]
pub struct ServerUser {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
}

impl ServerUser {
    /// `None` when we are not root (the server runs as us); the unprivileged user otherwise.
    pub fn for_current_process() -> Result<Option<Self>, PgError> {
        if !Uid::effective().is_root() {
            return Ok(None);
        }
        let user = User::from_name(UNPRIVILEGED_USER)
            .ok()
            .flatten()
            .ok_or_else(|| PgError::NoServerUser(UNPRIVILEGED_USER.into()))?;
        Ok(Some(Self {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
        }))
    }

    /// Makes `command` run as this user.
    pub fn apply(&self, command: &mut Command) {
        command.uid(self.uid.as_raw()).gid(self.gid.as_raw());
    }

    /// Hands a file or directory we created to this user.
    pub fn give(&self, path: &Path) -> Result<(), PgError> {
        nix::unistd::chown(path, Some(self.uid), Some(self.gid)).map_err(|errno| PgError::Io {
            path: path.to_path_buf(),
            source: errno.into(),
        })
    }

    /// Fails unless this user can search every directory on the way to `path` (it need not be
    /// able to list them). Ignores ACLs and supplementary groups: a conservative check.
    pub fn require_reachable(&self, path: &Path) -> Result<(), PgError> {
        for dir in path.ancestors().skip(1) {
            let Ok(meta) = std::fs::metadata(dir) else {
                continue;
            };
            let searchable = if meta.uid() == self.uid.as_raw() {
                meta.mode() & 0o100 != 0
            } else if meta.gid() == self.gid.as_raw() {
                meta.mode() & 0o010 != 0
            } else {
                meta.mode() & 0o001 != 0
            };
            if !searchable {
                return Err(PgError::Unreachable {
                    path: path.to_path_buf(),
                    user: self.name.clone(),
                });
            }
        }
        Ok(())
    }
}
