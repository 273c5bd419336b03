//! The bounded queue between the recording threads and the worker, and the records on it.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use northstar_wire::{Event, PromptLink, Score, Session};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::run::RunState;
use crate::span::{SpanRef, SpareSpan};

/// One record on its way to the server. Runs and spans are references to their live state,
/// read when the batch is built; the others are boxed, so that a record is two words and a
/// push moves 16 bytes into its queue slot instead of a whole event (208 bytes, four cache
/// lines the worker last wrote).
#[derive(Clone)]
pub(crate) enum Record {
    Session(Box<Session>),
    Run(Arc<RunState>),
    Span(SpanRef),
    Event(Box<Event>),
    Score(Box<Score>),
    PromptLink(Box<PromptLink>),
}

const _: () = assert!(std::mem::size_of::<Record>() <= 16);

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, id) = self.key();
        write!(f, "Record({kind}, {id})")
    }
}

impl Record {
    pub(super) fn key(&self) -> (u8, Uuid) {
        match self {
            Record::Session(r) => (0, r.id),
            Record::Run(r) => (1, r.id),
            Record::Span(r) => (2, r.id),
            Record::Event(r) => (3, r.id),
            Record::Score(r) => (4, r.id),
            // One (span, version) is one link: a later one replaces it, as the server's upsert does.
            Record::PromptLink(r) => {
                (5, Uuid::from_u128(r.span_id.as_u128() ^ r.prompt_version_id.as_u128().rotate_left(1)))
            }
        }
    }
}

/// The bounded queue between the recording threads and the worker: lock-free, and quiet — a
/// push signals the worker only when `batch_size` records are waiting and no signal is pending.
///
/// Beside it runs a second, smaller queue the other way: spans the worker has delivered and was
/// the last to hold, emptied, for callers to fill again. A span then costs its caller neither an
/// allocation (the worker frees what it receives, so the caller's allocator cache never refills
/// and each new span took the allocator's slow path) nor a copy of its state into the heap.
pub(crate) struct Queue {
    items: crossbeam_queue::ArrayQueue<Record>,
    spares: crossbeam_queue::ArrayQueue<SpareSpan>,
    /// Runs the same way: emptied, nothing else holding them (their state is about 0.3 KiB).
    spare_runs: crossbeam_queue::ArrayQueue<Arc<RunState>>,
    batch_size: usize,
    signalled: std::sync::atomic::AtomicBool,
    closed: std::sync::atomic::AtomicBool,
    wake: Notify,
}

pub(crate) enum PushError {
    Full,
    Closed,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("len", &self.items.len()).field("spares", &self.spares.len()).finish()
    }
}

impl Queue {
    /// Spare spans kept at most: a batch's worth is what one delivery hands back (about
    /// 0.5 KiB each, so at most 0.5 MiB).
    const MAX_SPARES: usize = 1_024;
    /// Spare runs kept at most (at most about 80 KiB).
    const MAX_SPARE_RUNS: usize = 256;

    pub(crate) fn new(capacity: usize, batch_size: usize) -> Self {
        Self {
            items: crossbeam_queue::ArrayQueue::new(capacity.max(1)),
            spares: crossbeam_queue::ArrayQueue::new(batch_size.clamp(1, Self::MAX_SPARES)),
            spare_runs: crossbeam_queue::ArrayQueue::new(Self::MAX_SPARE_RUNS),
            batch_size,
            signalled: std::sync::atomic::AtomicBool::new(false),
            closed: std::sync::atomic::AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    pub(crate) fn push(&self, record: Record) -> Result<(), PushError> {
        if self.closed.load(Relaxed) {
            return Err(PushError::Closed);
        }
        self.items.push(record).map_err(|_| PushError::Full)?;
        // Loads before the swap: while the worker is behind, every push finds the batch ready and
        // the signal already given, and must not pay an atomic read-modify-write for that.
        if !self.signalled.load(Relaxed) && self.items.len() >= self.batch_size && !self.signalled.swap(true, Relaxed) {
            self.wake.notify_one();
        }
        Ok(())
    }

    pub(super) fn pop(&self) -> Option<Record> {
        self.items.pop()
    }

    /// An emptied span to fill, if the worker has handed one back.
    pub(crate) fn spare_span(&self) -> Option<SpareSpan> {
        self.spares.pop()
    }

    /// An emptied run to fill, if the worker has handed one back.
    pub(crate) fn spare_run(&self) -> Option<Arc<RunState>> {
        self.spare_runs.pop()
    }

    /// Hands back the spans and runs of a finished batch that nothing else holds any more,
    /// emptied. A run is most often held last by the last of its spans to be emptied.
    pub(super) fn recycle(&self, batch: Vec<Record>) {
        for record in batch {
            match record {
                Record::Span(span) => {
                    if let Ok(mut spare) = triomphe::Arc::try_unique(span) {
                        let run = spare.clear();
                        let _ = self.spares.push(spare);
                        self.recycle_run(run);
                    }
                }
                Record::Run(run) => self.recycle_run(Some(run)),
                _ => {}
            }
        }
    }

    fn recycle_run(&self, run: Option<Arc<RunState>>) {
        if let Some(mut run) = run
            && let Some(state) = Arc::get_mut(&mut run)
        {
            state.clear();
            let _ = self.spare_runs.push(run);
        }
    }

    /// Waits for a batch's worth; clears the signal so the next batch signals again.
    pub(super) async fn ready(&self) {
        self.wake.notified().await;
        self.signalled.store(false, Relaxed);
    }

    pub(super) fn close(&self) {
        self.closed.store(true, Relaxed);
    }
}
