//! The whole request body: parsing, the top-level checks, and the validated batch.

use std::collections::HashMap;

use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::fold::{fold, order_spans, parents_outside};
use crate::validate::{self, MAX_SCORES};
use crate::{Event, PromptLink, Run, Score, Session, Span};

/// Why a body was rejected. Every variant is a 400 whose body is `{"error": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractError {
    /// The body is not JSON (or is empty).
    InvalidJson,
    /// The body is JSON but not an object.
    NotAnObject,
    /// `schema_version` is not the number 1 or 2.
    UnsupportedSchemaVersion,
    /// One of the six arrays is present, not null, and not an array.
    NotAnArray(&'static str),
    /// More records than one request may carry (a 413, not a 400: split the batch).
    TooManyRecords { count: usize, limit: usize },
    /// The first failing record check, with the original's exact message.
    Record(String),
}

impl ContractError {
    /// The exact message the original ingest function answered with.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::InvalidJson => "Invalid JSON body".into(),
            Self::NotAnObject => "JSON body must be an object".into(),
            Self::UnsupportedSchemaVersion => "Unsupported schema_version (expected 1 or 2)".into(),
            Self::NotAnArray(name) => format!("{name} must be an array"),
            Self::TooManyRecords { count, limit } => {
                format!("Batch has {count} records; at most {limit} are accepted per request")
            }
            Self::Record(message) => message.clone(),
        }
    }
}

impl std::fmt::Display for ContractError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ContractError {}

/// A validated batch, ready to be written in one transaction.
///
/// Spans are in parent-first order; every array has its repeated ids folded (see
/// [`Batch::from_json_slice`]). Records carry no project: the authenticated one applies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub sessions: Vec<Session>,
    pub runs: Vec<Run>,
    pub spans: Vec<Span>,
    pub events: Vec<Event>,
    pub prompt_links: Vec<PromptLink>,
    pub scores: Vec<Score>,
}

const ARRAYS: [&str; 6] = ["sessions", "runs", "spans", "events", "prompt_links", "scores"];

/// The most records (of all six kinds) one request may carry unless the caller says otherwise.
/// Far above what SDKs send (the original's batches hold 50), and low enough that one request
/// cannot hold a database transaction, its locks and the server's memory for long.
pub const MAX_RECORDS: usize = 20_000;

/// U+0000 cannot be stored by Postgres (`text` and `jsonb` both refuse it), so it is replaced
/// by U+FFFD everywhere, keys included, before validation: both stores then keep the same text.
const NUL_REPLACEMENT: &str = "\u{fffd}";

/// `text` as the stores keep it: every NUL replaced by U+FFFD (see [`NUL_REPLACEMENT`]). What
/// is looked up or written outside a batch (a filter's value, a score from the dashboard or the
/// API) goes through it too, so that both stores answer alike.
#[must_use]
pub fn without_nul(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') { text.replace('\0', NUL_REPLACEMENT).into() } else { text.into() }
}

/// Replaces every NUL in the strings and object keys of `value`.
fn replace_nul(value: &mut Value) {
    fn fix(s: &mut String) {
        if let std::borrow::Cow::Owned(clean) = without_nul(s) {
            *s = clean;
        }
    }
    match value {
        Value::String(s) => fix(s),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(mut k, v)| {
                        fix(&mut k);
                        (k, v)
                    })
                    .collect();
            }
            map.values_mut().for_each(replace_nul);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn check_version(version: Option<f64>) -> Result<(), ContractError> {
    if version == Some(1.0) || version == Some(2.0) { Ok(()) } else { Err(ContractError::UnsupportedSchemaVersion) }
}

/// One record of a body, parsed or not yet.
enum Item<'a> {
    Parsed(Value),
    /// Raw JSON already checked for syntax; `nul`: the body has NUL escapes to replace.
    Raw {
        raw: &'a RawValue,
        nul: bool,
    },
}

impl Item<'_> {
    fn value(self) -> Result<Value, ContractError> {
        match self {
            Item::Parsed(value) => Ok(value),
            Item::Raw { raw, nul } => {
                // Only a number beyond f64 (`1e400`) passes the syntax check and fails here.
                let mut value: Value = serde_json::from_str(raw.get()).map_err(|_| ContractError::InvalidJson)?;
                if nul {
                    replace_nul(&mut value);
                }
                Ok(value)
            }
        }
    }
}

impl Batch {
    /// Parses and validates a request body.
    ///
    /// # Errors
    ///
    /// The first failing check, in the original's order: JSON syntax, object, `schema_version`,
    /// array types (sessions, runs, spans, events, prompt_links, scores), then each array's
    /// records in that order, first error only.
    pub fn from_json_slice(body: &[u8]) -> Result<Self, ContractError> {
        Self::from_json_slice_limited(body, MAX_RECORDS)
    }

    /// [`Batch::from_json_slice`] with a limit on the records of all kinds together.
    ///
    /// # Errors
    ///
    /// As [`Batch::from_json_slice`]; [`ContractError::TooManyRecords`] after the array checks.
    pub fn from_json_slice_limited(body: &[u8], max_records: usize) -> Result<Self, ContractError> {
        // The body is checked whole but held as borrowed raw records, each parsed into a JSON
        // value only while it is validated: a batch is never in memory as one JSON tree (many
        // times its size) beside the records made from it.
        let object: HashMap<String, &RawValue> = serde_json::from_slice(body).map_err(|_| {
            // Only on the way out: is it JSON at all, or JSON that is not an object?
            match serde_json::from_slice::<&RawValue>(body) {
                Ok(_) => ContractError::NotAnObject,
                Err(_) => ContractError::InvalidJson,
            }
        })?;
        // In JSON a NUL can only be written as this escape.
        let nul = body.windows(6).any(|w| w == b"\\u0000");
        let version = match object.get("schema_version") {
            Some(raw) => serde_json::from_str::<Value>(raw.get()).map_err(|_| ContractError::InvalidJson)?.as_f64(),
            None => None,
        };
        check_version(version)?;
        let mut arrays: [Vec<Item<'_>>; 6] = Default::default();
        for (slot, name) in arrays.iter_mut().zip(ARRAYS) {
            match object.get(name) {
                None => {}
                Some(raw) if raw.get() == "null" => {}
                Some(raw) => {
                    let items: Vec<&RawValue> =
                        serde_json::from_str(raw.get()).map_err(|_| ContractError::NotAnArray(name))?;
                    *slot = items.into_iter().map(|raw| Item::Raw { raw, nul }).collect();
                }
            }
        }
        Self::validate(arrays, max_records)
    }

    /// Validates an already parsed body. See [`Batch::from_json_slice`].
    ///
    /// # Errors
    ///
    /// As [`Batch::from_json_slice`], minus the JSON syntax error.
    pub fn from_value(value: &Value) -> Result<Self, ContractError> {
        let mut value = value.clone();
        replace_nul(&mut value);
        let Value::Object(mut body) = value else {
            return Err(ContractError::NotAnObject);
        };
        check_version(body.get("schema_version").and_then(Value::as_f64))?;
        let mut arrays: [Vec<Item<'_>>; 6] = Default::default();
        for (slot, name) in arrays.iter_mut().zip(ARRAYS) {
            match body.get_mut(name) {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) => *slot = std::mem::take(items).into_iter().map(Item::Parsed).collect(),
                Some(_) => return Err(ContractError::NotAnArray(name)),
            }
        }
        Self::validate(arrays, MAX_RECORDS)
    }

    /// The checks after the body's shape, `schema_version` and the arrays' types: the record
    /// limit, then each array's records in the original's order.
    fn validate(arrays: [Vec<Item<'_>>; 6], max_records: usize) -> Result<Self, ContractError> {
        let count = arrays.iter().map(Vec::len).sum();
        if count > max_records {
            return Err(ContractError::TooManyRecords { count, limit: max_records });
        }
        let [sessions, runs, spans, events, prompt_links, scores] = arrays;

        fn all<T>(items: Vec<Item<'_>>, one: fn(usize, Value) -> Result<T, String>) -> Result<Vec<T>, ContractError> {
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| one(i, item.value()?).map_err(ContractError::Record))
                .collect()
        }
        let sessions = all(sessions, validate::session)?;
        let runs = all(runs, validate::run)?;
        let spans = all(spans, validate::span)?;
        let events = all(events, validate::event)?;
        let prompt_links = all(prompt_links, validate::prompt_link)?;
        if scores.len() > MAX_SCORES {
            return Err(ContractError::Record(format!("scores must contain at most {MAX_SCORES} items")));
        }
        let scores = all(scores, validate::score)?;

        Ok(Self {
            sessions: fold(sessions),
            runs: fold(runs),
            spans: order_spans(spans),
            events: fold(events),
            prompt_links,
            scores: fold(scores),
        })
    }

    /// The batch as the contract's JSON body: `schema_version` 2 and all six arrays, records in
    /// their current order. [`Batch::from_json_slice`] reads it back to an equal batch.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            schema_version: u8,
            sessions: &'a [Session],
            runs: &'a [Run],
            spans: &'a [Span],
            events: &'a [Event],
            scores: &'a [Score],
            prompt_links: &'a [PromptLink],
        }
        let body = Body {
            schema_version: 2,
            sessions: &self.sessions,
            runs: &self.runs,
            spans: &self.spans,
            events: &self.events,
            scores: &self.scores,
            prompt_links: &self.prompt_links,
        };
        // Serializing owned JSON values and plain fields cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// Number of records of all kinds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sessions.len()
            + self.runs.len()
            + self.spans.len()
            + self.events.len()
            + self.prompt_links.len()
            + self.scores.len()
    }

    /// True when the batch carries no record at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batches as one, as if each were written after the one before: the records of each
    /// kind concatenated in order, repeated ids folded by the same upsert rules as within one
    /// batch, spans put in parent-first order again. A store writes the result with the same
    /// effect as the batches one after another, except that references among the batches
    /// resolve whatever their order (a span may name a parent sent in a later batch).
    #[must_use]
    pub fn merge(batches: impl IntoIterator<Item = Batch>) -> Batch {
        let mut all = Batch::default();
        for b in batches {
            all.sessions.extend(b.sessions);
            all.runs.extend(b.runs);
            all.spans.extend(b.spans);
            all.events.extend(b.events);
            all.prompt_links.extend(b.prompt_links);
            all.scores.extend(b.scores);
        }
        Batch {
            sessions: fold(all.sessions),
            runs: fold(all.runs),
            spans: order_spans(all.spans),
            events: fold(all.events),
            prompt_links: all.prompt_links,
            scores: fold(all.scores),
        }
    }

    /// Parent span ids that must already be stored in the project: every parent that is not
    /// placed earlier in this batch's span order (the original's sequential rule, which also
    /// rejects parent cycles that are not already anchored in stored data).
    #[must_use]
    pub fn parents_to_be_stored(&self) -> Vec<Uuid> {
        parents_outside(&self.spans)
    }
}

#[cfg(test)]
mod tests;
