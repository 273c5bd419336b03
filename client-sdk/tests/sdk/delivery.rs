//! Delivery under faults, through a proxy in front of the real server and store: transient
//! failures are retried with the same records (and `Retry-After` is honoured), nothing is
//! stored twice, a rejected batch is dropped and counted without blocking later data, a full
//! queue drops and counts new records without making the caller wait, and shutdown with the
//! backend down gives up on time and counts what it drops.

use std::time::{Duration, Instant};

use crate::common::*;
use northstar::{Client, EventType, SpanKind};
use northstar_store::Store;
use serde_json::json;

/// Flushes from a blocking thread (flush blocks) until everything is accepted.
async fn flush_until_delivered(client: &Client) {
    let client = client.clone();
    let delivered = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if client.flush(Duration::from_secs(10)) {
                return true;
            }
        }
        false
    })
    .await
    .expect("join");
    assert!(delivered, "everything should be delivered once the faults are over");
}

fn record_a_run(client: &Client, spans: usize) -> uuid::Uuid {
    let session = client.session();
    let mut run = session.run("agent");
    for i in 0..spans {
        let span = run.span(format!("step {i}"), SpanKind::Tool);
        span.event(EventType::ToolArguments, json!({"i": i}));
    }
    let id = run.id().expect("enabled");
    run.end();
    client.score(id, "quality", 0.9).expect("valid score");
    session.end();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_and_every_record_is_stored_once() {
    let server = RealServer::sqlite().await;
    let script = vec![
        Fault::Status(503, None),
        Fault::Status(429, Some(1)),
        Fault::Drop,
        Fault::Hang,
        Fault::ForwardThenDrop,
        Fault::Status(502, None),
    ];
    let proxy = FaultProxy::start(&server.endpoint, script).await;
    let client = Client::new(fast_options(&proxy.endpoint, &server.key).batch_size(10)).expect("client");
    let run = record_a_run(&client, 12);
    flush_until_delivered(&client).await;

    let counts = server.store.count_records(server.project).await.expect("count");
    assert_eq!((counts.sessions, counts.runs, counts.spans, counts.events, counts.scores), (1, 1, 12, 12, 1));
    let stored = server.store.get_run(server.project, run).await.expect("read").expect("run");
    assert_eq!(stored.status, northstar_wire::Status::Ok);
    assert!(
        server
            .store
            .list_spans(server.project, run)
            .await
            .expect("spans")
            .iter()
            .all(|s| s.status == northstar_wire::Status::Ok)
    );

    let stats = client.stats();
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert_eq!(stats.retries, 6, "one per scripted failure: {stats:?}");

    let seen = proxy.requests();
    // The first batch is retried as it was: same records, same ids.
    assert_eq!(seen[0].body, seen[1].body);
    // Retry-After: 1 was honoured before the next attempt.
    let after_429 = seen.iter().position(|r| r.answered == Some(429)).expect("the 429");
    assert!(seen[after_429 + 1].at.duration_since(seen[after_429].at) >= Duration::from_millis(950));
    // No request carried more than batch_size records.
    for request in &seen {
        let n: usize = ["sessions", "runs", "spans", "events", "scores", "prompt_links"]
            .iter()
            .map(|a| request.body[*a].as_array().map_or(0, Vec::len))
            .sum();
        assert!(n <= 10, "a request carried {n} records");
    }
    client.shutdown(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_batch_is_dropped_and_later_data_still_flows() {
    let server = RealServer::sqlite().await;
    let proxy = FaultProxy::start(&server.endpoint, vec![Fault::Forward, Fault::Status(400, None)]).await;
    let client = Client::new(fast_options(&proxy.endpoint, &server.key).batch_size(100)).expect("client");
    let session = client.session();
    flush_until_delivered(&client).await;

    let mut rejected = session.run("rejected");
    let rejected_id = rejected.id().expect("enabled");
    rejected.end();
    let c = client.clone();
    let accepted = tokio::task::spawn_blocking(move || c.flush(Duration::from_secs(10))).await.expect("join");
    assert!(!accepted, "flush reports the rejection");

    let mut later = session.run("later");
    let later_id = later.id().expect("enabled");
    later.end();
    flush_until_delivered(&client).await;

    assert!(server.store.get_run(server.project, rejected_id).await.expect("read").is_none());
    assert!(server.store.get_run(server.project, later_id).await.expect("read").is_some());
    let stats = client.stats();
    assert_eq!(stats.dropped_rejected, 1, "{stats:?}");
    assert_eq!(stats.last_rejection.as_deref(), Some("400: scripted failure"));
    client.shutdown(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_new_records_and_the_caller_never_waits() {
    let server = RealServer::sqlite().await;
    let proxy = FaultProxy::start(&server.endpoint, vec![]).await;
    *proxy.always.lock().expect("lock") = Some(Fault::Hang);
    let options = fast_options(&proxy.endpoint, &server.key)
        .max_queue_size(20)
        .batch_size(5)
        .shutdown_timeout(Duration::from_millis(300));
    let client = Client::new(options).expect("client");

    // With the backend hanging, 5,000 events are recorded on this thread; it completes because
    // recording never waits on the worker or the network.
    let session = client.session();
    let run = session.run("flood");
    for i in 0..5_000 {
        run.event(EventType::Custom, json!({"i": i}));
    }
    let stats = client.stats();
    let attempted = 5_000 + 2; // the events, the session, the run's start
    assert_eq!(stats.enqueued + stats.dropped_queue_full, attempted, "{stats:?}");
    assert!(stats.dropped_queue_full > 0, "{stats:?}");
    assert_eq!(stats.sent, 0);

    let c = client.clone();
    tokio::task::spawn_blocking(move || c.shutdown(Duration::from_millis(300))).await.expect("join");
    let after = client.stats();
    assert!(after.dropped_shutdown > 0, "what shutdown could not send is counted: {after:?}");
    drop(run);
    assert!(client.stats().dropped_shutdown > after.dropped_shutdown, "records after shutdown are counted too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_wait_for_a_server_that_comes_back() {
    let server = RealServer::postgres().await;
    let proxy = FaultProxy::start(&server.endpoint, vec![]).await;
    *proxy.always.lock().expect("lock") = Some(Fault::Status(503, None));
    let client = Client::new(fast_options(&proxy.endpoint, &server.key).max_attempts(2)).expect("client");
    let run = record_a_run(&client, 3);
    // Several flush cycles fail: the batch is kept, not dropped.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(server.store.get_run(server.project, run).await.expect("read").is_none());
    assert_eq!(client.stats().dropped(), 0);
    *proxy.always.lock().expect("lock") = None;
    flush_until_delivered(&client).await;
    let counts = server.store.count_records(server.project).await.expect("count");
    assert_eq!((counts.sessions, counts.runs, counts.spans, counts.events, counts.scores), (1, 1, 3, 3, 1));
    client.shutdown(Duration::from_secs(5));
}

/// The statuses of the record `id` in `array` ("runs", "spans") in the order the proxy saw them.
fn statuses(proxy: &FaultProxy, array: &str, id: uuid::Uuid) -> Vec<String> {
    proxy
        .requests()
        .iter()
        .flat_map(|r| r.body[array].as_array().cloned().unwrap_or_default())
        .filter(|s| s["id"] == json!(id))
        .map(|s| s["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_travels_once_when_it_ends_unread_and_again_when_read_while_open() {
    let server = RealServer::sqlite().await;
    let proxy = FaultProxy::start(&server.endpoint, vec![]).await;
    // A long interval and a large batch: the worker reads nothing until asked to flush.
    let options = fast_options(&proxy.endpoint, &server.key).batch_size(1_000).flush_interval(Duration::from_secs(60));
    let client = Client::new(options).expect("client");
    let session = client.session();
    let mut run = session.run("agent");
    let run_id = run.id().expect("enabled");

    // Ended before the worker read it: queued once, and it travels once, finished.
    let mut quick = run.span("quick", SpanKind::Tool);
    let quick_id = quick.id().expect("enabled");
    quick.end();
    assert_eq!(client.stats().enqueued, 3, "session, run, span: ending an unread span does not queue it again");
    flush_until_delivered(&client).await;
    assert_eq!(statuses(&proxy, "spans", quick_id), ["ok"]);

    // Read while open (a flush in between): it went as running, and ending it queues it again.
    let mut slow = run.span("slow", SpanKind::Tool);
    let slow_id = slow.id().expect("enabled");
    flush_until_delivered(&client).await;
    assert_eq!(statuses(&proxy, "spans", slow_id), ["running"]);
    slow.end();
    run.end();
    flush_until_delivered(&client).await;
    assert_eq!(statuses(&proxy, "spans", slow_id), ["running", "ok"]);
    assert_eq!(statuses(&proxy, "runs", run_id), ["running", "ok"], "the run was read open by the first flush");
    assert_eq!(client.stats().enqueued, 6, "the slow span and the run were queued again when they ended");

    let stored = server.store.list_spans(server.project, run_id).await.expect("spans");
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|s| s.status == northstar_wire::Status::Ok && s.ended_at.is_some()), "{stored:?}");
    let stored_run = server.store.get_run(server.project, run_id).await.expect("read").expect("run");
    assert_eq!(stored_run.status, northstar_wire::Status::Ok);
    client.shutdown(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_inside_their_span_and_each_is_stored_once_through_retries() {
    let server = RealServer::sqlite().await;
    let proxy = FaultProxy::start(&server.endpoint, vec![Fault::Status(503, None), Fault::Drop]).await;
    let options = fast_options(&proxy.endpoint, &server.key).batch_size(10).flush_interval(Duration::from_secs(60));
    let client = Client::new(options).expect("client");
    let session = client.session();
    let mut run = session.run("agent");
    let run_id = run.id().expect("enabled");
    // More events than may wait in a queued span: the rest go through the queue.
    let span = run.span("busy", SpanKind::Agent);
    for i in 0..25 {
        span.event(EventType::AssistantMessage, format!("message {i}"));
    }
    // Read while open, then more events: they travel on their own.
    flush_until_delivered(&client).await;
    for i in 25..30 {
        span.event(EventType::AssistantMessage, format!("message {i}"));
    }
    drop(span);
    run.end();
    flush_until_delivered(&client).await;

    let events = server.store.list_events(server.project, run_id).await.expect("events");
    let mut contents: Vec<String> = events.iter().map(|e| e.content.as_str().unwrap_or_default().to_owned()).collect();
    contents.sort_by_key(|c| c["message ".len()..].parse::<u32>().unwrap_or(u32::MAX));
    assert_eq!(contents, (0..30).map(|i| format!("message {i}")).collect::<Vec<_>>());
    let stats = client.stats();
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert_eq!(stats.enqueued, stats.sent, "every record counted once on the way in and once out: {stats:?}");
    assert_eq!(stats.retries, 2, "{stats:?}");

    let seen = proxy.requests();
    assert_eq!(seen[0].body, seen[1].body, "the batch put back carried its span's events again");
    let mut sent_ids = Vec::new();
    for request in seen.iter().filter(|r| r.answered == Some(200)) {
        let n: usize = ["sessions", "runs", "spans", "events", "scores"]
            .iter()
            .map(|a| request.body[*a].as_array().map_or(0, Vec::len))
            .sum();
        assert!(n <= 10, "a request carried {n} records");
        sent_ids.extend(request.body["events"].as_array().into_iter().flatten().map(|e| e["id"].clone()));
    }
    let unique: std::collections::HashSet<String> = sent_ids.iter().map(ToString::to_string).collect();
    assert_eq!((sent_ids.len(), unique.len()), (30, 30), "each event was accepted exactly once");
    client.shutdown(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_waiting_in_a_span_are_counted_when_shutdown_gives_up_on_them() {
    let server = RealServer::sqlite().await;
    let proxy = FaultProxy::start(&server.endpoint, vec![]).await;
    *proxy.always.lock().expect("lock") = Some(Fault::Hang);
    let options = fast_options(&proxy.endpoint, &server.key).flush_interval(Duration::from_secs(60));
    let client = Client::new(options).expect("client");
    let session = client.session();
    let run = session.run("agent");
    let span = run.span("step", SpanKind::Tool);
    for i in 0..3 {
        span.event(EventType::ToolResult, i);
    }
    assert_eq!(client.stats().enqueued, 6, "session, run, span and its three events");

    let c = client.clone();
    tokio::task::spawn_blocking(move || c.shutdown(Duration::from_millis(300))).await.expect("join");
    let after = client.stats();
    assert_eq!((after.sent, after.dropped_shutdown), (0, 6), "every accepted record is counted: {after:?}");

    // The span was given up on: a later event on it is refused and counted, not kept in it.
    span.event(EventType::ToolResult, 3);
    assert_eq!(client.stats().dropped_shutdown, 7);
    drop(span);
    assert_eq!(client.stats().dropped_shutdown, 8, "and so is its end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_made_in_a_delivered_runs_place_carries_nothing_of_it() {
    let server = RealServer::sqlite().await;
    let options = fast_options(&server.endpoint, &server.key).batch_size(50).flush_interval(Duration::from_secs(60));
    let client = Client::new(options).expect("client");
    let session = client.session();
    let mut metadata = serde_json::Map::new();
    metadata.insert("user".into(), json!("u-1"));
    let mut first = session.run_with_metadata("first", metadata);
    let first_id = first.id().expect("enabled");
    first.tags(["beta"]);
    first.record_error_message("Timeout", "took too long");
    let span = first.span("call", SpanKind::Model);
    span.set_attribute("model", "gpt-4o-mini");
    span.record_usage(northstar::Usage { input_tokens: 10, output_tokens: 5, ..Default::default() });
    drop(span);
    first.end();
    drop(first);
    flush_until_delivered(&client).await;
    let stored = server.store.get_run(server.project, first_id).await.expect("read").expect("run");
    let keys: Vec<&String> = stored.metadata.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        ["user", "tags", "cost_usd", "total_input_tokens", "total_output_tokens", "latency_ms"],
        "what the next run must not inherit: {stored:?}"
    );

    // Nothing holds the first run any more: the worker hands it back to be filled again.
    let mut second = session.run("second");
    let second_id = second.id().expect("enabled");
    second.end();
    drop(second);
    flush_until_delivered(&client).await;

    let stored = server.store.get_run(server.project, second_id).await.expect("read").expect("run");
    assert_eq!((stored.name.as_str(), stored.session_id), ("second", session.id().expect("enabled")));
    assert_eq!(stored.status, northstar_wire::Status::Ok, "{stored:?}");
    assert_eq!(stored.error, None, "{stored:?}");
    let keys: Vec<&String> = stored.metadata.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["latency_ms"], "{stored:?}");
    assert!(stored.ended_at.is_some_and(|end| end >= stored.started_at), "{stored:?}");
    let counts = server.store.count_records(server.project).await.expect("count");
    assert_eq!((counts.runs, counts.spans), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_made_in_a_delivered_spans_place_carries_nothing_of_it() {
    let server = RealServer::sqlite().await;
    let options = fast_options(&server.endpoint, &server.key).batch_size(50).flush_interval(Duration::from_secs(60));
    let client = Client::new(options).expect("client");
    let session = client.session();
    let mut first = session.run("first");
    for i in 0..20 {
        let span = first.span(format!("busy {i}"), SpanKind::Model);
        span.set_attribute("model", "gpt-4o-mini");
        span.set_attribute(format!("key {i}"), i);
        span.record_usage(northstar::Usage { input_tokens: 10, output_tokens: 5, ..Default::default() });
        span.record_error_message("Timeout", "took too long");
        span.event(EventType::AssistantMessage, format!("message {i}"));
    }
    first.end();
    flush_until_delivered(&client).await;

    // The worker hands delivered spans back to be filled again: these take their places.
    let mut second = session.run("second");
    let second_id = second.id().expect("enabled");
    let parent = second.span("parent", SpanKind::Agent);
    let parent_id = parent.id().expect("enabled");
    let children: Vec<_> = (0..20).map(|i| parent.span(format!("quiet {i}"), SpanKind::Tool)).collect();
    let child_ids: Vec<_> = children.iter().map(|s| s.id().expect("enabled")).collect();
    drop(children);
    drop(parent);
    second.end();
    flush_until_delivered(&client).await;

    let spans = server.store.list_spans(server.project, second_id).await.expect("spans");
    assert_eq!(spans.len(), 21);
    for span in &spans {
        assert_eq!(span.run_id, second_id);
        assert_eq!(span.status, northstar_wire::Status::Ok, "{span:?}");
        assert_eq!(span.error, None, "{span:?}");
        let keys: Vec<&String> = span.attributes.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["latency_ms"], "{span:?}");
        if span.id == parent_id {
            assert_eq!((span.name.as_str(), span.parent_span_id), ("parent", None));
        } else {
            assert!(child_ids.contains(&span.id), "{span:?}");
            assert!(span.name.starts_with("quiet "), "{span:?}");
            assert_eq!(span.parent_span_id, Some(parent_id));
        }
    }
    assert!(server.store.list_events(server.project, second_id).await.expect("events").is_empty());
    let run = server.store.get_run(server.project, second_id).await.expect("run").expect("stored");
    assert_eq!(run.metadata.get("cost_usd"), None, "the first run's spans priced nothing here: {:?}", run.metadata);
    let stats = client.stats();
    assert_eq!((stats.dropped(), stats.enqueued), (0, stats.sent), "{stats:?}");
    client.shutdown(Duration::from_secs(5));
}
