//! OTLP trace ingest on the server's one port: OTLP/HTTP (`application/x-protobuf` and
//! `application/json`, gzip or not) at `/v1/traces` and at Langfuse's
//! `/api/public/otel/v1/traces`, and OTLP/gRPC (`TraceService/Export`, see [`grpc`]).
//!
//! Order of checks: OPTIONS → 204; not POST → 405; key (`Authorization: Bearer`, `Basic` with
//! the key as password, or `x-api-key`) → 401; a place among the requests stored at once →
//! 429; content type → 415; body (size, encoding, decoding, span count) → 413 / 400; storage
//! → 503 / 500; 200 with an `ExportTraceServiceResponse` in the request's encoding, whose
//! `partial_success` counts the spans that could not be stored. Errors carry a
//! `google.rpc.Status` in the request's encoding. The mapping is `map.rs`; `docs/OTLP.md`
//! documents both.

pub(crate) mod grpc;
mod map;
mod messages;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use northstar_store::TraceCounts;
use northstar_store::{Store, StoreError};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use uuid::Uuid;

use crate::AppState;
use crate::ingest::IngestError;
use crate::keys;

/// OTLP/HTTP's path for traces.
pub const HTTP_PATH: &str = "/v1/traces";
/// The same, where Langfuse's OTel-based SDKs send.
pub const LANGFUSE_PATH: &str = "/api/public/otel/v1/traces";
/// OTLP/HTTP's path for logs: GenAI events sent as log records.
pub const LOGS_PATH: &str = "/v1/logs";
/// OTLP/HTTP's path for metrics, which are answered, not stored (see [`export_metrics`]).
pub const METRICS_PATH: &str = "/v1/metrics";

/// Why an export failed.
#[derive(Debug)]
pub(crate) enum OtlpError {
    MethodNotAllowed,
    Unauthenticated(&'static str),
    UnsupportedMediaType,
    TooLarge(String),
    BadRequest(String),
    /// Over the key's rate limit, or every place for storing is taken (429, `Retry-After`).
    Overloaded {
        retry_after_secs: u64,
    },
    /// The database is away (503, `Retry-After`).
    Unavailable,
    Internal,
}

impl OtlpError {
    fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Overloaded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> String {
        match self {
            Self::MethodNotAllowed => "Method not allowed".into(),
            Self::Unauthenticated(m) => (*m).into(),
            Self::UnsupportedMediaType => {
                "Unsupported Content-Type (expected application/x-protobuf or application/json)".into()
            }
            Self::TooLarge(m) | Self::BadRequest(m) => m.clone(),
            Self::Overloaded { .. } => "Too many requests".into(),
            Self::Unavailable => "Service unavailable".into(),
            Self::Internal => "Internal server error".into(),
        }
    }

    /// The gRPC status code of the same outcome (the OTLP spec's mapping).
    fn grpc_code(&self) -> tonic::Code {
        match self {
            Self::MethodNotAllowed => tonic::Code::Unimplemented,
            Self::Unauthenticated(_) => tonic::Code::Unauthenticated,
            Self::UnsupportedMediaType | Self::BadRequest(_) => tonic::Code::InvalidArgument,
            Self::TooLarge(_) => tonic::Code::ResourceExhausted,
            // RESOURCE_EXHAUSTED is retried only with RetryInfo; UNAVAILABLE always is.
            Self::Overloaded { .. } | Self::Unavailable => tonic::Code::Unavailable,
            Self::Internal => tonic::Code::Internal,
        }
    }

    /// How long a client waits before it tries again, when it should.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Overloaded { retry_after_secs } => Some(*retry_after_secs),
            Self::Unavailable => Some(1),
            _ => None,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method",
            Self::Unauthenticated(_) => "auth",
            Self::UnsupportedMediaType => "encoding",
            Self::TooLarge(_) => "too_large",
            Self::BadRequest(_) => "invalid",
            Self::Overloaded { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

impl From<IngestError> for OtlpError {
    fn from(err: IngestError) -> Self {
        match err {
            IngestError::PayloadTooLarge { limit } => {
                Self::TooLarge(format!("Request body exceeds the limit of {limit} bytes"))
            }
            IngestError::UnsupportedEncoding => {
                Self::BadRequest("Unsupported Content-Encoding (expected gzip or identity)".into())
            }
            IngestError::InvalidGzip => Self::BadRequest("Invalid gzip body".into()),
            IngestError::Unavailable => Self::Unavailable,
            IngestError::RateLimited { retry_after_secs } => Self::Overloaded { retry_after_secs },
            IngestError::MissingAuthorization | IngestError::InvalidKey => {
                Self::Unauthenticated("Invalid or revoked API key")
            }
            _ => Self::BadRequest("The request body could not be read".into()),
        }
    }
}

/// `google.rpc.Status`, the body of an OTLP error response (and, with `details`, of a gRPC
/// status's `grpc-status-details-bin`).
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`: how long a gRPC exporter waits before it tries again (the OTLP
/// specification's throttling signal; without it, exporters back off by their own schedule).
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

impl ProtoAny {
    /// A `RetryInfo` of `seconds`, packed.
    fn retry_after(seconds: u64) -> Self {
        let delay = ProtoDuration { seconds: i64::try_from(seconds).unwrap_or(i64::MAX), nanos: 0 };
        Self {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: RetryInfo { retry_delay: Some(delay) }.encode_to_vec(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn of(headers: &HeaderMap) -> Option<Self> {
        let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Self::Protobuf),
            "application/json" => Some(Self::Json),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// CORS for browser exporters.
const CORS: [(header::HeaderName, &str); 3] = [
    (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
    (header::ACCESS_CONTROL_ALLOW_HEADERS, "authorization, content-type, content-encoding, x-api-key"),
    (header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"),
];

fn respond(status: StatusCode, content_type: Option<&'static str>, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in CORS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response
}

fn error_response(err: &OtlpError, encoding: Encoding) -> Response {
    let status = RpcStatus { code: err.grpc_code() as i32, message: err.message(), details: Vec::new() };
    let body = match encoding {
        Encoding::Protobuf => status.encode_to_vec(),
        Encoding::Json => serde_json::json!({"code": status.code, "message": status.message}).to_string().into_bytes(),
    };
    let mut response = respond(err.status(), Some(encoding.content_type()), body);
    if let Some(seconds) = err.retry_after_secs() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The handler for every method on the OTLP/HTTP trace routes.
pub(crate) async fn handle(State(state): State<AppState>, method: Method, headers: HeaderMap, body: Body) -> Response {
    serve_http(&state, method, &headers, body, export).await
}

/// The handler for every method on `/v1/logs`: the GenAI events among the records (see
/// `map::map_logs`).
pub(crate) async fn handle_logs(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve_http(&state, method, &headers, body, export_logs).await
}

/// The handler for every method on `/v1/metrics` (see [`export_metrics`]).
pub(crate) async fn handle_metrics(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve_http(&state, method, &headers, body, export_metrics).await
}

/// One OTLP/HTTP request of any signal: checks, decoding, `export`, the answer.
async fn serve_http<Req, Resp, F>(
    state: &AppState,
    method: Method,
    headers: &HeaderMap,
    body: Body,
    export: F,
) -> Response
where
    Req: Message + Default + serde::de::DeserializeOwned,
    Resp: Message + serde::Serialize,
    F: AsyncFnOnce(&AppState, Uuid, Req) -> Result<Resp, OtlpError>,
{
    if method == Method::OPTIONS {
        return respond(StatusCode::NO_CONTENT, None, Vec::new());
    }
    let encoding = Encoding::of(headers);
    let started = std::time::Instant::now();
    let mut body = body;
    let outcome = async {
        if method != Method::POST {
            return Err(OtlpError::MethodNotAllowed);
        }
        let project = authenticate(state, headers).await?;
        let _place = crate::ingest::admit(state, project).await?;
        let encoding = encoding.ok_or(OtlpError::UnsupportedMediaType)?;
        let request: Req = read_request(state, headers, std::mem::take(&mut body), encoding).await?;
        export(state, project, request).await
    }
    .await;
    crate::ops::INGEST_SECONDS.observe(started.elapsed());
    if outcome.is_err() {
        // Refused before its body was read: read it, so that the client reads the answer.
        crate::ingest::discard_body(body, state.max_body_bytes).await;
    }
    let encoding = encoding.unwrap_or(Encoding::Json);
    match outcome {
        Ok(response) => {
            metrics::counter!("northstar_otlp_requests_total", "status" => "200").increment(1);
            let body = match encoding {
                Encoding::Protobuf => response.encode_to_vec(),
                Encoding::Json => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
            };
            respond(StatusCode::OK, Some(encoding.content_type()), body)
        }
        Err(err) => {
            let status = err.status();
            metrics::counter!("northstar_otlp_requests_total", "status" => status.as_str().to_owned()).increment(1);
            if status.is_client_error() {
                metrics::counter!("northstar_ingest_rejects_total", "reason" => err.reason()).increment(1);
            }
            error_response(&err, encoding)
        }
    }
}

/// The body under the byte budget and the size limit, decoded.
async fn read_request<Req>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    encoding: Encoding,
) -> Result<Req, OtlpError>
where
    Req: Message + Default + serde::de::DeserializeOwned,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .map_or(state.max_body_bytes, |n| n.min(state.max_body_bytes));
    let mut share = state.ingest_budget.share(declared).await;
    let bytes = crate::ingest::read_body(headers, body, state.max_body_bytes).await?;
    share.grow_to(bytes.len()).await;
    match encoding {
        Encoding::Protobuf => {
            Req::decode(bytes.as_ref()).map_err(|e| OtlpError::BadRequest(format!("Invalid OTLP protobuf body: {e}")))
        }
        Encoding::Json => {
            serde_json::from_slice(&bytes).map_err(|e| OtlpError::BadRequest(format!("Invalid OTLP JSON body: {e}")))
        }
    }
}

/// Stores the spans of one export for `project`: HTTP and gRPC both end here.
pub(crate) async fn export(
    state: &AppState,
    project: Uuid,
    request: ExportTraceServiceRequest,
) -> Result<ExportTraceServiceResponse, OtlpError> {
    let spans: usize = request.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
    within_limit(state, spans, "spans")?;
    let mut mapped = map::map(project, request);
    for trace in &mut mapped.batch.traces {
        crate::costs::fill_missing_costs_of(&mut trace.spans, &state.prices);
    }
    let counts = store(state, project, &mut mapped).await?;
    metrics::counter!("northstar_ingest_records_total", "type" => "span").increment(counts.spans as u64);
    metrics::counter!("northstar_ingest_records_total", "type" => "event").increment(counts.events as u64);
    let rejected = mapped.rejected + counts.rejected_spans;
    if counts.rejected_spans > 0 {
        mapped.reasons.push(format!("{} spans belong to traces of another project", counts.rejected_spans));
    }
    let partial_success = (rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
        error_message: format!("{rejected} spans rejected: {}", mapped.reasons.join("; ")),
    });
    Ok(ExportTraceServiceResponse { partial_success })
}

/// Stores the GenAI events among the log records of one export for `project`.
pub(crate) async fn export_logs(
    state: &AppState,
    project: Uuid,
    request: ExportLogsServiceRequest,
) -> Result<ExportLogsServiceResponse, OtlpError> {
    let records: usize = request.resource_logs.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len()).sum();
    within_limit(state, records, "log records")?;
    let mut mapped = map::map_logs(project, request);
    let counts = store(state, project, &mut mapped).await?;
    metrics::counter!("northstar_ingest_records_total", "type" => "event").increment(counts.events as u64);
    let refused = counts.rejected_events;
    if refused > 0 {
        mapped.reasons.push(format!("{refused} records belong to traces of another project"));
    }
    let rejected = mapped.rejected + refused;
    let partial_success = (rejected > 0).then(|| ExportLogsPartialSuccess {
        rejected_log_records: i64::try_from(rejected).unwrap_or(i64::MAX),
        error_message: format!("{rejected} log records rejected: {}", mapped.reasons.join("; ")),
    });
    Ok(ExportLogsServiceResponse { partial_success })
}

/// Metrics are not stored: an SDK configured with only the standard variables exports every
/// signal to this server, and a 404 would make it log an error at every interval. The answer
/// is the OTLP one for data that is refused on purpose: every data point counted in
/// `partial_success`, with the reason, and nothing is kept.
pub(crate) async fn export_metrics(
    _state: &AppState,
    _project: Uuid,
    request: ExportMetricsServiceRequest,
) -> Result<ExportMetricsServiceResponse, OtlpError> {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let points: usize = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| match &m.data {
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(Data::Summary(s)) => s.data_points.len(),
            None => 0,
        })
        .sum();
    metrics::counter!("northstar_otlp_metric_points_refused_total").increment(points as u64);
    let partial_success = (points > 0).then(|| ExportMetricsPartialSuccess {
        rejected_data_points: i64::try_from(points).unwrap_or(i64::MAX),
        error_message: format!("{points} data points rejected: this server keeps traces, not metrics"),
    });
    Ok(ExportMetricsServiceResponse { partial_success })
}

/// An export carries at most `NORTHSTAR_MAX_BATCH_RECORDS` items (413 above), as a batch does.
fn within_limit(state: &AppState, count: usize, what: &str) -> Result<(), OtlpError> {
    if count > state.max_batch_records {
        return Err(OtlpError::TooLarge(format!(
            "Export has {count} {what}; at most {} are accepted per request",
            state.max_batch_records
        )));
    }
    Ok(())
}

/// Writes what a request mapped to, with the store's errors as OTLP answers.
async fn store(state: &AppState, project: Uuid, mapped: &mut map::Mapped) -> Result<TraceCounts, OtlpError> {
    let batch = std::mem::take(&mut mapped.batch);
    let items = batch.span_count();
    match state.store.ingest_traces(project, batch).await {
        Ok(counts) => Ok(counts),
        Err(StoreError::InvalidData(detail)) => {
            tracing::info!(%project, %detail, "export rejected: the database refuses a value");
            Err(OtlpError::BadRequest("Export contains a value the database cannot store".into()))
        }
        Err(StoreError::Unavailable(err)) => {
            tracing::warn!(%project, error = %err, "database unavailable; answering 503");
            Err(OtlpError::Unavailable)
        }
        Err(err) => {
            tracing::error!(%project, error = %err, spans = items, "storing an export failed");
            Err(OtlpError::Internal)
        }
    }
}

/// The project of the key in `Authorization: Bearer <key>`, `Authorization: Basic
/// base64(<anything>:<key>)` (Langfuse's SDKs: public key, secret key) or `x-api-key: <key>`.
pub(crate) async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Uuid, OtlpError> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let basic = authorization.and_then(basic_password);
    let token = authorization
        .and_then(keys::bearer_token)
        .map(str::to_owned)
        .or(basic)
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(|s| s.trim().to_owned()))
        .filter(|t| !t.is_empty())
        .ok_or(OtlpError::Unauthenticated("Missing or invalid authorization header"))?;
    match state.key_use.resolve(&state.store, &token).await {
        Ok(Some(owner)) if owner.scope == northstar_store::KeyScope::Ingest => Ok(owner.project),
        Ok(_) => Err(OtlpError::Unauthenticated("Invalid or revoked API key")),
        Err(StoreError::Unavailable(err)) => {
            tracing::warn!(error = %err, "database unavailable during key lookup; answering 503");
            Err(OtlpError::Unavailable)
        }
        Err(err) => {
            tracing::error!(error = %err, "API key lookup failed");
            Err(OtlpError::Internal)
        }
    }
}

/// The password of `Basic base64(user:password)`.
fn basic_password(header: &str) -> Option<String> {
    let (scheme, rest) = header.split_at_checked(5)?;
    if !scheme.eq_ignore_ascii_case("basic") || !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_authorization_carries_the_key_as_its_password() {
        let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("pk-lf-1:ns_secret"));
        assert_eq!(basic_password(&header).as_deref(), Some("ns_secret"));
        assert_eq!(basic_password("Basic !!!"), None);
        assert_eq!(basic_password("Bearer abc"), None);
    }

    #[test]
    fn content_types_pick_the_encoding() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        assert_eq!(Encoding::of(&headers), Some(Encoding::Json));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        assert_eq!(Encoding::of(&headers), Some(Encoding::Protobuf));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(Encoding::of(&headers), None);
    }
}
