//! Choosing a backend at run time from a database URL.

use northstar_wire::{Batch, Event, Run, Score, Session, Span};
use uuid::Uuid;

use crate::{
    IngestCounts, NewScore, Overview, Page, PgStore, Project, Role, RunFilter, RunRow, ScoreSummary, SessionFilter,
    SessionRow, SqliteStore, Store, StoreError, TimeRange, User, UserChange,
};
use chrono::{DateTime, Utc};

/// Either store, chosen by URL scheme: `postgres://` / `postgresql://` or `sqlite://`.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

impl AnyStore {
    /// Connects to the store named by `url`.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedUrl`] for another scheme; connection errors otherwise.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(PgStore::connect(url).await?))
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(SqliteStore::connect(url).await?))
        } else {
            // Never echo credentials: keep only the scheme.
            let scheme = url.split_once(':').map_or("", |(s, _)| s);
            Err(StoreError::UnsupportedUrl(format!("{scheme}:…")))
        }
    }

    /// `"postgres"` or `"sqlite"`, for logs.
    #[must_use]
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Postgres($store) => $call.await,
            AnyStore::Sqlite($store) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.migrate())
    }
    async fn rebuild_figures(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.rebuild_figures())
    }
    async fn resolve_api_key(&self, key_hash: &str) -> Result<Option<Uuid>, StoreError> {
        dispatch!(self, s => s.resolve_api_key(key_hash))
    }
    async fn ingest(&self, project: Uuid, batch: &Batch) -> Result<IngestCounts, StoreError> {
        dispatch!(self, s => s.ingest(project, batch))
    }
    async fn ingest_owned(&self, project: Uuid, batch: Batch) -> Result<IngestCounts, StoreError> {
        dispatch!(self, s => s.ingest_owned(project, batch))
    }
    async fn ingest_traces(&self, project: Uuid, batch: crate::TraceBatch) -> Result<crate::TraceCounts, StoreError> {
        dispatch!(self, s => s.ingest_traces(project, batch))
    }
    async fn create_project(&self, name: &str, key_hash: &str) -> Result<Project, StoreError> {
        dispatch!(self, s => s.create_project(name, key_hash))
    }
    async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        dispatch!(self, s => s.list_projects())
    }
    async fn rotate_key(&self, project: Uuid, key_hash: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.rotate_key(project, key_hash))
    }
    async fn revoke_key(&self, project: Uuid) -> Result<bool, StoreError> {
        dispatch!(self, s => s.revoke_key(project))
    }
    async fn get_session(&self, project: Uuid, id: Uuid) -> Result<Option<Session>, StoreError> {
        dispatch!(self, s => s.get_session(project, id))
    }
    async fn get_run(&self, project: Uuid, id: Uuid) -> Result<Option<Run>, StoreError> {
        dispatch!(self, s => s.get_run(project, id))
    }
    async fn get_span(&self, project: Uuid, id: Uuid) -> Result<Option<Span>, StoreError> {
        dispatch!(self, s => s.get_span(project, id))
    }
    async fn get_event(&self, project: Uuid, id: Uuid) -> Result<Option<Event>, StoreError> {
        dispatch!(self, s => s.get_event(project, id))
    }
    async fn get_score(&self, project: Uuid, id: Uuid) -> Result<Option<Score>, StoreError> {
        dispatch!(self, s => s.get_score(project, id))
    }
    async fn list_runs(&self, project: Uuid, session: Uuid) -> Result<Vec<Run>, StoreError> {
        dispatch!(self, s => s.list_runs(project, session))
    }
    async fn list_spans(&self, project: Uuid, run: Uuid) -> Result<Vec<Span>, StoreError> {
        dispatch!(self, s => s.list_spans(project, run))
    }
    async fn list_events(&self, project: Uuid, run: Uuid) -> Result<Vec<Event>, StoreError> {
        dispatch!(self, s => s.list_events(project, run))
    }
    async fn count_records(&self, project: Uuid) -> Result<IngestCounts, StoreError> {
        dispatch!(self, s => s.count_records(project))
    }
    async fn overview(&self, project: Uuid, range: TimeRange) -> Result<Overview, StoreError> {
        dispatch!(self, s => s.overview(project, range))
    }
    async fn list_session_rows(&self, project: Uuid, filter: &SessionFilter) -> Result<Page<SessionRow>, StoreError> {
        dispatch!(self, s => s.list_session_rows(project, filter))
    }
    async fn session_row(&self, project: Uuid, id: Uuid) -> Result<Option<SessionRow>, StoreError> {
        dispatch!(self, s => s.session_row(project, id))
    }
    async fn list_run_rows(&self, project: Uuid, filter: &RunFilter) -> Result<Page<RunRow>, StoreError> {
        dispatch!(self, s => s.list_run_rows(project, filter))
    }
    async fn run_row(&self, project: Uuid, id: Uuid) -> Result<Option<RunRow>, StoreError> {
        dispatch!(self, s => s.run_row(project, id))
    }
    async fn list_scores(&self, project: Uuid, run: Uuid) -> Result<Vec<Score>, StoreError> {
        dispatch!(self, s => s.list_scores(project, run))
    }
    async fn add_score(&self, project: Uuid, score: &NewScore) -> Result<Score, StoreError> {
        dispatch!(self, s => s.add_score(project, score))
    }
    async fn score_summaries(&self, project: Uuid, range: TimeRange) -> Result<Vec<ScoreSummary>, StoreError> {
        dispatch!(self, s => s.score_summaries(project, range))
    }
    async fn create_user(&self, email: &str, password_hash: &str, is_admin: bool) -> Result<User, StoreError> {
        dispatch!(self, s => s.create_user(email, password_hash, is_admin))
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>, StoreError> {
        dispatch!(self, s => s.user_by_email(email))
    }
    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        dispatch!(self, s => s.user_by_id(id))
    }
    async fn update_user(&self, email: &str, change: &UserChange) -> Result<User, StoreError> {
        dispatch!(self, s => s.update_user(email, change))
    }
    async fn count_users(&self) -> Result<i64, StoreError> {
        dispatch!(self, s => s.count_users())
    }
    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        dispatch!(self, s => s.list_users())
    }
    async fn set_member(&self, project: Uuid, user: Uuid, role: Role) -> Result<(), StoreError> {
        dispatch!(self, s => s.set_member(project, user, role))
    }
    async fn projects_of(&self, user: &User) -> Result<Vec<(Project, Role)>, StoreError> {
        dispatch!(self, s => s.projects_of(user))
    }
    async fn project_for(&self, user: &User, project: Uuid) -> Result<Option<(Project, Role)>, StoreError> {
        dispatch!(self, s => s.project_for(user, project))
    }
    async fn set_retention(&self, project: Uuid, days: Option<u32>) -> Result<(), StoreError> {
        dispatch!(self, s => s.set_retention(project, days))
    }
    async fn delete_runs_before(&self, project: Uuid, cutoff: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        dispatch!(self, s => s.delete_runs_before(project, cutoff, limit))
    }
    async fn ready(&self) -> Result<bool, StoreError> {
        dispatch!(self, s => s.ready())
    }
    fn pool_usage(&self) -> (u32, u32) {
        match self {
            AnyStore::Postgres(s) => s.pool_usage(),
            AnyStore::Sqlite(s) => s.pool_usage(),
        }
    }
}
