//! The overview page: totals, per-day series, cost by model, latency percentiles.

use northstar_wire::attributes as attr;
use uuid::Uuid;

use super::sql::{Arg, Reader, Sql};
use super::{
    DayTotals, ModelTotals, Overview, RUN_FIGURE_COLUMNS, TimeRange, count, model_totals, push_range, run_figures,
    run_model,
};
use crate::StoreError;
use crate::rows::Columns;

/// CTEs `rr` (the runs in range) and `x` (each with its figures and whether its cost came
/// from its metadata; with its model when `with_model`).
fn push_runs(q: &mut Sql, project: Uuid, range: &TimeRange, with_model: bool) {
    let runs = q.table("runs");
    q.push(&format!(
        "WITH rr AS (SELECT r.id, r.status, r.started_at, r.ended_at, r.metadata, {RUN_FIGURE_COLUMNS}
                     FROM {runs} r WHERE r.project_id = "
    ));
    q.arg(Arg::Uuid(project));
    push_range(q, "r.started_at", range);
    let figures = run_figures(q);
    let (model, join) = if with_model {
        (
            format!(", {}", run_model(q)),
            format!(" LEFT JOIN ({}) a ON a.run_id = r.id", model_totals(q, "SELECT id FROM rr")),
        )
    } else {
        (String::new(), String::new())
    };
    q.push(&format!(
        "), x AS (SELECT r.id, r.status, r.started_at, r.ended_at, r.span_cost_n = 0 AS cost_from_metadata, {figures}{model}
                  FROM rr r{join})"
    ));
}

pub(crate) async fn overview<R: Reader>(r: &R, project: Uuid, range: &TimeRange) -> Result<Overview, StoreError> {
    let mut out = Overview::default();

    let mut q = r.sql();
    push_runs(&mut q, project, range, false);
    let day = q.day("x.started_at");
    q.push(&format!(
        " SELECT {day} AS day, COUNT(*) AS runs,
                 CAST(SUM(CASE WHEN x.status = 'error' THEN 1 ELSE 0 END) AS BIGINT) AS errored,
                 CAST(SUM(x.tool_calls) AS BIGINT) AS tool_calls,
                 CAST(SUM(x.cost_usd) AS DOUBLE PRECISION) AS cost_usd,
                 CAST(SUM(x.input_tokens) AS DOUBLE PRECISION) AS input_tokens,
                 CAST(SUM(x.output_tokens) AS DOUBLE PRECISION) AS output_tokens
          FROM x GROUP BY {day} ORDER BY day"
    ));
    for row in r.fetch_all(q).await? {
        let d = DayTotals {
            day: row.text("day")?,
            runs: row.i64("runs")?,
            errored_runs: row.i64("errored")?,
            tool_calls: row.i64("tool_calls")?,
            cost_usd: row.f64("cost_usd")?,
            input_tokens: count(row.f64("input_tokens")?),
            output_tokens: count(row.f64("output_tokens")?),
        };
        out.runs += d.runs;
        out.errored_runs += d.errored_runs;
        out.tool_calls += d.tool_calls;
        out.cost_usd += d.cost_usd;
        out.input_tokens += d.input_tokens;
        out.output_tokens += d.output_tokens;
        out.days.push(d);
    }

    // Cost by model: the model spans of runs priced by their spans, plus runs priced only
    // through their metadata, so that the models add up to the total.
    let mut q = r.sql();
    push_runs(&mut q, project, range, true);
    let spans = q.table("spans");
    let p1 = q.p1();
    let model = q.json_text("s.attributes", attr::MODEL);
    let (cost, input, output) = (
        q.json_num("s.attributes", attr::COST_USD),
        q.json_num("s.attributes", attr::INPUT_TOKENS),
        q.json_num("s.attributes", attr::OUTPUT_TOKENS),
    );
    q.push(&format!(
        ", by_model AS (
             SELECT COALESCE({model}, 'unknown') AS model, 1 AS calls, COALESCE({cost}, 0) AS cost_usd,
                    COALESCE({input}, 0) AS input_tokens, COALESCE({output}, 0) AS output_tokens
             FROM {spans} s JOIN x ON x.id = s.run_id
             WHERE s.project_id = {p1} AND s.kind = 'model' AND NOT x.cost_from_metadata
             UNION ALL
             SELECT COALESCE(x.model, 'unknown'), 0, x.cost_usd, x.input_tokens, x.output_tokens
             FROM x WHERE x.cost_from_metadata AND x.cost_usd <> 0)
         SELECT model, CAST(SUM(calls) AS BIGINT) AS calls, CAST(SUM(cost_usd) AS DOUBLE PRECISION) AS cost_usd,
                CAST(SUM(input_tokens) AS DOUBLE PRECISION) AS input_tokens,
                CAST(SUM(output_tokens) AS DOUBLE PRECISION) AS output_tokens
         FROM by_model GROUP BY model ORDER BY cost_usd DESC, model"
    ));
    for row in r.fetch_all(q).await? {
        out.by_model.push(ModelTotals {
            model: row.text("model")?,
            calls: row.i64("calls")?,
            cost_usd: row.f64("cost_usd")?,
            input_tokens: count(row.f64("input_tokens")?),
            output_tokens: count(row.f64("output_tokens")?),
        });
    }

    let mut q = r.sql();
    let sessions = q.table("sessions");
    q.push(&format!("SELECT COUNT(*) AS n FROM {sessions} s WHERE s.project_id = "));
    q.arg(Arg::Uuid(project));
    push_range(&mut q, "s.created_at", range);
    out.sessions = super::count_of(r, q).await?;

    if out.runs > 0 {
        let (p50, p95) = latency_percentiles(r, project, range).await?;
        out.latency_p50_ms = p50;
        out.latency_p95_ms = p95;
    }
    Ok(out)
}

/// Nearest-rank p50 and p95 of finished runs' durations, read with `OFFSET` so that neither
/// backend needs a percentile function and no durations travel.
async fn latency_percentiles<R: Reader>(
    r: &R,
    project: Uuid,
    range: &TimeRange,
) -> Result<(Option<f64>, Option<f64>), StoreError> {
    let finished = |q: &mut Sql| {
        let runs = q.table("runs");
        q.push(&format!(" FROM {runs} r WHERE r.project_id = "));
        q.arg(Arg::Uuid(project));
        push_range(q, "r.started_at", range);
        q.push(" AND r.ended_at IS NOT NULL");
    };
    let mut c = r.sql();
    c.push("SELECT COUNT(*) AS n");
    finished(&mut c);
    let n = super::count_of(r, c).await?;
    if n == 0 {
        return Ok((None, None));
    }
    let at = |p: f64| {
        let rank = ((p * n as f64).ceil() as i64).clamp(1, n);
        let mut q = r.sql();
        let d = q.millis("r.started_at", "r.ended_at");
        q.push(&format!("SELECT {d} AS d"));
        finished(&mut q);
        q.push(&format!(" ORDER BY d LIMIT 1 OFFSET {}", rank - 1));
        q
    };
    let (q50, q95) = (at(0.5), at(0.95));
    let p50 = r.fetch_all(q50).await?.first().map(|row| row.f64("d")).transpose()?;
    let p95 = r.fetch_all(q95).await?.first().map(|row| row.f64("d")).transpose()?;
    Ok((p50, p95))
}
