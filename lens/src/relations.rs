//! "Explain this row": the rows that reference it (with real counts and samples), the rows it
//! references, what a `DELETE` of it would do along every chain of ON DELETE actions, and a
//! risk level with the reasons for it. Every part carries the SQL that reproduces it.
//!
//! A set of rows is a `SELECT * FROM ...` statement; the rows that reference a set through a
//! foreign key are another such statement around it, so chains of any depth are plain SQL.
//! Only the declared foreign keys are followed (not the copies PostgreSQL keeps on partitions).

use serde::Serialize;
use sqlx::PgConnection;

use crate::browse::{BrowseError, from_table, row_json};
use crate::schema::{ForeignKey, SchemaGraph, Table};
use crate::sql::{Params, ident};

/// Sample rows per referencing foreign key, at the most.
pub const MAX_SAMPLES: u32 = 20;
/// Foreign-key hops a delete chain is followed.
pub const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// `schema.table`
    pub table: String,
    pub row: serde_json::Value,
    pub inbound: Vec<Inbound>,
    pub outbound: Vec<Outbound>,
    pub delete: DeleteEffects,
    pub risk: Risk,
    /// The parameters every `sql` here uses (`$1`...): the key's values.
    pub params: Vec<Option<String>>,
}

/// Rows of another table whose foreign key points at this row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Inbound {
    pub constraint: String,
    pub table: String,
    pub columns: Vec<String>,
    pub referenced_columns: Vec<String>,
    pub on_delete: String,
    pub count: i64,
    pub samples: Vec<serde_json::Value>,
    pub sql: String,
}

/// The row this row's foreign key points at.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outbound {
    pub constraint: String,
    pub table: String,
    pub columns: Vec<String>,
    pub referenced_columns: Vec<String>,
    /// Absent when the key is NULL (it points nowhere).
    pub row: Option<serde_json::Value>,
    pub sql: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteEffects {
    /// The statement whose effects these are.
    pub sql: String,
    /// False when a RESTRICT or NO ACTION key with referencing rows makes it fail.
    pub allowed: bool,
    /// False when rows were still cascading at [`MAX_DEPTH`] hops, where counting stopped.
    pub complete: bool,
    pub steps: Vec<DeleteStep>,
    /// Rows deleted and updated in each table, each row counted once.
    pub tables: Vec<TableEffect>,
}

/// What one foreign key does to the rows that reference rows being deleted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteStep {
    /// Hops from the deleted row (1: rows referencing it directly).
    pub depth: usize,
    pub table: String,
    pub constraint: String,
    /// The table whose deleted rows these reference.
    pub references: String,
    /// `CASCADE` (deleted), `SET NULL` / `SET DEFAULT` (updated), `RESTRICT` / `NO ACTION`
    /// (the delete fails).
    pub action: String,
    pub rows: i64,
    /// Counts the rows.
    pub sql: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableEffect {
    pub table: String,
    pub deleted: i64,
    pub updated: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Risk {
    /// `low`, `medium`, `high` or `critical`.
    pub level: String,
    /// 0 to 100: the sum of the reasons' points.
    pub score: u32,
    pub reasons: Vec<RiskReason>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RiskReason {
    pub points: u32,
    pub reason: String,
}

fn name(table: &Table) -> String {
    format!("{}.{}", table.schema, table.name)
}

fn table_of<'a>(graph: &'a SchemaGraph, schema: &str, table: &str) -> Option<&'a Table> {
    graph
        .tables
        .iter()
        .find(|t| t.schema == schema && t.name == table)
}

/// Foreign keys anywhere in `graph` that point at `target`, with the table holding each.
fn referencing<'a>(graph: &'a SchemaGraph, target: &Table) -> Vec<(&'a Table, &'a ForeignKey)> {
    graph
        .tables
        .iter()
        .flat_map(|t| t.foreign_keys.iter().map(move |fk| (t, fk)))
        .filter(|(_, fk)| {
            !fk.inherited
                && fk.references.schema == target.schema
                && fk.references.name == target.name
        })
        .collect()
}

/// `(a.x, a.y)` for columns of alias `a`.
fn tuple(alias: &str, columns: &[String]) -> String {
    let parts: Vec<String> = columns
        .iter()
        .map(|c| format!("{alias}.{}", ident(c)))
        .collect();
    format!("({})", parts.join(", "))
}

/// The rows of `child` (at alias `alias`) whose key `fk` points into the row set `parents`.
fn referencing_condition(alias: &str, fk: &ForeignKey, parents: &str) -> String {
    let referenced: Vec<String> = fk.referenced_columns.iter().map(|c| ident(c)).collect();
    format!(
        "{} IN (SELECT {} FROM ({parents}) AS p)",
        tuple(alias, &fk.columns),
        referenced.join(", ")
    )
}

/// The rows of `child` that reference the row set `parents` through `fk`, as a row set.
fn referencing_set(child: &Table, fk: &ForeignKey, parents: &str) -> String {
    format!(
        "SELECT * FROM {} AS t WHERE {}",
        from_table(child),
        referencing_condition("t", fk, parents)
    )
}

async fn count(conn: &mut PgConnection, set: &str, params: &Params) -> Result<i64, BrowseError> {
    let mut query = sqlx::query_scalar(set);
    for value in &params.values {
        query = query.bind(value);
    }
    Ok(query.fetch_one(conn).await?)
}

async fn rows_of(
    conn: &mut PgConnection,
    table: &Table,
    set: &str,
    limit: u32,
    params: &Params,
) -> Result<Vec<serde_json::Value>, BrowseError> {
    let sql = format!(
        "SELECT {} FROM ({set}) AS t LIMIT {limit}",
        row_json(table, "t")
    );
    let mut query = sqlx::query_scalar::<_, String>(&sql);
    for value in &params.values {
        query = query.bind(value);
    }
    query
        .fetch_all(conn)
        .await?
        .iter()
        .map(|json| serde_json::from_str(json).map_err(|e| BrowseError::BadRequest(e.to_string())))
        .collect()
}

/// One row, as a row set (`SELECT * FROM x AS t WHERE <condition>`) with its parameters.
struct TheRow {
    set: String,
    condition: String,
    params: Params,
}

/// The row of `table` whose columns have `key`'s values (as text); the columns must exist and
/// the row must be exactly one.
async fn the_row(
    conn: &mut PgConnection,
    table: &Table,
    key: &[(String, String)],
) -> Result<TheRow, BrowseError> {
    if key.is_empty() {
        return Err(BrowseError::BadRequest(
            "name the row: give a value for each column of its key".into(),
        ));
    }
    let mut params = Params::default();
    let mut conditions = Vec::new();
    for (column, value) in key {
        let found = table
            .columns
            .iter()
            .find(|c| &c.name == column)
            .ok_or_else(|| {
                BrowseError::BadRequest(format!("{} has no column {column:?}", name(table)))
            })?;
        conditions.push(format!(
            "t.{} = {}",
            ident(column),
            params.typed(Some(value), &found.data_type)
        ));
    }
    let condition = conditions.join(" AND ");
    let set = format!("SELECT * FROM {} AS t WHERE {condition}", from_table(table));
    let matching = count(conn, &format!("SELECT count(*) FROM ({set}) AS s"), &params).await?;
    match matching {
        1 => Ok(TheRow {
            set,
            condition,
            params,
        }),
        0 => Err(BrowseError::NotFound(format!(
            "{} has no row with that key",
            name(table)
        ))),
        n => Err(BrowseError::BadRequest(format!(
            "{n} rows of {} have those values: give its whole key",
            name(table)
        ))),
    }
}

/// Explains the row of `table` with `key` (column, value as text).
pub async fn explain(
    conn: &mut PgConnection,
    graph: &SchemaGraph,
    table: &Table,
    key: &[(String, String)],
    samples: u32,
) -> Result<Explanation, BrowseError> {
    let samples = samples.min(MAX_SAMPLES);
    let TheRow {
        set: row_set,
        condition,
        params,
    } = the_row(conn, table, key).await?;
    let row = rows_of(conn, table, &row_set, 1, &params)
        .await?
        .pop()
        .unwrap_or_default();

    let mut inbound = Vec::new();
    for (child, fk) in referencing(graph, table) {
        let set = referencing_set(child, fk, &row_set);
        let sql = format!("SELECT count(*) FROM ({set}) AS s");
        let rows = count(conn, &sql, &params).await?;
        let sample_rows = if rows > 0 && samples > 0 {
            rows_of(conn, child, &set, samples, &params).await?
        } else {
            Vec::new()
        };
        inbound.push(Inbound {
            constraint: fk.name.clone(),
            table: name(child),
            columns: fk.columns.clone(),
            referenced_columns: fk.referenced_columns.clone(),
            on_delete: fk.on_delete.clone(),
            count: rows,
            samples: sample_rows,
            sql,
        });
    }

    let mut outbound = Vec::new();
    for fk in table.foreign_keys.iter().filter(|fk| !fk.inherited) {
        if let Some(parent) = table_of(graph, &fk.references.schema, &fk.references.name) {
            outbound.push(pointed_at(conn, parent, fk, &row_set, &params).await?);
        }
    }

    let delete = delete_effects(conn, graph, table, &row_set, &condition, &params).await?;
    let risk = risk(&delete, &name(table));
    Ok(Explanation {
        table: name(table),
        row,
        inbound,
        outbound,
        delete,
        risk,
        params: params.values,
    })
}

/// The row a foreign-key value points at: the `constraint` of `table`'s row with `key`.
pub async fn follow(
    conn: &mut PgConnection,
    graph: &SchemaGraph,
    table: &Table,
    key: &[(String, String)],
    constraint: &str,
) -> Result<Outbound, BrowseError> {
    let fk = table
        .foreign_keys
        .iter()
        .find(|fk| fk.name == constraint)
        .ok_or_else(|| {
            BrowseError::BadRequest(format!("{} has no foreign key {constraint:?}", name(table)))
        })?;
    let TheRow {
        set: row_set,
        params,
        ..
    } = the_row(conn, table, key).await?;
    let parent = table_of(graph, &fk.references.schema, &fk.references.name).ok_or_else(|| {
        BrowseError::NotFound(format!(
            "{}.{} is not in the schema",
            fk.references.schema, fk.references.name
        ))
    })?;
    pointed_at(conn, parent, fk, &row_set, &params).await
}

/// The row of `parent` that key `fk` of the row set `row_set` points at.
async fn pointed_at(
    conn: &mut PgConnection,
    parent: &Table,
    fk: &ForeignKey,
    row_set: &str,
    params: &Params,
) -> Result<Outbound, BrowseError> {
    // The same condition as for referencing rows, with the roles of the columns swapped.
    let swapped = ForeignKey {
        columns: fk.referenced_columns.clone(),
        referenced_columns: fk.columns.clone(),
        ..fk.clone()
    };
    let set = referencing_set(parent, &swapped, row_set);
    let row = rows_of(conn, parent, &set, 1, params).await?.pop();
    Ok(Outbound {
        constraint: fk.name.clone(),
        table: name(parent),
        columns: fk.columns.clone(),
        referenced_columns: fk.referenced_columns.clone(),
        row,
        sql: format!("SELECT * FROM ({set}) AS s"),
    })
}

/// A set of rows being deleted, and how many hops from the row it is.
struct Deleted<'a> {
    table: &'a Table,
    set: String,
    depth: usize,
}

async fn delete_effects(
    conn: &mut PgConnection,
    graph: &SchemaGraph,
    table: &Table,
    row_set: &str,
    row_condition: &str,
    params: &Params,
) -> Result<DeleteEffects, BrowseError> {
    let mut steps = Vec::new();
    // Per table: the conditions (on alias t) of the rows deleted and of those updated.
    let mut deleted: Vec<(String, Vec<String>)> =
        vec![(name(table), vec![row_condition.to_string()])];
    let mut updated: Vec<(String, Vec<String>)> = Vec::new();
    let mut queue = vec![Deleted {
        table,
        set: row_set.to_string(),
        depth: 0,
    }];
    let mut complete = true;
    while let Some(at) = queue.pop() {
        if at.depth >= MAX_DEPTH {
            // Rows are still being deleted this deep (a deep tree, or rows in a cycle).
            complete = false;
            continue;
        }
        for (child, fk) in referencing(graph, at.table) {
            let set = referencing_set(child, fk, &at.set);
            let sql = format!("SELECT count(*) FROM ({set}) AS s");
            let rows = count(conn, &sql, params).await?;
            if rows == 0 {
                continue;
            }
            let child_name = name(child);
            let condition = referencing_condition("t", fk, &at.set);
            match fk.on_delete.as_str() {
                // Followed until no rows are left (a tree of one table, too) or MAX_DEPTH.
                "CASCADE" => {
                    push(&mut deleted, &child_name, condition);
                    queue.push(Deleted {
                        table: child,
                        set: set.clone(),
                        depth: at.depth + 1,
                    });
                }
                "SET NULL" | "SET DEFAULT" => push(&mut updated, &child_name, condition),
                _ => {}
            }
            steps.push(DeleteStep {
                depth: at.depth + 1,
                table: child_name,
                constraint: fk.name.clone(),
                references: name(at.table),
                action: fk.on_delete.clone(),
                rows,
                sql,
            });
        }
    }
    steps.sort_by(|a, b| {
        (a.depth, &a.table, &a.constraint).cmp(&(b.depth, &b.table, &b.constraint))
    });
    let allowed = !steps
        .iter()
        .any(|s| matches!(s.action.as_str(), "RESTRICT" | "NO ACTION"));
    let mut tables: Vec<TableEffect> = Vec::new();
    for (table_name, conditions) in &deleted {
        let rows = count_distinct(conn, graph, table_name, conditions, params).await?;
        tables.push(TableEffect {
            table: table_name.clone(),
            deleted: rows,
            updated: 0,
        });
    }
    for (table_name, conditions) in &updated {
        let rows = count_distinct(conn, graph, table_name, conditions, params).await?;
        match tables.iter_mut().find(|t| &t.table == table_name) {
            Some(effect) => effect.updated = rows,
            None => tables.push(TableEffect {
                table: table_name.clone(),
                deleted: 0,
                updated: rows,
            }),
        }
    }
    Ok(DeleteEffects {
        sql: format!(
            "DELETE FROM {} AS t WHERE {row_condition}",
            from_table(table)
        ),
        allowed,
        complete,
        steps,
        tables,
    })
}

fn push(into: &mut Vec<(String, Vec<String>)>, table: &str, condition: String) {
    match into.iter_mut().find(|(t, _)| t == table) {
        Some((_, conditions)) => conditions.push(condition),
        None => into.push((table.to_string(), vec![condition])),
    }
}

/// Rows of `table_name` meeting any of `conditions`, each counted once.
async fn count_distinct(
    conn: &mut PgConnection,
    graph: &SchemaGraph,
    table_name: &str,
    conditions: &[String],
    params: &Params,
) -> Result<i64, BrowseError> {
    let table = graph
        .tables
        .iter()
        .find(|t| name(t) == table_name)
        .expect("steps name tables of the graph");
    let sql = format!(
        "SELECT count(*) FROM {} AS t WHERE {}",
        from_table(table),
        conditions
            .iter()
            .map(|c| format!("({c})"))
            .collect::<Vec<_>>()
            .join(" OR ")
    );
    count(conn, &sql, params).await
}

/// The risk of deleting the row, from what the delete would really do. Points: a delete that
/// fails on referencing rows 30; rows deleted elsewhere by CASCADE 30, and 15 more past 100
/// rows and 20 more past 10,000; 10 for each hop past the first; rows set to NULL or their
/// default 10. Levels: up to 25 low, 50 medium, 75 high, above that critical.
pub fn risk(delete: &DeleteEffects, table: &str) -> Risk {
    let mut reasons = Vec::new();
    let mut add = |points: u32, reason: String| reasons.push(RiskReason { points, reason });
    for step in delete
        .steps
        .iter()
        .filter(|s| matches!(s.action.as_str(), "RESTRICT" | "NO ACTION"))
    {
        add(
            30,
            format!(
                "the delete fails: {} rows of {} reference it through {} ({})",
                step.rows, step.table, step.constraint, step.action
            ),
        );
    }
    let cascaded: i64 = delete
        .tables
        .iter()
        .map(|t| t.deleted - i64::from(t.table == table))
        .sum();
    if cascaded > 0 {
        add(
            30,
            format!("the delete removes {cascaded} more rows by CASCADE"),
        );
        if cascaded > 100 {
            add(15, "more than 100 rows cascade".into());
        }
        if cascaded > 10_000 {
            add(20, "more than 10,000 rows cascade".into());
        }
    }
    let depth = delete
        .steps
        .iter()
        .filter(|s| s.action == "CASCADE")
        .map(|s| s.depth)
        .max()
        .unwrap_or(0);
    if depth > 1 {
        add(
            10 * (depth as u32 - 1),
            format!("the cascade goes {depth} foreign keys deep"),
        );
    }
    let updated: i64 = delete.tables.iter().map(|t| t.updated).sum();
    if updated > 0 {
        add(
            10,
            format!("{updated} rows elsewhere are set to NULL or their default"),
        );
    }
    let score = reasons.iter().map(|r| r.points).sum::<u32>().min(100);
    let level = match score {
        0..=25 => "low",
        26..=50 => "medium",
        51..=75 => "high",
        _ => "critical",
    };
    Risk {
        level: level.into(),
        score,
        reasons,
    }
}
