//! A local stand-in for the OpenAI and Anthropic APIs (the one thing we cannot run here),
//! answering with responses shaped exactly like the real ones: JSON and server-sent-event
//! streams, tool calls, usage with cached and reasoning tokens, request ids, and errors.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The exact bytes of the OpenAI chat stream the mock sends, to check pass-through.
pub const OPENAI_STREAM: &str = concat!(
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Refunds take \"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"30 days.\"},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":6,\"total_tokens\":26,\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n",
    "data: [DONE]\n\n"
);

/// The exact bytes of the Anthropic stream the mock sends.
pub const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":300,\"output_tokens\":1,\"cache_read_input_tokens\":1000,\"cache_creation_input_tokens\":0}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\ndata: {\"type\":\"ping\"}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me check \"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"that order.\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"lookup_order\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"order\\\":\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" 42}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":45}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
);

fn json_response(status: u16, headers: &[(&str, &str)], body: Value) -> Response {
    let mut builder = Response::builder().status(status).header("content-type", "application/json");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Body::from(body.to_string())).unwrap_or_default()
}

fn sse(headers: &[(&str, &str)], text: &'static str) -> Response {
    // Chunks of 7 bytes: events split across reads, as on a real network.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = text.as_bytes().chunks(7).map(|c| Ok(c.to_vec())).collect();
    let mut builder = Response::builder().status(StatusCode::OK).header("content-type", "text/event-stream");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Body::from_stream(futures_util::stream::iter(chunks))).unwrap_or_default()
}

async fn chat(body: axum::body::Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
    let model = req["model"].as_str().unwrap_or_default();
    if model == "rate-limited" {
        return json_response(
            429,
            &[("x-request-id", "req_429"), ("retry-after", "1")],
            json!({"error": {"message": "Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}),
        );
    }
    if req["stream"].as_bool() == Some(true) {
        return sse(&[("x-request-id", "req_stream")], OPENAI_STREAM);
    }
    let answered_tool = req["messages"].as_array().is_some_and(|m| m.iter().any(|m| m["role"] == "tool"));
    let message = if req.get("tools").is_some() && !answered_tool {
        json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
            {"id": "call_Abc123", "type": "function", "function": {"name": "lookup_order", "arguments": "{\"order_id\":42}"}}]})
    } else {
        json!({"role": "assistant", "content": "Order 42 was delivered; refunds take 30 days.", "refusal": null})
    };
    let finish = if message["tool_calls"].is_array() { "tool_calls" } else { "stop" };
    json_response(
        200,
        &[("x-request-id", "req_chat")],
        json!({"id": "chatcmpl-8", "object": "chat.completion", "created": 1_730_000_000, "model": "gpt-4o-mini-2024-07-18",
               "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
               "usage": {"prompt_tokens": 1200, "completion_tokens": 40, "total_tokens": 1240,
                         "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
                         "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
               "system_fingerprint": "fp_1"}),
    )
}

async fn responses(body: axum::body::Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
    json_response(
        200,
        &[("x-request-id", "req_resp")],
        json!({"id": "resp_1", "object": "response", "created_at": 1_730_000_000, "status": "completed",
               "model": req["model"].as_str().map(|m| format!("{m}-2025-04-16")), "output": [
                   {"id": "rs_1", "type": "reasoning", "summary": []},
                   {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": "It shipped yesterday.", "annotations": []}]}],
               "usage": {"input_tokens": 2000, "input_tokens_details": {"cached_tokens": 0},
                         "output_tokens": 900, "output_tokens_details": {"reasoning_tokens": 768}, "total_tokens": 2900}}),
    )
}

async fn messages(headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert!(headers.contains_key("anthropic-version"), "the client sends its headers unchanged");
    if req["model"] == "overloaded" {
        return json_response(
            529,
            &[("request-id", "req_529")],
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        );
    }
    if req["stream"].as_bool() == Some(true) {
        return sse(&[("request-id", "req_anthropic_stream")], ANTHROPIC_STREAM);
    }
    json_response(
        200,
        &[("request-id", "req_anthropic")],
        json!({"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
               "content": [{"type": "text", "text": "Checking the order."},
                           {"type": "tool_use", "id": "toolu_01", "name": "lookup_order", "input": {"order": 42}}],
               "stop_reason": "tool_use", "stop_sequence": null,
               "usage": {"input_tokens": 500, "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 10000, "output_tokens": 60}}),
    )
}

/// Starts the mock; returns its base URL (`http://127.0.0.1:PORT`).
pub async fn start() -> String {
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/responses", post(responses))
        .route("/v1/messages", post(messages));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}
