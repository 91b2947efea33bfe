//! ER diagrams of pagila: a table's neighbourhood, a schema, and Mermaid text that names
//! everything safely.

use lens::er::{self, ErError, Scope};
use lens::testing::restored;

fn around(table: &str, depth: u32) -> Scope {
    Scope::Around {
        schema: "public".into(),
        table: table.into(),
        depth,
    }
}

#[tokio::test]
async fn a_tables_neighbourhood_grows_with_depth() {
    let (_, graph) = restored("pagila.pg18.custom.dump").await;
    let one = er::diagram(&graph, &around("rental", 1)).unwrap();
    let mut ids: Vec<&str> = one.nodes.iter().map(|n| n.id.as_str()).collect();
    ids.sort();
    // rental references customer, inventory and staff; payment partitions reference rental.
    for neighbour in [
        "public.customer",
        "public.inventory",
        "public.staff",
        "public.rental",
    ] {
        assert!(ids.contains(&neighbour), "{ids:?}");
    }
    assert!(
        !ids.contains(&"public.film"),
        "film is two hops away: {ids:?}"
    );
    let edge = one
        .edges
        .iter()
        .find(|e| e.from == "public.rental" && e.to == "public.customer")
        .unwrap();
    assert_eq!(edge.columns, ["customer_id"]);
    assert_eq!(edge.referenced_columns, ["customer_id"]);
    let two = er::diagram(&graph, &around("rental", 2)).unwrap();
    assert!(two.nodes.iter().any(|n| n.id == "public.film"));
    assert!(two.nodes.len() > one.nodes.len());
    let every = er::diagram(&graph, &Scope::All).unwrap();
    assert_eq!(every.nodes.len(), graph.tables.len());
    // Declared keys only: not the copies PostgreSQL keeps on each partition.
    let fks = graph
        .tables
        .iter()
        .flat_map(|t| &t.foreign_keys)
        .filter(|fk| !fk.inherited)
        .count();
    assert_eq!(every.edges.len(), fks);
    assert_eq!(
        er::diagram(&graph, &Scope::Schema("public".into())).unwrap(),
        every,
        "pagila is all in public"
    );
}

#[tokio::test]
async fn mistakes_are_named() {
    let (_, graph) = restored("pagila.pg18.custom.dump").await;
    assert_eq!(
        er::diagram(&graph, &around("nope", 1)),
        Err(ErError::NoTable("public.nope".into()))
    );
    assert_eq!(
        er::diagram(&graph, &around("rental", 0)),
        Err(ErError::Depth)
    );
    assert_eq!(
        er::diagram(&graph, &Scope::Schema("x".into())),
        Err(ErError::NoSchema("x".into()))
    );
}

#[tokio::test]
async fn mermaid_text_has_an_entity_per_table_and_a_line_per_key() {
    let (_, graph) = restored("pagila.pg18.custom.dump").await;
    let diagram = er::diagram(&graph, &around("rental", 1)).unwrap();
    let text = er::mermaid(&diagram);
    assert!(text.starts_with("erDiagram\n"));
    assert_eq!(text.matches("[\"public.").count(), diagram.nodes.len());
    assert_eq!(text.matches(" : \"").count(), diagram.edges.len());
    assert!(text.contains("integer rental_id PK\n"), "{text}");
    assert!(
        text.contains("timestamp_without_time_zone rental_date\n"),
        "{text}"
    );
    assert!(text.contains("\"rental_customer_id_fkey\""), "{text}");
}
