//! Entity-relationship diagrams from a schema graph: a table and its neighbours along foreign
//! keys (either direction) to a depth, one schema, or everything; as a JSON graph and as
//! Mermaid `erDiagram` text.

use std::collections::{BTreeSet, VecDeque};

use serde::Serialize;

use crate::schema::{SchemaGraph, Table};

/// The deepest neighbourhood asked for.
pub const MAX_DEPTH: u32 = 5;

/// Which tables a diagram shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Schema(String),
    /// A table and the tables within `depth` foreign-key hops of it.
    Around {
        schema: String,
        table: String,
        depth: u32,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Diagram {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// `schema.table`, as edges name it.
    pub id: String,
    pub schema: String,
    pub name: String,
    pub columns: Vec<NodeColumn>,
    pub row_estimate: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeColumn {
    pub name: String,
    pub data_type: String,
    pub primary_key: bool,
    pub foreign_key: bool,
    pub nullable: bool,
}

/// A foreign key: `from` (the referencing table) points at `to`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    pub name: String,
    pub from: String,
    pub to: String,
    pub columns: Vec<String>,
    pub referenced_columns: Vec<String>,
    pub on_delete: String,
    /// Whether a referencing row may have no referenced row (a nullable key column).
    pub optional: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ErError {
    #[error("there is no table {0}")]
    NoTable(String),
    #[error("there is no schema {0:?}")]
    NoSchema(String),
    #[error("depth is 1 to {MAX_DEPTH}")]
    Depth,
}

fn id(schema: &str, name: &str) -> String {
    format!("{schema}.{name}")
}

/// The diagram of `scope` in `graph`. Edges to tables outside the scope are left out.
pub fn diagram(graph: &SchemaGraph, scope: &Scope) -> Result<Diagram, ErError> {
    let all_edges: Vec<Edge> = graph.tables.iter().flat_map(edges_of).collect();
    let chosen: BTreeSet<String> = match scope {
        Scope::All => graph
            .tables
            .iter()
            .map(|t| id(&t.schema, &t.name))
            .collect(),
        Scope::Schema(schema) => {
            if !graph.schemas.iter().any(|s| &s.name == schema) {
                return Err(ErError::NoSchema(schema.clone()));
            }
            graph
                .tables
                .iter()
                .filter(|t| &t.schema == schema)
                .map(|t| id(&t.schema, &t.name))
                .collect()
        }
        Scope::Around {
            schema,
            table,
            depth,
        } => {
            if !(1..=MAX_DEPTH).contains(depth) {
                return Err(ErError::Depth);
            }
            let start = id(schema, table);
            if !graph
                .tables
                .iter()
                .any(|t| t.schema == *schema && t.name == *table)
            {
                return Err(ErError::NoTable(start));
            }
            let mut seen = BTreeSet::from([start.clone()]);
            let mut queue = VecDeque::from([(start, 0)]);
            while let Some((at, distance)) = queue.pop_front() {
                if distance == *depth {
                    continue;
                }
                for edge in &all_edges {
                    let next = if edge.from == at {
                        &edge.to
                    } else if edge.to == at {
                        &edge.from
                    } else {
                        continue;
                    };
                    if seen.insert(next.clone()) {
                        queue.push_back((next.clone(), distance + 1));
                    }
                }
            }
            seen
        }
    };
    let nodes = graph
        .tables
        .iter()
        .filter(|t| chosen.contains(&id(&t.schema, &t.name)))
        .map(node)
        .collect();
    let edges = all_edges
        .into_iter()
        .filter(|e| chosen.contains(&e.from) && chosen.contains(&e.to))
        .collect();
    Ok(Diagram { nodes, edges })
}

fn edges_of(table: &Table) -> Vec<Edge> {
    table
        .foreign_keys
        .iter()
        .filter(|fk| !fk.inherited)
        .map(|fk| Edge {
            name: fk.name.clone(),
            from: id(&table.schema, &table.name),
            to: id(&fk.references.schema, &fk.references.name),
            columns: fk.columns.clone(),
            referenced_columns: fk.referenced_columns.clone(),
            on_delete: fk.on_delete.clone(),
            optional: fk.columns.iter().any(|c| {
                table
                    .columns
                    .iter()
                    .any(|col| &col.name == c && col.nullable)
            }),
        })
        .collect()
}

fn node(table: &Table) -> Node {
    let primary: Vec<&String> = table
        .primary_key
        .iter()
        .flat_map(|pk| &pk.columns)
        .collect();
    Node {
        id: id(&table.schema, &table.name),
        schema: table.schema.clone(),
        name: table.name.clone(),
        columns: table
            .columns
            .iter()
            .map(|c| NodeColumn {
                name: c.name.clone(),
                data_type: c.data_type.clone(),
                primary_key: primary.contains(&&c.name),
                foreign_key: table
                    .foreign_keys
                    .iter()
                    .any(|fk| fk.columns.contains(&c.name)),
                nullable: c.nullable,
            })
            .collect(),
        row_estimate: table.row_estimate,
    }
}

/// A word Mermaid accepts where it wants a name: letters, digits and `_`, not starting with a
/// digit.
fn mermaid_word(text: &str) -> String {
    let word: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    match word.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => word,
        _ => format!("_{word}"),
    }
}

/// Text safe inside a Mermaid double-quoted string (it has no escape for `"`).
fn mermaid_label(text: &str) -> String {
    text.replace('"', "'")
}

/// The diagram as Mermaid `erDiagram` text. Entities are named `t1`, `t2`... with the real
/// `schema.table` as their label, so no name can break the syntax.
pub fn mermaid(diagram: &Diagram) -> String {
    let mut out = String::from("erDiagram\n");
    let entity = |id: &str| {
        diagram
            .nodes
            .iter()
            .position(|n| n.id == id)
            .map(|i| format!("t{}", i + 1))
    };
    for (i, node) in diagram.nodes.iter().enumerate() {
        out.push_str(&format!(
            "    t{}[\"{}\"] {{\n",
            i + 1,
            mermaid_label(&node.id)
        ));
        for column in &node.columns {
            let keys: Vec<&str> = [(column.primary_key, "PK"), (column.foreign_key, "FK")]
                .into_iter()
                .filter_map(|(on, key)| on.then_some(key))
                .collect();
            let word = mermaid_word(&column.name);
            // The real name when the word had to change it.
            let comment = if word == column.name {
                String::new()
            } else {
                format!(" \"{}\"", mermaid_label(&column.name))
            };
            out.push_str(&format!(
                "        {} {}{}{}\n",
                mermaid_word(&column.data_type),
                word,
                if keys.is_empty() {
                    String::new()
                } else {
                    format!(" {}", keys.join(","))
                },
                comment
            ));
        }
        out.push_str("    }\n");
    }
    for edge in &diagram.edges {
        let (Some(to), Some(from)) = (entity(&edge.to), entity(&edge.from)) else {
            continue;
        };
        let parent = if edge.optional { "|o" } else { "||" };
        out.push_str(&format!(
            "    {to} {parent}--o{{ {from} : \"{}\"\n",
            mermaid_label(&edge.name)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_break_mermaid_are_made_words_and_labels() {
        let column = |name: &str, data_type: &str| NodeColumn {
            name: name.into(),
            data_type: data_type.into(),
            primary_key: false,
            foreign_key: false,
            nullable: true,
        };
        let diagram = Diagram {
            nodes: vec![Node {
                id: r#"odd."x" } erDiagram"#.into(),
                schema: "odd".into(),
                name: r#""x" } erDiagram"#.into(),
                columns: vec![column("1st col", "character varying(45)")],
                row_estimate: None,
            }],
            edges: vec![],
        };
        assert_eq!(
            mermaid(&diagram),
            "erDiagram\n    t1[\"odd.'x' } erDiagram\"] {\n        character_varying_45_ _1st_col \"1st col\"\n    }\n"
        );
    }
}
