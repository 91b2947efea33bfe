//! The schema graph of a restored database, built with one catalog query per object kind (never
//! one per table), stored once per sandbox as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

/// Bumped whenever the stored JSON changes shape; readers rebuild older graphs.
pub const SCHEMA_GRAPH_VERSION: u32 = 1;

/// Every user-visible object of one database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaGraph {
    pub version: u32,
    pub schemas: Vec<Schema>,
    pub tables: Vec<Table>,
    pub views: Vec<View>,
    pub sequences: Vec<Sequence>,
    pub enums: Vec<EnumType>,
    pub domains: Vec<Domain>,
    pub functions: Vec<Function>,
    pub triggers: Vec<Trigger>,
    pub extensions: Vec<Extension>,
    pub policies: Vec<Policy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Schema {
    pub name: String,
    pub comment: Option<String>,
}

#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    pub schema: String,
    pub name: String,
    /// `table`, `partitioned` or `foreign`.
    pub kind: String,
    /// The partitioned table this is a partition of.
    pub partition_of: Option<QualifiedName>,
    /// Inheritance parents (not partitioning).
    pub inherits: Vec<QualifiedName>,
    pub columns: Vec<Column>,
    pub primary_key: Option<Constraint>,
    pub foreign_keys: Vec<ForeignKey>,
    pub unique: Vec<Constraint>,
    pub checks: Vec<Constraint>,
    pub exclusions: Vec<Constraint>,
    pub indexes: Vec<Index>,
    /// `reltuples` after ANALYZE; `None` when never analysed (and for partitioned parents).
    pub row_estimate: Option<i64>,
    pub size_bytes: i64,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    /// `always` or `by default` for identity columns.
    pub identity: Option<String>,
    /// The expression of a generated column.
    pub generated: Option<String>,
    /// When it differs from the type's default collation.
    pub collation: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Constraint {
    pub name: String,
    pub columns: Vec<String>,
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub references: QualifiedName,
    pub referenced_columns: Vec<String>,
    /// `NO ACTION`, `RESTRICT`, `CASCADE`, `SET NULL` or `SET DEFAULT`.
    pub on_delete: String,
    pub on_update: String,
    pub definition: String,
    /// A copy PostgreSQL keeps on a partition (or per referenced partition) of a key declared
    /// on a partitioned table: relationships follow the declared one.
    #[serde(default)]
    pub inherited: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    pub primary: bool,
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct View {
    pub schema: String,
    pub name: String,
    pub materialized: bool,
    pub definition: String,
    pub columns: Vec<Column>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    pub data_type: String,
    pub owned_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EnumType {
    pub schema: String,
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    pub schema: String,
    pub name: String,
    pub base_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    pub checks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Function {
    pub schema: String,
    pub name: String,
    /// `function`, `procedure`, `aggregate` or `window`.
    pub kind: String,
    pub arguments: String,
    pub result: Option<String>,
    pub language: String,
    pub body: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Trigger {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Extension {
    pub name: String,
    pub version: String,
    pub schema: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Policy {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub command: String,
    pub permissive: bool,
    pub using: Option<String>,
    pub check: Option<String>,
}

/// Schemas that belong to PostgreSQL, not to the dump.
const USER_NAMESPACES: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

#[derive(sqlx::FromRow)]
struct RelationRow {
    oid: i64,
    schema: String,
    name: String,
    relkind: String,
    reltuples: f32,
    size_bytes: i64,
    partition_of: Option<String>,
    partition_of_schema: Option<String>,
    inherits: Vec<String>,
    definition: Option<String>,
    comment: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ColumnRow {
    relid: i64,
    name: String,
    data_type: String,
    not_null: bool,
    default_expr: Option<String>,
    identity: String,
    generated: String,
    collation: Option<String>,
    comment: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ConstraintRow {
    relid: i64,
    name: String,
    contype: String,
    columns: Vec<String>,
    ref_schema: Option<String>,
    ref_table: Option<String>,
    ref_columns: Vec<String>,
    on_delete: String,
    on_update: String,
    definition: String,
    inherited: bool,
}

#[derive(sqlx::FromRow)]
struct IndexRow {
    relid: i64,
    name: String,
    columns: Vec<String>,
    unique: bool,
    primary: bool,
    definition: String,
}

fn action(code: &str) -> String {
    match code {
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    }
    .into()
}

/// Reads the schema graph of the database `conn` is connected to.
pub async fn introspect(conn: &mut PgConnection) -> Result<SchemaGraph, sqlx::Error> {
    let schemas: Vec<(String, Option<String>)> = sqlx::query_as(&format!(
        "SELECT n.nspname, obj_description(n.oid, 'pg_namespace') FROM pg_namespace n
         WHERE {USER_NAMESPACES} ORDER BY 1"
    ))
    .fetch_all(&mut *conn)
    .await?;

    let relations: Vec<RelationRow> = sqlx::query_as(&format!(
        "SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
                c.reltuples, pg_total_relation_size(c.oid) AS size_bytes,
                pc.relname AS partition_of, pn.nspname AS partition_of_schema,
                coalesce((SELECT array_agg(format('%s.%s', ipn.nspname, ipc.relname) ORDER BY i.inhseqno)
                          FROM pg_inherits i JOIN pg_class ipc ON ipc.oid = i.inhparent
                          JOIN pg_namespace ipn ON ipn.oid = ipc.relnamespace
                          WHERE i.inhrelid = c.oid AND NOT c.relispartition), '{{}}') AS inherits,
                CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS definition,
                obj_description(c.oid, 'pg_class') AS comment
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_inherits pi ON c.relispartition AND pi.inhrelid = c.oid
         LEFT JOIN pg_class pc ON pc.oid = pi.inhparent
         LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND {USER_NAMESPACES}
         ORDER BY n.nspname, c.relname"
    ))
    .fetch_all(&mut *conn)
    .await?;

    let columns: Vec<ColumnRow> = sqlx::query_as(&format!(
        "SELECT a.attrelid::int8 AS relid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS data_type,
                a.attnotnull AS not_null,
                CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default_expr,
                a.attidentity::text AS identity,
                CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) ELSE '' END AS generated,
                CASE WHEN a.attcollation <> t.typcollation THEN co.collname END AS collation,
                col_description(a.attrelid, a.attnum) AS comment
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         LEFT JOIN pg_collation co ON co.oid = a.attcollation
         WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
           AND {USER_NAMESPACES}
         ORDER BY a.attrelid, a.attnum"
    ))
    .fetch_all(&mut *conn)
    .await?;

    let constraints: Vec<ConstraintRow> = sqlx::query_as(&format!(
        "SELECT co.conrelid::int8 AS relid, co.conname AS name, co.contype::text AS contype,
                coalesce((SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(co.conkey) WITH ORDINALITY k(num, ord)
                          JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.num), '{{}}') AS columns,
                rn.nspname AS ref_schema, rc.relname AS ref_table,
                coalesce((SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(co.confkey) WITH ORDINALITY k(num, ord)
                          JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.num), '{{}}') AS ref_columns,
                co.confdeltype::text AS on_delete, co.confupdtype::text AS on_update,
                pg_get_constraintdef(co.oid) AS definition, co.conparentid <> 0 AS inherited
         FROM pg_constraint co
         JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_class rc ON rc.oid = co.confrelid
         LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
         WHERE co.contype IN ('p', 'u', 'f', 'c', 'x') AND {USER_NAMESPACES}
         ORDER BY co.conrelid, co.conname"
    ))
    .fetch_all(&mut *conn)
    .await?;

    let indexes: Vec<IndexRow> = sqlx::query_as(&format!(
        "SELECT i.indrelid::int8 AS relid, ic.relname AS name,
                coalesce((SELECT array_agg(coalesce(a.attname, '(expression)') ORDER BY k.ord)
                          FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(num, ord)
                          LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
                          WHERE k.ord <= i.indnkeyatts), '{{}}') AS columns,
                i.indisunique AS unique, i.indisprimary AS primary, pg_get_indexdef(i.indexrelid) AS definition
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_namespace n ON n.oid = ic.relnamespace
         WHERE {USER_NAMESPACES}
         ORDER BY i.indrelid, ic.relname"
    ))
    .fetch_all(&mut *conn)
    .await?;

    let sequences: Vec<Sequence> = sqlx::query_as(&format!(
        "SELECT n.nspname AS schema, c.relname AS name, format_type(s.seqtypid, NULL) AS data_type,
                (SELECT format('%s.%s.%s', tn.nspname, tc.relname, a.attname)
                 FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid
                 JOIN pg_namespace tn ON tn.oid = tc.relnamespace
                 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')
                 LIMIT 1) AS owned_by
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE {USER_NAMESPACES} ORDER BY 1, 2"
    ))
    .fetch_all(&mut *conn)
    .await?;

    let enums: Vec<EnumType> = sqlx::query_as(&format!(
        "SELECT n.nspname AS schema, t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS values
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
         WHERE {USER_NAMESPACES} GROUP BY 1, 2 ORDER BY 1, 2"
    ))
    .fetch_all(&mut *conn)
    .await?;

    let domains: Vec<Domain> =
        sqlx::query_as(&format!(
            "SELECT n.nspname AS schema, t.typname AS name, format_type(t.typbasetype, t.typtypmod) AS base_type,
                    NOT t.typnotnull AS nullable, t.typdefault AS default,
                    coalesce((SELECT array_agg(pg_get_constraintdef(c.oid) ORDER BY c.conname)
                              FROM pg_constraint c WHERE c.contypid = t.oid), '{{}}') AS checks
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE t.typtype = 'd' AND {USER_NAMESPACES} ORDER BY 1, 2"
        ))
        .fetch_all(&mut *conn)
        .await?;

    let functions: Vec<Function> =
        sqlx::query_as(&format!(
            "SELECT n.nspname AS schema, p.proname AS name,
                    CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window' ELSE 'function' END AS kind,
                    pg_get_function_identity_arguments(p.oid) AS arguments,
                    CASE WHEN p.prokind <> 'p' THEN pg_get_function_result(p.oid) END AS result,
                    l.lanname AS language,
                    CASE WHEN p.prokind <> 'a' THEN p.prosrc END AS body,
                    obj_description(p.oid, 'pg_proc') AS comment
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             JOIN pg_language l ON l.oid = p.prolang
             WHERE {USER_NAMESPACES}
               AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                               AND d.objid = p.oid AND d.deptype = 'e')
             ORDER BY 1, 2, 4"
        ))
        .fetch_all(&mut *conn)
        .await?;

    let triggers: Vec<Trigger> = sqlx::query_as(&format!(
        "SELECT n.nspname AS schema, c.relname AS table, t.tgname AS name, pg_get_triggerdef(t.oid) AS definition
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT t.tgisinternal AND {USER_NAMESPACES} ORDER BY 1, 2, 3"
    ))
    .fetch_all(&mut *conn)
    .await?;

    let extensions: Vec<Extension> = sqlx::query_as(
        "SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema FROM pg_extension e
         JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await?;

    let policies: Vec<Policy> =
        sqlx::query_as(
            "SELECT schemaname::text AS schema, tablename::text AS table, policyname::text AS name,
                    cmd AS command, permissive = 'PERMISSIVE' AS permissive, qual AS using, with_check AS check
             FROM pg_policies ORDER BY 1, 2, 3",
        )
        .fetch_all(&mut *conn)
        .await?;

    let mut graph = assemble(schemas, relations, columns, constraints, indexes);
    graph.sequences = sequences;
    graph.enums = enums;
    graph.domains = domains;
    graph.functions = functions;
    graph.triggers = triggers;
    graph.extensions = extensions;
    graph.policies = policies;
    Ok(graph)
}

impl SchemaGraph {
    /// The table `schema.name`, if there is one.
    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }
}

fn assemble(
    schemas: Vec<(String, Option<String>)>,
    relations: Vec<RelationRow>,
    columns: Vec<ColumnRow>,
    constraints: Vec<ConstraintRow>,
    indexes: Vec<IndexRow>,
) -> SchemaGraph {
    let mut columns_by_rel: BTreeMap<i64, Vec<Column>> = BTreeMap::new();
    for c in columns {
        columns_by_rel.entry(c.relid).or_default().push(Column {
            name: c.name,
            data_type: c.data_type,
            nullable: !c.not_null,
            default: c.default_expr,
            identity: match c.identity.as_str() {
                "a" => Some("always".into()),
                "d" => Some("by default".into()),
                _ => None,
            },
            generated: Some(c.generated).filter(|g| !g.is_empty()),
            collation: c.collation,
            comment: c.comment,
        });
    }
    let mut indexes_by_rel: BTreeMap<i64, Vec<Index>> = BTreeMap::new();
    for i in indexes {
        indexes_by_rel.entry(i.relid).or_default().push(Index {
            name: i.name,
            columns: i.columns,
            unique: i.unique,
            primary: i.primary,
            definition: i.definition,
        });
    }
    let mut constraints_by_rel: BTreeMap<i64, Vec<ConstraintRow>> = BTreeMap::new();
    for c in constraints {
        constraints_by_rel.entry(c.relid).or_default().push(c);
    }

    let mut graph = SchemaGraph {
        version: SCHEMA_GRAPH_VERSION,
        schemas: schemas
            .into_iter()
            .map(|(name, comment)| Schema { name, comment })
            .collect(),
        tables: Vec::new(),
        views: Vec::new(),
        sequences: Vec::new(),
        enums: Vec::new(),
        domains: Vec::new(),
        functions: Vec::new(),
        triggers: Vec::new(),
        extensions: Vec::new(),
        policies: Vec::new(),
    };
    for r in relations {
        let columns = columns_by_rel.remove(&r.oid).unwrap_or_default();
        if matches!(r.relkind.as_str(), "v" | "m") {
            graph.views.push(View {
                schema: r.schema,
                name: r.name,
                materialized: r.relkind == "m",
                definition: r.definition.unwrap_or_default(),
                columns,
                comment: r.comment,
            });
            continue;
        }
        let mut table = Table {
            schema: r.schema,
            name: r.name,
            kind: match r.relkind.as_str() {
                "p" => "partitioned",
                "f" => "foreign",
                _ => "table",
            }
            .into(),
            partition_of: r
                .partition_of
                .zip(r.partition_of_schema)
                .map(|(name, schema)| QualifiedName { schema, name }),
            inherits: r
                .inherits
                .iter()
                .filter_map(|q| q.split_once('.'))
                .map(|(schema, name)| QualifiedName {
                    schema: schema.into(),
                    name: name.into(),
                })
                .collect(),
            columns,
            primary_key: None,
            foreign_keys: Vec::new(),
            unique: Vec::new(),
            checks: Vec::new(),
            exclusions: Vec::new(),
            indexes: indexes_by_rel.remove(&r.oid).unwrap_or_default(),
            row_estimate: (r.reltuples >= 0.0).then_some(r.reltuples as i64),
            size_bytes: r.size_bytes,
            comment: r.comment,
        };
        for c in constraints_by_rel.remove(&r.oid).unwrap_or_default() {
            let plain = || Constraint {
                name: c.name.clone(),
                columns: c.columns.clone(),
                definition: c.definition.clone(),
            };
            match c.contype.as_str() {
                "p" => table.primary_key = Some(plain()),
                "u" => table.unique.push(plain()),
                "c" => table.checks.push(plain()),
                "x" => table.exclusions.push(plain()),
                "f" => table.foreign_keys.push(ForeignKey {
                    references: QualifiedName {
                        schema: c.ref_schema.clone().unwrap_or_default(),
                        name: c.ref_table.clone().unwrap_or_default(),
                    },
                    name: c.name,
                    columns: c.columns,
                    referenced_columns: c.ref_columns,
                    on_delete: action(&c.on_delete),
                    on_update: action(&c.on_update),
                    definition: c.definition,
                    inherited: c.inherited,
                }),
                _ => {}
            }
        }
        graph.tables.push(table);
    }
    graph
}
