//! Counters of what happened to recorded data: nothing is lost without being counted here.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// A snapshot of the SDK's delivery counters (see [`crate::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records accepted onto the queue.
    pub enqueued: u64,
    /// Records the server accepted.
    pub sent: u64,
    /// Requests the server accepted.
    pub batches_sent: u64,
    /// Attempts that failed transiently (408, 429, 500, 502–504, transport errors, an
    /// unexpected answer); each batch concerned was tried again.
    pub retries: u64,
    /// Records dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Records dropped because the server rejected their batch with a non-retryable status.
    pub dropped_rejected: u64,
    /// Records still unsent when shutdown's timeout ran out.
    pub dropped_shutdown: u64,
    /// The server's answer to the last rejected batch, e.g. `400: runs[0].name is required`.
    pub last_rejection: Option<String>,
}

impl Stats {
    /// All dropped records, whatever the reason.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_rejected + self.dropped_shutdown
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) enqueued: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) batches_sent: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) dropped_rejected: AtomicU64,
    pub(crate) dropped_shutdown: AtomicU64,
    pub(crate) last_rejection: Mutex<Option<String>>,
    warned: AtomicBool,
    pub(crate) debug: bool,
}

impl Counters {
    pub(crate) fn new(debug: bool) -> Self {
        Self { debug, ..Self::default() }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            enqueued: self.enqueued.load(Relaxed),
            sent: self.sent.load(Relaxed),
            batches_sent: self.batches_sent.load(Relaxed),
            retries: self.retries.load(Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            dropped_rejected: self.dropped_rejected.load(Relaxed),
            dropped_shutdown: self.dropped_shutdown.load(Relaxed),
            last_rejection: self.last_rejection.lock().ok().and_then(|g| g.clone()),
        }
    }

    /// Counts a drop; the first drop of the process warns once (with `debug`).
    pub(crate) fn drop_records(&self, counter: &AtomicU64, n: u64, why: &str) {
        counter.fetch_add(n, Relaxed);
        if !self.warned.swap(true, Relaxed) {
            self.warn(&format!("dropping trace data ({why}); see northstar::stats() for counts"));
        }
    }

    pub(crate) fn warn(&self, message: &str) {
        if self.debug {
            eprintln!("[NorthStar] {message}");
        }
    }
}
