//! Group commit of ingest requests.
//!
//! Ingest requests queue here; a task forms them into groups. Whatever arrived while the last
//! group waited for its turn forms the next one, merged into one job per project
//! ([`Job::merge`]) and written by one transaction: one set of statements and one commit for many
//! requests, where the per-request cost (statements, round trips, commit, the pages each commit
//! rewrites) dominated. Native batches are grouped on SQLite, whose one writer made that cost
//! the ceiling; spans of a tracing protocol on both stores, where an export of a few spans paid
//! some twenty statements for a handful of rows. A request is answered only after the commit that
//! holds it. If the merged write fails (one batch's bad reference fails the whole group), each
//! request of the group is written again on its own, so every request gets its own answer and a
//! bad one never takes others down with it. Under a light load a group is a single request and
//! nothing waits for company.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use northstar_wire::Batch;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{Caller, IngestTx};
use crate::changes::Change;
use crate::{IngestCounts, StoreError};

/// A group stops growing at this many records (the first request always goes in), so one
/// transaction stays short and a huge group cannot build up behind a slow one.
const MAX_RECORDS: usize = 5_000;
/// …or at this many requests.
const MAX_REQUESTS: usize = 64;

/// What a request asks to write: a native batch, or the spans of a tracing protocol.
pub(crate) trait Job: Clone + Send + Sync + 'static {
    /// What the request's answer needs of what it carried, taken before it is written.
    type Tally: Send + Sync + 'static;
    /// What writing a job (one request's, or a group's merged) reported.
    type Outcome: Send + Sync + 'static;
    /// The request's answer.
    type Answer: Send + 'static;
    /// How many records it carries.
    fn records(&self) -> usize;
    /// Ids that no two jobs of one group may share: a group ends before a job that would.
    fn exclusive(&self) -> Vec<Uuid>;
    fn tally(&self) -> Self::Tally;
    /// Jobs of one project, in arrival order, as one job with the effect of one after another.
    fn merge(jobs: Vec<Self>) -> Self;
    fn answer(tally: Self::Tally, outcome: &Self::Outcome) -> Self::Answer;
    /// What writing it changes, for pages that follow the project live.
    fn change(&self, project: Uuid) -> Change;
    /// Writes the job into the transaction's project.
    fn write<T: IngestTx + Send>(self, tx: &mut T) -> impl Future<Output = Result<Self::Outcome, StoreError>> + Send;
}

impl Job for Batch {
    type Tally = IngestCounts;
    type Outcome = ();
    type Answer = IngestCounts;

    fn records(&self) -> usize {
        self.len()
    }
    fn exclusive(&self) -> Vec<Uuid> {
        Vec::new()
    }
    fn tally(&self) -> IngestCounts {
        IngestCounts::of(self)
    }
    fn merge(jobs: Vec<Self>) -> Self {
        Batch::merge(jobs)
    }
    fn change(&self, project: Uuid) -> Change {
        Change::of_batch(project, self)
    }
    fn answer(tally: IngestCounts, (): &()) -> IngestCounts {
        tally
    }
    async fn write<T: IngestTx + Send>(self, tx: &mut T) -> Result<(), StoreError> {
        super::write(tx, &self, Caller::Native).await.map(drop)
    }
}

/// One queued request.
struct Pending<J: Job> {
    project: Uuid,
    job: J,
    tally: J::Tally,
    reply: oneshot::Sender<Result<J::Answer, StoreError>>,
}

/// What writes the groups: their transactions, and when one may begin.
pub(crate) trait GroupWriter: Clone + Send + Sync + 'static {
    /// The right to write, held while a group is formed and written. A writer that allows
    /// several transactions at once hands out several turns.
    type Turn: Send + Sync + 'static;
    type Tx: IngestTx + Send;
    /// Waits for the right to write.
    fn turn(&self) -> impl Future<Output = Self::Turn> + Send;
    /// An ingest transaction, in `project`.
    fn begin(&self, turn: &Self::Turn, project: Uuid) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send;
    /// Moves `tx` to `project`: what it writes next goes there.
    fn switch(tx: &mut Self::Tx, project: Uuid);
    /// Commits `tx` and announces its `changes` (on the change feed, see [`crate::changes`]).
    fn commit(&self, tx: Self::Tx, changes: Vec<Change>) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The queue in front of one writer, whose task is started on the first request (on the
/// caller's tokio runtime) and started again if it stopped (its runtime shut down, or it
/// panicked).
pub(crate) struct Groups<W, J: Job> {
    writer: W,
    queue: Mutex<Option<mpsc::UnboundedSender<Pending<J>>>>,
    /// Requests stored by a merged write (not alone).
    merged: Arc<AtomicU64>,
}

impl<W, J: Job> std::fmt::Debug for Groups<W, J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Groups").field("merged", &self.merged.load(Relaxed)).finish_non_exhaustive()
    }
}

impl<J: Job, W: GroupWriter> Groups<W, J> {
    pub(crate) fn new(writer: W) -> Self {
        Self { writer, queue: Mutex::new(None), merged: Arc::new(AtomicU64::new(0)) }
    }

    /// How many requests a merged write has stored so far.
    pub(crate) fn merged_requests(&self) -> u64 {
        self.merged.load(Relaxed)
    }

    /// Queues `job` and waits for the commit that stores it.
    ///
    /// # Errors
    ///
    /// The job's own error; [`StoreError::Unavailable`] if the writer stopped before
    /// answering (the job may or may not be stored: a retry is safe, writes are upserts).
    pub(crate) async fn ingest(&self, project: Uuid, job: J) -> Result<J::Answer, StoreError> {
        let (reply, answer) = oneshot::channel();
        let tally = job.tally();
        let mut pending = Pending { project, job, tally, reply };
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

    fn sender(&self) -> mpsc::UnboundedSender<Pending<J>> {
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

/// The queue's task: a group per turn until every sender is gone, each written by a task of its
/// own that holds the turn (so a writer with several turns writes several groups at once). The
/// group is formed once the turn is ours, so that a request whose caller went away while it
/// queued (its request timed out and was answered 408, which promises that nothing is stored)
/// is dropped unwritten.
async fn run<J: Job, W: GroupWriter>(
    writer: W,
    mut queue: mpsc::UnboundedReceiver<Pending<J>>,
    merged: Arc<AtomicU64>,
) {
    let mut next_first: Option<Pending<J>> = None;
    loop {
        let first = match next_first.take() {
            Some(first) => first,
            None => match queue.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let turn = writer.turn().await;
        let mut records = first.job.records();
        let mut taken: HashSet<Uuid> = first.job.exclusive().into_iter().collect();
        let mut group = vec![first];
        while records < MAX_RECORDS && group.len() < MAX_REQUESTS {
            let Ok(next) = queue.try_recv() else { break };
            let ids = next.job.exclusive();
            if ids.iter().any(|id| taken.contains(id)) {
                next_first = Some(next);
                break;
            }
            taken.extend(ids);
            records += next.job.records();
            group.push(next);
        }
        group.retain(|pending| !pending.reply.is_closed());
        if !group.is_empty() {
            let (writer, merged) = (writer.clone(), merged.clone());
            tokio::spawn(async move { write(&writer, turn, group, &merged).await });
        }
    }
}

async fn write<J: Job, W: GroupWriter>(writer: &W, turn: W::Turn, group: Vec<Pending<J>>, merged: &AtomicU64) {
    if group.len() > 1 {
        match write_merged(writer, &turn, &group).await {
            Ok(outcomes) => {
                merged.fetch_add(group.len() as u64, Relaxed);
                for pending in group {
                    let outcome = outcomes.iter().find(|(project, _)| *project == pending.project);
                    if let Some((_, outcome)) = outcome {
                        let _ = pending.reply.send(Ok(J::answer(pending.tally, outcome)));
                    }
                }
                return;
            }
            Err(err) => {
                tracing::debug!(error = %err, requests = group.len(), "group write failed; writing its requests one by one")
            }
        }
    }
    for Pending { project, job, tally, reply } in group {
        if reply.is_closed() {
            continue;
        }
        let result = async {
            let mut tx = writer.begin(&turn, project).await?;
            let change = job.change(project);
            let outcome = job.write(&mut tx).await?;
            writer.commit(tx, vec![change]).await?;
            Ok(J::answer(tally, &outcome))
        };
        // A caller that went away meanwhile is not an error.
        let _ = reply.send(result.await);
    }
}

/// The group as one job per project (projects in order of first arrival), in one transaction:
/// what each project's job reported.
async fn write_merged<J: Job, W: GroupWriter>(
    writer: &W,
    turn: &W::Turn,
    group: &[Pending<J>],
) -> Result<Vec<(Uuid, J::Outcome)>, StoreError> {
    let mut projects: Vec<Uuid> = Vec::new();
    for pending in group {
        if !projects.contains(&pending.project) {
            projects.push(pending.project);
        }
    }
    let Some(first) = projects.first() else { return Ok(Vec::new()) };
    let mut tx = writer.begin(turn, *first).await?;
    let (mut outcomes, mut changes) = (Vec::with_capacity(projects.len()), Vec::with_capacity(projects.len()));
    for project in projects {
        W::switch(&mut tx, project);
        let job = J::merge(group.iter().filter(|p| p.project == project).map(|p| p.job.clone()).collect());
        changes.push(job.change(project));
        outcomes.push((project, job.write(&mut tx).await?));
    }
    writer.commit(tx, changes).await?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests;
