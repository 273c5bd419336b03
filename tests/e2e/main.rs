//! End-to-end tests against clients other people wrote, in one binary (each test binary links
//! the whole product): a module per subject.

mod otlp;
mod otlp_python;
