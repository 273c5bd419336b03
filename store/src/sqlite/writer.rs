//! The one writer of a SQLite store: this process's write turn, group commit of ingest
//! requests, and WAL checkpoints off the writer's path.

use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;
use uuid::Uuid;

use super::LiteTx;
use crate::StoreError;
use crate::changes::{Change, Feed};
use crate::ingest::group::GroupWriter;

/// SQLite has one writer at a time. Writers of this process queue on `turn`, in order, instead
/// of in SQLite's busy handler, which sleeps and retries (hundreds of ms of tail latency under
/// concurrent ingest). Other processes (the CLI) still meet the busy timeout.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    pub(super) pool: SqlitePool,
    pub(super) turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Told after each ingest commit; see [`checkpoints`].
    pub(super) committed: std::sync::Arc<tokio::sync::Notify>,
    /// This process's change feed of the database file: what a group commits is announced.
    pub(super) feed: Feed,
}

impl Writer {
    /// The write turn of this process, then an immediate (write) transaction for `project`.
    pub(super) async fn begin(&self, project: Uuid) -> Result<LiteTx, StoreError> {
        let turn = self.turn.clone().lock_owned().await;
        let mut tx = LiteTx::new(self.pool.begin_with("BEGIN IMMEDIATE").await?, project);
        tx.turn = Some(turn);
        Ok(tx)
    }

    /// Commits `tx` (its turn ends with it) and tells the checkpointer.
    pub(super) async fn commit(&self, tx: LiteTx) -> Result<(), StoreError> {
        tx.tx.commit().await?;
        self.committed.notify_one();
        Ok(())
    }
}

impl GroupWriter for Writer {
    type Turn = tokio::sync::OwnedMutexGuard<()>;
    type Tx = LiteTx;

    async fn turn(&self) -> Self::Turn {
        self.turn.clone().lock_owned().await
    }

    async fn begin(&self, _turn: &Self::Turn, project: Uuid) -> Result<LiteTx, StoreError> {
        Ok(LiteTx::new(self.pool.begin_with("BEGIN IMMEDIATE").await?, project))
    }

    fn switch(tx: &mut LiteTx, project: Uuid) {
        tx.project = project.to_string();
        tx.id = project;
    }

    async fn commit(&self, tx: LiteTx, changes: Vec<Change>) -> Result<(), StoreError> {
        Writer::commit(self, tx).await?;
        changes.into_iter().for_each(|change| self.feed.send(change));
        Ok(())
    }
}

/// Copies the WAL back into the database file after ingest commits, on a connection of its
/// own, at most every 100 ms. SQLite's default is a checkpoint by whichever commit takes the WAL
/// past 1,000 pages: on the single writer's path, where it was a large share of a group's time
/// (BENCHMARKS.md §2). A passive checkpoint takes no lock the writer needs, and pages written
/// again between two checkpoints are copied once. Ends when the store is dropped.
pub(super) async fn checkpoints(options: SqliteConnectOptions, committed: std::sync::Weak<tokio::sync::Notify>) {
    use sqlx::Connection;
    let mut conn = match sqlx::SqliteConnection::connect_with(&options).await {
        Ok(conn) => conn,
        Err(err) => {
            tracing::warn!(error = %err, "no checkpoint connection; commits will checkpoint the WAL themselves");
            return;
        }
    };
    while let Some(notify) = committed.upgrade() {
        let woken = tokio::time::timeout(Duration::from_secs(1), notify.notified()).await.is_ok();
        drop(notify);
        if woken {
            if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut conn).await {
                tracing::warn!(error = %err, "WAL checkpoint failed; retrying after the next commit");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let _ = conn.close().await;
}
