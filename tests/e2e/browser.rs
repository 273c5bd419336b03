//! The dashboard in a real browser (`chromium.rs`), seeded through the ingest API.

use std::time::Duration;

use fantoccini::{Client, Locator};
use northstar_test_support::fixtures;
use northstar_test_support::fixtures::agent_trace;
use serde_json::json;

use super::chromium::{ADMIN, Browser, ingest, login, shot, spawn_server, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_a_trace_and_score_it() {
    let browser = Browser::start().await;
    let (trace, body) = agent_trace();
    browser.ingest(&body).await;
    let (c, base) = (browser.client.clone(), browser.base.clone());
    browser.run("browse", checks(&c, &base, &trace)).await;
}

async fn checks(c: &Client, base: &str, t: &fixtures::AgentTrace) {
    // Every page needs a login: the dashboard sends the browser to the login form first.
    let project_href = login(c, base).await;
    shot(c, "1-overview").await;

    // The sessions list, then the session, then its run, by clicking as a person would.
    c.find(Locator::XPath("//nav//a[text()='Sessions']")).await.expect("sessions link").click().await.expect("click");
    let session = wait_for(c, &format!("//table[@id='sessions']//a[contains(@href, '{}')]", t.session)).await;
    let row =
        c.find(Locator::XPath("//table[@id='sessions']/tbody/tr")).await.expect("row").text().await.expect("text");
    assert!(row.contains("$0.0123") && row.contains("active"), "session row: {row}");
    shot(c, "2-sessions").await;
    session.click().await.expect("open session");
    let run = wait_for(c, "//div[@class='timeline']//a[text()='support-agent']").await;
    shot(c, "3-session").await;
    run.click().await.expect("open run");
    wait_for(c, "//div[@id='trace-tree']//a[text()='llm.answer']").await;
    assert!(c.current_url().await.expect("url").as_str().starts_with(&format!("{base}{project_href}/runs/{}", t.run)));
    let cost = c
        .find(Locator::XPath("//div[@class='stat'][div[text()='Cost']]/div[@class='stat-value']"))
        .await
        .expect("cost");
    assert_eq!(cost.text().await.expect("text"), "$0.0123");

    // A node below depth 2 starts collapsed; expanding it shows its child.
    assert!(c.find(Locator::XPath("//a[text()='score-snippet']")).await.is_err(), "collapsed at first");
    let toggle = "//div[contains(@class,'tree-row')][.//a[text()='rank-results']]//button[@class='toggle']";
    c.find(Locator::XPath(toggle)).await.expect("toggle").click().await.expect("expand");
    wait_for(c, "//a[text()='score-snippet']").await;

    // Selecting the model span shows its conversation and its cost, and keeps the tree as the
    // person left it.
    c.find(Locator::XPath("//div[@id='trace-tree']//a[text()='llm.answer']"))
        .await
        .expect("node")
        .click()
        .await
        .expect("select");
    let user =
        wait_for(c, "//section[@id='node-detail']//div[contains(@class,'role-user')]/div[@class='msg-text']").await;
    let text = user.text().await.expect("text");
    assert!(text.contains("<script>window.__pwned = true</script>"), "markup shown as text: {text}");
    wait_for(
        c,
        "//section[@id='node-detail']//div[contains(@class,'role-assistant')]//div[text()='Refunds take 5 days.']",
    )
    .await;
    assert!(c.find(Locator::XPath("//a[text()='score-snippet']")).await.is_ok(), "still expanded");
    let detail_cost = c.find(Locator::XPath("//section[@id='node-detail']//span[@class='cost']")).await.expect("cost");
    assert_eq!(detail_cost.text().await.expect("text"), "$0.0123");
    let pwned = c.execute("return window.__pwned === undefined && document.querySelectorAll('#node-detail script, #node-detail img').length === 0", vec![]).await.expect("js");
    assert_eq!(pwned, json!(true), "nothing an agent recorded ran or became an element");
    shot(c, "4-run").await;

    // A human score through the form appears in the list.
    let form = "//section[@id='scores']";
    c.find(Locator::XPath(&format!("{form}//input[@name='name']")))
        .await
        .expect("name")
        .send_keys("helpfulness")
        .await
        .expect("type");
    c.find(Locator::XPath(&format!("{form}//input[@name='value']")))
        .await
        .expect("value")
        .send_keys("0.9")
        .await
        .expect("type");
    c.find(Locator::XPath(&format!("{form}//input[@name='comment']")))
        .await
        .expect("comment")
        .send_keys("clear answer")
        .await
        .expect("type");
    c.find(Locator::Id("add-score")).await.expect("submit").click().await.expect("submit");
    let added = wait_for(c, &format!("{form}//tr[@class='score-row'][td[text()='helpfulness']]")).await;
    let text = added.text().await.expect("text");
    assert!(text.contains("0.9") && text.contains("human") && text.contains("clear answer"), "score row: {text}");
    assert!(text.contains(&format!("by {ADMIN}")), "who added it: {text}");
    shot(c, "5-scored").await;

    // The scores page shows it too.
    c.find(Locator::XPath("//nav//a[text()='Scores']")).await.expect("scores link").click().await.expect("click");
    wait_for(c, "//section[contains(@class,'score-summary')]//h2[contains(., 'helpfulness')]").await;
    shot(c, "6-scores").await;

    // The theme toggle switches to dark (headless Chromium prefers light) and is remembered.
    c.find(Locator::Css("button.theme-toggle")).await.expect("toggle").click().await.expect("click");
    let theme = c
        .execute("return [document.documentElement.dataset.theme, localStorage.getItem('northstar-theme')]", vec![])
        .await
        .expect("js");
    assert_eq!(theme, json!(["dark", "dark"]));
    c.goto(&format!("{base}{project_href}/runs/{}?span={}", t.run, t.model)).await.expect("reload run");
    wait_for(c, "//span[@id='hydrated' and @data-state='hydrated']").await;
    let theme = c.execute("return document.documentElement.dataset.theme", vec![]).await.expect("js");
    assert_eq!(theme, json!("dark"));
    shot(c, "7-run-dark").await;
    // Messages and attributes can be copied.
    wait_for(c, "//section[@id='node-detail']//div[contains(@class,'role-user')]//button[@aria-label='Copy message']")
        .await;
    wait_for(c, "//section[@id='node-detail']//details[@class='attributes']//button[@aria-label='Copy JSON']").await;

    // Replacing the API key takes a second, explicit click; the new key can be copied.
    c.find(Locator::XPath("//nav//a[text()='Settings']")).await.expect("settings").click().await.expect("click");
    let confirm = wait_for(c, "//details[@id='rotate-confirm']/summary").await;
    assert!(
        !c.find(Locator::Id("rotate-key")).await.expect("button").is_displayed().await.expect("shown"),
        "hidden at first"
    );
    confirm.click().await.expect("open");
    wait_for(c, "//button[@id='rotate-key']").await.click().await.expect("replace");
    wait_for(c, "//div[contains(@class,'new-key')]//button[@aria-label='Copy key']").await;
    let key = c.find(Locator::Id("new-key")).await.expect("key").text().await.expect("text");
    assert!(key.starts_with("ns_"), "{key}");

    // A named read key: created here (shown once), listed, and it reads the public API.
    c.find(Locator::Id("key-name")).await.expect("name").send_keys("eval scripts").await.expect("type");
    c.find(Locator::Id("create-key")).await.expect("create").click().await.expect("click");
    let created = wait_for(c, "//code[@id='created-key']").await.text().await.expect("text");
    wait_for(c, "//tr[contains(@class,'key-row')]/td[text()='eval scripts']").await;
    let api = reqwest::Client::new()
        .get(format!("{base}/api/v1/runs"))
        .bearer_auth(&created)
        .send()
        .await
        .expect("API request");
    assert_eq!(api.status(), 200, "the new read key reads the API");
    shot(c, "8-settings-keys").await;

    // Logging out ends the session: the dashboard asks for a login again.
    c.find(Locator::Id("logout")).await.expect("logout").click().await.expect("click");
    wait_for(c, "//form[@action='/login']").await;
    c.goto(&format!("{base}{project_href}/sessions")).await.expect("open sessions");
    wait_for(c, "//form[@action='/login']").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100k_span_run_opens_at_a_deep_link_and_is_searched_and_walked() {
    let browser = Browser::start().await;
    let (run, batches) = fixtures::big_run(100_000);
    assert!(run.spans >= 100_000, "{} spans", run.spans);
    for batch in &batches {
        browser.ingest(batch).await;
    }
    let (c, base) = (browser.client.clone(), browser.base.clone());
    browser.run("big-run", big_run_checks(&c, &base, &run)).await;
}

/// The row of the tree that is selected (its link's text).
const SELECTED: &str = "//div[@id='trace-tree']//div[contains(@class,'tree-row') and contains(@class,'selected')]//a";

async fn selected_is(c: &Client, name: &str) {
    wait_for(c, &format!("{SELECTED}[text()='{name}']")).await;
    wait_for(c, &format!("//section[@id='node-detail']//h2[contains(., '{name}')]")).await;
}

async fn big_run_checks(c: &Client, base: &str, t: &fixtures::BigRun) {
    let project_href = login(c, base).await;

    // A deep link opens the run with the span ten levels down selected and its path open.
    c.goto(&format!("{base}{project_href}/runs/{}?span={}", t.run, t.deep)).await.expect("open run");
    wait_for(c, "//span[@id='hydrated' and @data-state='hydrated']").await;
    selected_is(c, "deep-target").await;
    for level in 1..10 {
        wait_for(c, &format!("//div[@id='trace-tree']//a[text()='level-{level}']")).await;
    }
    shot(c, "8-big-run-deep-link").await;
    // What the page sent and what it drew do not grow with the run.
    let (bytes, rows) = (
        c.execute("return performance.getEntriesByType('navigation')[0].decodedBodySize", vec![]).await.expect("js"),
        c.execute("return document.querySelectorAll('#trace-tree .tree-row').length", vec![]).await.expect("js"),
    );
    let (bytes, rows) = (bytes.as_u64().expect("bytes"), rows.as_u64().expect("rows"));
    assert!(bytes < 1024 * 1024, "the first view of {} spans is {bytes} bytes", t.spans);
    assert!(rows < 200, "{rows} rows in the DOM for {} spans", t.spans);
    // Every ancestor of the failed tool call says so.
    wait_for(c, "//div[contains(@class,'tree-row')][.//a[text()='agent-loop']]//span[@class='error-below']").await;

    // The agent graph: the loop's thousands of tool calls are one arrow with its count.
    let calls = wait_for(c, "//table[@id='graph-calls']//tr[td[2][text()='fetch_page']]").await;
    let text = calls.text().await.expect("text");
    assert!(text.contains("agent-loop") && text.contains(&format!("{}", (t.spans - 11) / 100 * 98 - 1)), "{text}");

    // Keys: down moves to the row below deep-target (the first step), Enter selects it.
    let tree = c.find(Locator::Id("trace-tree")).await.expect("tree");
    tree.send_keys(&fantoccini::key::Key::Down.to_string()).await.expect("down");
    tree.send_keys(&fantoccini::key::Key::Enter.to_string()).await.expect("enter");
    selected_is(c, "step-0").await;

    // Scrolling to the end draws the last steps (fetched as they come into view).
    c.execute("const t = document.getElementById('trace-tree'); t.scrollTop = t.scrollHeight;", vec![])
        .await
        .expect("scroll");
    let last = format!("step-{}", (t.spans - 10) / 100 - 1);
    wait_for(c, &format!("//div[@id='trace-tree']//a[text()='{last}']")).await;

    // "Next error" opens the failed tool call's path and selects it.
    c.find(Locator::Id("next-error")).await.expect("next error").click().await.expect("click");
    selected_is(c, "broken-tool").await;
    shot(c, "9-big-run-error").await;

    // Search by words that are only in a message finds the model call that received it.
    let search = c.find(Locator::Id("trace-search")).await.expect("search box");
    search.send_keys(t.needle).await.expect("type");
    search.send_keys(&fantoccini::key::Key::Enter.to_string()).await.expect("submit");
    let hit = wait_for(c, "//div[@id='search-hits']//button[contains(., 'needle-model')]").await;
    hit.click().await.expect("open hit");
    selected_is(c, "needle-model").await;
    let message =
        wait_for(c, "//section[@id='node-detail']//div[contains(@class,'role-user')]/div[@class='msg-text']").await;
    assert!(message.text().await.expect("text").contains(t.needle));
    shot(c, "10-big-run-search").await;

    // Filtered to failed spans: the failed call and the path to it (drawn as context), nothing else.
    let filter = c.find(Locator::Id("tree-filter")).await.expect("filter");
    filter.select_by_value("error").await.expect("filter to failures");
    let rows = "//div[@id='trace-tree']//div[contains(@class,'tree-row')]//a[contains(@class,'node-link')]";
    let mut names = Vec::new();
    for _ in 0..200 {
        names.clear();
        for row in c.find_all(Locator::XPath(rows)).await.expect("rows") {
            names.push(row.text().await.expect("text"));
        }
        if names.last().is_some_and(|n| n == "broken-tool") && !names.iter().any(|n| n.starts_with("fetch_page")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(names.last().map(String::as_str), Some("broken-tool"), "{names:?}");
    assert!(names.len() <= 4 && !names.iter().any(|n| n.starts_with("fetch_page")), "only the path: {names:?}");
    let context = c
        .find_all(Locator::XPath(
            "//div[@id='trace-tree']//div[contains(@class,'tree-row') and contains(@class,'context')]",
        ))
        .await
        .expect("context rows");
    assert_eq!(context.len(), names.len() - 1, "every row above the failure is its path");
    shot(c, "11-big-run-failures-only").await;
}

/// Two servers on one Postgres database, as replicas behind a load balancer: the browser is on
/// one, the agent sends to the other, and the open pages follow what it sends without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_gains_spans_sent_to_another_server_on_the_same_postgres() {
    let db = northstar_test_support::PgDatabase::create().await;
    let url = db.url.clone();
    let browser = Browser::start_on(Some(&url)).await;
    let data = tempfile::tempdir().expect("data dir");
    let (_other_server, other) = spawn_server(Some(&url), data.path());
    let t = fixtures::Trace::new();
    browser.ingest(&t.body()).await;
    let (c, base) = (browser.client.clone(), browser.base.clone());
    browser.run("live", live_checks(&c, &base, &other, &t)).await;
}

async fn live_checks(c: &Client, base: &str, other: &str, t: &fixtures::Trace) {
    let project_href = login(c, base).await;
    c.goto(&format!("{base}{project_href}/runs/{}", t.run)).await.expect("open run");
    wait_for(c, "//span[@id='hydrated' and @data-state='hydrated']").await;
    wait_for(c, "//div[@id='trace-tree']//a[text()='step']").await;
    wait_for(c, "//button[@id='live-toggle' and @aria-pressed='true']").await;

    // The agent goes on: a new span, sent to the other server, appears in the open tree, and
    // the run's end changes its status.
    let late = fixtures::id();
    let mut span = fixtures::span(&late, &t.run, Some(&t.span));
    span["name"] = json!("late-span");
    ingest(other, &fixtures::batch(json!({"spans": [span]}))).await;
    wait_for(c, "//div[@id='trace-tree']//a[text()='late-span']").await;
    let mut run = fixtures::run(&t.run, &t.session);
    run["status"] = json!("error");
    run["ended_at"] = json!(fixtures::T1);
    ingest(other, &fixtures::batch(json!({"runs": [run]}))).await;
    wait_for(c, "//header[@class='page-head']//span[contains(@class,'status-error')]").await;
    shot(c, "11-live-run").await;

    // The runs list shows a new run as it arrives; paused, it stays as it is.
    c.goto(&format!("{base}{project_href}/runs")).await.expect("open runs");
    wait_for(c, "//span[@id='hydrated' and @data-state='hydrated']").await;
    wait_for(c, &format!("//table[@id='runs']//a[contains(@href, '{}')]", t.run)).await;
    let (session, fresh) = (fixtures::id(), fixtures::id());
    let mut new_run = fixtures::run(&fresh, &session);
    new_run["name"] = json!("fresh-run");
    ingest(other, &fixtures::batch(json!({"sessions": [fixtures::session(&session)], "runs": [new_run]}))).await;
    wait_for(c, "//table[@id='runs']//a[text()='fresh-run']").await;

    c.find(Locator::Id("live-toggle")).await.expect("live toggle").click().await.expect("pause");
    wait_for(c, "//button[@id='live-toggle' and @aria-pressed='false']").await;
    let (session, paused) = (fixtures::id(), fixtures::id());
    let mut paused_run = fixtures::run(&paused, &session);
    paused_run["name"] = json!("while-paused");
    ingest(other, &fixtures::batch(json!({"sessions": [fixtures::session(&session)], "runs": [paused_run]}))).await;
    // Resuming reads again: the run sent while paused appears then.
    c.find(Locator::Id("live-toggle")).await.expect("live toggle").click().await.expect("resume");
    wait_for(c, "//table[@id='runs']//a[text()='while-paused']").await;
    shot(c, "12-live-runs").await;
}
