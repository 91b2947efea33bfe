//! Value suggestions for a column: its most common values with their frequencies, from the
//! planner's statistics (`pg_stats`, which every restore fills with ANALYZE); where there are
//! none (or none with the prefix), counted over a bounded sample of rows.

use serde::Serialize;
use sqlx::PgConnection;

use crate::browse::{BrowseError, from_table};
use crate::schema::Table;
use crate::sql::ident;

/// Rows the fallback reads at the most.
pub const SAMPLE_ROWS: i64 = 10_000;
/// Suggestions returned at the most.
pub const MAX_SUGGESTIONS: usize = 100;

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Suggestions {
    /// `statistics` (pg_stats) or `sample` (the first rows counted).
    pub source: String,
    pub values: Vec<Suggestion>,
    /// The statement that produced them (`$1`: schema or prefix, see `params`).
    pub sql: String,
    pub params: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Suggestion {
    pub value: String,
    /// The share of the table's rows (statistics) or of the sample's rows that hold it.
    pub frequency: f64,
}

const STATISTICS_SQL: &str = "SELECT v, f::float8 FROM pg_stats s,
         unnest(s.most_common_vals::text::text[], s.most_common_freqs) AS m(v, f)
     WHERE s.schemaname = $1 AND s.tablename = $2 AND s.attname = $3
     ORDER BY f DESC, v";

/// Up to `limit` common values of `column` of `table`, those starting with `prefix` (case
/// does not matter) when given.
pub async fn suggest(
    conn: &mut PgConnection,
    table: &Table,
    column: &str,
    prefix: Option<&str>,
    limit: usize,
) -> Result<Suggestions, BrowseError> {
    if !table.columns.iter().any(|c| c.name == column) {
        return Err(BrowseError::BadRequest(format!(
            "{}.{} has no column {column:?}",
            table.schema, table.name
        )));
    }
    let limit = limit.clamp(1, MAX_SUGGESTIONS);
    let prefix = prefix.unwrap_or_default().to_lowercase();
    let statistics: Vec<(String, f64)> = sqlx::query_as(STATISTICS_SQL)
        .bind(&table.schema)
        .bind(&table.name)
        .bind(column)
        .fetch_all(&mut *conn)
        .await?;
    let values: Vec<Suggestion> = statistics
        .into_iter()
        .filter(|(v, _)| v.to_lowercase().starts_with(&prefix))
        .take(limit)
        .map(|(value, frequency)| Suggestion { value, frequency })
        .collect();
    if !values.is_empty() {
        return Ok(Suggestions {
            source: "statistics".into(),
            values,
            sql: STATISTICS_SQL.into(),
            params: vec![table.schema.clone(), table.name.clone(), column.into()],
        });
    }
    let sql = format!(
        "SELECT v, count(*)::float8 / greatest(sum(count(*)) OVER (), 1) AS f
         FROM (SELECT t.{}::text AS v FROM {} AS t LIMIT {SAMPLE_ROWS}) AS s
         WHERE v IS NOT NULL AND starts_with(lower(v), $1)
         GROUP BY v ORDER BY count(*) DESC, v LIMIT {limit}",
        ident(column),
        from_table(table)
    );
    let sampled: Vec<(String, f64)> = sqlx::query_as(&sql)
        .bind(&prefix)
        .fetch_all(&mut *conn)
        .await?;
    Ok(Suggestions {
        source: "sample".into(),
        values: sampled
            .into_iter()
            .map(|(value, frequency)| Suggestion { value, frequency })
            .collect(),
        sql,
        params: vec![prefix],
    })
}
