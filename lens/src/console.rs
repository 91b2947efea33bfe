//! The SQL console: one statement a person typed, run as the sandbox's reader (a login that can
//! only read its own sandbox databases) inside a read-only transaction with a statement
//! timeout, its rows capped; or its plan (`EXPLAIN`).
//!
//! The statement goes through the extended query protocol, which takes exactly one command, so
//! nothing can follow it (no `COMMIT; ...`); the transaction is rolled back whatever it did.

use serde::{Deserialize, Serialize};
use sqlx::{Column, Connection, Executor, PgConnection, TypeInfo};

use crate::browse::BrowseError;

/// Rows returned at the most.
pub const MAX_ROWS: usize = 10_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Explain {
    /// Run the statement.
    #[default]
    No,
    /// Its plan, without running it.
    Plan,
    /// Run it and return the plan with real times and row counts.
    Analyze,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleResult {
    pub columns: Vec<ConsoleColumn>,
    /// Each row as a JSON object by column name (a repeated name keeps its last value: alias
    /// columns to see both).
    pub rows: Vec<serde_json::Value>,
    /// True when the statement returned more rows than were sent.
    pub truncated: bool,
    /// With `explain`: the plan, as `EXPLAIN (FORMAT JSON)` gives it.
    pub plan: Option<serde_json::Value>,
    pub milliseconds: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleColumn {
    pub name: String,
    pub data_type: String,
}

/// Runs `sql` over `conn` (a connection as the sandbox's reader).
pub async fn run(
    conn: &mut PgConnection,
    sql: &str,
    explain: Explain,
    max_rows: usize,
) -> Result<ConsoleResult, BrowseError> {
    let statement = sql.trim().trim_end_matches(';').trim();
    if statement.is_empty() {
        return Err(BrowseError::BadRequest(
            "there is no statement to run".into(),
        ));
    }
    let max_rows = max_rows.clamp(1, MAX_ROWS);
    let started = std::time::Instant::now();
    let mut tx = conn.begin().await?;
    tx.execute("SET TRANSACTION READ ONLY").await?;
    let result = async {
        if explain != Explain::No {
            let options = if explain == Explain::Analyze {
                "ANALYZE, BUFFERS, FORMAT JSON"
            } else {
                "FORMAT JSON"
            };
            let plan: sqlx::types::Json<serde_json::Value> =
                sqlx::query_scalar(&format!("EXPLAIN ({options}) {statement}"))
                    .fetch_one(&mut *tx)
                    .await?;
            return Ok(ConsoleResult {
                columns: Vec::new(),
                rows: Vec::new(),
                truncated: false,
                plan: Some(plan.0),
                milliseconds: 0.0,
            });
        }
        let described = (&mut *tx).describe(statement).await?;
        let columns = described
            .columns()
            .iter()
            .map(|c| ConsoleColumn {
                name: c.name().to_string(),
                data_type: c.type_info().name().to_string(),
            })
            .collect();
        if described.columns().is_empty() {
            return Err(BrowseError::BadRequest(
                "the console runs queries (SELECT, VALUES, TABLE, WITH ... SELECT); this statement returns no rows".into(),
            ));
        }
        // As a subquery, every row comes back as JSON whatever its types.
        let wrapped = format!(
            "SELECT row_to_json(q.*)::text FROM ({statement}) AS q LIMIT {}",
            max_rows + 1
        );
        let mut rows: Vec<serde_json::Value> = sqlx::query_scalar::<_, String>(&wrapped)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| serde_json::from_str(r).map_err(|e| BrowseError::BadRequest(e.to_string())))
            .collect::<Result<_, _>>()?;
        let truncated = rows.len() > max_rows;
        rows.truncate(max_rows);
        Ok(ConsoleResult {
            columns,
            rows,
            truncated,
            plan: None,
            milliseconds: 0.0,
        })
    }
    .await;
    tx.rollback().await?;
    let mut result = result?;
    result.milliseconds = started.elapsed().as_secs_f64() * 1000.0;
    Ok(result)
}
