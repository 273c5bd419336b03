//! The original's `prompts` function (reference §1.10): `POST …/prompts/resolve` with the
//! project's key answers the prompt version an SDK asked for, with the ingest endpoint's CORS
//! headers, authentication and messages. One deliberate fix: `"version": null`, which the
//! original SDK sends by default and the original refused, means "no version" (the label's).
//!
//! Served at `/functions/v1/prompts/…` (what the SDK derives from the ingest URL) and at
//! `/api/prompts/resolve` (what it derives from any other endpoint, and which the original
//! never served). Both ingest and read keys may resolve.

use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use northstar_store::{KeyScope, PromptVersion, Store, StoreError};
use serde_json::{Value, json};

use super::{Body, IngestError, authenticate_for, response};
use crate::AppState;

/// Where the original SDK sends a resolve for a server whose ingest URL is not the Supabase
/// function's.
pub(crate) const FALLBACK_PATH: &str = "/api/prompts/resolve";
/// The function's prefix; the path must end with `/resolve`.
pub(crate) const FUNCTION_PATH: &str = "/functions/v1/prompts";

/// The handler for every method on the prompts function's routes.
pub(crate) async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method == Method::OPTIONS {
        return response::preflight();
    }
    match resolve(&state, &method, &uri, &headers, body).await {
        Ok(version) => response::ok_json(&json!({ "prompt_version": wire_version(&version) })),
        Err(err) => err.into_response(),
    }
}

/// A version as the original answered it: these keys only (its SDK forbids any other).
pub(crate) fn wire_version(v: &PromptVersion) -> Value {
    json!({
        "id": v.id,
        "prompt_id": v.prompt_id,
        "version_number": v.version_number,
        "content": v.content,
        "model": v.model,
        "temperature": v.temperature,
        "max_tokens": v.max_tokens,
        "variables": v.variables,
        "content_hash": v.content_hash,
    })
}

/// Trimmed and non-empty, as the original reads `slug`, `name` and `label`.
fn text(body: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

async fn resolve(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<PromptVersion, IngestError> {
    if method != Method::POST {
        return Err(IngestError::MethodNotAllowed);
    }
    if !uri.path().ends_with("/resolve") {
        return Err(IngestError::NotFound);
    }
    let project = authenticate_for(state, headers, &[KeyScope::Ingest, KeyScope::Read]).await?;
    let bytes = super::read_body(headers, body, state.max_body_bytes).await?;
    let parsed: Value = serde_json::from_slice(&bytes)
        .map_err(|_| IngestError::Contract(northstar_wire::ContractError::InvalidJson))?;
    let Value::Object(body) = parsed else {
        return Err(IngestError::Contract(northstar_wire::ContractError::NotAnObject));
    };
    let slug =
        text(&body, "slug").or_else(|| text(&body, "name")).ok_or(IngestError::BadRequest("slug is required"))?;
    let label = text(&body, "label").unwrap_or_else(|| "prod".to_owned());
    let version = match body.get("version") {
        None | Some(Value::Null) => None,
        // An integer, as JavaScript's `Number.isInteger` reads JSON (so `2.0` is 2).
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Some(i),
            #[allow(clippy::cast_possible_truncation)]
            (None, Some(f)) if f.is_finite() && f.fract() == 0.0 => {
                Some(if f.abs() < 1e18 { f as i64 } else { i64::MAX })
            }
            _ => return Err(IngestError::BadRequest("version must be an integer")),
        },
        Some(_) => return Err(IngestError::BadRequest("version must be an integer")),
    };
    match state.store.resolve_prompt(project, &slug, &label, version).await {
        Ok(Some((_, version))) => Ok(version),
        Ok(None) => Err(IngestError::PromptNotFound),
        Err(StoreError::Unavailable(err)) => {
            tracing::warn!(error = %err, "database unavailable during a prompt resolve; answering 503");
            Err(IngestError::Unavailable)
        }
        Err(err) => {
            tracing::error!(%project, error = %err, "resolving a prompt failed");
            Err(IngestError::Internal)
        }
    }
}
