//! `/api/live`: a page's server-sent events. A change ingested after a page subscribed reaches
//! it as one `change` event naming the run; a page following one run hears nothing of others;
//! only a user who can open the project may follow it.

use std::time::Duration;

use serde_json::json;

use crate::common::fixtures::{Trace, batch, id, span};
use crate::common::{Backend, PASSWORD, TestServer, on_both_stores};

/// Reads the stream until an event whose data contains `needle`, or fails after 10 s. Returns
/// everything read.
async fn read_until(response: &mut reqwest::Response, needle: &str) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no event with {needle} within 10 s; read: {text:?}"))
            .expect("the stream stays open")
            .expect("a chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

async fn follow(server: &TestServer, cookie: &str, query: &str) -> reqwest::Response {
    server
        .client
        .get(format!("{}/api/live?{query}", server.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("subscribe")
}

async fn a_page_hears_the_changes_of_what_it_shows(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (watched, other) = (Trace::new(), Trace::new());
    server.accepts(&watched.body()).await;
    server.accepts(&other.body()).await;

    let p = server.project;
    let mut run_page = follow(server, &cookie, &format!("project={p}&run={}", watched.run)).await;
    assert_eq!(run_page.status(), 200);
    assert_eq!(run_page.headers()["content-type"], "text/event-stream");
    let mut list_page = follow(server, &cookie, &format!("project={p}")).await;
    assert_eq!(list_page.status(), 200);

    // A span of the other run: the list hears it, the watched run's page does not.
    let span_of = |run: &str| batch(json!({"spans": [span(&id(), run, None)]}));
    server.accepts(&span_of(&other.run)).await;
    let heard = read_until(&mut list_page, &other.run).await;
    assert!(heard.contains("event: change"), "{heard}");

    server.accepts(&span_of(&watched.run)).await;
    let heard = read_until(&mut run_page, &watched.run).await;
    assert!(!heard.contains(&other.run), "the run page heard another run: {heard}");
    assert!(heard.contains("event: change"), "{heard}");
}

async fn only_who_may_open_the_project_follows_it(server: &TestServer) {
    let cookie = server.admin_cookie().await;
    let (other_project, _) = server.other_project().await;
    server.user("member@example.com", false).await;
    let member = server.login("member@example.com", PASSWORD).await.expect("member login");
    let p = server.project;
    for (cookie, query) in [
        (member.as_str(), format!("project={p}")),
        (cookie.as_str(), format!("project={other_project}-not-an-id")),
        (cookie.as_str(), format!("project={}", uuid::Uuid::new_v4())),
        (cookie.as_str(), format!("project={p}&run=nonsense")),
    ] {
        assert_eq!(follow(server, cookie, &query).await.status(), 404, "{query}");
    }
    let anonymous = server.client.get(format!("{}/api/live?project={p}", server.base)).send().await.expect("get");
    assert_ne!(anonymous.status(), 200, "a login is needed");
}

on_both_stores!(a_page_hears_the_changes_of_what_it_shows, only_who_may_open_the_project_follows_it);
