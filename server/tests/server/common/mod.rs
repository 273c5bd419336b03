//! The workspace's harness (`test-support`), with its fixtures.

pub use northstar_test_support::fixtures;

pub use northstar_test_support::*;
