//! The retention task: for every project with a retention setting, delete the runs older than
//! it (with their spans, events and scores) in bounded chunks, so that no single statement
//! holds locks for long.

use std::time::Duration;

use chrono::{DateTime, Utc};
use northstar_store::{AnyStore, Store, StoreError};

/// Runs deleted per statement.
pub const CHUNK: u32 = 500;

/// One pass over every project; returns the number of runs deleted.
///
/// # Errors
///
/// Store errors (the pass stops at the first).
pub async fn enforce(store: &AnyStore, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let mut total = 0;
    for project in store.list_projects().await? {
        let Some(days) = project.retention_days else { continue };
        let cutoff = now - chrono::Duration::days(i64::from(days));
        loop {
            let deleted = store.delete_runs_before(project.id, cutoff, CHUNK).await?;
            total += deleted;
            if deleted < u64::from(CHUNK) {
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(runs = total, "retention: deleted old runs");
        metrics::counter!("northstar_retention_deleted_runs_total").increment(total);
    }
    Ok(total)
}

/// Enforces retention every `every`, until the process ends.
pub fn spawn(store: AnyStore, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_secs(1)));
        loop {
            ticks.tick().await;
            if let Err(err) = enforce(&store, Utc::now()).await {
                tracing::warn!(error = %err, "retention pass failed; retrying at the next interval");
            }
        }
    })
}
