//! Decoding stored rows into records, once for both backends. Each backend says how to read a
//! typed column from its rows ([`Columns`]); the record shapes are assembled here.

use chrono::{DateTime, Utc};
use northstar_wire::{Event, EventType, Run, Score, ScoreDataType, ScoreSource, Session, Span, SpanKind, Status};
use serde_json::Value;
use uuid::Uuid;

use crate::{Project, StoreError};

/// Typed access to one row's columns, in a backend's own encoding.
pub(crate) trait Columns {
    fn text(&self, col: &'static str) -> Result<String, StoreError>;
    fn opt_text(&self, col: &'static str) -> Result<Option<String>, StoreError>;
    fn uuid(&self, col: &'static str) -> Result<Uuid, StoreError>;
    fn opt_uuid(&self, col: &'static str) -> Result<Option<Uuid>, StoreError>;
    fn ts(&self, col: &'static str) -> Result<DateTime<Utc>, StoreError>;
    fn opt_ts(&self, col: &'static str) -> Result<Option<DateTime<Utc>>, StoreError>;
    fn json(&self, col: &'static str) -> Result<Value, StoreError>;
    fn opt_json(&self, col: &'static str) -> Result<Option<Value>, StoreError>;
    fn opt_i32(&self, col: &'static str) -> Result<Option<i32>, StoreError>;
    fn f64(&self, col: &'static str) -> Result<f64, StoreError>;
    fn opt_f64(&self, col: &'static str) -> Result<Option<f64>, StoreError>;
    fn i64(&self, col: &'static str) -> Result<i64, StoreError>;

    /// A closed-vocabulary text column (status, kind, …).
    fn parsed<T>(&self, col: &'static str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
        parse(&self.text(col)?).ok_or(StoreError::Corrupt(col))
    }
}

pub(crate) fn project(c: &impl Columns) -> Result<Project, StoreError> {
    Ok(Project {
        id: c.uuid("id")?,
        name: c.text("name")?,
        created_at: c.ts("created_at")?,
        key_created_at: c.opt_ts("key_created_at")?,
        key_revoked_at: c.opt_ts("revoked_at")?,
        retention_days: c.opt_i32("retention_days")?,
    })
}

pub(crate) fn session(c: &impl Columns) -> Result<Session, StoreError> {
    Ok(Session {
        id: c.uuid("id")?,
        created_at: c.ts("created_at")?,
        ended_at: c.opt_ts("ended_at")?,
        metadata: c.json("metadata")?,
    })
}

pub(crate) fn run(c: &impl Columns) -> Result<Run, StoreError> {
    Ok(Run {
        id: c.uuid("id")?,
        session_id: c.uuid("session_id")?,
        name: c.text("name")?,
        started_at: c.ts("started_at")?,
        ended_at: c.opt_ts("ended_at")?,
        status: c.parsed("status", Status::parse)?,
        error: c.opt_json("error")?,
        metadata: c.json("metadata")?,
    })
}

pub(crate) fn span(c: &impl Columns) -> Result<Span, StoreError> {
    Ok(Span {
        id: c.uuid("id")?,
        run_id: c.uuid("run_id")?,
        parent_span_id: c.opt_uuid("parent_span_id")?,
        kind: c.parsed("kind", SpanKind::parse)?,
        name: c.text("name")?,
        started_at: c.ts("started_at")?,
        ended_at: c.opt_ts("ended_at")?,
        status: c.parsed("status", Status::parse)?,
        error: c.opt_json("error")?,
        iteration: c.opt_i32("iteration")?,
        attributes: c.json("attributes")?,
    })
}

pub(crate) fn event(c: &impl Columns) -> Result<Event, StoreError> {
    Ok(Event {
        id: c.uuid("id")?,
        run_id: c.uuid("run_id")?,
        span_id: c.opt_uuid("span_id")?,
        event_type: c.parsed("type", EventType::parse)?,
        created_at: c.ts("created_at")?,
        content: c.json("content")?,
        attributes: c.json("attributes")?,
    })
}

pub(crate) fn score(c: &impl Columns) -> Result<Score, StoreError> {
    Ok(Score {
        id: c.uuid("id")?,
        trace_id: c.uuid("trace_id")?,
        span_id: c.opt_uuid("span_id")?,
        name: c.text("name")?,
        value: c.f64("value")?,
        data_type: c.parsed("data_type", ScoreDataType::parse)?,
        string_value: c.opt_text("string_value")?,
        source: c.parsed("source", ScoreSource::parse)?,
        comment: c.opt_text("comment")?,
        created_at: c.ts("created_at")?,
    })
}

/// The children of one parent row: which table, which columns, which parent column, what order.
pub(crate) struct Listing {
    pub(crate) table: &'static str,
    pub(crate) columns: &'static str,
    pub(crate) parent: &'static str,
    pub(crate) order: &'static str,
    /// Ties of `order` in the order the rows were first stored ([`crate::query::sql::Sql::recorded`]).
    pub(crate) then_recorded: bool,
}

pub(crate) const RUNS_OF_SESSION: Listing = Listing {
    table: "runs",
    columns: select::RUN,
    parent: "session_id",
    order: "started_at, id",
    then_recorded: false,
};
pub(crate) const SPANS_OF_RUN: Listing =
    Listing { table: "spans", columns: select::SPAN, parent: "run_id", order: "started_at, id", then_recorded: false };
pub(crate) const EVENTS_OF_RUN: Listing =
    Listing { table: "events", columns: select::EVENT, parent: "run_id", order: "created_at", then_recorded: true };

/// The column lists the decoders above read, shared by both backends' SELECTs.
pub(crate) mod select {
    pub(crate) const SESSION: &str = "id, created_at, ended_at, metadata";
    pub(crate) const RUN: &str = "id, session_id, name, started_at, ended_at, status, error, metadata";
    pub(crate) const SPAN: &str =
        "id, run_id, parent_span_id, kind, name, started_at, ended_at, status, error, iteration, attributes";
    pub(crate) const EVENT: &str = "id, run_id, span_id, type, created_at, content, attributes";
}
