//! The store's own tests, directly on both backends, in one binary: a module per subject.

mod changes;
mod projects;
mod traces;
mod views;
