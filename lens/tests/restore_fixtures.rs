//! Every fixture dump restores, as a sandbox role, into exactly the facts EXPECTED.json gives.

use std::collections::BTreeMap;
use std::sync::Arc;

use lens::dump::{self, Limits};
use lens::restore::{RestoreOptions, RestoreSummary, Target, restore};
use lens::testing::{admin_server_url, expected_facts, fixture};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

/// The facts EXPECTED.json lists, measured on a restored database the same way.
async fn measure(database: &str) -> Value {
    let url = admin_server_url().with_database(database);
    let mut conn = PgConnection::connect_with(&url.connect_options())
        .await
        .unwrap();
    let mut facts = serde_json::Map::new();
    for (name, sql) in [
        (
            "foreign_keys",
            "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE contype = 'f' AND nspname = 'public'",
        ),
        (
            "views",
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE relkind = 'v' AND nspname = 'public'",
        ),
        (
            "sequences",
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE relkind = 'S' AND nspname = 'public'",
        ),
        (
            "functions",
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = pronamespace WHERE nspname = 'public'",
        ),
        (
            "triggers",
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal",
        ),
        (
            "enums",
            "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = typnamespace WHERE typtype = 'e' AND nspname = 'public'",
        ),
        (
            "indexes",
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE relkind = 'i' AND nspname = 'public'",
        ),
    ] {
        let value: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
        facts.insert(name.into(), json!(value));
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', nspname, relname) FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace
         WHERE relkind IN ('r', 'p') AND nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut rows = BTreeMap::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM ONLY {table}"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        rows.insert(table, n);
    }
    facts.insert("rows_only".into(), json!(rows));
    Value::Object(facts)
}

async fn restore_fixture(name: &str) -> RestoreSummary {
    let id = lens::sandbox::new_id();
    let target = Target::Admin(admin_server_url());
    restore(
        &fixture(name),
        &id,
        &target,
        &RestoreOptions::default(),
        Arc::new(|_| {}),
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn restores_exactly(name: &str, format: &str, compression: Option<&str>) {
    let expected = expected_facts();
    let file = &expected["files"][name];
    let info = dump::inspect(&fixture(name), &Limits::default()).unwrap();
    assert_eq!(json!(info.format), json!(format), "{name}");
    assert_eq!(info.compression.as_deref(), compression, "{name}");
    let dumped_by = file["pg_dump"].as_str().unwrap();
    assert!(
        info.pg_dump_version
            .as_deref()
            .unwrap()
            .starts_with(dumped_by),
        "{name}: {:?}",
        info.pg_dump_version
    );

    let summary = restore_fixture(name).await;
    assert!(summary.errors.is_empty(), "{name}: {:?}", summary.errors);
    let databases = file["databases"].as_object().unwrap();
    assert_eq!(
        summary.databases.len(),
        databases.len(),
        "{name}: {summary:?}"
    );
    for restored in &summary.databases {
        // A single-database file maps to its one entry (a plain pg_dump does not name its
        // database, and pagila-v2's archive calls it pagila_v2); pg_dumpall files by name.
        let facts_key = if databases.len() == 1 {
            databases.values().next().unwrap()
        } else {
            &databases[restored.name.as_deref().unwrap()]
        };
        let facts_key = facts_key.as_str().unwrap();
        let expected = &expected["facts"][facts_key];
        let measured = measure(&restored.sandbox).await;
        for (fact, value) in expected.as_object().unwrap() {
            assert_eq!(&measured[fact], value, "{name}: {fact} of {facts_key}");
        }
        let tables = expected["rows_only"].as_object().unwrap().len() as u64;
        assert_eq!(
            restored.tables, tables,
            "{name}: table count in the summary"
        );
    }
}

#[tokio::test]
async fn pagila_custom_pg18() {
    restores_exactly("pagila.pg18.custom.dump", "custom", Some("gzip")).await;
}

#[tokio::test]
async fn pagila_custom_pg15() {
    restores_exactly("pagila.pg15.custom.dump", "custom", Some("gzip")).await;
}

#[tokio::test]
async fn pagila_plain_gzip() {
    restores_exactly("pagila.pg18.sql.gz", "plain", Some("gzip")).await;
}

#[tokio::test]
async fn pagila_tar() {
    restores_exactly("pagila.pg18.tar", "tar", Some("none")).await;
}

#[tokio::test]
async fn pagila_directory_packed_as_tar() {
    restores_exactly("pagila.pg18.dir.tar", "directory", Some("gzip")).await;
}

#[tokio::test]
async fn pagila_v2_custom() {
    restores_exactly("pagila-v2.pg18.custom.dump", "custom", Some("gzip")).await;
}

#[tokio::test]
async fn chinook_plain_pg15() {
    restores_exactly("chinook.pg15.sql", "plain", None).await;
}

#[tokio::test]
async fn chinook_custom_pg18() {
    restores_exactly("chinook.pg18.custom.dump", "custom", Some("gzip")).await;
}

#[tokio::test]
async fn world_custom() {
    restores_exactly("world.pg18.custom.dump", "custom", Some("gzip")).await;
}

#[tokio::test]
async fn cluster_dumpall_as_two_databases() {
    restores_exactly("cluster.pg18.dumpall.sql", "dumpall", None).await;
    let info = dump::inspect(&fixture("cluster.pg18.dumpall.sql"), &Limits::default()).unwrap();
    assert_eq!(info.databases, ["chinook", "world"]);
}

/// Writes `name` re-packed by `pack` into a temporary directory; returns the directory (kept
/// alive by the caller) and the new file.
fn repacked(
    name: &str,
    pack: impl FnOnce(&[u8], &std::path::Path),
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = lens::testing::reachable_tempdir();
    let path = dir.path().join(format!("{name}.repacked"));
    pack(&std::fs::read(fixture(name)).unwrap(), &path);
    (dir, path)
}

async fn restores_like(
    name: &str,
    path: &std::path::Path,
    format: &str,
    compression: Option<&str>,
    facts_key: &str,
) {
    let info = dump::inspect(path, &Limits::default()).unwrap();
    assert_eq!(json!(info.format), json!(format), "{name}");
    assert_eq!(info.compression.as_deref(), compression, "{name}");
    let id = lens::sandbox::new_id();
    let summary = restore(
        path,
        &id,
        &Target::Admin(admin_server_url()),
        &RestoreOptions::default(),
        Arc::new(|_| {}),
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let measured = measure(&summary.databases[0].sandbox).await;
    let expected = &expected_facts()["facts"][facts_key];
    assert_eq!(measured["rows_only"], expected["rows_only"], "{name}");
    assert_eq!(measured["foreign_keys"], expected["foreign_keys"], "{name}");
}

#[tokio::test]
async fn a_plain_script_compressed_with_zstd() {
    let (_dir, path) = repacked("chinook.pg15.sql", |bytes, path| {
        std::fs::write(path, zstd::encode_all(bytes, 3).unwrap()).unwrap();
    });
    restores_like(
        "chinook.pg15.sql as zstd",
        &path,
        "plain",
        Some("zstd"),
        "chinook",
    )
    .await;
}

#[tokio::test]
async fn a_plain_script_compressed_with_lz4() {
    let (_dir, path) = repacked("chinook.pg15.sql", |bytes, path| {
        let mut encoder = lz4_flex::frame::FrameEncoder::new(std::fs::File::create(path).unwrap());
        std::io::Write::write_all(&mut encoder, bytes).unwrap();
        encoder.finish().unwrap();
    });
    restores_like(
        "chinook.pg15.sql as lz4",
        &path,
        "plain",
        Some("lz4"),
        "chinook",
    )
    .await;
}

#[tokio::test]
async fn a_directory_dump_uploaded_as_a_zip_of_its_folder() {
    let (_dir, path) = repacked("pagila.pg18.dir.tar", |bytes, path| {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let mut tar = tar::Archive::new(bytes);
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let name = format!(
                "pagila/{}",
                entry.path().unwrap().file_name().unwrap().to_string_lossy()
            );
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::copy(&mut entry, &mut zip).unwrap();
        }
        zip.finish().unwrap();
    });
    restores_like(
        "pagila directory as zip",
        &path,
        "directory",
        Some("gzip"),
        "pagila",
    )
    .await;
}

/// Restores `name` without the rows of `skipped`; checks those tables are empty and every
/// other table holds exactly its expected rows.
async fn restores_without_rows_of(name: &str, facts: &str, skipped: &[&str]) {
    let options = RestoreOptions {
        skip_table_data: skipped.iter().map(|t| t.parse().unwrap()).collect(),
        ..RestoreOptions::default()
    };
    let summary = restore(
        &fixture(name),
        &lens::sandbox::new_id(),
        &Target::Admin(admin_server_url()),
        &options,
        Arc::new(|_| {}),
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let warning = format!("skipped the rows of {} tables, as asked", skipped.len());
    assert!(
        summary.warnings.contains(&warning),
        "{name}: {:?}",
        summary.warnings
    );
    let measured = measure(&summary.databases[0].sandbox).await;
    for (table, rows) in expected_facts()["facts"][facts]["rows_only"]
        .as_object()
        .unwrap()
    {
        let wanted = if skipped.contains(&table.as_str()) {
            json!(0)
        } else {
            rows.clone()
        };
        assert_eq!(measured["rows_only"][table], wanted, "{name}: {table}");
    }
}

#[tokio::test]
async fn skipped_table_data_leaves_those_tables_empty_in_an_archive() {
    restores_without_rows_of(
        "pagila.pg18.custom.dump",
        "pagila",
        // Rows nothing references: skipping referenced rows fails their foreign keys.
        &["public.film_category", "public.film_actor"],
    )
    .await;
}

#[tokio::test]
async fn skipped_table_data_leaves_those_tables_empty_in_a_script() {
    restores_without_rows_of("chinook.pg15.sql", "chinook", &["public.invoice_line"]).await;
}
