//! "Explain this row" on pagila and chinook (real counts against plain SQL) and on a schema
//! made to have every ON DELETE action, composite keys and a cycle.

use lens::browse::BrowseError;
use lens::relations::{self, DeleteStep, TableEffect};
use lens::schema::SchemaGraph;
use lens::testing::{connect, restored, table};
use sqlx::{Connection, Executor, PgConnection};

fn key(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(c, v)| (c.to_string(), v.to_string()))
        .collect()
}

async fn scalar(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(conn).await.unwrap()
}

fn step<'a>(steps: &'a [DeleteStep], table: &str, constraint: &str) -> &'a DeleteStep {
    steps
        .iter()
        .find(|s| s.table == table && s.constraint == constraint)
        .unwrap_or_else(|| panic!("no step {table} {constraint} in {steps:#?}"))
}

#[tokio::test]
async fn a_pagila_customers_rentals_payments_and_address() {
    let (database, graph) = restored("pagila.pg18.custom.dump").await;
    let mut conn = connect(&database).await;
    let customer = table(&graph, "customer");
    let explained = relations::explain(
        &mut conn,
        &graph,
        customer,
        &key(&[("customer_id", "1")]),
        2,
    )
    .await
    .unwrap();
    assert_eq!(explained.row["first_name"], "MARY");
    let rentals = explained
        .inbound
        .iter()
        .find(|i| i.table == "public.rental")
        .unwrap();
    assert_eq!(
        rentals.count,
        scalar(
            &mut conn,
            "SELECT count(*) FROM rental WHERE customer_id = 1"
        )
        .await
    );
    assert_eq!(rentals.samples.len(), 2);
    assert!(rentals.samples.iter().all(|r| r["customer_id"] == 1));
    // The SQL given reproduces the count with the parameters given.
    let mut query = sqlx::query_scalar::<_, i64>(&rentals.sql);
    for value in &explained.params {
        query = query.bind(value);
    }
    assert_eq!(query.fetch_one(&mut conn).await.unwrap(), rentals.count);
    let payments: i64 = explained
        .inbound
        .iter()
        .filter(|i| i.table.starts_with("public.payment_p"))
        .map(|i| i.count)
        .sum();
    assert_eq!(
        payments,
        scalar(
            &mut conn,
            "SELECT count(*) FROM payment WHERE customer_id = 1"
        )
        .await
    );
    let address = explained
        .outbound
        .iter()
        .find(|o| o.table == "public.address")
        .unwrap();
    assert_eq!(
        address.row.as_ref().unwrap()["address_id"],
        explained.row["address_id"]
    );
    // Rentals and payments are RESTRICT / NO ACTION: the delete fails, and says why.
    assert!(!explained.delete.allowed);
    assert!(
        explained
            .risk
            .reasons
            .iter()
            .any(|r| r.reason.contains("the delete fails"))
    );
}

#[tokio::test]
async fn the_delete_chain_of_a_pagila_film_is_blocked_by_its_inventory() {
    let (database, graph) = restored("pagila.pg18.custom.dump").await;
    let mut conn = connect(&database).await;
    let film = table(&graph, "film");
    let explained = relations::explain(&mut conn, &graph, film, &key(&[("film_id", "1")]), 0)
        .await
        .unwrap();
    let delete = &explained.delete;
    assert!(!delete.allowed);
    for (child, constraint) in [
        ("public.inventory", "inventory_film_id_fkey"),
        ("public.film_actor", "film_actor_film_id_fkey"),
        ("public.film_category", "film_category_film_id_fkey"),
    ] {
        let step = step(&delete.steps, child, constraint);
        assert_eq!(step.action, "RESTRICT");
        let sql = format!(
            "SELECT count(*) FROM {} WHERE film_id = 1",
            child.trim_start_matches("public.")
        );
        assert_eq!(step.rows, scalar(&mut conn, &sql).await, "{child}");
    }
    assert_eq!(
        delete.sql,
        "DELETE FROM ONLY \"public\".\"film\" AS t WHERE t.\"film_id\" = CAST($1 AS integer)"
    );
    assert_eq!(explained.risk.level, "critical", "{:?}", explained.risk);
}

#[tokio::test]
async fn chinook_invoice_lines_reference_their_invoice() {
    let (database, graph) = restored("chinook.pg15.sql").await;
    let mut conn = connect(&database).await;
    let invoice = table(&graph, "invoice");
    let explained = relations::explain(&mut conn, &graph, invoice, &key(&[("invoice_id", "1")]), 5)
        .await
        .unwrap();
    let lines = explained
        .inbound
        .iter()
        .find(|i| i.table == "public.invoice_line")
        .unwrap();
    assert_eq!(
        lines.count,
        scalar(
            &mut conn,
            "SELECT count(*) FROM invoice_line WHERE invoice_id = 1"
        )
        .await
    );
    assert!(lines.count > 0);
    let customer = relations::follow(
        &mut conn,
        &graph,
        invoice,
        &key(&[("invoice_id", "1")]),
        "invoice_customer_id_fkey",
    )
    .await
    .unwrap();
    assert_eq!(customer.table, "public.customer");
    assert_eq!(
        customer.row.unwrap()["customer_id"],
        explained.row["customer_id"]
    );
}

/// region(a, b) ← country (composite key, CASCADE) ← city (CASCADE) ← street (SET NULL)
/// and ← shop (SET DEFAULT); node is a tree of itself (CASCADE); audit blocks (RESTRICT).
async fn every_action() -> (PgConnection, SchemaGraph) {
    let db = lens::testing::database().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    conn.execute(
        r#"CREATE TABLE region (a int, b text, PRIMARY KEY (a, b));
           CREATE TABLE country (id int PRIMARY KEY, ra int, rb text,
             FOREIGN KEY (ra, rb) REFERENCES region ON DELETE CASCADE);
           CREATE TABLE city (id int PRIMARY KEY, country int REFERENCES country ON DELETE CASCADE);
           CREATE TABLE street (id int PRIMARY KEY, city int REFERENCES city ON DELETE SET NULL);
           CREATE TABLE shop (id int PRIMARY KEY, city int DEFAULT 0 REFERENCES city ON DELETE SET DEFAULT);
           INSERT INTO region VALUES (1, 'x'), (2, 'y'), (3, 'x');
           INSERT INTO country SELECT g, 1 + g % 2, CASE WHEN g % 2 = 0 THEN 'x' ELSE 'y' END FROM generate_series(1, 10) g;
           INSERT INTO city VALUES (0, NULL);
           INSERT INTO city SELECT g, 1 + g % 10 FROM generate_series(1, 100) g;
           INSERT INTO street SELECT g, 1 + g % 100 FROM generate_series(1, 1000) g;
           INSERT INTO shop SELECT g, 1 + g % 100 FROM generate_series(1, 50) g;
           CREATE TABLE node (id int PRIMARY KEY, parent int REFERENCES node ON DELETE CASCADE);
           INSERT INTO node VALUES (1, NULL), (2, 1), (3, 2), (4, 3), (5, 1), (6, NULL);
           CREATE TABLE audit (id int PRIMARY KEY, node int REFERENCES node ON DELETE RESTRICT);
           INSERT INTO audit VALUES (1, 6);"#,
    )
    .await
    .unwrap();
    let graph = lens::schema::introspect(&mut conn).await.unwrap();
    (conn, graph)
}

#[tokio::test]
async fn cascades_through_several_hops_with_composite_keys_set_null_and_set_default() {
    let (mut conn, graph) = every_action().await;
    let region = table(&graph, "region");
    let explained = relations::explain(
        &mut conn,
        &graph,
        region,
        &key(&[("a", "1"), ("b", "x")]),
        1,
    )
    .await
    .unwrap();
    let delete = &explained.delete;
    assert!(delete.allowed);
    let countries = scalar(
        &mut conn,
        "SELECT count(*) FROM country WHERE (ra, rb) = (1, 'x')",
    )
    .await;
    let cities = scalar(
        &mut conn,
        "SELECT count(*) FROM city WHERE country IN (SELECT id FROM country WHERE (ra, rb) = (1, 'x'))",
    )
    .await;
    let city_ids =
        "SELECT id FROM city WHERE country IN (SELECT id FROM country WHERE (ra, rb) = (1, 'x'))";
    let streets = scalar(
        &mut conn,
        &format!("SELECT count(*) FROM street WHERE city IN ({city_ids})"),
    )
    .await;
    let shops = scalar(
        &mut conn,
        &format!("SELECT count(*) FROM shop WHERE city IN ({city_ids})"),
    )
    .await;
    assert!(countries > 0 && cities > 0 && streets > 0 && shops > 0);
    assert_eq!(
        step(&delete.steps, "public.country", "country_ra_rb_fkey").rows,
        countries
    );
    assert_eq!(
        step(&delete.steps, "public.city", "city_country_fkey").depth,
        2
    );
    assert_eq!(
        step(&delete.steps, "public.street", "street_city_fkey").action,
        "SET NULL"
    );
    assert_eq!(
        step(&delete.steps, "public.shop", "shop_city_fkey").action,
        "SET DEFAULT"
    );
    let effect = |table: &str| delete.tables.iter().find(|t| t.table == table).cloned();
    assert_eq!(
        effect("public.region"),
        Some(TableEffect {
            table: "public.region".into(),
            deleted: 1,
            updated: 0
        })
    );
    assert_eq!(effect("public.city").unwrap().deleted, cities);
    assert_eq!(effect("public.street").unwrap().updated, streets);
    assert_eq!(effect("public.shop").unwrap().updated, shops);
    let reasons: Vec<&str> = explained
        .risk
        .reasons
        .iter()
        .map(|r| r.reason.as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(&format!("removes {} more rows", countries + cities))),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("2 foreign keys deep")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("set to NULL or their default")),
        "{reasons:?}"
    );

    // The real DELETE does what was foretold.
    let mut tx = conn.begin().await.unwrap();
    let mut statement = sqlx::query(&delete.sql);
    for value in &explained.params {
        statement = statement.bind(value);
    }
    statement.execute(&mut *tx).await.unwrap();
    let left = scalar(&mut tx, "SELECT count(*) FROM street WHERE city IS NULL").await;
    assert_eq!(left, streets);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_tree_of_itself_cascades_once_per_row_and_restrict_blocks() {
    let (mut conn, graph) = every_action().await;
    let node = table(&graph, "node");
    let root = relations::explain(&mut conn, &graph, node, &key(&[("id", "1")]), 0)
        .await
        .unwrap();
    let nodes = root
        .delete
        .tables
        .iter()
        .find(|t| t.table == "public.node")
        .unwrap();
    assert_eq!(
        nodes.deleted, 5,
        "the root and its four descendants: {:#?}",
        root.delete
    );
    assert!(root.delete.allowed && root.delete.complete);
    let blocked = relations::explain(&mut conn, &graph, node, &key(&[("id", "6")]), 0)
        .await
        .unwrap();
    assert!(!blocked.delete.allowed);
    assert_eq!(
        step(&blocked.delete.steps, "public.audit", "audit_node_fkey").rows,
        1
    );
}

#[tokio::test]
async fn a_key_must_name_exactly_one_existing_row() {
    let (mut conn, graph) = every_action().await;
    let region = table(&graph, "region");
    let partial = relations::explain(&mut conn, &graph, region, &key(&[("b", "x")]), 0).await;
    assert!(matches!(partial, Err(BrowseError::BadRequest(m)) if m.contains("give its whole key")));
    let missing = relations::explain(
        &mut conn,
        &graph,
        region,
        &key(&[("a", "9"), ("b", "x")]),
        0,
    )
    .await;
    assert!(matches!(missing, Err(BrowseError::NotFound(_))));
    let hostile = relations::explain(
        &mut conn,
        &graph,
        region,
        &key(&[("a\" OR 1=1 --", "1")]),
        0,
    )
    .await;
    assert!(matches!(hostile, Err(BrowseError::BadRequest(m)) if m.contains("has no column")));
    let injected = relations::explain(
        &mut conn,
        &graph,
        region,
        &key(&[("a", "1"), ("b", "x' OR 'a'='a")]),
        0,
    )
    .await;
    assert!(
        matches!(injected, Err(BrowseError::NotFound(_))),
        "the value is a value"
    );
}
