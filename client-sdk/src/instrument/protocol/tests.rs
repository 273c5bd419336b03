//! Parsing of each API's requests, responses and event streams.

use serde_json::json;

use super::*;

#[test]
fn targets_come_from_the_url() {
    let t = |host, path| Target::of(host, path).map(|t| (t.api, t.provider));
    assert_eq!(t("api.openai.com", "/v1/chat/completions"), Some((Api::ChatCompletions, "openai")));
    assert_eq!(t("openrouter.ai", "/api/v1/chat/completions"), Some((Api::ChatCompletions, "openrouter")));
    assert_eq!(t("api.openai.com", "/v1/responses"), Some((Api::Responses, "openai")));
    assert_eq!(t("api.anthropic.com", "/v1/messages"), Some((Api::Messages, "anthropic")));
    assert_eq!(t("127.0.0.1", "/v1/messages"), Some((Api::Messages, "anthropic")));
    assert_eq!(t("api.openai.com", "/v1/embeddings"), None);
}

#[test]
fn anthropic_requests_split_tool_results_and_tool_uses() {
    let body = json!({"model": "claude-sonnet-4-20250514", "system": [{"type": "text", "text": "Be brief."}],
    "tools": [{"name": "lookup_order", "input_schema": {}}], "tool_choice": {"type": "auto"},
    "messages": [
        {"role": "user", "content": "Where is 42?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": {"order": 42}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "shipped"}]}
    ]});
    let info = parse_request(Api::Messages, &body);
    assert_eq!(info.tools, Some(json!(["lookup_order"])));
    let roles: Vec<Role> = info.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::System, Role::User, Role::Assistant, Role::Tool]);
    assert_eq!(info.messages[2].tool_calls[0].arguments, json!({"order": 42}));
    assert_eq!(info.messages[3].tool_call_id.as_deref(), Some("toolu_1"));
}

#[test]
fn streams_assemble_across_arbitrary_chunk_boundaries() {
    let sse = concat!(
        "data: {\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{\\\"q\\\":\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\",\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n",
        "data: [DONE]\n\n"
    );
    // Byte by byte: no event may depend on arriving in one chunk.
    let mut a = StreamAssembler::new(Api::ChatCompletions);
    for b in sse.as_bytes() {
        a.feed(std::slice::from_ref(b));
    }
    assert!(a.completed && a.saw_output);
    let info = a.finish();
    assert_eq!(info.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    assert_eq!(info.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(info.output[0].content, Some(json!("Hello")));
    assert_eq!(info.output[0].tool_calls[0].arguments, json!({"q": 1}));
    assert_eq!(info.usage, Some(Usage::from_openai(10, 5, Some(4), None)));
}

#[test]
fn provider_errors_keep_type_message_and_status() {
    let e = error_value(429, r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#);
    assert_eq!(
        (e["type"].clone(), e["message"].clone(), e["status"].clone()),
        (json!("requests"), json!("Rate limit reached"), json!(429))
    );
    let e = error_value(502, "<html>bad gateway</html>");
    assert_eq!((e["type"].clone(), e["message"].clone()), (json!("http_502"), json!("<html>bad gateway</html>")));
}

#[test]
fn responses_streams_take_the_completed_response() {
    let completed = json!({"type": "response.completed", "response": {"model": "gpt-4.1-2025-04-14", "status": "completed",
        "output": [{"type": "function_call", "call_id": "call_9", "name": "lookup_order", "arguments": "{\"order_id\":7}"},
                   {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done."}]}],
        "usage": {"input_tokens": 50, "output_tokens": 10, "input_tokens_details": {"cached_tokens": 20},
                  "output_tokens_details": {"reasoning_tokens": 0}}}});
    let sse = format!(
        "event: response.output_text.delta\ndata: {}\n\nevent: response.completed\ndata: {}\n\n",
        json!({"type": "response.output_text.delta", "delta": "Do"}),
        completed
    );
    let mut a = StreamAssembler::new(Api::Responses);
    for chunk in sse.as_bytes().chunks(5) {
        a.feed(chunk);
    }
    assert!(a.completed && a.saw_output);
    let info = a.finish();
    assert_eq!((info.model.as_deref(), info.finish_reason.as_deref()), (Some("gpt-4.1-2025-04-14"), Some("completed")));
    assert_eq!(info.output[0].tool_calls[0].arguments, json!({"order_id": 7}));
    assert_eq!(info.output[1].content, Some(json!("Done.")));
    assert_eq!(info.usage, Some(Usage::from_openai(50, 10, Some(20), Some(0))));
}
