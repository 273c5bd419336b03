//! What both server benchmarks need: the release server as a child process, and its /proc figures.
#![allow(dead_code, reason = "each bench uses a different part of this module")]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_northstar-server");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Starts `northstar-server serve` with `env` and the bootstrap `key`; returns the child, its
/// port, and the time from spawn until it accepted a connection.
pub fn spawn_server(env: &[(&str, String)], key: &str) -> (Child, u16, Duration) {
    let port = free_port();
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("NORTHSTAR_BIND", format!("127.0.0.1:{port}"))
        .env("NORTHSTAR_BOOTSTRAP_API_KEY", key)
        .env("NORTHSTAR_LOG", "error")
        // Measured/stressed at full speed: no per-key rate limit.
        .env("NORTHSTAR_RATE_LIMIT_PER_SECOND", "0")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().expect("wait").is_none(), "server exited");
        std::thread::sleep(Duration::from_millis(1));
    }
    (child, port, started.elapsed())
}

/// The binary under test, for its size.
pub fn binary() -> &'static str {
    BIN
}

/// A `/proc/PID/status` field in KiB (`VmRSS:`, `VmHWM:`).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}
