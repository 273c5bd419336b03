//! Configuration from the environment, code winning over it, and the no-op modes, each in a
//! child process of this test binary with its own environment, against the real server.

#[path = "sdk/common/mod.rs"]
#[allow(dead_code, unused_imports, reason = "this binary uses one part of the SDK tests' harness")]
mod common;

use std::process::Command;
use std::time::Duration;

use common::RealServer;
use northstar_store::Store;

const CHILD: &str = "NORTHSTAR_TEST_CHILD";

/// Threads of this process named `northstar-flush` (Linux).
fn flush_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "northstar-flush"))
                .count()
        })
        .unwrap_or(0)
}

/// What a child does, chosen by the parent; prints `key=value` lines for the parent to check.
fn child(mode: &str) {
    match mode {
        "env" | "code-wins" => {
            let options = if mode == "code-wins" {
                northstar::Options::default().project("code-project")
            } else {
                northstar::Options::default()
            };
            let guard = northstar::init(options);
            // A new thread names itself once it runs: give it a moment to appear.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while flush_threads() == 0 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            println!("threads={}", flush_threads());
            let run = northstar::trace("from-env");
            println!("run={}", run.id().map(|id| id.to_string()).unwrap_or_default());
            drop(run);
            println!("flushed={}", northstar::flush(Duration::from_secs(20)));
            drop(guard);
        }
        "disabled" | "no-key" => {
            let guard = northstar::init(northstar::Options::default());
            let run = northstar::trace("nothing");
            let span = northstar::span("nothing", northstar::SpanKind::Tool);
            northstar::log_event("e", 1);
            println!("run_id={:?}", run.id());
            println!("span_id={:?}", span.id());
            // Stronger than looking for the name: the process has no thread but main.
            println!("threads={}", std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count) - 1);
            println!("flushed={}", northstar::flush(Duration::from_millis(10)));
            println!("enqueued={}", northstar::stats().enqueued);
            println!("client_enabled={}", guard.client().is_enabled());
        }
        "debug-drops" => {
            // Nothing listens on the endpoint and the queue holds 2: most events are dropped.
            let options = northstar::Options::default().max_queue_size(2).shutdown_timeout(Duration::from_millis(100));
            let guard = northstar::init(options);
            let run = northstar::trace("flood");
            for i in 0..100 {
                run.event(northstar::EventType::Custom, i);
            }
            println!("dropped={}", northstar::stats().dropped_queue_full > 0);
            drop(run);
            drop(guard);
        }
        "dropped-client" => {
            // A client dropped without `shutdown`, after delivered spans came back to be filled
            // again: its worker still sends what is left and ends.
            let options = northstar::Options::from_env()
                .expect("options")
                .batch_size(10)
                .flush_interval(Duration::from_millis(200));
            let client = northstar::Client::new(options).expect("client");
            let session = client.session();
            for name in ["delivered", "left"] {
                let mut run = session.run(name);
                for i in 0..20 {
                    drop(run.span(format!("step {i}"), northstar::SpanKind::Tool));
                }
                println!("{name}={}", run.id().expect("enabled"));
                run.end();
                if name == "delivered" {
                    println!("flushed={}", client.flush(Duration::from_secs(20)));
                }
            }
            session.end();
            drop(session);
            drop(client);
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while flush_threads() > 0 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            println!("threads={}", flush_threads());
        }
        "bad-bool" => match northstar::try_init(northstar::Options::default()) {
            Ok(_) => println!("error=none"),
            Err(e) => println!("error={e}"),
        },
        other => panic!("unknown child mode {other}"),
    }
}

fn run_child(mode: &str, env: &[(&str, &str)]) -> String {
    run_child_output(mode, env).0
}

fn run_child_output(mode: &str, env: &[(&str, &str)]) -> (String, String) {
    let mut cmd = Command::new(std::env::current_exe().expect("exe"));
    cmd.env(CHILD, mode);
    for var in [
        "NORTHSTAR_API_KEY",
        "NORTHSTAR_ENDPOINT",
        "NORTHSTAR_PROJECT",
        "NORTHSTAR_ENVIRONMENT",
        "NORTHSTAR_ENABLED",
        "NORTHSTAR_DEBUG",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("child");
    assert!(out.status.success(), "child {mode} failed: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8(out.stdout).expect("utf-8"), String::from_utf8(out.stderr).expect("utf-8"))
}

fn value<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}

fn main() {
    if let Ok(mode) = std::env::var(CHILD) {
        child(&mode);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let server = runtime.block_on(RealServer::sqlite());
    let base = [("NORTHSTAR_ENDPOINT", server.endpoint.as_str()), ("NORTHSTAR_API_KEY", server.key.as_str())];
    let mut passed = 0;

    // 1. Everything from the environment.
    let env: Vec<_> = base
        .iter()
        .copied()
        .chain([("NORTHSTAR_PROJECT", "env-project"), ("NORTHSTAR_ENVIRONMENT", "staging")])
        .collect();
    let out = run_child("env", &env);
    assert_eq!(value(&out, "threads"), "1", "one northstar-flush thread");
    assert_eq!(value(&out, "flushed"), "true");
    let run = value(&out, "run").parse().expect("run id");
    let stored = runtime.block_on(server.store.get_run(server.project, run)).expect("read").expect("stored");
    assert_eq!(
        (stored.metadata["project"].as_str(), stored.metadata["environment"].as_str()),
        (Some("env-project"), Some("staging"))
    );
    passed += 1;

    // 2. Code wins over the environment.
    let out = run_child("code-wins", &env);
    let run = value(&out, "run").parse().expect("run id");
    let stored = runtime.block_on(server.store.get_run(server.project, run)).expect("read").expect("stored");
    assert_eq!(stored.metadata["project"].as_str(), Some("code-project"));
    assert_eq!(stored.metadata["environment"].as_str(), Some("staging"), "unset in code, so from the environment");
    passed += 1;

    // 3. Disabled, and 4. no API key: no thread, no queue, nothing recorded, flush succeeds.
    let disabled: Vec<_> = base.iter().copied().chain([("NORTHSTAR_ENABLED", "false")]).collect();
    let no_key = [("NORTHSTAR_ENDPOINT", server.endpoint.as_str())];
    for (mode, env) in [("disabled", &disabled[..]), ("no-key", &no_key[..])] {
        let out = run_child(mode, env);
        for (key, expected) in [
            ("run_id", "None"),
            ("span_id", "None"),
            ("threads", "0"),
            ("flushed", "true"),
            ("enqueued", "0"),
            ("client_enabled", "false"),
        ] {
            assert_eq!(value(&out, key), expected, "{mode}: {key}");
        }
        passed += 1;
    }

    // 5. An invalid boolean is a configuration error.
    let out = run_child("bad-bool", &[("NORTHSTAR_ENABLED", "maybe")]);
    assert_eq!(value(&out, "error"), "NORTHSTAR_ENABLED must be a boolean");
    passed += 1;

    // 6. With debug on, the first drop warns once on stderr; without it, nothing is printed.
    let refused =
        [("NORTHSTAR_ENDPOINT", "http://127.0.0.1:9/functions/v1/ingest-traces"), ("NORTHSTAR_API_KEY", "ns_x")];
    let debug: Vec<_> = refused.iter().copied().chain([("NORTHSTAR_DEBUG", "true")]).collect();
    let (out, err) = run_child_output("debug-drops", &debug);
    assert_eq!(value(&out, "dropped"), "true");
    assert_eq!(err.matches("[NorthStar] dropping trace data").count(), 1, "{err}");
    let (_, quiet) = run_child_output("debug-drops", &refused);
    assert!(!quiet.contains("[NorthStar]"), "{quiet}");
    passed += 1;

    let counts = runtime.block_on(server.store.count_records(server.project)).expect("count");
    assert_eq!(counts.runs, 2, "only the enabled children recorded anything");

    // 7. A client dropped without `shutdown` ends its worker, having sent everything.
    let out = run_child("dropped-client", &base);
    assert_eq!(value(&out, "flushed"), "true");
    assert_eq!(value(&out, "threads"), "0", "the worker ends once the last handle is gone");
    for name in ["delivered", "left"] {
        let run = value(&out, name).parse().expect("run id");
        let spans = runtime.block_on(server.store.list_spans(server.project, run)).expect("spans");
        assert_eq!(spans.len(), 20, "{name}");
    }
    passed += 1;
    println!("environment: {passed} passed, 0 failed");
}
