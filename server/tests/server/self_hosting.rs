//! The self-hosting files, checked without a Docker engine (CI machines have none):
//! docker-compose.yml's services, ports, environment, healthchecks and volumes are as
//! documented; every variable it needs is in .env.example; the Dockerfile's stages copy every
//! workspace member and run as a non-root user; and the server, started from the image's file
//! system alone (`scripts/runtime-rootfs`, as the runtime stage has it) exactly as compose
//! starts it (its command and environment, with .env.example's values), serves ingest and the
//! dashboard.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::PgDatabase;
use crate::common::fixtures::agent_trace;
use serde_norway::Value;

const BIN: &str = env!("CARGO_BIN_EXE_northstar-server");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

fn compose() -> Value {
    serde_norway::from_str(&std::fs::read_to_string(root().join("docker-compose.yml")).expect("compose file"))
        .expect("docker-compose.yml is YAML")
}

/// `.env.example` as a map.
fn env_example() -> BTreeMap<String, String> {
    std::fs::read_to_string(root().join(".env.example"))
        .expect(".env.example")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("not KEY=value: {l}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR:?error}`.
fn interpolate(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closing brace") + start;
        let expr = &rest[start + 2..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr.split_once(":?").map_or(expr, |(n, _)| n), None),
        };
        match (env.get(name).filter(|v| !v.is_empty()), default) {
            (Some(v), _) => out.push_str(v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                assert!(!expr.contains(":?"), "{name} is required by compose but .env.example leaves it empty")
            }
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_sequence().expect("a list").iter().map(|x| x.as_str().expect("a string").to_owned()).collect()
}

#[test]
fn compose_file_is_the_documented_stack() {
    let c = compose();
    let services = c["services"].as_mapping().expect("services");
    assert_eq!(services.len(), 2);
    let pg = &c["services"]["postgres"];
    assert!(pg["image"].as_str().expect("image").starts_with("postgres:15"));
    assert_eq!(str_list(&pg["volumes"]), ["postgres-data:/var/lib/postgresql/data"]);
    assert!(c["volumes"].as_mapping().expect("volumes").contains_key("postgres-data"), "named volume declared");
    assert!(str_list(&pg["healthcheck"]["test"]).join(" ").contains("pg_isready"));

    let ns = &c["services"]["northstar"];
    assert_eq!(ns["build"].as_str(), Some("."));
    assert_eq!(ns["depends_on"]["postgres"]["condition"].as_str(), Some("service_healthy"), "waits for Postgres");
    assert_eq!(str_list(&ns["command"]), ["serve"]);
    assert_eq!(str_list(&ns["ports"]), ["${NORTHSTAR_PORT:-8080}:8080"]);
    assert_eq!(str_list(&ns["healthcheck"]["test"]), ["CMD", "northstar-server", "healthcheck"]);
    let env = ns["environment"].as_mapping().expect("environment");
    for key in [
        "DATABASE_URL",
        "NORTHSTAR_BIND",
        "NORTHSTAR_PUBLIC_URL",
        "NORTHSTAR_ADMIN_EMAIL",
        "NORTHSTAR_ADMIN_PASSWORD",
        "NORTHSTAR_JWT_SECRET",
        "NORTHSTAR_BOOTSTRAP_API_KEY",
    ] {
        assert!(env.contains_key(key), "{key} is configured");
    }
    assert_eq!(
        ns["environment"]["DATABASE_URL"].as_str(),
        Some("postgres://northstar:${POSTGRES_PASSWORD}@postgres:5432/northstar")
    );

    // Every variable compose reads is documented in .env.example.
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).expect("compose");
    let example = env_example();
    for var in text.split("${").skip(1).map(|s| s.split(['}', ':']).next().expect("name")) {
        assert!(example.contains_key(var), "{var} is used by docker-compose.yml but not in .env.example");
    }
}

#[test]
fn dockerfile_stages_copy_files_that_exist() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    assert!(stages[0].ends_with(" AS build") && stages[1] == "FROM scratch AS runtime");
    for line in text.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from=")) {
        let parts: Vec<&str> = line.split_whitespace().skip(1).collect();
        for source in &parts[..parts.len() - 1] {
            assert!(root().join(source).exists(), "COPY {source}: no such file in the repository");
        }
    }
    // Cargo loads every member's manifest, even to build one package.
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let members = manifest.lines().find_map(|l| l.strip_prefix("members = [")).expect("a members line");
    for member in members.split('"').skip(1).step_by(2).chain(["migrations"]) {
        let top = member.split('/').next().expect("a directory");
        assert!(text.contains(&format!("COPY {top} {top}")), "{member} is copied into the build");
    }
    assert!(text.contains("scripts/runtime-rootfs target/dist/northstar-server /out"));
    assert!(text.contains("COPY --from=build /out /"));
    let user = text.lines().find(|l| l.starts_with("USER ")).expect("a USER line");
    assert!(!user.contains("root") && !user.contains(" 0"), "runs as a non-root user: {user}");
    assert!(text.contains("HEALTHCHECK") && text.contains("EXPOSE 8080"));
    assert!(text.contains("cargo build --profile dist --locked -p northstar-server"));
}

/// The runtime stage's `ENV` block.
fn dockerfile_env() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let block = text.split("\nENV ").nth(1).expect("an ENV line");
    let mut env = BTreeMap::new();
    for line in block.lines() {
        let pair = line.trim().trim_end_matches('\\').trim();
        let (key, value) = pair.split_once('=').expect("KEY=value");
        env.insert(key.to_owned(), value.to_owned());
        if !line.ends_with('\\') {
            break;
        }
    }
    env
}

/// The image's whole file system, made by the script its build stage runs, with the server
/// binary under test, and the `/etc/hosts` a container gets: the compose network's `postgres`
/// names the database this test uses.
fn image_root(database_ip: std::net::IpAddr) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let status =
        Command::new(root().join("scripts/runtime-rootfs")).arg(BIN).arg(dir.path()).status().expect("runtime-rootfs");
    assert!(status.success(), "scripts/runtime-rootfs failed");
    std::fs::write(dir.path().join("etc/hosts"), format!("127.0.0.1 localhost\n{database_ip} postgres\n"))
        .expect("hosts");
    dir
}

/// A command run inside the image's file system and nothing else (`unshare --root`, in a user
/// namespace so that no privilege is needed), with the image's environment and no other.
fn in_image(image: &std::path::Path, args: &[String], env: &BTreeMap<String, String>) -> Command {
    // Looked up on the test's PATH: the command's own environment is the image's.
    let unshare = std::env::split_paths(&std::env::var_os("PATH").expect("PATH"))
        .map(|dir| dir.join("unshare"))
        .find(|path| path.is_file())
        .expect("unshare (util-linux) on PATH");
    let mut cmd = Command::new(unshare);
    cmd.arg("--map-root-user")
        .arg("--root")
        .arg(image)
        .arg("/usr/local/bin/northstar-server")
        .args(args)
        .env_clear()
        .envs(dockerfile_env())
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The northstar service's command and environment, as compose would run them with
/// .env.example as `.env`; only the database host (the compose network's `postgres`) and the
/// port are pointed at this machine.
fn service_as_compose_runs_it(database_url: &str, port: u16) -> (Vec<String>, BTreeMap<String, String>) {
    let c = compose();
    let example = env_example();
    let ns = &c["services"]["northstar"];
    let mut env: BTreeMap<String, String> = ns["environment"]
        .as_mapping()
        .expect("environment")
        .iter()
        .map(|(k, v)| (k.as_str().expect("key").to_owned(), interpolate(v.as_str().expect("value"), &example)))
        .collect();
    assert!(env["DATABASE_URL"].starts_with("postgres://northstar:change-me-postgres@postgres:5432/"));
    env.insert("DATABASE_URL".into(), database_url.to_owned());
    assert_eq!(env["NORTHSTAR_BIND"], "0.0.0.0:8080");
    env.insert("NORTHSTAR_BIND".into(), format!("127.0.0.1:{port}"));
    (str_list(&ns["command"]), env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_runs_as_compose_starts_it() {
    let db = PgDatabase::create().await;
    // The database as the compose network names it.
    let mut url = reqwest::Url::parse(&db.url).expect("database URL");
    let host = url.host_str().expect("a host").to_owned();
    let ip =
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 5432)).expect("resolve").next().expect("an address");
    url.set_host(Some("postgres")).expect("host");
    let image = image_root(ip.ip());
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let (command, env) = service_as_compose_runs_it(url.as_str(), port);
    let mut server = Kill(in_image(image.path(), &command, &env).spawn().expect("spawn"));

    // Compose's healthcheck, with the service's environment, turns healthy.
    let compose = compose();
    let check = str_list(&compose["services"]["northstar"]["healthcheck"]["test"]);
    assert_eq!(check[1], "northstar-server", "the image's PATH finds the binary");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if in_image(image.path(), &check[2..], &env).status().expect("healthcheck").success() {
            break;
        }
        assert!(server.0.try_wait().expect("wait").is_none(), "the server exited");
        assert!(Instant::now() < deadline, "the healthcheck never passed");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());

    // Point the SDK's contract at it: ingest with the bootstrap key from .env.example.
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let (trace, body) = agent_trace();
    let response = http
        .post(format!("{base}/functions/v1/ingest-traces"))
        .bearer_auth(&env["NORTHSTAR_BOOTSTRAP_API_KEY"])
        .body(body.to_string())
        .send()
        .await
        .expect("ingest");
    assert_eq!(response.status(), 200);

    // Browse it: log in as the admin from .env.example, find the trace.
    let login = http
        .post(format!("{base}/login"))
        .form(&[
            ("email", env["NORTHSTAR_ADMIN_EMAIL"].as_str()),
            ("password", env["NORTHSTAR_ADMIN_PASSWORD"].as_str()),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let home =
        http.get(format!("{base}/")).header("cookie", &cookie).send().await.expect("home").text().await.expect("html");
    let project =
        home.split("href=\"/p/").nth(1).and_then(|r| r.get(..36)).expect("the default project's link").to_owned();
    let sessions = http
        .get(format!("{base}/p/{project}/sessions"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("sessions")
        .text()
        .await
        .expect("html");
    assert!(sessions.contains(&trace.session[..8]), "the ingested session is listed");
    // The public URL from .env.example is what the dashboard tells SDKs to use.
    let settings =
        http.get(format!("{base}/p/{project}/settings")).header("cookie", &cookie).send().await.expect("settings");
    assert!(settings.text().await.expect("html").contains("http://localhost:8080/functions/v1/ingest-traces"));
}
