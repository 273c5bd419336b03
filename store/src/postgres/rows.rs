//! Postgres' column decoding and argument binding.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Postgres, Row};
use uuid::Uuid;

use crate::StoreError;
use crate::query::sql::{Arg, Sql};
use crate::rows::Columns;

/// Typed columns of a Postgres row.
impl Columns for PgRow {
    fn text(&self, col: &'static str) -> Result<String, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_text(&self, col: &'static str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn uuid(&self, col: &'static str) -> Result<Uuid, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_uuid(&self, col: &'static str) -> Result<Option<Uuid>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn ts(&self, col: &'static str) -> Result<DateTime<Utc>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_ts(&self, col: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn json(&self, col: &'static str) -> Result<Value, StoreError> {
        Ok(self.try_get::<Json<Value>, _>(col)?.0)
    }
    fn opt_json(&self, col: &'static str) -> Result<Option<Value>, StoreError> {
        Ok(self.try_get::<Option<Json<Value>>, _>(col)?.map(|j| j.0))
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
pub(super) fn bound(sql: Sql) -> sqlx::query::Query<'static, Postgres, <Postgres as sqlx::Database>::Arguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql.text));
    for arg in sql.args {
        query = match arg {
            Arg::Uuid(v) => query.bind(v),
            Arg::Ts(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::F64(v) => query.bind(v),
            Arg::I64(v) => query.bind(v),
            Arg::Uuids(v) => query.bind(v),
            Arg::I64s(v) => query.bind(v),
        };
    }
    query
}
