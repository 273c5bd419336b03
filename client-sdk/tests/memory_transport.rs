//! `MemoryTransport` (feature `test-util`), as an application's own tests use it: the SDK records
//! and delivers exactly as it would to a server, with no server and no network, and the
//! transport's answers drive the same retry and rejection paths as the server's.

use std::time::Duration;

use northstar::{Client, Delivery, EventType, MemoryTransport, Options, SpanKind};
use northstar_wire::Status;

const WAIT: Duration = Duration::from_secs(10);

fn client(transport: &MemoryTransport) -> Client {
    // No key and no endpoint: the transport is where batches go.
    let options = Options::default().transport(transport.clone()).retry_base_delay(Duration::from_millis(1));
    Client::new(options).expect("valid options")
}

#[test]
fn a_client_with_a_transport_needs_no_key_or_endpoint_and_delivers_every_record_to_it() {
    let sent = MemoryTransport::new();
    let client = client(&sent);
    assert!(client.is_enabled());
    let session = client.session();
    let run = session.run("answer-question");
    {
        let span = run.span("chat", SpanKind::Model);
        span.event(EventType::UserInput, "How do refunds work?");
    }
    let run_id = run.id().expect("enabled");
    drop(run);
    drop(session);
    assert!(client.flush(WAIT), "{:?}", client.stats());

    let stored = sent.records();
    assert_eq!(stored.runs.len(), 1);
    assert_eq!((stored.runs[0].id, stored.runs[0].name.as_str()), (run_id, "answer-question"));
    assert_ne!(stored.runs[0].status, Status::Running, "the run was sent in its final state");
    assert_eq!(stored.spans.len(), 1);
    assert_eq!((stored.spans[0].name.as_str(), stored.spans[0].kind), ("chat", SpanKind::Model));
    assert_eq!(stored.events.len(), 1);
    assert_eq!(stored.events[0].span_id, Some(stored.spans[0].id));
    assert_eq!(client.stats().dropped(), 0);
    assert_eq!(client.stats().sent, client.stats().enqueued);
}

#[test]
fn a_retryable_answer_is_retried_and_the_batch_delivered_once() {
    let sent = MemoryTransport::new();
    let client = client(&sent);
    sent.answer_next([
        Delivery::Retry { reason: "the server answered 503; retrying".into(), retry_after: None },
        Delivery::Retry { reason: "sending a batch failed: connection refused".into(), retry_after: None },
    ]);
    drop(client.session().run("flaky-network"));
    assert!(client.flush(WAIT), "{:?}", client.stats());

    assert_eq!(sent.attempts(), 3, "two refusals, then accepted");
    assert_eq!(sent.batches().len(), 1, "delivered once");
    assert_eq!(sent.records().runs[0].name, "flaky-network");
    let stats = client.stats();
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.dropped(), 0);
}

#[test]
fn a_rejected_batch_is_dropped_and_counted_with_its_reason() {
    let sent = MemoryTransport::new();
    let client = client(&sent);
    sent.answer_next([Delivery::Rejected("400: Payload contains invalid project references".into())]);
    drop(client.session().run("refused"));
    assert!(!client.flush(WAIT), "a rejected batch is not a successful flush");

    assert!(sent.batches().is_empty());
    let stats = client.stats();
    assert!(stats.dropped_rejected > 0);
    assert_eq!(stats.last_rejection.as_deref(), Some("400: Payload contains invalid project references"));

    // The next batch goes through.
    drop(client.session().run("accepted"));
    assert!(client.flush(WAIT));
    assert_eq!(sent.records().runs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["accepted"]);
}

#[test]
fn a_disabled_client_ignores_its_transport() {
    let sent = MemoryTransport::new();
    let client = Client::new(Options::default().transport(sent.clone()).enabled(false)).expect("valid options");
    assert!(!client.is_enabled());
    drop(client.session().run("nothing"));
    assert!(client.flush(WAIT));
    assert_eq!(sent.attempts(), 0);
}
