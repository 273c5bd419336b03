//! Group commit for a store with one writer (SQLite).
//!
//! Ingest requests queue here; one task writes them. Whatever arrived while it wrote the last
//! group forms the next one, merged into one batch per project ([`Batch::merge`]) and written by
//! one transaction: one set of statements and one commit for many requests, where the
//! per-request cost (statements, commit, the pages each commit rewrites) dominated. A request
//! is answered only after the commit that holds it. If the merged write fails (one batch's bad
//! reference fails the whole group), each batch of the group is written again on its own, so
//! every request gets its own answer and a bad batch never takes others down with it. Under a
//! light load a group is a single request and nothing waits for company.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use northstar_wire::Batch;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::{IngestCounts, StoreError};

/// A group stops growing at this many records (the first request always goes in), so one
/// transaction stays short and a huge group cannot build up behind a slow one.
const MAX_RECORDS: usize = 5_000;
/// …or at this many requests.
const MAX_REQUESTS: usize = 64;

/// One queued ingest request.
pub(crate) struct Pending {
    pub(crate) project: Uuid,
    pub(crate) batch: Batch,
    reply: oneshot::Sender<Result<IngestCounts, StoreError>>,
}

impl Pending {
    /// Answers the request (a caller that went away meanwhile is not an error).
    pub(crate) fn answer(self, result: Result<IngestCounts, StoreError>) {
        let _ = self.reply.send(result);
    }
}

/// What writes the groups.
pub(crate) trait GroupWriter: Clone + Send + Sync + 'static {
    /// The right to write, held while a group is formed and written.
    type Turn: Send + Sync;
    /// Waits for the right to write.
    fn turn(&self) -> impl Future<Output = Self::Turn> + Send;
    /// Stores each `(project, batch)` in its project, all in one transaction.
    fn write(
        &self,
        turn: &Self::Turn,
        batches: &[(Uuid, &Batch)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The queue in front of one writer task, started on the first request (on the caller's tokio
/// runtime) and started again if it stopped (its runtime shut down, or it panicked).
#[derive(Debug)]
pub(crate) struct Groups<W> {
    writer: W,
    queue: Mutex<Option<mpsc::UnboundedSender<Pending>>>,
    /// Requests stored by a merged write (not alone).
    merged: Arc<AtomicU64>,
}

impl<W: GroupWriter> Groups<W> {
    pub(crate) fn new(writer: W) -> Self {
        Self { writer, queue: Mutex::new(None), merged: Arc::new(AtomicU64::new(0)) }
    }

    /// How many requests a merged write has stored so far.
    #[cfg(test)]
    pub(crate) fn merged_requests(&self) -> u64 {
        self.merged.load(Relaxed)
    }

    /// Queues `batch` and waits for the commit that stores it.
    ///
    /// # Errors
    ///
    /// The batch's own error; [`StoreError::Unavailable`] if the writer stopped before
    /// answering (the batch may or may not be stored: a retry is safe, writes are upserts).
    pub(crate) async fn ingest(&self, project: Uuid, batch: Batch) -> Result<IngestCounts, StoreError> {
        let (reply, answer) = oneshot::channel();
        let mut pending = Pending { project, batch, reply };
        for _ in 0..2 {
            match self.sender().send(pending) {
                Ok(()) => {
                    return answer.await.unwrap_or(Err(StoreError::Unavailable(sqlx::Error::WorkerCrashed)));
                }
                // The task stopped between the check and the send: start another.
                Err(mpsc::error::SendError(back)) => pending = back,
            }
        }
        Err(StoreError::Unavailable(sqlx::Error::WorkerCrashed))
    }

    fn sender(&self) -> mpsc::UnboundedSender<Pending> {
        let mut queue = self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match queue.as_ref() {
            Some(sender) if !sender.is_closed() => sender.clone(),
            _ => {
                let (sender, receiver) = mpsc::unbounded_channel();
                tokio::spawn(run(self.writer.clone(), receiver, self.merged.clone()));
                *queue = Some(sender.clone());
                sender
            }
        }
    }
}

/// The writer task: one group per turn until every sender is gone. The group is formed once
/// the turn is ours, so that a request whose caller went away while it queued (its request
/// timed out and was answered 408, which promises that nothing is stored) is dropped unwritten.
async fn run<W: GroupWriter>(writer: W, mut queue: mpsc::UnboundedReceiver<Pending>, merged: Arc<AtomicU64>) {
    while let Some(first) = queue.recv().await {
        let turn = writer.turn().await;
        let mut records = first.batch.len();
        let mut group = vec![first];
        while records < MAX_RECORDS && group.len() < MAX_REQUESTS {
            let Ok(next) = queue.try_recv() else { break };
            records += next.batch.len();
            group.push(next);
        }
        group.retain(|pending| !pending.reply.is_closed());
        if !group.is_empty() {
            write(&writer, &turn, group, &merged).await;
        }
    }
}

async fn write<W: GroupWriter>(writer: &W, turn: &W::Turn, group: Vec<Pending>, merged: &AtomicU64) {
    if group.len() > 1 {
        let merged_batches = merge(&group);
        let batches: Vec<(Uuid, &Batch)> = merged_batches.iter().map(|(p, b)| (*p, b)).collect();
        match writer.write(turn, &batches).await {
            Ok(()) => {
                merged.fetch_add(group.len() as u64, Relaxed);
                for pending in group {
                    let counts = IngestCounts::of(&pending.batch);
                    pending.answer(Ok(counts));
                }
                return;
            }
            Err(err) => {
                tracing::debug!(error = %err, requests = group.len(), "group write failed; writing its batches one by one")
            }
        }
    }
    for pending in group {
        if pending.reply.is_closed() {
            continue;
        }
        let result = writer.write(turn, &[(pending.project, &pending.batch)]).await;
        let counts = IngestCounts::of(&pending.batch);
        pending.answer(result.map(|()| counts));
    }
}

/// The group as one batch per project, projects in order of first arrival.
fn merge(group: &[Pending]) -> Vec<(Uuid, Batch)> {
    let mut projects: Vec<Uuid> = Vec::new();
    for pending in group {
        if !projects.contains(&pending.project) {
            projects.push(pending.project);
        }
    }
    projects
        .into_iter()
        .map(|project| {
            let batches = group.iter().filter(|p| p.project == project).map(|p| p.batch.clone());
            (project, Batch::merge(batches))
        })
        .collect()
}

#[cfg(test)]
mod tests;
