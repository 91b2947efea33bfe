//! Value suggestions from pg_stats, and from a bounded sample where statistics say nothing.

use lens::suggest::suggest;
use lens::testing::{connect, restored};
use sqlx::{Connection, Executor, PgConnection};

#[tokio::test]
async fn common_values_come_from_statistics_and_rare_ones_from_a_sample() {
    let (database, graph) = restored("pagila.pg18.custom.dump").await;
    let mut conn = connect(&database).await;
    let customer = graph.tables.iter().find(|t| t.name == "customer").unwrap();

    let stores = suggest(&mut conn, customer, "store_id", None, 10)
        .await
        .unwrap();
    assert_eq!(stores.source, "statistics");
    let mut values: Vec<&str> = stores.values.iter().map(|s| s.value.as_str()).collect();
    values.sort();
    assert_eq!(values, ["1", "2"]);
    let share: f64 = stores.values.iter().map(|s| s.frequency).sum();
    assert!((share - 1.0).abs() < 0.01, "{stores:?}");

    let smiths = suggest(&mut conn, customer, "last_name", Some("smi"), 5)
        .await
        .unwrap();
    assert_eq!(smiths.values[0].value, "SMITH", "{smiths:?}");

    let nobody = suggest(&mut conn, customer, "last_name", Some("zzzz"), 5)
        .await
        .unwrap();
    assert_eq!((nobody.source.as_str(), nobody.values.len()), ("sample", 0));
    assert!(suggest(&mut conn, customer, "nope", None, 5).await.is_err());
}

#[tokio::test]
async fn a_table_never_analysed_is_sampled() {
    let db = lens::testing::database().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    conn.execute(
        "CREATE TABLE t (c text); INSERT INTO t SELECT CASE WHEN g % 4 = 0 THEN 'rare' ELSE 'often' END FROM generate_series(1, 100) g",
    )
    .await
    .unwrap();
    let graph = lens::schema::introspect(&mut conn).await.unwrap();
    let suggested = suggest(&mut conn, &graph.tables[0], "c", None, 10)
        .await
        .unwrap();
    assert_eq!(suggested.source, "sample");
    assert_eq!(suggested.values[0].value, "often");
    assert!((suggested.values[0].frequency - 0.75).abs() < 1e-9);
}
