//! The change feed: which runs a committed write touched, for pages that follow a project live.
//!
//! On Postgres a write announces itself with `NOTIFY` after it commits (a group of ingest
//! requests in one statement), and every store that
//! has a subscriber `LISTEN`s (one connection, opened on the first subscription), so that every
//! server sharing the database hears every write, whichever server took it. On SQLite the feed
//! is in-process: one channel per database file, shared by every store this process opened on
//! it (the server's ingest and dashboard stores are two).
//!
//! A change says little on purpose (the project, the runs): a page that hears one reads what
//! it shows again. Changes are dropped for a subscriber that falls behind (it hears
//! [`tokio::sync::broadcast::error::RecvError::Lagged`] and should read everything again).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use northstar_wire::Batch;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::TraceBatch;

/// The Postgres notification channel.
pub(crate) const CHANNEL: &str = "northstar_changes";

/// Runs a change lists at most; beyond, it says "many" (`runs` is `None`).
const MAX_LISTED: usize = 100;

/// A committed write in `project`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub project: Uuid,
    /// The runs it touched (spans, events, scores, the run itself); `None` when too many to
    /// list (read everything of the project again).
    pub runs: Option<Vec<Uuid>>,
}

impl Change {
    fn new(project: Uuid, runs: impl Iterator<Item = Uuid>) -> Self {
        let mut runs: Vec<Uuid> = runs.collect();
        runs.sort_unstable();
        runs.dedup();
        Self { project, runs: (runs.len() <= MAX_LISTED).then_some(runs) }
    }

    pub(crate) fn of_batch(project: Uuid, batch: &Batch) -> Self {
        let runs = batch.runs.iter().map(|r| r.id);
        let spans = batch.spans.iter().map(|s| s.run_id);
        let events = batch.events.iter().map(|e| e.run_id);
        let scores = batch.scores.iter().map(|s| s.trace_id);
        Self::new(project, runs.chain(spans).chain(events).chain(scores))
    }

    pub(crate) fn of_traces(project: Uuid, batch: &TraceBatch) -> Self {
        Self::new(project, batch.traces.iter().map(|t| t.run_id))
    }

    pub(crate) fn of_run(project: Uuid, run: Uuid) -> Self {
        Self::new(project, std::iter::once(run))
    }

    /// Whether it may have touched `run`.
    #[must_use]
    pub fn touches(&self, run: Uuid) -> bool {
        self.runs.as_ref().is_none_or(|r| r.binary_search(&run).is_ok())
    }

    /// `project run…`, or `project *`: ids only, so it needs no quoting and stays far below
    /// `NOTIFY`'s 8,000 bytes.
    pub(crate) fn payload(&self) -> String {
        let mut text = self.project.to_string();
        match &self.runs {
            None => text.push_str(" *"),
            Some(runs) => runs.iter().for_each(|r| {
                text.push(' ');
                text.push_str(&r.to_string());
            }),
        }
        text
    }

    pub(crate) fn parse(payload: &str) -> Option<Self> {
        let mut words = payload.split(' ');
        let project = words.next()?.parse().ok()?;
        let rest: Vec<&str> = words.collect();
        if rest == ["*"] {
            return Some(Self { project, runs: None });
        }
        let runs = rest.iter().map(|r| r.parse().ok()).collect::<Option<Vec<Uuid>>>()?;
        Some(Self::new(project, runs.into_iter()))
    }
}

/// Where changes are published to this process's subscribers.
#[derive(Debug, Clone)]
pub(crate) struct Feed(broadcast::Sender<Change>);

impl Feed {
    pub(crate) fn new() -> Self {
        Self(broadcast::channel(1024).0)
    }

    pub(crate) fn send(&self, change: Change) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.0.send(change);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.0.subscribe()
    }

    pub(crate) fn subscribers(&self) -> usize {
        self.0.receiver_count()
    }

    /// The feed of the SQLite database at `path` in this process (a new one for an in-memory
    /// database, which no other store can open).
    pub(crate) fn of_file(path: Option<&Path>) -> Self {
        static FILES: Mutex<Option<HashMap<PathBuf, Feed>>> = Mutex::new(None);
        let Some(path) = path else { return Self::new() };
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let mut files = FILES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        files.get_or_insert_default().entry(path).or_insert_with(Self::new).clone()
    }
}

/// Postgres: a connection listening on [`CHANNEL`].
pub(crate) async fn listener(pool: &sqlx::PgPool) -> Option<sqlx::postgres::PgListener> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.ok()?;
    listener.listen(CHANNEL).await.ok()?;
    Some(listener)
}

/// Postgres: forwards every `NOTIFY` on [`CHANNEL`] to `feed` while anyone subscribes to it,
/// starting with `first` (already listening) and reconnecting after a lost connection (what
/// was announced meanwhile is not heard: a page reads again when it reconnects). Ends,
/// clearing `running`, once nobody subscribes.
pub(crate) async fn listen(
    pool: sqlx::PgPool,
    mut first: Option<sqlx::postgres::PgListener>,
    feed: Feed,
    running: Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    loop {
        while feed.subscribers() > 0 {
            let connected = match first.take() {
                Some(listener) => Some(listener),
                None => listener(&pool).await,
            };
            if let Some(mut listener) = connected {
                while let Ok(Some(note)) = listener.try_recv().await {
                    if let Some(change) = Change::parse(note.payload()) {
                        feed.send(change);
                    }
                    if feed.subscribers() == 0 {
                        break;
                    }
                }
            }
            if feed.subscribers() > 0 {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
        running.store(false, Ordering::SeqCst);
        // A subscriber that came after the last check but saw this task running: keep going.
        if feed.subscribers() == 0 || running.swap(true, Ordering::SeqCst) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_travels_as_ids_and_says_many_beyond_the_limit() {
        let project = Uuid::new_v4();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let change = Change::new(project, [b, a, b].into_iter());
        assert_eq!(Change::parse(&change.payload()), Some(change.clone()));
        assert!(change.touches(a) && change.touches(b) && !change.touches(Uuid::new_v4()));
        let many = Change::new(project, (0..=MAX_LISTED).map(|_| Uuid::new_v4()));
        assert_eq!(many.runs, None);
        assert_eq!(Change::parse(&many.payload()), Some(many.clone()));
        assert!(many.touches(Uuid::new_v4()));
        assert_eq!(Change::parse("not an id"), None);
        assert_eq!(Change::parse(&format!("{project} nonsense")), None);
    }
}
