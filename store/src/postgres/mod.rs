//! Postgres: the original's schema in schema `private`. Batch writes bind one typed array per
//! column and `UNNEST` them, so each table is one statement whatever the batch size.
//!
//! The store (`mod.rs`), its write transaction and upserts (`tx.rs`), its column decoding and
//! argument binding (`rows.rs`).

mod rows;
mod tx;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use northstar_wire::Batch;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::backend::Backend;
use crate::changes::{Change, Feed};
use crate::ingest::group::{GroupWriter, Groups};
use crate::ingest::{self, Caller};
use crate::migrations::Embedded;
use crate::query::sql::{Dialect, Reader, Sql};
use crate::{IngestCounts, StoreError, TraceBatch, TraceCounts};
use rows::bound;
use tx::INGEST_BEGIN;
pub(crate) use tx::PgTx;

/// The Postgres store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Requests of traces, written in groups (see `group`), up to [`TRACE_WRITERS`] at once.
    traces: Arc<Groups<PgWriter, TraceBatch>>,
    feed: Feed,
    /// Whether the `LISTEN` task runs (it starts with the first subscriber).
    listening: Arc<AtomicBool>,
}

impl PgStore {
    /// Connects to `url` (`postgres://…`).
    ///
    /// # Errors
    ///
    /// When the URL does not parse or the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        // No JIT: this store's queries are index lookups that take milliseconds, and a planner's
        // high estimate (a recursive query's, say) made Postgres spend 250 ms compiling one.
        let options = url.parse::<PgConnectOptions>()?.options([("jit", "off")]);
        // A short acquire timeout: while the database is away, ingest answers 503 promptly
        // instead of holding requests until the client's own timeout.
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect_with(options)
            .await?;
        Ok(Self::from_pool(pool))
    }

    /// Wraps an existing pool.
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        let writer = PgWriter { pool: pool.clone(), turns: Arc::new(Semaphore::new(TRACE_WRITERS)) };
        Self {
            pool,
            traces: Arc::new(Groups::new(writer)),
            feed: Feed::new(),
            listening: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Changes committed by any server on this database, from now on (the first subscriber
    /// waits until this store listens).
    pub(crate) async fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        let changes = self.feed.subscribe();
        if !self.listening.swap(true, Ordering::SeqCst) {
            let first = crate::changes::listener(&self.pool).await;
            let (pool, feed, running) = (self.pool.clone(), self.feed.clone(), self.listening.clone());
            tokio::spawn(crate::changes::listen(pool, first, feed, running));
        }
        changes
    }

    /// Tells every listening server (this one included) about a committed write.
    pub(crate) async fn announce(&self, change: Change) {
        announce(&self.pool, &[change]).await;
    }

    /// How many requests of traces a merged group write has stored.
    pub(crate) fn merged_requests(&self) -> u64 {
        self.traces.merged_requests()
    }

    /// The underlying pool.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// How many groups of traces are written at once: as many transactions as requests while at
/// most this many are in flight (a light load waits for nothing), groups beyond. Measured
/// (BENCHMARKS.md §6, noisy): 2 lost a fifth against one transaction per request at 4
/// concurrent exporters; 4 and 8 were within the noise there and at 32, where 8 was the worst.
const TRACE_WRITERS: usize = 4;

/// The writer of groups of traces: any of the pool's connections, [`TRACE_WRITERS`] at a time.
#[derive(Debug, Clone)]
struct PgWriter {
    pool: PgPool,
    turns: Arc<Semaphore>,
}

impl GroupWriter for PgWriter {
    /// A permit of `turns` (which is never closed, so there always is one).
    type Turn = Option<tokio::sync::OwnedSemaphorePermit>;
    type Tx = PgTx<'static>;

    async fn turn(&self) -> Self::Turn {
        self.turns.clone().acquire_owned().await.ok()
    }

    async fn begin(&self, _turn: &Self::Turn, project: Uuid) -> Result<Self::Tx, StoreError> {
        Ok(PgTx { tx: self.pool.begin_with(INGEST_BEGIN).await?, project })
    }

    fn switch(tx: &mut Self::Tx, project: Uuid) {
        tx.project = project;
    }

    async fn commit(&self, tx: Self::Tx, changes: Vec<Change>) -> Result<(), StoreError> {
        tx.tx.commit().await?;
        announce(&self.pool, &changes).await;
        Ok(())
    }
}

/// Tells every listening server (this one included) about committed writes, in one statement.
/// Not inside the write's transaction: a transaction that notifies takes a lock of the whole
/// database for its commit (`PreCommit_Notify`), so ingest transactions would commit one at a
/// time, each through its own WAL flush (tried: OTLP ingest was slower, in noisy runs). A
/// failure is logged: the writes are done, only a live page misses them until its next change.
async fn announce(pool: &PgPool, changes: &[Change]) {
    let payloads: Vec<String> = changes.iter().map(Change::payload).collect();
    let sent = sqlx::query("SELECT pg_notify($1, payload) FROM UNNEST($2::text[]) AS payload")
        .bind(crate::changes::CHANNEL)
        .bind(payloads)
        .execute(pool)
        .await;
    if let Err(err) = sent {
        tracing::warn!(error = %err, "announcing a change failed");
    }
}

impl Reader for PgStore {
    type Row = PgRow;
    const DIALECT: Dialect = Dialect::Postgres;

    async fn fetch_all(&self, sql: Sql) -> Result<Vec<PgRow>, StoreError> {
        Ok(bound(sql).fetch_all(&self.pool).await?)
    }

    async fn write(&self, sql: Sql) -> Result<Vec<PgRow>, StoreError> {
        Ok(bound(sql).fetch_all(&self.pool).await?)
    }
}

impl Backend for PgStore {
    type Tx = PgTx<'static>;
    const MIGRATIONS: Embedded = Embedded::POSTGRES;

    async fn begin(&self, project: Uuid) -> Result<Self::Tx, StoreError> {
        Ok(PgTx { tx: self.pool.begin().await?, project })
    }

    async fn commit(&self, tx: Self::Tx) -> Result<(), StoreError> {
        Ok(tx.tx.commit().await?)
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        Ok(Self::MIGRATIONS.migrator().await?.run(&self.pool).await?)
    }

    async fn applied_migrations(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(&self.pool).await?)
    }

    async fn ingest(&self, project: Uuid, batch: &Batch) -> Result<IngestCounts, StoreError> {
        let mut tx = PgTx { tx: self.pool.begin_with(INGEST_BEGIN).await?, project };
        let counts = ingest::write(&mut tx, batch, Caller::Native).await?;
        tx.tx.commit().await?;
        announce(&self.pool, &[Change::of_batch(project, batch)]).await;
        Ok(counts)
    }

    async fn ingest_traces(&self, project: Uuid, batch: TraceBatch) -> Result<TraceCounts, StoreError> {
        self.traces.ingest(project, batch).await
    }

    fn pool_usage(&self) -> (u32, u32) {
        (self.pool.size(), u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX))
    }
}
