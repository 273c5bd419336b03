//! Chat messages and how they become events (the original's mapping, reference §3.8).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use northstar_wire::EventType;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// One chat message of a model call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    /// Text or structured content; `None` for an assistant message that only calls tools.
    pub content: Option<Value>,
    pub tool_calls: Vec<ToolCall>,
    /// For `tool` messages: the call this result answers.
    pub tool_call_id: Option<String>,
    /// For `tool` messages: the tool's name.
    pub name: Option<String>,
}

impl Message {
    fn new(role: Role, content: Option<Value>) -> Self {
        Self { role, content, tool_calls: Vec::new(), tool_call_id: None, name: None }
    }

    /// A system prompt.
    #[must_use]
    pub fn system(content: impl Into<Value>) -> Self {
        Self::new(Role::System, Some(content.into()))
    }

    /// A user message.
    #[must_use]
    pub fn user(content: impl Into<Value>) -> Self {
        Self::new(Role::User, Some(content.into()))
    }

    /// An assistant message.
    #[must_use]
    pub fn assistant(content: impl Into<Value>) -> Self {
        Self::new(Role::Assistant, Some(content.into()))
    }

    /// An assistant message that calls tools.
    #[must_use]
    pub fn tool_calls(calls: Vec<ToolCall>) -> Self {
        Self { tool_calls: calls, ..Self::new(Role::Assistant, None) }
    }

    /// A tool's result, answering `tool_call_id`.
    #[must_use]
    pub fn tool(tool_call_id: impl Into<String>, name: impl Into<String>, content: impl Into<Value>) -> Self {
        Self {
            tool_call_id: Some(tool_call_id.into()),
            name: Some(name.into()),
            ..Self::new(Role::Tool, Some(content.into()))
        }
    }
}

/// system → `system_message`; user → `user_input`; tool → `tool_result` with attributes
/// `{tool_call_id, name}`; assistant → `assistant_message` (when it has content) and one
/// `tool_arguments` event per tool call with content `{id, name, arguments}`.
pub(crate) fn message_events(m: &Message) -> Vec<(EventType, Value, Map<String, Value>)> {
    let content = || m.content.clone().unwrap_or(Value::Null);
    match m.role {
        Role::System => vec![(EventType::SystemMessage, content(), Map::new())],
        Role::User => vec![(EventType::UserInput, content(), Map::new())],
        Role::Tool => {
            let mut attributes = Map::new();
            if let Some(id) = &m.tool_call_id {
                attributes.insert("tool_call_id".into(), json!(id));
            }
            if let Some(name) = &m.name {
                attributes.insert("name".into(), json!(name));
            }
            vec![(EventType::ToolResult, content(), attributes)]
        }
        Role::Assistant => {
            let mut events = Vec::new();
            if let Some(c) = &m.content {
                events.push((EventType::AssistantMessage, c.clone(), Map::new()));
            }
            for call in &m.tool_calls {
                let mut attributes = Map::new();
                attributes.insert("tool_call_id".into(), json!(call.id));
                attributes.insert("name".into(), json!(call.name));
                events.push((
                    EventType::ToolArguments,
                    json!({"id": call.id, "name": call.name, "arguments": call.arguments}),
                    attributes,
                ));
            }
            events
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_to_event_types() {
        let types = |m: &Message| message_events(m).into_iter().map(|(t, _, _)| t).collect::<Vec<_>>();
        assert_eq!(types(&Message::system("be brief")), [EventType::SystemMessage]);
        assert_eq!(types(&Message::user("hi")), [EventType::UserInput]);
        let (t, content, attrs) = message_events(&Message::tool("call_1", "search", json!({"hits": 2}))).remove(0);
        assert_eq!((t, content), (EventType::ToolResult, json!({"hits": 2})));
        assert_eq!(Value::Object(attrs), json!({"tool_call_id": "call_1", "name": "search"}));
        let call = ToolCall { id: "call_1".into(), name: "search".into(), arguments: json!({"q": "refunds"}) };
        let events = message_events(&Message::tool_calls(vec![call]));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].1, json!({"id": "call_1", "name": "search", "arguments": {"q": "refunds"}}));
        let mut both = Message::assistant("let me check");
        both.tool_calls.push(ToolCall { id: "c".into(), name: "n".into(), arguments: json!({}) });
        assert_eq!(types(&both), [EventType::AssistantMessage, EventType::ToolArguments]);
    }
}
