//! Every ingest (and prompts function) response: the CORS headers on all of them, `{"error": …}` bodies, and the one
//! error enum of this boundary.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use northstar_wire::ContractError;

/// The original's CORS headers, exactly, on every ingest response (errors included).
/// Written by hand rather than with `tower_http::cors`, which answers preflights only when an
/// `Origin` is sent and adds `Vary`: the contract is these three headers, always.
const CORS: [(header::HeaderName, &str); 3] = [
    (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
    (header::ACCESS_CONTROL_ALLOW_HEADERS, "authorization, content-type"),
    (header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"),
];

fn with_cors(status: StatusCode, body: Body, json: bool) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in CORS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if json {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}

/// 204 with the CORS headers and nothing else.
pub(crate) fn preflight() -> Response {
    with_cors(StatusCode::NO_CONTENT, Body::empty(), false)
}

/// 200 with a JSON body and the CORS headers.
pub(crate) fn ok_json(body: &serde_json::Value) -> Response {
    with_cors(StatusCode::OK, Body::from(body.to_string()), true)
}

/// 200 `{"accepted":true}`.
pub(crate) fn accepted() -> Response {
    with_cors(StatusCode::OK, Body::from(r#"{"accepted":true}"#), true)
}

/// Why an ingest request failed. Each variant maps to one status and one message.
#[derive(Debug)]
pub(crate) enum IngestError {
    MethodNotAllowed,
    MissingAuthorization,
    InvalidKey,
    Contract(ContractError),
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedEncoding,
    InvalidGzip,
    InvalidReferences,
    /// A value the database refuses (Postgres' data exceptions): the client's data.
    InvalidData,
    /// The database is unreachable: 503 with `Retry-After`, so clients retry.
    Unavailable,
    /// Over the key's request rate: 429 with `Retry-After` (whole seconds).
    RateLimited {
        retry_after_secs: u64,
    },
    /// Logged where it happened; the body says nothing internal.
    Internal,
    /// The prompts function: a path other than `…/resolve`.
    NotFound,
    /// The prompts function: no such prompt, version or label.
    PromptNotFound,
    /// The prompts function's own 400s (`slug is required`, …).
    BadRequest(&'static str),
}

impl IngestError {
    /// The label of this outcome in metrics.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method",
            Self::MissingAuthorization | Self::InvalidKey => "auth",
            Self::Contract(ContractError::TooManyRecords { .. }) => "too_large",
            Self::Contract(_) => "invalid",
            Self::PayloadTooLarge { .. } => "too_large",
            Self::UnsupportedEncoding | Self::InvalidGzip => "encoding",
            Self::InvalidReferences => "references",
            Self::InvalidData => "invalid",
            Self::Unavailable => "unavailable",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal => "internal",
            Self::NotFound | Self::PromptNotFound => "not_found",
            Self::BadRequest(_) => "invalid",
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status_and_message().0
    }

    fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "Method not allowed".into()),
            Self::MissingAuthorization => (StatusCode::UNAUTHORIZED, "Missing or invalid authorization header".into()),
            Self::InvalidKey => (StatusCode::UNAUTHORIZED, "Invalid or revoked API key".into()),
            Self::Contract(err @ ContractError::TooManyRecords { .. }) => {
                (StatusCode::PAYLOAD_TOO_LARGE, err.message())
            }
            Self::Contract(err) => (StatusCode::BAD_REQUEST, err.message()),
            Self::PayloadTooLarge { limit } => {
                (StatusCode::PAYLOAD_TOO_LARGE, format!("Request body exceeds the limit of {limit} bytes"))
            }
            Self::UnsupportedEncoding => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Content-Encoding (expected gzip or identity)".into())
            }
            Self::InvalidGzip => (StatusCode::BAD_REQUEST, "Invalid gzip body".into()),
            Self::InvalidReferences => (StatusCode::BAD_REQUEST, "Payload contains invalid project references".into()),
            Self::InvalidData => (StatusCode::BAD_REQUEST, "Payload contains a value the database cannot store".into()),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable".into()),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded".into()),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error".into()),
            Self::NotFound => (StatusCode::NOT_FOUND, "Not found".into()),
            Self::PromptNotFound => (StatusCode::NOT_FOUND, "Prompt not found".into()),
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, (*message).into()),
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let (status, message) = self.status_and_message();
        let body = serde_json::json!({ "error": message }).to_string();
        let mut response = with_cors(status, Body::from(body), true);
        match self {
            Self::Unavailable => {
                response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::RateLimited { retry_after_secs } => {
                response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            _ => {}
        }
        response
    }
}
