//! The workspace's harness (`test-support`) and this crate's fixtures.
#![allow(dead_code, unused_imports, reason = "each test binary uses a different part of the harness")]

pub mod fixtures;

pub use northstar_test_support::*;
