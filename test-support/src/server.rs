//! The real server on a free port of 127.0.0.1 (feature `server`).

use std::time::Duration;

pub use northstar_server::AppState;
use northstar_server::{INGEST_PATH, keys};
use northstar_store::{AnyStore, Store};
use serde_json::Value;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::{Backend, StoreGuard, store};

pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;
/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery staple";

/// The real server on a free port, with one project and its key.
#[derive(Debug)]
pub struct TestServer {
    pub base: String,
    pub key: String,
    pub project: Uuid,
    pub store: AnyStore,
    pub client: reqwest::Client,
    pub backend: Backend,
    task: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _guard: StoreGuard,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with_limit(backend, DEFAULT_MAX_BODY).await
    }

    pub async fn start_with_limit(backend: Backend, max_body_bytes: usize) -> Self {
        Self::start_with(backend, |state| AppState { max_body_bytes, ..state }).await
    }

    /// A server whose state `configure` adjusts (rate limits, auth, …).
    pub async fn start_with(backend: Backend, configure: impl FnOnce(AppState) -> AppState) -> Self {
        // NORTHSTAR_TEST_LOG=debug (an EnvFilter) shows the servers' logs, for a failure to explain.
        if let Ok(filter) = std::env::var("NORTHSTAR_TEST_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
        }
        let (store, guard) = store(backend).await;
        let key = keys::mint();
        let project = store.create_project("test", &keys::hash(&key)).await.expect("project").id;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = configure(AppState::new(store.clone(), DEFAULT_MAX_BODY));
        let task = tokio::spawn(async move {
            northstar_server::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .expect("server");
        });
        // No redirects followed: tests look at the login flow's redirects themselves.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self { base, key, project, store, client, backend, task, stop: Some(stop), _guard: guard }
    }

    /// The URL of this server's database, for tests that must break it on purpose.
    pub fn database_url(&self) -> String {
        self._guard.url()
    }

    pub fn ingest_url(&self) -> String {
        format!("{}{INGEST_PATH}", self.base)
    }

    /// Creates another project, returning its id and key.
    pub async fn other_project(&self) -> (Uuid, String) {
        let key = keys::mint();
        let id = self.store.create_project("other", &keys::hash(&key)).await.expect("project").id;
        (id, key)
    }

    /// Creates a dashboard user with password [`PASSWORD`]; a server admin sees every project.
    pub async fn user(&self, email: &str, admin: bool) -> Uuid {
        let hash = northstar_server::auth::hash_password(PASSWORD).expect("hash");
        self.store.create_user(email, &hash, admin).await.expect("user").id
    }

    /// Logs in through the login form; the `Cookie` header value to send afterwards, or
    /// `None` when the login is refused.
    pub async fn login(&self, email: &str, password: &str) -> Option<String> {
        let response = self
            .client
            .post(format!("{}/login", self.base))
            .form(&[("email", email), ("password", password), ("next", "/")])
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), 303, "login answers with a redirect");
        let cookie = response.headers().get("set-cookie")?.to_str().expect("cookie").to_owned();
        Some(cookie.split(';').next().expect("name=value").to_owned())
    }

    /// A server admin, logged in: the `Cookie` header value.
    pub async fn admin_cookie(&self) -> String {
        let email = format!("admin-{}@example.com", Uuid::new_v4().simple());
        self.user(&email, true).await;
        self.login(&email, PASSWORD).await.expect("admin login")
    }

    /// GET `path` with `cookie`; the status and the body.
    pub async fn get_as(&self, cookie: &str, path: &str) -> (u16, String) {
        let response =
            self.client.get(format!("{}{path}", self.base)).header("cookie", cookie).send().await.expect("request");
        (response.status().as_u16(), response.text().await.expect("body"))
    }

    /// Calls the dashboard's server function `function` as the page's forms do (form-encoded,
    /// with `cookie`, and an `Origin` header when given); the status and the body.
    pub async fn server_fn(
        &self,
        cookie: &str,
        function: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (u16, String) {
        let url = format!("{}/api/dashboard/{function}", self.base);
        let mut request = self.client.post(url).header("cookie", cookie).form(form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.expect("request");
        (response.status().as_u16(), response.text().await.expect("body"))
    }

    /// POSTs `body` with this server's key; returns the status and the JSON body.
    pub async fn post(&self, body: &Value) -> (u16, Value) {
        self.post_with_key(&self.key, body).await
    }

    pub async fn post_with_key(&self, key: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.ingest_url())
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// POSTs raw bytes with the given extra headers.
    pub async fn post_raw(&self, headers: &[(&str, &str)], body: Vec<u8>) -> reqwest::Response {
        let mut request = self.client.post(self.ingest_url()).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request")
    }

    /// Asserts a 400 whose error is `message`.
    pub async fn rejects(&self, body: &Value, message: &str) {
        let (status, json) = self.post(body).await;
        assert_eq!((status, json), (400, serde_json::json!({ "error": message })), "for body {body}");
    }

    /// Asserts 200 `{"accepted": true}`.
    pub async fn accepts(&self, body: &Value) {
        let (status, json) = self.post(body).await;
        assert_eq!((status, json), (200, serde_json::json!({"accepted": true})), "for body {body}");
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
    (status, json)
}

/// Runs `$case` against a fresh server on each store: one `postgres` and one `sqlite` test.
/// `start = f;` first starts each server with `f(backend)` instead of `TestServer::start`.
#[macro_export]
macro_rules! on_both_stores {
    (start = $start:path; $($case:ident),* $(,)?) => {$(
        mod $case {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let server = $start(Backend::Postgres).await;
                super::$case(&server).await;
                server.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = $start(Backend::Sqlite).await;
                super::$case(&server).await;
                server.stop().await;
            }
        }
    )*};
    ($($case:ident),* $(,)?) => {
        $crate::on_both_stores!(start = TestServer::start; $($case),*);
    };
}
