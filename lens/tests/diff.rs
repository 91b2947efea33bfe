//! Row differences, exact over whole tables: pagila against pagila-v2 reports exactly the
//! changes EXPECTED.json lists (the one past the first 10,000 rows too) and nothing else; and
//! made-up tables: no key, NULLs, a type change, a million rows with a handful of changes.

use lens::diff::{DataDiffOptions, RowChangeKind, TableDataDiff, fingerprint, table_data_diff};
use lens::schema::SchemaGraph;
use lens::testing::{connect, restored};
use serde_json::json;
use sqlx::{Connection, Executor};

/// The diffs of every table both databases have, each made twice: reading the tables, and
/// from both sides' fingerprints (where they can be used), which must find the same. The
/// second is returned.
async fn diff_tables(
    a: (&str, &SchemaGraph),
    b: (&str, &SchemaGraph),
    options: &DataDiffOptions,
) -> Vec<TableDataDiff> {
    let (mut conn_a, mut conn_b) = (connect(a.0).await, connect(b.0).await);
    let mut diffs = Vec::new();
    for table_a in &a.1.tables {
        if table_a.kind == "partitioned" {
            continue;
        }
        let Some(table_b) = b.1.table(&table_a.schema, &table_a.name) else {
            continue;
        };
        let read = table_data_diff(
            &mut conn_a,
            table_a,
            &mut conn_b,
            table_b,
            (None, None),
            options,
        )
        .await
        .unwrap();
        assert!(!read.from_fingerprints);
        let fingerprint_a = fingerprint(&mut conn_a, table_a).await.unwrap();
        let fingerprint_b = fingerprint(&mut conn_b, table_b).await.unwrap();
        let fingerprinted = table_data_diff(
            &mut conn_a,
            table_a,
            &mut conn_b,
            table_b,
            (fingerprint_a.as_ref(), fingerprint_b.as_ref()),
            options,
        )
        .await
        .unwrap();
        let found = |diff: &TableDataDiff| TableDataDiff {
            ranges_compared: 0,
            from_fingerprints: false,
            ..diff.clone()
        };
        assert_eq!(found(&fingerprinted), found(&read), "{}", table_a.name);
        diffs.push(fingerprinted);
    }
    diffs
}

fn keys(diff: &TableDataDiff, kind: RowChangeKind) -> Vec<serde_json::Value> {
    diff.changes
        .iter()
        .filter(|c| c.change == kind)
        .map(|c| c.key.clone())
        .collect()
}

#[tokio::test]
async fn pagila_v2_differs_from_pagila_exactly_as_expected() {
    let a = restored("pagila.pg18.custom.dump").await;
    let b = restored("pagila-v2.pg18.custom.dump").await;
    let diffs = diff_tables((&a.0, &a.1), (&b.0, &b.1), &DataDiffOptions::default()).await;
    let changed: Vec<&TableDataDiff> = diffs
        .iter()
        .filter(|d| d.added + d.removed + d.changed > 0)
        .collect();
    let names: Vec<&str> = changed.iter().map(|d| d.table.as_str()).collect();
    assert_eq!(
        names,
        [
            "actor",
            "customer",
            "film_actor",
            "payment_p2007_04",
            "rental"
        ],
        "{changed:#?}"
    );
    let by_name = |name: &str| *changed.iter().find(|d| d.table == name).unwrap();

    let customer = by_name("customer");
    assert_eq!(
        (customer.added, customer.removed, customer.changed),
        (0, 0, 3)
    );
    assert_eq!(
        keys(customer, RowChangeKind::Changed),
        [
            json!({"customer_id": 5}),
            json!({"customer_id": 77}),
            json!({"customer_id": 599})
        ]
    );
    for change in &customer.changes {
        assert!(change.columns.contains(&"email".to_string()), "{change:?}");
        assert_ne!(
            change.a.as_ref().unwrap()["email"],
            change.b.as_ref().unwrap()["email"]
        );
    }

    // Beyond the first 10,000 rows, which a sample would miss.
    let rental = by_name("rental");
    assert_eq!((rental.added, rental.removed, rental.changed), (0, 0, 1));
    assert_eq!(
        keys(rental, RowChangeKind::Changed),
        [json!({"rental_id": 15999})]
    );
    assert!(
        rental.changes[0]
            .columns
            .contains(&"return_date".to_string())
    );
    assert!(rental.rows_in_a > 10_000);
    // Keyed by one integer column each: compared from their fingerprints.
    assert!(rental.from_fingerprints && customer.from_fingerprints);

    let payment = by_name("payment_p2007_04");
    assert_eq!((payment.added, payment.removed, payment.changed), (0, 1, 0));
    let largest: i64 =
        sqlx::query_scalar("SELECT max(payment_id)::int8 FROM ONLY payment_p2007_04")
            .fetch_one(&mut connect(&a.0).await)
            .await
            .unwrap();
    // Inheritance children have no primary key of their own: compared as a multiset.
    assert!(payment.key.is_empty());
    assert_eq!(payment.changes.len(), 1);
    assert_eq!(
        payment.changes[0].a.as_ref().unwrap()["payment_id"],
        largest
    );

    let actor = by_name("actor");
    assert_eq!((actor.added, actor.removed, actor.changed), (2, 0, 0));
    let mut added: Vec<String> = actor
        .changes
        .iter()
        .map(|c| {
            let row = c.b.as_ref().unwrap();
            format!(
                "{} {}",
                row["first_name"].as_str().unwrap(),
                row["last_name"].as_str().unwrap()
            )
        })
        .collect();
    added.sort();
    assert_eq!(added, ["ADA LOVELACE", "ALAN TURING"]);

    let film_actor = by_name("film_actor");
    assert_eq!(
        (film_actor.added, film_actor.removed, film_actor.changed),
        (0, 1, 0)
    );
    assert_eq!(
        keys(film_actor, RowChangeKind::Removed),
        [json!({"actor_id": 1, "film_id": 1})]
    );

    // A new column that is NULL everywhere, and a wider type, change no row; the report says
    // which columns were compared.
    let film = diffs.iter().find(|d| d.table == "film").unwrap();
    assert_eq!(film.columns_only_in_b, ["streaming_url"]);
    assert!(!film.compared_columns.contains(&"streaming_url".to_string()));
    let staff = diffs.iter().find(|d| d.table == "staff").unwrap();
    assert!(staff.compared_columns.contains(&"email".to_string()));
    // The parent of the partitions-by-inheritance, read alone, did not change.
    let parent = diffs.iter().find(|d| d.table == "payment").unwrap();
    assert_eq!(parent.rows_in_a, 0);
    assert!(diffs.iter().all(|d| d.complete));
}

/// Two new databases on the test cluster, each set up by its SQL.
async fn databases(setup_a: &str, setup_b: &str) -> ((String, SchemaGraph), (String, SchemaGraph)) {
    let mut admin = connect("postgres").await;
    let mut made = Vec::new();
    for setup in [setup_a, setup_b] {
        let name = format!("difftest_{}", lens::sandbox::new_id());
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let mut conn = connect(&name).await;
        conn.execute(setup).await.unwrap();
        conn.execute("ANALYZE").await.unwrap();
        let graph = lens::schema::introspect(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        made.push((name, graph));
    }
    let b = made.pop().unwrap();
    (made.pop().unwrap(), b)
}

async fn one_table_diff(setup_a: &str, setup_b: &str, options: &DataDiffOptions) -> TableDataDiff {
    let (a, b) = databases(setup_a, setup_b).await;
    let mut diffs = diff_tables((&a.0, &a.1), (&b.0, &b.1), options).await;
    assert_eq!(diffs.len(), 1);
    diffs.pop().unwrap()
}

#[tokio::test]
async fn a_million_rows_with_a_handful_of_changes() {
    let table = "CREATE TABLE big (id int PRIMARY KEY, label text, amount numeric);
                 INSERT INTO big SELECT i, md5(i::text), i / 7.0 FROM generate_series(1, 1000000) i;";
    let changes = "UPDATE big SET label = 'changed' WHERE id IN (3, 500000, 999999);
                   DELETE FROM big WHERE id = 250000;
                   INSERT INTO big VALUES (1000001, 'new', NULL);
                   UPDATE big SET amount = NULL WHERE id = 777777;";
    let diff = one_table_diff(
        table,
        &format!("{table}{changes}"),
        &DataDiffOptions::default(),
    )
    .await;
    assert_eq!(
        (diff.added, diff.removed, diff.changed),
        (1, 1, 4),
        "{diff:#?}"
    );
    assert_eq!(diff.rows_in_a, 1_000_000);
    let changed: Vec<(serde_json::Value, Vec<String>)> = diff
        .changes
        .iter()
        .filter(|c| c.change == RowChangeKind::Changed)
        .map(|c| (c.key.clone(), c.columns.clone()))
        .collect();
    assert!(changed.contains(&(json!({"id": 777777}), vec!["amount".to_string()])));
    assert!(changed.contains(&(json!({"id": 500000}), vec!["label".to_string()])));
    // Only the ranges that differ were cut: far fewer than a scan of every leaf.
    assert!(diff.ranges_compared < 200, "{}", diff.ranges_compared);
    assert!(diff.from_fingerprints);
}

#[tokio::test]
async fn fingerprints_of_tables_of_different_sizes_are_compared_bucket_by_bucket() {
    // B's keys reach much further, so its buckets are wider than A's: A's are merged into them.
    // Negative keys are bucketed like the rest.
    let a = "CREATE TABLE spread (id int8 PRIMARY KEY, v text);
             INSERT INTO spread SELECT i, 'v' || i FROM generate_series(-20000, 20000) i;";
    let b = format!(
        "{a} UPDATE spread SET v = 'changed' WHERE id = -15000; DELETE FROM spread WHERE id = 0;
             INSERT INTO spread SELECT 1000000000 + i * 1000, 'far' FROM generate_series(1, 5000) i;"
    );
    let options = DataDiffOptions {
        max_differences: 10_000,
        ..DataDiffOptions::default()
    };
    let diff = one_table_diff(a, &b, &options).await;
    assert!(diff.from_fingerprints);
    assert_eq!(
        (diff.added, diff.removed, diff.changed),
        (5000, 1, 1),
        "{:?}",
        (diff.added, diff.removed, diff.changed)
    );
    assert_eq!((diff.rows_in_a, diff.rows_in_b), (40_001, 45_000));
    assert_eq!(keys(&diff, RowChangeKind::Changed), [json!({"id": -15000})]);
    assert_eq!(keys(&diff, RowChangeKind::Removed), [json!({"id": 0})]);
}

#[tokio::test]
async fn nulls_type_changes_and_a_stop_after_enough_differences() {
    let a = "CREATE TABLE t (id int PRIMARY KEY, v int, note text);
             INSERT INTO t SELECT i, i, CASE WHEN i % 2 = 0 THEN NULL ELSE 'x' END FROM generate_series(1, 100) i;";
    // The type widens and keeps every value; a NULL becomes a value and a value NULL.
    let b = "CREATE TABLE t (id int PRIMARY KEY, v bigint, note text);
             INSERT INTO t SELECT i, i, CASE WHEN i % 2 = 0 THEN NULL ELSE 'x' END FROM generate_series(1, 100) i;
             UPDATE t SET note = 'now' WHERE id = 2; UPDATE t SET note = NULL WHERE id = 3;";
    let diff = one_table_diff(a, b, &DataDiffOptions::default()).await;
    assert_eq!(
        (diff.added, diff.removed, diff.changed),
        (0, 0, 2),
        "{diff:#?}"
    );
    assert!(
        diff.changes.iter().all(|c| c.columns == ["note"]),
        "{diff:#?}"
    );
    // v is hashed as text here (its types differ), unlike in either fingerprint.
    assert!(!diff.from_fingerprints);

    let many = "UPDATE t SET note = 'all'";
    let options = DataDiffOptions {
        max_differences: 10,
        leaf_rows: 20,
        fanout: 4,
    };
    let diff = one_table_diff(a, &format!("{a}{many}"), &options).await;
    assert!(!diff.complete);
    assert!(diff.changed >= 10 && diff.changed < 100, "{}", diff.changed);
}

#[tokio::test]
async fn a_table_without_a_key_is_compared_as_a_multiset() {
    let a = "CREATE TABLE log (at int, message text);
             INSERT INTO log VALUES (1, 'a'), (1, 'a'), (2, NULL), (3, 'c');";
    let b = "CREATE TABLE log (at int, message text);
             INSERT INTO log VALUES (1, 'a'), (2, NULL), (3, 'c'), (3, 'c'), (4, 'd');";
    let diff = one_table_diff(a, b, &DataDiffOptions::default()).await;
    assert!(diff.key.is_empty());
    assert_eq!((diff.rows_in_a, diff.rows_in_b), (4, 5));
    assert_eq!(
        (diff.added, diff.removed, diff.changed),
        (2, 1, 0),
        "{diff:#?}"
    );
    let removed: Vec<_> = diff
        .changes
        .iter()
        .filter(|c| c.change == RowChangeKind::Removed)
        .collect();
    assert_eq!(removed[0].a, Some(json!({"at": 1, "message": "a"})));
}

fn summary(diff: &lens::diff::SchemaDiff) -> Vec<String> {
    diff.changes
        .iter()
        .map(|c| {
            let change = serde_json::to_value(c.change).unwrap();
            let kind = serde_json::to_value(c.kind).unwrap();
            let from = c
                .renamed_from
                .as_deref()
                .map(|f| format!(" from {f}"))
                .unwrap_or_default();
            format!(
                "{} {} {}{from}",
                change.as_str().unwrap(),
                kind.as_str().unwrap(),
                c.name
            )
        })
        .collect()
}

#[tokio::test]
async fn pagila_v2_schema_differs_exactly_as_expected_and_the_script_makes_a_into_b() {
    let a = restored("pagila.pg18.custom.dump").await;
    let b = restored("pagila-v2.pg18.custom.dump").await;
    let diff = lens::diff::schema_diff(&a.1, &b.1);
    let mut listed = summary(&diff);
    listed.sort();
    assert_eq!(
        listed,
        [
            "added check public.review.review_stars_check",
            "added column public.film.streaming_url",
            "added foreignKey public.review.review_customer_id_fkey",
            "added foreignKey public.review.review_film_id_fkey",
            "added index public.idx_customer_email",
            "added primaryKey public.review.review_pkey",
            "added sequence public.review_review_id_seq",
            "added table public.review",
            "changed column public.staff.email",
            "removed index public.idx_actor_last_name",
        ],
        "{:#?}",
        diff.changes
    );
    let email = diff
        .changes
        .iter()
        .find(|c| c.name == "public.staff.email")
        .unwrap();
    assert_eq!(email.differences[0].attribute, "type");
    assert_eq!(email.differences[0].a, "character varying(50)");
    assert_eq!(email.differences[0].b, "character varying(100)");
    let cascade = diff
        .changes
        .iter()
        .find(|c| c.name == "public.review.review_film_id_fkey")
        .unwrap();
    assert!(cascade.sql.contains("ON DELETE CASCADE"), "{}", cascade.sql);

    // The script, run on a copy of A, gives B's schema: nothing left to differ.
    let restored_a = lens::restore::restore(
        &lens::testing::fixture("pagila.pg18.custom.dump"),
        &lens::sandbox::new_id(),
        &lens::restore::Target::Admin(lens::testing::admin_server_url()),
        &lens::restore::RestoreOptions::default(),
        std::sync::Arc::new(|_| {}),
    )
    .await
    .unwrap();
    let database = restored_a.databases[0].sandbox.clone();
    let mut conn = connect(&database).await;
    conn.execute(diff.script().as_str()).await.unwrap();
    let after = lens::schema::introspect(&mut conn).await.unwrap();
    let left = lens::diff::schema_diff(&after, &b.1);
    assert!(left.changes.is_empty(), "{:#?}", left.changes);
}

#[tokio::test]
async fn every_object_kind_renames_and_changed_delete_actions() {
    let a = "CREATE SCHEMA s; COMMENT ON SCHEMA s IS 'old';
        CREATE TYPE mood AS ENUM ('sad', 'ok');
        CREATE TYPE level AS ENUM ('low', 'mid', 'high');
        CREATE DOMAIN posint AS int CHECK (VALUE > 0);
        CREATE SEQUENCE counter;
        CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS 'SELECT x * 2';
        CREATE TABLE parent (id int PRIMARY KEY);
        CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE, note text, old_name int);
        CREATE TABLE gone (id int);
        CREATE TABLE before_rename (a int, b text NOT NULL);
        CREATE INDEX child_note ON child (note);
        CREATE VIEW v AS SELECT id FROM child;
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
        CREATE TRIGGER t BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION touch();
        ALTER TABLE child ENABLE ROW LEVEL SECURITY;
        CREATE POLICY p ON child USING (id > 0);
        CREATE TABLE booking (room int, during int4range, EXCLUDE USING gist (during WITH &&));
        CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one;";
    let b = "CREATE SCHEMA s; COMMENT ON SCHEMA s IS 'new';
        CREATE TYPE mood AS ENUM ('sad', 'meh', 'ok');
        CREATE TYPE level AS ENUM ('high', 'mid', 'low');
        CREATE DOMAIN posint AS int CHECK (VALUE > 1);
        CREATE SEQUENCE counter;
        CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS 'SELECT x + x';
        CREATE TABLE parent (id int PRIMARY KEY);
        CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE SET NULL, note varchar(10), new_name int);
        CREATE TABLE after_rename (a int, b text NOT NULL);
        CREATE INDEX child_note_renamed ON child (note);
        CREATE VIEW v AS SELECT id, note FROM child;
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
        CREATE TRIGGER t BEFORE INSERT ON child FOR EACH ROW EXECUTE FUNCTION touch();
        ALTER TABLE child ENABLE ROW LEVEL SECURITY;
        CREATE POLICY p ON child USING (id > 1);
        CREATE TABLE booking (room int, during int4range, EXCLUDE USING gist (during WITH &&) WHERE (room > 0));
        CREATE MATERIALIZED VIEW mv AS SELECT 2 AS one;
        CREATE EXTENSION hstore;
        COMMENT ON COLUMN parent.id IS 'the id';
        ALTER TABLE parent ADD CONSTRAINT parent_u UNIQUE (id);";
    let (a, b) = databases(a, b).await;
    let diff = lens::diff::schema_diff(&a.1, &b.1);
    let mut listed = summary(&diff);
    listed.sort();
    assert_eq!(
        listed,
        [
            "added extension hstore",
            "added unique public.parent.parent_u",
            "changed column public.child.note",
            "changed column public.parent.id",
            "changed domain public.posint",
            "changed enum public.level",
            "changed enum public.mood",
            "changed exclusion public.booking.booking_during_excl",
            "changed foreignKey public.child.child_parent_id_fkey",
            "changed function public.twice(x integer)",
            "changed materializedView public.mv",
            "changed policy public.child.p",
            "changed schema s",
            "changed trigger public.child.t",
            "changed view public.v",
            "removed table public.gone",
            "renamed column public.child.new_name from public.child.old_name",
            "renamed index public.child_note_renamed from public.child_note",
            "renamed table public.after_rename from public.before_rename",
        ],
        "{:#?}",
        diff.changes
    );
    let fk = diff
        .changes
        .iter()
        .find(|c| c.name == "public.child.child_parent_id_fkey")
        .unwrap();
    let on_delete = fk
        .differences
        .iter()
        .find(|d| d.attribute == "onDelete")
        .unwrap();
    assert_eq!(
        (on_delete.a.as_str(), on_delete.b.as_str()),
        (Some("CASCADE"), Some("SET NULL"))
    );
    let mood = diff
        .changes
        .iter()
        .find(|c| c.name == "public.mood")
        .unwrap();
    assert_eq!(
        mood.sql,
        "ALTER TYPE public.mood ADD VALUE 'meh' AFTER 'sad';"
            .replace("public.mood", "\"public\".\"mood\"")
    );
    let level = diff
        .changes
        .iter()
        .find(|c| c.name == "public.level")
        .unwrap();
    assert!(level.sql.contains("reordered"), "{}", level.sql);

    // The script turns A into B (the reordered enum is recreated), and nothing differs after.
    let mut conn = connect(&a.0).await;
    conn.execute(diff.script().as_str()).await.unwrap();
    let after = lens::schema::introspect(&mut conn).await.unwrap();
    let left = lens::diff::schema_diff(&after, &b.1);
    assert!(
        left.changes.is_empty(),
        "{}\n{:#?}",
        diff.script(),
        left.changes
    );
}

#[tokio::test]
async fn rows_of_types_without_a_hash_function_are_compared_by_their_text() {
    let a = "CREATE TABLE shapes (id int PRIMARY KEY, doc json, at point);
             INSERT INTO shapes SELECT i, json_build_object('i', i), point(i, i) FROM generate_series(1, 50) i;";
    let b = format!("{a} UPDATE shapes SET at = point(0, 0) WHERE id = 7;");
    let diff = one_table_diff(a, &b, &DataDiffOptions::default()).await;
    assert_eq!(
        (diff.added, diff.removed, diff.changed),
        (0, 0, 1),
        "{diff:#?}"
    );
    assert_eq!(diff.changes[0].columns, ["at"]);
}

#[tokio::test]
async fn integer_keys_spanning_the_whole_int8_range_are_compared_the_general_way() {
    let a = "CREATE TABLE wide (id int8 PRIMARY KEY, v text);
             INSERT INTO wide VALUES (-9223372036854775808, 'min'), (0, 'zero'), (9223372036854775807, 'max');";
    let b = format!("{a} UPDATE wide SET v = 'changed' WHERE id = 0;");
    let diff = one_table_diff(a, &b, &DataDiffOptions::default()).await;
    assert_eq!(
        (diff.added, diff.removed, diff.changed),
        (0, 0, 1),
        "{diff:#?}"
    );
    assert_eq!(diff.changes[0].key, json!({"id": 0}));
}

#[tokio::test]
async fn values_exchanged_between_rows_are_changes() {
    // Each column's values stay the same multiset; only the rows they belong to change, which a
    // hash that XORs per-column hashes over the rows would not see.
    let a = "CREATE TABLE pairs (id int PRIMARY KEY, name text, score int8);
             INSERT INTO pairs SELECT i, 'n' || i, i * 10 FROM generate_series(1, 100) i;";
    let b = format!(
        "{a} UPDATE pairs SET score = CASE id WHEN 40 THEN 700 ELSE 400 END WHERE id IN (40, 70);"
    );
    let diff = one_table_diff(a, &b, &DataDiffOptions::default()).await;
    assert_eq!(
        (diff.added, diff.removed, diff.changed),
        (0, 0, 2),
        "{diff:#?}"
    );
    assert_eq!(
        keys(&diff, RowChangeKind::Changed),
        [json!({"id": 40}), json!({"id": 70})]
    );
    assert!(diff.changes.iter().all(|c| c.columns == ["score"]));
}

#[tokio::test]
async fn enums_are_compared_by_label_and_varchar_by_every_character() {
    // Each database gives the enum's labels OIDs of its own, which the enum's hash function
    // hashes; bpchar's hash would ignore the trailing space that varchar keeps.
    let a = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
             CREATE TABLE people (id int8 PRIMARY KEY, mood mood, moods mood[], name varchar(10));
             INSERT INTO people SELECT i, 'ok', ARRAY['sad', 'happy']::mood[], 'p' || i
               FROM generate_series(1, 3000) i;";
    let b = format!(
        "{a} UPDATE people SET mood = 'happy' WHERE id = 2500;
             UPDATE people SET name = name || ' ' WHERE id = 7;"
    );
    let diff = one_table_diff(a, &b, &DataDiffOptions::default()).await;
    assert_eq!(
        (diff.added, diff.removed, diff.changed),
        (0, 0, 2),
        "{diff:#?}"
    );
    let changed: Vec<(serde_json::Value, Vec<String>)> = diff
        .changes
        .iter()
        .map(|c| (c.key.clone(), c.columns.clone()))
        .collect();
    assert_eq!(
        changed,
        [
            (json!({"id": 7}), vec!["name".to_string()]),
            (json!({"id": 2500}), vec!["mood".to_string()])
        ]
    );
}

#[tokio::test]
async fn text_keys_are_cut_at_keys_taken_from_the_rows() {
    let a = "CREATE TABLE coded (code text PRIMARY KEY, v int);
             INSERT INTO coded SELECT 'c' || lpad(i::text, 5, '0'), i FROM generate_series(1, 3000) i;";
    let b = format!(
        "{a} UPDATE coded SET v = -v WHERE v % 60 = 0;
             DELETE FROM coded WHERE v = 1501; INSERT INTO coded VALUES ('c99999', 0);"
    );
    let diff = one_table_diff(a, &b, &DataDiffOptions::default()).await;
    assert_eq!(
        (diff.added, diff.removed, diff.changed),
        (1, 1, 50),
        "{diff:#?}"
    );
    assert_eq!(diff.changes[0].key, json!({"code": "c00060"}));
    assert_eq!(diff.changes[0].columns, ["v"]);
    assert_eq!(diff.changes[25].key, json!({"code": "c01501"}));
    assert_eq!(diff.changes[25].change, RowChangeKind::Removed);
    assert_eq!(diff.changes[51].key, json!({"code": "c99999"}));

    let options = DataDiffOptions {
        max_differences: 10,
        leaf_rows: 100,
        fanout: 4,
    };
    let diff = one_table_diff(a, &b, &options).await;
    assert!(!diff.complete);
    assert_eq!(diff.changed, 10, "{diff:#?}");
    assert_eq!(diff.changes[9].key, json!({"code": "c00600"}));
}
