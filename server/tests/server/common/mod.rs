//! The workspace's harness (`test-support`) and this crate's fixtures.

pub mod fixtures;

pub use northstar_test_support::*;
