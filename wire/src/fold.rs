//! What happens when the same id arrives twice.
//!
//! The original wrote records one at a time, so a record repeated inside a batch was an insert
//! followed by an upsert. We write each table with one statement, which cannot touch a row twice,
//! so repeated ids are folded here with exactly the upsert rules the store applies against stored
//! rows (reference §1.9, plus deliberate fix (e): a final status never goes back to `running`).
//! The first occurrence keeps its position; immutable fields come from it.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::{Event, Run, Score, Session, Span};

/// Applying a later copy of a record onto an earlier one, as `ON CONFLICT (id) DO UPDATE` does.
pub(crate) trait Upsert {
    fn id(&self) -> Uuid;
    fn absorb(&mut self, later: Self);
}

impl Upsert for Session {
    fn id(&self) -> Uuid {
        self.id
    }
    fn absorb(&mut self, later: Self) {
        self.ended_at = later.ended_at.or(self.ended_at);
        self.metadata = later.metadata;
    }
}

impl Upsert for Run {
    fn id(&self) -> Uuid {
        self.id
    }
    fn absorb(&mut self, later: Self) {
        if self.status.is_final() && !later.status.is_final() {
            return;
        }
        self.ended_at = later.ended_at.or(self.ended_at);
        self.status = later.status;
        self.error = later.error;
        self.metadata = later.metadata;
    }
}

impl Upsert for Span {
    fn id(&self) -> Uuid {
        self.id
    }
    fn absorb(&mut self, later: Self) {
        if self.status.is_final() && !later.status.is_final() {
            return;
        }
        self.ended_at = later.ended_at.or(self.ended_at);
        self.status = later.status;
        self.error = later.error;
        self.attributes = later.attributes;
    }
}

impl Upsert for Event {
    fn id(&self) -> Uuid {
        self.id
    }
    fn absorb(&mut self, later: Self) {
        self.content = later.content;
        self.attributes = later.attributes;
    }
}

impl Upsert for Score {
    fn id(&self) -> Uuid {
        self.id
    }
    fn absorb(&mut self, later: Self) {
        *self = later;
    }
}

/// Folds repeated ids into their first occurrence, keeping first-occurrence order.
pub(crate) fn fold<T: Upsert>(records: Vec<T>) -> Vec<T> {
    let mut position: HashMap<Uuid, usize> = HashMap::with_capacity(records.len());
    let mut out: Vec<T> = Vec::with_capacity(records.len());
    for record in records {
        match position.get(&record.id()) {
            Some(&at) => out[at].absorb(record),
            None => {
                position.insert(record.id(), out.len());
                out.push(record);
            }
        }
    }
    out
}

/// Orders spans so that a parent present in the batch precedes its children: roots (no parent,
/// or a parent outside the batch) in input order, each followed depth-first by its children in
/// input order; spans only reachable through a parent cycle follow, walked from the input list.
/// This is the original's order. Where the original silently dropped a repeated span id, the
/// repeat is folded into the first occurrence (see the module docs), so nothing sent is lost.
pub(crate) fn order_spans(spans: Vec<Span>) -> Vec<Span> {
    let spans = fold(spans);
    let ids: HashSet<Uuid> = spans.iter().map(|s| s.id).collect();
    let mut children: HashMap<Uuid, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        match span.parent_span_id.filter(|p| ids.contains(p)) {
            Some(parent) => children.entry(parent).or_default().push(i),
            None => roots.push(i),
        }
    }

    let mut order = Vec::with_capacity(spans.len());
    let mut seen = vec![false; spans.len()];
    let mut stack = Vec::new();
    for start in roots.into_iter().chain(0..spans.len()) {
        stack.push(start);
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            order.push(i);
            if let Some(kids) = children.get(&spans[i].id) {
                stack.extend(kids.iter().rev());
            }
        }
    }

    let mut slots: Vec<Option<Span>> = spans.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// Parent ids that must already be stored: those not placed earlier in `ordered`.
pub(crate) fn parents_outside(ordered: &[Span]) -> Vec<Uuid> {
    let mut placed = HashSet::with_capacity(ordered.len());
    let mut outside = Vec::new();
    for span in ordered {
        if let Some(parent) = span.parent_span_id
            && !placed.contains(&parent)
        {
            outside.push(parent);
        }
        placed.insert(span.id);
    }
    outside.sort_unstable();
    outside.dedup();
    outside
}
