//! The server's integration tests, in one binary: each test binary links the whole product
//! (server, store, dashboard, SDK), so one binary instead of seventeen saves sixteen links of
//! it on every build. Each module is one of the former binaries; the harness is `common`.

mod common;

mod cli;
mod dashboard_auth;
mod dashboard_live;
mod dashboard_pages;
mod dashboard_queries;
mod hardening;
mod ingest_costs;
mod ingest_failures;
mod ingest_http;
mod ingest_store;
mod ingest_upsert;
mod malformed_batches;
mod operations;
mod original_sdk_batch;
mod prompts;
mod public_api;
mod self_hosting;
