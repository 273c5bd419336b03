//! Runs with their figures: the runs list (filters, score filter, pages) and one run.

use uuid::Uuid;

use northstar_wire::attributes as attr;

use super::sql::{Arg, Dialect, Reader, Sql};
use super::{
    Page, RUN_FIGURE_COLUMNS, RunFilter, RunRow, RunSort, count, first_input, push_range, run_cost, run_figures,
    run_input_tokens, run_model, run_models, run_output_tokens,
};
use crate::StoreError;
use crate::rows::Columns;

/// How a runs list finds the runs of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModelPlan {
    /// Each run in the list's order probed for a span of the model: for a model many runs
    /// use, the page fills after a few probes.
    Probe,
    /// The model's runs found from its spans first: for a model few runs use (probing would
    /// read every run to fill the page).
    FromSpans,
}

/// Model spans a model may have and still count as rare (see [`ModelPlan`]).
const RARE_MODEL_SPANS: i64 = 5_000;

/// Which [`ModelPlan`] suits the filter's model: its spans counted, up to the threshold, by
/// the (project, model) index.
async fn model_plan<R: Reader>(r: &R, project: Uuid, f: &RunFilter) -> Result<ModelPlan, StoreError> {
    let Some(model) = &f.model else { return Ok(ModelPlan::Probe) };
    let mut q = r.sql();
    let (spans, span_model) = (q.table("spans"), q.json_text("s.attributes", attr::MODEL));
    q.push(&format!("SELECT COUNT(*) AS n FROM (SELECT 1 FROM {spans} s WHERE s.project_id = "));
    q.arg(Arg::Uuid(project)).push(&format!(" AND s.kind = 'model' AND {span_model} = "));
    q.arg(Arg::Text(model.clone())).push(&format!(" LIMIT {}) c", RARE_MODEL_SPANS + 1));
    let n = super::count_of(r, q).await?;
    Ok(if n > RARE_MODEL_SPANS { ModelPlan::Probe } else { ModelPlan::FromSpans })
}

/// The `WHERE` conditions of a runs list, after `r.project_id = P1`.
fn push_filters(q: &mut Sql, f: &RunFilter, plan: ModelPlan) {
    if let Some(session) = f.session {
        q.push(" AND r.session_id = ").arg(Arg::Uuid(session));
    }
    if let Some(status) = f.status {
        q.push(" AND r.status = ").arg(Arg::Text(status.as_str().to_owned()));
    }
    push_range(q, "r.started_at", &f.range);
    if let Some(text) = f.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let n = q.pattern(text);
        let id = q.as_text("r.id");
        q.push(" AND ").search_prefilter("r.id", "r.name", "r.metadata", n).push("(");
        q.like(&id, n).push(" OR ").like("r.name", n).push(" OR ");
        q.json_values_like("r.metadata", n).push(")");
    }
    if let Some(name) = &f.name {
        q.push(" AND r.name = ").arg(Arg::Text(name.clone()));
    }
    if let Some(version) = f.prompt_version {
        let (links, p1) = (q.table("prompt_trace_links"), q.p1());
        q.push(&format!(
            " AND r.id IN (SELECT l.trace_id FROM {links} l WHERE l.project_id = {p1} AND l.prompt_version_id = "
        ));
        q.arg(Arg::Uuid(version)).push(")");
    }
    if let Some(model) = &f.model {
        let (spans, runs, p1) = (q.table("spans"), q.table("runs"), q.p1());
        let (span_model, run_model) =
            (q.json_text("s.attributes", attr::MODEL), q.json_text("r.metadata", attr::MODEL));
        match plan {
            ModelPlan::Probe => {
                // A probe of the (run, model) index per run, in the list's order, until the
                // page is full: a scalar subquery, since as `EXISTS` Postgres hashed every
                // span of the model first (190 ms at 1M runs for a model one run in three uses).
                q.push(&format!(
                    " AND ((SELECT 1 FROM {spans} s WHERE s.run_id = r.id AND s.kind = 'model' AND s.project_id = {p1} AND {span_model} = "
                ));
                q.arg(Arg::Text(model.clone())).push(&format!(" LIMIT 1) = 1 OR {run_model} = "));
                q.arg(Arg::Text(model.clone())).push(")");
            }
            ModelPlan::FromSpans => {
                // The model's few runs, found from its spans and from run metadata by the
                // (project, model) indexes of migration 0010.
                let meta_model = q.json_text("r2.metadata", attr::MODEL);
                q.push(&format!(
                    " AND r.id IN (SELECT s.run_id FROM {spans} s WHERE s.project_id = {p1} AND s.kind = 'model' AND {span_model} = "
                ));
                q.arg(Arg::Text(model.clone()));
                q.push(&format!(
                    " UNION ALL SELECT r2.id FROM {runs} r2 WHERE r2.project_id = {p1} AND {meta_model} = "
                ));
                q.arg(Arg::Text(model.clone())).push(")");
            }
        }
    }
    let cost = run_cost(q, "r");
    super::push_bounds(q, &cost, f.cost);
    let latency = q.millis("r.started_at", "r.ended_at");
    super::push_bounds(q, &latency, f.latency_ms);
    for value in f.metadata.iter().filter_map(|(_, v)| v.as_deref()).filter(|v| v.chars().count() >= 3) {
        // On Postgres, through the trigram index of the search text first (the value is in it).
        let n = q.pattern(value);
        q.push(" AND ").search_prefilter("r.id", "r.name", "r.metadata", n).push("TRUE");
    }
    super::push_json_matches(q, "r.metadata", &f.metadata);
    if f.sort == RunSort::Started {
        super::push_after(q, ("r.started_at", "r.id"), f.after, f.descending);
    }
    if let Some(score) = &f.score {
        let scores = q.table("scores");
        let p1 = q.p1();
        q.push(&format!(" AND EXISTS (SELECT 1 FROM {scores} sc WHERE sc.project_id = {p1} AND sc.trace_id = r.id"));
        q.push(" AND sc.name = ").arg(Arg::Text(score.name.clone()));
        if let Some(min) = score.min {
            q.push(" AND sc.value >= ").arg(Arg::F64(min));
        }
        if let Some(max) = score.max {
            q.push(" AND sc.value <= ").arg(Arg::F64(max));
        }
        if let Some(category) = &score.category {
            q.push(" AND sc.string_value = ").arg(Arg::Text(category.clone()));
        }
        q.push(")");
    }
}

const RUN_COLUMNS: &str = "r.id, r.session_id, r.name, r.started_at, r.ended_at, r.status, r.error, r.metadata";

/// `SELECT` of the runs in CTE `page`, with their figures, first input and user, in `order`.
fn select_with_figures(q: &mut Sql, order: &str) {
    let totals = run_models(q, "SELECT id FROM page");
    let (figures, model) = (run_figures(q), run_model(q));
    let duration = q.millis("r.started_at", "r.ended_at");
    let (input, user) = (first_input(q, "r.id"), q.metadata_user("r.metadata"));
    q.push(&format!(
        " SELECT {RUN_COLUMNS}, {duration} AS duration_ms, {figures}, {model}, {input} AS input, {user} AS user_name
          FROM page r LEFT JOIN ({totals}) a ON a.run_id = r.id
          ORDER BY {order}"
    ));
}

/// The runs list's `ORDER BY`, over runs `r`. Each sort has its index (migrations 0002, 0009,
/// which repeat these expressions); ids break ties.
fn order_by(q: &Sql, f: &RunFilter) -> String {
    let dir = if f.descending { "DESC" } else { "ASC" };
    match f.sort {
        RunSort::Started => format!("r.started_at {dir}, r.id {dir}"),
        RunSort::Duration => {
            // A running run has no length yet: it counts as the longest, so one index serves
            // both directions.
            let length = match q.dialect {
                Dialect::Postgres => "(r.ended_at - r.started_at)".to_owned(),
                Dialect::Sqlite => q.millis("r.started_at", "r.ended_at"),
            };
            let nulls = if f.descending { "NULLS FIRST" } else { "NULLS LAST" };
            format!("{length} {dir} {nulls}, r.id {dir}")
        }
        RunSort::Cost => format!("{} {dir}, r.id {dir}", run_cost(q, "r")),
        RunSort::Tokens => format!("({} + {}) {dir}, r.id {dir}", run_input_tokens(q, "r"), run_output_tokens(q, "r")),
    }
}

fn decode(row: &impl Columns) -> Result<RunRow, StoreError> {
    let run = crate::rows::run(row)?;
    Ok(RunRow {
        id: run.id,
        session_id: run.session_id,
        name: run.name,
        started_at: run.started_at,
        ended_at: run.ended_at,
        status: run.status,
        error: run.error,
        metadata: run.metadata,
        duration_ms: row.opt_f64("duration_ms")?,
        cost_usd: row.f64("cost_usd")?,
        input_tokens: count(row.f64("input_tokens")?),
        output_tokens: count(row.f64("output_tokens")?),
        model: row.opt_text("model")?,
        models: row.i64("models")?,
        tool_calls: row.i64("tool_calls")?,
        spans: row.i64("spans")?,
        input: row.opt_text("input")?,
        user: row.opt_text("user_name")?,
        scores: Vec::new(),
    })
}

/// `WITH page AS (SELECT <run and figure columns> FROM runs r WHERE r.project_id = <project>`,
/// left open for the page's conditions.
fn open_page(q: &mut Sql, project: Uuid) {
    let runs = q.table("runs");
    q.push(&format!("WITH page AS (SELECT {RUN_COLUMNS}, {RUN_FIGURE_COLUMNS} FROM {runs} r WHERE r.project_id = "));
    q.arg(Arg::Uuid(project));
}

/// A page of runs with their scores, and how many match (see [`Page`]).
pub(crate) async fn run_rows<R: Reader>(r: &R, project: Uuid, f: &RunFilter) -> Result<Page<RunRow>, StoreError> {
    let plan = model_plan(r, project, f).await?;
    let rows = page_of(r, project, f, plan).await?;
    let page = (f.offset, f.limit, rows.len());
    let total = super::page_total(r, page, ("runs", "r"), project, |c| push_filters(c, f, plan)).await?;
    Ok(Page { rows, total })
}

/// A page of runs with their scores, uncounted (a session page knows its session's runs).
pub(crate) async fn run_page<R: Reader>(r: &R, project: Uuid, f: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
    let plan = model_plan(r, project, f).await?;
    page_of(r, project, f, plan).await
}

async fn page_of<R: Reader>(r: &R, project: Uuid, f: &RunFilter, plan: ModelPlan) -> Result<Vec<RunRow>, StoreError> {
    let mut q = r.sql();
    let order = order_by(&q, f);
    open_page(&mut q, project);
    push_filters(&mut q, f, plan);
    q.push(&format!(" ORDER BY {order} LIMIT {} OFFSET {})", f.limit, f.offset));
    select_with_figures(&mut q, &order);
    let mut rows = r.fetch_all(q).await?.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let mut scores = super::scores::scores_of_runs(r, project, rows.iter().map(|row| row.id).collect()).await?;
    for row in &mut rows {
        row.scores = scores.remove(&row.id).unwrap_or_default();
    }
    Ok(rows)
}

pub(crate) async fn run_row<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<RunRow>, StoreError> {
    let mut q = r.sql();
    open_page(&mut q, project);
    q.push(" AND r.id = ").arg(Arg::Uuid(id)).push(")");
    select_with_figures(&mut q, "r.id");
    r.fetch_all(q).await?.first().map(decode).transpose()
}
