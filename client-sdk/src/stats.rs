//! Counters of what happened to recorded data: nothing is lost without being counted here.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};

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
    pub(crate) enqueued: Enqueued,
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
            enqueued: self.enqueued.total(),
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

/// The count of records accepted, kept per recording thread: each thread adds to a cell that no
/// other thread writes, with a load and a store where a shared counter costs an atomic
/// read-modify-write (one or two per span; BENCHMARKS.md §1). A thread sees its own records counted at once, as with one shared counter;
/// the total is the sum of the cells. Threads past [`Enqueued::CELLS`] share one atomic counter.
pub(crate) struct Enqueued {
    cells: Box<[Cell]>,
    shared: AtomicU64,
}

/// One thread's cell, on a cache line of its own so that threads recording side by side do not
/// pass the line between their cores.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Cell(AtomicU64);

impl Default for Enqueued {
    fn default() -> Self {
        Self { cells: (0..Self::CELLS).map(|_| Cell::default()).collect(), shared: AtomicU64::new(0) }
    }
}

impl std::fmt::Debug for Enqueued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.total())
    }
}

impl Enqueued {
    /// Recording threads with a cell of their own at one time (a cell is handed on when its
    /// thread ends).
    const CELLS: usize = 64;

    pub(crate) fn add(&self, n: u64) {
        match ThreadCell::index() {
            Some(i) => {
                // Only this thread writes the cell: no other write can fall between the two.
                let cell = &self.cells[i].0;
                cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
            }
            None => {
                self.shared.fetch_add(n, Relaxed);
            }
        }
    }

    fn total(&self) -> u64 {
        self.cells.iter().fold(self.shared.load(Relaxed), |sum, c| sum.wrapping_add(c.0.load(Relaxed)))
    }
}

/// The cell index a thread holds while it lives; given back for another thread when it ends.
/// The mutex orders the last store of a thread before the first of the next holder of its
/// cell, so the cell's count carries on.
struct ThreadCell(Option<usize>);

/// Cells never held (from `.0` up) and cells given back.
static FREE_CELLS: Mutex<(usize, Vec<usize>)> = Mutex::new((0, Vec::new()));

thread_local! {
    static THREAD_CELL: ThreadCell = ThreadCell::claim();
}

impl ThreadCell {
    fn claim() -> Self {
        let mut free = FREE_CELLS.lock().unwrap_or_else(PoisonError::into_inner);
        let index = free.1.pop().or_else(|| {
            let next = free.0;
            (next < Enqueued::CELLS).then(|| {
                free.0 += 1;
                next
            })
        });
        Self(index)
    }

    /// This thread's cell; `None` past [`Enqueued::CELLS`] threads, or while the thread's
    /// locals are being destroyed.
    fn index() -> Option<usize> {
        THREAD_CELL.try_with(|c| c.0).ok().flatten()
    }
}

impl Drop for ThreadCell {
    fn drop(&mut self) {
        if let Some(index) = self.0 {
            FREE_CELLS.lock().unwrap_or_else(PoisonError::into_inner).1.push(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Enqueued;

    #[test]
    fn counts_from_many_threads_add_up_including_threads_past_the_cells() {
        let enqueued = Enqueued::default();
        // More threads than cells at once, so some count through the shared counter, and more
        // threads after them that take over cells given back.
        for _ in 0..2 {
            std::thread::scope(|s| {
                for _ in 0..Enqueued::CELLS + 8 {
                    s.spawn(|| {
                        for _ in 0..1_000 {
                            enqueued.add(1);
                        }
                        // Seen at once by the thread that counted.
                        assert!(enqueued.total() >= 1_000);
                    });
                }
            });
        }
        assert_eq!(enqueued.total(), 2 * (Enqueued::CELLS as u64 + 8) * 1_000);
    }
}
