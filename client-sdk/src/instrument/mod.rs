//! Automatic recording of LLM calls made over HTTP (features `reqwest-middleware` and
//! `async-openai`).
//!
//! Every `POST` to an OpenAI-compatible `…/chat/completions` or `…/responses` endpoint, or to
//! Anthropic's `…/messages`, becomes a `model` span under the current span of the current run
//! (a new run, named after the method, only when none is open): provider, method, requested and
//! returned model, request messages and system prompt, tools and tool choice, tool results in
//! the request, the tool calls and messages the model produced, finish reason, usage (input,
//! output, cached, cache-write, reasoning), request id, latency, time to first token for
//! streams, and errors (HTTP status and the provider's error body) with the span marked failed.
//!
//! Streams (server-sent events) pass through unchanged and unbuffered: each chunk goes to the
//! caller as it arrives and is parsed on the side; the span ends when the stream ends or is
//! dropped.
//!
//! - plain reqwest: [`LlmMiddleware`] for `reqwest-middleware`;
//! - async-openai: [`openai_http_service`] for `Client::with_http_service`.

#[cfg(feature = "reqwest-middleware")]
mod middleware;
#[cfg(feature = "async-openai")]
mod openai;
mod protocol;

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_core::Stream;
use http_body_util::BodyExt;
use northstar_wire::SpanKind;
use reqwest013 as reqwest;
use serde_json::{Map, Value, json};

#[cfg(feature = "reqwest-middleware")]
pub use middleware::LlmMiddleware;
#[cfg(feature = "async-openai")]
pub use openai::{OpenAiHttpService, openai_http_service};

use crate::context::Context;
use crate::run::RunHandle;
use crate::span::SpanHandle;
use protocol::{Api, ResponseInfo, StreamAssembler, Target};

/// One recorded call: its span, and the run opened for it when none was current.
struct Call {
    span: SpanHandle,
    run: Option<RunHandle>,
    started: Instant,
}

impl Call {
    fn fail(&self, error: Value) {
        let message = error.get("message").and_then(Value::as_str).unwrap_or("request failed").to_owned();
        let kind = error.get("type").and_then(Value::as_str).unwrap_or("error").to_owned();
        self.span.record_error_json(error);
        if let Some(run) = &self.run {
            run.record_error_message(&kind, &message);
        }
    }

    fn finish(mut self, info: ResponseInfo, attributes: &[(&'static str, Value)]) {
        for (key, value) in attributes {
            self.span.set_attribute(*key, value.clone());
        }
        if let Some(model) = info.model {
            self.span.set_attribute("response_model", model);
        }
        if let Some(reason) = info.finish_reason {
            self.span.set_attribute("finish_reason", reason);
        }
        for message in &info.output {
            self.span.record_output_message(message);
        }
        if let Some(usage) = info.usage {
            self.span.record_usage(usage);
        }
        self.span.end();
        if let Some(mut run) = self.run.take() {
            run.end();
        }
    }
}

fn elapsed_ms(since: Instant) -> Value {
    json!((since.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0)
}

/// Records one HTTP exchange if it is an LLM call, sending it with `send`.
pub(crate) async fn observe<E, F, Fut>(request: reqwest::Request, send: F) -> Result<reqwest::Response, E>
where
    F: FnOnce(reqwest::Request) -> Fut,
    Fut: std::future::Future<Output = Result<reqwest::Response, E>>,
    E: std::fmt::Display + From<reqwest::Error>,
{
    let target = (request.method() == reqwest::Method::POST)
        .then(|| Target::of(request.url().host_str().unwrap_or_default(), request.url().path()))
        .flatten();
    let Some(target) = target else { return send(request).await };
    let Some(call) = start(&target, &request) else { return send(request).await };

    let response = match send(request).await {
        Ok(response) => response,
        Err(err) => {
            call.fail(json!({"type": "transport", "message": err.to_string()}));
            call.finish(ResponseInfo::default(), &[]);
            return Err(err);
        }
    };

    let status = response.status().as_u16();
    let request_id = ["x-request-id", "request-id"]
        .iter()
        .find_map(|h| response.headers().get(*h))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_stream = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut attributes = vec![("http_status", json!(status))];
    if let Some(id) = request_id {
        attributes.push(("request_id", json!(id)));
    }

    let http: http::Response<reqwest::Body> = response.into();
    let (parts, body) = http.into_parts();
    if is_stream && status < 400 {
        let observed = Observed {
            inner: Box::pin(body.into_data_stream()),
            assembler: Some(StreamAssembler::new(target.api)),
            call: Some(call),
            attributes,
            first_output: false,
        };
        return Ok(http::Response::from_parts(parts, reqwest::Body::wrap_stream(observed)).into());
    }

    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            call.fail(json!({"type": "transport", "message": err.to_string()}));
            call.finish(ResponseInfo::default(), &attributes);
            return Err(err.into());
        }
    };
    let info = if status >= 400 {
        call.fail(protocol::error_value(status, &String::from_utf8_lossy(&bytes)));
        ResponseInfo::default()
    } else {
        serde_json::from_slice::<Value>(&bytes).map(|v| protocol::parse_response(target.api, &v)).unwrap_or_default()
    };
    call.finish(info, &attributes);
    Ok(http::Response::from_parts(parts, reqwest::Body::from(bytes)).into())
}

/// Opens the span (and a run when none is current); `None` when the SDK records nothing.
fn start(target: &Target, request: &reqwest::Request) -> Option<Call> {
    let method = target.method();
    let current = Context::current();
    let parent_span = current.span_id();
    let (run_state, parent, own_run) = match current.run {
        Some(run) => (run, parent_span, None),
        None => {
            let run = crate::api::start_run(method.clone());
            (run.state.clone()?, None, Some(run))
        }
    };
    let body: Option<Value> =
        request.body().and_then(reqwest::Body::as_bytes).and_then(|b| serde_json::from_slice(b).ok());
    let info = body.map(|b| protocol::parse_request(target.api, &b)).unwrap_or_default();

    let mut attributes = Map::new();
    attributes.insert("model".into(), json!(info.model.as_deref().unwrap_or("unknown")));
    attributes.insert("provider".into(), json!(target.provider));
    attributes.insert("method".into(), json!(method));
    attributes.insert("stream".into(), json!(info.stream));
    if target.provider != "openai" && target.api != Api::Messages {
        attributes.insert("transport".into(), json!("openai-compatible"));
    }
    if let Some(tools) = info.tools {
        attributes.insert("tools".into(), tools);
    }
    if let Some(choice) = info.tool_choice {
        attributes.insert("tool_choice".into(), choice);
    }
    let span = SpanHandle::start(Some(&run_state), parent, method, SpanKind::Model, Some(attributes));
    span.record_input_messages(&info.messages);
    Some(Call { span, run: own_run, started: Instant::now() })
}

/// The caller's stream, observed: chunks pass through as they come; the span ends at the end
/// of the stream, or when the caller drops it early (then `stream_completed` is false).
struct Observed {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>,
    assembler: Option<StreamAssembler>,
    call: Option<Call>,
    attributes: Vec<(&'static str, Value)>,
    first_output: bool,
}

impl Observed {
    fn finish(&mut self, completed: bool) {
        if let (Some(call), Some(assembler)) = (self.call.take(), self.assembler.take()) {
            let completed = completed || assembler.completed;
            let mut attributes = std::mem::take(&mut self.attributes);
            attributes.push(("stream_completed", json!(completed)));
            call.finish(assembler.finish(), &attributes);
        }
    }
}

impl Stream for Observed {
    type Item = Result<Bytes, reqwest::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(assembler) = this.assembler.as_mut() {
                    assembler.feed(&chunk);
                    if !this.first_output && assembler.saw_output {
                        this.first_output = true;
                        if let Some(call) = &this.call {
                            this.attributes.push(("time_to_first_token_ms", elapsed_ms(call.started)));
                        }
                    }
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(err))) => {
                if let Some(call) = &this.call {
                    call.fail(json!({"type": "transport", "message": err.to_string()}));
                }
                this.finish(false);
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(None) => {
                this.finish(true);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        self.finish(false);
    }
}
