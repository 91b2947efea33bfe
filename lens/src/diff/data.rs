//! What changed in a table's rows between two databases, exactly and over the whole table.
//!
//! A table with a key (its primary key, or a unique index over not-null columns) is compared a
//! key range at a time: each side gives the range's row count and an order-independent hash
//! (the XOR of its rows' hashes), ranges that agree are done, ranges that differ are cut into
//! smaller ranges, and only ranges of at most `leaf_rows` rows are read row by row: as (key,
//! row hash) first (for one integer key, many such ranges in one query), in full only the rows
//! whose hashes differ. The first range is the whole table, so an unchanged table costs one
//! pass per side. A table without a key is compared as a multiset of row hashes.
//!
//! A table keyed by one integer column can be fingerprinted once ([`fingerprint`]): the count
//! and hash of every bucket of keys, in one pass. Restored sandboxes never change, so the server
//! takes them after each restore, and a diff of two fingerprinted tables starts from the buckets
//! that differ instead of reading both tables.
//!
//! A row's hash combines each compared column's hash by its type's own hash function (the text
//! form where a type has none, depends on the database's OIDs, or differs between the sides),
//! so a type change that keeps every value (varchar(50) to text) changes no row.

use std::collections::{BTreeSet, HashMap};

use futures::TryStreamExt;
use serde::Serialize;
use sqlx::PgConnection;

use crate::browse::{from_table, identifying_key};
use crate::schema::Table;
use crate::sql::{Params, ident, qualified};

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
    /// Whether both sides' fingerprints (taken once each, after the restore) were compared
    /// rather than reading both tables whole.
    pub from_fingerprints: bool,
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

/// A fixed pseudo-random 64-bit constant for `n` (splitmix64), written into the SQL as the
/// seed of a column's hash or the hash of its NULL.
fn constant(n: u64) -> i64 {
    let mut z = n.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as i64
}

/// A type whose values can be cut into buckets by int8 arithmetic.
fn integer_type(data_type: &str) -> bool {
    matches!(data_type, "smallint" | "integer" | "bigint")
}

/// One compared column as the row hash sees it.
struct HashedColumn {
    /// The column in SQL (`t."name"`).
    sql: String,
    /// The hash function its type uses on both sides, or `None` for its text form.
    function: Option<String>,
    /// False when this side's column is NOT NULL: its hash needs no stand-in for NULL.
    nullable: bool,
}

/// The row hash over `columns`. Each column is hashed on its own, seeded by its position, with
/// a constant of its own for NULL; the column hashes are XORed and that is mixed once more (as
/// the 64-bit seed of `hashint8extended`, which keeps all its bits): without that last step
/// the XOR over a range's rows would fall apart into one XOR per column, and values exchanged
/// between two rows would go unnoticed.
fn row_hash(columns: &[HashedColumn]) -> String {
    let hashes: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(position, column)| {
            let seed = constant(2 * position as u64);
            let null = constant(2 * position as u64 + 1);
            let hashed = match &column.function {
                Some(function) => format!("{function}({}, ({seed})::int8)", column.sql),
                None => format!(
                    "pg_catalog.hashtextextended(CAST({} AS text) COLLATE {}, ({seed})::int8)",
                    column.sql,
                    ident("C")
                ),
            };
            if column.nullable {
                format!("coalesce({hashed}, ({null})::int8)")
            } else {
                hashed
            }
        })
        .collect();
    let combined = if hashes.is_empty() {
        "0".to_string()
    } else {
        hashes.join(" # ")
    };
    format!("pg_catalog.hashint8extended(0, {combined})")
}

/// `compared` of `table` as the row hash sees them, hashed by `functions`.
fn hashed_columns(
    table: &Table,
    compared: &[String],
    functions: &[Option<String>],
) -> Vec<HashedColumn> {
    compared
        .iter()
        .zip(functions)
        .map(|(name, function)| HashedColumn {
            sql: format!("t.{}", ident(name)),
            function: function.clone(),
            nullable: table
                .columns
                .iter()
                .find(|c| &c.name == name)
                .is_none_or(|c| c.nullable),
        })
        .collect()
}

impl Plan {
    /// `functions`: for each compared column, the hash function its type uses (the same on
    /// both sides), or `None` for its text form.
    fn new(
        table: &Table,
        compared: &[String],
        key: &[String],
        functions: &[Option<String>],
    ) -> Self {
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
            row_hash: row_hash(&hashed_columns(table, compared, functions)),
            row_json: format!(
                "(SELECT to_jsonb(v.*) FROM (SELECT {}) v)::text",
                columns.join(", ")
            ),
            key,
        }
    }

    /// One integer key column: its values can be cut into buckets by arithmetic.
    fn integer_key(&self) -> bool {
        matches!(&self.key[..], [(_, t)] if integer_type(t))
    }

    /// The key's values as a JSON object, as text (named by the columns themselves, so no name
    /// is written as a literal).
    fn key_json(&self) -> String {
        format!(
            "(SELECT to_jsonb(k.*) FROM (SELECT {}) k)::text",
            self.key_columns().join(", ")
        )
    }

    /// The key's columns in SQL (`t."name"`).
    fn key_columns(&self) -> Vec<String> {
        self.key
            .iter()
            .map(|(c, _)| format!("t.{}", ident(c)))
            .collect()
    }

    /// The first (for an integer key, the only) key column in SQL.
    fn first_key_column(&self) -> String {
        format!("t.{}", ident(&self.key[0].0))
    }

    /// The key's values read back out of `object` (a JSON object `key_json` made), typed, each
    /// column's name a parameter.
    fn key_values_of(&self, object: &str, params: &mut Params) -> Vec<String> {
        self.key
            .iter()
            .map(|(column, data_type)| {
                format!("CAST({object} ->> {} AS {data_type})", params.text(column))
            })
            .collect()
    }

    fn key_tuple(&self) -> String {
        format!("({})", self.key_columns().join(", "))
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
    let keys = plan.key_columns();
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

/// The first two columns of each row `sql` returns, streamed into a map from the first.
async fn keyed_pairs<V>(
    side: &mut Side<'_>,
    sql: &str,
    params: &Params,
) -> Result<HashMap<String, V>, DiffError>
where
    V: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    use sqlx::Row;
    let mut pairs = HashMap::new();
    let mut stream = bind(sql, params).fetch(&mut *side.conn);
    while let Some(row) = stream.try_next().await? {
        pairs.insert(row.try_get(0)?, row.try_get(1)?);
    }
    Ok(pairs)
}

/// The rows of `range`: key (JSON text) → row hash.
async fn leaf_hashes_by_key(
    side: &mut Side<'_>,
    range: &KeyRange,
) -> Result<HashMap<String, i64>, DiffError> {
    let plan = &side.plan;
    let (filter, params) = plan.range(range);
    let sql = format!(
        "SELECT {}, {} FROM {} {filter}",
        plan.key_json(),
        plan.row_hash,
        plan.from
    );
    keyed_pairs(side, &sql, &params).await
}

/// The rows (as JSON) of `keys` (JSON objects of key values) in `range`, by key.
async fn rows_by_json_key(
    side: &mut Side<'_>,
    range: &KeyRange,
    keys: &[String],
) -> Result<HashMap<String, String>, DiffError> {
    let plan = &side.plan;
    let (filter, mut params) = plan.range(range);
    let wanted = params.text(&format!("[{}]", keys.join(",")));
    let values = plan.key_values_of("k", &mut params);
    let sql = format!(
        "SELECT {}, {} FROM {} {filter} AND {} IN
           (SELECT {} FROM jsonb_array_elements(CAST({wanted} AS jsonb)) AS k)",
        plan.key_json(),
        plan.row_json,
        plan.from,
        plan.key_tuple(),
        values.join(", ")
    );
    keyed_pairs(side, &sql, &params).await
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
    let mut params = Params::default();
    let array = params.text(&format!(
        "[{}]",
        keys.into_iter().cloned().collect::<Vec<_>>().join(",")
    ));
    let order = plan.key_values_of("k", &mut params);
    let sql = format!(
        "SELECT k::text FROM jsonb_array_elements(CAST({array} AS jsonb)) AS k ORDER BY {}",
        order.join(", ")
    );
    use sqlx::Row;
    let rows = bind(&sql, &params).fetch_all(&mut *side.conn).await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?)
}

fn json(table: &Table, text: &str) -> Result<serde_json::Value, DiffError> {
    serde_json::from_str(text).map_err(|source| DiffError::Json {
        table: format!("{}.{}", table.schema, table.name),
        source,
    })
}

/// Each column of `table`'s type's own extended hash function (the default hash operator
/// class's, for a domain its base type's, for an array `hash_array_extended` over its element's),
/// as SQL; a column is missing when its type has none (json, xml, point), hashes values by
/// database OIDs (enums, `reg*` types: the same label has another OID in the other database),
/// or is a composite, range or multirange (whose members could be of either kind).
async fn hash_functions(
    conn: &mut PgConnection,
    table: &Table,
) -> Result<HashMap<String, String>, DiffError> {
    const SQL: &str = "
        WITH RECURSIVE typed(name, type) AS (
            SELECT a.attname::text, a.atttypid
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
            UNION ALL
            SELECT typed.name, t.typbasetype
            FROM typed JOIN pg_catalog.pg_type t ON t.oid = typed.type
            WHERE t.typtype = 'd'
        ),
        based AS (
            SELECT typed.name, t.typcategory = 'A' AS is_array,
                   CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END AS hashed
            FROM typed JOIN pg_catalog.pg_type t ON t.oid = typed.type
            WHERE t.typtype <> 'd'
        )
        SELECT based.name, based.is_array, f.schema, f.function
        FROM based
        CROSS JOIN LATERAL (
            SELECT pn.nspname::text AS schema, p.proname::text AS function
            FROM pg_catalog.pg_type x
            JOIN pg_catalog.pg_opclass oc ON oc.opcdefault
            JOIN pg_catalog.pg_am am ON am.oid = oc.opcmethod AND am.amname = 'hash'
            JOIN pg_catalog.pg_amproc ap ON ap.amprocfamily = oc.opcfamily
                AND ap.amproclefttype = oc.opcintype AND ap.amprocrighttype = oc.opcintype
                AND ap.amprocnum = 2
            JOIN pg_catalog.pg_proc p ON p.oid = ap.amproc
            JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
            JOIN pg_catalog.pg_type input ON input.oid = oc.opcintype
            WHERE x.oid = based.hashed AND x.typtype = 'b' AND x.typcategory <> 'A'
              AND NOT (x.typnamespace = 'pg_catalog'::regnamespace AND x.typname LIKE 'reg%')
              AND (oc.opcintype = x.oid OR EXISTS (
                  SELECT FROM pg_catalog.pg_cast k
                  WHERE k.castsource = x.oid AND k.casttarget = oc.opcintype
                    AND k.castmethod = 'b' AND k.castcontext = 'i'))
            -- Like PostgreSQL's own choice: the type's own class, else the preferred type's
            -- (varchar is hashed as text, not as bpchar, which ignores trailing spaces).
            ORDER BY oc.opcintype = x.oid DESC, input.typispreferred DESC
            LIMIT 1
        ) f";
    let rows: Vec<(String, bool, String, String)> = sqlx::query_as(SQL)
        .bind(&table.schema)
        .bind(&table.name)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(name, is_array, schema, function)| {
            let function = if is_array {
                qualified("pg_catalog", "hash_array_extended")
            } else {
                qualified(&schema, &function)
            };
            (name, function)
        })
        .collect())
}

/// For each compared column, the hash function both sides use: only when the column has the
/// same type and collation on both and both resolve the same function (a domain of the same
/// name may be over another type there), else `None` (its text form). When the resulting row
/// hash fails on a row of either side, every column's text form is the fallback.
async fn common_hash_functions(
    (a, table_a): (&mut PgConnection, &Table),
    (b, table_b): (&mut PgConnection, &Table),
    compared: &[String],
) -> Result<Vec<Option<String>>, DiffError> {
    let (functions_a, functions_b) =
        tokio::join!(hash_functions(a, table_a), hash_functions(b, table_b));
    let (functions_a, functions_b) = (functions_a?, functions_b?);
    let column = |t: &Table, c: &String| {
        t.columns
            .iter()
            .find(|x| &x.name == c)
            .map(|x| (x.data_type.clone(), x.collation.clone()))
    };
    let functions: Vec<Option<String>> = compared
        .iter()
        .map(|c| match (functions_a.get(c), functions_b.get(c)) {
            (Some(fa), Some(fb)) if fa == fb && column(table_a, c) == column(table_b, c) => {
                Some(fa.clone())
            }
            _ => None,
        })
        .collect();
    for (conn, table) in [(a, table_a), (b, table_b)] {
        if !hashes_cleanly(conn, table, compared, &functions).await? {
            return Ok(vec![None; compared.len()]);
        }
    }
    Ok(functions)
}

/// Whether the row hash with `functions` works on a row of `table`: tried in a transaction (a
/// savepoint inside the caller's) that is rolled back, so a function that fails after all
/// leaves nothing behind.
async fn hashes_cleanly(
    conn: &mut PgConnection,
    table: &Table,
    compared: &[String],
    functions: &[Option<String>],
) -> Result<bool, DiffError> {
    use sqlx::Connection;
    if functions.iter().all(Option::is_none) {
        return Ok(true);
    }
    let hash = row_hash(&hashed_columns(table, compared, functions));
    let sql = format!("SELECT {hash} FROM {} AS t LIMIT 1", from_table(table));
    let mut probe = conn.begin().await?;
    let hashed = sqlx::query(&sql).fetch_optional(&mut *probe).await;
    probe.rollback().await?;
    Ok(hashed.is_ok())
}

/// Compares the rows of `table_a` in database A (over `a`) with those of `table_b` in B.
/// `fingerprints`: each side's [`Fingerprint`] when one was taken; used when both were, with
/// the row hash this comparison uses.
pub async fn table_data_diff(
    a: &mut PgConnection,
    table_a: &Table,
    b: &mut PgConnection,
    table_b: &Table,
    fingerprints: (Option<&Fingerprint>, Option<&Fingerprint>),
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
        from_fingerprints: false,
    };
    let functions =
        common_hash_functions((&mut *a, table_a), (&mut *b, table_b), &compared).await?;
    let mut side_a = Side {
        conn: a,
        table: table_a,
        plan: Plan::new(table_a, &compared, &key, &functions),
    };
    let mut side_b = Side {
        conn: b,
        table: table_b,
        plan: Plan::new(table_b, &compared, &key, &functions),
    };
    if key.is_empty() {
        multiset_diff(&mut side_a, &mut side_b, options, &mut diff).await?;
        return Ok(diff);
    }
    let whole = KeyRange::default();
    let integer_key = side_a.plan.integer_key() && side_b.plan.integer_key();
    if integer_key
        && let (Some(fingerprint_a), Some(fingerprint_b)) = fingerprints
        && let Some(differing) = fingerprint_differences(
            (&side_a.plan, fingerprint_a),
            (&side_b.plan, fingerprint_b),
            &mut diff,
        )
    {
        compare_integer_ranges(
            &mut side_a,
            &mut side_b,
            differing,
            None,
            options,
            &mut diff,
        )
        .await?;
        return Ok(diff);
    }
    // The whole table's count and hash, without grouping, are taken first when they are likely
    // all there is to learn: for a key that is not one integer column (its root range), and for
    // an integer key when both tables take the same room on disk (two restores of the same rows
    // do). Otherwise, for an integer key, the first pass is grouped into buckets at once: it
    // costs about one and a half ungrouped passes and finds the changed buckets in the same go.
    let mut whole_counts = None;
    if !integer_key || same_size(&mut side_a, &mut side_b).await? {
        let (a, b) = tokio::join!(
            summarise(&mut side_a, &whole),
            summarise(&mut side_b, &whole)
        );
        let (summary_a, summary_b) = (a?, b?);
        (diff.rows_in_a, diff.rows_in_b) = (summary_a.0, summary_b.0);
        diff.ranges_compared = 1;
        if summary_a == summary_b {
            return Ok(diff);
        }
        whole_counts = Some((summary_a.0, summary_b.0));
    }
    // Integer keys spanning more than int8 arithmetic can cut take the general way below.
    if integer_key
        && integer_key_diff(&mut side_a, &mut side_b, whole_counts, options, &mut diff).await?
    {
        return Ok(diff);
    }
    // Depth first, so a comparison stopped at `max_differences` has finished whole ranges.
    // Each range comes with its counts on both sides once they are known.
    let mut ranges = vec![(whole, whole_counts)];
    while let Some((range, counts)) = ranges.pop() {
        let (count_a, count_b) = match counts {
            Some(counts) => counts,
            None => {
                let (a, b) = tokio::join!(
                    summarise(&mut side_a, &range),
                    summarise(&mut side_b, &range)
                );
                let ((count_a, hash_a), (count_b, hash_b)) = (a?, b?);
                if diff.ranges_compared == 0 {
                    (diff.rows_in_a, diff.rows_in_b) = (count_a, count_b);
                }
                diff.ranges_compared += 1;
                if count_a == count_b && hash_a == hash_b {
                    continue;
                }
                (count_a, count_b)
            }
        };
        let larger = count_a.max(count_b);
        if larger <= options.leaf_rows {
            compare_leaf(&mut side_a, &mut side_b, &range, options, &mut diff).await?;
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
            let range = KeyRange {
                lower: pair[0].clone(),
                upper: pair[1].clone(),
            };
            ranges.push((range, None));
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

/// Whether the two tables take the same room on disk (their main forks), as two restores of
/// the same rows do.
async fn same_size(side_a: &mut Side<'_>, side_b: &mut Side<'_>) -> Result<bool, DiffError> {
    async fn size(side: &mut Side<'_>) -> Result<i64, DiffError> {
        let name = qualified(&side.table.schema, &side.table.name);
        Ok(
            sqlx::query_scalar("SELECT pg_catalog.pg_relation_size(CAST($1 AS regclass))")
                .bind(name)
                .fetch_one(&mut *side.conn)
                .await?,
        )
    }
    let (a, b) = tokio::join!(size(side_a), size(side_b));
    Ok(a? == b?)
}

/// The smallest and largest key of one side.
async fn key_extent(side: &mut Side<'_>) -> Result<Option<(i64, i64)>, DiffError> {
    let plan = &side.plan;
    let key = plan.first_key_column();
    let sql = format!(
        "SELECT min({key})::int8, max({key})::int8 FROM {}",
        plan.from
    );
    let (min, max): (Option<i64>, Option<i64>) =
        sqlx::query_as(&sql).fetch_one(&mut *side.conn).await?;
    Ok(min.zip(max))
}

/// Row count and hash of each bucket of `width` keys from `range.lower`, in one pass.
/// `every_key`: the range holds every key of both sides, so no row needs to be filtered out.
async fn buckets(
    side: &mut Side<'_>,
    range: &IntegerRange,
    width: i64,
    every_key: bool,
) -> Result<Buckets, DiffError> {
    let plan = &side.plan;
    let key = format!("{}::int8", plan.first_key_column());
    let filter = if every_key {
        String::new()
    } else {
        format!("WHERE {key} < $3 AND {key} >= $1")
    };
    let sql = format!(
        "SELECT ({key} - $1) / $2 AS b, count(*), bit_xor({}) FROM {} {filter} GROUP BY b",
        plan.row_hash, plan.from
    );
    let mut query = sqlx::query_as(&sql).bind(range.lower).bind(width);
    if !every_key {
        query = query.bind(range.upper);
    }
    let rows: Vec<(i64, i64, i64)> = query.fetch_all(&mut *side.conn).await?;
    Ok(rows.into_iter().map(|(b, n, h)| (b, (n, h))).collect())
}

/// Buckets one grouped pass may cut a range into: enough that a 5M-row table's buckets are
/// leaves at the default `leaf_rows`, few enough that the grouping stays in memory.
const MAX_BUCKETS: i64 = 16_384;

/// Rows of leaves read (as key and hash) in one query per side.
const LEAF_BATCH_ROWS: i64 = 100_000;

/// A table's rows summarised by buckets of its integer key (`key >> shift`, about half a leaf
/// of rows each by the table's row estimate): each bucket's row count and the XOR of its rows'
/// hashes. A sandbox's rows do
/// not change once restored, so this is taken once, after the restore; a diff of two
/// fingerprinted tables then reads only the rows of the buckets that differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The key column.
    pub key: String,
    /// The row hash (SQL) the buckets were made with: a diff uses them only when it hashes the
    /// rows the same way (the same columns, of the same types, by the same functions).
    pub row_hash: String,
    pub shift: i32,
    /// The buckets, ascending, with the rows and the hash of each.
    pub buckets: Vec<i64>,
    pub rows: Vec<i64>,
    pub hashes: Vec<i64>,
}

/// Whether `table` has a fingerprint: rows of its own (it is not a partitioned parent) and a
/// key of one integer column.
pub fn fingerprintable(table: &Table) -> bool {
    table.kind != "partitioned"
        && matches!(identifying_key(table).as_deref(), Some([column]) if integer_type(&column.data_type))
}

/// The fingerprint of `table` over all its columns, each hashed by its type's own function;
/// `None` when its key is not one integer column. One grouped pass over the table.
pub async fn fingerprint(
    conn: &mut PgConnection,
    table: &Table,
) -> Result<Option<Fingerprint>, DiffError> {
    if !fingerprintable(table) {
        return Ok(None);
    }
    let key: Vec<String> = identifying_key(table)
        .into_iter()
        .flatten()
        .map(|c| c.name.clone())
        .collect();
    let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let own = hash_functions(conn, table).await?;
    let mut functions: Vec<Option<String>> = columns.iter().map(|c| own.get(c).cloned()).collect();
    if !hashes_cleanly(conn, table, &columns, &functions).await? {
        functions = vec![None; columns.len()];
    }
    let mut side = Side {
        conn,
        table,
        plan: Plan::new(table, &columns, &key, &functions),
    };
    let mut fingerprint = Fingerprint {
        key: key[0].clone(),
        row_hash: side.plan.row_hash.clone(),
        shift: 0,
        buckets: Vec::new(),
        rows: Vec::new(),
        hashes: Vec::new(),
    };
    let Some((min, max)) = key_extent(&mut side).await? else {
        return Ok(Some(fingerprint));
    };
    let rows = table.row_estimate.unwrap_or(0).max(1);
    let count = (rows * 2 / DataDiffOptions::default().leaf_rows).clamp(1, MAX_BUCKETS);
    let span = (i128::from(max) - i128::from(min) + 1) as u128;
    let width = span.div_ceil(count as u128).next_power_of_two();
    // At most 2^62 keys wide, so that a bucket's bounds stay within int8.
    fingerprint.shift = (width.trailing_zeros() as i32).min(62);
    let plan = &side.plan;
    let sql = format!(
        "SELECT {}::int8 >> $1 AS b, count(*), bit_xor({}) FROM {} GROUP BY b ORDER BY b",
        plan.first_key_column(),
        plan.row_hash,
        plan.from
    );
    let buckets: Vec<(i64, i64, i64)> = sqlx::query_as(&sql)
        .bind(fingerprint.shift)
        .fetch_all(&mut *side.conn)
        .await?;
    for (bucket, rows, hash) in buckets {
        fingerprint.buckets.push(bucket);
        fingerprint.rows.push(rows);
        fingerprint.hashes.push(hash);
    }
    Ok(Some(fingerprint))
}

/// The buckets where the fingerprints of A and B differ, as key ranges in reverse key order
/// (the coarser side's buckets; rows: the larger side's); the row counts go into `diff`.
/// `None` when the fingerprints were not made with these sides' row hashes and key, or a
/// bucket's bounds do not fit int8.
fn fingerprint_differences(
    (plan_a, a): (&Plan, &Fingerprint),
    (plan_b, b): (&Plan, &Fingerprint),
    diff: &mut TableDataDiff,
) -> Option<Vec<IntegerRange>> {
    let usable = |plan: &Plan, f: &Fingerprint| {
        plan.row_hash == f.row_hash && plan.key.first().map(|(k, _)| k) == Some(&f.key)
    };
    let in_int8 = |f: &Fingerprint| (0..=62).contains(&f.shift);
    if !usable(plan_a, a) || !usable(plan_b, b) || !in_int8(a) || !in_int8(b) {
        return None;
    }
    let shift = a.shift.max(b.shift);
    let coarse = |f: &Fingerprint| {
        let mut buckets: Buckets = HashMap::new();
        for ((bucket, rows), hash) in f.buckets.iter().zip(&f.rows).zip(&f.hashes) {
            let merged = buckets.entry(bucket >> (shift - f.shift)).or_default();
            merged.0 += rows;
            merged.1 ^= hash;
        }
        buckets
    };
    let (buckets_a, buckets_b) = (coarse(a), coarse(b));
    let width = 1i64 << shift;
    // The last bucket's end must fit int8 (its start does: it is a key with its low bits
    // cleared).
    let last = buckets_a.keys().chain(buckets_b.keys()).max();
    if last.is_some_and(|last| (last + 1).checked_mul(width).is_none()) {
        return None;
    }
    let ranges = differing_ranges(&buckets_a, &buckets_b, 0, width, i64::MAX);
    diff.rows_in_a = buckets_a.values().map(|(n, _)| n).sum();
    diff.rows_in_b = buckets_b.values().map(|(n, _)| n).sum();
    diff.ranges_compared = 1;
    diff.from_fingerprints = true;
    Some(ranges)
}

/// Row count and hash by bucket.
type Buckets = HashMap<i64, (i64, i64)>;

/// The buckets where `a` and `b` differ, as key ranges in reverse key order: bucket `n` holds
/// `origin + n * width` up to `width` keys further, or `end`.
fn differing_ranges(
    a: &Buckets,
    b: &Buckets,
    origin: i64,
    width: i64,
    end: i64,
) -> Vec<IntegerRange> {
    let mut differing: Vec<i64> = a
        .keys()
        .chain(b.keys())
        .copied()
        .filter(|k| a.get(k) != b.get(k))
        .collect();
    differing.sort_unstable();
    differing.dedup();
    differing
        .into_iter()
        .rev()
        .map(|bucket| {
            let lower = origin + bucket * width;
            let rows = [a.get(&bucket), b.get(&bucket)]
                .into_iter()
                .flatten()
                .map(|(n, _)| *n)
                .max()
                .unwrap_or(0);
            IntegerRange {
                lower,
                upper: lower.saturating_add(width).min(end),
                // One key per row at most: a bucket one key wide is a leaf whatever it holds.
                rows: if width == 1 { 0 } else { rows },
            }
        })
        .collect()
}

/// A table keyed by one integer column whose summaries differ (or are not known yet): its keys
/// from the smallest to the largest of both sides, compared by [`compare_integer_ranges`].
/// False (nothing done) when the keys span more than int8 arithmetic can cut.
async fn integer_key_diff(
    side_a: &mut Side<'_>,
    side_b: &mut Side<'_>,
    whole_counts: Option<(i64, i64)>,
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
    // Without the whole table's counts, the first pass is grouped whatever the table's size,
    // and its buckets give the counts.
    let estimate = side_a.table.row_estimate.max(side_b.table.row_estimate);
    let rows = whole_counts.map_or(estimate.unwrap_or(0).max(1), |(a, b)| a.max(b));
    let ranges = vec![IntegerRange {
        lower: min,
        upper,
        rows,
    }];
    compare_integer_ranges(
        side_a,
        side_b,
        ranges,
        Some((min, upper, whole_counts.is_none())),
        options,
        diff,
    )
    .await?;
    Ok(true)
}

/// Compares integer key `ranges` (a stack: the last is compared first): each is cut into
/// buckets of equal key width, and one query per side (the two at once) gives every bucket's
/// count and hash; buckets that differ are cut again or, when small, are leaves, read a batch at
/// a time. `whole`: when `ranges` is the whole table, its bounds (`min..upper`, which need no
/// filter) and whether its counts are still unknown (so that it is grouped however small).
async fn compare_integer_ranges(
    side_a: &mut Side<'_>,
    side_b: &mut Side<'_>,
    mut ranges: Vec<IntegerRange>,
    whole: Option<(i64, i64, bool)>,
    options: &DataDiffOptions,
    diff: &mut TableDataDiff,
) -> Result<(), DiffError> {
    let mut first = whole.is_some_and(|(_, _, uncounted)| uncounted);
    while let Some(range) = ranges.pop() {
        if range.rows <= options.leaf_rows && !first {
            // This leaf and the leaves after it in key order, up to a batch.
            let mut leaves = vec![range];
            let mut rows = leaves[0].rows;
            while let Some(next) = ranges.last()
                && next.rows <= options.leaf_rows
                && rows + next.rows <= LEAF_BATCH_ROWS
            {
                rows += next.rows;
                leaves.extend(ranges.pop());
            }
            compare_integer_leaves(side_a, side_b, &leaves, options, diff).await?;
            if diff.differences() >= options.max_differences {
                diff.complete = false;
                return Ok(());
            }
            continue;
        }
        // Buckets of about half a leaf, so that most differing ones are leaves.
        let count = (range.rows * 2 / options.leaf_rows.max(1)).clamp(2, MAX_BUCKETS);
        let span = range.upper - range.lower;
        let width = (span + count - 1) / count;
        let every_key =
            whole.is_some_and(|(min, upper, _)| range.lower == min && range.upper == upper);
        let (a, b) = tokio::join!(
            buckets(side_a, &range, width, every_key),
            buckets(side_b, &range, width, every_key)
        );
        let (a, b) = (a?, b?);
        diff.ranges_compared += 1;
        if first {
            diff.rows_in_a = a.values().map(|(n, _)| n).sum();
            diff.rows_in_b = b.values().map(|(n, _)| n).sum();
            first = false;
        }
        // Pushed in reverse, so the lowest keys are compared first.
        ranges.extend(differing_ranges(&a, &b, range.lower, width, range.upper));
    }
    Ok(())
}

/// The (key, row hash) of every row in `leaves`, in key order: one query, an index range scan
/// per leaf.
async fn leaf_hashes(
    side: &mut Side<'_>,
    leaves: &[IntegerRange],
) -> Result<Vec<(i64, i64)>, DiffError> {
    let plan = &side.plan;
    let key = plan.first_key_column();
    let sql = format!(
        "SELECT {key}::int8, {} FROM unnest($1::int8[], $2::int8[]) AS r(lower, upper)
         JOIN {} ON {key} >= r.lower AND {key} < r.upper",
        plan.row_hash, plan.from
    );
    let lowers: Vec<i64> = leaves.iter().map(|l| l.lower).collect();
    let uppers: Vec<i64> = leaves.iter().map(|l| l.upper).collect();
    let mut rows: Vec<(i64, i64)> = sqlx::query_as(&sql)
        .bind(lowers)
        .bind(uppers)
        .fetch_all(&mut *side.conn)
        .await?;
    rows.sort_unstable();
    Ok(rows)
}

/// The rows (as JSON) of `keys`, by key.
async fn rows_by_key(side: &mut Side<'_>, keys: &[i64]) -> Result<HashMap<i64, String>, DiffError> {
    let plan = &side.plan;
    let key = plan.first_key_column();
    let sql = format!(
        "SELECT {key}::int8, {} FROM {} WHERE {key} = ANY($1::int8[])",
        plan.row_json, plan.from
    );
    let rows: Vec<(i64, String)> = sqlx::query_as(&sql)
        .bind(keys)
        .fetch_all(&mut *side.conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Compares the rows of integer-keyed `leaves` (in key order): keys and hashes from both sides
/// at once, then the full rows of only the keys whose hashes differ, up to `max_differences`.
async fn compare_integer_leaves(
    side_a: &mut Side<'_>,
    side_b: &mut Side<'_>,
    leaves: &[IntegerRange],
    options: &DataDiffOptions,
    diff: &mut TableDataDiff,
) -> Result<(), DiffError> {
    let (a, b) = tokio::join!(leaf_hashes(side_a, leaves), leaf_hashes(side_b, leaves));
    let (a, b) = (a?, b?);
    let mut differing = Vec::new();
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(&(ka, ha)), Some(&(kb, hb))) if ka == kb => {
                if ha != hb {
                    differing.push(ka);
                }
                a.next();
                b.next();
            }
            (Some(&(ka, _)), Some(&(kb, _))) if ka < kb => {
                differing.push(ka);
                a.next();
            }
            (Some(&(ka, _)), None) => {
                differing.push(ka);
                a.next();
            }
            (_, Some(&(kb, _))) => {
                differing.push(kb);
                b.next();
            }
        }
    }
    differing.truncate(options.max_differences.saturating_sub(diff.differences()));
    if differing.is_empty() {
        return Ok(());
    }
    let (rows_a, rows_b) = tokio::join!(
        rows_by_key(side_a, &differing),
        rows_by_key(side_b, &differing)
    );
    let (rows_a, rows_b) = (rows_a?, rows_b?);
    let name = &side_b.plan.key[0].0;
    for key in differing {
        let row =
            |rows: &HashMap<i64, String>, table| rows.get(&key).map(|r| json(table, r)).transpose();
        let change = row_change(
            diff,
            serde_json::json!({ name: key }),
            row(&rows_a, side_a.table)?,
            row(&rows_b, side_b.table)?,
        );
        diff.changes.push(change);
    }
    Ok(())
}

/// The change of the row with `key` from `a` to `b` (either missing), counted in `diff`.
fn row_change(
    diff: &mut TableDataDiff,
    key: serde_json::Value,
    a: Option<serde_json::Value>,
    b: Option<serde_json::Value>,
) -> RowChange {
    let (change, columns) = match (&a, &b) {
        (Some(a), Some(b)) => {
            diff.changed += 1;
            let columns = diff
                .compared_columns
                .iter()
                .filter(|c| a.get(c.as_str()) != b.get(c.as_str()))
                .cloned()
                .collect();
            (RowChangeKind::Changed, columns)
        }
        (Some(_), None) => {
            diff.removed += 1;
            (RowChangeKind::Removed, Vec::new())
        }
        _ => {
            diff.added += 1;
            (RowChangeKind::Added, Vec::new())
        }
    };
    RowChange {
        change,
        key,
        columns,
        a,
        b,
    }
}

/// Compares the rows of one small range of a table with any key: keys and hashes from both
/// sides at once, then the full rows of only the keys whose hashes differ, up to
/// `max_differences`.
async fn compare_leaf(
    side_a: &mut Side<'_>,
    side_b: &mut Side<'_>,
    range: &KeyRange,
    options: &DataDiffOptions,
    diff: &mut TableDataDiff,
) -> Result<(), DiffError> {
    let (a, b) = tokio::join!(
        leaf_hashes_by_key(side_a, range),
        leaf_hashes_by_key(side_b, range)
    );
    let (a, b) = (a?, b?);
    let differing: BTreeSet<&String> = a
        .iter()
        .filter(|(key, hash)| b.get(*key) != Some(hash))
        .map(|(key, _)| key)
        .chain(b.keys().filter(|key| !a.contains_key(*key)))
        .collect();
    let mut differing = in_key_order(side_b, differing).await?;
    differing.truncate(options.max_differences.saturating_sub(diff.differences()));
    if differing.is_empty() {
        return Ok(());
    }
    let (rows_a, rows_b) = tokio::join!(
        rows_by_json_key(side_a, range, &differing),
        rows_by_json_key(side_b, range, &differing)
    );
    let (rows_a, rows_b) = (rows_a?, rows_b?);
    for key in differing {
        let row = |rows: &HashMap<String, String>, table| {
            rows.get(&key).map(|r| json(table, r)).transpose()
        };
        let change = row_change(
            diff,
            json(side_b.table, &key)?,
            row(&rows_a, side_a.table)?,
            row(&rows_b, side_b.table)?,
        );
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
    // First the whole multiset's count and sum of hashes (a sum, not a XOR: two equal rows
    // must not cancel), so an unchanged table costs one pass per side and no sort.
    let summary = |plan: &Plan| {
        format!(
            "SELECT count(*), coalesce(sum({}), 0)::text FROM {}",
            plan.row_hash, plan.from
        )
    };
    let (sql_a, sql_b) = (summary(&side_a.plan), summary(&side_b.plan));
    let (a, b) = tokio::join!(
        sqlx::query_as::<_, (i64, String)>(&sql_a).fetch_one(&mut *side_a.conn),
        sqlx::query_as::<_, (i64, String)>(&sql_b).fetch_one(&mut *side_b.conn)
    );
    let (a, b) = (a?, b?);
    diff.ranges_compared = 1;
    if a == b {
        (diff.rows_in_a, diff.rows_in_b) = (a.0, b.0);
        return Ok(());
    }
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
