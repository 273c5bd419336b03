//! Footprint (issue 7, measure 4): binary size, cold start to ready, idle RSS, for the embedded
//! SQLite default and for Postgres. `cargo bench -p northstar-server --bench footprint`
//! (release binary); under `cargo test` a single-sample smoke pass.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_northstar-server");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Spawns the server on a fresh store; returns (time until it accepts connections, idle RSS in KiB).
fn start_once(env: &[(&str, String)]) -> (Duration, u64) {
    let port = free_port();
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("NORTHSTAR_BIND", format!("127.0.0.1:{port}"))
        .env("NORTHSTAR_BOOTSTRAP_API_KEY", "ns_footprint")
        .env("NORTHSTAR_LOG", "error")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().expect("wait").is_none(), "server exited");
        std::thread::sleep(Duration::from_millis(1));
    }
    let ready = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let rss = status_kb(child.id(), "VmRSS:");
    let _ = child.kill();
    let _ = child.wait();
    (ready, rss)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let samples = if full { 7 } else { 1 };
    let size = std::fs::metadata(BIN).map(|m| m.len()).unwrap_or(0);
    println!("binary: {BIN} ({:.1} MiB)", size as f64 / 1_048_576.0);

    let mut sqlite = Vec::new();
    for _ in 0..samples {
        let dir = tempfile::tempdir().expect("temp dir");
        sqlite.push(start_once(&[("NORTHSTAR_DATA_DIR", dir.path().display().to_string())]));
    }
    report("SQLite (first start: creates the file, migrates, bootstraps)", &mut sqlite);

    let admin = std::env::var("NORTHSTAR_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut postgres = Vec::new();
    for _ in 0..samples {
        let name = format!("northstar_footprint_{}", uuid::Uuid::new_v4().simple());
        runtime.block_on(admin_sql(&admin, &format!("CREATE DATABASE {name}")));
        let (base, _) = admin.rsplit_once('/').expect("admin URL");
        postgres.push(start_once(&[("DATABASE_URL", format!("{base}/{name}"))]));
        runtime.block_on(admin_sql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)")));
    }
    report("Postgres (first start: migrates, bootstraps)", &mut postgres);
}

async fn admin_sql(url: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(url).await.expect("Postgres (run through scripts/test)");
    conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await.expect("admin SQL");
}

fn report(label: &str, samples: &mut [(Duration, u64)]) {
    samples.sort();
    let (ready, _) = samples[samples.len() / 2];
    let mut rss: Vec<u64> = samples.iter().map(|s| s.1).collect();
    rss.sort_unstable();
    println!(
        "{label}: cold start to ready median {ready:?} (min {:?}, max {:?}), idle RSS median {:.1} MiB, n={}",
        samples[0].0,
        samples[samples.len() - 1].0,
        rss[rss.len() / 2] as f64 / 1024.0,
        samples.len()
    );
}
