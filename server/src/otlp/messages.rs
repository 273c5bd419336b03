//! Messages, tool calls and inputs/outputs carried by OTLP spans, in every shape in use, as
//! NorthStar events. Roles map to event types as the SDK maps them (`client-sdk/src/llm.rs`):
//! system → `system_message`, user → `user_input`, assistant → `assistant_message` plus one
//! `tool_arguments` per tool call, tool → `tool_result`; reasoning → `reasoning`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use northstar_wire::{EventType, SpanKind};
use serde_json::{Map, Value, json};

/// One event to be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub(crate) event_type: EventType,
    pub(crate) content: Value,
    pub(crate) attributes: Map<String, Value>,
    pub(crate) at: DateTime<Utc>,
}

fn message(event_type: EventType, content: Value, at: DateTime<Utc>) -> Message {
    Message { event_type, content, attributes: Map::new(), at }
}

/// Where a span stands, which decides what its generic input and output are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The trace's root: its input is the user's, its output the final response.
    Root,
    Inner(SpanKind),
}

/// A string holding JSON, parsed; anything else as it is.
fn parsed(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            let t = s.trim_start();
            if t.starts_with('{') || t.starts_with('[') || t.starts_with('"') {
                serde_json::from_str(s).unwrap_or_else(|_| v.clone())
            } else {
                v.clone()
            }
        }
        other => other.clone(),
    }
}

fn role_type(role: &str) -> EventType {
    match role.to_ascii_lowercase().as_str() {
        "system" | "developer" => EventType::SystemMessage,
        "user" | "human" => EventType::UserInput,
        "tool" | "function" | "ipython" => EventType::ToolResult,
        _ => EventType::AssistantMessage,
    }
}

/// One tool call as the SDK records it: `{id, name, arguments}`, with `tool_call_id` and `name`
/// attributes.
fn tool_call(id: Option<Value>, name: Option<Value>, arguments: Option<Value>, at: DateTime<Utc>) -> Message {
    let id = id.unwrap_or(Value::Null);
    let name = name.unwrap_or(Value::Null);
    let mut m = message(
        EventType::ToolArguments,
        json!({"id": id, "name": name, "arguments": arguments.as_ref().map_or(Value::Null, parsed)}),
        at,
    );
    m.attributes.insert("tool_call_id".into(), id);
    m.attributes.insert("name".into(), name);
    m
}

/// Text of a content that is a list of text parts, joined; other contents as they are.
fn text_or_parts(content: &Value) -> Value {
    if let Value::Array(parts) = content {
        let texts: Option<Vec<&str>> = parts
            .iter()
            .map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) if o.get("type").and_then(Value::as_str).is_none_or(|t| t == "text") => {
                    o.get("text").or_else(|| o.get("content")).and_then(Value::as_str)
                }
                _ => None,
            })
            .collect();
        if let Some(texts) = texts
            && !texts.is_empty()
        {
            return Value::String(texts.join(""));
        }
    }
    content.clone()
}

/// Messages of any of the JSON shapes in use: the GenAI conventions' `{role, parts: [...]}`,
/// OpenAI's `{role, content, tool_calls}` (also as `{message: {...}}` in a choice), or a bare
/// list of parts (system instructions).
pub(crate) fn from_json(messages: &Value, default_role: &str, at: DateTime<Utc>) -> Vec<Message> {
    let list = match parsed(messages) {
        Value::Array(list) => list,
        Value::Object(o) => vec![Value::Object(o)],
        Value::Null => return Vec::new(),
        other => return vec![message(role_type(default_role), other, at)],
    };
    let mut out = Vec::new();
    for item in &list {
        let Value::Object(o) = item else {
            out.push(message(role_type(default_role), item.clone(), at));
            continue;
        };
        // A choice: {index, finish_reason, message: {...}}.
        let o = match o.get("message") {
            Some(Value::Object(inner)) => inner,
            _ => o,
        };
        let role = o.get("role").and_then(Value::as_str).unwrap_or(default_role);
        if let Some(Value::Array(parts)) = o.get("parts") {
            out.extend(from_parts(parts, role, at));
            continue;
        }
        if o.get("type").is_some() && o.get("role").is_none() {
            // A part on its own (system instructions are a list of parts).
            out.extend(from_parts(std::slice::from_ref(item), role, at));
            continue;
        }
        let event_type = role_type(role);
        if let Some(content) = o.get("content").filter(|c| !c.is_null()) {
            let mut m = message(event_type, text_or_parts(content), at);
            if event_type == EventType::ToolResult {
                if let Some(id) = o.get("tool_call_id").or_else(|| o.get("id")) {
                    m.attributes.insert("tool_call_id".into(), id.clone());
                }
                if let Some(name) = o.get("name") {
                    m.attributes.insert("name".into(), name.clone());
                }
            }
            out.push(m);
        }
        if let Some(Value::Array(calls)) = o.get("tool_calls") {
            for call in calls {
                let f = call.get("function").unwrap_or(call);
                out.push(tool_call(call.get("id").cloned(), f.get("name").cloned(), f.get("arguments").cloned(), at));
            }
        }
    }
    out
}

/// The GenAI conventions' parts of one message.
fn from_parts(parts: &[Value], role: &str, at: DateTime<Utc>) -> Vec<Message> {
    let mut out = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, out: &mut Vec<Message>| {
        if !text.is_empty() {
            out.push(message(role_type(role), Value::String(std::mem::take(text)), at));
        }
    };
    for part in parts {
        let kind = part.get("type").and_then(Value::as_str).unwrap_or("text");
        match kind {
            "text" => {
                if let Some(t) = part.get("content").or_else(|| part.get("text")).and_then(Value::as_str) {
                    text.push_str(t);
                }
            }
            "tool_call" => {
                flush(&mut text, &mut out);
                out.push(tool_call(
                    part.get("id").cloned(),
                    part.get("name").cloned(),
                    part.get("arguments").cloned(),
                    at,
                ));
            }
            "tool_call_response" => {
                flush(&mut text, &mut out);
                let content = part.get("response").or_else(|| part.get("result")).map_or(Value::Null, parsed);
                let mut m = message(EventType::ToolResult, content, at);
                if let Some(id) = part.get("id") {
                    m.attributes.insert("tool_call_id".into(), id.clone());
                }
                out.push(m);
            }
            "reasoning" | "thinking" => {
                flush(&mut text, &mut out);
                out.push(message(EventType::Reasoning, part.get("content").cloned().unwrap_or(Value::Null), at));
            }
            _ => {
                flush(&mut text, &mut out);
                let mut m = message(role_type(role), part.clone(), at);
                m.attributes.insert("part_type".into(), json!(kind));
                out.push(m);
            }
        }
    }
    flush(&mut text, &mut out);
    out
}

/// Messages in a span event of the deprecated per-message conventions
/// (`gen_ai.user.message`, `gen_ai.choice`, …), OpenAI's earlier prompt/completion events, or
/// `gen_ai.client.inference.operation.details`. Empty for any other event.
pub(crate) fn from_span_event(name: &str, a: &Map<String, Value>, at: DateTime<Utc>) -> Vec<Message> {
    let role = match name {
        "gen_ai.system.message" => "system",
        "gen_ai.user.message" => "user",
        "gen_ai.assistant.message" | "gen_ai.choice" => "assistant",
        "gen_ai.tool.message" => "tool",
        "gen_ai.content.prompt" => return a.get("gen_ai.prompt").map_or_else(Vec::new, |p| from_json(p, "user", at)),
        "gen_ai.content.completion" => {
            return a.get("gen_ai.completion").map_or_else(Vec::new, |c| from_json(c, "assistant", at));
        }
        "gen_ai.client.inference.operation.details" => {
            let mut copy = a.clone();
            return from_attributes(&mut copy, Place::Inner(SpanKind::Model), at, at);
        }
        _ => return Vec::new(),
    };
    // The body of such an event, when an exporter put it into attributes.
    let mut body = Map::new();
    if let Some(b) = a.get("gen_ai.event.content").or_else(|| a.get("event.body")).map(parsed)
        && let Value::Object(o) = b
    {
        body = o;
    }
    for key in ["content", "message", "tool_calls", "id", "tool_call_id", "role"] {
        if let Some(v) = a.get(key) {
            body.insert(key.into(), parsed(v));
        }
    }
    if body.is_empty() {
        return Vec::new();
    }
    body.entry("role").or_insert_with(|| json!(role));
    let out = from_json(&Value::Object(body), role, at);
    if out.is_empty() { vec![message(role_type(role), Value::Null, at)] } else { out }
}

/// Keys `prefix.N.rest` of `a`, removed and grouped by N, each group unflattened into nested
/// objects (numbered levels become arrays).
fn take_indexed(a: &mut Map<String, Value>, prefix: &str) -> Vec<Value> {
    let start = format!("{prefix}.");
    let keys: Vec<String> = a.keys().filter(|k| k.starts_with(&start)).cloned().collect();
    let mut groups: BTreeMap<usize, Value> = BTreeMap::new();
    for key in keys {
        let rest = &key[start.len()..];
        let Some((index, path)) = rest.split_once('.') else { continue };
        let Ok(index) = index.parse::<usize>() else { continue };
        let v = a.shift_remove(&key).unwrap_or(Value::Null);
        let slot = groups.entry(index).or_insert_with(|| Value::Object(Map::new()));
        insert_path(slot, path, v);
    }
    groups.into_values().map(arrays).collect()
}

fn insert_path(root: &mut Value, path: &str, v: Value) {
    let mut at = root;
    let mut segments = path.split('.').peekable();
    while let Some(seg) = segments.next() {
        let Value::Object(map) = at else { return };
        if segments.peek().is_none() {
            map.insert(seg.to_owned(), v);
            return;
        }
        at = map.entry(seg.to_owned()).or_insert_with(|| Value::Object(Map::new()));
        if !at.is_object() {
            return;
        }
    }
}

/// Objects whose keys are all numbers, as arrays in their order.
fn arrays(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            if !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok()) {
                let mut items: Vec<(usize, Value)> =
                    map.into_iter().map(|(k, v)| (k.parse().unwrap_or(usize::MAX), arrays(v))).collect();
                items.sort_by_key(|(k, _)| *k);
                Value::Array(items.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, arrays(v))).collect())
            }
        }
        other => other,
    }
}

/// An OpenInference message (`message.role`, `message.content`, `message.contents`,
/// `message.tool_calls.N.tool_call.{id, function.{name, arguments}}`) in OpenAI's shape.
fn openinference(m: Value) -> Value {
    let m = m.get("message").cloned().unwrap_or(m);
    let mut out = Map::new();
    for key in ["role", "content", "tool_call_id", "name"] {
        if let Some(v) = m.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if !out.contains_key("content")
        && let Some(Value::Array(contents)) = m.get("contents")
    {
        let parts: Vec<Value> = contents
            .iter()
            .map(|c| {
                let c = c.get("message_content").unwrap_or(c);
                json!({"type": c.get("type").cloned().unwrap_or(json!("text")), "text": c.get("text").cloned().unwrap_or(Value::Null)})
            })
            .collect();
        out.insert("content".into(), Value::Array(parts));
    }
    if let Some(Value::Array(calls)) = m.get("tool_calls") {
        let calls: Vec<Value> = calls
            .iter()
            .map(|c| {
                let c = c.get("tool_call").unwrap_or(c);
                json!({"id": c.get("id").cloned().unwrap_or(Value::Null), "function": c.get("function").cloned().unwrap_or(Value::Null)})
            })
            .collect();
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    Value::Object(out)
}

/// Messages and inputs/outputs carried in a span's attributes. Every attribute turned into
/// events is removed from `a` (the events hold it); the rest stays.
pub(crate) fn from_attributes(
    a: &mut Map<String, Value>,
    place: Place,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<Message> {
    let mut out = Vec::new();
    let mut has_messages = false;

    // The GenAI conventions (current).
    if let Some(v) = a.shift_remove("gen_ai.system_instructions") {
        out.extend(from_json(&v, "system", start).into_iter().map(|mut m| {
            if m.event_type == EventType::AssistantMessage {
                m.event_type = EventType::SystemMessage;
            }
            m
        }));
        has_messages = true;
    }
    if let Some(v) = a.shift_remove("gen_ai.input.messages") {
        out.extend(from_json(&v, "user", start));
        has_messages = true;
    }
    if let Some(v) = a.shift_remove("gen_ai.output.messages") {
        out.extend(from_json(&v, "assistant", end));
        has_messages = true;
    }
    // OpenInference, flattened.
    let inputs = take_indexed(a, "llm.input_messages");
    let outputs = take_indexed(a, "llm.output_messages");
    for (list, role, at) in [(inputs, "user", start), (outputs, "assistant", end)] {
        if !list.is_empty() {
            has_messages = true;
            let list: Vec<Value> = list.into_iter().map(openinference).collect();
            out.extend(from_json(&Value::Array(list), role, at));
        }
    }
    // OpenLLMetry's indexed prompt and completion.
    let prompt = take_indexed(a, "gen_ai.prompt");
    let completion = take_indexed(a, "gen_ai.completion");
    for (list, role, at) in [(prompt, "user", start), (completion, "assistant", end)] {
        if !list.is_empty() {
            has_messages = true;
            out.extend(from_json(&Value::Array(list), role, at));
        }
    }
    // Tool calls.
    if let Some(args) = a.shift_remove("gen_ai.tool.call.arguments") {
        let id = a.get("gen_ai.tool.call.id").cloned();
        let name = a.get("gen_ai.tool.name").cloned();
        out.push(tool_call(id, name, Some(args), start));
        has_messages = true;
    }
    if let Some(result) = a.shift_remove("gen_ai.tool.call.result") {
        let mut m = message(EventType::ToolResult, parsed(&result), end);
        if let Some(id) = a.get("gen_ai.tool.call.id") {
            m.attributes.insert("tool_call_id".into(), id.clone());
        }
        out.push(m);
        has_messages = true;
    }
    // Generic input and output: Langfuse's, OpenInference's, OpenLLMetry's entity values.
    for (input_key, output_key) in [
        ("langfuse.observation.input", "langfuse.observation.output"),
        ("input.value", "output.value"),
        ("traceloop.entity.input", "traceloop.entity.output"),
    ] {
        if has_messages && matches!(place, Place::Inner(SpanKind::Model)) {
            // The request and response of a model call whose messages are already events:
            // kept as attributes, not repeated as events.
            break;
        }
        let input = a.shift_remove(input_key);
        let output = a.shift_remove(output_key);
        if input.is_none() && output.is_none() {
            continue;
        }
        if let Some(v) = input {
            out.extend(io(&v, true, place, start));
        }
        if let Some(v) = output {
            out.extend(io(&v, false, place, end));
        }
        has_messages = true;
    }
    out
}

/// A span's generic input or output as events, by where the span stands.
fn io(v: &Value, input: bool, place: Place, at: DateTime<Utc>) -> Vec<Message> {
    let v = parsed(v);
    let messages = v.get("messages").cloned().or_else(|| {
        let list = v.as_array()?;
        list.iter().all(|m| m.get("role").is_some()).then(|| v.clone())
    });
    match (place, input) {
        (Place::Inner(SpanKind::Tool), true) => vec![message(EventType::ToolArguments, v, at)],
        (Place::Inner(SpanKind::Tool), false) => vec![message(EventType::ToolResult, v, at)],
        (_, _) if messages.is_some() => {
            from_json(&messages.unwrap_or(Value::Null), if input { "user" } else { "assistant" }, at)
        }
        (Place::Root, true) => vec![message(EventType::UserInput, v, at)],
        (Place::Root, false) => vec![message(EventType::FinalResponse, v, at)],
        (Place::Inner(SpanKind::Model), true) => vec![message(EventType::UserInput, v, at)],
        (Place::Inner(SpanKind::Model), false) => vec![message(EventType::AssistantMessage, v, at)],
        (Place::Inner(_), _) => {
            let mut m = message(EventType::Custom, v, at);
            m.attributes.insert("field".into(), json!(if input { "input" } else { "output" }));
            vec![m]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("a time")
    }

    fn types(ms: &[Message]) -> Vec<EventType> {
        ms.iter().map(|m| m.event_type).collect()
    }

    #[test]
    fn genai_parts_become_one_event_per_text_run_and_tool_call() {
        let input = json!([
            {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
            {"role": "user", "parts": [{"type": "text", "content": "weather?"}]},
            {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "rain"}]}
        ]);
        let ms = from_json(&Value::String(input.to_string()), "user", at());
        assert_eq!(
            types(&ms),
            [EventType::SystemMessage, EventType::UserInput, EventType::ToolArguments, EventType::ToolResult]
        );
        assert_eq!(ms[1].content, json!("weather?"));
        assert_eq!(ms[2].content, json!({"id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}));
        assert_eq!(ms[3].attributes["tool_call_id"], json!("c1"));
    }

    #[test]
    fn openinference_flattened_messages_are_read_and_removed() {
        let mut a = Map::new();
        a.insert("llm.input_messages.0.message.role".into(), json!("user"));
        a.insert("llm.input_messages.0.message.content".into(), json!("hi"));
        a.insert("llm.output_messages.0.message.role".into(), json!("assistant"));
        a.insert("llm.output_messages.0.message.tool_calls.0.tool_call.id".into(), json!("t1"));
        a.insert("llm.output_messages.0.message.tool_calls.0.tool_call.function.name".into(), json!("search"));
        a.insert(
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments".into(),
            json!("{\"q\":\"x\"}"),
        );
        a.insert("input.value".into(), json!("{\"raw\": true}"));
        a.insert("llm.model_name".into(), json!("gpt-4o"));
        let ms = from_attributes(&mut a, Place::Inner(SpanKind::Model), at(), at());
        assert_eq!(types(&ms), [EventType::UserInput, EventType::ToolArguments]);
        assert_eq!(ms[1].content, json!({"id": "t1", "name": "search", "arguments": {"q": "x"}}));
        // Message keys went into events; the raw request and the model stay.
        assert_eq!(a.keys().collect::<Vec<_>>(), ["input.value", "llm.model_name"]);
    }

    #[test]
    fn openllmetry_indexed_prompt_and_completion_are_read() {
        let mut a = Map::new();
        a.insert("gen_ai.prompt.0.role".into(), json!("system"));
        a.insert("gen_ai.prompt.0.content".into(), json!("sys"));
        a.insert("gen_ai.prompt.1.role".into(), json!("user"));
        a.insert("gen_ai.prompt.1.content".into(), json!("question"));
        a.insert("gen_ai.completion.0.role".into(), json!("assistant"));
        a.insert("gen_ai.completion.0.content".into(), json!("answer"));
        let ms = from_attributes(&mut a, Place::Inner(SpanKind::Model), at(), at());
        assert_eq!(types(&ms), [EventType::SystemMessage, EventType::UserInput, EventType::AssistantMessage]);
        assert!(a.is_empty());
    }

    #[test]
    fn a_root_input_is_the_users_and_its_output_the_final_response() {
        let mut a = Map::new();
        a.insert("input.value".into(), json!("plan a trip"));
        a.insert("output.value".into(), json!("done"));
        let ms = from_attributes(&mut a, Place::Root, at(), at());
        assert_eq!(types(&ms), [EventType::UserInput, EventType::FinalResponse]);
    }

    #[test]
    fn deprecated_per_message_events_are_read() {
        let mut a = Map::new();
        a.insert("content".into(), json!("hello"));
        assert_eq!(types(&from_span_event("gen_ai.user.message", &a, at())), [EventType::UserInput]);
        let mut choice = Map::new();
        choice.insert("message".into(), json!("{\"content\": \"hi\", \"role\": \"assistant\"}"));
        let ms = from_span_event("gen_ai.choice", &choice, at());
        assert_eq!((ms[0].event_type, &ms[0].content), (EventType::AssistantMessage, &json!("hi")));
        assert!(from_span_event("something.else", &a, at()).is_empty());
    }
}
