//! The batched ingest endpoint, contract-compatible with the original NorthStar's
//! `ingest-traces` function (see `docs/CONTRACT.md`).
//!
//! Order of checks (first failure wins): OPTIONS → 204; not POST → 405; bearer header → 401;
//! key lookup → 500 / 401; an operator's fixed rate limit, then a place among the requests
//! stored at once (`admission`) → 429; body (size, encoding, JSON, object, `schema_version`,
//! arrays, record count, records) → 413 / 415 / 400; storage → 400 for reference errors and
//! values the database refuses, 503 while it is away, 500 otherwise; 200. Authentication
//! happens before the body is read, and a body takes its share of the byte budget (`budget`)
//! before it is read.

mod admission;
mod body;
mod budget;
pub(crate) mod prompts;
mod rate_limit;
mod response;

pub use admission::Admission;
pub(crate) use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
pub(crate) use body::{discard as discard_body, read as read_body};
pub use budget::Budget;
use northstar_store::{KeyScope, Store, StoreError};
use northstar_wire::Batch;
pub use rate_limit::RateLimit;
use uuid::Uuid;

use crate::AppState;
use crate::keys;
pub(crate) use response::IngestError;

/// The handler for every method on the ingest routes.
pub(crate) async fn handle(State(state): State<AppState>, method: Method, headers: HeaderMap, body: Body) -> Response {
    if method == Method::OPTIONS {
        return response::preflight();
    }
    let started = std::time::Instant::now();
    let mut body = body;
    let outcome = ingest(&state, method, &headers, &mut body).await;
    crate::ops::INGEST_SECONDS.observe(started.elapsed());
    if outcome.is_err() {
        body::discard(body, state.max_body_bytes).await;
    }
    match outcome {
        Ok(()) => {
            metrics::counter!("northstar_ingest_requests_total", "status" => "200").increment(1);
            response::accepted()
        }
        Err(err) => {
            let status = err.status();
            metrics::counter!("northstar_ingest_requests_total", "status" => status.as_str().to_owned()).increment(1);
            if status.is_client_error() {
                // What an SDK sees as a reject (it drops or retries the batch).
                metrics::counter!("northstar_ingest_rejects_total", "reason" => err.reason()).increment(1);
            }
            err.into_response()
        }
    }
}

/// A place to store a request of `project`'s key, native or OTLP: within the key's rate limit
/// (`--rate-limit-per-second`), then within its share of the places (`admission`).
pub(crate) async fn admit(state: &AppState, project: Uuid) -> Result<admission::Place, IngestError> {
    if let Some(limiter) = &state.rate_limit {
        limiter.check(project)?;
    }
    state.admission.admit(project).await.ok_or(IngestError::RateLimited { retry_after_secs: 1 })
}

/// Takes `body` when it reads it: a refusal before that leaves it to the caller to discard.
async fn ingest(state: &AppState, method: Method, headers: &HeaderMap, body: &mut Body) -> Result<(), IngestError> {
    if method != Method::POST {
        return Err(IngestError::MethodNotAllowed);
    }
    let project = authenticate(state, headers).await?;
    let _place = admit(state, project).await?;

    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .map_or(state.max_body_bytes, |n| n.min(state.max_body_bytes));
    let mut share = state.ingest_budget.share(declared).await;
    let bytes = body::read(headers, std::mem::take(body), state.max_body_bytes).await?;
    share.grow_to(bytes.len()).await;
    let parsed = Batch::from_json_slice_limited(&bytes, state.max_batch_records);
    drop(bytes);
    let mut batch = parsed.map_err(IngestError::Contract)?;
    crate::costs::fill_missing_costs(&mut batch, &state.prices);

    let records = batch.len();
    match state.store.ingest_owned(project, batch).await {
        Ok(counts) => {
            tracing::debug!(%project, ?counts, "batch accepted");
            for (kind, n) in [
                ("session", counts.sessions),
                ("run", counts.runs),
                ("span", counts.spans),
                ("event", counts.events),
                ("score", counts.scores),
            ] {
                metrics::counter!("northstar_ingest_records_total", "type" => kind).increment(n as u64);
            }
            Ok(())
        }
        Err(StoreError::InvalidReference(detail)) => {
            tracing::info!(%project, %detail, "batch rejected: invalid project reference");
            Err(IngestError::InvalidReferences)
        }
        Err(StoreError::InvalidData(detail)) => {
            tracing::info!(%project, %detail, "batch rejected: the database refuses a value");
            Err(IngestError::InvalidData)
        }
        Err(StoreError::Unavailable(err)) => {
            tracing::warn!(%project, error = %err, "database unavailable; answering 503");
            Err(IngestError::Unavailable)
        }
        Err(err) => {
            tracing::error!(%project, error = %err, records, "storing a batch failed");
            Err(IngestError::Internal)
        }
    }
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Uuid, IngestError> {
    authenticate_for(state, headers, &[KeyScope::Ingest]).await
}

/// The project of the bearer key, when its scope is one of `scopes`; a key of another scope
/// answers as an unknown key does.
pub(crate) async fn authenticate_for(
    state: &AppState,
    headers: &HeaderMap,
    scopes: &[KeyScope],
) -> Result<Uuid, IngestError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(keys::bearer_token)
        .ok_or(IngestError::MissingAuthorization)?;
    match state.key_use.resolve(&state.store, token).await {
        Ok(Some(owner)) if scopes.contains(&owner.scope) => Ok(owner.project),
        Ok(_) => Err(IngestError::InvalidKey),
        Err(StoreError::Unavailable(err)) => {
            tracing::warn!(error = %err, "database unavailable during key lookup; answering 503");
            Err(IngestError::Unavailable)
        }
        Err(err) => {
            tracing::error!(error = %err, "API key lookup failed");
            Err(IngestError::Internal)
        }
    }
}
