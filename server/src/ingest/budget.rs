//! How many bytes of request bodies are being decoded and stored at once. A body takes its
//! share before it is read (its declared length, or the limit when it declares none) and tops it
//! up to its decoded size before it is parsed, which is where a batch grows many times over; a
//! request that finds the budget spent waits (within its timeout). Memory under a flood of large
//! bodies is then bounded by the budget, not by the number of connections.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Permits are KiB: a semaphore holds at most `u32::MAX` permits per acquire.
const UNIT: usize = 1024;

/// The shared budget.
#[derive(Debug, Clone)]
pub struct Budget {
    permits: Arc<Semaphore>,
    units: usize,
}

/// A body's share of the budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct Share {
    budget: Budget,
    held: Vec<OwnedSemaphorePermit>,
    units: usize,
}

impl Budget {
    /// A budget of `bytes`.
    #[must_use]
    pub fn new(bytes: usize) -> Self {
        let units = bytes.div_ceil(UNIT).max(1);
        Self { permits: Arc::new(Semaphore::new(units)), units }
    }

    /// A share of `bytes` (at most the whole budget, so one body larger than it still passes,
    /// alone).
    pub(crate) async fn share(&self, bytes: usize) -> Share {
        let mut share = Share { budget: self.clone(), held: Vec::new(), units: 0 };
        share.grow_to(bytes).await;
        share
    }
}

impl Share {
    /// Grows the share to `bytes` (never shrinks it).
    pub(crate) async fn grow_to(&mut self, bytes: usize) {
        let want = bytes.div_ceil(UNIT).clamp(1, self.budget.units);
        if want <= self.units {
            return;
        }
        let more = u32::try_from(want - self.units).unwrap_or(u32::MAX);
        let permit =
            self.budget.permits.clone().acquire_many_owned(more).await.expect("the budget's semaphore is never closed");
        self.units += more as usize;
        self.held.push(permit);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn bodies_wait_while_the_budget_is_spent_and_go_on_when_it_is_given_back() {
        let budget = Budget::new(10 * UNIT);
        let first = budget.share(6 * UNIT).await;
        let mut second = budget.share(4 * UNIT).await;
        let waiting = tokio::time::timeout(Duration::from_millis(50), second.grow_to(5 * UNIT)).await;
        assert!(waiting.is_err(), "no room left");
        drop(first);
        second.grow_to(5 * UNIT).await;
        let huge = tokio::time::timeout(Duration::from_millis(50), budget.share(100 * UNIT)).await;
        assert!(huge.is_err(), "a body larger than the budget waits for all of it");
        drop(second);
        let _alone = budget.share(100 * UNIT).await;
    }
}
