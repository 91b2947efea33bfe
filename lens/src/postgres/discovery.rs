//! Finding PostgreSQL binaries on the machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::PgError;

/// The oldest server major version a managed cluster may use. pg_dump 15 is the oldest output
/// the fixtures carry, and Debian 12 ships 15.
pub const MIN_SERVER_MAJOR: u32 = 15;

/// Environment variable naming a directory that holds `initdb` and `postgres`.
pub const BINDIR_ENV: &str = "DUMPLENS_PG_BINDIR";

/// Where the setup command installs PostgreSQL, relative to the project folder.
pub const PROJECT_INSTALL: &str = ".tools/postgres/bin";

/// A PostgreSQL installation: its `bin` directory and the server version found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgInstall {
    pub bin_dir: PathBuf,
    /// As `postgres --version` reports it, e.g. `18.6`.
    pub version: String,
    pub major: u32,
}

impl PgInstall {
    /// The path of one of this installation's programs (`pg_restore`, `psql`, ...).
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// Reads the version of the server binaries in `bin_dir`.
    pub fn probe(bin_dir: &Path) -> Result<Self, PgError> {
        let bin_dir = bin_dir
            .canonicalize()
            .map_err(|_| PgError::NotAnInstall(bin_dir.to_path_buf()))?;
        if !bin_dir.join("initdb").is_file() || !bin_dir.join("postgres").is_file() {
            return Err(PgError::NotAnInstall(bin_dir));
        }
        let output = Command::new(bin_dir.join("postgres"))
            .arg("--version")
            .output()
            .map_err(|_| PgError::NotAnInstall(bin_dir.clone()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let (version, major) =
            parse_version(&text).ok_or_else(|| PgError::NotAnInstall(bin_dir.clone()))?;
        Ok(Self {
            bin_dir,
            version,
            major,
        })
    }
}

/// Parses `postgres (PostgreSQL) 18.6` (or `15.18 (Debian 15.18-0+deb12u1)`) into the version
/// and its major number.
pub fn parse_version(text: &str) -> Option<(String, u32)> {
    let rest = text.split(')').nth(1)?.trim();
    let version = rest.split_whitespace().next()?.to_string();
    let major = version
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((version, major))
}

/// The places to look, in order of preference.
#[derive(Debug, Clone, Default)]
pub struct SearchPath {
    /// An explicit setting (`--pg-bindir` or `DUMPLENS_PG_BINDIR`): used alone when given.
    pub explicit: Option<PathBuf>,
    /// Candidate `bin` directories, most preferred first.
    pub candidates: Vec<PathBuf>,
}

impl SearchPath {
    /// The standard order: the explicit setting, the project-local install (looked up from the
    /// running executable upwards, so `target/*/dumplens` finds the checkout's `.tools`), then
    /// `pg_config --bindir`, then Debian's `/usr/lib/postgresql/*/bin`, newest major first.
    pub fn standard(explicit: Option<PathBuf>) -> Self {
        let mut candidates = Vec::new();
        if let Ok(exe) = std::env::current_exe() {
            candidates.extend(exe.ancestors().skip(1).map(|dir| dir.join(PROJECT_INSTALL)));
        }
        if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
            && output.status.success()
        {
            let dir = String::from_utf8_lossy(&output.stdout).trim().to_string();
            candidates.push(PathBuf::from(dir));
        }
        candidates.extend(debian_bindirs(Path::new("/usr/lib/postgresql")));
        Self {
            explicit,
            candidates,
        }
    }

    /// Picks the first usable installation. An explicit setting that does not hold a usable
    /// installation is an error, never silently replaced by another one.
    pub fn find(&self) -> Result<PgInstall, PgError> {
        if let Some(dir) = &self.explicit {
            return require_supported(PgInstall::probe(dir)?);
        }
        let mut too_old = None;
        for dir in &self.candidates {
            match PgInstall::probe(dir) {
                Ok(install) if install.major >= MIN_SERVER_MAJOR => return Ok(install),
                Ok(install) => too_old = too_old.or(Some(install)),
                Err(_) => continue,
            }
        }
        match too_old {
            Some(install) => require_supported(install),
            None => Err(PgError::NotFound {
                searched: self.candidates.clone(),
            }),
        }
    }
}

/// A client program (`pg_restore`, `psql`) and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientProgram {
    pub path: PathBuf,
    pub version: String,
    pub major: u32,
}

impl ClientProgram {
    fn probe(bin_dir: &Path, name: &str) -> Option<Self> {
        let path = bin_dir.join(name).canonicalize().ok()?;
        let output = Command::new(&path).arg("--version").output().ok()?;
        let (version, major) = parse_version(&String::from_utf8_lossy(&output.stdout))?;
        Some(Self {
            path,
            version,
            major,
        })
    }
}

impl SearchPath {
    /// The newest `name` (e.g. `pg_restore`) among the candidates, as a newer client reads
    /// everything an older one does; only the explicit directory when one is given.
    pub fn find_client(&self, name: &str) -> Result<ClientProgram, PgError> {
        let dirs: Vec<&PathBuf> = match &self.explicit {
            Some(dir) => vec![dir],
            None => self.candidates.iter().collect(),
        };
        dirs.into_iter()
            .filter_map(|dir| ClientProgram::probe(dir, name))
            .max_by_key(|program| program.major)
            .ok_or_else(|| PgError::NoClient {
                program: name.to_string(),
                searched: self
                    .explicit
                    .iter()
                    .chain(&self.candidates)
                    .cloned()
                    .collect(),
            })
    }
}

fn require_supported(install: PgInstall) -> Result<PgInstall, PgError> {
    if install.major < MIN_SERVER_MAJOR {
        return Err(PgError::TooOld {
            version: install.version,
            bin_dir: install.bin_dir,
            needed: MIN_SERVER_MAJOR,
        });
    }
    Ok(install)
}

/// `/usr/lib/postgresql/<major>/bin` directories, newest major first.
fn debian_bindirs(root: &Path) -> Vec<PathBuf> {
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    majors.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    majors.into_iter().map(|(_, dir)| dir).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_and_debian_version_strings() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 18.6\n"),
            Some(("18.6".into(), 18))
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some(("15.18".into(), 15))
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 19beta1"),
            Some(("19beta1".into(), 19))
        );
        assert_eq!(parse_version("something else"), None);
    }

    #[test]
    fn debian_layout_is_ordered_newest_major_first() {
        let root = tempfile::tempdir().unwrap();
        for major in ["9", "15", "13", "not-a-version"] {
            std::fs::create_dir_all(root.path().join(major).join("bin")).unwrap();
        }
        let dirs = debian_bindirs(root.path());
        let names: Vec<_> = dirs
            .iter()
            .map(|d| d.parent().unwrap().file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["15", "13", "9"]);
    }

    #[test]
    fn nothing_found_names_every_place_searched() {
        let empty = tempfile::tempdir().unwrap();
        let search = SearchPath {
            explicit: None,
            candidates: vec![empty.path().join("a"), empty.path().join("b")],
        };
        let err = search.find().unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, PgError::NotFound { .. }));
        assert!(message.contains(&*empty.path().join("a").to_string_lossy()));
        assert!(message.contains("./dev setup"), "{message}");
    }

    #[test]
    fn explicit_setting_that_holds_no_server_is_an_error_not_a_fallback() {
        let empty = tempfile::tempdir().unwrap();
        let search = SearchPath {
            explicit: Some(empty.path().to_path_buf()),
            candidates: SearchPath::standard(None).candidates,
        };
        let err = search.find().unwrap_err();
        assert!(matches!(err, PgError::NotAnInstall(_)), "{err}");
    }

    #[test]
    fn a_too_old_server_is_refused_with_the_version_needed() {
        let dir = tempfile::tempdir().unwrap();
        // A stand-in `postgres` that reports an old version (the real old server is not here).
        for name in ["initdb", "postgres"] {
            let path = dir.path().join(name);
            std::fs::write(&path, "#!/bin/sh\necho 'postgres (PostgreSQL) 12.3'\n").unwrap();
            let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
            std::fs::set_permissions(&path, executable).unwrap();
        }
        let search = SearchPath {
            explicit: None,
            candidates: vec![dir.path().to_path_buf()],
        };
        let message = search.find().unwrap_err().to_string();
        assert!(message.contains("12.3"), "{message}");
        assert!(message.contains("15 or newer"), "{message}");
    }
}
