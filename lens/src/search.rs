//! Searching the text-like columns of every table for a piece of text (case does not matter),
//! within a time budget and a row budget. Each table is one statement with its own timeout
//! (what is left of the budget), so a search is never stuck on one big table; dropping the
//! future (a client that went away) drops the statement's connection, which ends it.

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{Connection, PgConnection};

use crate::browse::{BrowseError, from_table, row_json};
use crate::schema::{SchemaGraph, Table};
use crate::sql::ident;

/// Rows returned at the most, over all tables.
pub const MAX_ROWS: usize = 500;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    pub query: String,
    pub matches: Vec<TableMatches>,
    /// False when the time or row budget ran out before every table was searched.
    pub complete: bool,
    /// Tables not searched (or cut off by the time budget).
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableMatches {
    pub table: String,
    /// The columns searched.
    pub columns: Vec<String>,
    pub rows: Vec<serde_json::Value>,
    /// Reproduces the rows, with `$1` the text searched for.
    pub sql: String,
}

/// Whether values of a column of this type are text to search.
fn is_text_like(data_type: &str) -> bool {
    let base = data_type.split('(').next().unwrap_or(data_type);
    matches!(
        base,
        "text" | "character varying" | "character" | "name" | "json" | "jsonb" | "uuid"
    ) || base.ends_with("citext")
}

fn searched_columns(table: &Table) -> Vec<String> {
    table
        .columns
        .iter()
        .filter(|c| is_text_like(&c.data_type))
        .map(|c| c.name.clone())
        .collect()
}

/// Searches every table of `graph` for `text`, returning at most `max_rows` rows within
/// `budget`.
pub async fn search(
    conn: &mut PgConnection,
    graph: &SchemaGraph,
    text: &str,
    max_rows: usize,
    budget: Duration,
) -> Result<SearchResults, BrowseError> {
    if text.trim().is_empty() {
        return Err(BrowseError::BadRequest(
            "give something to search for: q=TEXT".into(),
        ));
    }
    let max_rows = max_rows.clamp(1, MAX_ROWS);
    let deadline = Instant::now() + budget;
    let mut results = SearchResults {
        query: text.into(),
        matches: Vec::new(),
        complete: true,
        skipped: Vec::new(),
    };
    let mut found = 0;
    for table in &graph.tables {
        let name = format!("{}.{}", table.schema, table.name);
        let columns = searched_columns(table);
        if columns.is_empty() {
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if found >= max_rows || left < Duration::from_millis(10) {
            results.complete = false;
            results.skipped.push(name);
            continue;
        }
        let condition: Vec<String> = columns
            .iter()
            .map(|c| format!("strpos(lower(t.{}::text), lower($1)) > 0", ident(c)))
            .collect();
        let sql = format!(
            "SELECT {} FROM {} AS t WHERE {} LIMIT {}",
            row_json(table, "t"),
            from_table(table),
            condition.join(" OR "),
            max_rows - found
        );
        // The timeout is what is left of the budget, for this statement alone.
        let mut tx = conn.begin().await?;
        sqlx::query(&format!(
            "SET LOCAL statement_timeout = {}",
            left.as_millis().max(1)
        ))
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query_scalar::<_, String>(&sql)
            .bind(text)
            .fetch_all(&mut *tx)
            .await;
        tx.rollback().await?;
        let rows = match rows {
            Ok(rows) => rows,
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("57014") => {
                results.complete = false;
                results.skipped.push(name);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if rows.is_empty() {
            continue;
        }
        found += rows.len();
        results.matches.push(TableMatches {
            table: name,
            columns,
            rows: rows
                .iter()
                .map(|r| {
                    serde_json::from_str(r).map_err(|e| BrowseError::BadRequest(e.to_string()))
                })
                .collect::<Result<_, _>>()?,
            sql,
        });
    }
    Ok(results)
}
