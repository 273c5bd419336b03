//! Where batches go. A [`Transport`] makes one attempt at delivering one batch; the worker owns
//! everything around it (attempts, backoff, `Retry-After`, counting what was sent, rejected or
//! dropped). [`HttpTransport`] posts to the ingest endpoint and is what a client uses unless
//! [`crate::Options::transport`] names another; with the `test-util` feature,
//! [`MemoryTransport`] keeps the batches in memory, so tests (the SDK's and yours) run without a
//! server.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use northstar_wire::Batch;

/// The future of one attempt.
pub type Attempt<'a> = Pin<Box<dyn Future<Output = Delivery> + Send + 'a>>;

/// Delivers batches of records (the ingest contract's `Batch`) somewhere.
///
/// Implement it to send elsewhere or to observe what the SDK sends; install it with
/// [`crate::Options::transport`]. It runs on the SDK's `northstar-flush` thread, inside a
/// single-threaded tokio runtime.
pub trait Transport: Send + Sync + 'static {
    /// One attempt at delivering `batch`.
    fn send<'a>(&'a self, batch: &'a Batch) -> Attempt<'a>;
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Stored: the batch is done.
    Accepted,
    /// Refused for good (the server's answer to a batch it will never take): the batch is dropped
    /// and counted, and the reason kept as [`crate::Stats::last_rejection`].
    Rejected(String),
    /// Not delivered this time (no connection, a timeout, 408, 429, 5xx): tried again, after at
    /// least `retry_after` when the server named one, and kept for a later flush once the
    /// attempts run out.
    Retry { reason: String, retry_after: Option<Duration> },
}

/// The NorthStar ingest endpoint over HTTP(S): the batch as JSON, `Authorization: Bearer <key>`.
#[derive(Debug)]
pub struct HttpTransport {
    http: reqwest::Client,
    endpoint: String,
    api_key: String,
}

impl HttpTransport {
    /// A transport to `endpoint` (the full ingest URL) with `api_key`, each attempt bounded by
    /// `timeout`. One HTTP client for its life: connections are reused across batches.
    #[must_use]
    pub fn new(endpoint: impl Into<String>, api_key: impl Into<String>, timeout: Duration) -> Self {
        let http = reqwest::Client::builder().timeout(timeout).build().unwrap_or_default();
        Self { http, endpoint: endpoint.into(), api_key: api_key.into() }
    }

    async fn post(&self, batch: &Batch) -> Delivery {
        let response = self
            .http
            .post(&self.endpoint)
            .bearer_auth(&self.api_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(batch.to_json())
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(err) => return Delivery::Retry { reason: format!("sending a batch failed: {err}"), retry_after: None },
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        if status == 200 && is_accepted(&text) {
            Delivery::Accepted
        } else if status != 200 && !matches!(status, 408 | 429 | 500 | 502 | 503 | 504) {
            Delivery::Rejected(format!("{status}: {}", error_message(&text)))
        } else {
            Delivery::Retry { reason: format!("the server answered {status}; retrying"), retry_after }
        }
    }
}

impl Transport for HttpTransport {
    fn send<'a>(&'a self, batch: &'a Batch) -> Attempt<'a> {
        Box::pin(self.post(batch))
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

#[cfg(feature = "test-util")]
pub use memory::MemoryTransport;

#[cfg(feature = "test-util")]
mod memory {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use northstar_wire::Batch;

    use super::{Attempt, Delivery, Transport};

    /// Keeps every batch in memory instead of sending it (feature `test-util`). Clones share
    /// one store: keep a clone, give one to [`crate::Options::transport`], and read what the
    /// SDK delivered after [`crate::flush`]. Answers can be scripted ([`Self::answer_next`]) to
    /// test what an application does when the server refuses or is away.
    ///
    /// ```
    /// use northstar::{Client, MemoryTransport, Options};
    ///
    /// let sent = MemoryTransport::new();
    /// let client = Client::new(Options::default().transport(sent.clone())).expect("valid options");
    /// drop(client.session().run("answer-question"));
    /// assert!(client.flush(std::time::Duration::from_secs(5)));
    /// assert_eq!(sent.records().runs[0].name, "answer-question");
    /// ```
    #[derive(Debug, Clone, Default)]
    pub struct MemoryTransport {
        state: Arc<Mutex<State>>,
    }

    #[derive(Debug, Default)]
    struct State {
        accepted: Vec<Batch>,
        script: VecDeque<Delivery>,
        attempts: usize,
    }

    impl MemoryTransport {
        #[must_use]
        pub fn new() -> Self {
            Self::default()
        }

        fn state(&self) -> std::sync::MutexGuard<'_, State> {
            self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        /// The batches accepted so far, in the order they were delivered.
        #[must_use]
        pub fn batches(&self) -> Vec<Batch> {
            self.state().accepted.clone()
        }

        /// Every record accepted so far, as the server would store it: one batch, a record sent
        /// more than once (a run sent running, then finished) folded into its last state.
        #[must_use]
        pub fn records(&self) -> Batch {
            Batch::merge(self.batches())
        }

        /// How many attempts the SDK has made, accepted or not.
        #[must_use]
        pub fn attempts(&self) -> usize {
            self.state().attempts
        }

        /// The answers to the next attempts, in order; once they are used up every attempt is
        /// accepted again. An attempt answered otherwise than [`Delivery::Accepted`] keeps
        /// nothing.
        pub fn answer_next(&self, answers: impl IntoIterator<Item = Delivery>) {
            self.state().script.extend(answers);
        }
    }

    impl Transport for MemoryTransport {
        fn send<'a>(&'a self, batch: &'a Batch) -> Attempt<'a> {
            let mut state = self.state();
            state.attempts += 1;
            let answer = state.script.pop_front().unwrap_or(Delivery::Accepted);
            if answer == Delivery::Accepted {
                state.accepted.push(batch.clone());
            }
            Box::pin(std::future::ready(answer))
        }
    }
}
