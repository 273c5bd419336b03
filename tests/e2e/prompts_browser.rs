//! The prompt registry in a real browser, as a person uses it: create a prompt, write two
//! versions, move `prod` (refused without a change note), read the label history, diff the two
//! versions both ways, then see a version's runs (an agent's run linked through the batch
//! contract) and, on the run page, which version its model call used with its variables.

use fantoccini::{Client, Locator};
use northstar_test_support::fixtures::{self, agent_trace};
use serde_json::{Value, json};

use super::chromium::{Browser, KEY, ingest, login, shot, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_is_created_versioned_labelled_diffed_and_its_runs_compared() {
    let browser = Browser::start().await;
    let (c, base) = (browser.client.clone(), browser.base.clone());
    browser.run("prompts", checks(&c, &base)).await;
}

async fn type_into(c: &Client, id: &str, text: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap_or_else(|e| panic!("#{id}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

async fn click(c: &Client, xpath: &str) {
    wait_for(c, xpath).await.click().await.unwrap_or_else(|e| panic!("click {xpath}: {e}"));
}

async fn checks(c: &Client, base: &str) {
    let project_href = login(c, base).await;
    click(c, "//nav//a[text()='Prompts']").await;
    wait_for(c, "//p[@id='no-prompts']").await;
    type_into(c, "prompt-name", "Support answer").await;
    type_into(c, "prompt-slug", "support-answer").await;
    type_into(c, "prompt-description", "What the agent tells customers").await;
    click(c, "//button[@id='create-prompt']").await;
    click(c, "//table[@id='prompts']//a[text()='Support answer']").await;
    wait_for(c, "//h1[text()='Support answer']").await;
    wait_for(c, "//span[@id='hydrated' and @data-state='hydrated']").await;

    // Two versions; the form starts from the current one.
    type_into(c, "version-content", "Answer {{ question }} politely.").await;
    type_into(c, "version-model", "gpt-4o-mini").await;
    type_into(c, "version-note", "first draft").await;
    click(c, "//button[@id='add-version']").await;
    wait_for(c, "//tr[@data-version='1']").await;
    let content = c.find(Locator::Id("version-content")).await.expect("content").prop("value").await.expect("value");
    assert_eq!(
        content.as_deref(),
        Some("Answer {{ question }} politely."),
        "a new version starts from the current one"
    );
    type_into(c, "version-content", "Answer {{ question }} briefly.\nSign as {agent}.").await;
    type_into(c, "version-note", "shorter").await;
    click(c, "//button[@id='add-version']").await;
    wait_for(c, "//tr[@data-version='2']").await;

    // prod needs a change note; then it moves, and the move is in the history.
    type_into(c, "label-name", "prod").await;
    click(c, "//select[@id='label-version']/option[text()='v1']").await;
    click(c, "//button[@id='move-label']").await;
    wait_for(c, "//section[@id='set-label']//*[contains(., 'change_note is required for prod labels')]").await;
    assert!(
        c.find(Locator::XPath("//section[@id='label-history']//tr[contains(@class,'label-move')]")).await.is_err(),
        "a refused move is not recorded"
    );
    type_into(c, "label-name", "prod").await;
    click(c, "//select[@id='label-version']/option[text()='v1']").await;
    type_into(c, "label-note", "first ship").await;
    click(c, "//button[@id='move-label']").await;
    let moved = wait_for(c, "//section[@id='label-history']//tr[contains(@class,'label-move')]").await;
    let moved = moved.text().await.expect("text");
    assert!(moved.contains("prod") && moved.contains("v1") && moved.contains("first ship"), "{moved}");
    wait_for(c, "//header//span[@data-label='prod' and text()='prod → v1']").await;
    shot(c, "prompts-1-versions").await;

    // The diff: the newest against the one before, then the other way round.
    wait_for(c, "//pre[@id='diff-lines']/div[contains(@class,'diff-del') and contains(., 'politely')]").await;
    wait_for(c, "//pre[@id='diff-lines']/div[contains(@class,'diff-add') and contains(., 'briefly')]").await;
    wait_for(c, "//pre[@id='diff-lines']/div[contains(@class,'diff-add') and contains(., 'Sign as {agent}.')]").await;
    click(c, "//select[@id='diff-from']/option[text()='v2']").await;
    click(c, "//select[@id='diff-to']/option[text()='v1']").await;
    wait_for(c, "//pre[@id='diff-lines']/div[contains(@class,'diff-del') and contains(., 'briefly')]").await;
    wait_for(c, "//pre[@id='diff-lines']/div[contains(@class,'diff-add') and contains(., 'politely')]").await;
    shot(c, "prompts-2-diff").await;

    // An agent resolves prod (what an SDK does) and its model call is linked to that version.
    let http = reqwest::Client::new();
    let resolved: Value = http
        .post(format!("{base}/functions/v1/prompts/resolve"))
        .bearer_auth(KEY)
        .json(&json!({"name": "support-answer", "slug": "support-answer", "label": "prod", "version": null}))
        .send()
        .await
        .expect("resolve")
        .json()
        .await
        .expect("json");
    let version = resolved["prompt_version"]["id"].as_str().expect("a version id").to_owned();
    assert_eq!(resolved["prompt_version"]["version_number"], 1, "{resolved}");
    let (trace, mut body): (fixtures::AgentTrace, Value) = agent_trace();
    body["prompt_links"] = json!([{"trace_id": trace.run, "span_id": trace.model, "prompt_version_id": version,
                                   "variable_values": {"question": "How do refunds work?"}}]);
    ingest(base, &body).await;

    // The version's page lists the run with its figures; the prompt page compares versions.
    c.refresh().await.expect("reload");
    let runs = wait_for(c, "//tr[@data-version='1']/td[contains(@class,'runs')]").await;
    assert_eq!(runs.text().await.expect("text"), "1");
    click(c, "//tr[@data-version='1']//a[text()='v1']").await;
    let run = wait_for(c, "//table[@id='runs']//a[text()='support-agent']").await;
    // (Labels are upper-cased by the stylesheet.)
    let figures = c.find(Locator::Id("version-figures")).await.expect("figures").text().await.expect("text");
    let figures = figures.to_lowercase();
    assert!(figures.contains("runs\n1\n") && figures.contains("$0.0123") && figures.contains("0.0%"), "{figures}");
    shot(c, "prompts-3-version-runs").await;

    // The run page says which version its model call used, with the variables.
    run.click().await.expect("open run");
    let used = wait_for(c, "//section[@id='prompt-uses']//tr[contains(@class,'prompt-use')]").await;
    let used = used.text().await.expect("text");
    assert!(used.contains("llm.answer") && used.contains("Support answer v1") && used.contains("prod"), "{used}");
    assert!(used.contains("question") && used.contains("How do refunds work?"), "{used}");
    assert!(c.current_url().await.expect("url").as_str().starts_with(&format!("{base}{project_href}/runs/")));
    shot(c, "prompts-4-run").await;
}
