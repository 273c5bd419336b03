//! Requests per second per API key (one key per project, so keyed by project), with bursts up
//! to the same number: a GCRA limiter from `governor`.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use uuid::Uuid;

use super::response::IngestError;

/// A per-project ingest rate limit.
#[derive(Clone)]
pub struct RateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<Uuid>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit").finish_non_exhaustive()
    }
}

impl RateLimit {
    /// `per_second` requests per second per project; `None` for 0 (no limit).
    #[must_use]
    pub fn per_second(per_second: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let limiter = Arc::new(governor::RateLimiter::keyed(Quota::per_second(rate).allow_burst(rate)));
        Some(Self { limiter, clock: DefaultClock::default() })
    }

    pub(super) fn check(&self, project: Uuid) -> Result<(), IngestError> {
        self.limiter.check_key(&project).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // Whole seconds, rounded up: a client that waits this long gets through.
            IngestError::RateLimited { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) }
        })
    }
}
