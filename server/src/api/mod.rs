//! The public read API under `/api/v1/` (runs, spans, sessions, scores, metrics, export,
//! deletes) and its OpenAPI document at `/api/openapi.json`; the MCP server (`mcp`) rides on
//! the same reads. Every request carries a read key (`Authorization: Bearer`); everything it
//! reads is its key's project's, and another project's ids answer 404 exactly like ids that do
//! not exist. Lists page by an opaque cursor (keyset: stable while runs arrive). Errors are one
//! envelope: `{"error": {"code": "...", "message": "..."}}`.

mod export;
mod handlers;
pub mod mcp;
mod model;
pub mod openapi;
mod params;
mod reference;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use northstar_store::{AnyStore, KeyScope, StoreError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::key_use::KeyUse;
use crate::keys;

pub use model::ErrorBody;

/// What the API's handlers reach.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The dashboard's connections: API load cannot take ingest's.
    pub store: AnyStore,
    pub key_use: Arc<KeyUse>,
    /// Turns to export (see [`export::Exports`]).
    pub(crate) exports: Arc<export::Exports>,
    /// Spans that whole-run reads may hold at once.
    pub(crate) reads: ReadBudget,
}

impl ApiState {
    pub fn new(store: AnyStore, key_use: Arc<KeyUse>) -> Self {
        Self { store, key_use, exports: Arc::default(), reads: ReadBudget::new(READ_SPANS) }
    }
}

/// Spans the API's whole-run reads (a run's tree, its context) hold in memory at once. A run of
/// 100,000 spans takes a few hundred MiB while it is read and written out, so reads of large
/// runs wait for each other (within the request timeout) instead of adding up; small runs
/// share the budget and barely wait.
const READ_SPANS: u32 = 100_000;

/// What a client refused a turn (429) is told to wait.
const RETRY_AFTER_SECONDS: u32 = 5;

/// The spans whole-run reads hold at once.
#[derive(Debug, Clone)]
pub(crate) struct ReadBudget {
    spans: Arc<Semaphore>,
    total: u32,
}

impl ReadBudget {
    fn new(total: u32) -> Self {
        Self { spans: Arc::new(Semaphore::new(total as usize)), total }
    }

    /// The share a run of `spans` spans is read under (the whole budget for a run larger than
    /// it); held until the answer is made.
    pub(crate) async fn of(&self, spans: i64) -> OwnedSemaphorePermit {
        let share = u32::try_from(spans).unwrap_or(u32::MAX).clamp(1, self.total);
        self.spans.clone().acquire_many_owned(share).await.expect("the read budget is never closed")
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::ReadBudget;

    #[test]
    fn a_run_larger_than_the_read_budget_takes_all_of_it_and_small_runs_share_it() {
        let budget = ReadBudget::new(100);
        let large = budget.of(250).now_or_never().expect("a run larger than the budget is read alone");
        assert!(budget.of(1).now_or_never().is_none(), "any other read waits for it");
        drop(large);
        let small: Vec<_> = (0..4).map(|_| budget.of(25).now_or_never().expect("four quarters fit at once")).collect();
        assert!(budget.of(0).now_or_never().is_none(), "a run with no spans still takes a share");
        drop(small);
        assert!(budget.of(-1).now_or_never().is_some());
    }
}

/// The API's routes (the MCP server is mounted beside them by [`crate::app`]).
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/reference", get(reference::page))
        .route("/api/v1/runs", get(handlers::list_runs))
        .route("/api/v1/runs/{id}", get(handlers::get_run).delete(handlers::delete_run))
        .route("/api/v1/runs/{id}/context", get(handlers::run_context))
        .route("/api/v1/spans", get(handlers::list_spans))
        .route("/api/v1/spans/{id}", get(handlers::get_span))
        .route("/api/v1/sessions", get(handlers::list_sessions))
        .route("/api/v1/sessions/{id}", get(handlers::get_session).delete(handlers::delete_session))
        .route("/api/v1/scores", get(handlers::list_scores).post(handlers::add_score))
        .route("/api/v1/metrics", get(handlers::metrics))
        .route("/api/v1/export", get(export::export))
        .route("/api/v1/prompts/{slug}", get(handlers::get_prompt))
        .route("/api/v1/{*rest}", any(|| async { ApiError::not_found("no such endpoint") }))
        .with_state(state)
}

/// An API failure: its status and the envelope's code and message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: "invalid_request", message: message.into() }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, code: "not_found", message: message.into() }
    }

    fn unauthorized(message: &str) -> Self {
        Self { status: StatusCode::UNAUTHORIZED, code: "unauthorized", message: message.to_owned() }
    }

    /// 429 with `Retry-After` ([`RETRY_AFTER_SECONDS`]): a turn the server gives a few at a time
    /// is taken.
    pub(crate) fn busy(message: &str) -> Self {
        Self { status: StatusCode::TOO_MANY_REQUESTS, code: "busy", message: message.to_owned() }
    }

    fn forbidden(message: &str) -> Self {
        Self { status: StatusCode::FORBIDDEN, code: "forbidden", message: message.to_owned() }
    }

    /// A store failure: the caller's data (400), not found (404), the database away (503),
    /// else 500 (logged).
    pub(crate) fn store(err: StoreError) -> Self {
        match err {
            StoreError::Invalid(m) | StoreError::InvalidData(m) | StoreError::InvalidReference(m) => {
                Self::bad_request(m)
            }
            StoreError::NotFound(m) => Self::not_found(m),
            StoreError::ProjectNotFound(_) => Self::not_found("not found"),
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable; the API answers 503");
                Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "unavailable",
                    message: "the database is unavailable; retry later".into(),
                }
            }
            other => {
                tracing::error!(error = %other, "an API read failed");
                Self { status: StatusCode::INTERNAL_SERVER_ERROR, code: "internal", message: "internal error".into() }
            }
        }
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody::new(self.code, self.message);
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(header::RETRY_AFTER, RETRY_AFTER_SECONDS.into());
        }
        response
    }
}

/// The project of the request's read key.
#[derive(Debug, Clone, Copy)]
pub struct ReadKey {
    pub project: Uuid,
    pub key: Uuid,
}

impl ReadKey {
    /// The project of the read key in `Authorization: Bearer <key>`.
    pub(crate) async fn of(store: &AnyStore, key_use: &KeyUse, parts: &Parts) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(keys::bearer_token)
            .ok_or_else(|| ApiError::unauthorized("send a read key as Authorization: Bearer <key>"))?;
        let owner = key_use.resolve(store, token).await.map_err(ApiError::store)?;
        match owner {
            None => Err(ApiError::unauthorized("invalid or revoked API key")),
            Some(o) if o.scope != KeyScope::Read => {
                Err(ApiError::forbidden("this key can only send traces; create a read key for the API"))
            }
            Some(o) => Ok(Self { project: o.project, key: o.key }),
        }
    }
}

impl FromRequestParts<ApiState> for ReadKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        Self::of(&state.store, &state.key_use, parts).await
    }
}
