//! Per-record validation with the original's exact messages and check order: the element must
//! be an object, then every key must be allowed (first unknown key wins, in document order),
//! then the fields in the order the original checked them. "Optional" means absent or `null`.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::attributes;
use crate::{
    EventType, PromptLink, Run, Score, ScoreDataType, ScoreSource, Session, Span, SpanKind, Status, Timestamp,
    parse_timestamp,
};

type Object = Map<String, Value>;

/// One record under validation: its object and its path (`runs[3]`) for messages. Values the
/// record keeps (strings, objects) are moved out of the object, never copied: a batch is held
/// once, not twice.
struct Rec {
    obj: Object,
    path: String,
}

impl Rec {
    fn new(array: &str, index: usize, value: Value, allowed: &[&str]) -> Result<Self, String> {
        let path = format!("{array}[{index}]");
        let Value::Object(obj) = value else {
            return Err(format!("{path} is not an object"));
        };
        if let Some(key) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("{path}.{} is not allowed", shortened(key)));
        }
        Ok(Self { obj, path })
    }

    fn err(&self, field: &str, what: &str) -> String {
        format!("{}.{field} {what}", self.path)
    }

    /// The value, or `None` when absent or `null`.
    fn get(&self, field: &str) -> Option<&Value> {
        self.obj.get(field).filter(|v| !v.is_null())
    }

    /// The value moved out of the record (`Null` when absent).
    fn take(&mut self, field: &str) -> Value {
        self.obj.get_mut(field).map(Value::take).unwrap_or(Value::Null)
    }

    fn uuid(&self, field: &str) -> Result<Uuid, String> {
        self.get(field).and_then(parse_uuid).ok_or_else(|| self.err(field, "is not a valid UUID"))
    }

    fn opt_uuid(&self, field: &str) -> Result<Option<Uuid>, String> {
        self.get(field).map(|_| self.uuid(field)).transpose()
    }

    /// `project_id` may be sent but is always replaced by the authenticated project.
    fn project_id(&self) -> Result<(), String> {
        self.opt_uuid("project_id").map(drop)
    }

    fn timestamp(&self, field: &str) -> Result<Timestamp, String> {
        self.get(field)
            .and_then(Value::as_str)
            .and_then(parse_timestamp)
            .ok_or_else(|| self.err(field, "is not a valid ISO timestamp"))
    }

    fn opt_timestamp(&self, field: &str) -> Result<Option<Timestamp>, String> {
        self.get(field).map(|_| self.timestamp(field)).transpose()
    }

    /// A non-empty string (whitespace-only is accepted, as in the original).
    fn name(&mut self, field: &str) -> Result<String, String> {
        match self.get(field) {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => return Err(self.err(field, "is required")),
        }
        match self.take(field) {
            Value::String(s) => Ok(s),
            _ => unreachable!("checked above"),
        }
    }

    fn status(&self) -> Result<Status, String> {
        self.get("status")
            .and_then(Value::as_str)
            .and_then(Status::parse)
            .ok_or_else(|| self.err("status", &format!("must be one of: {}", Status::choices())))
    }

    /// An optional object: `None` when absent, `Some(Null)` for `null`, else the object.
    fn opt_object(&mut self, field: &str) -> Result<Option<Value>, String> {
        match self.obj.get(field) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(Value::Null)),
            Some(Value::Object(_)) => Ok(Some(self.take(field))),
            Some(_) => Err(self.err(field, "must be an object")),
        }
    }

    /// An optional object whose absence means `{}`.
    fn object_or_empty(&mut self, field: &str) -> Result<Value, String> {
        Ok(self.opt_object(field)?.unwrap_or_else(|| Value::Object(Map::new())))
    }

    /// The figures of `object` (this record's `field`) that runs and sessions add up must be
    /// numbers within their bounds when they are numbers at all (other values are not counted).
    fn figures(&self, field: &str, object: &Value, bounds: &[(&str, f64)]) -> Result<(), String> {
        for (key, max) in bounds {
            let Some(value) = object.get(key).filter(|v| v.is_number()) else { continue };
            if !value.as_f64().is_some_and(|v| (0.0..=*max).contains(&v)) {
                return Err(self.err(&format!("{field}.{key}"), &format!("must be a number from 0 to {max}")));
            }
        }
        Ok(())
    }
}

/// The largest cost in USD one span or run may carry: far above any real call, far below what
/// could overflow a sum of millions of them.
pub const MAX_COST_USD: f64 = 1e6;
/// The largest token count one span or run may carry (same reasoning).
pub const MAX_TOKENS: f64 = 1e10;
/// The largest magnitude of a score's value, so averages and sums of scores stay finite.
pub const MAX_SCORE_VALUE: f64 = 1e15;

/// The figures of a span's `attributes` (summed into its run when it is a `model` span, or
/// priced by the server).
const SPAN_FIGURES: [(&str, f64); 6] = [
    (attributes::COST_USD, MAX_COST_USD),
    (attributes::INPUT_TOKENS, MAX_TOKENS),
    (attributes::OUTPUT_TOKENS, MAX_TOKENS),
    (attributes::CACHED_INPUT_TOKENS, MAX_TOKENS),
    (attributes::CACHE_WRITE_TOKENS, MAX_TOKENS),
    (attributes::REASONING_TOKENS, MAX_TOKENS),
];
/// The figures of a run's `metadata` (the cost rule's fallback).
const RUN_FIGURES: [(&str, f64); 3] = [
    (attributes::COST_USD, MAX_COST_USD),
    (attributes::TOTAL_INPUT_TOKENS, MAX_TOKENS),
    (attributes::TOTAL_OUTPUT_TOKENS, MAX_TOKENS),
];

/// A client's string quoted in an error message, cut to a readable length (an unknown key may
/// be megabytes long).
fn shortened(text: &str) -> std::borrow::Cow<'_, str> {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]).into(),
        None => text.into(),
    }
}

/// The original's UUID shape: 8-4-4-4-12 hex digits, any case, any version nibble.
fn parse_uuid(value: &Value) -> Option<Uuid> {
    let s = value.as_str()?;
    let b = s.as_bytes();
    let shape_ok = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    shape_ok.then(|| Uuid::parse_str(s).ok()).flatten()
}

/// JavaScript's `String.prototype.trim` whitespace: Unicode White_Space plus U+FEFF.
pub(crate) fn js_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

pub(crate) fn session(i: usize, v: Value) -> Result<Session, String> {
    let mut r = Rec::new("sessions", i, v, &["id", "project_id", "created_at", "ended_at", "metadata"])?;
    let id = r.uuid("id")?;
    r.project_id()?;
    Ok(Session {
        id,
        created_at: r.timestamp("created_at")?,
        ended_at: r.opt_timestamp("ended_at")?,
        metadata: r.object_or_empty("metadata")?,
    })
}

pub(crate) fn run(i: usize, v: Value) -> Result<Run, String> {
    let mut r = Rec::new(
        "runs",
        i,
        v,
        &["id", "session_id", "project_id", "name", "started_at", "ended_at", "status", "error", "metadata"],
    )?;
    let id = r.uuid("id")?;
    let session_id = r.uuid("session_id")?;
    r.project_id()?;
    Ok(Run {
        id,
        session_id,
        name: r.name("name")?,
        started_at: r.timestamp("started_at")?,
        ended_at: r.opt_timestamp("ended_at")?,
        status: r.status()?,
        error: r.opt_object("error")?,
        metadata: {
            let metadata = r.object_or_empty("metadata")?;
            r.figures("metadata", &metadata, &RUN_FIGURES)?;
            metadata
        },
    })
}

pub(crate) fn span(i: usize, v: Value) -> Result<Span, String> {
    let mut r = Rec::new(
        "spans",
        i,
        v,
        &[
            "id",
            "run_id",
            "project_id",
            "parent_span_id",
            "kind",
            "name",
            "started_at",
            "ended_at",
            "status",
            "error",
            "iteration",
            "attributes",
        ],
    )?;
    let id = r.uuid("id")?;
    let run_id = r.uuid("run_id")?;
    r.project_id()?;
    let parent_span_id = r.opt_uuid("parent_span_id")?;
    let kind = r
        .get("kind")
        .and_then(Value::as_str)
        .and_then(SpanKind::parse)
        .ok_or_else(|| r.err("kind", &format!("must be one of: {}", SpanKind::choices())))?;
    let name = r.name("name")?;
    let started_at = r.timestamp("started_at")?;
    let ended_at = r.opt_timestamp("ended_at")?;
    let status = r.status()?;
    let error = r.opt_object("error")?;
    // An integer (3.0 counts) that fits the INTEGER column; out of range is the same 400.
    let iteration = r
        .get("iteration")
        .map(|v| {
            v.as_i64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e18).map(|f| f as i64))
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| r.err("iteration", "must be an integer"))
        })
        .transpose()?;
    Ok(Span {
        id,
        run_id,
        parent_span_id,
        kind,
        name,
        started_at,
        ended_at,
        status,
        error,
        iteration,
        attributes: {
            let attributes = r.object_or_empty("attributes")?;
            r.figures("attributes", &attributes, &SPAN_FIGURES)?;
            attributes
        },
    })
}

pub(crate) fn event(i: usize, v: Value) -> Result<crate::Event, String> {
    let mut r = Rec::new(
        "events",
        i,
        v,
        &["id", "run_id", "span_id", "project_id", "type", "created_at", "content", "attributes"],
    )?;
    let id = r.uuid("id")?;
    let run_id = r.uuid("run_id")?;
    r.project_id()?;
    let span_id = r.opt_uuid("span_id")?;
    let event_type = r
        .get("type")
        .and_then(Value::as_str)
        .and_then(EventType::parse)
        .ok_or_else(|| r.err("type", &format!("must be one of: {}", EventType::choices())))?;
    let created_at = r.timestamp("created_at")?;
    // Deliberate fix (a): a missing `content` key is stored as JSON null instead of rejected.
    let content = r.take("content");
    Ok(crate::Event {
        id,
        run_id,
        span_id,
        event_type,
        created_at,
        content,
        attributes: r.object_or_empty("attributes")?,
    })
}

pub(crate) fn prompt_link(i: usize, v: Value) -> Result<PromptLink, String> {
    let mut r =
        Rec::new("prompt_links", i, v, &["project_id", "trace_id", "span_id", "prompt_version_id", "variable_values"])?;
    r.project_id()?;
    let trace_id = r.uuid("trace_id")?;
    let span_id = r.uuid("span_id")?;
    let prompt_version_id = r.uuid("prompt_version_id")?;
    let variable_values =
        r.opt_object("variable_values")?.filter(|v| !v.is_null()).unwrap_or_else(|| Value::Object(Map::new()));
    Ok(PromptLink { trace_id, span_id, prompt_version_id, variable_values })
}

/// The original's cap on scores per batch.
pub(crate) const MAX_SCORES: usize = 500;

pub(crate) fn score(i: usize, v: Value) -> Result<Score, String> {
    let mut r = Rec::new(
        "scores",
        i,
        v,
        &[
            "id",
            "project_id",
            "trace_id",
            "span_id",
            "name",
            "value",
            "data_type",
            "string_value",
            "source",
            "comment",
            "created_at",
        ],
    )?;
    let id = r.uuid("id")?;
    r.project_id()?;
    let trace_id = r.uuid("trace_id")?;
    let span_id = r.opt_uuid("span_id")?;
    let name = match r.get("name") {
        Some(Value::String(s)) if !js_trim(s).is_empty() => js_trim(s).to_owned(),
        _ => return Err(r.err("name", "is required")),
    };
    let value = r
        .get("value")
        .and_then(Value::as_f64)
        .filter(|f| f.is_finite())
        .ok_or_else(|| r.err("value", "must be a finite number"))?;
    if value.abs() > MAX_SCORE_VALUE {
        return Err(r.err("value", &format!("must be between -{MAX_SCORE_VALUE} and {MAX_SCORE_VALUE}")));
    }
    let data_type = r
        .get("data_type")
        .and_then(Value::as_str)
        .and_then(ScoreDataType::parse)
        .ok_or_else(|| r.err("data_type", &format!("must be one of: {}", ScoreDataType::choices())))?;
    let string_value = if data_type == ScoreDataType::Categorical {
        match r.get("string_value") {
            Some(Value::String(s)) if !js_trim(s).is_empty() => Some(js_trim(s).to_owned()),
            _ => return Err(r.err("string_value", "is required for categorical scores")),
        }
    } else {
        if r.get("string_value").is_some() {
            return Err(r.err("string_value", "is only allowed for categorical scores"));
        }
        None
    };
    if data_type == ScoreDataType::Boolean && value != 0.0 && value != 1.0 {
        return Err(r.err("value", "must be 0 or 1 for boolean scores"));
    }
    if r.obj.get("source").and_then(Value::as_str) != Some("api") {
        return Err(r.err("source", "must be api"));
    }
    let comment = match r.take("comment") {
        Value::Null => None,
        Value::String(s) => Some(s),
        _ => return Err(r.err("comment", "must be a string")),
    };
    Ok(Score {
        id,
        trace_id,
        span_id,
        name,
        value,
        data_type,
        string_value,
        source: ScoreSource::Api,
        comment,
        created_at: r.timestamp("created_at")?,
    })
}
