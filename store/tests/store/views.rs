//! The dashboard's read models, one per view: the run page (run, spans, events), the session
//! page (session, metadata, runs oldest first) and one node of the run page (the run or a span,
//! with its own events and nothing of the rest of the run).

use northstar_store::{NodeView, Store};
use northstar_test_support::{Backend, store};
use northstar_wire::Batch;
use serde_json::json;
use uuid::Uuid;

const T0: &str = "2026-12-07T10:00:00.000000Z";

fn at(second: u32) -> String {
    format!("2026-12-07T10:00:{second:02}.000000Z")
}

async fn each_view_reads_what_it_shows(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let project = store.create_project("p", "hash-of-key").await.expect("project").id;
    let (session, run, other_run) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (model, tool) = (Uuid::new_v4(), Uuid::new_v4());
    let event = |run: Uuid, span: Option<Uuid>, second: u32, text: &str| {
        json!({"id": Uuid::new_v4(), "run_id": run, "span_id": span, "type": "custom", "created_at": at(second),
               "content": {"text": text}})
    };
    let body = json!({
        "schema_version": 2,
        "sessions": [{"id": session, "created_at": T0, "metadata": {"team": "support"}}],
        "runs": [
            {"id": run, "session_id": session, "name": "agent", "started_at": T0, "status": "running"},
            {"id": other_run, "session_id": session, "name": "other", "started_at": at(1), "status": "running"}
        ],
        "spans": [
            {"id": model, "run_id": run, "kind": "model", "name": "chat", "started_at": T0, "status": "running"},
            {"id": tool, "run_id": run, "kind": "tool", "name": "search", "started_at": at(1), "status": "running"}
        ],
        "events": [
            event(run, Some(model), 3, "model second"),
            event(run, Some(model), 1, "model first"),
            event(run, Some(tool), 2, "tool"),
            event(run, None, 4, "run's own"),
            event(other_run, None, 5, "another run's own")
        ]
    });
    store.ingest(project, &Batch::from_value(&body).expect("valid batch")).await.expect("ingest");

    let texts = |events: Vec<northstar_wire::Event>| {
        events.into_iter().map(|e| e.content["text"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>()
    };
    let of_model = store.list_node_events(project, run, Some(model)).await.expect("read");
    assert_eq!(texts(of_model), ["model first", "model second"], "by creation time");
    assert_eq!(texts(store.list_node_events(project, run, Some(tool)).await.expect("read")), ["tool"]);
    assert_eq!(texts(store.list_node_events(project, run, None).await.expect("read")), ["run's own"]);
    // A span named under another run, or another project, reads nothing.
    assert!(store.list_node_events(project, other_run, Some(model)).await.expect("read").is_empty());
    assert!(store.list_node_events(Uuid::new_v4(), run, Some(model)).await.expect("read").is_empty());

    // The node view: the span (or the run) and those same events.
    match store.node_view(project, run, Some(model)).await.expect("read") {
        Some(NodeView::Span { span, events }) => {
            assert_eq!(span.id, model);
            assert_eq!(texts(events), ["model first", "model second"]);
        }
        other => panic!("the model span's node: {other:?}"),
    }
    match store.node_view(project, run, None).await.expect("read") {
        Some(NodeView::Run { run: row, events }) => {
            assert_eq!(row.id, run);
            assert_eq!(texts(events), ["run's own"]);
        }
        other => panic!("the run's node: {other:?}"),
    }
    assert_eq!(store.node_view(project, other_run, Some(model)).await.expect("read"), None, "not that run's span");
    assert_eq!(store.node_view(Uuid::new_v4(), run, None).await.expect("read"), None, "another project");

    // The run page: the run, every span and every event of it, nothing of the other run.
    let view = store.run_view(project, run).await.expect("read").expect("the run");
    assert_eq!(view.run.id, run);
    assert_eq!(view.spans.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["chat", "search"]);
    assert_eq!(view.events.len(), 4);
    assert!(view.events.iter().all(|e| e.run_id == run));
    assert_eq!(store.run_view(Uuid::new_v4(), run).await.expect("read"), None);

    // The session page: its runs, oldest first, and its metadata.
    let view = store.session_view(project, session).await.expect("read").expect("the session");
    assert_eq!(view.session.id, session);
    assert_eq!(view.metadata, json!({"team": "support"}));
    assert_eq!(view.runs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["agent", "other"]);
    assert_eq!(store.session_view(project, Uuid::new_v4()).await.expect("read"), None);
}

#[tokio::test]
async fn each_view_reads_what_it_shows_on_postgres() {
    each_view_reads_what_it_shows(Backend::Postgres).await;
}

#[tokio::test]
async fn each_view_reads_what_it_shows_on_sqlite() {
    each_view_reads_what_it_shows(Backend::Sqlite).await;
}

async fn a_run_is_searched_in_its_attribute_values_and_messages(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let project = store.create_project("p", "hash-of-key").await.expect("project").id;
    let (session, run, other_run) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (model, tool, quiet, elsewhere) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let span = |id: Uuid, run: Uuid, attributes: serde_json::Value| {
        json!({"id": id, "run_id": run, "kind": "tool", "name": "s", "started_at": T0, "status": "ok",
               "attributes": attributes})
    };
    let event = |run: Uuid, span: Option<Uuid>, content: serde_json::Value| {
        json!({"id": Uuid::new_v4(), "run_id": run, "span_id": span, "type": "user_input", "created_at": T0,
               "content": content})
    };
    let body = json!({
        "schema_version": 2,
        "sessions": [{"id": session, "created_at": T0}],
        "runs": [
            {"id": run, "session_id": session, "name": "agent", "started_at": T0, "status": "running"},
            {"id": other_run, "session_id": session, "name": "other", "started_at": T0, "status": "running"}
        ],
        "spans": [
            span(model, run, json!({"model": "gpt-4o"})),
            span(tool, run, json!({"url": "https://example.com/Refund_Policy?q=100%"})),
            span(quiet, run, json!({})),
            span(elsewhere, other_run, json!({"url": "refund_policy"}))
        ],
        "events": [
            event(run, Some(model), json!("Where is my REFUND? ✓")),
            event(run, None, json!("refund, asked of the run itself")),
            event(other_run, Some(elsewhere), json!("refund"))
        ]
    });
    store.ingest(project, &Batch::from_value(&body).expect("valid batch")).await.expect("ingest");

    let search = |text: &'static str| {
        let store = store.clone();
        async move {
            let mut found = store.run_text_search(project, run, text, 100).await.expect("search");
            found.sort();
            found
        }
    };
    let mut both = vec![model, tool];
    both.sort();
    assert_eq!(search("refund").await, both, "case-insensitive, in messages and in attribute values, this run only");
    assert_eq!(search("refund_policy").await, vec![tool], "`_` is a letter, not a wildcard");
    assert_eq!(search("100%").await, vec![tool], "`%` is a letter, not a wildcard");
    assert_eq!(search("REFUND? ✓").await, vec![model]);
    assert!(search("nowhere").await.is_empty());
    assert!(search("  ").await.is_empty(), "nothing to look for finds nothing");
    assert!(
        store.run_text_search(Uuid::new_v4(), run, "refund", 100).await.expect("search").is_empty(),
        "another project"
    );
    assert_eq!(store.run_text_search(project, run, "refund", 1).await.expect("search").len(), 1, "at most the limit");
}

#[tokio::test]
async fn a_run_is_searched_in_its_attribute_values_and_messages_on_postgres() {
    a_run_is_searched_in_its_attribute_values_and_messages(Backend::Postgres).await;
}

#[tokio::test]
async fn a_run_is_searched_in_its_attribute_values_and_messages_on_sqlite() {
    a_run_is_searched_in_its_attribute_values_and_messages(Backend::Sqlite).await;
}

async fn the_run_tree_reads_a_model_spans_figures_and_nothing_else(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let project = store.create_project("p", "hash-of-key").await.expect("project").id;
    let (session, run, model, tool) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let body = json!({
        "schema_version": 2,
        "sessions": [{"id": session, "created_at": T0}],
        "runs": [{"id": run, "session_id": session, "name": "agent", "started_at": T0, "status": "running"}],
        "spans": [
            {"id": model, "run_id": run, "kind": "model", "name": "chat", "started_at": T0, "status": "ok", "iteration": 3,
             "attributes": {"model": "gpt-4o", "input_tokens": 1200, "output_tokens": 34, "cost_usd": 0.0123, "prompt": "long"}},
            {"id": tool, "run_id": run, "parent_span_id": model, "kind": "tool", "name": "search", "started_at": at(1),
             "status": "running", "attributes": {"model": "not a model span", "cost_usd": 5, "input_tokens": "many"}}
        ],
        "events": [{"id": Uuid::new_v4(), "run_id": run, "span_id": model, "type": "user_input", "created_at": T0,
                    "content": "hi"}]
    });
    store.ingest(project, &Batch::from_value(&body).expect("valid batch")).await.expect("ingest");
    let mut tree = store.run_outline(project, run).await.expect("read").expect("the run");
    tree.spans.sort_by_key(|s| s.started_at);
    assert_eq!(tree.run.id, run);
    let rows: Vec<_> = tree.spans.iter().map(|s| (s.id, s.model.clone(), s.tokens, s.cost_usd, s.iteration)).collect();
    assert_eq!(rows, [(model, Some("gpt-4o".to_owned()), 1234.0, 0.0123, Some(3)), (tool, None, 0.0, 0.0, None)]);
    assert_eq!(tree.spans[1].parent_span_id, Some(model));
    assert_eq!(tree.events.len(), 1);
    assert_eq!(store.run_outline(Uuid::new_v4(), run).await.expect("read"), None, "another project");

    // A run with no span yet has an empty tree.
    let empty = Uuid::new_v4();
    let body = json!({"schema_version": 2,
                      "runs": [{"id": empty, "session_id": session, "name": "new", "started_at": T0, "status": "running"}]});
    store.ingest(project, &Batch::from_value(&body).expect("valid batch")).await.expect("ingest");
    let tree = store.run_outline(project, empty).await.expect("read").expect("the run");
    assert!(tree.spans.is_empty() && tree.events.is_empty());
}

#[tokio::test]
async fn the_run_tree_reads_a_model_spans_figures_and_nothing_else_on_postgres() {
    the_run_tree_reads_a_model_spans_figures_and_nothing_else(Backend::Postgres).await;
}

#[tokio::test]
async fn the_run_tree_reads_a_model_spans_figures_and_nothing_else_on_sqlite() {
    the_run_tree_reads_a_model_spans_figures_and_nothing_else(Backend::Sqlite).await;
}

async fn events_at_one_instant_come_back_as_they_were_recorded(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let project = store.create_project("p", "hash-of-key").await.expect("project").id;
    let (session, run, span) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // Eight events with one timestamp and random ids: any other order shows.
    let events: Vec<_> = (0..8)
        .map(|i| {
            json!({"id": Uuid::new_v4(), "run_id": run, "span_id": span, "type": "custom", "created_at": T0,
                   "content": {"text": format!("message {i}")}})
        })
        .collect();
    let body = json!({
        "schema_version": 2,
        "sessions": [{"id": session, "created_at": T0}],
        "runs": [{"id": run, "session_id": session, "name": "agent", "started_at": T0, "status": "running"}],
        "spans": [{"id": span, "run_id": run, "kind": "model", "name": "chat", "started_at": T0, "status": "running"}],
        "events": events
    });
    store.ingest(project, &Batch::from_value(&body).expect("valid batch")).await.expect("ingest");
    // Sent again (an SDK retry): still in the order first recorded.
    store.ingest(project, &Batch::from_value(&body).expect("valid batch")).await.expect("ingest again");
    let texts = |events: Vec<northstar_wire::Event>| {
        events.into_iter().map(|e| e.content["text"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>()
    };
    let expected: Vec<String> = (0..8).map(|i| format!("message {i}")).collect();
    assert_eq!(texts(store.list_node_events(project, run, Some(span)).await.expect("read")), expected);
    assert_eq!(texts(store.list_events(project, run).await.expect("read")), expected);
    let tree = store.run_outline(project, run).await.expect("read").expect("run");
    assert_eq!(texts(tree.events), expected, "the run page's tree");
}

#[tokio::test]
async fn events_at_one_instant_come_back_as_they_were_recorded_on_postgres() {
    events_at_one_instant_come_back_as_they_were_recorded(Backend::Postgres).await;
}

#[tokio::test]
async fn events_at_one_instant_come_back_as_they_were_recorded_on_sqlite() {
    events_at_one_instant_come_back_as_they_were_recorded(Backend::Sqlite).await;
}

async fn a_session_reads_as_one_conversation_a_turn_per_run(backend: Backend) {
    let (store, _guard) = store(backend).await;
    let project = store.create_project("p", "hash-of-key").await.expect("project").id;
    let session = Uuid::new_v4();
    let (first, second, silent, third) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let model = Uuid::new_v4();
    let event = |run: Uuid, span: Option<Uuid>, kind: &str, second: u32, text: &str| {
        json!({"id": Uuid::new_v4(), "run_id": run, "span_id": span, "type": kind, "created_at": at(second),
               "content": text})
    };
    let run = |id: Uuid, second: u32| json!({"id": id, "session_id": session, "name": "chat", "started_at": at(second), "status": "ok"});
    let body = json!({
        "schema_version": 2,
        "sessions": [{"id": session, "created_at": T0}],
        // Listed out of order: turns follow the runs' starts.
        "runs": [run(third, 40), run(first, 10), run(silent, 30), run(second, 20)],
        "spans": [{"id": model, "run_id": second, "kind": "model", "name": "llm", "started_at": at(21), "status": "ok"}],
        "events": [
            event(first, None, "user_input", 10, "Where is my order?"),
            event(first, None, "assistant_message", 11, "Let me look."),
            event(first, None, "final_response", 12, "It ships today."),
            event(first, None, "assistant_message", 13, "Anything else?"),
            // The model call repeats the history: its messages are not turns of the session.
            event(second, Some(model), "user_input", 21, "Where is my order?"),
            event(second, None, "user_input", 20, "Can I cancel it?"),
            event(second, None, "assistant_message", 22, "Checking."),
            event(second, None, "assistant_message", 23, "Yes, cancelled."),
            event(silent, None, "custom", 30, "no conversation here"),
            event(third, None, "final_response", 41, "Goodbye."),
        ]
    });
    store.ingest(project, &Batch::from_value(&body).expect("valid batch")).await.expect("ingest");

    let view = store.session_view(project, session).await.expect("read").expect("the session");
    let text = |e: &Option<northstar_wire::Event>| e.as_ref().and_then(|e| e.content.as_str()).map(str::to_owned);
    let turns: Vec<_> = view.turns.iter().map(|t| (t.run, text(&t.input), text(&t.output))).collect();
    assert_eq!(
        turns,
        [
            (first, Some("Where is my order?".into()), Some("It ships today.".into())),
            (second, Some("Can I cancel it?".into()), Some("Yes, cancelled.".into())),
            (third, None, Some("Goodbye.".into())),
        ],
        "per run, its first input and its final response (else its last assistant message); a run with neither is no turn"
    );
}

#[tokio::test]
async fn a_session_reads_as_one_conversation_a_turn_per_run_on_postgres() {
    a_session_reads_as_one_conversation_a_turn_per_run(Backend::Postgres).await;
}

#[tokio::test]
async fn a_session_reads_as_one_conversation_a_turn_per_run_on_sqlite() {
    a_session_reads_as_one_conversation_a_turn_per_run(Backend::Sqlite).await;
}
