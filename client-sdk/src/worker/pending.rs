//! Records the worker took off the queue and has not delivered yet.

use std::collections::{HashMap, VecDeque};

use smallvec::SmallVec;

use uuid::Uuid;

use super::queue::Record;

/// Records waiting to be sent. A record re-sent with the same id (a run or span that finished
/// while its `running` copy was still waiting) replaces the waiting copy in place, so it keeps
/// the earlier position (parents stay ahead of children) and travels once, in its final state.
#[derive(Debug, Default)]
pub(super) struct Pending {
    items: VecDeque<Record>,
    index: HashMap<(u8, Uuid), u64>,
    head: u64,
}

impl Pending {
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    pub(super) fn push(&mut self, record: Record) {
        let key = record.key();
        if let Some(&seq) = self.index.get(&key)
            && seq >= self.head
            && let Some(slot) = usize::try_from(seq - self.head).ok().and_then(|i| self.items.get_mut(i))
        {
            *slot = record;
            return;
        }
        self.index.insert(key, self.head + self.items.len() as u64);
        self.items.push_back(record);
    }

    /// At most `n` records for one batch. Each span is followed by the events that waited in it,
    /// which from here on are records of their own (so a batch put back keeps them); a span
    /// whose events do not fit waits for the next batch.
    pub(super) fn take(&mut self, n: usize) -> Vec<Record> {
        let mut batch = Vec::with_capacity(n.min(self.items.len()));
        while batch.len() < n {
            let Some(record) = self.items.front() else { break };
            let events = match record {
                Record::Span(span) => match span.take_events(n - batch.len(), batch.is_empty()) {
                    Some(events) => events,
                    None => break,
                },
                _ => SmallVec::new(),
            };
            let Some(record) = self.items.pop_front() else { break };
            let key = record.key();
            if self.index.get(&key) == Some(&self.head) {
                self.index.remove(&key);
            }
            self.head += 1;
            batch.push(record);
            batch.extend(events.into_iter().map(|e| Record::Event(Box::new(e))));
        }
        batch
    }

    /// Gives up on everything pending (at shutdown) and returns how many records that was,
    /// counting the events that waited inside spans. Taking those events also marks each span
    /// as read, so an event recorded on it later goes to the closed queue and is counted there.
    pub(super) fn abandon(&mut self) -> usize {
        let records: Vec<Record> = self.items.drain(..).collect();
        self.index.clear();
        let waiting: usize = records
            .iter()
            .map(|r| match r {
                Record::Span(span) => span.take_events(usize::MAX, true).map_or(0, |e| e.len()),
                _ => 0,
            })
            .sum();
        records.len() + waiting
    }

    /// Puts a batch that could not be sent back in front, where it was; newer copies of its
    /// records that arrived meanwhile take its place.
    pub(super) fn requeue(&mut self, batch: Vec<Record>) {
        let rest: Vec<Record> = self.items.drain(..).collect();
        self.index.clear();
        self.head = 0;
        for record in batch.into_iter().chain(rest) {
            self.push(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use northstar_wire::Session;
    use uuid::Uuid;

    use super::*;

    fn session(id: u128, metadata: serde_json::Value) -> Record {
        Record::Session(Box::new(Session { id: Uuid::from_u128(id), created_at: Utc::now(), ended_at: None, metadata }))
    }

    #[test]
    fn a_later_copy_replaces_the_waiting_one_in_place() {
        let mut p = Pending::default();
        p.push(session(1, json!({"v": 1})));
        p.push(session(2, json!({})));
        p.push(session(1, json!({"v": 2})));
        assert_eq!(p.len(), 2);
        let batch = p.take(10);
        assert!(matches!(&batch[0], Record::Session(s) if s.id == Uuid::from_u128(1) && s.metadata == json!({"v": 2})));
        // Once taken, a new copy is a new record.
        p.push(session(1, json!({"v": 3})));
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn a_requeued_batch_keeps_its_place_and_takes_newer_copies() {
        let mut p = Pending::default();
        p.push(session(1, json!({"v": 1})));
        p.push(session(2, json!({})));
        let batch = p.take(2);
        p.push(session(3, json!({})));
        p.push(session(1, json!({"v": 2})));
        p.requeue(batch);
        let order: Vec<_> = p.take(10).into_iter().map(|r| r.key().1.as_u128()).collect();
        assert_eq!(order, [1, 2, 3]);
        p.requeue(vec![session(1, json!({"v": 3}))]);
        assert!(matches!(&p.take(1)[0], Record::Session(s) if s.metadata == json!({"v": 3})));
    }
}
