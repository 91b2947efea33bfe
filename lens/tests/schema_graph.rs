//! The schema graph of restored fixtures holds what EXPECTED.json says they hold.

use std::sync::Arc;

use lens::restore::{RestoreOptions, Target, restore};
use lens::schema::{SCHEMA_GRAPH_VERSION, SchemaGraph, introspect};
use lens::testing::{admin_server_url, expected_facts, fixture};
use sqlx::{Connection, PgConnection};

async fn graph_of(file: &str) -> SchemaGraph {
    let id = lens::sandbox::new_id();
    let summary = restore(
        &fixture(file),
        &id,
        &Target::Admin(admin_server_url()),
        &RestoreOptions::default(),
        Arc::new(|_| {}),
    )
    .await
    .unwrap();
    let url = admin_server_url().with_database(&summary.databases[0].sandbox);
    let mut conn = PgConnection::connect_with(&url.connect_options())
        .await
        .unwrap();
    introspect(&mut conn).await.unwrap()
}

#[tokio::test]
async fn pagila_graph_matches_the_expected_facts() {
    let graph = graph_of("pagila.pg18.custom.dump").await;
    let facts = &expected_facts()["facts"]["pagila"];
    let count = |name: &str| facts[name].as_u64().unwrap() as usize;
    assert_eq!(graph.version, SCHEMA_GRAPH_VERSION);
    assert_eq!(
        graph.tables.len(),
        facts["rows_only"].as_object().unwrap().len()
    );
    let foreign_keys: usize = graph.tables.iter().map(|t| t.foreign_keys.len()).sum();
    assert_eq!(foreign_keys, count("foreign_keys"));
    assert_eq!(graph.views.len(), count("views"));
    assert_eq!(graph.sequences.len(), count("sequences"));
    assert_eq!(graph.functions.len(), count("functions"));
    assert_eq!(graph.triggers.len(), count("triggers"));
    assert_eq!(graph.enums.len(), count("enums"));
    let indexes: usize = graph.tables.iter().map(|t| t.indexes.len()).sum();
    assert_eq!(indexes, count("indexes"));

    let rental = graph.table("public", "rental").unwrap();
    assert_eq!(rental.primary_key.as_ref().unwrap().columns, ["rental_id"]);
    assert_eq!(rental.row_estimate, Some(16044));
    assert!(rental.size_bytes > 0);
    let to_inventory = rental
        .foreign_keys
        .iter()
        .find(|fk| fk.references.name == "inventory")
        .unwrap();
    assert_eq!(to_inventory.columns, ["inventory_id"]);
    assert_eq!(to_inventory.on_delete, "RESTRICT");
    let film = graph.table("public", "film").unwrap();
    let rating = film.columns.iter().find(|c| c.name == "rating").unwrap();
    assert_eq!(rating.data_type, "mpaa_rating");
    let mpaa = graph
        .enums
        .iter()
        .find(|e| e.name == "mpaa_rating")
        .unwrap();
    assert_eq!(mpaa.values, ["G", "PG", "PG-13", "R", "NC-17"]);
    assert!(
        graph
            .domains
            .iter()
            .any(|d| d.name == "year" && !d.checks.is_empty())
    );
    // pagila partitions payment by inheritance: the children name their parent.
    let payment = graph.table("public", "payment").unwrap();
    assert_eq!(payment.kind, "table");
    let january = graph.table("public", "payment_p2007_01").unwrap();
    assert_eq!(january.partition_of, None);
    assert_eq!(january.inherits.len(), 1);
    assert_eq!(january.inherits[0].name, "payment");
    let actor_info = graph.views.iter().find(|v| v.name == "actor_info").unwrap();
    assert!(actor_info.definition.contains("SELECT"));
    assert!(!actor_info.columns.is_empty());
    // Round-trips through JSON, as it is stored.
    let json = serde_json::to_value(&graph).unwrap();
    assert_eq!(serde_json::from_value::<SchemaGraph>(json).unwrap(), graph);
}

#[tokio::test]
async fn chinook_graph_has_its_foreign_keys_with_actions() {
    let graph = graph_of("chinook.pg18.custom.dump").await;
    let facts = &expected_facts()["facts"]["chinook"];
    let foreign_keys: usize = graph.tables.iter().map(|t| t.foreign_keys.len()).sum();
    assert_eq!(foreign_keys as u64, facts["foreign_keys"].as_u64().unwrap());
    let line = graph.table("public", "invoice_line").unwrap();
    let referenced: Vec<_> = line
        .foreign_keys
        .iter()
        .map(|fk| fk.references.name.as_str())
        .collect();
    assert!(
        referenced.contains(&"invoice") && referenced.contains(&"track"),
        "{referenced:?}"
    );
}
