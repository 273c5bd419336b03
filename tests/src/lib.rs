//! End-to-end tests of NorthStar against clients other people wrote. The tests are the
//! modules of the `e2e` test binary (`e2e/`: `otlp`, `otlp_python`); the harness they share is
//! the `northstar-test-support` crate.
