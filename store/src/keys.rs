//! A project's API keys: its project key (the original's one key, which rotation replaces) and
//! any number of named keys beside it, each with a scope. Only SHA-256 hashes are stored.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::StoreError;
use crate::backend::{Backend, in_transaction};
use crate::query::sql::{Arg, Reader, Sql, WriteTx};
use crate::rows::Columns;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyScope {
    /// Sends traces (the batch endpoint, OTLP).
    Ingest,
    /// Reads through the public API and MCP, and adds scores.
    Read,
}

impl KeyScope {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Read => "read",
        }
    }

    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ingest" => Some(Self::Ingest),
            "read" => Some(Self::Read),
            _ => None,
        }
    }
}

/// A key as its project's admins see it: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub scope: KeyScope,
    /// The project key (rotated by `key rotate`), not a named one.
    pub project_key: bool,
    pub created_at: DateTime<Utc>,
    /// Within a minute or so: uses are recorded at most once a minute per key.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Whose an active key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyOwner {
    pub project: Uuid,
    pub key: Uuid,
    pub scope: KeyScope,
}

/// Longest key name.
const MAX_NAME: usize = 100;

const COLUMNS: &str = "id, name, scope, CAST(CASE WHEN is_project_key THEN 1 ELSE 0 END AS BIGINT) AS project_key, \
     created_at, last_used_at, revoked_at";

fn api_key(row: &impl Columns) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: row.uuid("id")?,
        name: row.text("name")?,
        scope: KeyScope::parse(&row.text("scope")?).ok_or(StoreError::Corrupt("api_keys.scope"))?,
        project_key: row.i64("project_key")? != 0,
        created_at: row.ts("created_at")?,
        last_used_at: row.opt_ts("last_used_at")?,
        revoked_at: row.opt_ts("revoked_at")?,
    })
}

/// Inserts a key of the transaction's project.
pub(crate) async fn insert<T: WriteTx>(
    tx: &mut T,
    name: &str,
    scope: KeyScope,
    project_key: bool,
    key_hash: &str,
    created_at: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let mut q = Sql::new(T::DIALECT);
    let keys = q.table("api_keys");
    let id = Uuid::new_v4();
    q.push(&format!("INSERT INTO {keys} (id, project_id, name, scope, is_project_key, key_hash, created_at) VALUES ("));
    q.arg(Arg::Uuid(id)).push(", ").arg(Arg::Uuid(tx.project())).push(", ");
    q.arg(Arg::Text(name.to_owned())).push(", ").arg(Arg::Text(scope.as_str().to_owned()));
    q.push(if project_key { ", TRUE, " } else { ", FALSE, " });
    q.arg(Arg::Text(key_hash.to_owned())).push(", ").arg(Arg::Ts(created_at)).push(")");
    match tx.fetch_all(q).await {
        Ok(_) => Ok(id),
        Err(StoreError::Database(err)) if StoreError::is_unique_violation(&err) => {
            Err(StoreError::Invalid("that API key is already in use".into()))
        }
        Err(err) => Err(err),
    }
}

/// Creates a named key of `project`.
pub(crate) async fn create<B: Backend>(
    b: &B,
    project: Uuid,
    name: &str,
    scope: KeyScope,
    key_hash: &str,
) -> Result<ApiKey, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "a key's name must have 1 to {MAX_NAME} characters and no control characters"
        )));
    }
    // Microseconds: what both stores keep, so the key returned is the key stored.
    let created_at = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    let id = in_transaction!(b, project, |tx| {
        let mut q = Sql::new(B::DIALECT);
        let projects = q.table("projects");
        q.push(&format!("SELECT id FROM {projects} WHERE id = ")).arg(Arg::Uuid(project));
        if tx.fetch_all(q).await?.is_empty() {
            return Err(StoreError::ProjectNotFound(project));
        }
        insert(&mut tx, name, scope, false, key_hash, created_at).await?
    });
    Ok(ApiKey {
        id,
        name: name.to_owned(),
        scope,
        project_key: false,
        created_at,
        last_used_at: None,
        revoked_at: None,
    })
}

/// The project's keys: its project key, then its named keys, oldest first; revoked ones too.
pub(crate) async fn list<R: Reader>(r: &R, project: Uuid) -> Result<Vec<ApiKey>, StoreError> {
    let mut q = r.sql();
    let keys = q.table("api_keys");
    q.push(&format!("SELECT {COLUMNS} FROM {keys} WHERE project_id = ")).arg(Arg::Uuid(project));
    q.push(" ORDER BY is_project_key DESC, created_at, id");
    r.fetch_all(q).await?.iter().map(api_key).collect()
}

/// Revokes one key of the project. `Ok(false)` if it was already revoked.
pub(crate) async fn revoke<R: Reader>(r: &R, project: Uuid, key: Uuid) -> Result<bool, StoreError> {
    let Some(before) = list(r, project).await?.into_iter().find(|k| k.id == key) else {
        return Err(StoreError::NotFound("no such key in this project"));
    };
    if before.revoked_at.is_some() {
        return Ok(false);
    }
    let mut q = r.sql();
    let keys = q.table("api_keys");
    q.push(&format!("UPDATE {keys} SET revoked_at = ")).arg(Arg::Ts(Utc::now()));
    q.push(" WHERE project_id = ").arg(Arg::Uuid(project)).push(" AND id = ").arg(Arg::Uuid(key));
    q.push(" AND revoked_at IS NULL RETURNING id");
    Ok(!r.write(q).await?.is_empty())
}

/// The project, id and scope of the active key with this hash.
pub(crate) async fn owner<R: Reader>(r: &R, key_hash: &str) -> Result<Option<KeyOwner>, StoreError> {
    let mut q = r.sql();
    let keys = q.table("api_keys");
    q.push(&format!("SELECT project_id, id, scope FROM {keys} WHERE key_hash = ")).arg(Arg::Text(key_hash.to_owned()));
    q.push(" AND revoked_at IS NULL");
    let rows = r.fetch_all(q).await?;
    let Some(row) = rows.first() else { return Ok(None) };
    Ok(Some(KeyOwner {
        project: row.uuid("project_id")?,
        key: row.uuid("id")?,
        scope: KeyScope::parse(&row.text("scope")?).ok_or(StoreError::Corrupt("api_keys.scope"))?,
    }))
}

/// Records that a key was used at `at`.
pub(crate) async fn touch<R: Reader>(r: &R, key: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
    let mut q = r.sql();
    let keys = q.table("api_keys");
    q.push(&format!("UPDATE {keys} SET last_used_at = ")).arg(Arg::Ts(at));
    q.push(" WHERE id = ").arg(Arg::Uuid(key)).push(" RETURNING id");
    r.write(q).await?;
    Ok(())
}
