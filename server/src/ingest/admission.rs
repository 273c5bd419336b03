//! Ingest under overload: at most so many requests are stored at once, and when all those
//! places are taken a project that already holds its fair share of them (the places divided by
//! the projects holding any) is told to come back later (429, `Retry-After: 1`), while a
//! project below its share waits for the next free place. So nobody is throttled while the
//! server keeps up, and one busy key cannot starve the others when it does not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// Shared by every ingest request of a server.
#[derive(Debug, Clone)]
pub struct Admission {
    places: Arc<Semaphore>,
    total: usize,
    /// Places held (or waited for) per project.
    held: Arc<Mutex<HashMap<Uuid, usize>>>,
}

/// A place taken by a request, given back when dropped.
#[derive(Debug)]
pub(crate) struct Place {
    _permit: OwnedSemaphorePermit,
    _holder: Holder,
}

/// One project's claim in `held`, counted while a request holds or waits for a place.
#[derive(Debug)]
struct Holder {
    held: Arc<Mutex<HashMap<Uuid, usize>>>,
    project: Uuid,
}

impl Drop for Holder {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = held.get_mut(&self.project) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.project);
            }
        }
    }
}

impl Admission {
    /// `places` requests stored at once (at least 1).
    #[must_use]
    pub fn new(places: usize) -> Self {
        let total = places.max(1);
        Self { places: Arc::new(Semaphore::new(total)), total, held: Arc::default() }
    }

    /// A place for a request of `project`, or `None` when every place is taken and the project
    /// already holds its fair share.
    pub(crate) async fn admit(&self, project: Uuid) -> Option<Place> {
        let holder = {
            let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let saturated = self.places.available_permits() == 0;
            let mine = held.get(&project).copied().unwrap_or(0);
            let projects = held.len() + usize::from(mine == 0);
            if saturated && mine >= (self.total / projects).max(1) {
                return None;
            }
            *held.entry(project).or_insert(0) += 1;
            Holder { held: self.held.clone(), project }
        };
        let permit = self.places.clone().acquire_owned().await.expect("the semaphore is never closed");
        Some(Place { _permit: permit, _holder: holder })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_project_over_its_share_is_refused_only_while_the_server_is_full() {
        let admission = Admission::new(4);
        let (busy, quiet) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut places = Vec::new();
        for _ in 0..4 {
            places.push(admission.admit(busy).await.expect("room"));
        }
        assert!(admission.admit(busy).await.is_none(), "full, and the busy project holds everything");
        // The quiet project is under its share: it waits for a place instead of a 429.
        let waiting = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit(quiet).await.is_some() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "waits while all places are taken");
        places.pop();
        assert!(tokio::time::timeout(Duration::from_secs(1), waiting).await.expect("admitted").expect("task"));
        drop(places);
        assert!(admission.admit(busy).await.is_some(), "room again: nobody is throttled");
        assert!(admission.held.lock().expect("lock").is_empty(), "every claim is given back");
    }
}
