//! The `northstar-flush` thread: it owns all I/O. It drains the bounded queue (`queue`) into a
//! pending buffer (`pending`), sends batches of at most `batch_size` records when that many are
//! pending or the flush interval passes, through a [`Transport`] (`transport`: HTTP to the
//! server by default), retries transient failures with exponential backoff and jitter
//! (honouring `Retry-After`), drops and counts batches the server rejects, and answers flush and
//! shutdown requests, which arrive on a control channel separate from the data.

mod pending;
mod queue;
pub(crate) mod transport;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use northstar_wire::Batch;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::options::Options;
use crate::redact::Redactor;
use crate::stats::Counters;
use pending::Pending;
pub(crate) use queue::{PushError, Queue, Record};
pub use transport::{Delivery, Transport};

/// Requests to the worker, each with a reply.
#[derive(Debug)]
pub(crate) enum Control {
    /// Send everything pending; reply whether all of it was delivered.
    Flush(std::sync::mpsc::Sender<bool>),
    /// Send everything pending until the deadline, count the rest as dropped, stop.
    Shutdown(Duration, std::sync::mpsc::Sender<()>),
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
    sender: Sender,
}

/// One batch's way out: its body (redacted), the transport's attempts, backoff between them.
struct Sender {
    transport: Arc<dyn Transport>,
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
        transport: Arc<dyn Transport>,
        options: Options,
    ) -> Self {
        let sender = Sender {
            transport,
            options: options.clone(),
            redactor: Redactor::new(&options),
            counters: counters.clone(),
        };
        Self { queue, control, stop, options, counters, pending: Pending::default(), sender }
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
        crate::clock::anchor_clock();
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
                    crate::clock::anchor_clock();
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
                outcome = self.sender.deliver(&batch) => outcome,
                () = self.stop.notified() => Outcome::Later,
            },
            Some(deadline) => {
                tokio::time::timeout_at(deadline, self.sender.deliver(&batch)).await.unwrap_or(Outcome::Later)
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

impl Sender {
    /// The records as a batch, each payload redacted.
    fn batch(&self, records: &[Record]) -> Batch {
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
                Record::PromptLink(r) => batch.prompt_links.push(*r),
            }
        }
        batch
    }

    /// Up to `max_attempts` attempts, with backoff between them.
    async fn deliver(&self, records: &[Record]) -> Outcome {
        let batch = self.batch(records);
        let n = records.len() as u64;
        for attempt in 1..=self.options.max_attempts {
            let retry_after = match self.transport.send(&batch).await {
                Delivery::Accepted => {
                    self.counters.sent.fetch_add(n, Relaxed);
                    self.counters.batches_sent.fetch_add(1, Relaxed);
                    return Outcome::Sent;
                }
                Delivery::Rejected(message) => {
                    self.counters.warn(&format!("the server rejected a batch of {n} records ({message})"));
                    if let Ok(mut last) = self.counters.last_rejection.lock() {
                        *last = Some(message);
                    }
                    self.counters.drop_records(&self.counters.dropped_rejected, n, "batch rejected by the server");
                    return Outcome::Rejected;
                }
                Delivery::Retry { reason, retry_after } => {
                    self.counters.warn(&reason);
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
