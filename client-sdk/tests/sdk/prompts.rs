//! Prompts from the real server's registry: fetched, compiled, cached for a TTL, served stale
//! while the server is down (and a fallback when nothing is cached), and a prompt compiled
//! inside a model call linking that span to its version in the store.

use std::time::Duration;

use northstar::{Client, PromptError, SpanKind};
use northstar_server::{AppState, INGEST_PATH};
use northstar_store::{LabelChange, NewPrompt, NewPromptVersion, PromptVersion, Store};
use serde_json::json;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::common::*;

async fn add_prompt(server: &RealServer, slug: &str, content: &str) -> (Uuid, PromptVersion) {
    let new = NewPrompt { name: slug.into(), slug: slug.into(), ..NewPrompt::default() };
    let prompt = server.store.create_prompt(server.project, &new).await.expect("prompt").id;
    let v1 = add_version(server, prompt, content).await;
    set_prod(server, prompt, v1.id).await;
    (prompt, v1)
}

async fn add_version(server: &RealServer, prompt: Uuid, content: &str) -> PromptVersion {
    let new =
        NewPromptVersion { content: content.into(), model: Some("gpt-4o-mini".into()), ..NewPromptVersion::default() };
    server.store.add_prompt_version(server.project, prompt, &new).await.expect("version")
}

async fn set_prod(server: &RealServer, prompt: Uuid, version: Uuid) {
    let change =
        LabelChange { label: "prod".into(), version_id: version, change_note: Some("ship".into()), deployed_by: None };
    server.store.set_prompt_label(server.project, prompt, &change).await.expect("label");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_is_cached_for_its_ttl_refreshed_after_it_and_served_stale_while_the_server_is_down() {
    // The real server, on a listener this test can stop.
    let server = RealServer::sqlite().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}{INGEST_PATH}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(server.store.clone(), 10 * 1024 * 1024);
    let serving = tokio::spawn(async move {
        let _ = northstar_server::serve(listener, state, async {
            let _ = stopped.await;
        })
        .await;
    });

    let (prompt, v1) = add_prompt(&server, "greeter", "Hi {{ name }}, about {topic}").await;
    let client = Client::new(fast_options(&endpoint, &server.key)).expect("client");
    let ttl = Duration::from_millis(300);
    let get = || client.prompt("greeter").cache_ttl(ttl);

    let p = get().await.expect("prompt");
    assert_eq!((p.version_id(), p.version_number(), p.is_stale()), (Some(v1.id), Some(1), false));
    assert_eq!((p.model(), p.content_hash()), (Some("gpt-4o-mini"), Some(v1.content_hash.as_str())));
    assert_eq!(p.variables(), ["name", "topic"]);
    let compiled = p.compile([("name", "Ada"), ("topic", "refunds")]).expect("compile");
    assert_eq!(compiled.text(), "Hi Ada, about refunds");
    assert_eq!(
        p.compile([("name", "Ada")]).expect_err("refused"),
        PromptError::MissingVariables(vec!["topic".into()]),
        "a clear error naming what is missing"
    );
    assert_eq!(
        p.compile([("x", "y")]).expect_err("refused").to_string(),
        "Missing prompt variables: name, topic",
        "the original SDK's message"
    );

    // prod moves to v2: the cache answers until the TTL is over, then the server does.
    let v2 = add_version(&server, prompt, "Hello {{ name }}").await;
    set_prod(&server, prompt, v2.id).await;
    assert_eq!(get().await.expect("cached").version_id(), Some(v1.id), "within the TTL");
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(get().await.expect("refreshed").version_id(), Some(v2.id), "after the TTL");
    assert_eq!(
        client.prompt("greeter").version(1).await.expect("by number").version_id(),
        Some(v1.id),
        "a version by number"
    );
    assert!(matches!(client.prompt("nothing").await, Err(PromptError::NotFound(_))));

    // The server goes away: what was cached is served, marked stale; nothing cached is an
    // error or, with one, the fallback. Nothing takes the agent down.
    stop.send(()).expect("stop");
    serving.await.expect("server task");
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let stale = get().await.expect("stale");
    assert_eq!((stale.version_id(), stale.is_stale()), (Some(v2.id), true));
    assert_eq!(stale.compile([("name", "Ada")]).expect("compile").text(), "Hello Ada");
    assert!(matches!(client.prompt("greeter").label("beta").await, Err(PromptError::Unavailable(_))));
    let fallback = client.prompt("greeter").label("beta").fallback("Hey {{ name }}").await.expect("fallback");
    assert!(fallback.is_fallback() && fallback.version_id().is_none());
    assert_eq!(fallback.compile([("name", "Ada")]).expect("compile").text(), "Hey Ada");

    // A disabled SDK gives only fallbacks.
    assert_eq!(Client::noop().prompt("greeter").await.expect_err("refused"), PromptError::Disabled);
    assert!(Client::noop().prompt("greeter").fallback("x").await.expect("fallback").is_fallback());
}

async fn a_prompt_compiled_in_a_model_call_links_the_span(server: RealServer) {
    let (_, v1) = add_prompt(&server, "answer", "Answer {{ question }}").await;
    let guard = northstar::init(fast_options(&server.endpoint, &server.key));
    let prompt = northstar::prompt("answer").await.expect("prompt");

    let (run_id, linked_span, explicit_span) = {
        let run = northstar::trace("agent");
        let linked = {
            let llm = northstar::model_call("llm.answer", prompt.model().unwrap_or("gpt-4o-mini"));
            let compiled = prompt.compile([("question", "refunds?")]).expect("compile");
            assert_eq!(compiled.text(), "Answer refunds?");
            llm.id().expect("enabled")
        };
        // Outside a model call nothing is linked unless asked.
        let tool = northstar::span("not-a-model", SpanKind::Tool);
        let compiled = prompt.compile([("question", "why?")]).expect("compile");
        drop(tool);
        let explicit = northstar::span("explicit", SpanKind::Custom);
        compiled.link(&explicit);
        (run.id().expect("enabled"), linked, explicit.id().expect("enabled"))
    };
    tokio::task::spawn_blocking(|| assert!(northstar::flush(Duration::from_secs(20)), "{:?}", northstar::stats()))
        .await
        .expect("join");

    let uses = server.store.prompt_uses(server.project, run_id).await.expect("uses");
    let linked: Vec<(Uuid, Uuid, serde_json::Value)> =
        uses.iter().map(|u| (u.span_id, u.version_id, u.variable_values.clone())).collect();
    assert_eq!(
        linked,
        [(linked_span, v1.id, json!({"question": "refunds?"})), (explicit_span, v1.id, json!({"question": "why?"}))]
    );
    let span = server.store.get_span(server.project, linked_span).await.expect("read").expect("span");
    assert_eq!(
        span.attributes["prompt.compile.requested"],
        json!({"prompt_version_id": v1.id, "content_hash": v1.content_hash}),
        "marked as the original SDK marks a bound span"
    );
    assert_eq!(northstar::stats().dropped(), 0);
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_compiled_in_a_model_call_links_the_span_sqlite() {
    let _lock = GLOBAL_SDK.lock().await;
    a_prompt_compiled_in_a_model_call_links_the_span(RealServer::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_compiled_in_a_model_call_links_the_span_postgres() {
    let _lock = GLOBAL_SDK.lock().await;
    a_prompt_compiled_in_a_model_call_links_the_span(RealServer::postgres().await).await;
}
