//! What keeps password guessing slow and a login flood harmless: a bound on the argon2
//! verifications running at once (each takes ~19 MiB and a core for tens of milliseconds), and
//! failure counts per account and per client address that lock the login out with a growing
//! backoff. A locked-out login is refused before any verification, so it costs nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Failures allowed per account before each further one locks the account's logins out.
const ACCOUNT_FREE_FAILURES: u32 = 5;
/// Failures allowed per client address (several people may share one) before the same.
const ADDRESS_FREE_FAILURES: u32 = 20;
/// The first lockout; each further failure doubles it, up to [`MAX_LOCKOUT`].
const FIRST_LOCKOUT: Duration = Duration::from_secs(1);
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// A count with no failure for this long starts again from zero.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Most accounts and addresses tracked at once, so that a flood of made-up emails cannot grow
/// the tables without bound; past it, entries not locked out are forgotten first.
const MAX_TRACKED: usize = 100_000;

/// Why a login is refused before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures for this account or this address: retry after this long.
    LockedOut(Duration),
    /// Every verification slot is busy.
    Busy,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Failures>,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Self { entries: HashMap::new() }
    }
}

impl<K: std::hash::Hash + Eq + Clone> Table<K> {
    fn locked(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.entries.get(key)?.locked_until?;
        (until > now).then(|| until - now)
    }

    fn fail(&mut self, key: &K, free: u32, now: Instant) {
        if self.entries.len() >= MAX_TRACKED && !self.entries.contains_key(key) {
            self.entries.retain(|_, f| f.locked_until.is_some_and(|t| t > now));
            if self.entries.len() >= MAX_TRACKED {
                return;
            }
        }
        let f = self.entries.entry(key.clone()).or_insert(Failures { count: 0, last: now, locked_until: None });
        if now.duration_since(f.last) > FORGET_AFTER {
            *f = Failures { count: 0, last: now, locked_until: None };
        }
        f.count += 1;
        f.last = now;
        if f.count >= free {
            let doublings = (f.count - free).min(20);
            let lockout = FIRST_LOCKOUT.saturating_mul(1 << doublings).min(MAX_LOCKOUT);
            f.locked_until = Some(now + lockout);
        }
    }

    fn forget(&mut self, key: &K) {
        self.entries.remove(key);
    }
}

#[derive(Debug, Default)]
struct Counts {
    accounts: Table<String>,
    addresses: Table<IpAddr>,
}

/// Logins that may wait for a verification slot, per slot; beyond that they are refused, so a
/// flood is answered at once instead of piling up.
const WAITING_PER_SLOT: usize = 8;

/// The login limits of one server.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    verifications: Arc<Semaphore>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    max_waiting: usize,
    counts: Arc<Mutex<Counts>>,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    }
}

impl LoginLimits {
    /// At most `concurrent` password verifications at once.
    #[must_use]
    pub fn new(concurrent: usize) -> Self {
        let slots = concurrent.max(1);
        Self {
            verifications: Arc::new(Semaphore::new(slots)),
            waiting: Arc::default(),
            max_waiting: slots * WAITING_PER_SLOT,
            counts: Arc::default(),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A verification slot for a login of `email` from `address` (waiting for one in a short
    /// queue), or why there is none.
    ///
    /// # Errors
    ///
    /// The account or the address is locked out, or every slot is busy and the queue is full.
    pub async fn admit(&self, email: &str, address: Option<IpAddr>) -> Result<OwnedSemaphorePermit, Refusal> {
        let now = Instant::now();
        {
            let counts = self.counts();
            let account = counts.accounts.locked(&email.to_owned(), now);
            let address = address.and_then(|a| counts.addresses.locked(&a, now));
            if let Some(wait) = account.max(address) {
                return Err(Refusal::LockedOut(wait));
            }
        }
        if let Ok(permit) = self.verifications.clone().try_acquire_owned() {
            return Ok(permit);
        }
        use std::sync::atomic::Ordering::SeqCst;
        if self.waiting.fetch_add(1, SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, SeqCst);
            return Err(Refusal::Busy);
        }
        let permit = self.verifications.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, SeqCst);
        permit.map_err(|_| Refusal::Busy)
    }

    /// Records the outcome of a verification.
    pub fn record(&self, email: &str, address: Option<IpAddr>, success: bool) {
        let now = Instant::now();
        let mut counts = self.counts();
        let email = email.to_owned();
        if success {
            counts.accounts.forget(&email);
            if let Some(a) = address {
                counts.addresses.forget(&a);
            }
        } else {
            counts.accounts.fail(&email, ACCOUNT_FREE_FAILURES, now);
            if let Some(a) = address {
                counts.addresses.fail(&a, ADDRESS_FREE_FAILURES, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_account_is_locked_out_after_five_failures_with_a_growing_backoff() {
        let limits = LoginLimits::new(2);
        for _ in 0..4 {
            drop(limits.admit("ana@example.com", None).await.expect("not locked yet"));
            limits.record("ana@example.com", None, false);
        }
        assert!(limits.admit("ana@example.com", None).await.is_ok());
        limits.record("ana@example.com", None, false);
        let Err(Refusal::LockedOut(first)) = limits.admit("ana@example.com", None).await else { panic!("locked out") };
        assert!(first <= FIRST_LOCKOUT && first > Duration::ZERO, "{first:?}");
        limits.record("ana@example.com", None, false);
        let Err(Refusal::LockedOut(second)) = limits.admit("ana@example.com", None).await else { panic!("locked out") };
        assert!(second > first, "{second:?} after {first:?}");
        assert!(limits.admit("bob@example.com", None).await.is_ok(), "other accounts are not affected");
    }

    #[tokio::test]
    async fn an_address_is_locked_out_across_accounts_and_a_success_clears_it() {
        let limits = LoginLimits::new(2);
        let address = Some(IpAddr::from([192, 0, 2, 7]));
        for i in 0..ADDRESS_FREE_FAILURES {
            limits.record(&format!("user{i}@example.com"), address, false);
        }
        assert!(matches!(limits.admit("new@example.com", address).await, Err(Refusal::LockedOut(_))));
        assert!(limits.admit("new@example.com", Some(IpAddr::from([192, 0, 2, 8]))).await.is_ok());
        limits.record("new@example.com", address, true);
        assert!(limits.admit("new@example.com", address).await.is_ok());
    }

    #[tokio::test]
    async fn logins_beyond_the_slots_wait_in_a_short_queue_and_past_it_are_refused() {
        let limits = LoginLimits::new(1);
        let first = limits.admit("a@example.com", None).await.expect("first");
        let mut waiting = Vec::new();
        for i in 0..WAITING_PER_SLOT {
            let limits = limits.clone();
            waiting.push(tokio::spawn(async move { limits.admit(&format!("{i}@example.com"), None).await.is_ok() }));
        }
        while limits.waiting.load(std::sync::atomic::Ordering::SeqCst) < WAITING_PER_SLOT {
            tokio::task::yield_now().await;
        }
        assert_eq!(limits.admit("late@example.com", None).await.err(), Some(Refusal::Busy), "the queue is full");
        drop(first);
        for w in waiting {
            assert!(w.await.expect("task"), "every queued login gets its turn");
        }
    }

    #[test]
    fn a_flood_of_made_up_accounts_stays_bounded() {
        let mut table = Table::<String>::default();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED + 10) {
            table.fail(&format!("{i}@example.com"), ACCOUNT_FREE_FAILURES, now);
        }
        assert!(table.entries.len() <= MAX_TRACKED);
    }
}
