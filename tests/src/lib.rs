//! End-to-end tests of NorthStar against clients other people wrote. The tests are the
//! modules of the `e2e` test binary (`e2e/`: `browser`, `faults`, `otlp`, `otlp_python`), and
//! `src/bin/e2e-server.rs` is the server those that need a child process run; the harness they share is
//! the `northstar-test-support` crate.
