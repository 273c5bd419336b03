//! The ingest algorithm, written once for both backends.
//!
//! The original checked every record's references one by one inside a SQL function (reference
//! §2.5). We keep its rules but work table by table: write one table with one statement, then
//! check with one id-set query per reference kind that every reference of the next table is
//! stored *in this project* (the rows just written count, which is what lets a record point at
//! anything earlier in the same batch), and that no written id belongs to another project.
//! Any failure aborts the transaction, so a batch is stored whole or not at all.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use northstar_wire::{Batch, Event, Run, Score, Session, Span};
use uuid::Uuid;

use crate::{IngestCounts, StoreError};

/// The tables ingest writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Sessions,
    Runs,
    Spans,
    Events,
    Scores,
}

impl Table {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Table::Sessions => "sessions",
            Table::Runs => "runs",
            Table::Spans => "spans",
            Table::Events => "events",
            Table::Scores => "scores",
        }
    }

    /// The singular used in error details ("run … not found for project").
    const fn noun(self) -> &'static str {
        match self {
            Table::Sessions => "session",
            Table::Runs => "run",
            Table::Spans => "span",
            Table::Events => "event",
            Table::Scores => "score",
        }
    }
}

/// What a backend transaction must offer for [`ingest`].
pub(crate) trait IngestTx {
    /// Of `ids`, those stored in `table` for this project.
    fn ids_in_project(
        &mut self,
        table: Table,
        ids: &[Uuid],
    ) -> impl Future<Output = Result<Vec<Uuid>, StoreError>> + Send;
    /// One of `ids` stored in `table` under another project, if any.
    fn foreign_id(
        &mut self,
        table: Table,
        ids: &[Uuid],
    ) -> impl Future<Output = Result<Option<Uuid>, StoreError>> + Send;
    /// `(span id, run id)` of those of `ids` stored in this project.
    fn span_runs(&mut self, ids: &[Uuid]) -> impl Future<Output = Result<Vec<(Uuid, Uuid)>, StoreError>> + Send;
    fn upsert_sessions(&mut self, rows: &[Session]) -> impl Future<Output = Result<u64, StoreError>> + Send;
    fn upsert_runs(&mut self, rows: &[Run]) -> impl Future<Output = Result<u64, StoreError>> + Send;
    fn upsert_spans(&mut self, rows: &[Span]) -> impl Future<Output = Result<u64, StoreError>> + Send;
    fn upsert_events(&mut self, rows: &[Event]) -> impl Future<Output = Result<u64, StoreError>> + Send;
    fn upsert_scores(&mut self, rows: &[Score]) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The project the batch is written to.
    fn project(&self) -> Uuid;
    type Row: crate::rows::Columns + Send;
    const DIALECT: crate::query::sql::Dialect;
    /// Runs a statement written for [`Self::DIALECT`] inside the transaction.
    fn fetch_all(
        &mut self,
        sql: crate::query::sql::Sql,
    ) -> impl Future<Output = Result<Vec<Self::Row>, StoreError>> + Send;
}

/// The ids, sorted and without repeats.
pub(crate) fn unique(ids: impl IntoIterator<Item = Uuid>) -> Vec<Uuid> {
    let mut v: Vec<Uuid> = ids.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Every id of `refs` must be stored in `table` for this project.
async fn require<T: IngestTx>(tx: &mut T, table: Table, refs: Vec<Uuid>, label: &str) -> Result<(), StoreError> {
    if refs.is_empty() {
        return Ok(());
    }
    let found: HashSet<Uuid> = tx.ids_in_project(table, &refs).await?.into_iter().collect();
    match refs.iter().find(|id| !found.contains(id)) {
        Some(id) => Err(StoreError::InvalidReference(format!("{label} {id} not found for project"))),
        None => Ok(()),
    }
}

/// None of `ids` may be stored in `table` under another project. Checked after the upsert
/// (whose guard leaves such rows untouched), so a concurrent writer cannot slip in between;
/// and only when the upsert wrote fewer rows than it was given (`written`), since a row of
/// another project is never written.
async fn owned<T: IngestTx>(tx: &mut T, table: Table, ids: Vec<Uuid>, written: u64) -> Result<(), StoreError> {
    if ids.is_empty() || written == ids.len() as u64 {
        return Ok(());
    }
    match tx.foreign_id(table, &ids).await? {
        Some(id) => Err(StoreError::InvalidReference(format!("{} {id} belongs to a different project", table.noun()))),
        None => Ok(()),
    }
}

/// Of `refs`, those not in `known` (ids this batch already wrote or checked).
fn unknown(refs: impl IntoIterator<Item = Uuid>, known: &HashSet<Uuid>) -> Vec<Uuid> {
    unique(refs.into_iter().filter(|id| !known.contains(id)))
}

pub(crate) async fn ingest<T: IngestTx>(tx: &mut T, batch: &Batch) -> Result<IngestCounts, StoreError> {
    ingest_locked(tx, batch, false).await
}

/// [`ingest`], by a caller that holds the locks of the batch's runs already
/// (`figures::take_locks`) when `locks_taken`.
pub(crate) async fn ingest_locked<T: IngestTx>(
    tx: &mut T,
    batch: &Batch,
    locks_taken: bool,
) -> Result<IngestCounts, StoreError> {
    let locked = crate::figures::lock_runs(tx, batch, locks_taken).await?;
    // Ids stored in this project as of this point of the batch: written and owned, or checked.
    let mut sessions: HashSet<Uuid> = HashSet::new();
    let mut runs: HashSet<Uuid> = HashSet::new();
    let mut spans: HashSet<Uuid> = HashSet::new();

    if !batch.sessions.is_empty() {
        let written = tx.upsert_sessions(&batch.sessions).await?;
        owned(tx, Table::Sessions, batch.sessions.iter().map(|s| s.id).collect(), written).await?;
        sessions.extend(batch.sessions.iter().map(|s| s.id));
    }

    if !batch.runs.is_empty() {
        require(tx, Table::Sessions, unknown(batch.runs.iter().map(|r| r.session_id), &sessions), "session").await?;
        let written = tx.upsert_runs(&batch.runs).await?;
        owned(tx, Table::Runs, batch.runs.iter().map(|r| r.id).collect(), written).await?;
        runs.extend(batch.runs.iter().map(|r| r.id));
    }

    if !batch.spans.is_empty() {
        require(tx, Table::Runs, unknown(batch.spans.iter().map(|s| s.run_id), &runs), "run").await?;
        runs.extend(batch.spans.iter().map(|s| s.run_id));
        require(tx, Table::Spans, batch.parents_to_be_stored(), "parent span").await?;
        let deltas = crate::figures::span_deltas(tx, &batch.spans).await?;
        let written = tx.upsert_spans(&batch.spans).await?;
        owned(tx, Table::Spans, batch.spans.iter().map(|s| s.id).collect(), written).await?;
        spans.extend(batch.spans.iter().map(|s| s.id));
        crate::figures::add_to_runs(tx, deltas).await?;
    }

    if !batch.events.is_empty() {
        require(tx, Table::Runs, unknown(batch.events.iter().map(|e| e.run_id), &runs), "run").await?;
        runs.extend(batch.events.iter().map(|e| e.run_id));
        require(tx, Table::Spans, unknown(batch.events.iter().filter_map(|e| e.span_id), &spans), "span").await?;
        let written = tx.upsert_events(&batch.events).await?;
        owned(tx, Table::Events, batch.events.iter().map(|e| e.id).collect(), written).await?;
    }

    // This server has no prompt registry yet, so no prompt version can exist in the project:
    // exactly the original's answer for a link to an unknown version (a reference error, 400).
    if let Some(link) = batch.prompt_links.first() {
        return Err(StoreError::InvalidReference(format!(
            "prompt version {} not found for project",
            link.prompt_version_id
        )));
    }

    if !batch.scores.is_empty() {
        require(tx, Table::Runs, unknown(batch.scores.iter().map(|s| s.trace_id), &runs), "trace").await?;
        let span_ids = unique(batch.scores.iter().filter_map(|s| s.span_id));
        if !span_ids.is_empty() {
            let runs: HashMap<Uuid, Uuid> = tx.span_runs(&span_ids).await?.into_iter().collect();
            for score in &batch.scores {
                if let Some(span) = score.span_id
                    && runs.get(&span) != Some(&score.trace_id)
                {
                    return Err(StoreError::InvalidReference(format!("span {span} not found for trace")));
                }
            }
        }
        let written = tx.upsert_scores(&batch.scores).await?;
        owned(tx, Table::Scores, batch.scores.iter().map(|s| s.id).collect(), written).await?;
    }

    // Last, so each session row is locked only until the commit that follows.
    crate::figures::update_sessions(tx, batch, locked).await?;
    Ok(IngestCounts::of(batch))
}
