//! The Dump CRD as the real API server enforces and shows it.

fn dump(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: dumplens.io/v1alpha1\nkind: Dump\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

#[tokio::test]
async fn the_api_server_enforces_the_dump_rules() {
    let client = e2e::client().await;
    let ns = e2e::namespace(&client).await;
    let apply = |yaml: String| e2e::kubectl(&["apply", "-n", &ns, "-f", "-"], Some(&yaml));

    let ok = apply(dump(
        "ok",
        "  source:\n    url:\n      url: https://example.com/pagila.dump\n  ttl: 24h\n",
    ));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    for (spec, expected) in [
        (
            "  source:\n    url:\n      url: https://x/y\n    pvc:\n      claim: c\n      path: p\n",
            "set exactly one of upload, url, s3 or pvc",
        ),
        (
            "  source: {}\n",
            "set exactly one of upload, url, s3 or pvc",
        ),
        (
            "  source:\n    url:\n      url: https://x/y\n  ttl: soon\n",
            "ttl must be a duration",
        ),
        (
            "  source:\n    url:\n      url: file:///etc/passwd\n",
            "url must be http or https",
        ),
        (
            "  source:\n    pvc:\n      claim: c\n      path: ../../etc/passwd\n",
            "path must not contain ..",
        ),
        (
            "  source:\n    url:\n      url: https://x/y\n  expiryPolicy: Never\n",
            "Unsupported value: \"Never\"",
        ),
    ] {
        let output = apply(dump("bad", spec));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "accepted: {spec}");
        assert!(stderr.contains(expected), "{spec}: {stderr}");
    }

    let changed = apply(dump(
        "ok",
        "  source:\n    url:\n      url: https://example.com/other.dump\n",
    ));
    assert!(!changed.status.success());
    assert!(String::from_utf8_lossy(&changed.stderr).contains("spec.source is immutable"));

    let listed = e2e::kubectl(&["get", "dumps", "-n", &ns], None);
    let header = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    for column in ["NAME", "PHASE", "TABLES", "SIZE", "EXPIRES", "AGE"] {
        assert!(header.contains(column), "{header}");
    }
    let by_short_name = e2e::kubectl(
        &[
            "get",
            "dump",
            "ok",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.expiryPolicy}/{.spec.visibility}",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&by_short_name.stdout),
        "DropDatabase/Private"
    );
}

#[tokio::test]
async fn kubectl_explain_describes_the_source() {
    e2e::client().await;
    let output = e2e::kubectl(&["explain", "dump.spec.source"], None);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("exactly one of upload, url, s3 or pvc"),
        "{text}"
    );
    assert!(
        text.contains("An http or https URL the restore Job downloads"),
        "{text}"
    );
}

#[tokio::test]
async fn the_gitops_example_dump_is_valid() {
    let client = e2e::client().await;
    let ns = e2e::namespace(&client).await;
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/gitops/dump-example.yaml"
    );
    let output = e2e::kubectl(
        &["apply", "--dry-run=server", "-n", &ns, "-f", example],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
