//! Searching every text-like column of pagila, within a row and a time budget.

use std::time::Duration;

use lens::search::search;
use lens::testing::{connect, restored};

async fn pagila() -> (sqlx::PgConnection, lens::schema::SchemaGraph) {
    let (database, graph) = restored("pagila.pg18.custom.dump").await;
    (connect(&database).await, graph)
}

#[tokio::test]
async fn text_is_found_in_whichever_table_holds_it_with_sql_that_finds_it_again() {
    let (mut conn, graph) = pagila().await;
    let found = search(
        &mut conn,
        &graph,
        "mary.smith@",
        50,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert!(found.complete, "{found:?}");
    let customers = found
        .matches
        .iter()
        .find(|m| m.table == "public.customer")
        .unwrap();
    assert_eq!(customers.rows.len(), 1);
    assert_eq!(customers.rows[0]["first_name"], "MARY");
    assert!(customers.columns.contains(&"email".to_string()));
    let again: Vec<String> = sqlx::query_scalar(&customers.sql)
        .bind("mary.smith@")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);

    let hostile = search(
        &mut conn,
        &graph,
        "'; DROP TABLE customer; --",
        50,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert!(hostile.matches.is_empty() && hostile.complete);
}

#[tokio::test]
async fn the_row_and_time_budgets_end_a_search_and_say_so() {
    let (mut conn, graph) = pagila().await;
    let few = search(&mut conn, &graph, "a", 5, Duration::from_secs(30))
        .await
        .unwrap();
    let rows: usize = few.matches.iter().map(|m| m.rows.len()).sum();
    assert_eq!(rows, 5);
    assert!(!few.complete && !few.skipped.is_empty());
    let hurried = search(&mut conn, &graph, "a", 500, Duration::from_millis(1))
        .await
        .unwrap();
    assert!(!hurried.complete);
    assert!(
        search(&mut conn, &graph, "  ", 5, Duration::from_secs(1))
            .await
            .is_err()
    );
}
