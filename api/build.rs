//! Points the embedded web UI at `web/dist` when it has been built (`./dev setup` builds it),
//! or at an empty directory so the API builds without Node; the server then says how to get
//! the UI instead of serving it.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dist = manifest.join("../web/dist");
    println!("cargo::rerun-if-changed={}", dist.display());
    let folder = if dist.join("index.html").is_file() {
        dist.canonicalize().expect("web/dist is readable")
    } else {
        let empty =
            PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("no-web-ui");
        std::fs::create_dir_all(&empty).expect("OUT_DIR is writable");
        empty
    };
    println!("cargo::rustc-env=DUMPLENS_WEB_DIST={}", folder.display());
}
