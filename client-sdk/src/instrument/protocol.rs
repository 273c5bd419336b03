//! What the three LLM HTTP APIs look like: requests, responses, and streamed (SSE) responses of
//! OpenAI Chat Completions (and every OpenAI-compatible server, OpenRouter included), the OpenAI
//! Responses API, and Anthropic Messages.

use serde_json::{Map, Value, json};

use crate::llm::{Message, Role, ToolCall};
use northstar_pricing::Usage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    ChatCompletions,
    Responses,
    Messages,
}

/// Which API a request is for, and who serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) api: Api,
    pub(crate) provider: &'static str,
}

impl Target {
    /// From the URL: `…/chat/completions`, `…/responses`, `…/messages` (POST only).
    pub(crate) fn of(host: &str, path: &str) -> Option<Self> {
        let path = path.trim_end_matches('/');
        let provider = if host.contains("anthropic.com") {
            "anthropic"
        } else if host.contains("openrouter.ai") {
            "openrouter"
        } else {
            "openai"
        };
        let api = if path.ends_with("/chat/completions") {
            Api::ChatCompletions
        } else if path.ends_with("/responses") {
            Api::Responses
        } else if path.ends_with("/messages") {
            Api::Messages
        } else {
            return None;
        };
        let provider = if api == Api::Messages && provider == "openai" { "anthropic" } else { provider };
        Some(Self { api, provider })
    }

    /// The span name: `openai.chat.completions.create`, `openai.responses.create`,
    /// `anthropic.messages.create` (OpenRouter keeps its name as provider).
    pub(crate) fn method(&self) -> String {
        let family = if self.api == Api::Messages { "anthropic" } else { "openai" };
        let call = match self.api {
            Api::ChatCompletions => "chat.completions.create",
            Api::Responses => "responses.create",
            Api::Messages => "messages.create",
        };
        format!("{family}.{call}")
    }
}

/// What the request asked for.
#[derive(Debug, Default)]
pub(crate) struct RequestInfo {
    pub(crate) model: Option<String>,
    pub(crate) stream: bool,
    pub(crate) messages: Vec<Message>,
    pub(crate) tools: Option<Value>,
    pub(crate) tool_choice: Option<Value>,
}

/// What the response said.
#[derive(Debug, Default)]
pub(crate) struct ResponseInfo {
    pub(crate) model: Option<String>,
    pub(crate) output: Vec<Message>,
    pub(crate) finish_reason: Option<String>,
    pub(crate) usage: Option<Usage>,
}

fn u(v: &Value, path: &[&str]) -> Option<u64> {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_u64)
}

fn text_of(content: &Value) -> Value {
    match content {
        // [{type: text|input_text|output_text, text}] → the joined text; other parts kept as-is.
        Value::Array(parts) if parts.iter().all(|p| p.get("text").is_some_and(Value::is_string)) => {
            Value::String(parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(""))
        }
        other => other.clone(),
    }
}

/// Tool arguments arrive as a JSON string; keep them as JSON when they parse.
fn arguments(raw: &Value) -> Value {
    match raw {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| raw.clone()),
        other => other.clone(),
    }
}

fn message(role: Role, content: Option<Value>) -> Message {
    Message { role, content, tool_calls: Vec::new(), tool_call_id: None, name: None }
}

fn tool_names(tools: &Value) -> Value {
    match tools {
        Value::Array(list) => Value::Array(
            list.iter()
                .map(|t| t.pointer("/function/name").or_else(|| t.get("name")).cloned().unwrap_or_else(|| t.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(crate) fn parse_request(api: Api, body: &Value) -> RequestInfo {
    let mut info = RequestInfo {
        model: body.get("model").and_then(Value::as_str).map(str::to_owned),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        tools: body.get("tools").filter(|t| !t.is_null()).map(tool_names),
        tool_choice: body.get("tool_choice").filter(|t| !t.is_null()).cloned(),
        messages: Vec::new(),
    };
    match api {
        Api::ChatCompletions => {
            for m in body.get("messages").and_then(Value::as_array).into_iter().flatten() {
                info.messages.push(chat_message(m));
            }
        }
        Api::Responses => {
            if let Some(i) = body.get("instructions").and_then(Value::as_str) {
                info.messages.push(message(Role::System, Some(json!(i))));
            }
            match body.get("input") {
                Some(Value::String(s)) => info.messages.push(message(Role::User, Some(json!(s)))),
                Some(Value::Array(items)) => info.messages.extend(items.iter().filter_map(response_item)),
                _ => {}
            }
        }
        Api::Messages => {
            match body.get("system") {
                Some(Value::Null) | None => {}
                Some(system) => info.messages.push(message(Role::System, Some(text_of(system)))),
            }
            for m in body.get("messages").and_then(Value::as_array).into_iter().flatten() {
                info.messages.extend(anthropic_message(m));
            }
        }
    }
    info
}

fn role_of(m: &Value) -> Role {
    match m.get("role").and_then(Value::as_str) {
        Some("system" | "developer") => Role::System,
        Some("assistant") => Role::Assistant,
        Some("tool") => Role::Tool,
        _ => Role::User,
    }
}

fn chat_message(m: &Value) -> Message {
    let role = role_of(m);
    let content = m.get("content").filter(|c| !c.is_null()).map(text_of);
    let mut out = message(role, content);
    if role == Role::Tool {
        out.tool_call_id = m.get("tool_call_id").and_then(Value::as_str).map(str::to_owned);
        out.name = m.get("name").and_then(Value::as_str).map(str::to_owned);
    }
    for call in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        out.tool_calls.push(ToolCall {
            id: call.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
            name: call.pointer("/function/name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            arguments: call.pointer("/function/arguments").map(arguments).unwrap_or(Value::Null),
        });
    }
    out
}

/// A Responses API input or output item.
fn response_item(item: &Value) -> Option<Message> {
    match item.get("type").and_then(Value::as_str) {
        Some("function_call") => Some(Message {
            tool_calls: vec![ToolCall {
                id: item.get("call_id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                name: item.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                arguments: item.get("arguments").map(arguments).unwrap_or(Value::Null),
            }],
            ..message(Role::Assistant, None)
        }),
        Some("function_call_output") => Some(Message {
            tool_call_id: item.get("call_id").and_then(Value::as_str).map(str::to_owned),
            ..message(Role::Tool, item.get("output").map(arguments))
        }),
        Some("message") | None if item.get("role").is_some() => {
            Some(message(role_of(item), item.get("content").map(text_of)))
        }
        _ => None,
    }
}

/// An Anthropic message: text blocks, `tool_use` blocks (assistant) and `tool_result` blocks
/// (user) become separate messages, as the role → event mapping expects.
fn anthropic_message(m: &Value) -> Vec<Message> {
    let role = role_of(m);
    let blocks = match m.get("content") {
        Some(Value::String(s)) => return vec![message(role, Some(json!(s)))],
        Some(Value::Array(blocks)) => blocks,
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    let text: Vec<&str> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let calls: Vec<ToolCall> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
        .map(|b| ToolCall {
            id: b.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
            name: b.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            arguments: b.get("input").cloned().unwrap_or(Value::Null),
        })
        .collect();
    for result in blocks.iter().filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result")) {
        out.push(Message {
            tool_call_id: result.get("tool_use_id").and_then(Value::as_str).map(str::to_owned),
            ..message(Role::Tool, result.get("content").map(text_of))
        });
    }
    if !text.is_empty() || !calls.is_empty() {
        out.push(Message { tool_calls: calls, ..message(role, (!text.is_empty()).then(|| json!(text.join("")))) });
    }
    out
}

pub(crate) fn parse_response(api: Api, body: &Value) -> ResponseInfo {
    let model = body.get("model").and_then(Value::as_str).map(str::to_owned);
    match api {
        Api::ChatCompletions => {
            let choice = body.pointer("/choices/0");
            ResponseInfo {
                model,
                output: choice.and_then(|c| c.get("message")).map(chat_message).into_iter().collect(),
                finish_reason: choice.and_then(|c| c.get("finish_reason")).and_then(Value::as_str).map(str::to_owned),
                usage: body.get("usage").filter(|u| !u.is_null()).map(|usage| {
                    Usage::from_openai(
                        u(usage, &["prompt_tokens"]).unwrap_or(0),
                        u(usage, &["completion_tokens"]).unwrap_or(0),
                        u(usage, &["prompt_tokens_details", "cached_tokens"]),
                        u(usage, &["completion_tokens_details", "reasoning_tokens"]),
                    )
                }),
            }
        }
        Api::Responses => {
            let mut output: Vec<Message> = Vec::new();
            for item in body.get("output").and_then(Value::as_array).into_iter().flatten() {
                if let Some(m) = response_item(item) {
                    output.push(m);
                }
            }
            ResponseInfo {
                model,
                output,
                finish_reason: body.get("status").and_then(Value::as_str).map(str::to_owned),
                usage: body.get("usage").filter(|u| !u.is_null()).map(|usage| {
                    Usage::from_openai(
                        u(usage, &["input_tokens"]).unwrap_or(0),
                        u(usage, &["output_tokens"]).unwrap_or(0),
                        u(usage, &["input_tokens_details", "cached_tokens"]),
                        u(usage, &["output_tokens_details", "reasoning_tokens"]),
                    )
                }),
            }
        }
        Api::Messages => ResponseInfo {
            model,
            output: anthropic_message(
                &json!({"role": "assistant", "content": body.get("content").cloned().unwrap_or(Value::Null)}),
            ),
            finish_reason: body.get("stop_reason").and_then(Value::as_str).map(str::to_owned),
            usage: body.get("usage").filter(|u| !u.is_null()).map(anthropic_usage),
        },
    }
}

fn anthropic_usage(usage: &Value) -> Usage {
    Usage::from_anthropic(
        u(usage, &["input_tokens"]).unwrap_or(0),
        u(usage, &["output_tokens"]).unwrap_or(0),
        u(usage, &["cache_read_input_tokens"]),
        u(usage, &["cache_creation_input_tokens"]),
    )
}

/// The provider's error body: `{"error": {"type", "message"}}` (OpenAI and Anthropic alike).
pub(crate) fn error_value(status: u16, body: &str) -> Value {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map_or_else(|| body.chars().take(500).collect::<String>(), str::to_owned);
    let kind = error
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .map_or_else(|| format!("http_{status}"), str::to_owned);
    json!({"type": kind, "message": message, "status": status, "body": parsed.unwrap_or(Value::String(body.chars().take(2000).collect()))})
}

/// Assembles a streamed (server-sent events) response as it passes.
#[derive(Debug)]
pub(crate) struct StreamAssembler {
    api: Api,
    buffer: Vec<u8>,
    pub(crate) info: ResponseInfo,
    text: String,
    /// Tool calls by index: (id, name, argument fragments).
    calls: Vec<(String, String, String)>,
    /// Anthropic: content block index → position in `calls`.
    blocks: Map<String, Value>,
    pub(crate) saw_output: bool,
    pub(crate) completed: bool,
}

impl StreamAssembler {
    pub(crate) fn new(api: Api) -> Self {
        Self {
            api,
            buffer: Vec::new(),
            info: ResponseInfo::default(),
            text: String::new(),
            calls: Vec::new(),
            blocks: Map::new(),
            saw_output: false,
            completed: false,
        }
    }

    /// Feeds raw bytes; complete events are applied, a partial one waits for more.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        while let Some(end) = find_event_end(&self.buffer) {
            let event: Vec<u8> = self.buffer.drain(..end.1).take(end.0).collect();
            let text = String::from_utf8_lossy(&event);
            let data: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if data.is_empty() {
                continue;
            }
            let payload = data.join("\n");
            if payload.trim() == "[DONE]" {
                self.completed = true;
                continue;
            }
            if let Ok(value) = serde_json::from_str::<Value>(&payload) {
                self.apply(&value);
            }
        }
    }

    fn apply(&mut self, v: &Value) {
        match self.api {
            Api::ChatCompletions => {
                if let Some(m) = v.get("model").and_then(Value::as_str) {
                    self.info.model = Some(m.to_owned());
                }
                if let Some(usage) = v.get("usage").filter(|u| !u.is_null()) {
                    self.info.usage = parse_response(Api::ChatCompletions, &json!({"usage": usage})).usage;
                }
                let Some(choice) = v.pointer("/choices/0") else { return };
                if let Some(r) = choice.get("finish_reason").and_then(Value::as_str) {
                    self.info.finish_reason = Some(r.to_owned());
                }
                if let Some(t) = choice.pointer("/delta/content").and_then(Value::as_str) {
                    self.saw_output |= !t.is_empty();
                    self.text.push_str(t);
                }
                for call in choice.pointer("/delta/tool_calls").and_then(Value::as_array).into_iter().flatten() {
                    self.saw_output = true;
                    let index = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                    while self.calls.len() <= index {
                        self.calls.push(Default::default());
                    }
                    let slot = &mut self.calls[index];
                    if let Some(id) = call.get("id").and_then(Value::as_str) {
                        slot.0 = id.to_owned();
                    }
                    if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                        slot.1.push_str(name);
                    }
                    if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                        slot.2.push_str(args);
                    }
                }
            }
            Api::Responses => match v.get("type").and_then(Value::as_str) {
                Some("response.output_text.delta") => {
                    self.saw_output = true;
                    if let Some(d) = v.get("delta").and_then(Value::as_str) {
                        self.text.push_str(d);
                    }
                }
                Some("response.output_item.added")
                    if v.pointer("/item/type").and_then(Value::as_str) == Some("function_call") =>
                {
                    self.saw_output = true;
                }
                Some("response.completed" | "response.incomplete" | "response.failed") => {
                    if let Some(response) = v.get("response") {
                        self.info = parse_response(Api::Responses, response);
                        self.text.clear();
                    }
                    self.completed = true;
                }
                _ => {}
            },
            Api::Messages => match v.get("type").and_then(Value::as_str) {
                Some("message_start") => {
                    self.info.model = v.pointer("/message/model").and_then(Value::as_str).map(str::to_owned);
                    self.info.usage = v.pointer("/message/usage").map(anthropic_usage);
                }
                Some("content_block_start") => {
                    let block = &v["content_block"];
                    if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                        self.saw_output = true;
                        let index = v.get("index").map(Value::to_string).unwrap_or_default();
                        self.blocks.insert(index, json!(self.calls.len()));
                        self.calls.push((
                            block.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                            block.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                            String::new(),
                        ));
                    }
                }
                Some("content_block_delta") => {
                    let delta = &v["delta"];
                    match delta.get("type").and_then(Value::as_str) {
                        Some("text_delta") => {
                            self.saw_output = true;
                            self.text.push_str(delta.get("text").and_then(Value::as_str).unwrap_or_default());
                        }
                        Some("input_json_delta") => {
                            let index = v.get("index").map(Value::to_string).unwrap_or_default();
                            if let Some(slot) = self
                                .blocks
                                .get(&index)
                                .and_then(Value::as_u64)
                                .and_then(|i| self.calls.get_mut(i as usize))
                            {
                                slot.2.push_str(delta.get("partial_json").and_then(Value::as_str).unwrap_or_default());
                            }
                        }
                        _ => {}
                    }
                }
                Some("message_delta") => {
                    if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                        self.info.finish_reason = Some(r.to_owned());
                    }
                    if let Some(out) = v.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                        let usage = self.info.usage.get_or_insert_with(Usage::default);
                        usage.output_tokens = out;
                    }
                }
                Some("message_stop") => self.completed = true,
                _ => {}
            },
        }
    }

    /// The assembled answer (text and tool calls) once the stream is over.
    pub(crate) fn finish(mut self) -> ResponseInfo {
        if self.api == Api::Responses && !self.info.output.is_empty() {
            return self.info;
        }
        let calls: Vec<ToolCall> = self
            .calls
            .drain(..)
            .map(|(id, name, args)| ToolCall { id, name, arguments: arguments(&Value::String(args)) })
            .collect();
        if !self.text.is_empty() || !calls.is_empty() {
            let content = (!self.text.is_empty()).then(|| Value::String(std::mem::take(&mut self.text)));
            self.info.output = vec![Message { tool_calls: calls, ..message(Role::Assistant, content) }];
        }
        self.info
    }
}

/// (length of the event without its separator, length with it) of the first complete event.
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2));
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, i + 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests;
