//! The sessions list (status, time range, search, sort, pages) and one session's row.

use uuid::Uuid;

use super::sql::{Arg, Reader, Sql};
use super::{
    Page, SessionFilter, SessionRow, SessionSort, SessionStatus, count, first_input, metadata_user, push_range,
};
use crate::StoreError;
use crate::rows::Columns;

/// The `WHERE` conditions on sessions `s`, after `s.project_id = P1`.
fn push_filters(q: &mut Sql, f: &SessionFilter) {
    push_range(q, "s.created_at", &f.range);
    if f.sort == SessionSort::Started {
        super::push_after(q, ("s.created_at", "s.id"), f.after, f.descending);
    }
    if let Some(status) = f.status {
        q.push(" AND s.status = ").arg(Arg::Text(status.as_str().to_owned()));
    }
    if let Some(text) = f.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        // The sessions whose id or metadata values match, and those of the runs whose id, name
        // or metadata values match; each side first through its trigram index on Postgres.
        let n = q.pattern(text);
        let (sid, rid) = (q.as_text("s2.id"), q.as_text("r2.id"));
        let (sessions, runs, p1) = (q.table("sessions"), q.table("runs"), q.p1());
        q.push(&format!(" AND s.id IN (SELECT s2.id FROM {sessions} s2 WHERE s2.project_id = {p1} AND "));
        q.search_prefilter("s2.id", "NULL", "s2.metadata", n).push("(");
        q.like(&sid, n).push(" OR ");
        q.json_values_like("s2.metadata", n);
        q.push(&format!(") UNION SELECT r2.session_id FROM {runs} r2 WHERE r2.project_id = {p1} AND "));
        q.search_prefilter("r2.id", "r2.name", "r2.metadata", n).push("(");
        q.like(&rid, n).push(" OR ").like("r2.name", n).push(" OR ");
        q.json_values_like("r2.metadata", n).push("))");
    }
}

/// The columns of a sessions-list row, over sessions `s` (their figures are kept in columns:
/// see [`crate::figures`]).
const COLUMNS: &str = "s.id, s.created_at, s.ended_at, s.metadata, s.status,
    CASE WHEN s.ended_at IS NULL AND s.last_at IS NULL THEN NULL ELSE s.duration_ms END AS duration_ms,
    s.run_count AS runs, s.errored_runs, s.tool_calls, s.cost_usd, s.input_tokens, s.output_tokens";

/// Each sort has its index (migration 0004); ids break ties.
fn order_by(f: &SessionFilter) -> String {
    let dir = if f.descending { "DESC" } else { "ASC" };
    let key = match f.sort {
        SessionSort::Started => "s.created_at",
        SessionSort::Duration => "s.duration_ms",
        SessionSort::Runs => "s.run_count",
        SessionSort::ToolCalls => "s.tool_calls",
        SessionSort::Cost => "s.cost_usd",
        SessionSort::Tokens => "s.tokens",
    };
    format!("{key} {dir}, s.id {dir}")
}

fn decode(row: &impl Columns) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        id: row.uuid("id")?,
        created_at: row.ts("created_at")?,
        ended_at: row.opt_ts("ended_at")?,
        status: row.parsed("status", SessionStatus::parse)?,
        duration_ms: row.opt_f64("duration_ms")?,
        runs: row.i64("runs")?,
        errored_runs: row.i64("errored_runs")?,
        tool_calls: row.i64("tool_calls")?,
        cost_usd: row.f64("cost_usd")?,
        input_tokens: count(row.f64("input_tokens")?),
        output_tokens: count(row.f64("output_tokens")?),
        metadata: row.json("metadata")?,
        user: None,
        first_run: None,
        input: None,
    })
}

/// Fills in each session's user, first run and first input (a list's previews): one read
/// for the page, each session's first run by the (session, start) index.
async fn add_previews<R: Reader>(r: &R, project: Uuid, rows: &mut [SessionRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = r.sql();
    let (sessions, runs) = (q.table("sessions"), q.table("runs"));
    let (input, user) = (first_input(&q, "fr.id"), q.metadata_user("fr.metadata"));
    q.push(&format!(
        "SELECT f.session_id, fr.name AS first_run, {user} AS user_name, {input} AS input
         FROM (SELECT s.id AS session_id,
                      (SELECT r.id FROM {runs} r WHERE r.session_id = s.id ORDER BY r.started_at, r.id LIMIT 1) AS run_id
               FROM {sessions} s WHERE s.project_id = "
    ));
    q.arg(Arg::Uuid(project)).push(" AND ").in_ids("s.id", rows.iter().map(|s| s.id).collect());
    q.push(&format!(") f LEFT JOIN {runs} fr ON fr.id = f.run_id"));
    let mut found = std::collections::HashMap::new();
    for row in r.fetch_all(q).await? {
        let first = (row.opt_text("first_run")?, row.opt_text("user_name")?, row.opt_text("input")?);
        found.insert(row.uuid("session_id")?, first);
    }
    for s in rows {
        let (first_run, user, input) = found.remove(&s.id).unwrap_or_default();
        s.user = metadata_user(&s.metadata).or(user);
        (s.first_run, s.input) = (first_run, input);
    }
    Ok(())
}

pub(crate) async fn session_rows<R: Reader>(
    r: &R,
    project: Uuid,
    f: &SessionFilter,
) -> Result<Page<SessionRow>, StoreError> {
    let sessions = r.sql().table("sessions");
    let mut q = r.sql();
    q.push(&format!("SELECT {COLUMNS} FROM {sessions} s WHERE s.project_id = ")).arg(Arg::Uuid(project));
    push_filters(&mut q, f);
    q.push(&format!(" ORDER BY {} LIMIT {} OFFSET {}", order_by(f), f.limit, f.offset));
    let mut rows = r.fetch_all(q).await?.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    add_previews(r, project, &mut rows).await?;
    let page = (f.offset, f.limit, rows.len());
    let total = super::page_total(r, page, ("sessions", "s"), project, |c| push_filters(c, f)).await?;
    Ok(Page { rows, total })
}

pub(crate) async fn session_row<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<SessionRow>, StoreError> {
    let mut q = r.sql();
    let sessions = q.table("sessions");
    q.push(&format!("SELECT {COLUMNS} FROM {sessions} s WHERE s.project_id = ")).arg(Arg::Uuid(project));
    q.push(" AND s.id = ").arg(Arg::Uuid(id));
    let Some(row) = r.fetch_all(q).await?.first().map(decode).transpose()? else { return Ok(None) };
    let mut rows = [row];
    add_previews(r, project, &mut rows).await?;
    let [row] = rows;
    Ok(Some(row))
}
