//! Fault harness: nothing is lost and nothing is stored twice while the server is killed with
//! SIGKILL and restarted over and over, or while its Postgres restarts, as the SDK streams.
//! The server is the real binary as a child process; this test process is the SDK's user.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use northstar::{Client, EventType, Options};
use northstar_store::{AnyStore, Store};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_e2e-server");
const KEY: &str = "ns_fault_harness_key";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn wait_for_port(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().expect("wait").is_none(), "the server exited early");
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_server(port: u16, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env_remove("DATABASE_URL")
        .env("NORTHSTAR_BIND", format!("127.0.0.1:{port}"))
        .env("NORTHSTAR_BOOTSTRAP_API_KEY", KEY)
        .env("NORTHSTAR_LOG", "error")
        // Measured/stressed at full speed: no per-key rate limit.
        .env("NORTHSTAR_RATE_LIMIT_PER_SECOND", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().expect("spawn server");
    wait_for_port(port, &mut child);
    child
}

fn client(port: u16) -> Client {
    let options = Options::default()
        .endpoint(format!("http://127.0.0.1:{port}/functions/v1/ingest-traces"))
        .api_key(KEY)
        .enabled(true)
        .batch_size(500)
        .max_queue_size(200_000)
        .flush_interval(Duration::from_millis(50))
        .request_timeout(Duration::from_secs(2))
        .retry_base_delay(Duration::from_millis(20));
    Client::new(options).expect("client")
}

/// Records `runs` runs of `per_run` events each, paced so that delivery spans a few seconds.
fn stream(client: &Client, runs: usize, per_run: usize) -> Vec<uuid::Uuid> {
    let session = client.session();
    let mut ids = Vec::new();
    for _ in 0..runs {
        let mut run = session.run("stream");
        for i in 0..per_run {
            run.event(EventType::Custom, json!({"i": i}));
        }
        ids.push(run.id().expect("enabled"));
        run.end();
        std::thread::sleep(Duration::from_millis(25));
    }
    session.end();
    ids
}

fn flush_until_delivered(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !client.flush(Duration::from_secs(10)) {
        assert!(Instant::now() < deadline, "not delivered: {:?}", client.stats());
    }
}

/// Every run has exactly its events, each once: the `i` values are 0..per_run, no gap, no repeat.
async fn assert_exactly_once(store: &AnyStore, runs: &[uuid::Uuid], per_run: usize) {
    let projects = store.list_projects().await.expect("projects");
    let project = projects[0].id;
    let counts = store.count_records(project).await.expect("count");
    assert_eq!((counts.sessions, counts.runs, counts.events), (1, runs.len(), runs.len() * per_run));
    for run in runs {
        let stored = store.get_run(project, *run).await.expect("read").expect("the run");
        assert_eq!(stored.status, northstar_wire::Status::Ok, "the run's final state arrived");
        let mut seen: Vec<u64> = store
            .list_events(project, *run)
            .await
            .expect("events")
            .iter()
            .filter_map(|e| e.content["i"].as_u64())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..per_run as u64).collect::<Vec<_>>(), "run {run}");
    }
}

#[test]
fn sigkill_restarts_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().to_str().expect("utf-8 path").to_owned();
    let port = free_port();
    let env = [("NORTHSTAR_DATA_DIR", data_dir.as_str())];
    let mut server = start_server(port, &env);
    let client = client(port);

    let (runs, per_run) = (100, 1_000);
    let streamer = {
        let client = client.clone();
        std::thread::spawn(move || stream(&client, runs, per_run))
    };
    let mut kills = 0;
    while !streamer.is_finished() || (kills < 3) {
        std::thread::sleep(Duration::from_millis(600));
        server.kill().expect("SIGKILL");
        server.wait().expect("reap");
        kills += 1;
        server = start_server(port, &env);
    }
    let run_ids = streamer.join().expect("streamer");
    flush_until_delivered(&client);
    let stats = client.stats();
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert!(stats.retries > 0, "the kills interrupted deliveries: {stats:?}");
    server.kill().expect("kill");
    server.wait().expect("reap");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let store = AnyStore::connect(&format!("sqlite://{}/northstar.db", data_dir)).await.expect("store");
        assert_exactly_once(&store, &run_ids, per_run).await;
    });
    client.shutdown(Duration::from_secs(1));
    eprintln!("sigkill harness: {kills} kills, {} records, {stats:?}", runs * per_run + runs + 1);
}

/// A Postgres cluster of this test's own, so it can be stopped and started.
struct ThrowawayPg {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl ThrowawayPg {
    fn pg(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        let running_as_root = std::env::var("USER").is_ok_and(|u| u == "root")
            || Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
        if running_as_root {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    fn create() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .filter_map(Result::ok)
            .map(|d| d.path().join("bin"))
            .max()
            .expect("a PostgreSQL version");
        let dir = tempfile::tempdir().expect("temp dir");
        let pg = Self { dir, bin, port: free_port() };
        let _ = Command::new("chown").args(["postgres:postgres"]).arg(pg.dir.path()).status();
        let status = pg
            .pg("initdb")
            .args(["-D"])
            .arg(pg.dir.path())
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .expect("initdb");
        assert!(status.success(), "initdb failed");
        pg.start();
        pg
    }

    fn ctl(&self, args: &[&str]) {
        let dir = self.dir.path();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off",
            self.port,
            dir.display()
        );
        let status = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(dir)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-w", "-t", "30", "-o", &options])
            .args(args)
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl");
        assert!(status.success(), "pg_ctl {args:?} failed");
    }

    fn start(&self) {
        self.ctl(&["start"]);
    }

    fn stop(&self) {
        self.ctl(&["-m", "fast", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for ThrowawayPg {
    fn drop(&mut self) {
        let _ = self.pg("pg_ctl").arg("-D").arg(self.dir.path()).args(["-m", "immediate", "-w", "stop"]).status();
    }
}

#[test]
fn a_postgres_restart_mid_stream_loses_and_duplicates_nothing() {
    if !Path::new("/usr/lib/postgresql").exists() {
        panic!("this test needs the PostgreSQL server binaries (Debian: apt-get install postgresql)");
    }
    let pg = ThrowawayPg::create();
    let port = free_port();
    let url = pg.url();
    let mut server = start_server(port, &[("DATABASE_URL", url.as_str())]);
    let client = client(port);

    let (runs, per_run) = (40, 500);
    let streamer = {
        let client = client.clone();
        std::thread::spawn(move || stream(&client, runs, per_run))
    };
    std::thread::sleep(Duration::from_millis(400));
    pg.stop();
    // While the database is away the server answers 503 with Retry-After, not 500.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (status, retry_after, body) = runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/functions/v1/ingest-traces"))
            .bearer_auth(KEY)
            .body(r#"{"schema_version": 2}"#)
            .send()
            .await
            .expect("response");
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_owned());
        (response.status().as_u16(), retry_after, response.text().await.unwrap_or_default())
    });
    assert_eq!((status, retry_after.as_deref(), body.as_str()), (503, Some("1"), r#"{"error":"Service unavailable"}"#));
    std::thread::sleep(Duration::from_millis(1_500));
    pg.start();

    let run_ids = streamer.join().expect("streamer");
    flush_until_delivered(&client);
    let stats = client.stats();
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert!(stats.retries > 0, "the restart interrupted deliveries: {stats:?}");
    runtime.block_on(async {
        let store = AnyStore::connect(&url).await.expect("store");
        assert_exactly_once(&store, &run_ids, per_run).await;
    });
    client.shutdown(Duration::from_secs(1));
    server.kill().expect("kill");
    server.wait().expect("reap");
}
