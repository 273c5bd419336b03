//! Context propagation without handle passing, against the real server: tokio tasks, threads,
//! guards dropped out of order, re-initialisation, the guard's final flush. These tests share
//! the process-wide SDK state, so they take a lock.

use std::time::Duration;

use crate::common::*;
use northstar::{FutureExt, SpanKind};
use northstar_store::Store;
use uuid::Uuid;

use crate::common::GLOBAL_SDK;

async fn lock() -> tokio::sync::MutexGuard<'static, ()> {
    GLOBAL_SDK.lock().await
}

async fn flush() {
    let ok = tokio::task::spawn_blocking(|| northstar::flush(Duration::from_secs(20))).await.expect("join");
    assert!(ok, "{:?}", northstar::stats());
}

async fn parents(server: &RealServer, run: Uuid) -> std::collections::HashMap<String, Option<String>> {
    let spans = server.store.list_spans(server.project, run).await.expect("spans");
    let name_of = |id: Uuid| spans.iter().find(|s| s.id == id).map(|s| s.name.clone());
    spans.iter().map(|s| (s.name.clone(), s.parent_span_id.and_then(name_of))).collect()
}

#[northstar::observe(kind = "agent")]
async fn worker_step(n: u32) -> u32 {
    northstar::in_span(format!("inside step {n}"), SpanKind::Custom, tokio::task::yield_now()).await;
    n * 2
}

#[northstar::trace]
async fn traced_job() -> u32 {
    worker_step(1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_threads_stay_in_their_trace() {
    let _lock = lock().await;
    let server = RealServer::sqlite().await;
    let _guard = northstar::init(fast_options(&server.endpoint, &server.key));

    let run_id = {
        let run = northstar::trace("fan-out");
        let outer = northstar::span("outer", SpanKind::Workflow);
        // A task spawned through the helper, and one wrapped explicitly, both nest under `outer`.
        let a = northstar::spawn(northstar::in_span("spawned", SpanKind::Tool, tokio::task::yield_now()));
        let b = tokio::spawn(worker_step(7).in_current_trace());
        // A bare tokio::spawn carries no context: it records nothing.
        let c = tokio::spawn(async { northstar::span("orphan", SpanKind::Tool).id() });
        // A thread takes the context explicitly.
        let context = northstar::current_context();
        let t = std::thread::spawn(move || {
            let _in = context.enter();
            let _s = northstar::span("threaded", SpanKind::Tool);
            northstar::current_trace_id()
        });
        a.await.expect("task");
        assert_eq!(b.await.expect("task"), 14);
        assert_eq!(c.await.expect("task"), None, "no context, no span");
        assert_eq!(t.join().expect("thread"), run.id());
        drop(outer);
        run.id().expect("enabled")
    };
    // A traced async fn is Send: it can be spawned on a multi-threaded runtime.
    assert_eq!(tokio::spawn(traced_job()).await.expect("task"), 2);
    flush().await;

    let p = parents(&server, run_id).await;
    assert_eq!(p["outer"], None);
    assert_eq!(p["spawned"].as_deref(), Some("outer"));
    assert_eq!(p["worker_step"].as_deref(), Some("outer"));
    assert_eq!(p["inside step 7"].as_deref(), Some("worker_step"), "a span inside an observed async fn nests under it");
    assert_eq!(p["threaded"].as_deref(), Some("outer"));
    assert!(!p.contains_key("orphan"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_dropped_out_of_order_do_not_corrupt_parenting() {
    let _lock = lock().await;
    let server = RealServer::sqlite().await;
    let _guard = northstar::init(fast_options(&server.endpoint, &server.key));
    let run_id = {
        let run = northstar::trace("out-of-order");
        let a = northstar::span("a", SpanKind::Custom);
        let b = northstar::span("b", SpanKind::Custom);
        drop(a); // the parent goes first
        let c = northstar::span("c", SpanKind::Custom); // still under b, which is open
        drop(c);
        drop(b);
        let d = northstar::span("d", SpanKind::Custom); // nothing open: top level
        drop(d);
        run.id().expect("enabled")
    };
    flush().await;
    let p = parents(&server, run_id).await;
    assert_eq!(
        (p["a"].as_deref(), p["b"].as_deref(), p["c"].as_deref(), p["d"].as_deref()),
        (None, Some("a"), Some("b"), None)
    );
    let spans = server.store.list_spans(server.project, run_id).await.expect("spans");
    assert!(spans.iter().all(|s| s.status == northstar_wire::Status::Ok && s.ended_at.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_init_starts_a_new_session_and_the_guard_flushes_on_drop() {
    let _lock = lock().await;
    let server = RealServer::sqlite().await;
    let first = northstar::init(fast_options(&server.endpoint, &server.key).flush_interval(Duration::from_secs(3600)));
    let first_session = first.session().id().expect("session");
    let run1 = northstar::trace("before re-init").id().expect("enabled");
    // No explicit flush, and the interval is an hour: only dropping the guard sends it.
    tokio::task::spawn_blocking(move || drop(first)).await.expect("join");
    // This thread started a run with the first guard's client; with the guard gone (dropped on
    // another thread), it starts none.
    assert_eq!(northstar::trace("after the guard dropped").id(), None, "no client once the guard dropped");
    let stored = server.store.get_run(server.project, run1).await.expect("read").expect("sent at guard drop");
    assert_eq!(stored.session_id, first_session);
    let session = server.store.get_session(server.project, first_session).await.expect("read").expect("session");
    assert!(session.ended_at.is_some());

    let second = northstar::init(fast_options(&server.endpoint, &server.key));
    let run2 = northstar::trace("after re-init").id().expect("enabled");
    flush().await;
    let stored = server.store.get_run(server.project, run2).await.expect("read").expect("run");
    assert_ne!(stored.session_id, first_session, "a new init is a new session");
    assert_eq!(Some(stored.session_id), second.session().id());
    tokio::task::spawn_blocking(move || drop(second)).await.expect("join");
}
