//! The transport half of the contract (reference §1.1–1.5, the handler tests of §5.1):
//! methods, CORS, authentication, body parsing, size limit and gzip, on both stores.

use std::io::Write;

use crate::common::fixtures::*;
use crate::common::*;
use northstar_server::INGEST_PATH_V1;
use northstar_store::Store;
use serde_json::json;

const CORS: [(&str, &str); 3] = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-headers", "authorization, content-type"),
    ("access-control-allow-methods", "POST, OPTIONS"),
];

fn assert_cors(response: &reqwest::Response) {
    for (name, value) in CORS {
        assert_eq!(response.headers().get(name).and_then(|v| v.to_str().ok()), Some(value), "{name}");
    }
}

async fn preflight_is_204_with_cors_only(s: &TestServer) {
    let response = s.client.request(reqwest::Method::OPTIONS, s.ingest_url()).send().await.expect("request");
    assert_eq!(response.status().as_u16(), 204);
    assert_cors(&response);
    assert!(response.headers().get("content-type").is_none());
    assert_eq!(response.text().await.expect("body"), "");
}

async fn other_methods_are_405(s: &TestServer) {
    for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE, reqwest::Method::PATCH] {
        let response = s.client.request(method.clone(), s.ingest_url()).send().await.expect("request");
        assert_cors(&response);
        assert_eq!(response.headers().get("content-type").map(|v| v.as_bytes()), Some(&b"application/json"[..]));
        assert_eq!(read(response).await, (405, json!({"error": "Method not allowed"})), "{method}");
    }
}

async fn missing_or_malformed_authorization_is_401(s: &TestServer) {
    let body = Trace::new().body().to_string().into_bytes();
    let expected = (401, json!({"error": "Missing or invalid authorization header"}));
    let response = s.post_raw(&[], body.clone()).await;
    assert_cors(&response);
    assert_eq!(read(response).await, expected);
    for header in ["Bearer", "Bearer    ", "Basic abc", "Bearerns_abc", "Token ns_abc"] {
        let response = s.post_raw(&[("authorization", header)], body.clone()).await;
        assert_eq!(read(response).await, expected, "{header:?}");
    }
    // The scheme is case-insensitive and the token is trimmed.
    let lower = format!("bearer   {}  ", s.key);
    assert_eq!(read(s.post_raw(&[("authorization", &lower)], body).await).await, (200, json!({"accepted": true})));
}

async fn unknown_or_revoked_key_is_401(s: &TestServer) {
    let expected = (401, json!({"error": "Invalid or revoked API key"}));
    assert_eq!(s.post_with_key("ns_not-a-key", &Trace::new().body()).await, expected);
    let (project, key) = s.other_project().await;
    assert_eq!(s.post_with_key(&key, &Trace::new().body()).await.0, 200);
    assert!(s.store.revoke_key(project).await.expect("revoke"));
    assert_eq!(s.post_with_key(&key, &Trace::new().body()).await, expected);
}

async fn authentication_comes_before_the_body(s: &TestServer) {
    let response = s.post_raw(&[("authorization", "Bearer wrong")], b"not json".to_vec()).await;
    assert_eq!(read(response).await, (401, json!({"error": "Invalid or revoked API key"})));
}

async fn body_parsing_errors_are_400(s: &TestServer) {
    let auth = format!("Bearer {}", s.key);
    for (body, message) in [
        (&b"not json"[..], "Invalid JSON body"),
        (b"", "Invalid JSON body"),
        (b"[]", "JSON body must be an object"),
        (b"null", "JSON body must be an object"),
        (b"\"batch\"", "JSON body must be an object"),
        (br#"{"schema_version": 3}"#, "Unsupported schema_version (expected 1 or 2)"),
        (br#"{"schema_version": "2"}"#, "Unsupported schema_version (expected 1 or 2)"),
        (br#"{}"#, "Unsupported schema_version (expected 1 or 2)"),
        (br#"{"schema_version": 1, "sessions": "not-array"}"#, "sessions must be an array"),
        (br#"{"schema_version": 1, "sessions": [{"id": "bad"}]}"#, "sessions[0].id is not a valid UUID"),
    ] {
        let response = s.post_raw(&[("authorization", &auth)], body.to_vec()).await;
        assert_cors(&response);
        assert_eq!(read(response).await, (400, json!({"error": message})), "{}", String::from_utf8_lossy(body));
    }
    // The content type is not checked.
    let response = s
        .post_raw(
            &[("authorization", &auth), ("content-type", "text/plain")],
            Trace::new().body().to_string().into_bytes(),
        )
        .await;
    assert_eq!(read(response).await.0, 200);
}

async fn empty_arrays_and_omitted_arrays_are_accepted(s: &TestServer) {
    s.accepts(&json!({"schema_version": 1, "sessions": [], "runs": [], "spans": [], "events": []})).await;
    s.accepts(&json!({"schema_version": 2, "sessions": null, "something_new": {"ignored": true}})).await;
    s.accepts(&json!({"schema_version": 2.0})).await;
}

async fn the_api_v1_path_is_the_same_endpoint(s: &TestServer) {
    let trace = Trace::new();
    let response = s
        .client
        .post(format!("{}{INGEST_PATH_V1}", s.base))
        .bearer_auth(&s.key)
        .body(trace.body().to_string())
        .send()
        .await
        .expect("request");
    assert_cors(&response);
    assert_eq!(read(response).await, (200, json!({"accepted": true})));
    assert!(s.store.get_event(s.project, uuid(&trace.event)).await.expect("read").is_some());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

async fn gzip_bodies_are_accepted(s: &TestServer) {
    let trace = Trace::new();
    let auth = format!("Bearer {}", s.key);
    let body = gzip(trace.body().to_string().as_bytes());
    let response = s.post_raw(&[("authorization", &auth), ("content-encoding", "gzip")], body).await;
    assert_eq!(read(response).await, (200, json!({"accepted": true})));
    assert!(s.store.get_run(s.project, uuid(&trace.run)).await.expect("read").is_some());

    let response = s.post_raw(&[("authorization", &auth), ("content-encoding", "gzip")], b"not gzip".to_vec()).await;
    assert_eq!(read(response).await, (400, json!({"error": "Invalid gzip body"})));
    let response = s.post_raw(&[("authorization", &auth), ("content-encoding", "br")], b"{}".to_vec()).await;
    assert_cors(&response);
    assert_eq!(
        read(response).await,
        (415, json!({"error": "Unsupported Content-Encoding (expected gzip or identity)"}))
    );
}

/// A request refused before its body is read (a bad key here; a full server, 429, alike) gets
/// its answer while the client is still sending a large body, on native ingest and OTLP, and
/// the client's connection goes on: the server reads the rest of the body before it answers.
/// It used to close the connection under the client, which saw a broken pipe, not the 401.
async fn a_refusal_before_a_large_body_is_read_still_reaches_the_client(s: &TestServer) {
    let body = vec![b' '; 8 * 1024 * 1024];
    for _ in 0..3 {
        let response = s.post_raw(&[("authorization", "Bearer wrong")], body.clone()).await;
        assert_eq!(read(response).await, (401, json!({"error": "Invalid or revoked API key"})));
        let otlp = s
            .client
            .post(format!("{}/v1/traces", s.base))
            .header("authorization", "Bearer wrong")
            .header("content-type", "application/x-protobuf")
            .body(body.clone())
            .send()
            .await
            .expect("the 401, not a broken pipe");
        assert_eq!(otlp.status().as_u16(), 401);
    }
    assert_eq!(s.post(&Trace::new().body()).await.0, 200, "the client goes on");
}

on_both_stores!(
    a_refusal_before_a_large_body_is_read_still_reaches_the_client,
    preflight_is_204_with_cors_only,
    other_methods_are_405,
    missing_or_malformed_authorization_is_401,
    unknown_or_revoked_key_is_401,
    authentication_comes_before_the_body,
    body_parsing_errors_are_400,
    empty_arrays_and_omitted_arrays_are_accepted,
    the_api_v1_path_is_the_same_endpoint,
    gzip_bodies_are_accepted,
);

/// Deliberate fix (d): bodies over the limit get 413 with a JSON error, whether they arrive
/// plain, chunked, or small and gzip-compressed (decoded size counts), and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_413() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let s = TestServer::start_with_limit(backend, 4096).await;
        let auth = format!("Bearer {}", s.key);
        let expected = (413, json!({"error": "Request body exceeds the limit of 4096 bytes"}));
        let mut trace = Trace::new().body();
        trace["sessions"][0]["metadata"] = json!({"padding": "x".repeat(5000)});
        let big = trace.to_string().into_bytes();

        let response = s.post_raw(&[("authorization", &auth)], big.clone()).await;
        assert_cors(&response);
        assert_eq!(read(response).await, expected);

        assert_eq!(chunked_post(&s, &auth, &big).await, expected);

        let compressed = gzip(&big);
        assert!(compressed.len() < 4096);
        let response = s.post_raw(&[("authorization", &auth), ("content-encoding", "gzip")], compressed).await;
        assert_eq!(read(response).await, expected);

        assert_eq!(s.store.count_records(s.project).await.expect("count").sessions, 0);
        // Just under the limit is fine.
        s.accepts(&Trace::new().body()).await;
        s.stop().await;
    }
}

/// A `Transfer-Encoding: chunked` POST written by hand on a raw socket: no Content-Length
/// for the server to check up front, so the limit must hold while streaming.
async fn chunked_post(s: &TestServer, auth: &str, body: &[u8]) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "POST {} HTTP/1.1\r\nhost: {addr}\r\nauthorization: {auth}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        northstar_server::INGEST_PATH
    )
    .into_bytes();
    for chunk in body.chunks(1000) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading everything; that is the point.
    let _ = stream.write_all(&request).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    let status: u16 = text.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("status line");
    let (_, rest) = text.split_once("\r\n\r\n").expect("headers end");
    // The JSON error body is small: it arrives in one chunk (or plain with a length).
    let json_start = rest.find('{').expect("JSON body");
    let json_end = rest.rfind('}').expect("JSON body");
    (status, serde_json::from_str(&rest[json_start..=json_end]).expect("JSON"))
}
