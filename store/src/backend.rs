//! What differs between the two backends, and nothing else. Every operation of the store API
//! ([`crate::Store`], implemented once by [`crate::AnyStore`]) is written once over this trait
//! and the SQL builder; a backend supplies its connections, its transactions, its migrations
//! and its way of queueing ingest (SQLite writes groups of batches through one writer).

use std::future::Future;

use northstar_wire::Batch;
use uuid::Uuid;

use crate::ingest::IngestTx;
use crate::migrations::Embedded;
use crate::query::sql::Reader;
use crate::{IngestCounts, StoreError, TraceBatch, TraceCounts};

pub(crate) trait Backend: Reader + Send + Sync {
    /// A write transaction for one project.
    type Tx: IngestTx + Send;

    /// The migrations embedded in this build for this backend.
    const MIGRATIONS: Embedded;

    /// Begins a write transaction for `project` (SQLite: in this process's write turn, held
    /// until the transaction ends).
    fn begin(&self, project: Uuid) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send;

    /// Commits a transaction from [`Backend::begin`].
    fn commit(&self, tx: Self::Tx) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Applies the embedded migrations not yet applied.
    fn run_migrations(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// How many migrations the database records as applied.
    fn applied_migrations(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Writes a batch for `project`: one transaction of its own (Postgres) or of its group
    /// (SQLite).
    fn ingest(&self, project: Uuid, batch: &Batch) -> impl Future<Output = Result<IngestCounts, StoreError>> + Send;

    /// [`Backend::ingest`] of a batch the caller no longer needs (SQLite queues it, uncopied).
    fn ingest_owned(
        &self,
        project: Uuid,
        batch: Batch,
    ) -> impl Future<Output = Result<IngestCounts, StoreError>> + Send {
        async move { self.ingest(project, &batch).await }
    }

    /// Writes the spans of a tracing protocol for `project` in one transaction.
    fn ingest_traces(
        &self,
        project: Uuid,
        batch: TraceBatch,
    ) -> impl Future<Output = Result<TraceCounts, StoreError>> + Send;

    /// Connections of the pool: (open, idle).
    fn pool_usage(&self) -> (u32, u32);
}

/// Runs `work` in a write transaction of `project` and commits it; nothing is kept if it fails.
/// (A macro, not a function taking a closure: the work borrows the transaction across awaits.)
macro_rules! in_transaction {
    ($backend:expr, $project:expr, |$tx:ident| $work:expr) => {{
        let backend = $backend;
        let mut $tx = backend.begin($project).await?;
        let done = $work;
        backend.commit($tx).await?;
        done
    }};
}
pub(crate) use in_transaction;
