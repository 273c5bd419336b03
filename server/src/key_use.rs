//! Resolving API keys, and recording when each was last used: at most once a minute per key,
//! in the background, so that a busy key does not add a write to every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use northstar_store::{AnyStore, KeyOwner, Store, StoreError};
use uuid::Uuid;

use crate::keys;

/// How stale a key's `last_used_at` may get.
const RECORD_EVERY: Duration = Duration::from_secs(60);

/// When each key's use was last recorded (one entry per valid key that was used).
#[derive(Debug, Default)]
pub struct KeyUse {
    recorded: Mutex<HashMap<Uuid, Instant>>,
}

impl KeyUse {
    /// The owner of the active key `token`, its use recorded.
    ///
    /// # Errors
    ///
    /// Store failures of the lookup (recording failures are only logged).
    pub async fn resolve(&self, store: &AnyStore, token: &str) -> Result<Option<KeyOwner>, StoreError> {
        let owner = store.key_owner(&keys::hash(token)).await?;
        if let Some(owner) = owner {
            self.record(store, owner.key);
        }
        Ok(owner)
    }

    fn record(&self, store: &AnyStore, key: Uuid) {
        let now = Instant::now();
        {
            let mut recorded = self.recorded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if recorded.get(&key).is_some_and(|at| now.duration_since(*at) < RECORD_EVERY) {
                return;
            }
            recorded.insert(key, now);
        }
        let store = store.clone();
        tokio::spawn(async move {
            if let Err(err) = store.touch_api_key(key, chrono::Utc::now()).await {
                tracing::debug!(%key, error = %err, "recording a key's use failed");
            }
        });
    }
}
