//! Server side only: store rows → the pages' data. Figures come from the store (the cost rule
//! lives there); here they are arranged and formatted.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;
use northstar_store::{
    NewScore, Overview, Project, Role, RunRow, ScoreSummary, SessionRow, SessionView, SpanOutline, StoreError,
    TimeRange, User,
};
use northstar_wire::attributes as attr;
use northstar_wire::{Event, EventType, Score, ScoreDataType, Span, SpanKind, Status};
use serde_json::Value;
use uuid::Uuid;

use crate::model::{
    DayPoint, ErrorView, Ingest, JsonNode, MessageView, ModelPoint, NodeDetail, OverviewData, ProjectItem, RunItem,
    RunSummary, ScoreChip, ScoreItem, ScoreSummaryItem, SessionData, SessionItem, TurnView,
};
use crate::outline::{Node, Outline};

/// What the server tells the dashboard about itself.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// The ingest URL to show in empty states; `None` derives it from the request's `Host`.
    pub public_url: Option<String>,
    /// The server's password hashing (argon2id; slow, so it is run on the blocking pool), for
    /// a server admin setting someone's password. The server owns the scheme.
    pub hash_password: fn(&str) -> Result<String, String>,
}

pub(crate) use crate::scope::{current_user, fail, server_admin, uuid};

pub(crate) fn user_item(u: User) -> crate::model::UserItem {
    crate::model::UserItem { email: u.email, is_admin: u.is_admin, disabled: u.disabled, created: utc(u.created_at) }
}

pub(crate) fn project(p: Project, role: Role) -> ProjectItem {
    ProjectItem { id: p.id.to_string(), name: p.name, created: utc(p.created_at), role: role.as_str().to_owned() }
}

/// `24h`, `7d`, `30d`, `90d`; anything else is all time.
pub(crate) fn range(text: &str) -> TimeRange {
    let back = match text {
        "24h" => Duration::hours(24),
        "7d" => Duration::days(7),
        "30d" => Duration::days(30),
        "90d" => Duration::days(90),
        _ => return TimeRange::default(),
    };
    TimeRange { from: Some(Utc::now() - back), to: None }
}

pub(crate) fn status(text: &str) -> Option<Status> {
    Status::parse(text)
}

pub(crate) fn ingest() -> Ingest {
    let config = use_context::<DashboardConfig>();
    if let Some(url) = config.and_then(|c| c.public_url) {
        return Ingest { url: format!("{}{}", url.trim_end_matches('/'), INGEST_PATH) };
    }
    let parts = use_context::<axum::http::request::Parts>();
    let host = parts
        .as_ref()
        .and_then(|p| p.headers.get(axum::http::header::HOST))
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080")
        .to_owned();
    Ingest { url: format!("http://{host}{INGEST_PATH}") }
}

const INGEST_PATH: &str = "/functions/v1/ingest-traces";

pub(crate) fn key(k: northstar_store::ApiKey) -> crate::model::KeyItem {
    crate::model::KeyItem {
        id: k.id.to_string(),
        name: k.name,
        scope: k.scope.as_str().to_owned(),
        project_key: k.project_key,
        created: utc(k.created_at),
        last_used: k.last_used_at.map(utc),
        revoked: k.revoked_at.map(utc),
    }
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds();
    match s {
        i64::MIN..=-1 => "just now".into(),
        0..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=86_399 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

fn millis(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// `v` as a foldable tree, its deepest levels as JSON text.
pub(crate) fn json_tree(v: &Value) -> JsonNode {
    fn walk(v: &Value, depth: usize) -> JsonNode {
        match v {
            Value::Array(items) if depth < JsonNode::MAX_DEPTH => {
                JsonNode::List(items.iter().map(|i| walk(i, depth + 1)).collect())
            }
            Value::Object(map) if depth < JsonNode::MAX_DEPTH => {
                JsonNode::Map(map.iter().map(|(k, i)| (k.clone(), walk(i, depth + 1))).collect())
            }
            other => JsonNode::Scalar(other.to_string()),
        }
    }
    walk(v, 0)
}

pub(crate) fn overview(project: ProjectItem, o: Overview, has_data: bool) -> OverviewData {
    OverviewData {
        project,
        ingest: ingest(),
        has_data,
        runs: o.runs,
        errored_runs: o.errored_runs,
        sessions: o.sessions,
        tool_calls: o.tool_calls,
        error_rate: o.error_rate(),
        cost_usd: o.cost_usd,
        input_tokens: o.input_tokens,
        output_tokens: o.output_tokens,
        p50_ms: o.latency_p50_ms,
        p95_ms: o.latency_p95_ms,
        days: o
            .days
            .into_iter()
            .map(|d| DayPoint {
                day: d.day,
                runs: d.runs,
                errors: d.errored_runs,
                cost_usd: d.cost_usd,
                tokens: d.input_tokens + d.output_tokens,
            })
            .collect(),
        by_model: o
            .by_model
            .into_iter()
            .map(|m| ModelPoint {
                model: m.model,
                calls: m.calls,
                cost_usd: m.cost_usd,
                tokens: m.input_tokens + m.output_tokens,
            })
            .collect(),
    }
}

pub(crate) fn session(r: &SessionRow, now: DateTime<Utc>) -> SessionItem {
    SessionItem {
        id: r.id.to_string(),
        started: utc(r.created_at),
        started_ago: ago(now, r.created_at),
        status: r.status.as_str().to_owned(),
        duration_ms: r.duration_ms,
        runs: r.runs,
        errored_runs: r.errored_runs,
        tool_calls: r.tool_calls,
        cost_usd: r.cost_usd,
        tokens: r.input_tokens + r.output_tokens,
        user: r.user.clone(),
        first_run: r.first_run.clone(),
        input: r.input.as_deref().map(|t| one_line(t, 120)),
    }
}

/// A preview on one line: whitespace runs folded, at most `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

/// The value of a score as a person reads it: the number, the category, or Pass/Fail.
fn score_value(s: &Score) -> String {
    match s.data_type {
        ScoreDataType::Categorical => s.string_value.clone().unwrap_or_default(),
        ScoreDataType::Boolean => if s.value == 1.0 { "Pass" } else { "Fail" }.to_owned(),
        ScoreDataType::Numeric => crate::format::number(s.value),
    }
}

/// The newest score of each name (`scores` newest first), as a list shows them.
fn score_chips(scores: &[Score]) -> Vec<ScoreChip> {
    let mut seen = HashSet::new();
    scores
        .iter()
        .filter(|s| seen.insert((s.name.as_str(), s.span_id)))
        .map(|s| ScoreChip { name: s.name.clone(), value: score_value(s), span: s.span_id.is_some() })
        .collect()
}

pub(crate) fn run(r: &RunRow, now: DateTime<Utc>, origin: DateTime<Utc>) -> RunItem {
    RunItem {
        id: r.id.to_string(),
        session_id: r.session_id.to_string(),
        name: r.name.clone(),
        started: utc(r.started_at),
        started_ago: ago(now, r.started_at),
        status: r.status,
        duration_ms: r.duration_ms,
        cost_usd: r.cost_usd,
        input_tokens: r.input_tokens,
        output_tokens: r.output_tokens,
        model: r.model.clone(),
        models: r.models,
        tool_calls: r.tool_calls,
        spans: r.spans,
        offset_ms: millis(origin, r.started_at),
        input: r.input.as_deref().map(|t| one_line(t, 120)),
        user: r.user.clone(),
        scores: score_chips(&r.scores),
    }
}

pub(crate) fn session_data(view: &SessionView, now: DateTime<Utc>) -> SessionData {
    let (row, runs) = (&view.session, &view.runs);
    let items: Vec<RunItem> = runs.iter().map(|r| run(r, now, row.created_at)).collect();
    let named: HashMap<Uuid, &RunRow> = runs.iter().map(|r| (r.id, r)).collect();
    let turns = view
        .turns
        .iter()
        .map(|t| TurnView {
            run: t.run.to_string(),
            name: named.get(&t.run).map(|r| r.name.clone()).unwrap_or_default(),
            status: named.get(&t.run).map_or(Status::Ok, |r| r.status),
            input: t.input.as_ref().map(message),
            output: t.output.as_ref().map(message),
        })
        .collect();
    let end = items.iter().map(|r| r.offset_ms + r.duration_ms.unwrap_or(0.0)).fold(0.0_f64, f64::max);
    SessionData {
        session: session(row, now),
        metadata: pretty(&view.metadata),
        runs: items,
        turns,
        span_ms: end.max(row.duration_ms.unwrap_or(0.0)).max(1.0),
    }
}

pub(crate) fn error_view(v: &Value) -> Option<ErrorView> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(ErrorView { kind: None, message: s.clone(), stack: None }),
        Value::Object(o) => Some(ErrorView {
            kind: o.get("type").and_then(Value::as_str).map(str::to_owned),
            message: o.get("message").and_then(Value::as_str).map_or_else(|| pretty(v), str::to_owned),
            stack: ["stack", "stacktrace", "traceback"].iter().find_map(|k| match o.get(*k) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Array(lines)) => Some(
                    lines
                        .iter()
                        .map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                _ => None,
            }),
        }),
        other => Some(ErrorView { kind: None, message: other.to_string(), stack: None }),
    }
}

/// The text of a message's content: a string, or the text parts of a content array, or
/// `{content|text: "…"}`.
fn content_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> =
                parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str).or_else(|| p.as_str())).collect();
            (!texts.is_empty() && texts.len() == parts.len()).then(|| texts.join("\n"))
        }
        Value::Object(o) => {
            let text = ["content", "text"].iter().find_map(|k| o.get(*k).and_then(content_text));
            // An OpenAI-style assistant message that calls tools: its text, then one line per
            // call, `→ name(arguments)`.
            let calls: Vec<String> = o
                .get("tool_calls")
                .and_then(Value::as_array)
                .map(|calls| calls.iter().filter_map(tool_call_line).collect())
                .unwrap_or_default();
            match (text, calls.is_empty()) {
                (text, true) => text,
                (None, false) => Some(calls.join("\n")),
                (Some(t), false) => Some(format!("{t}\n{}", calls.join("\n"))),
            }
        }
        _ => None,
    }
}

/// `→ name(arguments)` for a tool call as OpenAI writes it (`{function: {name, arguments}}`,
/// arguments a JSON string) or flat (`{name, arguments|args|input}`).
fn tool_call_line(call: &Value) -> Option<String> {
    let f = call.get("function").unwrap_or(call);
    let name = f.get("name").and_then(Value::as_str)?;
    let args = ["arguments", "args", "input"].iter().find_map(|k| f.get(*k)).map_or_else(String::new, |a| match a {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    Some(format!("→ {name}({args})"))
}

fn event_label(t: EventType) -> (&'static str, &'static str) {
    match t {
        EventType::SystemMessage => ("system", "System"),
        EventType::UserInput => ("user", "User"),
        EventType::AssistantMessage => ("assistant", "Assistant"),
        EventType::ToolResult => ("tool", "Tool result"),
        EventType::ToolArguments => ("tool-call", "Tool call"),
        EventType::Reasoning => ("reasoning", "Reasoning"),
        EventType::FinalResponse => ("final", "Final response"),
        EventType::Custom => ("custom", "Custom"),
    }
}

fn preview(e: &Event) -> String {
    let text = content_text(&e.content).unwrap_or_else(|| e.content.to_string());
    one_line(&text, 80)
}

fn message(e: &Event) -> MessageView {
    let (role, label) = event_label(e.event_type);
    let mut label = label.to_owned();
    let name =
        e.attributes.get("name").and_then(Value::as_str).or_else(|| e.content.get("name").and_then(Value::as_str));
    if let Some(name) = name
        && matches!(e.event_type, EventType::ToolArguments | EventType::ToolResult | EventType::Custom)
    {
        label = format!("{label} · {name}");
    }
    // Tool payloads read best as JSON; messages as text when they are text.
    let text = match e.event_type {
        EventType::ToolArguments | EventType::ToolResult | EventType::Custom => e.content.as_str().map(str::to_owned),
        _ => content_text(&e.content),
    };
    MessageView {
        role: role.to_owned(),
        label,
        json: text.is_none().then(|| pretty(&e.content)),
        tree: text.is_none().then(|| json_tree(&e.content)),
        text,
        at: e.created_at.format("%H:%M:%S%.3f").to_string(),
    }
}

/// A child in a node's list: the time and rank it is ordered by, and its item number.
type Child = (DateTime<Utc>, u8, usize);

/// At one instant: inputs (a system prompt, the user's message), then spans, then outputs.
const RANK_INPUT: u8 = 0;
const RANK_SPAN: u8 = 1;
const RANK_OUTPUT: u8 = 2;

/// Orders the children of one node: by time, then rank, then as recorded. An input event
/// that falls inside a sibling span that started before it is put just before that span: it
/// is what the span answers (an SDK that opens the agent's span before it records the run's
/// question would otherwise list the question after the whole agent).
fn order_children(list: &mut [Child], spans: &[SpanOutline]) {
    list.sort_unstable();
    if !list.iter().any(|c| c.1 == RANK_INPUT) || !list.iter().any(|c| c.1 == RANK_SPAN) {
        return;
    }
    // The sibling spans by start, and the latest end reached by each prefix of them (a span
    // still running reaches everything).
    let (mut starts, mut reach) = (Vec::new(), Vec::new());
    for &(start, _, item) in list.iter().filter(|c| c.1 == RANK_SPAN) {
        let end = spans[item].ended_at.unwrap_or(DateTime::<Utc>::MAX_UTC);
        reach.push(reach.last().map_or(end, |r: &DateTime<Utc>| end.max(*r)));
        starts.push(start);
    }
    let mut moved = false;
    for child in list.iter_mut().filter(|c| c.1 == RANK_INPUT) {
        // The first span whose prefix reaches the input is the earliest one covering it.
        let k = reach.partition_point(|r| *r < child.0);
        if k < starts.len() && starts[k] < child.0 {
            child.0 = starts[k];
            moved = true;
        }
    }
    if moved {
        list.sort_unstable();
    }
}

/// The run as a tree: spans nested by `parent_span_id`, events under their span (or the
/// run), children in time order; each node's figures include those below it.
pub(crate) fn outline(row: &RunRow, spans: &[SpanOutline], events: &[Event]) -> Outline {
    let origin = row.started_at;
    let ids: HashSet<Uuid> = spans.iter().map(|s| s.id).collect();
    // Items are numbered: spans 0..n, then events. Children lists hold item numbers, with the
    // time and rank they are ordered by.
    let mut children: HashMap<Option<Uuid>, Vec<Child>> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        let parent = s.parent_span_id.filter(|p| ids.contains(p) && *p != s.id);
        children.entry(parent).or_default().push((s.started_at, RANK_SPAN, i));
    }
    for (i, e) in events.iter().enumerate() {
        let parent = e.span_id.filter(|p| ids.contains(p));
        let rank = if matches!(e.event_type, EventType::UserInput | EventType::SystemMessage) {
            RANK_INPUT
        } else {
            RANK_OUTPUT
        };
        children.entry(parent).or_default().push((e.created_at, rank, spans.len() + i));
    }
    for list in children.values_mut() {
        order_children(list, spans);
    }

    let mut nodes: Vec<Node> = Vec::with_capacity(spans.len() + events.len());
    let mut seen = vec![false; spans.len()];
    // Depth-first, iteratively (deep agents must not overflow the stack): (parent, depth, item).
    let mut stack: Vec<(Option<u32>, u16, usize)> = Vec::new();
    let push_children =
        |stack: &mut Vec<(Option<u32>, u16, usize)>, key: Option<Uuid>, parent: Option<u32>, depth: u16| {
            if let Some(list) = children.get(&key) {
                stack.extend(list.iter().rev().map(|&(_, _, item)| (parent, depth, item)));
            }
        };
    push_children(&mut stack, None, None, 0);
    let mut next_unreached = 0;
    loop {
        while let Some((parent, depth, item)) = stack.pop() {
            let index = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
            let node = if let Some(s) = spans.get(item) {
                if std::mem::replace(&mut seen[item], true) {
                    continue;
                }
                Node {
                    id: s.id.to_string(),
                    parent,
                    children: Vec::new(),
                    depth,
                    kind: Some(s.kind),
                    event_type: None,
                    name: s.name.clone(),
                    iteration: s.iteration,
                    status: s.status,
                    start_ms: millis(origin, s.started_at),
                    duration_ms: s.ended_at.map(|e| millis(s.started_at, e)),
                    tokens: s.tokens.round() as i64,
                    cost_usd: s.cost_usd,
                    model: s.model.clone(),
                }
            } else {
                let e = &events[item - spans.len()];
                Node {
                    id: e.id.to_string(),
                    parent,
                    children: Vec::new(),
                    depth,
                    kind: None,
                    event_type: Some(e.event_type.as_str().to_owned()),
                    name: format!("{}: {}", event_label(e.event_type).1, preview(e)),
                    iteration: None,
                    status: Status::Ok,
                    start_ms: millis(origin, e.created_at),
                    duration_ms: None,
                    tokens: 0,
                    cost_usd: 0.0,
                    model: None,
                }
            };
            if let Some(p) = parent {
                nodes[p as usize].children.push(index);
            }
            nodes.push(node);
            if let Some(s) = spans.get(item) {
                push_children(&mut stack, Some(s.id), Some(index), depth.saturating_add(1));
            }
        }
        // Spans no walk from the run reaches (their parents form a cycle) become roots.
        while next_unreached < spans.len() && seen[next_unreached] {
            next_unreached += 1;
        }
        if next_unreached == spans.len() {
            break;
        }
        stack.push((None, 0, next_unreached));
    }

    // Figures roll up: children come after their parent in this order.
    for i in (0..nodes.len()).rev() {
        if let Some(p) = nodes[i].parent {
            let (t, c) = (nodes[i].tokens, nodes[i].cost_usd);
            let parent = &mut nodes[p as usize];
            parent.tokens += t;
            parent.cost_usd += c;
        }
    }
    let total_ms = nodes
        .iter()
        .map(|n| n.start_ms + n.duration_ms.unwrap_or(0.0))
        .fold(row.duration_ms.unwrap_or(0.0), f64::max)
        .max(1.0);
    Outline::new(nodes, total_ms)
}

pub(crate) fn run_summary(row: &RunRow, outline: &Outline) -> RunSummary {
    RunSummary {
        run: run(row, Utc::now(), row.started_at),
        started_unix_ms: row.started_at.timestamp_millis() as f64,
        error: row.error.as_ref().and_then(error_view),
        total_ms: outline.total_ms,
        nodes: outline.nodes.len() as u32,
        errors: outline.errors(),
    }
}

fn messages_of(events: &[Event], span: Option<Uuid>) -> Vec<MessageView> {
    events.iter().filter(|e| e.span_id == span).map(message).collect()
}

pub(crate) fn run_detail(row: &RunRow, events: &[Event]) -> NodeDetail {
    // Run-level events: those on no span, or on a span that is not stored.
    NodeDetail {
        id: String::new(),
        title: row.name.clone(),
        kind: None,
        status: row.status,
        duration_ms: row.duration_ms,
        tokens: Some((row.input_tokens, row.output_tokens)),
        cost_usd: Some(row.cost_usd),
        model: row.model.clone(),
        error: row.error.as_ref().and_then(error_view),
        iteration: None,
        attributes: pretty(&row.metadata),
        attributes_tree: json_tree(&row.metadata),
        messages: messages_of(events, None),
    }
}

pub(crate) fn span_detail(s: &Span, events: &[Event]) -> NodeDetail {
    let model = s.kind == SpanKind::Model;
    let num = |k: &str| s.attributes.get(k).and_then(Value::as_f64);
    NodeDetail {
        id: s.id.to_string(),
        title: s.name.clone(),
        kind: Some(s.kind),
        status: s.status,
        duration_ms: s.ended_at.map(|e| millis(s.started_at, e)),
        tokens: model.then(|| {
            (
                num(attr::INPUT_TOKENS).unwrap_or(0.0).round() as i64,
                num(attr::OUTPUT_TOKENS).unwrap_or(0.0).round() as i64,
            )
        }),
        cost_usd: if model { num(attr::COST_USD) } else { None },
        model: s.attributes.get(attr::MODEL).and_then(Value::as_str).map(str::to_owned),
        error: s.error.as_ref().and_then(error_view),
        iteration: s.iteration,
        attributes: pretty(&s.attributes),
        attributes_tree: json_tree(&s.attributes),
        messages: messages_of(events, Some(s.id)),
    }
}

pub(crate) fn score(s: &Score, by: Option<String>, now: DateTime<Utc>) -> ScoreItem {
    let value = score_value(s);
    ScoreItem {
        id: s.id.to_string(),
        name: s.name.clone(),
        value,
        data_type: s.data_type.as_str().to_owned(),
        source: s.source.as_str().to_owned(),
        comment: s.comment.clone(),
        created: ago(now, s.created_at),
        by,
        span: s.span_id.map(|id| id.to_string()),
    }
}

pub(crate) fn new_score(
    run: &str,
    name: String,
    data_type: &str,
    value: Option<String>,
    category: Option<String>,
    passed: Option<String>,
    comment: Option<String>,
) -> Result<NewScore, ServerFnError> {
    let invalid = |m: &str| fail(StoreError::Invalid(m.to_owned()));
    let name = name.trim().to_owned();
    if name.is_empty() {
        return Err(invalid("a score needs a name"));
    }
    let category = category.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    let comment = comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    let data_type =
        ScoreDataType::parse(data_type).ok_or_else(|| invalid("type must be number, category or pass/fail"))?;
    let value = match data_type {
        ScoreDataType::Numeric => value
            .as_deref()
            .map(str::trim)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && v.abs() <= northstar_wire::MAX_SCORE_VALUE)
            .ok_or_else(|| invalid("value must be a number"))?,
        ScoreDataType::Boolean => match passed.as_deref() {
            Some("pass") => 1.0,
            Some("fail") => 0.0,
            _ => return Err(invalid("choose pass or fail")),
        },
        ScoreDataType::Categorical => {
            if category.is_none() {
                return Err(invalid("a category score needs a category"));
            }
            0.0
        }
    };
    // Only the categorical type keeps a category (the store refuses one on other types).
    let category = if data_type == ScoreDataType::Categorical { category } else { None };
    Ok(NewScore {
        run: uuid(run)?,
        span: None,
        name,
        value,
        data_type,
        string_value: category,
        comment,
        created_by: None,
        source: northstar_wire::ScoreSource::Human,
    })
}

pub(crate) fn summary(s: ScoreSummary) -> ScoreSummaryItem {
    ScoreSummaryItem {
        name: s.name,
        data_type: s.data_type.as_str().to_owned(),
        count: s.count,
        avg: s.avg,
        min: s.min,
        max: s.max,
        buckets: s.buckets,
        trend: s.trend,
    }
}

/// A prompt as the pages show it.
pub(crate) fn prompt_item(p: &northstar_store::Prompt) -> crate::model::PromptItem {
    crate::model::PromptItem {
        id: p.id.to_string(),
        name: p.name.clone(),
        slug: p.slug.clone(),
        description: p.description.clone(),
        labels: p.label_numbers.iter().map(|(l, n)| (l.clone(), *n)).collect(),
        versions: p.versions,
        latest: p.latest_version,
        updated: utc(p.updated_at),
    }
}

/// A version with how its runs went (`figures`, if any used it).
pub(crate) fn version_item(
    v: &northstar_store::PromptVersion,
    prompt: &northstar_store::Prompt,
    numbers: &HashMap<Uuid, i32>,
    figures: Option<&northstar_store::VersionFigures>,
) -> crate::model::VersionItem {
    let runs = figures.map_or(0, |f| f.runs);
    let per_run = |x: f64| if runs > 0 { x / runs as f64 } else { 0.0 };
    crate::model::VersionItem {
        id: v.id.to_string(),
        number: v.version_number,
        content: v.content.clone(),
        model: v.model.clone(),
        temperature: v.temperature,
        max_tokens: v.max_tokens,
        variables: northstar_wire::prompt::variables(&v.content),
        change_note: v.change_note.clone(),
        hash: v.content_hash.chars().take(12).collect(),
        parent: v.parent_version_id.and_then(|p| numbers.get(&p).copied()),
        created: utc(v.created_at),
        created_by: v.created_by.clone(),
        labels: prompt.labels.iter().filter(|(_, id)| **id == v.id).map(|(l, _)| l.clone()).collect(),
        runs,
        error_rate: figures
            .filter(|_| runs > 0)
            .map_or_else(|| "—".into(), |f| crate::format::percent(per_run(f.errors as f64))),
        cost_per_run: figures
            .filter(|_| runs > 0)
            .map_or_else(|| "—".into(), |f| crate::format::cost(per_run(f.cost_usd))),
        p50: figures.map_or_else(|| "—".into(), |f| crate::format::duration(f.latency_p50_ms)),
        p95: figures.map_or_else(|| "—".into(), |f| crate::format::duration(f.latency_p95_ms)),
        scores: figures
            .map(|f| {
                f.scores.iter().map(|(n, mean, count)| (n.clone(), crate::format::number(*mean), *count)).collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_question_recorded_inside_the_span_that_answers_it_comes_before_that_span() {
        let t = |ms: i64| DateTime::<Utc>::UNIX_EPOCH + Duration::milliseconds(ms);
        let span = |start: i64, end: Option<i64>| SpanOutline {
            id: Uuid::new_v4(),
            parent_span_id: None,
            kind: SpanKind::Agent,
            name: "agent".into(),
            started_at: t(start),
            ended_at: end.map(t),
            status: Status::Ok,
            iteration: None,
            model: None,
            tokens: 0.0,
            cost_usd: 0.0,
        };
        // Items 0 and 1 are spans: the agent (0–100 ms) and a later one still running (200 ms–).
        let spans = [span(0, Some(100)), span(200, None)];
        let mut children = vec![
            (t(0), RANK_SPAN, 0),
            (t(200), RANK_SPAN, 1),
            (t(5), RANK_INPUT, 2),   // the run's question, recorded 5 ms into the agent
            (t(5), RANK_OUTPUT, 3),  // an answer inside the agent stays after it
            (t(150), RANK_INPUT, 4), // between the two: stays where its time puts it
            (t(250), RANK_INPUT, 5), // inside the running span
            (t(0), RANK_OUTPUT, 6),  // at the agent's start: outputs after spans
            (t(0), RANK_INPUT, 7),   // at the agent's start: inputs before spans
        ];
        order_children(&mut children, &spans);
        let order: Vec<usize> = children.iter().map(|c| c.2).collect();
        assert_eq!(order, [2, 7, 0, 6, 3, 4, 5, 1]);
    }

    #[test]
    fn an_assistant_message_that_calls_tools_reads_as_text_and_calls() {
        let message = json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "search_docs", "arguments": "{\"q\":\"refunds\"}"}},
            {"name": "lookup", "input": {"id": 7}}
        ]});
        assert_eq!(content_text(&message).as_deref(), Some("→ search_docs({\"q\":\"refunds\"})\n→ lookup({\"id\":7})"));
        let with_text =
            json!({"content": "Let me look.", "tool_calls": [{"function": {"name": "f", "arguments": ""}}]});
        assert_eq!(content_text(&with_text).as_deref(), Some("Let me look.\n→ f()"));
        assert_eq!(content_text(&json!({"content": [{"type": "text", "text": "hi"}]})).as_deref(), Some("hi"));
        assert_eq!(content_text(&json!({"other": 1})), None);
    }
}
