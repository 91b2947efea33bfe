//! Prints the project's CustomResourceDefinitions, or writes them into each directory given:
//! `cargo run -p crds --bin crdgen -- crds/ charts/dumplens/crds/` refreshes the checked-in
//! copies (a test fails when they are stale).

fn main() {
    let targets: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    for (file, yaml) in crds::all_yaml() {
        if targets.is_empty() {
            print!("---\n{yaml}");
        }
        for dir in &targets {
            std::fs::write(dir.join(file), &yaml).expect("write the CRD");
        }
    }
}
