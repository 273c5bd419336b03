//! Every SQL statement of NorthStar lives here, behind one [`Store`] trait implemented once, by
//! [`AnyStore`], over two backends: Postgres ([`PgStore`], the original's schema in schema
//! `private`) and an embedded SQLite ([`SqliteStore`], the same tables for a laptop), picked
//! from a URL. Each operation is written once, over the SQL builder (`query::sql`: one text for
//! both dialects); a backend supplies only what differs (`backend::Backend`: connections,
//! transactions, migrations, how ingest is queued) and its upserts (`ingest::IngestTx`).
//!
//! Writes are set-based: a batch is one transaction with one upsert statement per table (plus a
//! few id-set lookups for the reference checks), never a round trip per record.
//!
//! ```no_run
//! # async fn demo() -> Result<(), northstar_store::StoreError> {
//! use northstar_store::{AnyStore, Store};
//!
//! let store = AnyStore::connect("sqlite://northstar-data/northstar.db").await?;
//! store.migrate().await?;
//! let project = store.create_project("default", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08").await?;
//! assert_eq!(store.resolve_api_key("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08").await?, Some(project.id));
//! # Ok(()) }
//! ```

mod access;
mod any;
mod backend;
mod changes;
mod error;
mod ingest;
mod keys;
mod migrations;
mod postgres;
mod prompts;
mod query;
mod records;
mod rows;
mod sqlite;

use std::future::Future;

use chrono::{DateTime, Utc};
use northstar_wire::{Batch, Event, Run, Score, Session, Span};
use uuid::Uuid;

pub use access::{Role, User, UserChange, normalize_email};
pub use any::AnyStore;
pub use changes::Change;
pub use error::StoreError;
pub use ingest::traces::{PromptRef, RootRun, Trace, TraceBatch, TraceCounts};
pub use keys::{ApiKey, KeyOwner, KeyScope};
pub use postgres::PgStore;
pub use prompts::{
    LATEST, LabelChange, LabelMove, NewPrompt, NewPromptVersion, Prompt, PromptDetail, PromptUse, PromptVersion,
    VersionFigures, check_label,
};
pub use query::{
    Bounds, COUNT_CAP, DayTotals, JsonMatch, MetricsGroup, MetricsRow, ModelTotals, NewScore, NodeView, Overview, Page,
    RunFilter, RunOutline, RunRow, RunSort, RunView, SESSION_VIEW_RUNS, ScoreFilter, ScoreQuery, ScoreRow,
    ScoreSummary, SessionFilter, SessionRow, SessionSort, SessionStatus, SessionView, SpanFilter, SpanOutline,
    TimeRange, Turn,
};
pub use sqlite::SqliteStore;

/// A project as the admin CLI lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// When the current key was minted; `None` if the project never had one.
    pub key_created_at: Option<DateTime<Utc>>,
    /// When the current key was revoked, if it was.
    pub key_revoked_at: Option<DateTime<Utc>>,
    /// Runs older than this many days are deleted by the retention task; `None` keeps all.
    pub retention_days: Option<i32>,
}

impl Project {
    /// The state of its API key as people read it: `active since …`, `revoked …` or `none`.
    #[must_use]
    pub fn key_state(&self) -> String {
        let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        match (self.key_created_at, self.key_revoked_at) {
            (_, Some(revoked)) => format!("revoked {}", at(revoked)),
            (Some(created), None) => format!("active since {}", at(created)),
            (None, None) => "none".into(),
        }
    }
}

/// How many records of each kind one ingest wrote (after folding repeated ids).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounts {
    pub sessions: usize,
    pub runs: usize,
    pub spans: usize,
    pub events: usize,
    pub scores: usize,
}

impl IngestCounts {
    fn of(batch: &Batch) -> Self {
        Self {
            sessions: batch.sessions.len(),
            runs: batch.runs.len(),
            spans: batch.spans.len(),
            events: batch.events.len(),
            scores: batch.scores.len(),
        }
    }
}

/// The storage interface of NorthStar. Every read and write is scoped to one project.
pub trait Store: Send + Sync {
    /// Applies pending migrations, then any rebuild a migration asked for.
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Recomputes every project's run and session figures from the stored spans and runs, in
    /// one transaction. Ingest keeps them current; this is for a migration that adds figures
    /// and for rows written around the server (imports, hand edits, the benchmarks' seeding).
    fn rebuild_figures(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The project of the active (not revoked) ingest key with this SHA-256 hex hash.
    fn resolve_api_key(&self, key_hash: &str) -> impl Future<Output = Result<Option<Uuid>, StoreError>> + Send;

    /// Writes a validated batch for `project` in one transaction, all or nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidReference`] when a record points at something that is neither in
    /// the batch nor stored in this project, or reuses an id that another project owns;
    /// [`StoreError::Database`] for anything else.
    fn ingest(&self, project: Uuid, batch: &Batch) -> impl Future<Output = Result<IngestCounts, StoreError>> + Send;

    /// [`Store::ingest`] of a batch the caller no longer needs: a store that queues batches
    /// (SQLite's group commit) takes it instead of copying it.
    fn ingest_owned(
        &self,
        project: Uuid,
        batch: Batch,
    ) -> impl Future<Output = Result<IngestCounts, StoreError>> + Send {
        async move { self.ingest(project, &batch).await }
    }

    /// Writes spans of a tracing protocol (OTLP) for `project` in one transaction, whatever
    /// order they arrive in (see the `traces` module): a parent not stored yet is waited for,
    /// a run is created before its root span arrives. Traces whose id is a run of another
    /// project are refused and counted, the rest stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidData`] for a value the database refuses; [`StoreError::Database`]
    /// or [`StoreError::Unavailable`] for anything else. Nothing is stored then.
    fn ingest_traces(
        &self,
        project: Uuid,
        batch: TraceBatch,
    ) -> impl Future<Output = Result<TraceCounts, StoreError>> + Send;

    /// Creates a project with its first key.
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for a blank name or a key hash already in use.
    fn create_project(&self, name: &str, key_hash: &str) -> impl Future<Output = Result<Project, StoreError>> + Send;

    /// All projects, oldest first.
    fn list_projects(&self) -> impl Future<Output = Result<Vec<Project>, StoreError>> + Send;

    /// Replaces the project's key; the old one stops working at once.
    ///
    /// # Errors
    ///
    /// [`StoreError::ProjectNotFound`]; [`StoreError::Invalid`] for a key hash already in use.
    fn rotate_key(&self, project: Uuid, key_hash: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Revokes the project's key. Returns false if it was already revoked.
    ///
    /// # Errors
    ///
    /// [`StoreError::ProjectNotFound`] when the project has no key row.
    fn revoke_key(&self, project: Uuid) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Creates a named key of the project with this scope (its SHA-256 hex hash).
    ///
    /// # Errors
    ///
    /// [`StoreError::ProjectNotFound`]; [`StoreError::Invalid`] for a blank name or a key hash
    /// already in use.
    fn create_api_key(
        &self,
        project: Uuid,
        name: &str,
        scope: KeyScope,
        key_hash: &str,
    ) -> impl Future<Output = Result<ApiKey, StoreError>> + Send;
    /// The project's keys: its project key first, then its named keys, oldest first (revoked
    /// ones too).
    fn list_api_keys(&self, project: Uuid) -> impl Future<Output = Result<Vec<ApiKey>, StoreError>> + Send;
    /// Revokes one key of the project; false if it was already revoked.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when the key is not the project's.
    fn revoke_api_key(&self, project: Uuid, key: Uuid) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Whose the active key with this hash is, and its scope.
    fn key_owner(&self, key_hash: &str) -> impl Future<Output = Result<Option<KeyOwner>, StoreError>> + Send;
    /// Records when a key was last used.
    fn touch_api_key(&self, key: Uuid, at: DateTime<Utc>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One session of the project.
    fn get_session(&self, project: Uuid, id: Uuid) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;
    /// One run of the project.
    fn get_run(&self, project: Uuid, id: Uuid) -> impl Future<Output = Result<Option<Run>, StoreError>> + Send;
    /// One span of the project.
    fn get_span(&self, project: Uuid, id: Uuid) -> impl Future<Output = Result<Option<Span>, StoreError>> + Send;
    /// One event of the project.
    fn get_event(&self, project: Uuid, id: Uuid) -> impl Future<Output = Result<Option<Event>, StoreError>> + Send;
    /// One score of the project.
    fn get_score(&self, project: Uuid, id: Uuid) -> impl Future<Output = Result<Option<Score>, StoreError>> + Send;
    /// The runs of a session, oldest first.
    fn list_runs(&self, project: Uuid, session: Uuid) -> impl Future<Output = Result<Vec<Run>, StoreError>> + Send;
    /// The spans of a run, by start time.
    fn list_spans(&self, project: Uuid, run: Uuid) -> impl Future<Output = Result<Vec<Span>, StoreError>> + Send;
    /// The events of a run, by creation time.
    fn list_events(&self, project: Uuid, run: Uuid) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// The spans and events of several runs in two reads (the export's pages): spans by run,
    /// then start; events by run, then creation.
    fn trees_of(
        &self,
        project: Uuid,
        runs: &[Uuid],
    ) -> impl Future<Output = Result<(Vec<Span>, Vec<Event>), StoreError>> + Send;
    /// The events of one node of a run, by creation time: a span's (`span` = its id), or the
    /// run's own, on no span (`None`). What a click on one node of the run page reads.
    fn list_node_events(
        &self,
        project: Uuid,
        run: Uuid,
        span: Option<Uuid>,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// Record counts of the project, for checks that nothing was duplicated or half-stored.
    fn count_records(&self, project: Uuid) -> impl Future<Output = Result<IngestCounts, StoreError>> + Send;

    // The dashboard's read models (`query/`); figures follow the cost rule documented there.

    /// Totals, per-day series, cost by model and latency percentiles for a time range.
    fn overview(&self, project: Uuid, range: TimeRange) -> impl Future<Output = Result<Overview, StoreError>> + Send;
    /// One page of the sessions list.
    fn list_session_rows(
        &self,
        project: Uuid,
        filter: &SessionFilter,
    ) -> impl Future<Output = Result<Page<SessionRow>, StoreError>> + Send;
    /// One session with its figures.
    fn session_row(
        &self,
        project: Uuid,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<SessionRow>, StoreError>> + Send;
    /// One page of runs with their figures.
    fn list_run_rows(
        &self,
        project: Uuid,
        filter: &RunFilter,
    ) -> impl Future<Output = Result<Page<RunRow>, StoreError>> + Send;
    /// One page of runs with their figures and scores, uncounted (the public API pages by
    /// cursor: [`RunFilter::after`]).
    fn find_runs(
        &self,
        project: Uuid,
        filter: &RunFilter,
    ) -> impl Future<Output = Result<Vec<RunRow>, StoreError>> + Send;
    /// Spans across runs, oldest first (the public API).
    fn find_spans(
        &self,
        project: Uuid,
        filter: &SpanFilter,
    ) -> impl Future<Output = Result<Vec<Span>, StoreError>> + Send;
    /// Scores across runs, newest first (the public API).
    fn find_scores(
        &self,
        project: Uuid,
        filter: &ScoreQuery,
    ) -> impl Future<Output = Result<Vec<Score>, StoreError>> + Send;
    /// Runs (or model calls), errors, cost, tokens and latency percentiles per day, run name or
    /// model over a time range.
    fn metrics(
        &self,
        project: Uuid,
        range: TimeRange,
        group: MetricsGroup,
    ) -> impl Future<Output = Result<Vec<MetricsRow>, StoreError>> + Send;
    /// Deletes a run of the project with its spans, events and scores, keeping its session's
    /// figures right; false when it is not the project's.
    fn delete_run(&self, project: Uuid, id: Uuid) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes a session of the project with all its runs; `None` when it is not the
    /// project's, else how many runs went with it.
    fn delete_session(&self, project: Uuid, id: Uuid) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;
    /// The names of the project's scores, in order (at most 500): the runs list's score filter.
    fn score_names(&self, project: Uuid) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    /// The run page: the run with its figures, spans and events; `None` if not the project's.
    fn run_view(&self, project: Uuid, id: Uuid) -> impl Future<Output = Result<Option<RunView>, StoreError>> + Send;
    /// The run page's tree: the run, its spans as rows show them, its events; `None` if not
    /// the project's.
    fn run_outline(
        &self,
        project: Uuid,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<RunOutline>, StoreError>> + Send;
    /// The session page: the session with its figures and metadata, and its first
    /// [`SESSION_VIEW_RUNS`] runs, oldest first.
    fn session_view(
        &self,
        project: Uuid,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<SessionView>, StoreError>> + Send;
    /// The spans of run `run` whose attribute values or messages (events' content) contain
    /// `text` (case-insensitive), at most `limit`, in no particular order: the run page's search
    /// beyond names.
    fn run_text_search(
        &self,
        project: Uuid,
        run: Uuid,
        text: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Uuid>, StoreError>> + Send;
    /// One node of the run page (the run, or `span`) with its own events only.
    fn node_view(
        &self,
        project: Uuid,
        run: Uuid,
        span: Option<Uuid>,
    ) -> impl Future<Output = Result<Option<NodeView>, StoreError>> + Send;
    /// One run with its figures.
    fn run_row(&self, project: Uuid, id: Uuid) -> impl Future<Output = Result<Option<RunRow>, StoreError>> + Send;
    /// The scores of a run, newest first.
    fn list_scores(&self, project: Uuid, run: Uuid) -> impl Future<Output = Result<Vec<Score>, StoreError>> + Send;
    /// The run page's scores: [`Store::list_scores`] with who added each (a human score's user).
    fn score_rows(&self, project: Uuid, run: Uuid) -> impl Future<Output = Result<Vec<ScoreRow>, StoreError>> + Send;
    /// Adds a `human` score to a run of the project.
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for a blank name, a non-finite value, a categorical score
    /// without a category or a pass/fail score other than 0/1; [`StoreError::NotFound`] when
    /// the run (or span) is not this project's.
    fn add_score(&self, project: Uuid, score: &NewScore) -> impl Future<Output = Result<Score, StoreError>> + Send;
    /// Distribution and daily trend of every score name (scores by `created_at`).
    fn score_summaries(
        &self,
        project: Uuid,
        range: TimeRange,
    ) -> impl Future<Output = Result<Vec<ScoreSummary>, StoreError>> + Send;

    // The prompt registry (`prompts.rs`).

    /// The project's prompts, most recently changed first.
    fn list_prompts(&self, project: Uuid) -> impl Future<Output = Result<Vec<Prompt>, StoreError>> + Send;
    /// One prompt with its versions and label history, newest first.
    fn prompt_detail(
        &self,
        project: Uuid,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<PromptDetail>, StoreError>> + Send;
    /// Creates a prompt.
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for a bad name or slug, or a slug the project already has.
    fn create_prompt(&self, project: Uuid, new: &NewPrompt) -> impl Future<Output = Result<Prompt, StoreError>> + Send;
    /// Adds a version (the next number) to a prompt; it becomes the current one.
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for content, temperature, max tokens or variables out of bounds;
    /// [`StoreError::NotFound`] when the prompt is not the project's.
    fn add_prompt_version(
        &self,
        project: Uuid,
        prompt: Uuid,
        new: &NewPromptVersion,
    ) -> impl Future<Output = Result<PromptVersion, StoreError>> + Send;
    /// Points a label at a version of the prompt and records the move.
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for a bad label, `prod` without a change note, or a version not
    /// of this prompt; [`StoreError::NotFound`] when the prompt is not the project's.
    fn set_prompt_label(
        &self,
        project: Uuid,
        prompt: Uuid,
        change: &LabelChange,
    ) -> impl Future<Output = Result<Prompt, StoreError>> + Send;
    /// The version an SDK asks for: by number, else the one `label` points at.
    fn resolve_prompt(
        &self,
        project: Uuid,
        slug: &str,
        label: &str,
        version: Option<i64>,
    ) -> impl Future<Output = Result<Option<(Prompt, PromptVersion)>, StoreError>> + Send;
    /// The prompt versions the spans of a run used.
    fn prompt_uses(&self, project: Uuid, run: Uuid) -> impl Future<Output = Result<Vec<PromptUse>, StoreError>> + Send;
    /// How the runs that used each version of a prompt went.
    fn prompt_version_figures(
        &self,
        project: Uuid,
        prompt: Uuid,
    ) -> impl Future<Output = Result<Vec<VersionFigures>, StoreError>> + Send;

    // Dashboard users and retention (`access.rs`).

    /// Creates a user with an argon2 password hash.
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for an empty email or one already taken.
    fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> impl Future<Output = Result<User, StoreError>> + Send;
    /// The user with this email (any case) and their password hash.
    fn user_by_email(&self, email: &str) -> impl Future<Output = Result<Option<(User, String)>, StoreError>> + Send;
    fn user_by_id(&self, id: Uuid) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    fn count_users(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Every dashboard user, by email.
    fn list_users(&self) -> impl Future<Output = Result<Vec<User>, StoreError>> + Send;
    /// Applies `change` to the user with `email` and ends every login they have.
    fn update_user(&self, email: &str, change: &UserChange) -> impl Future<Output = Result<User, StoreError>> + Send;
    /// Gives `user` a role in `project` (replacing an earlier one).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when either does not exist.
    fn set_member(&self, project: Uuid, user: Uuid, role: Role) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The projects the user can open, with their role (every project, as admin, for a
    /// server admin).
    fn projects_of(&self, user: &User) -> impl Future<Output = Result<Vec<(Project, Role)>, StoreError>> + Send;
    /// One project if the user can open it.
    fn project_for(
        &self,
        user: &User,
        project: Uuid,
    ) -> impl Future<Output = Result<Option<(Project, Role)>, StoreError>> + Send;
    /// Sets (or, with `None`, clears) how many days the project's runs are kept.
    fn set_retention(&self, project: Uuid, days: Option<u32>) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes up to `limit` runs started before `cutoff` (with their spans, events and
    /// scores), then the sessions created before it that have no run left. Returns the number
    /// of runs deleted.
    fn delete_runs_before(
        &self,
        project: Uuid,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Whether the database answers and every migration this build knows is applied.
    fn ready(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Connections of the pool: (open, idle).
    fn pool_usage(&self) -> (u32, u32);
}
