//! The ingest write path, written once for both backends: one transaction per batch (or per
//! group of batches: SQLite's group commit, [`group`]).
//!
//! The original checked every record's references one by one inside a SQL function (reference
//! §2.5). We keep its rules but work table by table, in one order, from [`write`]:
//!
//! 1. take the batch's run locks and read what each run holds of its session ([`figures`]);
//! 2. sessions, runs, spans, events, prompt links, scores: each table written by one statement, after one
//!    id-set query per reference kind has checked that every reference of its rows is stored
//!    *in this project* (the rows just written count, which is what lets a record point at
//!    anything earlier in the same batch), and followed by a check that no written id belongs
//!    to another project ([`refs`]); what the spans change is added to their runs (a run the
//!    batch creates is inserted with it);
//! 3. last, what the runs changed is added to their sessions (for spans of a tracing protocol,
//!    with each session's end, in the same update), so each session row is locked only until
//!    the commit that follows.
//!
//! Any failure aborts the transaction, so a batch is stored whole or not at all. Spans of a
//! tracing protocol, which arrive in any order, are made into such a batch by [`traces`].

pub(crate) mod figures;
pub(crate) mod group;
mod refs;
pub(crate) mod traces;

use std::collections::{HashMap, HashSet};
use std::future::Future;

use northstar_wire::{Batch, Event, Run, Score, Session, Span};
use uuid::Uuid;

pub(crate) use figures::RunDelta;

use crate::query::sql::{Arg, Sql, WriteTx};
use crate::{IngestCounts, StoreError};
use refs::{Table, owned, require, unknown};

/// The upserts of an ingest transaction: the one part of the write path whose SQL differs by
/// backend (Postgres binds arrays to `UNNEST`, SQLite a `VALUES` list within its parameter
/// limit). Each returns how many rows it wrote: a row of another project is never written.
pub(crate) trait IngestTx: WriteTx {
    fn upsert_sessions(&mut self, rows: &[Session]) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// `figures[i]` is what `rows[i]` starts with if it is inserted (an update leaves a stored
    /// run's figures as they are).
    fn upsert_runs(
        &mut self,
        rows: &[Run],
        figures: &[RunDelta],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    fn upsert_spans(&mut self, rows: &[Span]) -> impl Future<Output = Result<u64, StoreError>> + Send;
    fn upsert_events(&mut self, rows: &[Event]) -> impl Future<Output = Result<u64, StoreError>> + Send;
    fn upsert_scores(&mut self, rows: &[Score]) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Who calls [`write`], which decides two things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A native batch: [`write`] takes the locks of the batch's runs, and a session ends when
    /// a batch says so.
    Native,
    /// Spans of a tracing protocol ([`traces`]): the caller holds the run locks already
    /// ([`figures::take_locks`]), and a session ends with its last run, once none of its runs
    /// is running.
    Traces,
}

/// The ids, sorted and without repeats.
pub(crate) fn unique(ids: impl IntoIterator<Item = Uuid>) -> Vec<Uuid> {
    let mut v: Vec<Uuid> = ids.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Writes `batch` into the transaction's project (see the module's steps).
pub(crate) async fn write<T: IngestTx>(tx: &mut T, batch: &Batch, caller: Caller) -> Result<IngestCounts, StoreError> {
    let locked = figures::lock_runs(tx, batch, caller).await?;
    // Ids stored in this project as of this point of the batch: written and owned, or checked.
    let mut sessions: HashSet<Uuid> = HashSet::new();
    let mut runs: HashSet<Uuid> = HashSet::new();
    let mut spans: HashSet<Uuid> = HashSet::new();

    if !batch.sessions.is_empty() {
        let written = tx.upsert_sessions(&batch.sessions).await?;
        owned(tx, Table::Sessions, batch.sessions.iter().map(|s| s.id).collect(), written).await?;
        sessions.extend(batch.sessions.iter().map(|s| s.id));
    }

    // What the spans change in their runs, from the stored copies they replace: read before
    // the runs are written, so a run the batch creates is inserted with its figures.
    let mut deltas = if batch.spans.is_empty() { Vec::new() } else { figures::span_deltas(tx, &batch.spans).await? };

    if !batch.runs.is_empty() {
        require(tx, Table::Sessions, unknown(batch.runs.iter().map(|r| r.session_id), &sessions), "session").await?;
        let initial = locked.initial_figures(&batch.runs, &mut deltas);
        let written = tx.upsert_runs(&batch.runs, &initial).await?;
        owned(tx, Table::Runs, batch.runs.iter().map(|r| r.id).collect(), written).await?;
        runs.extend(batch.runs.iter().map(|r| r.id));
    }

    if !batch.spans.is_empty() {
        require(tx, Table::Runs, unknown(batch.spans.iter().map(|s| s.run_id), &runs), "run").await?;
        runs.extend(batch.spans.iter().map(|s| s.run_id));
        require(tx, Table::Spans, batch.parents_to_be_stored(), "parent span").await?;
        let written = tx.upsert_spans(&batch.spans).await?;
        owned(tx, Table::Spans, batch.spans.iter().map(|s| s.id).collect(), written).await?;
        spans.extend(batch.spans.iter().map(|s| s.id));
        figures::add_to_runs(tx, deltas).await?;
    }

    if !batch.events.is_empty() {
        require(tx, Table::Runs, unknown(batch.events.iter().map(|e| e.run_id), &runs), "run").await?;
        runs.extend(batch.events.iter().map(|e| e.run_id));
        require(tx, Table::Spans, unknown(batch.events.iter().filter_map(|e| e.span_id), &spans), "span").await?;
        let written = tx.upsert_events(&batch.events).await?;
        owned(tx, Table::Events, batch.events.iter().map(|e| e.id).collect(), written).await?;
    }

    if !batch.prompt_links.is_empty() {
        prompt_links(tx, batch).await?;
    }

    if !batch.scores.is_empty() {
        require(tx, Table::Runs, unknown(batch.scores.iter().map(|s| s.trace_id), &runs), "trace").await?;
        let span_ids = unique(batch.scores.iter().filter_map(|s| s.span_id));
        if !span_ids.is_empty() {
            let runs: HashMap<Uuid, Uuid> = refs::span_runs(tx, &span_ids).await?.into_iter().collect();
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

    figures::update_sessions(tx, batch, locked, caller).await?;
    Ok(IngestCounts::of(batch))
}

/// Links of spans to the prompt versions they used (reference §2.5): each span must be stored
/// in this project (in this batch or before), a link's `trace_id` must be its span's run, and
/// its version must be this project's; a link already stored for the span and version gets the
/// new variable values. The original answered 500 for a span of another trace: here it is a
/// reference error like the others (400).
async fn prompt_links<T: WriteTx>(tx: &mut T, batch: &Batch) -> Result<(), StoreError> {
    let spans = unique(batch.prompt_links.iter().map(|l| l.span_id));
    let runs: HashMap<Uuid, Uuid> = refs::span_runs(tx, &spans).await?.into_iter().collect();
    for link in &batch.prompt_links {
        match runs.get(&link.span_id) {
            None => return Err(StoreError::InvalidReference(format!("span {} not found for project", link.span_id))),
            Some(run) if *run != link.trace_id => {
                return Err(StoreError::InvalidReference(format!(
                    "span {} is not part of trace {}",
                    link.span_id, link.trace_id
                )));
            }
            Some(_) => {}
        }
    }
    let versions = unique(batch.prompt_links.iter().map(|l| l.prompt_version_id));
    require(tx, Table::PromptVersions, versions, "prompt version").await?;
    // One row per (span, version), the batch's last (the original wrote them one by one).
    let mut last: HashMap<(Uuid, Uuid), &northstar_wire::PromptLink> = HashMap::new();
    let mut order = Vec::new();
    for link in &batch.prompt_links {
        if last.insert((link.span_id, link.prompt_version_id), link).is_none() {
            order.push((link.span_id, link.prompt_version_id));
        }
    }
    let at = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
    for chunk in order.chunks(1_000) {
        let mut q = Sql::new(T::DIALECT);
        let links = q.table("prompt_trace_links");
        q.push(&format!(
            "INSERT INTO {links} (project_id, trace_id, span_id, prompt_version_id, variable_values, linked_at) VALUES "
        ));
        let (project, linked_at) = (q.bind(Arg::Uuid(tx.project())), q.bind(Arg::Ts(at)));
        for (i, key) in chunk.iter().enumerate() {
            let link = last[key];
            q.push(if i == 0 { "(" } else { ", (" }).again(project).push(", ").arg(Arg::Uuid(link.trace_id));
            q.push(", ").arg(Arg::Uuid(link.span_id)).push(", ").arg(Arg::Uuid(link.prompt_version_id)).push(", ");
            let values = match &link.variable_values {
                v @ serde_json::Value::Object(_) => v.clone(),
                _ => serde_json::Value::Object(serde_json::Map::new()),
            };
            q.json_arg(&values).push(", ").again(linked_at).push(")");
        }
        q.push(
            " ON CONFLICT (span_id, prompt_version_id) DO UPDATE SET variable_values = excluded.variable_values, \
             linked_at = excluded.linked_at RETURNING id",
        );
        tx.fetch_all(q).await?;
    }
    Ok(())
}
