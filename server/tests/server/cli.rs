//! The admin CLI and first start, driven as a user would: the real binary as a child process,
//! configured through the documented environment variables, against both stores. Keys minted
//! by the CLI are checked over HTTP against a running `serve` on the same database.

use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::fixtures::Trace;
use crate::common::{Backend, PgDatabase};

const BIN: &str = env!("CARGO_BIN_EXE_northstar-server");

/// Where a test's database lives, as the environment a user would set.
enum Db {
    Postgres(PgDatabase),
    Sqlite(tempfile::TempDir),
}

impl Db {
    async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Postgres => Db::Postgres(PgDatabase::create().await),
            Backend::Sqlite => Db::Sqlite(tempfile::tempdir().expect("temp dir")),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_remove("DATABASE_URL")
            .env_remove("NORTHSTAR_BOOTSTRAP_API_KEY")
            .env_remove("NORTHSTAR_ADMIN_EMAIL")
            .env_remove("NORTHSTAR_ADMIN_PASSWORD")
            .env_remove("NORTHSTAR_USER_PASSWORD")
            .env("NORTHSTAR_LOG", "warn");
        match self {
            Db::Postgres(db) => cmd.env("DATABASE_URL", &db.url),
            Db::Sqlite(dir) => cmd.env("NORTHSTAR_DATA_DIR", dir.path()),
        };
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run northstar-server")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8(out.stderr).expect("utf-8")
    }
}

/// A running `serve`, killed on drop.
struct Server {
    child: Child,
    url: String,
    port: u16,
}

impl Server {
    fn start(db: &Db, env: &[(&str, &str)]) -> (Self, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let mut cmd = db.command();
        cmd.arg("serve")
            .env("NORTHSTAR_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn serve");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            assert!(child.try_wait().expect("wait").is_none(), "server exited early");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Everything printed before listening: the bootstrap lines, if any.
        let stdout = child.stdout.take().expect("stdout");
        let banner = read_until_listening(stdout);
        (Self { child, url: format!("http://127.0.0.1:{port}/functions/v1/ingest-traces"), port }, banner)
    }

    async fn status_with(&self, key: &str) -> u16 {
        reqwest::Client::new()
            .post(&self.url)
            .bearer_auth(key)
            .body(Trace::new().body().to_string())
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }
}

impl Server {
    /// Whether the dashboard's login form accepts these credentials.
    async fn login(&self, email: &str, password: &str) -> bool {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let response = client
            .post(format!("http://127.0.0.1:{}/login", self.port))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .expect("login");
        response.headers().contains_key("set-cookie")
    }
}

fn read_until_listening(stdout: std::process::ChildStdout) -> String {
    use std::io::BufRead;
    let mut banner = String::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("NorthStar listening") {
            break;
        }
    }
    banner
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn field(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {label:?} in {output}"))
}

async fn project_and_key_lifecycle(backend: Backend) {
    let db = Db::new(backend).await;
    assert!(db.ok(&["migrate"]).contains("migrations applied"));

    let created = db.ok(&["project", "create", "--name", "acme"]);
    let project = field(&created, "project id:");
    let key = field(&created, "API key:");
    assert!(key.starts_with("ns_") && key.len() == 35, "{key}");
    let list = db.ok(&["project", "list"]);
    assert!(list.lines().any(|l| l.starts_with(&project) && l.contains("acme") && l.contains("active")), "{list}");

    // An existing project means no default project on start.
    let (server, banner) = Server::start(&db, &[]);
    assert!(!banner.contains("Created the default project"), "{banner}");
    assert_eq!(server.status_with(&key).await, 200);

    let rotated = db.ok(&["key", "rotate", "--project", &project]);
    let new_key = field(&rotated, "API key:");
    assert_ne!(new_key, key);
    assert_eq!(server.status_with(&key).await, 401, "the old key stops working at once");
    assert_eq!(server.status_with(&new_key).await, 200);

    assert!(db.ok(&["key", "revoke", "--project", &project]).contains("revoked"));
    assert_eq!(server.status_with(&new_key).await, 401);
    assert!(db.ok(&["key", "revoke", "--project", &project]).contains("already revoked"));
    assert!(db.ok(&["project", "list"]).contains("revoked"));

    let again = field(&db.ok(&["key", "rotate", "--project", &project]), "API key:");
    assert_eq!(server.status_with(&again).await, 200, "rotation after revocation issues a working key");

    // Named keys: a read key reads the API, cannot ingest; listed without the key; revoked.
    let created = db.ok(&["key", "create", "--project", &project, "--name", "eval scripts", "--scope", "read"]);
    let (read_id, read_key) = (field(&created, "key id:"), field(&created, "API key:"));
    assert!(created.contains("scope:      read"), "{created}");
    assert_eq!(server.status_with(&read_key).await, 401, "a read key does not ingest");
    let api = |key: String| {
        let url = format!("http://127.0.0.1:{}/api/v1/runs", server.port);
        async move { reqwest::Client::new().get(url).bearer_auth(key).send().await.expect("get").status().as_u16() }
    };
    assert_eq!(api(read_key.clone()).await, 200);
    assert_eq!(api(again.clone()).await, 403, "the project key only ingests");
    let ingest =
        field(&db.ok(&["key", "create", "--project", &project, "--name", "staging", "--scope", "ingest"]), "API key:");
    assert_eq!(server.status_with(&ingest).await, 200, "a named ingest key sends traces");
    let list = db.ok(&["key", "list", "--project", &project]);
    assert!(!list.contains(&read_key) && !list.contains(&ingest), "never the keys: {list}");
    assert!(
        list.lines().any(|l| l.starts_with(&read_id) && l.contains("eval scripts") && l.contains("read")),
        "{list}"
    );
    assert!(list.contains("Project key") && list.contains("staging"), "{list}");
    assert!(db.ok(&["key", "revoke", "--project", &project, "--key", &read_id]).contains("revoked key"));
    assert_eq!(api(read_key).await, 401);
    assert!(db.ok(&["key", "revoke", "--project", &project, "--key", &read_id]).contains("already revoked"));
    assert!(
        db.fails(&["key", "create", "--project", &project, "--name", "x", "--scope", "admin"])
            .contains("invalid value")
    );
    assert!(db.fails(&["key", "create", "--project", &project, "--name", " ", "--scope", "read"]).contains("name"));
    assert!(db.fails(&["key", "revoke", "--project", &project, "--key", &stranger_id()]).contains("has no key"));

    assert!(db.fails(&["project", "create", "--name", "   "]).contains("project name must not be empty"));
    let stranger = uuid::Uuid::new_v4().to_string();
    assert!(db.fails(&["key", "rotate", "--project", &stranger]).contains("no project with id"));
    assert!(db.fails(&["key", "revoke", "--project", &stranger]).contains("no project with id"));
    assert!(db.fails(&["key", "rotate", "--project", "not-a-uuid"]).contains("invalid value"));
}

fn stranger_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn first_start_creates_the_default_project(backend: Backend) {
    // Operator-chosen key.
    let db = Db::new(backend).await;
    let (server, banner) = Server::start(&db, &[("NORTHSTAR_BOOTSTRAP_API_KEY", "ns_compose_bootstrap_key")]);
    assert!(banner.contains("Created the default project"), "{banner}");
    assert!(!banner.contains("ns_compose_bootstrap_key"), "an operator's key is not echoed");
    assert_eq!(server.status_with("ns_compose_bootstrap_key").await, 200);
    drop(server);
    let (_server, banner) = Server::start(&db, &[("NORTHSTAR_BOOTSTRAP_API_KEY", "ns_compose_bootstrap_key")]);
    assert!(!banner.contains("Created"), "only on the first start: {banner}");
    assert_eq!(db.ok(&["project", "list"]).lines().count(), 2, "header and one project");

    // Generated key, printed once.
    let db = Db::new(backend).await;
    let (server, banner) = Server::start(&db, &[]);
    let key = field(&banner, "API key:");
    assert!(key.starts_with("ns_") && key.len() == 35, "{banner}");
    let project = field(&banner, "project id:");
    assert_eq!(server.status_with(&key).await, 200);
    assert!(db.ok(&["project", "list"]).contains(&project));
}

async fn users_and_the_first_admin(backend: Backend) {
    let db = Db::new(backend).await;
    // No admin configured: admin@localhost with a generated password, printed once.
    let (server, banner) = Server::start(&db, &[]);
    assert_eq!(field(&banner, "email:"), "admin@localhost", "{banner}");
    let password = field(&banner, "password:");
    assert!(server.login("admin@localhost", &password).await);
    assert!(!server.login("admin@localhost", "not it").await);
    let project = field(&banner, "project id:");

    // `healthcheck` asks the server on --bind's port.
    let bind = format!("127.0.0.1:{}", server.port);
    let ok = db.command().args(["healthcheck"]).env("NORTHSTAR_BIND", &bind).output().expect("healthcheck");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    drop(server);
    let down = db.command().args(["healthcheck"]).env("NORTHSTAR_BIND", &bind).output().expect("healthcheck");
    assert!(!down.status.success(), "nothing listens any more");
    let (server, banner) = Server::start(&db, &[]);
    assert!(!banner.contains("dashboard admin"), "only on the first start: {banner}");

    let out = db
        .command()
        .args(["user", "create", "--email", " Ana@Example.com ", "--admin"])
        .env("NORTHSTAR_USER_PASSWORD", "a long password")
        .output()
        .expect("user create");
    assert!(String::from_utf8_lossy(&out.stdout).contains("created server admin ana@example.com"));
    assert!(
        db.fails(&["user", "create", "--email", "ana@example.com", "--password", "another password"])
            .contains("already exists")
    );
    assert!(db.fails(&["user", "create", "--email", "bo@example.com", "--password", "short"]).contains("at least 8"));
    assert!(
        db.ok(&["user", "create", "--email", "bo@example.com", "--password", "bo's long password"])
            .contains("created user")
    );
    let added = db.ok(&["user", "add", "--email", "bo@example.com", "--project", &project, "--role", "admin"]);
    assert!(added.contains("bo@example.com is now admin of project"), "{added}");
    assert!(
        db.fails(&["user", "add", "--email", "nobody@example.com", "--project", &project])
            .contains("no user with email")
    );
    let stranger = uuid::Uuid::new_v4().to_string();
    assert!(
        db.fails(&["user", "add", "--email", "bo@example.com", "--project", &stranger]).contains("no project with id")
    );
    assert!(
        db.fails(&["user", "add", "--email", "bo@example.com", "--project", &project, "--role", "owner"])
            .contains("member or admin")
    );

    // A new password, and disabling: the running server sees both at the next login.
    assert!(server.login("bo@example.com", "bo's long password").await);
    let set = db.ok(&["user", "password", "--email", "bo@example.com", "--password", "bo's new password"]);
    assert!(set.contains("set the password of bo@example.com"), "{set}");
    assert!(!server.login("bo@example.com", "bo's long password").await);
    assert!(server.login("bo@example.com", "bo's new password").await);
    assert!(db.ok(&["user", "disable", "--email", "BO@example.com"]).contains("disabled bo@example.com"));
    assert!(!server.login("bo@example.com", "bo's new password").await, "a disabled user cannot log in");
    assert!(db.ok(&["user", "enable", "--email", "bo@example.com"]).contains("enabled bo@example.com"));
    assert!(server.login("bo@example.com", "bo's new password").await);
    assert!(db.fails(&["user", "disable", "--email", "nobody@example.com"]).contains("no user with email"));
    assert!(db.fails(&["user", "password", "--email", "bo@example.com", "--password", "short"]).contains("at least 8"));
}

#[tokio::test]
async fn users_and_the_first_admin_postgres() {
    users_and_the_first_admin(Backend::Postgres).await;
}

#[tokio::test]
async fn users_and_the_first_admin_sqlite() {
    users_and_the_first_admin(Backend::Sqlite).await;
}

#[tokio::test]
async fn project_and_key_lifecycle_postgres() {
    project_and_key_lifecycle(Backend::Postgres).await;
}

#[tokio::test]
async fn project_and_key_lifecycle_sqlite() {
    project_and_key_lifecycle(Backend::Sqlite).await;
}

#[tokio::test]
async fn first_start_creates_the_default_project_postgres() {
    first_start_creates_the_default_project(Backend::Postgres).await;
}

#[tokio::test]
async fn first_start_creates_the_default_project_sqlite() {
    first_start_creates_the_default_project(Backend::Sqlite).await;
}

#[test]
fn any_data_directory_path_works() {
    let dir = tempfile::tempdir().expect("temp dir");
    let odd = dir.path().join("My Data #1?x=y");
    let out = Command::new(BIN)
        .env_remove("DATABASE_URL")
        .env("NORTHSTAR_DATA_DIR", &odd)
        .arg("migrate")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(odd.join("northstar.db").is_file(), "the database is where the directory says");
}

#[test]
fn every_command_has_help_naming_its_environment_variables() {
    let top = Command::new(BIN).arg("--help").output().expect("help");
    let text = String::from_utf8(top.stdout).expect("utf-8");
    for var in [
        "NORTHSTAR_BIND",
        "NORTHSTAR_DATA_DIR",
        "DATABASE_URL",
        "NORTHSTAR_BOOTSTRAP_API_KEY",
        "NORTHSTAR_MAX_BODY_BYTES",
        "NORTHSTAR_LOG",
    ] {
        assert!(text.contains(var), "--help does not mention {var}:\n{text}");
    }
    for args in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["project", "--help"],
        &["project", "create", "--help"],
        &["project", "list", "--help"],
        &["key", "--help"],
        &["key", "rotate", "--help"],
        &["key", "revoke", "--help"],
    ] {
        let out = Command::new(BIN).args(args).output().expect("help");
        assert!(out.status.success() && !out.stdout.is_empty(), "{args:?}");
    }
    let bad = Command::new(BIN).env("DATABASE_URL", "mysql://x").arg("migrate").output().expect("run");
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
}
