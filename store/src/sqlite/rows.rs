//! SQLite's column encodings: UUIDs as lower-case hyphenated text, timestamps in one canonical
//! text form (text order = time order), JSON as text.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, Sqlite};
use uuid::Uuid;

use super::tx::ts;
use crate::StoreError;
use crate::query::sql::{Arg, Sql};
use crate::rows::Columns;

fn parse_uuid(s: &str, what: &'static str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|_| StoreError::Corrupt(what))
}

fn parse_ts(s: &str, what: &'static str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|_| StoreError::Corrupt(what))
}

fn parse_json(s: &str, what: &'static str) -> Result<Value, StoreError> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt(what))
}

/// Typed columns of a SQLite row, in the text encodings above.
impl Columns for SqliteRow {
    fn text(&self, col: &'static str) -> Result<String, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_text(&self, col: &'static str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn uuid(&self, col: &'static str) -> Result<Uuid, StoreError> {
        parse_uuid(&self.text(col)?, col)
    }
    fn opt_uuid(&self, col: &'static str) -> Result<Option<Uuid>, StoreError> {
        self.opt_text(col)?.map(|s| parse_uuid(&s, col)).transpose()
    }
    fn ts(&self, col: &'static str) -> Result<DateTime<Utc>, StoreError> {
        parse_ts(&self.text(col)?, col)
    }
    fn opt_ts(&self, col: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.opt_text(col)?.map(|s| parse_ts(&s, col)).transpose()
    }
    fn json(&self, col: &'static str) -> Result<Value, StoreError> {
        parse_json(&self.text(col)?, col)
    }
    fn opt_json(&self, col: &'static str) -> Result<Option<Value>, StoreError> {
        self.opt_text(col)?.map(|s| parse_json(&s, col)).transpose()
    }
    fn opt_i32(&self, col: &'static str) -> Result<Option<i32>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn f64(&self, col: &'static str) -> Result<f64, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_f64(&self, col: &'static str) -> Result<Option<f64>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn i64(&self, col: &'static str) -> Result<i64, StoreError> {
        Ok(self.try_get(col)?)
    }
}

/// `sql` with its arguments bound in this backend's encoding.
pub(super) fn bound(sql: Sql) -> sqlx::query::Query<'static, Sqlite, <Sqlite as sqlx::Database>::Arguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql.text));
    for arg in sql.args {
        query = match arg {
            Arg::Uuid(v) => query.bind(v.to_string()),
            Arg::Ts(v) => query.bind(ts(&v)),
            Arg::Text(v) => query.bind(v),
            Arg::F64(v) => query.bind(v),
            Arg::I64(v) => query.bind(v),
            Arg::Uuids(v) => query.bind(serde_json::to_string(&v).expect("ids serialize")),
            Arg::I64s(v) => query.bind(serde_json::to_string(&v).expect("integers serialize")),
        };
    }
    query
}
