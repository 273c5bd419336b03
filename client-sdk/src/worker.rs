//! The `northstar-flush` thread: it owns all I/O. It drains the bounded queue into a pending
//! buffer, sends batches of at most `batch_size` records when that many are pending or the
//! flush interval passes, retries transient failures with exponential backoff and jitter
//! (honouring `Retry-After`), drops and counts batches the server rejects, and answers flush and
//! shutdown requests, which arrive on a control channel separate from the data.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use northstar_wire::{Batch, Event, Score, Session};
use smallvec::SmallVec;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use uuid::Uuid;

use crate::options::Options;
use crate::redact::Redactor;
use crate::run::RunState;
use crate::span::{SpanRef, SpareSpan};
use crate::stats::Counters;

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
}

const _: () = assert!(std::mem::size_of::<Record>() <= 16);

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, id) = self.key();
        write!(f, "Record({kind}, {id})")
    }
}

impl Record {
    fn key(&self) -> (u8, Uuid) {
        match self {
            Record::Session(r) => (0, r.id),
            Record::Run(r) => (1, r.id),
            Record::Span(r) => (2, r.id),
            Record::Event(r) => (3, r.id),
            Record::Score(r) => (4, r.id),
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

    fn pop(&self) -> Option<Record> {
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
    fn recycle(&self, batch: Vec<Record>) {
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
    async fn ready(&self) {
        self.wake.notified().await;
        self.signalled.store(false, Relaxed);
    }

    fn close(&self) {
        self.closed.store(true, Relaxed);
    }
}

/// Requests to the worker, each with a reply.
#[derive(Debug)]
pub(crate) enum Control {
    /// Send everything pending; reply whether all of it was delivered.
    Flush(std::sync::mpsc::Sender<bool>),
    /// Send everything pending until the deadline, count the rest as dropped, stop.
    Shutdown(Duration, std::sync::mpsc::Sender<()>),
}

/// Records waiting to be sent. A record re-sent with the same id (a run or span that finished
/// while its `running` copy was still waiting) replaces the waiting copy in place, so it keeps
/// the earlier position (parents stay ahead of children) and travels once, in its final state.
#[derive(Debug, Default)]
struct Pending {
    items: VecDeque<Record>,
    index: HashMap<(u8, Uuid), u64>,
    head: u64,
}

impl Pending {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn push(&mut self, record: Record) {
        let key = record.key();
        if let Some(&seq) = self.index.get(&key)
            && seq >= self.head
            && let Some(slot) = usize::try_from(seq - self.head).ok().and_then(|i| self.items.get_mut(i))
        {
            *slot = record;
            return;
        }
        self.index.insert(key, self.head + self.items.len() as u64);
        self.items.push_back(record);
    }

    /// At most `n` records for one batch. Each span is followed by the events that waited in it,
    /// which from here on are records of their own (so a batch put back keeps them); a span
    /// whose events do not fit waits for the next batch.
    fn take(&mut self, n: usize) -> Vec<Record> {
        let mut batch = Vec::with_capacity(n.min(self.items.len()));
        while batch.len() < n {
            let Some(record) = self.items.front() else { break };
            let events = match record {
                Record::Span(span) => match span.take_events(n - batch.len(), batch.is_empty()) {
                    Some(events) => events,
                    None => break,
                },
                _ => SmallVec::new(),
            };
            let Some(record) = self.items.pop_front() else { break };
            let key = record.key();
            if self.index.get(&key) == Some(&self.head) {
                self.index.remove(&key);
            }
            self.head += 1;
            batch.push(record);
            batch.extend(events.into_iter().map(|e| Record::Event(Box::new(e))));
        }
        batch
    }

    /// Gives up on everything pending (at shutdown) and returns how many records that was,
    /// counting the events that waited inside spans. Taking those events also marks each span
    /// as read, so an event recorded on it later goes to the closed queue and is counted there.
    fn abandon(&mut self) -> usize {
        let records: Vec<Record> = self.items.drain(..).collect();
        self.index.clear();
        let waiting: usize = records
            .iter()
            .map(|r| match r {
                Record::Span(span) => span.take_events(usize::MAX, true).map_or(0, |e| e.len()),
                _ => 0,
            })
            .sum();
        records.len() + waiting
    }

    /// Puts a batch that could not be sent back in front, where it was; newer copies of its
    /// records that arrived meanwhile take its place.
    fn requeue(&mut self, batch: Vec<Record>) {
        let rest: Vec<Record> = self.items.drain(..).collect();
        self.index.clear();
        self.head = 0;
        for record in batch.into_iter().chain(rest) {
            self.push(record);
        }
    }
}

enum Outcome {
    Sent,
    Rejected,
    /// Transient failure after every attempt: keep the batch for later.
    Later,
}

pub(crate) struct Worker {
    queue: Arc<Queue>,
    control: mpsc::UnboundedReceiver<Control>,
    /// Signalled by shutdown so that a delivery in progress (say, against a hanging server)
    /// gives way at once instead of finishing its attempts first.
    stop: Arc<Notify>,
    options: Options,
    counters: Arc<Counters>,
    pending: Pending,
    transport: Transport,
}

/// The HTTP side: body encoding, attempts, backoff.
struct Transport {
    http: reqwest::Client,
    endpoint: String,
    api_key: String,
    options: Options,
    redactor: Redactor,
    counters: Arc<Counters>,
}

impl Worker {
    pub(crate) fn new(
        queue: Arc<Queue>,
        control: mpsc::UnboundedReceiver<Control>,
        stop: Arc<Notify>,
        counters: Arc<Counters>,
        (api_key, endpoint): (String, String),
        options: Options,
    ) -> Self {
        // One client for the life of the worker: connections are reused across batches.
        let http = reqwest::Client::builder().timeout(options.request_timeout).build().unwrap_or_default();
        let transport = Transport {
            http,
            endpoint,
            api_key,
            options: options.clone(),
            redactor: Redactor::new(&options),
            counters: counters.clone(),
        };
        Self { queue, control, stop, options, counters, pending: Pending::default(), transport }
    }

    /// Spawns the worker on its own thread with its own single-threaded runtime.
    pub(crate) fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new().name("northstar-flush".into()).spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(self.run()),
                Err(err) => eprintln!("[NorthStar] cannot start the flush runtime: {err}"),
            }
        })
    }

    async fn run(mut self) {
        crate::client::anchor_clock();
        let mut tick = tokio::time::interval(self.options.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            let room = self.pending.len() < self.options.max_queue_size;
            tokio::select! {
                biased;
                control = self.control.recv() => match control {
                    Some(Control::Flush(reply)) => {
                        self.drain();
                        let delivered = self.send_all(None).await;
                        let _ = reply.send(delivered);
                    }
                    Some(Control::Shutdown(timeout, reply)) => {
                        self.shutdown(timeout).await;
                        let _ = reply.send(());
                        return;
                    }
                    None => {
                        self.shutdown(self.options.shutdown_timeout).await;
                        return;
                    }
                },
                () = self.queue.ready(), if room => {
                    self.drain();
                    if self.pending.len() >= self.options.batch_size {
                        self.send_full_batches().await;
                    }
                },
                _ = tick.tick() => {
                    crate::client::anchor_clock();
                    self.drain();
                    if self.pending.len() > 0 {
                        self.send_all(None).await;
                    }
                }
            }
        }
    }

    /// Moves queued records into the pending buffer, up to its bound.
    fn drain(&mut self) {
        while self.pending.len() < self.options.max_queue_size {
            match self.queue.pop() {
                Some(record) => self.pending.push(record),
                None => break,
            }
        }
    }

    async fn send_full_batches(&mut self) {
        while self.pending.len() >= self.options.batch_size {
            if matches!(self.send_one(None).await, Outcome::Later) {
                return;
            }
            self.drain();
        }
    }

    /// Sends until nothing is pending. True only if every batch was accepted: false if one had
    /// to be kept for later (the rest then waits too) or was rejected and dropped.
    async fn send_all(&mut self, deadline: Option<Instant>) -> bool {
        let mut all_accepted = true;
        while self.pending.len() > 0 {
            match self.send_one(deadline).await {
                Outcome::Sent => {}
                Outcome::Rejected => all_accepted = false,
                Outcome::Later => return false,
            }
            self.drain();
        }
        all_accepted
    }

    /// Sends one batch; a batch that could not be delivered yet goes back in front.
    async fn send_one(&mut self, deadline: Option<Instant>) -> Outcome {
        let batch = self.pending.take(self.options.batch_size);
        let outcome = match deadline {
            None => tokio::select! {
                outcome = self.transport.deliver(&batch) => outcome,
                () = self.stop.notified() => Outcome::Later,
            },
            Some(deadline) => {
                tokio::time::timeout_at(deadline, self.transport.deliver(&batch)).await.unwrap_or(Outcome::Later)
            }
        };
        if matches!(outcome, Outcome::Later) {
            self.pending.requeue(batch);
        } else {
            self.queue.recycle(batch);
        }
        outcome
    }

    async fn shutdown(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        self.drain();
        while !self.send_all(Some(deadline)).await && self.pending.len() > 0 && Instant::now() < deadline {
            tokio::time::sleep(self.options.retry_base_delay.min(deadline - Instant::now())).await;
        }
        self.queue.close();
        while let Some(record) = self.queue.pop() {
            self.pending.push(record);
        }
        let left = self.pending.abandon() as u64;
        if left > 0 {
            self.counters.drop_records(&self.counters.dropped_shutdown, left, "shutdown timed out");
        }
    }
}

impl Transport {
    fn body(&self, records: &[Record]) -> Vec<u8> {
        let mut batch = Batch::default();
        for record in records {
            match record.clone() {
                Record::Session(mut r) => {
                    self.redactor.apply(&mut r.metadata);
                    batch.sessions.push(*r);
                }
                Record::Run(state) => {
                    let mut r = state.snapshot();
                    self.redactor.apply(&mut r.metadata);
                    if let Some(e) = r.error.as_mut() {
                        self.redactor.apply(e);
                    }
                    batch.runs.push(r);
                }
                Record::Span(state) => {
                    let mut r = state.snapshot();
                    self.redactor.apply(&mut r.attributes);
                    if let Some(e) = r.error.as_mut() {
                        self.redactor.apply(e);
                    }
                    batch.spans.push(r);
                }
                Record::Event(mut r) => {
                    self.redactor.apply(&mut r.content);
                    self.redactor.apply(&mut r.attributes);
                    batch.events.push(*r);
                }
                Record::Score(r) => batch.scores.push(*r),
            }
        }
        batch.to_json()
    }

    /// Up to `max_attempts` attempts, with backoff between them.
    async fn deliver(&self, records: &[Record]) -> Outcome {
        let body = self.body(records);
        let n = records.len() as u64;
        for attempt in 1..=self.options.max_attempts {
            let response = self
                .http
                .post(&self.endpoint)
                .bearer_auth(&self.api_key)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let retry_after = match response {
                Err(err) => {
                    self.counters.warn(&format!("sending a batch failed: {err}"));
                    None
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = response.text().await.unwrap_or_default();
                    if status == 200 && is_accepted(&text) {
                        self.counters.sent.fetch_add(n, Relaxed);
                        self.counters.batches_sent.fetch_add(1, Relaxed);
                        return Outcome::Sent;
                    }
                    if status != 200 && !matches!(status, 408 | 429 | 500 | 502 | 503 | 504) {
                        let message = format!("{status}: {}", error_message(&text));
                        self.counters.warn(&format!("the server rejected a batch of {n} records ({message})"));
                        if let Ok(mut last) = self.counters.last_rejection.lock() {
                            *last = Some(message);
                        }
                        self.counters.drop_records(&self.counters.dropped_rejected, n, "batch rejected by the server");
                        return Outcome::Rejected;
                    }
                    self.counters.warn(&format!("the server answered {status}; retrying"));
                    retry_after
                }
            };
            // Every transient failure is retried: now, or at the next flush once attempts run out.
            self.counters.retries.fetch_add(1, Relaxed);
            if attempt < self.options.max_attempts {
                tokio::time::sleep(self.backoff(attempt, retry_after)).await;
            }
        }
        Outcome::Later
    }

    /// base × 2^(attempt−1) × jitter in [0.5, 1.5), at most 10 s; at least `Retry-After` (≤ 60 s).
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.options.retry_base_delay.saturating_mul(1 << (attempt - 1).min(16));
        let jittered = exp.mul_f64(0.5 + fastrand::f64()).min(Duration::from_secs(10));
        retry_after.map_or(jittered, |r| r.min(Duration::from_secs(60)).max(jittered))
    }
}

fn is_accepted(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .is_ok_and(|v| v.get("accepted") == Some(&serde_json::Value::Bool(true)))
}

fn error_message(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    fn session(id: u128, metadata: serde_json::Value) -> Record {
        Record::Session(Box::new(Session { id: Uuid::from_u128(id), created_at: Utc::now(), ended_at: None, metadata }))
    }

    #[test]
    fn a_later_copy_replaces_the_waiting_one_in_place() {
        let mut p = Pending::default();
        p.push(session(1, json!({"v": 1})));
        p.push(session(2, json!({})));
        p.push(session(1, json!({"v": 2})));
        assert_eq!(p.len(), 2);
        let batch = p.take(10);
        assert!(matches!(&batch[0], Record::Session(s) if s.id == Uuid::from_u128(1) && s.metadata == json!({"v": 2})));
        // Once taken, a new copy is a new record.
        p.push(session(1, json!({"v": 3})));
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn a_requeued_batch_keeps_its_place_and_takes_newer_copies() {
        let mut p = Pending::default();
        p.push(session(1, json!({"v": 1})));
        p.push(session(2, json!({})));
        let batch = p.take(2);
        p.push(session(3, json!({})));
        p.push(session(1, json!({"v": 2})));
        p.requeue(batch);
        let order: Vec<_> = p.take(10).into_iter().map(|r| r.key().1.as_u128()).collect();
        assert_eq!(order, [1, 2, 3]);
        p.requeue(vec![session(1, json!({"v": 3}))]);
        assert!(matches!(&p.take(1)[0], Record::Session(s) if s.metadata == json!({"v": 3})));
    }
}
