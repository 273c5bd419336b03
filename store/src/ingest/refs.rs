//! Reference checks of the ingest transaction: one id-set query per table and reference kind,
//! one SQL text for both backends.

use std::collections::HashSet;

use uuid::Uuid;

use crate::StoreError;
use crate::query::sql::{Arg, Sql, WriteTx};
use crate::rows::Columns;

use super::unique;

/// The tables ingest writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Sessions,
    Runs,
    Spans,
    Events,
    Scores,
    PromptVersions,
}

impl Table {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Table::Sessions => "sessions",
            Table::Runs => "runs",
            Table::Spans => "spans",
            Table::Events => "events",
            Table::Scores => "scores",
            Table::PromptVersions => "prompt_versions",
        }
    }

    /// The singular used in error details ("run … not found for project").
    const fn noun(self) -> &'static str {
        match self {
            Table::Sessions => "session",
            Table::Runs => "run",
            Table::Spans => "span",
            Table::Events => "event",
            Table::Scores => "score",
            Table::PromptVersions => "prompt version",
        }
    }
}

/// Of `ids`, those stored in `table` for the transaction's project.
pub(crate) async fn ids_in_project<T: WriteTx>(
    tx: &mut T,
    table: Table,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, StoreError> {
    let mut q = Sql::new(T::DIALECT);
    let name = q.table(table.name());
    q.push(&format!("SELECT id FROM {name} WHERE ")).in_ids("id", ids.to_vec());
    q.push(" AND ").project_is("project_id", tx.project());
    tx.fetch_all(q).await?.iter().map(|row| row.uuid("id")).collect()
}

/// One of `ids` stored in `table` under another project, if any.
async fn foreign_id<T: WriteTx>(tx: &mut T, table: Table, ids: &[Uuid]) -> Result<Option<Uuid>, StoreError> {
    let mut q = Sql::new(T::DIALECT);
    let name = q.table(table.name());
    q.push(&format!("SELECT id FROM {name} WHERE ")).in_ids("id", ids.to_vec());
    q.push(" AND project_id <> ").arg(Arg::Uuid(tx.project())).push(" LIMIT 1");
    tx.fetch_all(q).await?.first().map(|row| row.uuid("id")).transpose()
}

/// `(span id, run id)` of those of `ids` stored in the transaction's project.
pub(crate) async fn span_runs<T: WriteTx>(tx: &mut T, ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
    let mut q = Sql::new(T::DIALECT);
    let spans = q.table("spans");
    q.push(&format!("SELECT id, run_id FROM {spans} WHERE ")).in_ids("id", ids.to_vec());
    q.push(" AND ").project_is("project_id", tx.project());
    tx.fetch_all(q).await?.iter().map(|row| Ok((row.uuid("id")?, row.uuid("run_id")?))).collect()
}

/// Every id of `refs` must be stored in `table` for this project.
pub(crate) async fn require<T: WriteTx>(
    tx: &mut T,
    table: Table,
    refs: Vec<Uuid>,
    label: &str,
) -> Result<(), StoreError> {
    if refs.is_empty() {
        return Ok(());
    }
    let found: HashSet<Uuid> = ids_in_project(tx, table, &refs).await?.into_iter().collect();
    match refs.iter().find(|id| !found.contains(id)) {
        Some(id) => Err(StoreError::InvalidReference(format!("{label} {id} not found for project"))),
        None => Ok(()),
    }
}

/// None of `ids` may be stored in `table` under another project. Checked after the upsert
/// (whose guard leaves such rows untouched), so a concurrent writer cannot slip in between;
/// and only when the upsert wrote fewer rows than it was given (`written`), since a row of
/// another project is never written.
pub(crate) async fn owned<T: WriteTx>(
    tx: &mut T,
    table: Table,
    ids: Vec<Uuid>,
    written: u64,
) -> Result<(), StoreError> {
    if ids.is_empty() || written == ids.len() as u64 {
        return Ok(());
    }
    match foreign_id(tx, table, &ids).await? {
        Some(id) => Err(StoreError::InvalidReference(format!("{} {id} belongs to a different project", table.noun()))),
        None => Ok(()),
    }
}

/// Of `refs`, those not in `known` (ids this batch already wrote or checked).
pub(crate) fn unknown(refs: impl IntoIterator<Item = Uuid>, known: &HashSet<Uuid>) -> Vec<Uuid> {
    unique(refs.into_iter().filter(|id| !known.contains(id)))
}
