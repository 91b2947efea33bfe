//! What changed in a table's rows between two databases, exactly and over the whole table.
//!
//! A table with a key (its primary key, or a unique index over not-null columns) is compared a
//! key range at a time: each side gives the range's row count and an order-independent hash
//! (the sum of every row's hash), ranges that agree are done, ranges that differ are cut into
//! smaller ranges at keys taken from the larger side, and rows are fetched only from ranges of
//! at most `leaf_rows` rows. A table without a key is compared as a multiset of row hashes.
//! Rows are compared on the columns both sides have, by their text form, so a type change
//! that keeps every value (varchar(50) to varchar(100)) changes no row.

use std::collections::{BTreeSet, HashMap};

use futures::TryStreamExt;
use serde::Serialize;
use sqlx::PgConnection;

use crate::browse::{from_table, identifying_key};
use crate::schema::Table;
use crate::sql::{Params, ident};

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("a row of {table} is not JSON: {source}")]
    Json {
        table: String,
        source: serde_json::Error,
    },
}

/// How far a comparison goes.
#[derive(Debug, Clone)]
pub struct DataDiffOptions {
    /// Row differences to report at most; the comparison stops there and says so.
    pub max_differences: usize,
    /// Rows are fetched only from key ranges this small.
    pub leaf_rows: i64,
    /// Sub-ranges a differing range is cut into.
    pub fanout: i64,
}

impl Default for DataDiffOptions {
    fn default() -> Self {
        Self {
            max_differences: 1000,
            leaf_rows: 1000,
            fanout: 16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum RowChangeKind {
    Added,
    Removed,
    Changed,
}

/// One row that differs.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RowChange {
    pub change: RowChangeKind,
    /// The key's values by column (null for a table without a key).
    pub key: serde_json::Value,
    /// For a changed row: the columns whose values differ.
    pub columns: Vec<String>,
    /// The row in A and in B (compared columns only).
    pub a: Option<serde_json::Value>,
    pub b: Option<serde_json::Value>,
}

/// The row differences of one table.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableDataDiff {
    pub schema: String,
    pub table: String,
    /// The key rows are matched by; empty when the table has none (a multiset comparison).
    pub key: Vec<String>,
    /// The columns compared: those both sides have.
    pub compared_columns: Vec<String>,
    /// Columns only A or only B has, left out of the comparison.
    pub columns_only_in_a: Vec<String>,
    pub columns_only_in_b: Vec<String>,
    pub rows_in_a: i64,
    pub rows_in_b: i64,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub changes: Vec<RowChange>,
    /// False when `max_differences` stopped the comparison: the counts are then lower bounds.
    pub complete: bool,
    /// Key ranges whose counts and hashes were compared.
    pub ranges_compared: u64,
}

impl TableDataDiff {
    fn differences(&self) -> usize {
        (self.added + self.removed + self.changed) as usize
    }
}

/// One side of the comparison.
struct Side<'a> {
    conn: &'a mut PgConnection,
    table: &'a Table,
    /// The SQL pieces for this side.
    plan: Plan,
}

/// A range of keys: from `lower` (inclusive) to `upper` (exclusive), unbounded when `None`;
/// values as text.
#[derive(Debug, Clone, Default)]
struct KeyRange {
    lower: Option<Vec<Option<String>>>,
    upper: Option<Vec<Option<String>>>,
}

/// The SQL pieces for one side.
struct Plan {
    from: String,
    /// A row's 64-bit hash over the compared columns.
    row_hash: String,
    /// The compared columns as a JSON object.
    row_json: String,
    /// The key columns and their types on this side.
    key: Vec<(String, String)>,
}

impl Plan {
    /// `by_value`: hash each column with its type's own hash function (fast; needs the same
    /// hashable types on both sides), else the row's text form.
    fn new(table: &Table, compared: &[String], key: &[String], by_value: bool) -> Self {
        let columns: Vec<String> = compared.iter().map(|c| format!("t.{}", ident(c))).collect();
        let key = key
            .iter()
            .map(|name| {
                let column = table.columns.iter().find(|c| &c.name == name);
                let data_type = column.map(|c| c.data_type.clone()).unwrap_or_default();
                (name.clone(), data_type)
            })
            .collect();
        Plan {
            from: format!("{} AS t", from_table(table)),
            row_hash: if by_value {
                format!("hash_record_extended(ROW({}), 0)", columns.join(", "))
            } else {
                format!("hashtextextended(ROW({})::text, 0)", columns.join(", "))
            },
            row_json: format!(
                "(SELECT to_jsonb(v.*) FROM (SELECT {}) v)::text",
                columns.join(", ")
            ),
            key,
        }
    }

    /// One integer key column: its values can be cut into buckets by arithmetic.
    fn integer_key(&self) -> bool {
        matches!(&self.key[..], [(_, t)] if matches!(t.as_str(), "smallint" | "integer" | "bigint"))
    }

    fn key_tuple(&self) -> String {
        let columns: Vec<String> = self
            .key
            .iter()
            .map(|(c, _)| format!("t.{}", ident(c)))
            .collect();
        format!("({})", columns.join(", "))
    }

    fn bound(&self, values: &[Option<String>], params: &mut Params) -> String {
        let typed: Vec<String> = values
            .iter()
            .zip(&self.key)
            .map(|(v, (_, data_type))| params.typed(v.as_deref(), data_type))
            .collect();
        format!("({})", typed.join(", "))
    }

    /// `WHERE …` for `range`, with its parameters.
    fn range(&self, range: &KeyRange) -> (String, Params) {
        let mut params = Params::default();
        let mut conditions = vec!["true".to_string()];
        let tuple = self.key_tuple();
        if let Some(lower) = &range.lower {
            conditions.push(format!("{tuple} >= {}", self.bound(lower, &mut params)));
        }
        if let Some(upper) = &range.upper {
            conditions.push(format!("{tuple} < {}", self.bound(upper, &mut params)));
        }
        (format!("WHERE {}", conditions.join(" AND ")), params)
    }
}

fn bind<'q>(
    sql: &'q str,
    params: &'q Params,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut query = sqlx::query(sql);
    for value in &params.values {
        query = query.bind(value);
    }
    query
}

/// Row count and the order-independent hash of the rows in `range`: the XOR of the rows'
/// hashes (keyed rows are distinct, so no two cancel out but by a 64-bit collision).
async fn summarise(side: &mut Side<'_>, range: &KeyRange) -> Result<(i64, i64), DiffError> {
    let plan = &side.plan;
    use sqlx::Row;
    let (filter, params) = plan.range(range);
    let sql = format!(
        "SELECT count(*), coalesce(bit_xor({}), 0) FROM {} {filter}",
        plan.row_hash, plan.from
    );
    let row = bind(&sql, &params).fetch_one(&mut *side.conn).await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Keys that cut `range` (holding `rows` rows on this side) into about `parts` parts.
async fn cut_points(
    side: &mut Side<'_>,
    range: &KeyRange,
    rows: i64,
    parts: i64,
) -> Result<Vec<Vec<Option<String>>>, DiffError> {
    let plan = &side.plan;
    use sqlx::Row;
    let (filter, params) = plan.range(range);
    let step = (rows + parts - 1) / parts;
    let keys: Vec<String> = plan
        .key
        .iter()
        .map(|(c, _)| format!("t.{}", ident(c)))
        .collect();
    let texts: Vec<String> = (0..plan.key.len())
        .map(|i| format!("s.k{i}::text"))
        .collect();
    let aliased: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} AS k{i}"))
        .collect();
    let sql = format!(
        "SELECT {} FROM (SELECT {}, row_number() OVER (ORDER BY {}) AS n FROM {} {filter}) s
         WHERE n > 1 AND n % {step} = 1 ORDER BY n",
        texts.join(", "),
        aliased.join(", "),
        keys.join(", "),
        plan.from
    );
    let rows = bind(&sql, &params).fetch_all(&mut *side.conn).await?;
    rows.iter()
        .map(|row| {
            (0..plan.key.len())
                .map(|i| row.try_get::<Option<String>, _>(i).map_err(DiffError::from))
                .collect()
        })
        .collect()
}

/// The rows of `range`: key (JSON text) → (row hash, row as JSON).
async fn leaf_rows(
    side: &mut Side<'_>,
    range: &KeyRange,
) -> Result<HashMap<String, (i64, String)>, DiffError> {
    let plan = &side.plan;
    use sqlx::Row;
    let (filter, params) = plan.range(range);
    let keys: Vec<String> = plan
        .key
        .iter()
        .map(|(c, _)| format!("'{}', t.{}", c.replace('\'', "''"), ident(c)))
        .collect();
    let sql = format!(
        "SELECT jsonb_build_object({})::text, {}, {} FROM {} {filter}",
        keys.join(", "),
        plan.row_hash,
        plan.row_json,
        plan.from
    );
    let mut rows = HashMap::new();
    let mut stream = bind(&sql, &params).fetch(&mut *side.conn);
    while let Some(row) = stream.try_next().await? {
        rows.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
    }
    Ok(rows)
}

/// `keys` (JSON objects of key values) sorted as the key orders them, by the database (only
/// it knows how each key type and collation sorts).
async fn in_key_order(
    side: &mut Side<'_>,
    keys: BTreeSet<&String>,
) -> Result<Vec<String>, DiffError> {
    let plan = &side.plan;
    if keys.len() < 2 {
        return Ok(keys.into_iter().cloned().collect());
    }
    let array = format!(
        "[{}]",
        keys.into_iter().cloned().collect::<Vec<_>>().join(",")
    );
    let order: Vec<String> = plan
        .key
        .iter()
        .map(|(column, data_type)| {
            format!(
                "CAST(k ->> '{}' AS {data_type})",
                column.replace('\'', "''")
            )
        })
        .collect();
    let sql = format!(
        "SELECT k::text FROM jsonb_array_elements(CAST($1 AS jsonb)) AS k ORDER BY {}",
        order.join(", ")
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(array)
        .fetch_all(&mut *side.conn)
        .await?)
}

fn json(table: &Table, text: &str) -> Result<serde_json::Value, DiffError> {
    serde_json::from_str(text).map_err(|source| DiffError::Json {
        table: format!("{}.{}", table.schema, table.name),
        source,
    })
}

/// Whether rows can be hashed by value on both sides: every compared column has the same type
/// on both, and every such type a hash function (json, xml, geometric types have none). A row
/// of each side is hashed to find out, in a transaction (a savepoint inside the caller's) that
/// is rolled back, so a failure leaves nothing behind; the text form is the fallback.
async fn hashable_by_value(
    (a, table_a): (&mut PgConnection, &Table),
    (b, table_b): (&mut PgConnection, &Table),
    compared: &[String],
) -> Result<bool, DiffError> {
    use sqlx::Connection;
    let type_of = |t: &Table, c: &String| {
        t.columns
            .iter()
            .find(|x| &x.name == c)
            .map(|x| x.data_type.clone())
    };
    if compared.is_empty()
        || compared
            .iter()
            .any(|c| type_of(table_a, c) != type_of(table_b, c))
    {
        return Ok(false);
    }
    let columns: Vec<String> = compared.iter().map(|c| format!("t.{}", ident(c))).collect();
    for (conn, table) in [(a, table_a), (b, table_b)] {
        let sql = format!(
            "SELECT hash_record_extended(ROW({}), 0) FROM {} AS t LIMIT 1",
            columns.join(", "),
            from_table(table)
        );
        let mut probe = conn.begin().await?;
        let hashed = sqlx::query(&sql).fetch_optional(&mut *probe).await;
        probe.rollback().await?;
        if hashed.is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Compares the rows of `table_a` in database A (over `a`) with those of `table_b` in B.
pub async fn table_data_diff(
    a: &mut PgConnection,
    table_a: &Table,
    b: &mut PgConnection,
    table_b: &Table,
    options: &DataDiffOptions,
) -> Result<TableDataDiff, DiffError> {
    let names = |t: &Table| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    let (in_a, in_b) = (names(table_a), names(table_b));
    let compared: Vec<String> = in_a.iter().filter(|c| in_b.contains(c)).cloned().collect();
    let key_of = |t: &Table| {
        identifying_key(t).map(|columns| columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>())
    };
    // Rows are matched by a key only when both sides have the same one among the compared
    // columns.
    let key = match (key_of(table_a), key_of(table_b)) {
        (Some(ka), Some(kb)) if ka == kb && ka.iter().all(|c| compared.contains(c)) => ka,
        _ => Vec::new(),
    };
    let mut diff = TableDataDiff {
        schema: table_b.schema.clone(),
        table: table_b.name.clone(),
        key: key.clone(),
        compared_columns: compared.clone(),
        columns_only_in_a: in_a.iter().filter(|c| !in_b.contains(c)).cloned().collect(),
        columns_only_in_b: in_b.iter().filter(|c| !in_a.contains(c)).cloned().collect(),
        rows_in_a: 0,
        rows_in_b: 0,
        added: 0,
        removed: 0,
        changed: 0,
        changes: Vec::new(),
        complete: true,
        ranges_compared: 0,
    };
    let by_value = hashable_by_value((&mut *a, table_a), (&mut *b, table_b), &compared).await?;
    let mut side_a = Side {
        conn: a,
        table: table_a,
        plan: Plan::new(table_a, &compared, &key, by_value),
    };
    let mut side_b = Side {
        conn: b,
        table: table_b,
        plan: Plan::new(table_b, &compared, &key, by_value),
    };
    if key.is_empty() {
        multiset_diff(&mut side_a, &mut side_b, options, &mut diff).await?;
        return Ok(diff);
    }
    // Integer keys spanning more than int8 arithmetic can cut take the general way below.
    if side_a.plan.integer_key()
        && side_b.plan.integer_key()
        && integer_key_diff(&mut side_a, &mut side_b, options, &mut diff).await?
    {
        return Ok(diff);
    }
    // Depth first, so a comparison stopped at `max_differences` has finished whole ranges.
    let mut ranges = vec![KeyRange::default()];
    let mut first = true;
    while let Some(range) = ranges.pop() {
        let (a, b) = tokio::join!(
            summarise(&mut side_a, &range),
            summarise(&mut side_b, &range)
        );
        let ((count_a, hash_a), (count_b, hash_b)) = (a?, b?);
        diff.ranges_compared += 1;
        if first {
            (diff.rows_in_a, diff.rows_in_b, first) = (count_a, count_b, false);
        }
        if count_a == count_b && hash_a == hash_b {
            continue;
        }
        let larger = count_a.max(count_b);
        if larger <= options.leaf_rows {
            compare_leaf(&mut side_a, &mut side_b, &range, &mut diff).await?;
            if diff.differences() >= options.max_differences {
                diff.complete = false;
                break;
            }
            continue;
        }
        let cuts = if count_a >= count_b {
            cut_points(&mut side_a, &range, count_a, options.fanout).await?
        } else {
            cut_points(&mut side_b, &range, count_b, options.fanout).await?
        };
        let mut bounds: Vec<Option<Vec<Option<String>>>> = vec![range.lower.clone()];
        bounds.extend(cuts.into_iter().map(Some));
        bounds.push(range.upper.clone());
        // Pushed in reverse, so the lowest range is compared first.
        for pair in bounds.windows(2).rev() {
            ranges.push(KeyRange {
                lower: pair[0].clone(),
                upper: pair[1].clone(),
            });
        }
    }
    Ok(diff)
}

/// A range of integer keys, `lower..upper`, and about how many rows it holds.
struct IntegerRange {
    lower: i64,
    upper: i64,
    rows: i64,
}

/// The smallest and largest key of one side.
async fn key_extent(side: &mut Side<'_>) -> Result<Option<(i64, i64)>, DiffError> {
    let plan = &side.plan;
    let key = format!("t.{}", ident(&plan.key[0].0));
    let sql = format!(
        "SELECT min({key})::int8, max({key})::int8 FROM {}",
        plan.from
    );
    let (min, max): (Option<i64>, Option<i64>) =
        sqlx::query_as(&sql).fetch_one(&mut *side.conn).await?;
    Ok(min.zip(max))
}

/// Row count and hash of each bucket of `width` keys from `range.lower`, in one pass.
async fn buckets(
    side: &mut Side<'_>,
    range: &IntegerRange,
    width: i64,
) -> Result<HashMap<i64, (i64, i64)>, DiffError> {
    let plan = &side.plan;
    let key = format!("t.{}::int8", ident(&plan.key[0].0));
    let sql = format!(
        "SELECT ({key} - $1) / $3 AS b, count(*), bit_xor({})
         FROM {} WHERE {key} >= $1 AND {key} < $2 GROUP BY b",
        plan.row_hash, plan.from
    );
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(&sql)
        .bind(range.lower)
        .bind(range.upper)
        .bind(width)
        .fetch_all(&mut *side.conn)
        .await?;
    Ok(rows.into_iter().map(|(b, n, h)| (b, (n, h))).collect())
}

/// A table keyed by one integer column: each range is cut into buckets of equal key width,
/// and one query per side (the two at once) gives every bucket's count and hash, so the whole
/// table costs one pass per side, whatever the number of changes; buckets that differ are cut
/// again or, when small, compared row by row. False (nothing done) when the keys span more than
/// int8 arithmetic can cut.
async fn integer_key_diff(
    side_a: &mut Side<'_>,
    side_b: &mut Side<'_>,
    options: &DataDiffOptions,
    diff: &mut TableDataDiff,
) -> Result<bool, DiffError> {
    let (extent_a, extent_b) = tokio::join!(key_extent(side_a), key_extent(side_b));
    let (extent_a, extent_b) = (extent_a?, extent_b?);
    let Some((min, max)) = extent_a
        .into_iter()
        .chain(extent_b)
        .reduce(|x, y| (x.0.min(y.0), x.1.max(y.1)))
    else {
        return Ok(true);
    };
    let Some(upper) = max.checked_add(1).filter(|u| u.checked_sub(min).is_some()) else {
        return Ok(false);
    };
    let estimate = side_a
        .table
        .row_estimate
        .max(side_b.table.row_estimate)
        .unwrap_or(0);
    let mut ranges = vec![IntegerRange {
        lower: min,
        upper,
        rows: estimate.max(1),
    }];
    let mut first = true;
    while let Some(range) = ranges.pop() {
        if range.rows <= options.leaf_rows && !first {
            let keys = KeyRange {
                lower: Some(vec![Some(range.lower.to_string())]),
                upper: Some(vec![Some(range.upper.to_string())]),
            };
            compare_leaf(side_a, side_b, &keys, diff).await?;
            if diff.differences() >= options.max_differences {
                diff.complete = false;
                return Ok(true);
            }
            continue;
        }
        // Buckets of about half a leaf, so that most differing ones are compared at once.
        let count = (range.rows * 2 / options.leaf_rows.max(1)).clamp(2, 4096);
        let span = range.upper - range.lower;
        let width = (span + count - 1) / count;
        let (a, b) = tokio::join!(
            buckets(side_a, &range, width),
            buckets(side_b, &range, width)
        );
        let (a, b) = (a?, b?);
        diff.ranges_compared += 1;
        if first {
            diff.rows_in_a = a.values().map(|(n, _)| n).sum();
            diff.rows_in_b = b.values().map(|(n, _)| n).sum();
            first = false;
        }
        let mut differing: Vec<i64> = a
            .keys()
            .chain(b.keys())
            .copied()
            .filter(|k| a.get(k) != b.get(k))
            .collect();
        differing.sort_unstable();
        differing.dedup();
        // Pushed in reverse, so the lowest keys are compared first.
        for bucket in differing.into_iter().rev() {
            let lower = range.lower + bucket * width;
            let rows = [a.get(&bucket), b.get(&bucket)]
                .into_iter()
                .flatten()
                .map(|(n, _)| *n)
                .max()
                .unwrap_or(0);
            ranges.push(IntegerRange {
                lower,
                upper: (lower + width).min(range.upper),
                // One key per row at most: a bucket one key wide is a leaf whatever it holds.
                rows: if width == 1 { 0 } else { rows },
            });
        }
    }
    Ok(true)
}

async fn compare_leaf(
    side_a: &mut Side<'_>,
    side_b: &mut Side<'_>,
    range: &KeyRange,
    diff: &mut TableDataDiff,
) -> Result<(), DiffError> {
    let rows_a = leaf_rows(side_a, range).await?;
    let rows_b = leaf_rows(side_b, range).await?;
    let differing: BTreeSet<&String> = rows_a
        .iter()
        .filter(|(key, (hash, _))| rows_b.get(*key).is_none_or(|(h, _)| h != hash))
        .map(|(key, _)| key)
        .chain(rows_b.keys().filter(|key| !rows_a.contains_key(*key)))
        .collect();
    // Only keys whose rows differ (or exist on one side only) are listed.
    for key in in_key_order(side_b, differing).await? {
        let key = &key;
        let change = match (rows_a.get(key), rows_b.get(key)) {
            (Some((_, a)), Some((_, b))) => {
                let (a, b) = (json(side_a.table, a)?, json(side_b.table, b)?);
                let columns = diff
                    .compared_columns
                    .iter()
                    .filter(|c| a.get(c.as_str()) != b.get(c.as_str()))
                    .cloned()
                    .collect();
                diff.changed += 1;
                RowChange {
                    change: RowChangeKind::Changed,
                    key: json(side_b.table, key)?,
                    columns,
                    a: Some(a),
                    b: Some(b),
                }
            }
            (Some((_, a)), None) => {
                diff.removed += 1;
                RowChange {
                    change: RowChangeKind::Removed,
                    key: json(side_a.table, key)?,
                    columns: Vec::new(),
                    a: Some(json(side_a.table, a)?),
                    b: None,
                }
            }
            (None, Some((_, b))) => {
                diff.added += 1;
                RowChange {
                    change: RowChangeKind::Added,
                    key: json(side_b.table, key)?,
                    columns: Vec::new(),
                    a: None,
                    b: Some(json(side_b.table, b)?),
                }
            }
            (None, None) => unreachable!("every key comes from one side"),
        };
        diff.changes.push(change);
    }
    Ok(())
}

/// A table without a key: the rows as a multiset of hashes, merged in hash order (streamed,
/// so memory does not grow with the table); up to `max_differences` example rows.
async fn multiset_diff<'s>(
    side_a: &mut Side<'s>,
    side_b: &mut Side<'s>,
    options: &DataDiffOptions,
    diff: &mut TableDataDiff,
) -> Result<(), DiffError> {
    let counts = |plan: &Plan| {
        format!(
            "SELECT {} AS h, count(*) FROM {} GROUP BY h ORDER BY h",
            plan.row_hash, plan.from
        )
    };
    let (sql_a, sql_b) = (counts(&side_a.plan), counts(&side_b.plan));
    let mut stream_a = sqlx::query_as::<_, (i64, i64)>(&sql_a).fetch(&mut *side_a.conn);
    let mut stream_b = sqlx::query_as::<_, (i64, i64)>(&sql_b).fetch(&mut *side_b.conn);
    let (mut next_a, mut next_b) = (stream_a.try_next().await?, stream_b.try_next().await?);
    // (hash, surplus in A (negative: in B))
    let mut surplus: Vec<(i64, i64)> = Vec::new();
    loop {
        match (next_a, next_b) {
            (None, None) => break,
            (Some((h, n)), None) => {
                diff.rows_in_a += n;
                surplus.push((h, n));
                next_a = stream_a.try_next().await?;
            }
            (None, Some((h, n))) => {
                diff.rows_in_b += n;
                surplus.push((h, -n));
                next_b = stream_b.try_next().await?;
            }
            (Some((ha, na)), Some((hb, nb))) => {
                if ha <= hb {
                    diff.rows_in_a += na;
                    next_a = stream_a.try_next().await?;
                }
                if hb <= ha {
                    diff.rows_in_b += nb;
                    next_b = stream_b.try_next().await?;
                }
                let balance = if ha == hb {
                    na - nb
                } else if ha < hb {
                    na
                } else {
                    -nb
                };
                if balance != 0 {
                    surplus.push((ha.min(hb), balance));
                }
            }
        }
        if surplus.len() > options.max_differences {
            diff.complete = false;
            break;
        }
    }
    drop((stream_a, stream_b));
    diff.ranges_compared = 1;
    for (hash, balance) in surplus {
        let (side, kind) = if balance > 0 {
            diff.removed += balance as u64;
            (&mut *side_a, RowChangeKind::Removed)
        } else {
            diff.added += balance.unsigned_abs();
            (&mut *side_b, RowChangeKind::Added)
        };
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = $1 LIMIT 1",
            side.plan.row_json, side.plan.from, side.plan.row_hash
        );
        let row: Option<String> = sqlx::query_scalar(&sql)
            .bind(hash)
            .fetch_optional(&mut *side.conn)
            .await?;
        let row = row.map(|r| json(side.table, &r)).transpose()?;
        for _ in 0..balance.unsigned_abs().min(options.max_differences as u64) {
            diff.changes.push(RowChange {
                change: kind,
                key: serde_json::Value::Null,
                columns: Vec::new(),
                a: if kind == RowChangeKind::Removed {
                    row.clone()
                } else {
                    None
                },
                b: if kind == RowChangeKind::Added {
                    row.clone()
                } else {
                    None
                },
            });
        }
    }
    diff.changes.truncate(options.max_differences);
    Ok(())
}
