//! Paging, sorting and filtering restored tables: pagila's real rows, and tables made to be
//! awkward (no key, hostile names, JSON, large values).

use std::collections::HashSet;

use lens::browse::{self, BrowseError, Filter, FilterOp, Page, PageRequest};
use lens::schema::{SchemaGraph, Table};
use lens::testing::{connect, expected_facts, restored, table};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};

/// The rows of a page, parsed.
fn rows(page: &Page) -> Vec<Value> {
    page.rows
        .iter()
        .map(|r| serde_json::from_str(r.get()).unwrap())
        .collect()
}

/// Every page of `request` from the first, concatenated.
async fn all_pages(conn: &mut PgConnection, table: &Table, request: PageRequest) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut request = request;
    loop {
        let page = browse::page(conn, table, &request).await.unwrap();
        rows.extend(self::rows(&page));
        match page.next {
            Some(next) => request.after = Some(next),
            None => return rows,
        }
    }
}

fn filter(column: &str, spec: &str) -> Filter {
    Filter::parse(column, spec).unwrap()
}

#[tokio::test]
async fn keyset_pages_cover_every_row_once_in_key_order() {
    let (database, graph) = restored("pagila.pg18.custom.dump").await;
    let mut conn = connect(&database).await;
    let customer = table(&graph, "public.customer");
    let request = PageRequest {
        limit: 100,
        ..PageRequest::default()
    };
    let first = browse::page(&mut conn, customer, &request).await.unwrap();
    assert_eq!(first.order_by, ["customer_id"]);
    let first_rows = rows(&first);
    assert_eq!(first_rows[0]["customer_id"], 1);
    assert_eq!(first_rows[0]["first_name"], "MARY");
    assert_eq!(first_rows[0]["last_name"], "SMITH");
    assert!(first.estimated_total.is_some());
    let rows = all_pages(&mut conn, customer, request).await;
    let expected = expected_facts()["facts"]["pagila"]["rows_only"]["public.customer"].clone();
    assert_eq!(json!(rows.len()), expected);
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| r["customer_id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in key order, no repeats"
    );
}

#[tokio::test]
async fn sorting_by_a_nullable_column_pages_through_every_row_in_order() {
    let (database, graph) = restored("pagila.pg18.custom.dump").await;
    let mut conn = connect(&database).await;
    let rental = table(&graph, "public.rental");
    for descending in [false, true] {
        let request = PageRequest {
            limit: 1000,
            sort: Some("return_date".into()),
            descending,
            ..PageRequest::default()
        };
        let rows = all_pages(&mut conn, rental, request).await;
        let expected = &expected_facts()["facts"]["pagila"]["rows_only"]["public.rental"];
        assert_eq!(json!(rows.len()), *expected, "descending: {descending}");
        let ids: HashSet<i64> = rows
            .iter()
            .map(|r| r["rental_id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids.len(), rows.len(), "a row came twice");
        // NULLs last ascending, first descending; timestamps in ISO form sort as text.
        let dates: Vec<Option<&str>> = rows.iter().map(|r| r["return_date"].as_str()).collect();
        let mut sorted = dates.clone();
        sorted.sort_by(|a, b| match (a, b) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, _) => std::cmp::Ordering::Greater,
            (_, None) => std::cmp::Ordering::Less,
            (a, b) => a.cmp(b),
        });
        if descending {
            sorted.reverse();
        }
        assert_eq!(dates, sorted, "descending: {descending}");
        assert!(dates.contains(&None), "pagila has unreturned rentals");
    }
}

#[tokio::test]
async fn filters_combine_and_count_exactly_when_asked() {
    let (database, graph) = restored("pagila.pg18.custom.dump").await;
    let mut conn = connect(&database).await;
    let rental = table(&graph, "public.rental");
    let request = PageRequest {
        filters: vec![
            filter("customer_id", "eq:1"),
            filter("rental_date", "ge:2005-07-01"),
            filter("return_date", "notNull:"),
        ],
        exact_count: true,
        ..PageRequest::default()
    };
    let page = browse::page(&mut conn, rental, &request).await.unwrap();
    let counted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM rental WHERE customer_id = 1 AND rental_date >= '2005-07-01' AND return_date IS NOT NULL",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(counted > 0);
    assert_eq!(page.exact_total, Some(counted));
    assert_eq!(page.rows.len() as i64, counted);
    assert!(rows(&page).iter().all(|r| r["customer_id"] == 1));

    let customer = table(&graph, "public.customer");
    for (column, spec, sql) in [
        (
            "email",
            "contains:mary.smith",
            "strpos(lower(email), 'mary.smith') > 0",
        ),
        ("last_name", "startsWith:SM", "last_name LIKE 'SM%'"),
        (
            "customer_id",
            "in:[1, 2, \"3\"]",
            "customer_id IN (1, 2, 3)",
        ),
        ("customer_id", "ne:1", "customer_id <> 1"),
        ("customer_id", "lt:10", "customer_id < 10"),
        ("address_id", "gt:600", "address_id > 600"),
    ] {
        let request = PageRequest {
            filters: vec![filter(column, spec)],
            exact_count: true,
            ..PageRequest::default()
        };
        let page = browse::page(&mut conn, customer, &request).await.unwrap();
        let counted: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM customer WHERE {sql}"))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(page.exact_total, Some(counted), "{column} {spec}");
    }
}

async fn awkward_tables() -> (PgConnection, SchemaGraph) {
    let db = lens::testing::database().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    conn.execute(
        r#"CREATE TABLE "Odd ""Name""" ("Key Col" int, doc jsonb, note text);
           INSERT INTO "Odd ""Name""" SELECT g % 7, jsonb_build_object('n', g), CASE WHEN g = 3 THEN repeat('x', 10000) END
             FROM generate_series(1, 250) g;
           ANALYZE;"#,
    )
    .await
    .unwrap();
    let graph = lens::schema::introspect(&mut conn).await.unwrap();
    (conn, graph)
}

#[tokio::test]
async fn a_table_without_a_key_pages_by_ctid_with_json_and_large_values() {
    let (mut conn, graph) = awkward_tables().await;
    let odd = table(&graph, r#"public.Odd "Name""#);
    let request = PageRequest {
        limit: 60,
        ..PageRequest::default()
    };
    let first = browse::page(&mut conn, odd, &request).await.unwrap();
    assert_eq!(first.order_by, ["ctid"]);
    let first_rows = rows(&first);
    assert_eq!(first_rows[0]["doc"], json!({"n": 1}), "jsonb comes as JSON");
    let large = &first_rows[2]["note"];
    assert_eq!(large["bytes"], 10000);
    assert_eq!(large["truncated"].as_str().unwrap().len(), 1024);
    assert!(first_rows[0]["note"].is_null());
    let rows = all_pages(&mut conn, odd, request).await;
    assert_eq!(rows.len(), 250);
    let sorted = all_pages(
        &mut conn,
        odd,
        PageRequest {
            limit: 7,
            sort: Some("Key Col".into()),
            ..PageRequest::default()
        },
    )
    .await;
    assert_eq!(sorted.len(), 250);
    let keys: Vec<i64> = sorted
        .iter()
        .map(|r| r["Key Col"].as_i64().unwrap())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]));
}

fn rejected(result: Result<Page, BrowseError>) -> String {
    match result {
        Err(err) => err.to_string(),
        Ok(page) => panic!("accepted: {}", page.sql),
    }
}

#[tokio::test]
async fn hostile_names_and_values_are_refused_or_bound_never_run() {
    let (mut conn, graph) = awkward_tables().await;
    let odd = table(&graph, r#"public.Odd "Name""#);
    let injected = r#"x"; DROP TABLE "Odd ""Name"""; --"#;
    let sort = PageRequest {
        sort: Some(injected.into()),
        ..PageRequest::default()
    };
    assert!(rejected(browse::page(&mut conn, odd, &sort).await).contains("has no column"));
    let by_column = PageRequest {
        filters: vec![filter(injected, "eq:1")],
        ..PageRequest::default()
    };
    assert!(rejected(browse::page(&mut conn, odd, &by_column).await).contains("has no column"));
    for spec in [
        "eq:1; DROP TABLE x",
        "eq:1) OR (1=1",
        "in:[\"1); DROP TABLE x; --\"]",
    ] {
        let request = PageRequest {
            filters: vec![filter("Key Col", spec)],
            ..PageRequest::default()
        };
        let err = rejected(browse::page(&mut conn, odd, &request).await);
        assert!(
            err.contains("invalid input syntax for type integer"),
            "{spec}: {err}"
        );
    }
    let text = PageRequest {
        filters: vec![filter("note", "contains:' OR ''='")],
        exact_count: true,
        ..PageRequest::default()
    };
    let page = browse::page(&mut conn, odd, &text).await.unwrap();
    assert_eq!(page.exact_total, Some(0));
    let cursor = PageRequest {
        after: Some("not-a-cursor".into()),
        ..PageRequest::default()
    };
    assert!(rejected(browse::page(&mut conn, odd, &cursor).await).contains("cursor"));
    assert!(Filter::parse("note", "like:%").is_err());
    assert_eq!(filter("note", "isNull:anything").op, FilterOp::IsNull);
    let still: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "Odd ""Name""""#)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(still, 250);
}

#[tokio::test]
async fn a_column_named_like_an_alias_in_the_generated_sql_still_gives_whole_rows() {
    let db = lens::testing::database().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text, t text); INSERT INTO t VALUES (1, 'vee', 'tee');")
        .await
        .unwrap();
    let graph = lens::schema::introspect(&mut conn).await.unwrap();
    let page = browse::page(&mut conn, table(&graph, "t"), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rows(&page), [json!({"id": 1, "v": "vee", "t": "tee"})]);
}
