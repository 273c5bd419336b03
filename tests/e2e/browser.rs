//! The dashboard in a real browser: Debian's Chromium, driven over WebDriver
//! (`chromedriver`), against the real server binary on the embedded store, seeded through
//! the ingest API. Screenshots go to `target/tmp/dashboard-screenshots/` for people to look at.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use northstar_test_support::fixtures;
use northstar_test_support::fixtures::agent_trace;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_e2e-server");
const KEY: &str = "ns_browser_test_key_0000000000000000";
const ADMIN: &str = "admin@example.com";
const PASSWORD: &str = "browser test password";

/// A child process killed (and reaped) on drop, even when an assertion fails.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn wait_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on {port}");
        assert!(child.try_wait().expect("wait").is_none(), "{what} exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn chromedriver() -> PathBuf {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("chromedriver not found: apt-get install chromium chromium-driver (.ci/run does)")
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
}

async fn wait_for(c: &Client, xpath: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("waiting for {xpath}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_a_trace_and_score_it() {
    let data = tempfile::tempdir().expect("data dir");
    let port = free_port();
    let mut server = Command::new(BIN);
    server
        .env_remove("DATABASE_URL")
        .env("NORTHSTAR_DATA_DIR", data.path())
        .env("NORTHSTAR_BIND", format!("127.0.0.1:{port}"))
        .env("NORTHSTAR_BOOTSTRAP_API_KEY", KEY)
        .env("NORTHSTAR_ADMIN_EMAIL", ADMIN)
        .env("NORTHSTAR_ADMIN_PASSWORD", PASSWORD)
        .env("NORTHSTAR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let mut server = Kill(server.spawn().expect("spawn server"));
    wait_port(port, &mut server.0, "northstar-server");
    let base = format!("http://127.0.0.1:{port}");

    // Seed through the ingest API, as an SDK would.
    let (trace, body) = agent_trace();
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}/functions/v1/ingest-traces"))
        .bearer_auth(KEY)
        .body(body.to_string())
        .send()
        .await
        .expect("ingest");
    assert_eq!(response.status(), 200);

    let wd_port = free_port();
    let profile = tempfile::tempdir().expect("profile dir");
    let mut driver = Command::new(chromedriver());
    driver.arg(format!("--port={wd_port}")).stdout(Stdio::null()).stderr(Stdio::null());
    let mut driver = Kill(driver.spawn().expect("spawn chromedriver"));
    wait_port(wd_port, &mut driver.0, "chromedriver");

    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--window-size=1400,900",
            format!("--user-data-dir={}", profile.path().display()),
        ]}),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{wd_port}"))
        .await
        .expect("connect to chromedriver");
    // Close the browser even when a check fails, then report the failure.
    let outcome = std::panic::AssertUnwindSafe(checks(&client, &base, &trace)).catch_unwind().await;
    if outcome.is_err() {
        // What the browser showed when the check failed, for whoever reads the failure.
        let _ = std::panic::AssertUnwindSafe(shot(&client, "failure")).catch_unwind().await;
        if let Ok(html) = client.source().await {
            let _ = std::fs::write(screenshots().join("failure.html"), html);
        }
    }
    let _ = client.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn checks(c: &Client, base: &str, t: &fixtures::AgentTrace) {
    // Every page needs a login: the dashboard sends the browser to the login form first.
    c.goto(&format!("{base}/")).await.expect("open /");
    wait_for(c, "//form[@action='/login']").await;
    c.find(Locator::Css("input[name='email']")).await.expect("email").send_keys(ADMIN).await.expect("type");
    c.find(Locator::Css("input[name='password']")).await.expect("password").send_keys(PASSWORD).await.expect("type");
    shot(c, "0-login").await;
    c.find(Locator::Id("login")).await.expect("log in").click().await.expect("click");
    let project = wait_for(c, "//table//a[starts-with(@href, '/p/')]").await;
    let project_href = project.attr("href").await.expect("href").expect("project link");
    project.click().await.expect("open project");
    wait_for(c, "//h1[text()='Overview']").await;
    wait_for(c, "//span[@id='hydrated' and @data-state='hydrated']").await;
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
    c.goto(&format!("{base}{project_href}/runs/{}?node={}", t.run, t.model)).await.expect("reload run");
    wait_for(c, "//span[@id='hydrated' and @data-state='hydrated']").await;
    let theme = c.execute("return document.documentElement.dataset.theme", vec![]).await.expect("js");
    assert_eq!(theme, json!("dark"));
    shot(c, "7-run-dark").await;

    // Logging out ends the session: the dashboard asks for a login again.
    c.find(Locator::Id("logout")).await.expect("logout").click().await.expect("click");
    wait_for(c, "//form[@action='/login']").await;
    c.goto(&format!("{base}{project_href}/sessions")).await.expect("open sessions");
    wait_for(c, "//form[@action='/login']").await;
}
