//! One SQL text for both backends. A [`Sql`] is written once against a [`Dialect`], which
//! supplies the few expressions that differ (JSON access, day buckets, durations, table names);
//! its arguments are typed ([`Arg`]) so each backend binds them in its own encoding.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The most bound parameters one SQLite statement is given (its limit is 32766): every
/// statement with a parameter per row is chunked under it.
pub(crate) const SQLITE_MAX_PARAMS: usize = 32_000;

/// The SQL dialect a query is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    Sqlite,
}

/// A bound value; each backend chooses the column encoding (SQLite: UUIDs and timestamps as text).
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Uuid(Uuid),
    Ts(DateTime<Utc>),
    Text(String),
    F64(f64),
    I64(i64),
    /// A set of ids, for [`Sql::in_ids`].
    Uuids(Vec<Uuid>),
    /// A list of integers (Postgres `int8[]`; SQLite a JSON array).
    I64s(Vec<i64>),
}

/// An SQL statement under construction and its arguments, in order.
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) dialect: Dialect,
    pub(crate) text: String,
    pub(crate) args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(dialect: Dialect) -> Self {
        Self { dialect, text: String::with_capacity(1024), args: Vec::new() }
    }

    /// Appends SQL text (never input: values go through [`Sql::arg`]).
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub(crate) fn arg(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        let n = self.args.len();
        match self.dialect {
            Dialect::Postgres => self.text.push_str(&format!("${n}")),
            Dialect::Sqlite => self.text.push_str(&format!("?{n}")),
        }
        self
    }

    /// Binds `arg` without a placeholder; returns its position for [`Sql::again`].
    pub(crate) fn bind(&mut self, arg: Arg) -> usize {
        self.args.push(arg);
        self.args.len()
    }

    /// A placeholder that repeats an argument already bound (by its 1-based position).
    pub(crate) fn again(&mut self, n: usize) -> &mut Self {
        match self.dialect {
            Dialect::Postgres => self.text.push_str(&format!("${n}")),
            Dialect::Sqlite => self.text.push_str(&format!("?{n}")),
        }
        self
    }

    /// Appends a placeholder for a JSON value (Postgres `jsonb`; SQLite its text).
    pub(crate) fn json_arg(&mut self, value: &serde_json::Value) -> &mut Self {
        match self.dialect {
            Dialect::Postgres => self.push("CAST(").arg(Arg::Text(value.to_string())).push(" AS jsonb)"),
            Dialect::Sqlite => self.arg(Arg::Text(value.to_string())),
        }
    }

    /// Appends a placeholder for `arg`, or `NULL`.
    pub(crate) fn opt_arg(&mut self, arg: Option<Arg>) -> &mut Self {
        match arg {
            Some(arg) => self.arg(arg),
            None => self.push("NULL"),
        }
    }

    /// The schema-qualified table name.
    pub(crate) fn table(&self, name: &str) -> String {
        match self.dialect {
            Dialect::Postgres => format!("private.{name}"),
            Dialect::Sqlite => name.to_owned(),
        }
    }

    /// `col.key` as a double when it is a JSON number, else NULL (never a cast error: agents
    /// put anything in their metadata).
    pub(crate) fn json_num(&self, col: &str, key: &str) -> String {
        match self.dialect {
            Dialect::Postgres => format!(
                "(CASE WHEN jsonb_typeof({col}->'{key}') = 'number' THEN ({col}->>'{key}')::double precision END)"
            ),
            Dialect::Sqlite => format!(
                "(CASE WHEN json_type({col}, '$.{key}') IN ('integer', 'real') THEN json_extract({col}, '$.{key}') END)"
            ),
        }
    }

    /// The order events were first stored in: Postgres' `seq` column (migration 0008), SQLite's
    /// `rowid` (an upsert keeps both).
    pub(crate) fn recorded(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => "seq",
            Dialect::Sqlite => "rowid",
        }
    }

    /// Every row's `values` as one JSON array of arrays, in one text value (NULL or `[]` for no
    /// row): a read of 100,000 small rows as one value skips the driver's per-row cost.
    pub(crate) fn json_rows(&self, values: &str) -> String {
        match self.dialect {
            Dialect::Postgres => format!("CAST(json_agg(json_build_array({values})) AS TEXT)"),
            Dialect::Sqlite => format!("json_group_array(json_array({values}))"),
        }
    }

    /// `col.key` when it is a JSON string, else NULL. A key may hold dots (`user.id`).
    pub(crate) fn json_text(&self, col: &str, key: &str) -> String {
        match self.dialect {
            Dialect::Postgres => {
                format!("(CASE WHEN jsonb_typeof({col}->'{key}') = 'string' THEN {col}->>'{key}' END)")
            }
            Dialect::Sqlite => {
                let path = if key.contains('.') { format!("$.\"{key}\"") } else { format!("$.{key}") };
                format!("(CASE WHEN json_type({col}, '{path}') = 'text' THEN json_extract({col}, '{path}') END)")
            }
        }
    }

    /// Appends the value at top-level key `key` (bound, any text) of JSON column `col` as
    /// text: a string without its quotes, a number as JSON writes it; NULL when absent.
    pub(crate) fn json_text_at(&mut self, col: &str, key: &str) -> &mut Self {
        match self.dialect {
            Dialect::Postgres => {
                self.push(&format!("({col} ->> ")).arg(Arg::Text(key.to_owned())).push(")");
            }
            Dialect::Sqlite => {
                // A quoted path label: `"` and `\` inside it are escaped JSON-style.
                let label = key.replace('\\', "\\\\").replace('"', "\\\"");
                // Booleans as JSON writes them, as Postgres' `->>` does (json_extract gives 1, 0).
                self.push(&format!("(CASE json_type({col}, ")).arg(Arg::Text(format!("$.\"{label}\"")));
                let path = self.args.len();
                self.push(" ) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(");
                self.push(col).push(", ").again(path).push(") AS TEXT) END)");
            }
        }
        self
    }

    /// Who a run or session was for: the first of the metadata's user keys
    /// (`user_id`, `user`, `user.id`) that is a string.
    pub(crate) fn metadata_user(&self, col: &str) -> String {
        let keys = super::USER_KEYS.map(|k| self.json_text(col, k));
        format!("COALESCE({})", keys.join(", "))
    }

    /// The first `chars` characters of a message's text, from its JSON content `col`: a
    /// string's text, an object's string `content`, else the JSON text.
    pub(crate) fn message_preview(&self, col: &str, chars: u32) -> String {
        let text = match self.dialect {
            Dialect::Postgres => format!(
                "CASE WHEN jsonb_typeof({col}) = 'string' THEN {col} #>> '{{}}' \
                 ELSE COALESCE(CASE WHEN jsonb_typeof({col}->'content') = 'string' THEN {col}->>'content' END, {col}::text) END"
            ),
            Dialect::Sqlite => format!(
                "CASE WHEN json_type({col}) = 'text' THEN json_extract({col}, '$') \
                 ELSE COALESCE(CASE WHEN json_type({col}, '$.content') = 'text' THEN json_extract({col}, '$.content') END, {col}) END"
            ),
        };
        format!("substr({text}, 1, {chars})")
    }

    /// Any column (uuid, jsonb, enum) as text, for searching and reading.
    pub(crate) fn as_text(&self, col: &str) -> String {
        match self.dialect {
            Dialect::Postgres => format!("{col}::text"),
            Dialect::Sqlite => col.to_owned(),
        }
    }

    /// The UTC day of a timestamp column, `YYYY-MM-DD`.
    pub(crate) fn day(&self, col: &str) -> String {
        match self.dialect {
            Dialect::Postgres => format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
            Dialect::Sqlite => format!("substr({col}, 1, 10)"),
        }
    }

    /// Milliseconds from timestamp column `from` to `to`, as a double.
    pub(crate) fn millis(&self, from: &str, to: &str) -> String {
        match self.dialect {
            Dialect::Postgres => format!("(EXTRACT(EPOCH FROM ({to} - {from})) * 1000)::double precision"),
            // Exact to the microsecond on the canonical text form (`…SS.ffffffZ`); julianday's
            // floating-point days would be off by microseconds.
            Dialect::Sqlite => format!(
                "((CAST(strftime('%s', {to}) AS INTEGER) - CAST(strftime('%s', {from}) AS INTEGER)) * 1000.0 \
                 + (CAST(substr({to}, 21, 6) AS INTEGER) - CAST(substr({from}, 21, 6) AS INTEGER)) / 1000.0)"
            ),
        }
    }

    /// The largest integer not above a non-negative double, as BIGINT (Postgres' cast rounds).
    pub(crate) fn floor(&self, expr: &str) -> String {
        match self.dialect {
            Dialect::Postgres => format!("CAST(FLOOR({expr}) AS BIGINT)"),
            Dialect::Sqlite => format!("CAST({expr} AS INTEGER)"),
        }
    }

    /// Binds `needle` as a "contains" pattern (`%` and `_` taken literally); returns its
    /// position for [`Sql::like`]. A NUL is looked for as U+FFFD, which is what ingest stores for
    /// one: Postgres refuses NUL in text, and SQLite's `LIKE` would end the pattern there (and
    /// match everything).
    pub(crate) fn pattern(&mut self, needle: &str) -> usize {
        let needle = northstar_wire::without_nul(needle);
        let escaped = needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        self.args.push(Arg::Text(format!("%{escaped}%")));
        self.args.len()
    }

    /// Appends a case-insensitive `expr LIKE <pattern n>` (SQLite's `LIKE` already ignores
    /// ASCII case).
    pub(crate) fn like(&mut self, expr: &str, n: usize) -> &mut Self {
        let op = match self.dialect {
            Dialect::Postgres => " ILIKE ",
            Dialect::Sqlite => " LIKE ",
        };
        self.push(expr).push(op).again(n).push(" ESCAPE '\\'")
    }

    /// Appends, on Postgres, `<the trigram-indexed search text of a row> ILIKE <pattern n> AND `:
    /// a coarse test an index answers (migration 0004), before the exact one. `name` is an SQL
    /// expression or `NULL`. Nothing on SQLite, which scans.
    pub(crate) fn search_prefilter(&mut self, id: &str, name: &str, metadata: &str, n: usize) -> &mut Self {
        match self.dialect {
            Dialect::Postgres => self.like(&format!("private.search_text({id}, {name}, {metadata})"), n).push(" AND "),
            Dialect::Sqlite => self,
        }
    }

    /// Appends "some top-level value of the JSON object `col` contains pattern n".
    pub(crate) fn json_values_like(&mut self, col: &str, n: usize) -> &mut Self {
        match self.dialect {
            Dialect::Postgres => self.push(&format!(
                "EXISTS (SELECT 1 FROM jsonb_each_text(CASE WHEN jsonb_typeof({col}) = 'object' THEN {col} END) AS kv WHERE "
            )),
            Dialect::Sqlite => self.push(&format!(
                "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_type({col}) = 'object' THEN {col} ELSE '{{}}' END) AS kv WHERE "
            )),
        };
        let value = self.as_text("kv.value");
        self.like(&value, n).push(")")
    }

    /// Appends `col IN <ids>` (an array on Postgres, a JSON array on SQLite).
    pub(crate) fn in_ids(&mut self, col: &str, ids: Vec<Uuid>) -> &mut Self {
        match self.dialect {
            Dialect::Postgres => self.push(col).push(" = ANY(").arg(Arg::Uuids(ids)).push(")"),
            Dialect::Sqlite => self.push(col).push(" IN (SELECT value FROM json_each(").arg(Arg::Uuids(ids)).push("))"),
        }
    }

    /// Appends `col = <project>` beside an id-set condition (`in_ids`), written so that no
    /// planner uses the project's index for it: looking N ids up by primary key is always the
    /// plan, but on a growing table with stale statistics both planners preferred to intersect
    /// with (SQLite: scan) every row of the project. SQLite: `+col`; Postgres: a `COALESCE`.
    pub(crate) fn project_is(&mut self, col: &str, project: Uuid) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => self.push("+").push(col).push(" = ").arg(Arg::Uuid(project)),
            Dialect::Postgres => self.push("COALESCE(").push(col).push(" = ").arg(Arg::Uuid(project)).push(", false)"),
        }
    }

    /// `$1` / `?1`: the project, which every query binds first.
    pub(crate) fn p1(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => "$1",
            Dialect::Sqlite => "?1",
        }
    }
}

/// A write transaction for one project, in one backend's dialect. Implemented by both stores'
/// transactions; ingest (`ingest::IngestTx`) and retention write through it.
pub(crate) trait WriteTx {
    type Row: crate::rows::Columns + Send;
    const DIALECT: Dialect;
    /// The project every statement of the transaction is scoped to.
    fn project(&self) -> Uuid;
    /// Runs a statement written for [`Self::DIALECT`] inside the transaction.
    fn fetch_all(&mut self, sql: Sql) -> impl Future<Output = Result<Vec<Self::Row>, crate::StoreError>> + Send;
}

/// Reads rows of one backend. Implemented by both stores.
pub(crate) trait Reader: Sync {
    type Row: crate::rows::Columns + Send;
    const DIALECT: Dialect;
    fn fetch_all(&self, sql: Sql) -> impl Future<Output = Result<Vec<Self::Row>, crate::StoreError>> + Send;
    /// Runs one statement that writes (a new score, a user's change) as a transaction of its
    /// own, with its returned rows. SQLite runs it in this process's write turn.
    fn write(&self, sql: Sql) -> impl Future<Output = Result<Vec<Self::Row>, crate::StoreError>> + Send;

    fn sql(&self) -> Sql {
        Sql::new(Self::DIALECT)
    }
}
