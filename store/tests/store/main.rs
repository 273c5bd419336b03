//! The store's own tests, directly on both backends, in one binary: a module per subject.

mod node_events;
mod projects;
