//! Footprint (issue 7, measure 4): binary size, cold start to ready, idle RSS, for the embedded
//! SQLite default and for Postgres. `cargo bench -p northstar-server --bench footprint`
//! (release binary); under `cargo test` a single-sample smoke pass.

mod support;

use std::time::Duration;

/// Spawns the server on a fresh store; returns (time until it accepts connections, idle RSS in KiB).
fn start_once(env: &[(&str, String)]) -> (Duration, u64) {
    let (mut child, _port, ready) = support::spawn_server(env, "ns_footprint");
    std::thread::sleep(Duration::from_millis(500));
    let rss = support::status_kib(child.id(), "VmRSS:");
    let _ = child.kill();
    let _ = child.wait();
    (ready, rss)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let samples = if full { 7 } else { 1 };
    let size = std::fs::metadata(support::binary()).map(|m| m.len()).unwrap_or(0);
    println!("binary: {} ({:.1} MiB)", support::binary(), size as f64 / 1_048_576.0);

    let mut sqlite = Vec::new();
    for _ in 0..samples {
        let dir = tempfile::tempdir().expect("temp dir");
        sqlite.push(start_once(&[("NORTHSTAR_DATA_DIR", dir.path().display().to_string())]));
    }
    report("SQLite (first start: creates the file, migrates, bootstraps)", &mut sqlite);

    let admin = support::admin_url();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut postgres = Vec::new();
    for _ in 0..samples {
        let name = format!("northstar_footprint_{}", uuid::Uuid::new_v4().simple());
        runtime.block_on(support::admin_sql(&admin, &format!("CREATE DATABASE {name}")));
        postgres.push(start_once(&[("DATABASE_URL", support::database_url(&admin, &name))]));
        runtime.block_on(support::admin_sql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)")));
    }
    report("Postgres (first start: migrates, bootstraps)", &mut postgres);
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
