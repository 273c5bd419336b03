//! The sessions list (status, time range, search, sort, pages) and one session's row.

use uuid::Uuid;

use super::sql::{Arg, Reader, Sql};
use super::{Page, SessionFilter, SessionRow, SessionSort, SessionStatus, count, push_range, run_figures, span_totals};
use crate::StoreError;
use crate::rows::Columns;

/// The `WHERE` conditions on sessions `s`, after `s.project_id = P1`.
fn push_filters(q: &mut Sql, f: &SessionFilter) {
    push_range(q, "s.created_at", &f.range);
    if let Some(text) = f.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let n = q.pattern(text);
        let (sid, rid) = (q.as_text("s.id"), q.as_text("r2.id"));
        let (runs, p1) = (q.table("runs"), q.p1());
        q.push(" AND (");
        q.like(&sid, n).push(" OR ");
        q.json_values_like("s.metadata", n);
        q.push(&format!(
            " OR EXISTS (SELECT 1 FROM {runs} r2 WHERE r2.project_id = {p1} AND r2.session_id = s.id AND ("
        ));
        q.like(&rid, n).push(" OR ").like("r2.name", n).push(" OR ");
        q.json_values_like("r2.metadata", n).push(")))");
    }
}

/// Everything up to the final `SELECT … FROM rows`: CTEs `sess` (the sessions, paged already
/// when `page` is given), `runs_in`, `agg` and `rows` (one row per session with its figures).
fn push_rows(q: &mut Sql, project: Uuid, f: &SessionFilter, page: Option<(u32, u32)>, only: Option<Uuid>) {
    let (sessions, runs) = (q.table("sessions"), q.table("runs"));
    q.push("WITH sess AS (SELECT s.id, s.created_at, s.ended_at, s.metadata FROM ")
        .push(&sessions)
        .push(" s WHERE s.project_id = ")
        .arg(Arg::Uuid(project));
    push_filters(q, f);
    if let Some(id) = only {
        q.push(" AND s.id = ").arg(Arg::Uuid(id));
    }
    if let Some((limit, offset)) = page {
        q.push(&format!(" ORDER BY s.created_at DESC, s.id DESC LIMIT {limit} OFFSET {offset}"));
    }
    let totals = span_totals(q, "SELECT id FROM runs_in");
    let figures = run_figures(q);
    let duration = q.millis("sess.created_at", "COALESCE(sess.ended_at, agg.last_at)");
    let p1 = q.p1();
    q.push(&format!(
        "),
        runs_in AS (SELECT r.id, r.session_id, r.status, r.started_at, r.ended_at, r.metadata FROM {runs} r
                    WHERE r.project_id = {p1} AND r.session_id IN (SELECT id FROM sess)),
        figures AS (SELECT r.session_id, r.status, r.started_at, r.ended_at, {figures}
                    FROM runs_in r LEFT JOIN ({totals}) a ON a.run_id = r.id),
        agg AS (SELECT session_id, COUNT(*) AS runs,
                       SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errored,
                       MAX(COALESCE(ended_at, started_at)) AS last_at,
                       SUM(tool_calls) AS tool_calls, SUM(cost_usd) AS cost_usd,
                       SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens
                FROM figures GROUP BY session_id),
        rows AS (SELECT sess.id, sess.created_at, sess.ended_at, sess.metadata,
                        CASE WHEN COALESCE(agg.errored, 0) > 0 THEN 'errored'
                             WHEN sess.ended_at IS NULL THEN 'active' ELSE 'completed' END AS status,
                        {duration} AS duration_ms,
                        CAST(COALESCE(agg.runs, 0) AS BIGINT) AS runs,
                        CAST(COALESCE(agg.errored, 0) AS BIGINT) AS errored_runs,
                        CAST(COALESCE(agg.tool_calls, 0) AS BIGINT) AS tool_calls,
                        CAST(COALESCE(agg.cost_usd, 0) AS DOUBLE PRECISION) AS cost_usd,
                        CAST(COALESCE(agg.input_tokens, 0) AS DOUBLE PRECISION) AS input_tokens,
                        CAST(COALESCE(agg.output_tokens, 0) AS DOUBLE PRECISION) AS output_tokens
                 FROM sess LEFT JOIN agg ON agg.session_id = sess.id)"
    ));
}

fn order_by(f: &SessionFilter) -> String {
    let dir = if f.descending { "DESC" } else { "ASC" };
    let key = match f.sort {
        SessionSort::Started => "created_at",
        SessionSort::Duration => "duration_ms",
        SessionSort::Runs => "runs",
        SessionSort::ToolCalls => "tool_calls",
        SessionSort::Cost => "cost_usd",
        SessionSort::Tokens => "(input_tokens + output_tokens)",
    };
    // Missing values last in both directions and on both backends; ids break ties.
    format!("{key} IS NULL, {key} {dir}, id {dir}")
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
    })
}

pub(crate) async fn session_rows<R: Reader>(
    r: &R,
    project: Uuid,
    f: &SessionFilter,
) -> Result<Page<SessionRow>, StoreError> {
    // The default view (newest first, any status) pages the sessions before aggregating, so
    // it reads only one page of runs; other sorts and the status filter need every session's
    // figures first.
    let fast = f.sort == SessionSort::Started && f.descending && f.status.is_none();
    let mut q = r.sql();
    if fast {
        push_rows(&mut q, project, f, Some((f.limit, f.offset)), None);
        q.push(" SELECT * FROM rows ORDER BY created_at DESC, id DESC");
        let rows = r.fetch_all(q).await?.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let mut c = r.sql();
        let sessions = c.table("sessions");
        c.push("SELECT COUNT(*) AS n FROM ").push(&sessions).push(" s WHERE s.project_id = ").arg(Arg::Uuid(project));
        push_filters(&mut c, f);
        let total = super::count_of(r, c).await?;
        return Ok(Page { rows, total });
    }
    push_rows(&mut q, project, f, None, None);
    q.push(" SELECT rows.*, COUNT(*) OVER () AS total FROM rows WHERE 1 = 1");
    if let Some(status) = f.status {
        q.push(" AND status = ").arg(Arg::Text(status.as_str().to_owned()));
    }
    q.push(&format!(" ORDER BY {} LIMIT {} OFFSET {}", order_by(f), f.limit, f.offset));
    let found = r.fetch_all(q).await?;
    let total = match found.first() {
        Some(row) => row.i64("total")?,
        // Past the last page the window has no row to report on; count separately.
        None if f.offset > 0 => {
            let mut all = f.clone();
            all.offset = 0;
            all.limit = 1;
            return Ok(Page { rows: Vec::new(), total: Box::pin(session_rows(r, project, &all)).await?.total });
        }
        None => 0,
    };
    Ok(Page { rows: found.iter().map(decode).collect::<Result<Vec<_>, _>>()?, total })
}

pub(crate) async fn session_row<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<SessionRow>, StoreError> {
    let mut q = r.sql();
    push_rows(&mut q, project, &SessionFilter::default(), None, Some(id));
    q.push(" SELECT * FROM rows");
    r.fetch_all(q).await?.first().map(decode).transpose()
}
