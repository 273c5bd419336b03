//! Records by id, projects and their keys, migrations and figures: one SQL text for both
//! backends (see `query::sql`), over [`Backend`].

use chrono::Utc;
use northstar_wire::{Event, Run, Score, Session, Span};
use uuid::Uuid;

use crate::backend::{Backend, in_transaction};
use crate::query::sql::{Arg, Dialect, Reader, Sql, WriteTx};
use crate::rows::{self, Columns, Listing, select};
use crate::{IngestCounts, Project, StoreError};

/// One row of `table` by id within the project, decoded.
async fn get<R: Reader, T>(
    r: &R,
    table: &str,
    columns: &str,
    project: Uuid,
    id: Uuid,
    decode: impl Fn(&R::Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut q = r.sql();
    let name = q.table(table);
    q.push(&format!("SELECT {columns} FROM {name} WHERE project_id = ")).arg(Arg::Uuid(project));
    q.push(" AND id = ").arg(Arg::Uuid(id));
    r.fetch_all(q).await?.first().map(decode).transpose()
}

/// The rows of `listing` under `parent`, within the project, decoded.
async fn list<R: Reader, T>(
    r: &R,
    listing: &Listing,
    project: Uuid,
    parent: Uuid,
    decode: impl Fn(&R::Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut q = r.sql();
    let table = q.table(listing.table);
    q.push(&format!("SELECT {} FROM {table} WHERE project_id = ", listing.columns)).arg(Arg::Uuid(project));
    q.push(&format!(" AND {} = ", listing.parent)).arg(Arg::Uuid(parent));
    q.push(&format!(" ORDER BY {}", listing.order));
    if listing.then_recorded {
        let recorded = q.recorded();
        q.push(&format!(", {recorded}"));
    }
    r.fetch_all(q).await?.iter().map(decode).collect()
}

pub(crate) async fn get_session<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<Session>, StoreError> {
    get(r, "sessions", select::SESSION, project, id, rows::session).await
}

pub(crate) async fn get_run<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<Run>, StoreError> {
    get(r, "runs", select::RUN, project, id, rows::run).await
}

pub(crate) async fn get_span<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<Span>, StoreError> {
    get(r, "spans", select::SPAN, project, id, rows::span).await
}

pub(crate) async fn get_event<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<Event>, StoreError> {
    get(r, "events", select::EVENT, project, id, rows::event).await
}

pub(crate) async fn get_score<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<Score>, StoreError> {
    let q = r.sql();
    // The enum columns are read as text on both backends.
    let columns = format!(
        "id, trace_id, span_id, name, value, {} AS data_type, string_value, {} AS source, comment, created_at",
        q.as_text("data_type"),
        q.as_text("source")
    );
    get(r, "scores", &columns, project, id, rows::score).await
}

pub(crate) async fn list_runs<R: Reader>(r: &R, project: Uuid, session: Uuid) -> Result<Vec<Run>, StoreError> {
    list(r, &rows::RUNS_OF_SESSION, project, session, rows::run).await
}

pub(crate) async fn list_spans<R: Reader>(r: &R, project: Uuid, run: Uuid) -> Result<Vec<Span>, StoreError> {
    list(r, &rows::SPANS_OF_RUN, project, run, rows::span).await
}

pub(crate) async fn list_events<R: Reader>(r: &R, project: Uuid, run: Uuid) -> Result<Vec<Event>, StoreError> {
    list(r, &rows::EVENTS_OF_RUN, project, run, rows::event).await
}

/// The spans and the events of a set of runs of the project (two reads, whatever the number
/// of runs), each in its run's order: spans by start, events by creation.
pub(crate) async fn trees_of<R: Reader>(
    r: &R,
    project: Uuid,
    runs: &[Uuid],
) -> Result<(Vec<Span>, Vec<Event>), StoreError> {
    if runs.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut q = r.sql();
    let spans = q.table("spans");
    q.push(&format!("SELECT {} FROM {spans} WHERE ", select::SPAN)).in_ids("run_id", runs.to_vec());
    q.push(" AND ").project_is("project_id", project).push(" ORDER BY run_id, started_at, id");
    let spans = r.fetch_all(q).await?.iter().map(rows::span).collect::<Result<Vec<_>, _>>()?;
    let mut q = r.sql();
    let (events, recorded) = (q.table("events"), q.recorded());
    q.push(&format!("SELECT {} FROM {events} WHERE ", select::EVENT)).in_ids("run_id", runs.to_vec());
    q.push(" AND ").project_is("project_id", project).push(&format!(" ORDER BY run_id, created_at, {recorded}"));
    let events = r.fetch_all(q).await?.iter().map(rows::event).collect::<Result<Vec<_>, _>>()?;
    Ok((spans, events))
}

pub(crate) async fn list_node_events<R: Reader>(
    r: &R,
    project: Uuid,
    run: Uuid,
    span: Option<Uuid>,
) -> Result<Vec<Event>, StoreError> {
    let mut q = r.sql();
    let events = q.table("events");
    q.push(&format!("SELECT {} FROM {events} WHERE project_id = ", select::EVENT)).arg(Arg::Uuid(project));
    // By (run_id, span_id, created_at): the index the run page's reads use.
    q.push(" AND run_id = ").arg(Arg::Uuid(run));
    match span {
        Some(span) => q.push(" AND span_id = ").arg(Arg::Uuid(span)),
        None => q.push(" AND span_id IS NULL"),
    };
    // Events at one instant (a system prompt and the user's message) as they were recorded.
    let recorded = q.recorded();
    q.push(&format!(" ORDER BY created_at, {recorded}"));
    r.fetch_all(q).await?.iter().map(rows::event).collect()
}

pub(crate) async fn count_records<R: Reader>(r: &R, project: Uuid) -> Result<IngestCounts, StoreError> {
    let mut q = r.sql();
    let p1 = q.p1();
    for (i, table) in ["sessions", "runs", "spans", "events", "scores"].into_iter().enumerate() {
        let name = q.table(table);
        q.push(&format!("{} (SELECT count(*) FROM {name} WHERE project_id = ", if i == 0 { "SELECT" } else { "," }));
        if i == 0 {
            q.arg(Arg::Uuid(project));
        } else {
            q.push(p1);
        }
        q.push(&format!(") AS {table}"));
    }
    let rows = r.fetch_all(q).await?;
    let row = rows.first().ok_or(StoreError::Corrupt("record counts"))?;
    let n = |col: &'static str| row.i64(col).map(|v| usize::try_from(v).unwrap_or(0));
    Ok(IngestCounts {
        sessions: n("sessions")?,
        runs: n("runs")?,
        spans: n("spans")?,
        events: n("events")?,
        scores: n("scores")?,
    })
}

/// The project of the active (not revoked) ingest key with this hash.
pub(crate) async fn resolve_api_key<R: Reader>(r: &R, key_hash: &str) -> Result<Option<Uuid>, StoreError> {
    let mut q = r.sql();
    let keys = q.table("api_keys");
    q.push(&format!("SELECT project_id FROM {keys} WHERE key_hash = ")).arg(Arg::Text(key_hash.to_owned()));
    q.push(" AND revoked_at IS NULL AND scope = 'ingest'");
    r.fetch_all(q).await?.first().map(|row| row.uuid("project_id")).transpose()
}

pub(crate) async fn list_projects<R: Reader>(r: &R) -> Result<Vec<Project>, StoreError> {
    let mut q = r.sql();
    let (projects, keys) = (q.table("projects"), q.table("api_keys"));
    q.push(&format!(
        "SELECT p.id, p.name, p.created_at, k.created_at AS key_created_at, k.revoked_at, p.retention_days
         FROM {projects} p LEFT JOIN {keys} k ON k.project_id = p.id AND k.is_project_key = TRUE
         ORDER BY p.created_at, p.id"
    ));
    r.fetch_all(q).await?.iter().map(rows::project).collect()
}

pub(crate) async fn create_project<B: Backend>(b: &B, name: &str, key_hash: &str) -> Result<Project, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid("project name must not be empty".into()));
    }
    let id = Uuid::new_v4();
    // Microseconds, taken here: SQLite's column default (strftime's %f) has only milliseconds.
    let created_at = Utc::now();
    in_transaction!(b, id, |tx| {
        let mut q = Sql::new(B::DIALECT);
        let projects = q.table("projects");
        q.push(&format!("INSERT INTO {projects} (id, name, created_at) VALUES (")).arg(Arg::Uuid(id));
        q.push(", ").arg(Arg::Text(name.to_owned())).push(", ").arg(Arg::Ts(created_at)).push(")");
        tx.fetch_all(q).await?;
        insert_key(&mut tx, key_hash, created_at).await?
    });
    Ok(Project {
        id,
        name: name.to_owned(),
        created_at,
        key_created_at: Some(created_at),
        key_revoked_at: None,
        retention_days: None,
    })
}

pub(crate) async fn rotate_key<B: Backend>(b: &B, project: Uuid, key_hash: &str) -> Result<(), StoreError> {
    in_transaction!(b, project, |tx| {
        let mut q = Sql::new(B::DIALECT);
        let projects = q.table("projects");
        q.push(&format!("SELECT id FROM {projects} WHERE id = ")).arg(Arg::Uuid(project));
        if B::DIALECT == Dialect::Postgres {
            // A concurrent delete of the project waits (SQLite's writers take turns anyway).
            q.push(" FOR UPDATE");
        }
        if tx.fetch_all(q).await?.is_empty() {
            return Err(StoreError::ProjectNotFound(project));
        }
        insert_key(&mut tx, key_hash, Utc::now()).await?
    });
    Ok(())
}

pub(crate) async fn revoke_key<B: Backend>(b: &B, project: Uuid) -> Result<bool, StoreError> {
    Ok(in_transaction!(b, project, |tx| {
        let mut q = Sql::new(B::DIALECT);
        let keys = q.table("api_keys");
        q.push(&format!("SELECT revoked_at FROM {keys} WHERE is_project_key = TRUE AND project_id = "));
        q.arg(Arg::Uuid(project));
        let Some(row) = tx.fetch_all(q).await?.into_iter().next() else {
            return Err(StoreError::ProjectNotFound(project));
        };
        if row.opt_ts("revoked_at")?.is_some() {
            false
        } else {
            let mut q = Sql::new(B::DIALECT);
            q.push(&format!("UPDATE {keys} SET revoked_at = ")).arg(Arg::Ts(Utc::now()));
            q.push(" WHERE project_id = ").arg(Arg::Uuid(project));
            q.push(" AND is_project_key = TRUE AND revoked_at IS NULL");
            tx.fetch_all(q).await?;
            true
        }
    }))
}

/// Replaces the project key (the original's rotation semantics); the project's named keys
/// stay.
async fn insert_key<T: WriteTx>(
    tx: &mut T,
    key_hash: &str,
    created_at: chrono::DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut q = Sql::new(T::DIALECT);
    let keys = q.table("api_keys");
    q.push(&format!("DELETE FROM {keys} WHERE is_project_key = TRUE AND project_id = ")).arg(Arg::Uuid(tx.project()));
    tx.fetch_all(q).await?;
    crate::keys::insert(tx, "Project key", crate::KeyScope::Ingest, true, key_hash, created_at).await?;
    Ok(())
}

/// Applies pending migrations, then any rebuild a migration asked for.
pub(crate) async fn migrate<B: Backend>(b: &B) -> Result<(), StoreError> {
    b.run_migrations().await?;
    let mut q = b.sql();
    let pending = q.table("pending_rebuilds");
    q.push(&format!("SELECT what FROM {pending} WHERE what = 'figures'"));
    if !b.fetch_all(q).await?.is_empty() {
        rebuild_figures(b).await?;
    }
    Ok(())
}

/// Recomputes every project's figures in one transaction.
pub(crate) async fn rebuild_figures<B: Backend>(b: &B) -> Result<(), StoreError> {
    in_transaction!(b, Uuid::nil(), |tx| {
        let mut q = Sql::new(B::DIALECT);
        let projects = q.table("projects");
        q.push(&format!("SELECT id FROM {projects}"));
        let projects = tx.fetch_all(q).await?.iter().map(|row| row.uuid("id")).collect::<Result<Vec<_>, _>>()?;
        for project in projects {
            for sql in crate::ingest::figures::rebuild(B::DIALECT, project) {
                tx.fetch_all(sql).await?;
            }
        }
        let mut q = Sql::new(B::DIALECT);
        let pending = q.table("pending_rebuilds");
        q.push(&format!("DELETE FROM {pending} WHERE what = 'figures'"));
        tx.fetch_all(q).await?;
    });
    Ok(())
}

/// Whether the database answers and every migration this build knows is applied.
pub(crate) async fn ready<B: Backend>(b: &B) -> Result<bool, StoreError> {
    let applied = b.applied_migrations().await?;
    Ok(applied >= i64::try_from(B::MIGRATIONS.len()).unwrap_or(i64::MAX))
}

/// One retention pass (`Store::delete_runs_before`) in one transaction.
pub(crate) async fn delete_runs_before<B: Backend>(
    b: &B,
    project: Uuid,
    cutoff: chrono::DateTime<Utc>,
    limit: u32,
) -> Result<u64, StoreError> {
    let which = crate::access::RunsToDelete::Before { cutoff, limit };
    Ok(in_transaction!(b, project, |tx| crate::access::delete_runs(&mut tx, which).await?))
}

/// Deletes one run of the project with everything below it; false when it is not the project's.
pub(crate) async fn delete_run<B: Backend>(b: &B, project: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let which = crate::access::RunsToDelete::Run(id);
    Ok(in_transaction!(b, project, |tx| crate::access::delete_runs(&mut tx, which).await?) > 0)
}

/// Deletes one session of the project with its runs; `None` when it is not the project's, else
/// the number of runs deleted.
pub(crate) async fn delete_session<B: Backend>(b: &B, project: Uuid, id: Uuid) -> Result<Option<u64>, StoreError> {
    Ok(in_transaction!(b, project, |tx| crate::access::delete_session(&mut tx, id).await?))
}
