//! Choosing a backend at run time from a database URL.

use northstar_wire::{Batch, Event, Run, Score, Session, Span};
use uuid::Uuid;

use crate::backend::Backend;
use crate::{
    ApiKey, Change, IngestCounts, KeyOwner, KeyScope, LabelChange, MetricsGroup, MetricsRow, NewPrompt,
    NewPromptVersion, NewScore, NodeView, Overview, Page, PgStore, Project, Prompt, PromptDetail, PromptUse,
    PromptVersion, Role, RunFilter, RunOutline, RunRow, RunView, ScoreQuery, ScoreRow, ScoreSummary, SessionFilter,
    SessionRow, SessionView, SpanFilter, SqliteStore, Store, StoreError, TimeRange, TraceBatch, TraceCounts, User,
    UserChange, VersionFigures, access, keys, prompts, query, records,
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

    /// Changes committed from now on: on Postgres by any server on the database, on SQLite by
    /// this process (see [`Change`]).
    pub async fn changes(&self) -> tokio::sync::broadcast::Receiver<Change> {
        match self {
            Self::Postgres(store) => store.subscribe().await,
            Self::Sqlite(store) => store.subscribe(),
        }
    }

    /// How many ingest requests this store has written merged with others, in one transaction
    /// (group commit, see the `ingest::group` module).
    #[must_use]
    pub fn merged_requests(&self) -> u64 {
        match self {
            Self::Postgres(store) => store.merged_requests(),
            Self::Sqlite(store) => store.merged_requests(),
        }
    }

    async fn announce(&self, change: Change) {
        match self {
            Self::Postgres(store) => store.announce(change).await,
            Self::Sqlite(store) => store.announce(change),
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

#[cfg(test)]
impl AnyStore {
    /// The SQLite store inside, for tests of its group commit.
    pub(crate) fn sqlite(&self) -> &SqliteStore {
        match self {
            Self::Sqlite(store) => store,
            Self::Postgres(_) => panic!("a SQLite store was expected"),
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

/// The store API, written once: each operation is one generic function over the backend
/// (`records`, `access`, `query`, `ingest`), dispatched to the backend the URL chose.
impl Store for AnyStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        dispatch!(self, b => records::migrate(b))
    }
    async fn rebuild_figures(&self) -> Result<(), StoreError> {
        dispatch!(self, b => records::rebuild_figures(b))
    }
    async fn resolve_api_key(&self, key_hash: &str) -> Result<Option<Uuid>, StoreError> {
        dispatch!(self, b => records::resolve_api_key(b, key_hash))
    }
    // Ingest announces its change itself, as it commits.
    async fn ingest(&self, project: Uuid, batch: &Batch) -> Result<IngestCounts, StoreError> {
        dispatch!(self, b => Backend::ingest(b, project, batch))
    }
    async fn ingest_owned(&self, project: Uuid, batch: Batch) -> Result<IngestCounts, StoreError> {
        dispatch!(self, b => Backend::ingest_owned(b, project, batch))
    }
    async fn ingest_traces(&self, project: Uuid, batch: TraceBatch) -> Result<TraceCounts, StoreError> {
        dispatch!(self, b => Backend::ingest_traces(b, project, batch))
    }
    async fn create_project(&self, name: &str, key_hash: &str) -> Result<Project, StoreError> {
        dispatch!(self, b => records::create_project(b, name, key_hash))
    }
    async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        dispatch!(self, b => records::list_projects(b))
    }
    async fn rotate_key(&self, project: Uuid, key_hash: &str) -> Result<(), StoreError> {
        dispatch!(self, b => records::rotate_key(b, project, key_hash))
    }
    async fn revoke_key(&self, project: Uuid) -> Result<bool, StoreError> {
        dispatch!(self, b => records::revoke_key(b, project))
    }
    async fn create_api_key(
        &self,
        project: Uuid,
        name: &str,
        scope: KeyScope,
        key_hash: &str,
    ) -> Result<ApiKey, StoreError> {
        dispatch!(self, b => keys::create(b, project, name, scope, key_hash))
    }
    async fn list_api_keys(&self, project: Uuid) -> Result<Vec<ApiKey>, StoreError> {
        dispatch!(self, b => keys::list(b, project))
    }
    async fn revoke_api_key(&self, project: Uuid, key: Uuid) -> Result<bool, StoreError> {
        dispatch!(self, b => keys::revoke(b, project, key))
    }
    async fn key_owner(&self, key_hash: &str) -> Result<Option<KeyOwner>, StoreError> {
        dispatch!(self, b => keys::owner(b, key_hash))
    }
    async fn touch_api_key(&self, key: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        dispatch!(self, b => keys::touch(b, key, at))
    }
    async fn get_session(&self, project: Uuid, id: Uuid) -> Result<Option<Session>, StoreError> {
        dispatch!(self, b => records::get_session(b, project, id))
    }
    async fn get_run(&self, project: Uuid, id: Uuid) -> Result<Option<Run>, StoreError> {
        dispatch!(self, b => records::get_run(b, project, id))
    }
    async fn get_span(&self, project: Uuid, id: Uuid) -> Result<Option<Span>, StoreError> {
        dispatch!(self, b => records::get_span(b, project, id))
    }
    async fn get_event(&self, project: Uuid, id: Uuid) -> Result<Option<Event>, StoreError> {
        dispatch!(self, b => records::get_event(b, project, id))
    }
    async fn get_score(&self, project: Uuid, id: Uuid) -> Result<Option<Score>, StoreError> {
        dispatch!(self, b => records::get_score(b, project, id))
    }
    async fn list_runs(&self, project: Uuid, session: Uuid) -> Result<Vec<Run>, StoreError> {
        dispatch!(self, b => records::list_runs(b, project, session))
    }
    async fn list_spans(&self, project: Uuid, run: Uuid) -> Result<Vec<Span>, StoreError> {
        dispatch!(self, b => records::list_spans(b, project, run))
    }
    async fn list_events(&self, project: Uuid, run: Uuid) -> Result<Vec<Event>, StoreError> {
        dispatch!(self, b => records::list_events(b, project, run))
    }
    async fn trees_of(&self, project: Uuid, runs: &[Uuid]) -> Result<(Vec<Span>, Vec<Event>), StoreError> {
        dispatch!(self, b => records::trees_of(b, project, runs))
    }
    async fn list_node_events(&self, project: Uuid, run: Uuid, span: Option<Uuid>) -> Result<Vec<Event>, StoreError> {
        dispatch!(self, b => records::list_node_events(b, project, run, span))
    }
    async fn count_records(&self, project: Uuid) -> Result<IngestCounts, StoreError> {
        dispatch!(self, b => records::count_records(b, project))
    }
    async fn overview(&self, project: Uuid, range: TimeRange) -> Result<Overview, StoreError> {
        dispatch!(self, b => query::overview(b, project, &range))
    }
    async fn list_session_rows(&self, project: Uuid, filter: &SessionFilter) -> Result<Page<SessionRow>, StoreError> {
        dispatch!(self, b => query::session_rows(b, project, filter))
    }
    async fn session_row(&self, project: Uuid, id: Uuid) -> Result<Option<SessionRow>, StoreError> {
        dispatch!(self, b => query::session_row(b, project, id))
    }
    async fn list_run_rows(&self, project: Uuid, filter: &RunFilter) -> Result<Page<RunRow>, StoreError> {
        dispatch!(self, b => query::run_rows(b, project, filter))
    }
    async fn find_runs(&self, project: Uuid, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        dispatch!(self, b => query::run_page(b, project, filter))
    }
    async fn find_spans(&self, project: Uuid, filter: &SpanFilter) -> Result<Vec<Span>, StoreError> {
        dispatch!(self, b => query::span_list(b, project, filter))
    }
    async fn find_scores(&self, project: Uuid, filter: &ScoreQuery) -> Result<Vec<Score>, StoreError> {
        dispatch!(self, b => query::score_list(b, project, filter))
    }
    async fn metrics(
        &self,
        project: Uuid,
        range: TimeRange,
        group: MetricsGroup,
    ) -> Result<Vec<MetricsRow>, StoreError> {
        dispatch!(self, b => query::metrics(b, project, range, group))
    }
    async fn delete_run(&self, project: Uuid, id: Uuid) -> Result<bool, StoreError> {
        dispatch!(self, b => records::delete_run(b, project, id))
    }
    async fn delete_session(&self, project: Uuid, id: Uuid) -> Result<Option<u64>, StoreError> {
        dispatch!(self, b => records::delete_session(b, project, id))
    }
    async fn score_names(&self, project: Uuid) -> Result<Vec<String>, StoreError> {
        dispatch!(self, b => query::score_names(b, project))
    }
    async fn run_view(&self, project: Uuid, id: Uuid) -> Result<Option<RunView>, StoreError> {
        dispatch!(self, b => query::run_view(b, project, id))
    }
    async fn run_outline(&self, project: Uuid, id: Uuid) -> Result<Option<RunOutline>, StoreError> {
        dispatch!(self, b => query::run_outline(b, project, id))
    }
    async fn session_view(&self, project: Uuid, id: Uuid) -> Result<Option<SessionView>, StoreError> {
        dispatch!(self, b => query::session_view(b, project, id))
    }
    async fn run_text_search(&self, project: Uuid, run: Uuid, text: &str, limit: u32) -> Result<Vec<Uuid>, StoreError> {
        dispatch!(self, b => query::run_text_search(b, project, run, text, limit))
    }
    async fn node_view(&self, project: Uuid, run: Uuid, span: Option<Uuid>) -> Result<Option<NodeView>, StoreError> {
        dispatch!(self, b => query::node_view(b, project, run, span))
    }
    async fn run_row(&self, project: Uuid, id: Uuid) -> Result<Option<RunRow>, StoreError> {
        dispatch!(self, b => query::run_row(b, project, id))
    }
    async fn list_scores(&self, project: Uuid, run: Uuid) -> Result<Vec<Score>, StoreError> {
        dispatch!(self, b => query::list_scores(b, project, run))
    }
    async fn score_rows(&self, project: Uuid, run: Uuid) -> Result<Vec<ScoreRow>, StoreError> {
        dispatch!(self, b => query::score_rows(b, project, run))
    }
    async fn add_score(&self, project: Uuid, score: &NewScore) -> Result<Score, StoreError> {
        let added = dispatch!(self, b => query::add_score(b, project, score))?;
        self.announce(Change::of_run(project, score.run)).await;
        Ok(added)
    }
    async fn score_summaries(&self, project: Uuid, range: TimeRange) -> Result<Vec<ScoreSummary>, StoreError> {
        dispatch!(self, b => query::score_summaries(b, project, &range))
    }
    async fn list_prompts(&self, project: Uuid) -> Result<Vec<Prompt>, StoreError> {
        dispatch!(self, b => prompts::list(b, project))
    }
    async fn prompt_detail(&self, project: Uuid, id: Uuid) -> Result<Option<PromptDetail>, StoreError> {
        dispatch!(self, b => prompts::detail(b, project, id))
    }
    async fn create_prompt(&self, project: Uuid, new: &NewPrompt) -> Result<Prompt, StoreError> {
        dispatch!(self, b => prompts::create(b, project, new))
    }
    async fn add_prompt_version(
        &self,
        project: Uuid,
        prompt: Uuid,
        new: &NewPromptVersion,
    ) -> Result<PromptVersion, StoreError> {
        dispatch!(self, b => prompts::add_version(b, project, prompt, new))
    }
    async fn set_prompt_label(&self, project: Uuid, prompt: Uuid, change: &LabelChange) -> Result<Prompt, StoreError> {
        dispatch!(self, b => prompts::set_label(b, project, prompt, change))
    }
    async fn resolve_prompt(
        &self,
        project: Uuid,
        slug: &str,
        label: &str,
        version: Option<i64>,
    ) -> Result<Option<(Prompt, PromptVersion)>, StoreError> {
        dispatch!(self, b => prompts::resolve(b, project, slug, label, version))
    }
    async fn prompt_uses(&self, project: Uuid, run: Uuid) -> Result<Vec<PromptUse>, StoreError> {
        dispatch!(self, b => prompts::uses_of_run(b, project, run))
    }
    async fn prompt_version_figures(&self, project: Uuid, prompt: Uuid) -> Result<Vec<VersionFigures>, StoreError> {
        dispatch!(self, b => prompts::version_figures(b, project, prompt))
    }
    async fn create_user(&self, email: &str, password_hash: &str, is_admin: bool) -> Result<User, StoreError> {
        dispatch!(self, b => access::create_user(b, email, password_hash, is_admin))
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>, StoreError> {
        dispatch!(self, b => access::user_by_email(b, email))
    }
    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        dispatch!(self, b => access::user_by_id(b, id))
    }
    async fn count_users(&self) -> Result<i64, StoreError> {
        dispatch!(self, b => access::count_users(b))
    }
    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        dispatch!(self, b => access::list_users(b))
    }
    async fn update_user(&self, email: &str, change: &UserChange) -> Result<User, StoreError> {
        dispatch!(self, b => access::update_user(b, email, change))
    }
    async fn set_member(&self, project: Uuid, user: Uuid, role: Role) -> Result<(), StoreError> {
        dispatch!(self, b => access::set_member(b, project, user, role))
    }
    async fn projects_of(&self, user: &User) -> Result<Vec<(Project, Role)>, StoreError> {
        dispatch!(self, b => access::projects_of(b, user))
    }
    async fn project_for(&self, user: &User, project: Uuid) -> Result<Option<(Project, Role)>, StoreError> {
        dispatch!(self, b => access::project_for(b, user, project))
    }
    async fn set_retention(&self, project: Uuid, days: Option<u32>) -> Result<(), StoreError> {
        dispatch!(self, b => access::set_retention(b, project, days))
    }
    async fn delete_runs_before(&self, project: Uuid, cutoff: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        dispatch!(self, b => records::delete_runs_before(b, project, cutoff, limit))
    }
    async fn ready(&self) -> Result<bool, StoreError> {
        dispatch!(self, b => records::ready(b))
    }
    fn pool_usage(&self) -> (u32, u32) {
        match self {
            AnyStore::Postgres(b) => b.pool_usage(),
            AnyStore::Sqlite(b) => b.pool_usage(),
        }
    }
}
