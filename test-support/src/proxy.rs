//! A fault-injecting proxy in front of a real server: it answers scripted failures (a status, a
//! hang, a dropped connection, a batch stored but its answer lost) before forwarding requests
//! to the server, and records what it saw. The SDK's delivery tests stand it between the SDK
//! and the server (feature `server`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use northstar_server::INGEST_PATH;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forward to the real server and relay its answer (what happens once the script is over).
    Forward,
    /// Answer with this status (and `Retry-After` seconds), without forwarding.
    Status(u16, Option<u64>),
    /// Read the request, then never answer (the connection stays open until the client gives up).
    Hang,
    /// Read the request and close the connection without a response.
    Drop,
    /// Forward to the real server, then close the connection instead of relaying its answer:
    /// the batch is stored but the SDK does not know, so it sends it again.
    ForwardThenDrop,
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub body: serde_json::Value,
    pub answered: Option<u16>,
}

/// A proxy that applies scripted faults, then forwards everything to `upstream`.
#[derive(Debug)]
pub struct FaultProxy {
    pub endpoint: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// When set, every request after the script gets this fault too.
    pub always: Arc<Mutex<Option<Fault>>>,
}

impl FaultProxy {
    pub async fn start(upstream: &str, script: Vec<Fault>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}{INGEST_PATH}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let always = Arc::new(Mutex::new(None));
        let (s, sc, al, up) = (seen.clone(), script, always.clone(), upstream.to_owned());
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { return };
                let (s, sc, al, up) = (s.clone(), sc.clone(), al.clone(), up.clone());
                tokio::spawn(async move { handle(socket, s, sc, al, up).await });
            }
        });
        Self { endpoint, seen, always }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn read_request(socket: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head, buf[header_end..header_end + length].to_vec()))
}

async fn respond(socket: &mut TcpStream, status: u16, extra: &str, body: &str) {
    let text = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(text.as_bytes()).await;
    let _ = socket.shutdown().await;
}

async fn handle(
    mut socket: TcpStream,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Fault>>>,
    always: Arc<Mutex<Option<Fault>>>,
    upstream: String,
) {
    let Some((head, body)) = read_request(&mut socket).await else { return };
    let auth = head
        .lines()
        .find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    let fault = script.lock().expect("lock").pop_front().or_else(|| always.lock().expect("lock").clone());
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let record = |answered| seen.lock().expect("lock").push(Seen { at: Instant::now(), body: json.clone(), answered });
    let forward = || async {
        let response = reqwest::Client::new()
            .post(&upstream)
            .header("authorization", &auth)
            .body(body.clone())
            .send()
            .await
            .expect("upstream");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    };
    match fault {
        Some(Fault::Status(status, retry_after)) => {
            record(Some(status));
            let extra = retry_after.map(|s| format!("retry-after: {s}\r\n")).unwrap_or_default();
            respond(&mut socket, status, &extra, r#"{"error":"scripted failure"}"#).await;
        }
        Some(Fault::Hang) => {
            record(None);
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Some(Fault::Drop) => {
            record(None);
            drop(socket);
        }
        Some(Fault::ForwardThenDrop) => {
            let (status, _) = forward().await;
            record(Some(status));
            drop(socket);
        }
        Some(Fault::Forward) | None => {
            let (status, text) = forward().await;
            record(Some(status));
            respond(&mut socket, status, "", &text).await;
        }
    }
}
