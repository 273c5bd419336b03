//! End-to-end tests of NorthStar against clients other people wrote. The tests are the
//! `[[test]]` targets beside this file (`otlp.rs`, `otlp_python.rs`); the harness they share is
//! the `northstar-test-support` crate.
