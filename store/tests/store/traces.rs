//! Spans of a tracing protocol (OTLP), as the server hands them over: requests queued together
//! are written in one transaction (group commit) and each is answered for itself.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use northstar_store::{AnyStore, RootRun, Store, Trace, TraceBatch, TraceCounts};
use northstar_test_support::{Backend, store};
use northstar_wire::{Span, SpanKind, Status};
use serde_json::json;
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z").expect("time").with_timezone(&Utc)
}

fn span(run: Uuid, id: Uuid, name: &str, second: i64) -> Span {
    Span {
        id,
        run_id: run,
        parent_span_id: None,
        kind: SpanKind::Tool,
        name: name.into(),
        started_at: t0() + Duration::seconds(second),
        ended_at: Some(t0() + Duration::seconds(second + 1)),
        status: Status::Ok,
        error: None,
        iteration: None,
        attributes: json!({}),
    }
}

/// What a request carries of the trace `run`: `children` spans under `root`, and the root span
/// itself when `with_root`.
fn trace(run: Uuid, root: Uuid, children: &[Uuid], with_root: bool) -> Trace {
    let mut spans: Vec<Span> =
        children.iter().enumerate().map(|(i, id)| span(run, *id, &format!("tool {i}"), i as i64 + 1)).collect();
    let parents: HashMap<Uuid, Uuid> = children.iter().map(|id| (*id, root)).collect();
    if with_root {
        spans.push(span(run, root, "agent", 0));
    }
    Trace {
        run_id: run,
        root: with_root.then(|| RootRun {
            name: "agent".into(),
            started_at: t0(),
            ended_at: Some(t0() + Duration::seconds(10)),
            status: Status::Ok,
            error: None,
            metadata: json!({}),
            session: None,
        }),
        session_hint: None,
        own_session: Uuid::new_v4(),
        provisional_name: "tool 0".into(),
        first_start: t0(),
        spans,
        parents,
        events: Vec::new(),
        scores: Vec::new(),
        prompt_refs: Vec::new(),
    }
}

fn request(traces: Vec<Trace>) -> TraceBatch {
    TraceBatch { traces }
}

async fn project(store: &AnyStore, name: &str) -> Uuid {
    store.create_project(name, &format!("{name}-key-hash")).await.expect("project").id
}

async fn requests_of_traces_queued_together_are_written_at_once_and_answered_each_for_itself(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let (mine, theirs) = (project(&store, "mine").await, project(&store, "theirs").await);
    let ids = |n: usize| (0..n).map(|_| Uuid::new_v4()).collect::<Vec<_>>();
    let (a, b, c, foreign) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (a_spans, b_spans, c_spans, foreign_spans) = (ids(3), ids(2), ids(1), ids(4));
    let foreign_root = Uuid::new_v4();
    store.ingest_traces(theirs, request(vec![trace(foreign, foreign_root, &[], true)])).await.expect("theirs");
    let before = store.merged_requests();

    // A whole trace; a trace without its root beside spans of the other project's trace; a
    // trace of one span whose root never comes.
    let (first, second, third) = tokio::join!(
        store.ingest_traces(mine, request(vec![trace(a, a_spans[0], &a_spans[1..], true)])),
        store.ingest_traces(
            mine,
            request(vec![
                trace(b, Uuid::new_v4(), &b_spans, false),
                trace(foreign, foreign_root, &foreign_spans, false)
            ])
        ),
        store.ingest_traces(mine, request(vec![trace(c, Uuid::new_v4(), &c_spans, false)])),
    );
    assert_eq!(store.merged_requests() - before, 3, "the three were written together");
    let counts = |runs, spans, rejected_spans| TraceCounts { runs, spans, rejected_spans, ..TraceCounts::default() };
    assert_eq!(first.expect("first"), counts(1, 3, 0));
    assert_eq!(second.expect("second"), counts(1, 2, 4), "only its own refused spans");
    assert_eq!(third.expect("third"), counts(1, 1, 0));

    let run_a = store.get_run(mine, a).await.expect("read").expect("a");
    assert_eq!((run_a.name.as_str(), run_a.status), ("agent", Status::Ok));
    let spans = store.list_spans(mine, a).await.expect("spans");
    assert_eq!(spans.len(), 3);
    assert!(spans.iter().filter(|s| s.id != a_spans[0]).all(|s| s.parent_span_id == Some(a_spans[0])));
    for (run, n) in [(b, 2), (c, 1)] {
        let row = store.run_row(mine, run).await.expect("read").expect("run");
        assert_eq!((row.status, row.spans), (Status::Running, n), "a run before its root, with its figures");
    }
    assert!(store.get_run(mine, foreign).await.expect("read").is_none());
    assert_eq!(store.list_spans(theirs, foreign).await.expect("spans").len(), 1, "their trace untouched");
    let stored = store.count_records(mine).await.expect("counts");
    assert_eq!((stored.sessions, stored.runs, stored.spans), (3, 3, 6));
}

async fn requests_of_one_trace_queued_together_are_written_one_after_the_other(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let mine = project(&store, "mine").await;
    let (run, root, child) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let before = store.merged_requests();

    // The child first, its root in the next request: each trace is decided once per
    // transaction, so the two never share one.
    let (first, second) = tokio::join!(
        store.ingest_traces(mine, request(vec![trace(run, root, &[child], false)])),
        store.ingest_traces(mine, request(vec![trace(run, root, &[], true)])),
    );
    assert_eq!(store.merged_requests(), before, "nothing merged");
    assert_eq!((first.expect("child").spans, second.expect("root").spans), (1, 1));
    let stored = store.get_run(mine, run).await.expect("read").expect("run");
    assert_eq!((stored.name.as_str(), stored.status), ("agent", Status::Ok), "the root named the run");
    let spans = store.list_spans(mine, run).await.expect("spans");
    let waiting = spans.iter().find(|s| s.id == child).expect("child");
    assert_eq!(waiting.parent_span_id, Some(root), "the child got its parent when it came");
    let row = store.run_row(mine, run).await.expect("read").expect("run");
    assert_eq!(row.spans, 2);
}

#[tokio::test]
async fn requests_of_traces_queued_together_are_written_at_once_and_answered_each_for_itself_on_postgres() {
    requests_of_traces_queued_together_are_written_at_once_and_answered_each_for_itself(Backend::Postgres).await;
}

#[tokio::test]
async fn requests_of_traces_queued_together_are_written_at_once_and_answered_each_for_itself_on_sqlite() {
    requests_of_traces_queued_together_are_written_at_once_and_answered_each_for_itself(Backend::Sqlite).await;
}

#[tokio::test]
async fn requests_of_one_trace_queued_together_are_written_one_after_the_other_on_postgres() {
    requests_of_one_trace_queued_together_are_written_one_after_the_other(Backend::Postgres).await;
}

#[tokio::test]
async fn requests_of_one_trace_queued_together_are_written_one_after_the_other_on_sqlite() {
    requests_of_one_trace_queued_together_are_written_one_after_the_other(Backend::Sqlite).await;
}
