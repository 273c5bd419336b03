//! The NorthStar batch contract.
//!
//! An SDK sends a *batch*: one JSON object carrying six arrays (`sessions`, `runs`, `spans`,
//! `events`, `prompt_links`, `scores`). This crate turns the raw bytes of such a request into a
//! validated [`Batch`] of domain values, or into the exact error message the original NorthStar
//! ingest function answered with, so that every client of that contract keeps working.
//!
//! Nothing here performs I/O: the server crate authenticates and reads the body, this crate
//! decides whether the body is acceptable, and the store crate writes it.
//!
//! ```
//! use northstar_wire::Batch;
//!
//! let body = br#"{
//!   "schema_version": 2,
//!   "sessions": [{"id": "11111111-0000-4000-8000-000000000001",
//!                 "created_at": "2025-05-01T10:00:00.000100Z", "metadata": {}}],
//!   "runs": [], "spans": [], "events": [], "scores": [], "prompt_links": []
//! }"#;
//! let batch = Batch::from_json_slice(body).expect("a valid batch");
//! assert_eq!(batch.sessions.len(), 1);
//!
//! let err = Batch::from_json_slice(br#"{"schema_version": 3}"#).unwrap_err();
//! assert_eq!(err.message(), "Unsupported schema_version (expected 1 or 2)");
//! ```

pub mod attributes;
mod batch;
mod enums;
mod fold;
#[cfg(feature = "keys")]
pub mod keys;
pub mod prompt;
mod records;
mod timestamp;
mod validate;

pub use batch::{Batch, ContractError, MAX_RECORDS, without_nul};
pub use enums::{EventType, ScoreDataType, ScoreSource, SpanKind, Status};
pub use records::{Event, PromptLink, Run, Score, Session, Span};
pub use timestamp::{Timestamp, format_timestamp, parse_timestamp};
pub use validate::{MAX_COST_USD, MAX_SCORE_VALUE, MAX_TOKENS};
