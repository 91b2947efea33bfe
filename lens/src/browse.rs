//! Reading a restored table a page at a time: keyset paging (the primary key, or a unique key
//! of not-null columns, or `ctid`) so every page costs the same at any depth, sorting by any
//! column, server-side filters, an estimated total (an exact one only when asked), JSON values
//! as JSON and large values cut short with their size.
//!
//! Only names found in the table's schema graph reach the SQL, always through
//! [`crate::sql::ident`]; every value is a bind parameter.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Row};

use crate::schema::{Column, Table};
use crate::sql::{Params, ident, qualified};

/// The most rows one page holds.
pub const MAX_LIMIT: u32 = 1000;
/// Values longer than this (as text, in bytes) are cut to [`TRUNCATED_TO`] characters.
pub const LARGE_VALUE: i32 = 4096;
pub const TRUNCATED_TO: i32 = 1024;

#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("reading the table: {0}")]
    Database(#[from] sqlx::Error),
}

fn bad(message: impl Into<String>) -> BrowseError {
    BrowseError::BadRequest(message.into())
}

/// A comparison a filter makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FilterOp {
    Eq,
    Ne,
    In,
    Lt,
    Le,
    Gt,
    Ge,
    IsNull,
    NotNull,
    /// Case-insensitive substring of the value as text.
    Contains,
    /// The value as text starts with this.
    StartsWith,
}

/// One filter: `column op value`. Filters combine with AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub column: String,
    pub op: FilterOp,
    /// The operand (for `in`, a JSON array of them); none for `isNull` and `notNull`.
    pub value: Option<String>,
}

impl Filter {
    /// Reads `op:value` (for example `ge:2022-05-01`, `in:["a","b"]`, `isNull:`) for `column`.
    pub fn parse(column: &str, spec: &str) -> Result<Self, BrowseError> {
        let (op, value) = spec.split_once(':').unwrap_or((spec, ""));
        let op: FilterOp = serde_json::from_value(serde_json::Value::String(op.into()))
            .map_err(|_| {
                bad(format!(
                    "unknown filter {op:?} on {column:?}: use eq, ne, in, lt, le, gt, ge, isNull, notNull, contains or startsWith"
                ))
            })?;
        let value = match op {
            FilterOp::IsNull | FilterOp::NotNull => None,
            _ => Some(value.to_string()),
        };
        Ok(Self {
            column: column.to_string(),
            op,
            value,
        })
    }
}

/// What page to read.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// Rows per page (1 to [`MAX_LIMIT`]; 100 when 0).
    pub limit: u32,
    /// Sort by this column first (then by the key); the key alone when absent.
    pub sort: Option<String>,
    pub descending: bool,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    pub filters: Vec<Filter>,
    /// Count the matching rows exactly (costs a full scan).
    pub exact_count: bool,
}

/// One page of rows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub columns: Vec<PageColumn>,
    /// Each row as a JSON object by column name. A value too large to send whole is
    /// `{"truncated": "<its first characters>", "bytes": <its size>}`. Kept as PostgreSQL
    /// wrote it (`row_to_json`), never parsed and written again.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Box<serde_json::value::RawValue>>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
    /// What rows are ordered by, in order (`ctid` when the table has no usable key).
    pub order_by: Vec<String>,
    /// The planner's estimate of the table's rows (`reltuples`), without filters.
    pub estimated_total: Option<i64>,
    /// With `exact_count`: the rows that match the filters.
    pub exact_total: Option<i64>,
    /// The statement that read this page, with `$n` for the parameters below.
    pub sql: String,
    pub params: Vec<Option<String>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageColumn {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
}

/// One part of the order: a column (or `ctid`), its type, and whether it may be NULL.
#[derive(Debug, Clone)]
struct OrderPart {
    expression: String,
    name: String,
    data_type: String,
    nullable: bool,
}

/// The columns that identify a row: the primary key, or the first unique index over not-null
/// columns; `None` when there is neither.
pub fn identifying_key(table: &Table) -> Option<Vec<&Column>> {
    let column = |name: &String| table.columns.iter().find(|c| &c.name == name);
    if let Some(pk) = &table.primary_key
        && let Some(columns) = pk.columns.iter().map(column).collect::<Option<Vec<_>>>()
    {
        return Some(columns);
    }
    table.indexes.iter().filter(|i| i.unique).find_map(|index| {
        let columns: Vec<&Column> = index.columns.iter().map(column).collect::<Option<_>>()?;
        (!columns.is_empty() && columns.iter().all(|c| !c.nullable)).then_some(columns)
    })
}

/// The order rows are paged in: the identifying key, or `ctid` (stable in a sandbox nobody
/// writes to).
fn row_key(table: &Table) -> Vec<OrderPart> {
    let part = |c: &Column| OrderPart {
        expression: format!("t.{}", ident(&c.name)),
        name: c.name.clone(),
        data_type: c.data_type.clone(),
        nullable: false,
    };
    match identifying_key(table) {
        Some(columns) => columns.into_iter().map(part).collect(),
        None => vec![OrderPart {
            expression: "t.ctid".into(),
            name: "ctid".into(),
            data_type: "tid".into(),
            nullable: false,
        }],
    }
}

fn find_column<'a>(table: &'a Table, name: &str) -> Result<&'a Column, BrowseError> {
    table
        .columns
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            bad(format!(
                "{}.{} has no column {name:?}",
                table.schema, table.name
            ))
        })
}

/// The condition of one filter, its operand bound in `params`.
fn filter_condition(
    table: &Table,
    filter: &Filter,
    params: &mut Params,
) -> Result<String, BrowseError> {
    let column = find_column(table, &filter.column)?;
    let target = format!("t.{}", ident(&column.name));
    let value = filter.value.as_deref().unwrap_or_default();
    let typed = |params: &mut Params| params.typed(Some(value), &column.data_type);
    Ok(match filter.op {
        FilterOp::Eq => format!("{target} = {}", typed(params)),
        FilterOp::Ne => format!("{target} IS DISTINCT FROM {}", typed(params)),
        FilterOp::Lt => format!("{target} < {}", typed(params)),
        FilterOp::Le => format!("{target} <= {}", typed(params)),
        FilterOp::Gt => format!("{target} > {}", typed(params)),
        FilterOp::Ge => format!("{target} >= {}", typed(params)),
        FilterOp::IsNull => format!("{target} IS NULL"),
        FilterOp::NotNull => format!("{target} IS NOT NULL"),
        FilterOp::Contains => format!(
            "strpos(lower({target}::text), lower({})) > 0",
            params.text(value)
        ),
        FilterOp::StartsWith => format!("starts_with({target}::text, {})", params.text(value)),
        FilterOp::In => {
            let values: Vec<Option<String>> = serde_json::from_str::<Vec<serde_json::Value>>(value)
                .map_err(|_| {
                    bad(format!(
                        "the in filter on {:?} takes a JSON array, like [\"a\", 2]",
                        column.name
                    ))
                })?
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                })
                .collect();
            if values.is_empty() {
                "false".into()
            } else {
                let operands: Vec<String> = values
                    .iter()
                    .map(|v| params.typed(v.as_deref(), &column.data_type))
                    .collect();
                format!("{target} IN ({})", operands.join(", "))
            }
        }
    })
}

/// Rows after `cursor` in the order of `parts` (ascending with NULLs last, or the exact
/// reverse): a row comparison when no part can be NULL, which an index serves as a range.
fn after_condition(
    parts: &[OrderPart],
    cursor: &[Option<String>],
    descending: bool,
    params: &mut Params,
) -> String {
    let (beyond, null_beyond) = if descending {
        ("<", false)
    } else {
        (">", true)
    };
    if parts.iter().all(|p| !p.nullable) {
        let left: Vec<&str> = parts.iter().map(|p| p.expression.as_str()).collect();
        let right: Vec<String> = parts
            .iter()
            .zip(cursor)
            .map(|(p, v)| params.typed(v.as_deref(), &p.data_type))
            .collect();
        return format!("({}) {beyond} ({})", left.join(", "), right.join(", "));
    }
    // (p0 beyond v0) OR (p0 = v0 AND p1 beyond v1) OR ...; NULL sorts last ascending, so it
    // is beyond every value then and before every value descending.
    let mut alternatives = Vec::new();
    for (i, (part, value)) in parts.iter().zip(cursor).enumerate() {
        let mut conjuncts: Vec<String> = parts[..i]
            .iter()
            .zip(&cursor[..i])
            .map(|(p, v)| match v {
                None => format!("{} IS NULL", p.expression),
                Some(v) => format!("{} = {}", p.expression, params.typed(Some(v), &p.data_type)),
            })
            .collect();
        let e = &part.expression;
        conjuncts.push(match (value, null_beyond) {
            (None, true) => "false".into(),
            (None, false) => format!("{e} IS NOT NULL"),
            (Some(v), true) => format!(
                "({e} {beyond} {} OR {e} IS NULL)",
                params.typed(Some(v), &part.data_type)
            ),
            (Some(v), false) => format!("{e} {beyond} {}", params.typed(Some(v), &part.data_type)),
        });
        alternatives.push(format!("({})", conjuncts.join(" AND ")));
    }
    format!("({})", alternatives.join(" OR "))
}

/// The cursor that continues after the row whose order key (the `orderBy` columns' values as
/// text) is `values`.
pub fn cursor(values: &[Option<String>]) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(values).expect("strings serialise"))
}

fn decode_cursor(cursor: &str, parts: usize) -> Result<Vec<Option<String>>, BrowseError> {
    let invalid = || bad("the cursor is not one this server gave for this order");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let values: Vec<Option<String>> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if values.len() != parts {
        return Err(invalid());
    }
    Ok(values)
}

/// A row of `table` (at `alias`) as JSON text, each value too large to send whole cut short
/// with its size.
pub(crate) fn row_json(table: &Table, alias: &str) -> String {
    let values: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let e = format!("{alias}.{}", ident(&c.name));
            format!(
                "CASE WHEN octet_length({e}::text) > {LARGE_VALUE} THEN json_build_object('truncated', left({e}::text, {TRUNCATED_TO}), 'bytes', octet_length({e}::text)) ELSE to_json({e}) END AS {}",
                ident(&c.name)
            )
        })
        .collect();
    format!(
        "(SELECT row_to_json(v.*) FROM (SELECT {}) v)::text",
        values.join(", ")
    )
}

/// The table's rows in a FROM clause: its own only (not inheritance children, which foreign
/// keys do not cover), except for a partitioned table, whose rows are its partitions'.
pub(crate) fn from_table(table: &Table) -> String {
    let name = qualified(&table.schema, &table.name);
    if table.kind == "partitioned" {
        name
    } else {
        format!("ONLY {name}")
    }
}

/// Reads one page of `table` (as its schema graph describes it) over `conn`.
pub async fn page(
    conn: &mut PgConnection,
    table: &Table,
    request: &PageRequest,
) -> Result<Page, BrowseError> {
    let limit = match request.limit {
        0 => 100,
        n if n > MAX_LIMIT => return Err(bad(format!("limit is at most {MAX_LIMIT}"))),
        n => n,
    };
    let mut parts = row_key(table);
    if let Some(sort) = &request.sort {
        let column = find_column(table, sort)?;
        if !(parts.len() == 1 && parts[0].name == column.name) {
            parts.insert(
                0,
                OrderPart {
                    expression: format!("t.{}", ident(&column.name)),
                    name: column.name.clone(),
                    data_type: column.data_type.clone(),
                    nullable: column.nullable,
                },
            );
        }
    }
    let mut params = Params::default();
    let mut conditions = Vec::new();
    for filter in &request.filters {
        conditions.push(filter_condition(table, filter, &mut params)?);
    }
    let filtered = conditions.clone();
    let filter_params = params.values.len();
    if let Some(cursor) = &request.after {
        let cursor = decode_cursor(cursor, parts.len())?;
        conditions.push(after_condition(
            &parts,
            &cursor,
            request.descending,
            &mut params,
        ));
    }
    let direction = if request.descending {
        "DESC NULLS FIRST"
    } else {
        "ASC NULLS LAST"
    };
    let order: Vec<String> = parts
        .iter()
        .map(|p| format!("{} {direction}", p.expression))
        .collect();
    let keys: Vec<String> = parts
        .iter()
        .map(|p| format!("{}::text", p.expression))
        .collect();
    let table_sql = from_table(table);
    let where_sql = |conditions: &[String]| {
        if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        }
    };
    let sql = format!(
        "SELECT {}, {} FROM {table_sql} AS t{} ORDER BY {} LIMIT {}",
        row_json(table, "t"),
        keys.join(", "),
        where_sql(&conditions),
        order.join(", "),
        limit + 1
    );
    let mut query = sqlx::query(&sql);
    for value in &params.values {
        query = query.bind(value);
    }
    let fetched = query.fetch_all(&mut *conn).await?;
    let mut rows = Vec::with_capacity(fetched.len());
    let mut last_key = None;
    for row in fetched.iter().take(limit as usize) {
        let json: String = row.try_get(0)?;
        rows.push(serde_json::value::RawValue::from_string(json).map_err(|e| bad(e.to_string()))?);
        let key: Vec<Option<String>> = (1..=parts.len())
            .map(|i| row.try_get(i))
            .collect::<Result<_, _>>()?;
        last_key = Some(key);
    }
    let next = match (fetched.len() > limit as usize, last_key) {
        (true, Some(key)) => Some(cursor(&key)),
        _ => None,
    };
    let exact_total = if request.exact_count {
        // Only the filters' parameters: the cursor's come after them.
        let count_sql = format!(
            "SELECT count(*) FROM {table_sql} AS t{}",
            where_sql(&filtered)
        );
        let mut query = sqlx::query_scalar::<_, i64>(&count_sql);
        for value in &params.values[..filter_params] {
            query = query.bind(value);
        }
        Some(query.fetch_one(&mut *conn).await?)
    } else {
        None
    };
    Ok(Page {
        columns: table
            .columns
            .iter()
            .map(|c| PageColumn {
                name: c.name.clone(),
                data_type: c.data_type.clone(),
                nullable: c.nullable,
            })
            .collect(),
        rows,
        next,
        order_by: parts.iter().map(|p| p.name.clone()).collect(),
        estimated_total: table.row_estimate,
        exact_total,
        sql,
        params: params.values,
    })
}
