//! A real browser for the tests and the benchmarks: Debian's Chromium driven over WebDriver
//! (`chromedriver`), against the real server binary on a fresh embedded store. Screenshots go to
//! `target/tmp/dashboard-screenshots/` for people to look at.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::json;

pub const BIN: &str = env!("CARGO_BIN_EXE_e2e-server");
pub const KEY: &str = "ns_browser_test_key_0000000000000000";
pub const ADMIN: &str = "admin@example.com";
pub const PASSWORD: &str = "browser test password";

/// A child process killed (and reaped) on drop, even when an assertion fails.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

pub fn wait_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on {port}");
        assert!(child.try_wait().expect("wait").is_none(), "{what} exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn chromedriver() -> PathBuf {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("chromedriver not found: apt-get install chromium chromium-driver (.ci/run does)")
}

pub fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

pub async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
}

pub async fn wait_for(c: &Client, xpath: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("waiting for {xpath}: {e}"))
}

/// The real server on a fresh embedded store and a headless Chromium driving it; both are
/// killed on drop.
pub struct Browser {
    pub client: Client,
    pub base: String,
    _server: Kill,
    _driver: Kill,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// A server process on `database_url` (`None`: a fresh embedded store in `data`), with the
/// browser tests' API key and admin; its base URL.
pub fn spawn_server(database_url: Option<&str>, data: &std::path::Path) -> (Kill, String) {
    let port = free_port();
    let mut server = Command::new(BIN);
    match database_url {
        Some(url) => server.env("DATABASE_URL", url),
        None => server.env_remove("DATABASE_URL"),
    };
    server
        .env("NORTHSTAR_DATA_DIR", data)
        .env("NORTHSTAR_BIND", format!("127.0.0.1:{port}"))
        .env("NORTHSTAR_BOOTSTRAP_API_KEY", KEY)
        .env("NORTHSTAR_ADMIN_EMAIL", ADMIN)
        .env("NORTHSTAR_ADMIN_PASSWORD", PASSWORD)
        // Quiet unless whoever runs the tests asks for more.
        .env("NORTHSTAR_LOG", std::env::var("NORTHSTAR_LOG").unwrap_or_else(|_| "warn".to_owned()))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let mut server = Kill(server.spawn().expect("spawn server"));
    wait_port(port, &mut server.0, "northstar-server");
    (server, format!("http://127.0.0.1:{port}"))
}

impl Browser {
    /// On a fresh embedded store.
    pub async fn start() -> Self {
        Self::start_on(None).await
    }

    /// On `database_url` (`None`: a fresh embedded store).
    pub async fn start_on(database_url: Option<&str>) -> Self {
        let data = tempfile::tempdir().expect("data dir");
        let (server, base) = spawn_server(database_url, data.path());

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
        Self { client, base, _server: server, _driver: driver, _dirs: (data, profile) }
    }

    /// Sends a batch through the ingest API, as an SDK would.
    pub async fn ingest(&self, body: &serde_json::Value) {
        ingest(&self.base, body).await;
    }

    /// Runs `checks`, closing the browser even when one fails (after a screenshot and the page's
    /// HTML named after `name`), then reports the failure.
    pub async fn run(self, name: &str, checks: impl std::future::Future<Output = ()>) {
        let outcome = std::panic::AssertUnwindSafe(checks).catch_unwind().await;
        if outcome.is_err() {
            let c = &self.client;
            let _ = std::panic::AssertUnwindSafe(shot(c, &format!("{name}-failure"))).catch_unwind().await;
            if let Ok(html) = c.source().await {
                let _ = std::fs::write(screenshots().join(format!("{name}-failure.html")), html);
            }
        }
        let _ = self.client.clone().close().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Sends a batch to the server at `base` through the ingest API, as an SDK would.
pub async fn ingest(base: &str, body: &serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/functions/v1/ingest-traces"))
        .bearer_auth(KEY)
        .body(body.to_string())
        .send()
        .await
        .expect("ingest");
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
}

/// Logs in and opens the first project; returns its path (`/p/<id>`).
pub async fn login(c: &Client, base: &str) -> String {
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
    project_href
}
