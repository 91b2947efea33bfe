//! The checked-in CRD YAML (in crds/ and in the Helm chart) is exactly what the types generate.

#[test]
fn checked_in_crds_match_the_types() {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in [here.to_path_buf(), here.join("../charts/dumplens/crds")] {
        for (file, yaml) in crds::all_yaml() {
            let path = dir.join(file);
            let checked_in = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                checked_in == yaml,
                "{} is stale: run `cargo run -p crds --bin crdgen -- crds/ charts/dumplens/crds/` and commit it",
                path.display()
            );
        }
    }
}
