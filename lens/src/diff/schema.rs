//! What changed in a schema between two databases, object by object, over every kind the
//! schema graph holds; with the SQL that turns A into B. An object that is gone from A and
//! appears in B with the same definition under another name is a rename, not a drop and an add.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::schema::{Column, SchemaGraph, Table};
use crate::sql::{ident, qualified};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ObjectKind {
    Schema,
    Extension,
    Enum,
    Domain,
    Sequence,
    Function,
    Table,
    Column,
    PrimaryKey,
    Unique,
    Check,
    Exclusion,
    ForeignKey,
    Index,
    View,
    MaterializedView,
    Trigger,
    Policy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SchemaChangeKind {
    Added,
    Removed,
    Changed,
    Renamed,
}

/// One attribute that differs between A and B.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Difference {
    pub attribute: String,
    pub a: Value,
    pub b: Value,
}

/// One object that differs.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaChange {
    pub kind: ObjectKind,
    pub change: SchemaChangeKind,
    /// Its name in B (in A when removed): `schema.table.column`, `schema.function(args)`...
    pub name: String,
    /// For a rename: its name in A.
    pub renamed_from: Option<String>,
    /// For a change: what differs.
    pub differences: Vec<Difference>,
    /// The SQL that makes this change.
    pub sql: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SchemaDiff {
    pub changes: Vec<SchemaChange>,
}

impl SchemaDiff {
    /// A migration-style script turning A into B: renames, then drops (dependents first),
    /// then creations (what others depend on first), then changes.
    pub fn script(&self) -> String {
        let phase = |c: &SchemaChange| match c.change {
            SchemaChangeKind::Renamed => 0,
            SchemaChangeKind::Removed => 1,
            SchemaChangeKind::Added => 2,
            SchemaChangeKind::Changed => 3,
        };
        let mut ordered: Vec<&SchemaChange> = self.changes.iter().collect();
        ordered.sort_by_key(|c| {
            let rank = c.kind as i32;
            // Drops run from dependents down to what they depend on.
            let rank = if c.change == SchemaChangeKind::Removed {
                -rank
            } else {
                rank
            };
            (phase(c), rank)
        });
        let mut script = String::from("BEGIN;\n");
        // A sequence is owned by a column of a table made after it: ownership comes last.
        let mut ownership = Vec::new();
        for change in ordered {
            if change.kind == ObjectKind::Sequence {
                let (owned, rest): (Vec<&str>, Vec<&str>) =
                    change.sql.lines().partition(|s| s.contains(" OWNED BY "));
                ownership.extend(owned);
                for statement in rest {
                    script.push_str(statement);
                    script.push('\n');
                }
            } else {
                script.push_str(&change.sql);
                script.push('\n');
            }
        }
        for statement in ownership {
            script.push_str(statement);
            script.push('\n');
        }
        script.push_str("COMMIT;\n");
        script
    }
}

/// One object of one side, in the shape the comparison needs.
#[derive(Debug, Clone)]
struct Object {
    kind: ObjectKind,
    /// What identifies it within its kind (tables of renamed parents already under B's name).
    name: String,
    /// The object it belongs to (its table, for columns and constraints); renames stay within it.
    parent: String,
    /// Compared attributes.
    attributes: BTreeMap<&'static str, Value>,
    /// The attributes with anything naming the object itself taken out: equal ones are a rename.
    signature: String,
    create: String,
    drop: String,
    /// `ALTER … RENAME TO` with `{new}` standing for the new bare name.
    rename: String,
    /// `COMMENT ON …` with `{comment}` standing for the literal.
    comment_on: String,
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn column_definition(column: &Column) -> String {
    let mut definition = format!("{} {}", ident(&column.name), column.data_type);
    if let Some(collation) = &column.collation {
        definition.push_str(&format!(" COLLATE {}", ident(collation)));
    }
    if let Some(expression) = &column.generated {
        definition.push_str(&format!(" GENERATED ALWAYS AS ({expression}) STORED"));
    } else if let Some(identity) = &column.identity {
        definition.push_str(&format!(
            " GENERATED {} AS IDENTITY",
            identity.to_uppercase()
        ));
    } else if let Some(default) = &column.default {
        definition.push_str(&format!(" DEFAULT {default}"));
    }
    if !column.nullable {
        definition.push_str(" NOT NULL");
    }
    definition
}

fn column_attributes(column: &Column) -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        ("type", json!(column.data_type)),
        ("nullable", json!(column.nullable)),
        ("default", json!(column.default)),
        ("identity", json!(column.identity)),
        ("generated", json!(column.generated)),
        ("collation", json!(column.collation)),
        ("comment", json!(column.comment)),
    ])
}

fn signature(attributes: &BTreeMap<&'static str, Value>, skip: &[&str]) -> String {
    let kept: BTreeMap<_, _> = attributes
        .iter()
        .filter(|(k, _)| !skip.contains(k))
        .collect();
    serde_json::to_string(&kept).expect("attributes serialise")
}

/// The objects of a table: the table itself, its columns, keys, constraints and indexes. `as_name`
/// is the table's name in B (different from its own when it was renamed).
fn table_objects(table: &Table, as_name: &(String, String), objects: &mut Vec<Object>) {
    let sql_table = qualified(&as_name.0, &as_name.1);
    let table_name = format!("{}.{}", as_name.0, as_name.1);
    let columns: Vec<Value> = table
        .columns
        .iter()
        .map(|c| json!([c.name, c.data_type, c.nullable, c.default]))
        .collect();
    // Columns are objects of their own; the table's signature has them, so that a table
    // with the same columns under another name is a rename.
    let attributes = BTreeMap::from([
        ("kind", json!(table.kind)),
        ("partitionOf", json!(table.partition_of)),
        ("inherits", json!(table.inherits)),
        ("comment", json!(table.comment)),
    ]);
    let mut with_columns = attributes.clone();
    with_columns.insert("columns", json!(columns));
    let definitions: Vec<String> = table.columns.iter().map(column_definition).collect();
    let mut create = format!("CREATE TABLE {sql_table} ({})", definitions.join(", "));
    if let Some(parent) = &table.partition_of {
        create = format!(
            "-- {table_name} is a partition of {}.{}: attach it with its bounds\n{create}",
            parent.schema, parent.name
        );
    }
    if !table.inherits.is_empty() {
        let parents: Vec<String> = table
            .inherits
            .iter()
            .map(|p| qualified(&p.schema, &p.name))
            .collect();
        create.push_str(&format!(" INHERITS ({})", parents.join(", ")));
    }
    objects.push(Object {
        kind: ObjectKind::Table,
        name: table_name.clone(),
        parent: as_name.0.clone(),
        signature: signature(&with_columns, &[]),
        attributes,
        create: format!("{create};"),
        drop: format!("DROP TABLE {sql_table};"),
        rename: format!("ALTER TABLE {sql_table} RENAME TO {{new}};"),
        comment_on: format!("COMMENT ON TABLE {sql_table} IS {{comment}};"),
    });
    for column in &table.columns {
        let attributes = column_attributes(column);
        let sql_column = ident(&column.name);
        objects.push(Object {
            kind: ObjectKind::Column,
            name: format!("{table_name}.{}", column.name),
            parent: table_name.clone(),
            signature: signature(&attributes, &[]),
            attributes,
            create: format!(
                "ALTER TABLE {sql_table} ADD COLUMN {};",
                column_definition(column)
            ),
            drop: format!("ALTER TABLE {sql_table} DROP COLUMN {sql_column};"),
            rename: format!("ALTER TABLE {sql_table} RENAME COLUMN {sql_column} TO {{new}};"),
            comment_on: format!("COMMENT ON COLUMN {sql_table}.{sql_column} IS {{comment}};"),
        });
    }
    let mut constraint = |kind: ObjectKind,
                          name: &str,
                          definition: &str,
                          extra: &[(&'static str, Value)]| {
        let mut attributes = BTreeMap::from([("definition", json!(definition))]);
        attributes.extend(extra.iter().cloned());
        let sql_name = ident(name);
        objects.push(Object {
            kind,
            name: format!("{table_name}.{name}"),
            parent: table_name.clone(),
            signature: signature(&attributes, &[]),
            attributes,
            create: format!("ALTER TABLE {sql_table} ADD CONSTRAINT {sql_name} {definition};"),
            drop: format!("ALTER TABLE {sql_table} DROP CONSTRAINT {sql_name};"),
            rename: format!("ALTER TABLE {sql_table} RENAME CONSTRAINT {sql_name} TO {{new}};"),
            comment_on: format!("COMMENT ON CONSTRAINT {sql_name} ON {sql_table} IS {{comment}};"),
        });
    };
    if let Some(pk) = &table.primary_key {
        constraint(ObjectKind::PrimaryKey, &pk.name, &pk.definition, &[]);
    }
    for (kind, list) in [
        (ObjectKind::Unique, &table.unique),
        (ObjectKind::Check, &table.checks),
        (ObjectKind::Exclusion, &table.exclusions),
    ] {
        for c in list {
            constraint(kind, &c.name, &c.definition, &[]);
        }
    }
    for fk in table.foreign_keys.iter().filter(|fk| !fk.inherited) {
        let extra = [
            ("onDelete", json!(fk.on_delete)),
            ("onUpdate", json!(fk.on_update)),
        ];
        constraint(ObjectKind::ForeignKey, &fk.name, &fk.definition, &extra);
    }
    // Indexes that back a constraint come and go with it.
    let backing: Vec<&str> = table
        .primary_key
        .iter()
        .chain(&table.unique)
        .chain(&table.exclusions)
        .map(|c| c.name.as_str())
        .collect();
    for index in table
        .indexes
        .iter()
        .filter(|i| !i.primary && !backing.contains(&i.name.as_str()))
    {
        let attributes = BTreeMap::from([("definition", json!(index.definition))]);
        // The definition names the index: take the name out to see a rename.
        let unnamed = index
            .definition
            .replacen(&format!(" {} ON ", ident(&index.name)), " ? ON ", 1)
            .replacen(&format!(" {} ON ", index.name), " ? ON ", 1);
        let sql_index = qualified(&as_name.0, &index.name);
        objects.push(Object {
            kind: ObjectKind::Index,
            name: format!("{}.{}", as_name.0, index.name),
            parent: table_name.clone(),
            signature: unnamed,
            attributes,
            create: format!("{};", index.definition),
            drop: format!("DROP INDEX {sql_index};"),
            rename: format!("ALTER INDEX {sql_index} RENAME TO {{new}};"),
            comment_on: format!("COMMENT ON INDEX {sql_index} IS {{comment}};"),
        });
    }
}

/// Every object of `graph`, tables named as `renamed` says (A's tables under B's names).
fn objects(
    graph: &SchemaGraph,
    renamed: &BTreeMap<(String, String), (String, String)>,
) -> Vec<Object> {
    let mut objects = Vec::new();
    let simple = |kind,
                  name: String,
                  parent: String,
                  attributes: BTreeMap<&'static str, Value>,
                  create: String,
                  drop: String,
                  rename: String,
                  comment_on: String| Object {
        kind,
        name,
        parent,
        signature: signature(&attributes, &[]),
        attributes,
        create,
        drop,
        rename,
        comment_on,
    };
    for schema in &graph.schemas {
        let sql = ident(&schema.name);
        objects.push(simple(
            ObjectKind::Schema,
            schema.name.clone(),
            String::new(),
            BTreeMap::from([("comment", json!(schema.comment))]),
            format!("CREATE SCHEMA {sql};"),
            format!("DROP SCHEMA {sql};"),
            format!("ALTER SCHEMA {sql} RENAME TO {{new}};"),
            format!("COMMENT ON SCHEMA {sql} IS {{comment}};"),
        ));
    }
    for extension in &graph.extensions {
        let sql = ident(&extension.name);
        objects.push(simple(
            ObjectKind::Extension,
            extension.name.clone(),
            String::new(),
            BTreeMap::from([
                ("version", json!(extension.version)),
                ("schema", json!(extension.schema)),
            ]),
            format!(
                "CREATE EXTENSION IF NOT EXISTS {sql} WITH SCHEMA {} VERSION {};",
                ident(&extension.schema),
                literal(&extension.version)
            ),
            format!("DROP EXTENSION {sql};"),
            String::new(),
            format!("COMMENT ON EXTENSION {sql} IS {{comment}};"),
        ));
    }
    for e in &graph.enums {
        let sql = qualified(&e.schema, &e.name);
        let values: Vec<String> = e.values.iter().map(|v| literal(v)).collect();
        objects.push(simple(
            ObjectKind::Enum,
            format!("{}.{}", e.schema, e.name),
            e.schema.clone(),
            BTreeMap::from([("values", json!(e.values))]),
            format!("CREATE TYPE {sql} AS ENUM ({});", values.join(", ")),
            format!("DROP TYPE {sql};"),
            format!("ALTER TYPE {sql} RENAME TO {{new}};"),
            format!("COMMENT ON TYPE {sql} IS {{comment}};"),
        ));
    }
    for d in &graph.domains {
        let sql = qualified(&d.schema, &d.name);
        let mut create = format!("CREATE DOMAIN {sql} AS {}", d.base_type);
        if let Some(default) = &d.default {
            create.push_str(&format!(" DEFAULT {default}"));
        }
        if !d.nullable {
            create.push_str(" NOT NULL");
        }
        for check in &d.checks {
            create.push_str(&format!(" {check}"));
        }
        objects.push(simple(
            ObjectKind::Domain,
            format!("{}.{}", d.schema, d.name),
            d.schema.clone(),
            BTreeMap::from([
                ("baseType", json!(d.base_type)),
                ("nullable", json!(d.nullable)),
                ("default", json!(d.default)),
                ("checks", json!(d.checks)),
            ]),
            format!("{create};"),
            format!("DROP DOMAIN {sql};"),
            format!("ALTER DOMAIN {sql} RENAME TO {{new}};"),
            format!("COMMENT ON DOMAIN {sql} IS {{comment}};"),
        ));
    }
    for s in &graph.sequences {
        let sql = qualified(&s.schema, &s.name);
        let mut create = format!("CREATE SEQUENCE {sql} AS {};", s.data_type);
        if let Some(owner) = &s.owned_by {
            create.push('\n');
            create.push_str(&owned_by(&sql, Some(owner)));
        }
        objects.push(simple(
            ObjectKind::Sequence,
            format!("{}.{}", s.schema, s.name),
            s.schema.clone(),
            BTreeMap::from([("type", json!(s.data_type)), ("ownedBy", json!(s.owned_by))]),
            create,
            format!("DROP SEQUENCE {sql};"),
            format!("ALTER SEQUENCE {sql} RENAME TO {{new}};"),
            format!("COMMENT ON SEQUENCE {sql} IS {{comment}};"),
        ));
    }
    for f in &graph.functions {
        let sql = format!("{}({})", qualified(&f.schema, &f.name), f.arguments);
        let keyword = if f.kind == "procedure" {
            "PROCEDURE"
        } else {
            "FUNCTION"
        };
        let create = match (&f.body, f.kind.as_str()) {
            (Some(body), "function" | "procedure") => {
                let returns = f
                    .result
                    .as_ref()
                    .map(|r| format!(" RETURNS {r}"))
                    .unwrap_or_default();
                format!(
                    "CREATE OR REPLACE {keyword} {sql}{returns} LANGUAGE {} AS {};",
                    ident(&f.language),
                    dollar_quoted(body)
                )
            }
            _ => format!(
                "-- {} {sql}: its definition is not kept; write it by hand",
                f.kind
            ),
        };
        objects.push(simple(
            ObjectKind::Function,
            format!("{}.{}({})", f.schema, f.name, f.arguments),
            f.schema.clone(),
            BTreeMap::from([
                ("kind", json!(f.kind)),
                ("result", json!(f.result)),
                ("language", json!(f.language)),
                ("body", json!(f.body)),
                ("comment", json!(f.comment)),
            ]),
            create,
            format!("DROP {keyword} {sql};"),
            format!("ALTER {keyword} {sql} RENAME TO {{new}};"),
            format!("COMMENT ON {keyword} {sql} IS {{comment}};"),
        ));
    }
    for table in &graph.tables {
        let own = (table.schema.clone(), table.name.clone());
        let as_name = renamed.get(&own).unwrap_or(&own);
        table_objects(table, as_name, &mut objects);
    }
    for v in &graph.views {
        let sql = qualified(&v.schema, &v.name);
        let (kind, keyword) = if v.materialized {
            (ObjectKind::MaterializedView, "MATERIALIZED VIEW")
        } else {
            (ObjectKind::View, "VIEW")
        };
        let definition = v.definition.trim().trim_end_matches(';');
        objects.push(simple(
            kind,
            format!("{}.{}", v.schema, v.name),
            v.schema.clone(),
            BTreeMap::from([
                ("definition", json!(v.definition)),
                ("comment", json!(v.comment)),
            ]),
            format!("CREATE {keyword} {sql} AS {definition};"),
            format!("DROP {keyword} {sql};"),
            format!("ALTER {keyword} {sql} RENAME TO {{new}};"),
            format!("COMMENT ON {keyword} {sql} IS {{comment}};"),
        ));
    }
    for t in &graph.triggers {
        let table = qualified(&t.schema, &t.table);
        let sql = ident(&t.name);
        objects.push(simple(
            ObjectKind::Trigger,
            format!("{}.{}.{}", t.schema, t.table, t.name),
            format!("{}.{}", t.schema, t.table),
            BTreeMap::from([("definition", json!(t.definition))]),
            format!("{};", t.definition),
            format!("DROP TRIGGER {sql} ON {table};"),
            format!("ALTER TRIGGER {sql} ON {table} RENAME TO {{new}};"),
            format!("COMMENT ON TRIGGER {sql} ON {table} IS {{comment}};"),
        ));
    }
    for p in &graph.policies {
        let table = qualified(&p.schema, &p.table);
        let sql = ident(&p.name);
        let mut create = format!(
            "CREATE POLICY {sql} ON {table} AS {} FOR {}",
            if p.permissive {
                "PERMISSIVE"
            } else {
                "RESTRICTIVE"
            },
            p.command
        );
        if let Some(using) = &p.using {
            create.push_str(&format!(" USING ({using})"));
        }
        if let Some(check) = &p.check {
            create.push_str(&format!(" WITH CHECK ({check})"));
        }
        objects.push(simple(
            ObjectKind::Policy,
            format!("{}.{}.{}", p.schema, p.table, p.name),
            format!("{}.{}", p.schema, p.table),
            BTreeMap::from([
                ("command", json!(p.command)),
                ("permissive", json!(p.permissive)),
                ("using", json!(p.using)),
                ("check", json!(p.check)),
            ]),
            format!("{create};"),
            format!("DROP POLICY {sql} ON {table};"),
            format!("ALTER POLICY {sql} ON {table} RENAME TO {{new}};"),
            format!("COMMENT ON POLICY {sql} ON {table} IS {{comment}};"),
        ));
    }
    objects
}

/// `ALTER SEQUENCE … OWNED BY` the column `owner` (`schema.table.column`), or by none.
fn owned_by(sequence: &str, owner: Option<&str>) -> String {
    let owner = owner
        .and_then(|o| {
            let (table, column) = o.rsplit_once('.')?;
            let (schema, table) = table.split_once('.')?;
            Some(format!("{}.{}", qualified(schema, table), ident(column)))
        })
        .unwrap_or_else(|| "NONE".into());
    format!("ALTER SEQUENCE {sequence} OWNED BY {owner};")
}

/// `body` in dollar quotes that do not occur in it.
fn dollar_quoted(body: &str) -> String {
    let mut tag = String::from("$body$");
    while body.contains(&tag) {
        tag.insert(tag.len() - 1, '_');
    }
    format!("{tag}{body}{tag}")
}

fn bare_name(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// The SQL that turns object `a` into `b` (same kind and name).
fn alter(a: &Object, b: &Object, differences: &[Difference]) -> String {
    let only = |attributes: &[&str]| {
        differences
            .iter()
            .all(|d| attributes.contains(&d.attribute.as_str()))
    };
    let comment = |o: &Object| {
        let text = o.attributes.get("comment").and_then(Value::as_str);
        o.comment_on.replace(
            "{comment}",
            &text.map(literal).unwrap_or_else(|| "NULL".into()),
        )
    };
    if only(&["comment"]) {
        return comment(b);
    }
    match b.kind {
        ObjectKind::Column => {
            let (table, column) = b.name.rsplit_once('.').expect("a column is table.column");
            let (schema, table) = table.split_once('.').expect("a table is schema.table");
            let prefix = format!(
                "ALTER TABLE {} ALTER COLUMN {}",
                qualified(schema, table),
                ident(column)
            );
            let mut statements = Vec::new();
            for d in differences {
                statements.push(match (d.attribute.as_str(), &d.b) {
                    ("type", Value::String(t)) => format!("{prefix} TYPE {t};"),
                    ("nullable", Value::Bool(true)) => format!("{prefix} DROP NOT NULL;"),
                    ("nullable", _) => format!("{prefix} SET NOT NULL;"),
                    ("default", Value::String(d)) => format!("{prefix} SET DEFAULT {d};"),
                    ("default", _) => format!("{prefix} DROP DEFAULT;"),
                    ("comment", _) => comment(b),
                    (other, _) => format!(
                        "-- {} {other}: drop and add the column to change it",
                        b.name
                    ),
                });
            }
            statements.join("\n")
        }
        ObjectKind::Enum => {
            let values = |o: &Object| -> Vec<String> {
                serde_json::from_value(o.attributes["values"].clone()).unwrap_or_default()
            };
            let (old, new) = (values(a), values(b));
            let kept: Vec<&String> = new.iter().filter(|v| old.contains(v)).collect();
            if old.iter().all(|v| new.contains(v)) && kept.iter().copied().eq(old.iter()) {
                let sql = b
                    .drop
                    .trim_start_matches("DROP TYPE ")
                    .trim_end_matches(';')
                    .to_string();
                new.iter()
                    .enumerate()
                    .filter(|(_, v)| !old.contains(v))
                    .map(|(i, v)| match i.checked_sub(1).map(|p| &new[p]) {
                        Some(before) => format!(
                            "ALTER TYPE {sql} ADD VALUE {} AFTER {};",
                            literal(v),
                            literal(before)
                        ),
                        None => format!(
                            "ALTER TYPE {sql} ADD VALUE {} BEFORE {};",
                            literal(v),
                            literal(&new[1])
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                format!(
                    "-- {}: values removed or reordered, which ALTER TYPE cannot do; recreate the type and the columns using it\n{}\n{}",
                    b.name, a.drop, b.create
                )
            }
        }
        ObjectKind::Function => b.create.clone(),
        ObjectKind::Sequence if only(&["ownedBy"]) => {
            let sql = b
                .drop
                .trim_start_matches("DROP SEQUENCE ")
                .trim_end_matches(';');
            owned_by(sql, b.attributes["ownedBy"].as_str())
        }
        ObjectKind::Extension => format!(
            "ALTER EXTENSION {} UPDATE TO {};",
            ident(&b.name),
            literal(b.attributes["version"].as_str().unwrap_or_default())
        ),
        _ => {
            let mut sql = format!("{}\n{}", a.drop, b.create);
            if differences.iter().any(|d| d.attribute == "comment") {
                sql.push('\n');
                sql.push_str(&comment(b));
            }
            sql
        }
    }
}

/// Matches objects gone from A with objects new in B of the same kind and parent whose
/// definitions are the same: renames. Returns (index in A, index in B) pairs.
fn renames(removed: &[&Object], added: &[&Object]) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut taken = vec![false; added.len()];
    for (i, a) in removed.iter().enumerate() {
        if a.rename.is_empty() {
            continue;
        }
        let candidates: Vec<usize> = (0..added.len())
            .filter(|&j| !taken[j])
            .filter(|&j| {
                let b = added[j];
                b.kind == a.kind && b.parent == a.parent && b.signature == a.signature
            })
            .collect();
        // Proven only when exactly one object fits.
        if let [j] = candidates[..] {
            taken[j] = true;
            pairs.push((i, j));
        }
    }
    pairs
}

/// Everything that differs between the schemas of A and B.
pub fn schema_diff(a: &SchemaGraph, b: &SchemaGraph) -> SchemaDiff {
    let mut changes = Vec::new();
    // Tables first: a renamed table's columns and constraints are compared under its new name.
    let no_renames = BTreeMap::new();
    let tables = |g: &SchemaGraph| -> Vec<Object> {
        let mut objects = Vec::new();
        for t in &g.tables {
            table_objects(t, &(t.schema.clone(), t.name.clone()), &mut objects);
        }
        objects.retain(|o| o.kind == ObjectKind::Table);
        objects
    };
    let (tables_a, tables_b) = (tables(a), tables(b));
    let gone: Vec<&Object> = tables_a
        .iter()
        .filter(|t| !tables_b.iter().any(|u| u.name == t.name))
        .collect();
    let new: Vec<&Object> = tables_b
        .iter()
        .filter(|t| !tables_a.iter().any(|u| u.name == t.name))
        .collect();
    let mut renamed = BTreeMap::new();
    for (i, j) in renames(&gone, &new) {
        let split = |n: &str| {
            let (s, t) = n.split_once('.').expect("schema.table");
            (s.to_string(), t.to_string())
        };
        renamed.insert(split(&gone[i].name), split(&new[j].name));
        changes.push(SchemaChange {
            kind: ObjectKind::Table,
            change: SchemaChangeKind::Renamed,
            name: new[j].name.clone(),
            renamed_from: Some(gone[i].name.clone()),
            differences: Vec::new(),
            sql: gone[i]
                .rename
                .replace("{new}", &ident(bare_name(&new[j].name))),
        });
    }
    let objects_a = objects(a, &renamed);
    let objects_b = objects(b, &no_renames);
    let key = |o: &Object| (o.kind, o.name.clone());
    let index_b: BTreeMap<_, &Object> = objects_b.iter().map(|o| (key(o), o)).collect();
    let index_a: BTreeMap<_, &Object> = objects_a.iter().map(|o| (key(o), o)).collect();
    let mut removed: Vec<&Object> = Vec::new();
    for a in &objects_a {
        match index_b.get(&key(a)) {
            None => removed.push(a),
            Some(b) if a.attributes != b.attributes => {
                let differences: Vec<Difference> = b
                    .attributes
                    .iter()
                    .filter(|(k, v)| a.attributes.get(*k) != Some(v))
                    .map(|(k, v)| Difference {
                        attribute: k.to_string(),
                        a: a.attributes.get(k).cloned().unwrap_or(Value::Null),
                        b: v.clone(),
                    })
                    .collect();
                let sql = alter(a, b, &differences);
                changes.push(SchemaChange {
                    kind: b.kind,
                    change: SchemaChangeKind::Changed,
                    name: b.name.clone(),
                    renamed_from: None,
                    differences,
                    sql,
                });
            }
            Some(_) => {}
        }
    }
    let mut added: Vec<&Object> = objects_b
        .iter()
        .filter(|b| !index_a.contains_key(&key(b)))
        .collect();
    let pairs = renames(&removed, &added);
    let (mut gone_a, mut new_b) = (vec![false; removed.len()], vec![false; added.len()]);
    for (i, j) in pairs {
        gone_a[i] = true;
        new_b[j] = true;
        changes.push(SchemaChange {
            kind: added[j].kind,
            change: SchemaChangeKind::Renamed,
            name: added[j].name.clone(),
            renamed_from: Some(removed[i].name.clone()),
            differences: Vec::new(),
            sql: removed[i]
                .rename
                .replace("{new}", &ident(bare_name(&added[j].name))),
        });
    }
    let dropped_tables: Vec<&str> = removed
        .iter()
        .enumerate()
        .filter(|(i, o)| !gone_a[*i] && o.kind == ObjectKind::Table)
        .map(|(_, o)| o.name.as_str())
        .collect();
    for (_, o) in removed.iter().enumerate().filter(|(i, _)| !gone_a[*i]) {
        // DROP TABLE takes its columns, constraints, indexes, triggers and policies with it.
        if o.kind != ObjectKind::Table && dropped_tables.contains(&o.parent.as_str()) {
            continue;
        }
        changes.push(SchemaChange {
            kind: o.kind,
            change: SchemaChangeKind::Removed,
            name: o.name.clone(),
            renamed_from: None,
            differences: Vec::new(),
            sql: o.drop.clone(),
        });
    }
    let mut index = 0;
    added.retain(|_| {
        index += 1;
        !new_b[index - 1]
    });
    for o in added {
        // A new table's columns are in its CREATE TABLE.
        if o.kind == ObjectKind::Column
            && !tables_a.iter().any(|t| t.name == o.parent)
            && !renamed
                .values()
                .any(|(s, t)| format!("{s}.{t}") == o.parent)
        {
            continue;
        }
        let mut sql = o.create.clone();
        if let Some(Value::String(text)) = o.attributes.get("comment") {
            sql.push('\n');
            sql.push_str(&o.comment_on.replace("{comment}", &literal(text)));
        }
        changes.push(SchemaChange {
            kind: o.kind,
            change: SchemaChangeKind::Added,
            name: o.name.clone(),
            renamed_from: None,
            differences: Vec::new(),
            sql,
        });
    }
    changes.sort_by(|x, y| (x.kind, &x.name).cmp(&(y.kind, &y.name)));
    SchemaDiff { changes }
}
