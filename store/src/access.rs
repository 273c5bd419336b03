//! Dashboard users, which projects they belong to, and per-project retention. One SQL text for
//! both backends (see `query::sql`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::query::sql::{Arg, Dialect, Reader, Sql, WriteTx};
use crate::rows::{self, Columns};
use crate::{Project, StoreError};

/// A person who can log in to the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    /// Lower-case, trimmed.
    pub email: String,
    /// A server admin sees and manages every project.
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    /// Login tokens carry this number; ending a user's logins moves it on.
    pub session_epoch: i64,
    /// A disabled user cannot log in, and their logins have ended.
    pub disabled: bool,
}

/// A change to a user, each of which also ends every login they have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    /// Only end the logins (logging out).
    EndSessions,
    /// A new argon2id PHC string.
    Password(String),
    /// Disabled (`true`) or enabled again.
    Disabled(bool),
}

/// What a user may do in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Sees the project's data and adds scores.
    Member,
    /// Also manages its API key and retention.
    Admin,
}

impl Role {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }

    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// The form an email is stored and looked up in.
#[must_use]
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn user(row: &impl Columns) -> Result<User, StoreError> {
    Ok(User {
        id: row.uuid("id")?,
        email: row.text("email")?,
        is_admin: row.i64("is_admin")? != 0,
        created_at: row.ts("created_at")?,
        session_epoch: row.i64("session_epoch")?,
        disabled: row.i64("disabled")? != 0,
    })
}

const USER_COLUMNS: &str = "u.id, u.email, CAST(CASE WHEN u.is_admin THEN 1 ELSE 0 END AS BIGINT) AS is_admin, \
     u.created_at, CAST(u.session_epoch AS BIGINT) AS session_epoch, \
     CAST(CASE WHEN u.disabled_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS disabled";

pub(crate) async fn create_user<R: Reader>(
    r: &R,
    email: &str,
    password_hash: &str,
    is_admin: bool,
) -> Result<User, StoreError> {
    let email = normalize_email(email);
    if email.is_empty() || !email.contains('@') {
        return Err(StoreError::Invalid("an email address is required".into()));
    }
    let mut q = r.sql();
    let users = q.table("users");
    let (id, now) = (Uuid::new_v4(), Utc::now());
    q.push(&format!("INSERT INTO {users} (id, email, password_hash, is_admin, created_at) VALUES ("));
    q.arg(Arg::Uuid(id)).push(", ").arg(Arg::Text(email.clone())).push(", ").arg(Arg::Text(password_hash.to_owned()));
    q.push(if is_admin { ", TRUE, " } else { ", FALSE, " })
        .arg(Arg::Ts(now))
        .push(") ON CONFLICT (email) DO NOTHING RETURNING id");
    if r.write(q).await?.is_empty() {
        return Err(StoreError::Invalid(format!("a user with email {email} already exists")));
    }
    Ok(User { id, email, is_admin, created_at: now, session_epoch: 0, disabled: false })
}

/// Applies `change` to the user with this email and ends their logins; the user as now stored.
pub(crate) async fn update_user<R: Reader>(r: &R, email: &str, change: &UserChange) -> Result<User, StoreError> {
    let mut q = r.sql();
    let users = q.table("users");
    q.push(&format!("UPDATE {users} SET session_epoch = session_epoch + 1"));
    match change {
        UserChange::EndSessions => {}
        UserChange::Password(hash) => {
            q.push(", password_hash = ").arg(Arg::Text(hash.clone()));
        }
        UserChange::Disabled(true) => {
            q.push(", disabled_at = COALESCE(disabled_at, ").arg(Arg::Ts(Utc::now())).push(")");
        }
        UserChange::Disabled(false) => {
            q.push(", disabled_at = NULL");
        }
    }
    q.push(" WHERE email = ").arg(Arg::Text(normalize_email(email))).push(" RETURNING id");
    let Some(row) = r.write(q).await?.into_iter().next() else {
        return Err(StoreError::NotFound("no user with that email"));
    };
    let id = row.uuid("id")?;
    user_by_id(r, id).await?.ok_or(StoreError::NotFound("no user with that email"))
}

/// The user with this email and their password hash.
pub(crate) async fn user_by_email<R: Reader>(r: &R, email: &str) -> Result<Option<(User, String)>, StoreError> {
    let mut q = r.sql();
    let users = q.table("users");
    q.push(&format!("SELECT {USER_COLUMNS}, u.password_hash FROM {users} u WHERE u.email = "));
    q.arg(Arg::Text(normalize_email(email)));
    match r.fetch_all(q).await?.first() {
        Some(row) => Ok(Some((user(row)?, row.text("password_hash")?))),
        None => Ok(None),
    }
}

pub(crate) async fn user_by_id<R: Reader>(r: &R, id: Uuid) -> Result<Option<User>, StoreError> {
    let mut q = r.sql();
    let users = q.table("users");
    q.push(&format!("SELECT {USER_COLUMNS} FROM {users} u WHERE u.id = ")).arg(Arg::Uuid(id));
    r.fetch_all(q).await?.first().map(user).transpose()
}

/// Every user, by email.
pub(crate) async fn list_users<R: Reader>(r: &R) -> Result<Vec<User>, StoreError> {
    let mut q = r.sql();
    let users = q.table("users");
    q.push(&format!("SELECT {USER_COLUMNS} FROM {users} u ORDER BY u.email"));
    r.fetch_all(q).await?.iter().map(user).collect()
}

pub(crate) async fn count_users<R: Reader>(r: &R) -> Result<i64, StoreError> {
    let mut q = r.sql();
    let users = q.table("users");
    q.push(&format!("SELECT COUNT(*) AS n FROM {users} u"));
    r.fetch_all(q).await?.first().map_or(Ok(0), |row| row.i64("n"))
}

/// Makes `user` a member of `project` with `role` (replacing an earlier role).
pub(crate) async fn set_member<R: Reader>(r: &R, project: Uuid, user: Uuid, role: Role) -> Result<(), StoreError> {
    let mut q = r.sql();
    let (members, projects, users) = (q.table("project_members"), q.table("projects"), q.table("users"));
    q.push(&format!("INSERT INTO {members} (project_id, user_id, role, created_at) SELECT p.id, u.id, "));
    q.arg(Arg::Text(role.as_str().to_owned())).push(", ").arg(Arg::Ts(Utc::now()));
    q.push(&format!(" FROM {projects} p, {users} u WHERE p.id = ")).arg(Arg::Uuid(project));
    q.push(" AND u.id = ").arg(Arg::Uuid(user));
    q.push(" ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role RETURNING user_id");
    if r.write(q).await?.is_empty() {
        return Err(StoreError::NotFound("no such project or user"));
    }
    Ok(())
}

/// The SELECT of projects with their key columns, and the user's role as `role`.
fn project_select(q: &mut Sql, user: &User) {
    let (projects, keys, members) = (q.table("projects"), q.table("api_keys"), q.table("project_members"));
    let columns = "p.id, p.name, p.created_at, k.created_at AS key_created_at, k.revoked_at, p.retention_days";
    if user.is_admin {
        q.push(&format!(
            "SELECT {columns}, 'admin' AS role FROM {projects} p LEFT JOIN {keys} k ON k.project_id = p.id AND k.is_project_key = TRUE WHERE 1 = 1"
        ));
    } else {
        q.push(&format!(
            "SELECT {columns}, m.role AS role FROM {projects} p LEFT JOIN {keys} k ON k.project_id = p.id AND k.is_project_key = TRUE
             JOIN {members} m ON m.project_id = p.id AND m.user_id = "
        ));
        q.arg(Arg::Uuid(user.id));
        q.push(" WHERE 1 = 1");
    }
}

/// The projects `user` can open (all of them for a server admin), oldest first.
pub(crate) async fn projects_of<R: Reader>(r: &R, user: &User) -> Result<Vec<(Project, Role)>, StoreError> {
    let mut q = r.sql();
    project_select(&mut q, user);
    q.push(" ORDER BY p.created_at, p.id");
    r.fetch_all(q).await?.iter().map(|row| Ok((rows::project(row)?, row.parsed("role", Role::parse)?))).collect()
}

/// `user`'s role in `project`, or `None` when they may not see it (or it does not exist).
pub(crate) async fn project_for<R: Reader>(
    r: &R,
    user: &User,
    project: Uuid,
) -> Result<Option<(Project, Role)>, StoreError> {
    let mut q = r.sql();
    project_select(&mut q, user);
    q.push(" AND p.id = ").arg(Arg::Uuid(project));
    match r.fetch_all(q).await?.first() {
        Some(row) => Ok(Some((rows::project(row)?, row.parsed("role", Role::parse)?))),
        None => Ok(None),
    }
}

pub(crate) async fn set_retention<R: Reader>(r: &R, project: Uuid, days: Option<u32>) -> Result<(), StoreError> {
    let mut q = r.sql();
    let projects = q.table("projects");
    q.push(&format!("UPDATE {projects} SET retention_days = "));
    match days {
        Some(0) => return Err(StoreError::Invalid("retention must be at least one day".into())),
        Some(d) => q.arg(Arg::F64(f64::from(d))),
        None => q.push("NULL"),
    };
    q.push(" WHERE id = ").arg(Arg::Uuid(project)).push(" RETURNING id");
    if r.write(q).await?.is_empty() {
        return Err(StoreError::ProjectNotFound(project));
    }
    Ok(())
}

/// Which runs a deletion takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RunsToDelete {
    /// Retention: up to `limit` runs started before `cutoff`, oldest first, then the sessions
    /// created before it that have no run left.
    Before { cutoff: DateTime<Utc>, limit: u32 },
    /// One run (a data-subject request).
    Run(Uuid),
    /// A session with all its runs.
    Session(Uuid),
}

/// Deletes runs (with their spans, events and scores, by cascade) and keeps the figures of
/// the sessions that keep other runs right. Returns the number of runs deleted.
pub(crate) async fn delete_runs<T: WriteTx>(tx: &mut T, which: RunsToDelete) -> Result<u64, StoreError> {
    let project = tx.project();
    let mut q = Sql::new(T::DIALECT);
    let runs = q.table("runs");
    let p1 = q.p1();
    q.push(&format!("DELETE FROM {runs} WHERE id IN (SELECT id FROM {runs} WHERE project_id = "));
    q.arg(Arg::Uuid(project));
    match which {
        RunsToDelete::Before { cutoff, limit } => {
            q.push(" AND started_at < ").arg(Arg::Ts(cutoff));
            q.push(&format!(" ORDER BY started_at LIMIT {limit}"));
        }
        RunsToDelete::Run(id) => {
            q.push(" AND id = ").arg(Arg::Uuid(id));
        }
        RunsToDelete::Session(id) => {
            q.push(" AND session_id = ").arg(Arg::Uuid(id));
        }
    }
    q.push(&format!(") AND project_id = {p1} RETURNING session_id"));
    let gone = tx.fetch_all(q).await?;
    let deleted = gone.len() as u64;
    // The sessions that keep other runs: their figures no longer count the deleted ones. Their
    // rows are locked first, by a statement of its own, so the recomputation's snapshot holds
    // every batch that committed to them meanwhile (one still in flight adds its change after).
    let mut sessions = gone.iter().map(|row| row.uuid("session_id")).collect::<Result<Vec<_>, _>>()?;
    sessions.sort_unstable();
    sessions.dedup();
    if let RunsToDelete::Session(id) = which {
        sessions.retain(|s| *s != id);
    }
    if !sessions.is_empty() {
        if T::DIALECT == Dialect::Postgres {
            let mut q = Sql::new(T::DIALECT);
            let table = q.table("sessions");
            q.push(&format!("SELECT id FROM {table} WHERE ")).project_is("project_id", project).push(" AND ");
            q.in_ids("id", sessions.clone()).push(" ORDER BY id FOR NO KEY UPDATE");
            tx.fetch_all(q).await?;
        }
        let mut q = Sql::new(T::DIALECT);
        crate::ingest::figures::refresh_sessions(&mut q, project, Some(sessions));
        tx.fetch_all(q).await?;
    }
    let empty_sessions = match which {
        RunsToDelete::Before { cutoff, limit } if deleted < u64::from(limit) => Some(cutoff),
        _ => None,
    };
    if let Some(cutoff) = empty_sessions {
        let mut q = Sql::new(T::DIALECT);
        let sessions = q.table("sessions");
        let p1 = q.p1();
        q.push(&format!("DELETE FROM {sessions} WHERE project_id = ")).arg(Arg::Uuid(project));
        q.push(" AND created_at < ").arg(Arg::Ts(cutoff));
        q.push(&format!(" AND NOT EXISTS (SELECT 1 FROM {runs} r WHERE r.session_id = {sessions}.id AND r.project_id = {p1}) RETURNING id"));
        tx.fetch_all(q).await?;
    }
    Ok(deleted)
}

/// Deletes one session of the project (its runs first, see [`delete_runs`]); `None` when it is
/// not the project's, else the number of runs deleted with it.
pub(crate) async fn delete_session<T: WriteTx>(tx: &mut T, id: Uuid) -> Result<Option<u64>, StoreError> {
    let runs = delete_runs(tx, RunsToDelete::Session(id)).await?;
    let mut q = Sql::new(T::DIALECT);
    let sessions = q.table("sessions");
    q.push(&format!("DELETE FROM {sessions} WHERE project_id = ")).arg(Arg::Uuid(tx.project()));
    q.push(" AND id = ").arg(Arg::Uuid(id)).push(" RETURNING id");
    Ok((!tx.fetch_all(q).await?.is_empty()).then_some(runs))
}
