//! Where uploaded dump files live: one file per upload, named by its id, in the uploads
//! directory the api writes and the operator (which deletes them) and restore Jobs read.

use std::path::{Path, PathBuf};

use crate::sandbox::{self, SandboxError};

/// The file of upload `id` in `dir`; the id must be a sandbox-style id, so it cannot name
/// anything outside `dir`.
pub fn path(dir: &Path, id: &str) -> Result<PathBuf, SandboxError> {
    sandbox::validate_id(id)?;
    Ok(dir.join(id))
}
