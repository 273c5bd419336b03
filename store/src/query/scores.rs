//! Scores: a run's list, adding a human score, and per-name distributions and trends.

use chrono::Utc;
use northstar_wire::{Score, ScoreDataType, without_nul};
use uuid::Uuid;

use super::sql::{Arg, Reader};
use super::{NewScore, ScoreSummary, TimeRange, push_range};
use crate::StoreError;
use crate::rows::Columns;

/// The score columns, enums read as text on both backends.
pub(super) fn columns(q: &super::sql::Sql) -> String {
    format!(
        "sc.id, sc.trace_id, sc.span_id, sc.name, sc.value, {} AS data_type, sc.string_value, {} AS source, \
         sc.comment, sc.created_at",
        q.as_text("sc.data_type"),
        q.as_text("sc.source")
    )
}

/// A score with who added it (a human score's dashboard user), as the run page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    pub score: Score,
    pub created_by: Option<String>,
}

/// The run page's scores: [`list_scores`] with who added each.
pub(crate) async fn score_rows<R: Reader>(r: &R, project: Uuid, run: Uuid) -> Result<Vec<ScoreRow>, StoreError> {
    let mut q = r.sql();
    let (cols, scores) = (columns(&q), q.table("scores"));
    q.push(&format!("SELECT {cols}, sc.created_by FROM {scores} sc WHERE sc.project_id = "));
    q.arg(Arg::Uuid(project)).push(" AND sc.trace_id = ").arg(Arg::Uuid(run));
    q.push(" ORDER BY sc.created_at DESC, sc.id");
    r.fetch_all(q)
        .await?
        .iter()
        .map(|row| Ok(ScoreRow { score: crate::rows::score(row)?, created_by: row.opt_text("created_by")? }))
        .collect()
}

/// The scores of a run, newest first.
pub(crate) async fn list_scores<R: Reader>(r: &R, project: Uuid, run: Uuid) -> Result<Vec<Score>, StoreError> {
    let mut q = r.sql();
    let (cols, scores) = (columns(&q), q.table("scores"));
    q.push(&format!("SELECT {cols} FROM {scores} sc WHERE sc.project_id = "));
    q.arg(Arg::Uuid(project)).push(" AND sc.trace_id = ").arg(Arg::Uuid(run));
    q.push(" ORDER BY sc.created_at DESC, sc.id");
    r.fetch_all(q).await?.iter().map(crate::rows::score).collect()
}

/// Checks a score as the storage constraints would, with messages a person can act on.
fn validate(new: &NewScore) -> Result<(String, Option<String>), StoreError> {
    let invalid = |m: &str| Err(StoreError::Invalid(m.to_owned()));
    let name = without_nul(&new.name);
    let name = name.trim();
    if name.is_empty() {
        return invalid("name is required");
    }
    if name.chars().count() > 200 {
        return invalid("name must be at most 200 characters");
    }
    if !new.value.is_finite() {
        return invalid("value must be a finite number");
    }
    if new.value.abs() > northstar_wire::MAX_SCORE_VALUE {
        return invalid("value must be between -1e15 and 1e15");
    }
    let string_value = new.string_value.as_deref().map(without_nul);
    let string_value = string_value.as_deref().map(str::trim).filter(|s| !s.is_empty());
    match new.data_type {
        ScoreDataType::Categorical if string_value.is_none() => return invalid("a category is required"),
        ScoreDataType::Boolean if new.value != 0.0 && new.value != 1.0 => {
            return invalid("value must be 0 or 1 for pass/fail scores");
        }
        _ => {}
    }
    let string_value = match new.data_type {
        ScoreDataType::Categorical => string_value.map(str::to_owned),
        _ => None,
    };
    if new.comment.as_deref().is_some_and(|c| c.chars().count() > 4000) {
        return invalid("comment must be at most 4000 characters");
    }
    Ok((name.to_owned(), string_value))
}

/// Stores a score (`new.source`: the dashboard's `human`, the public API's `api`) on a run of the project (and optionally one of its spans).
pub(crate) async fn add_score<R: Reader>(r: &R, project: Uuid, new: &NewScore) -> Result<Score, StoreError> {
    let (name, string_value) = validate(new)?;
    // The run (and span) must be this project's: check, then insert with the same condition,
    // so a concurrent delete cannot leave a score behind either.
    let mut q = r.sql();
    let (runs, spans, scores) = (q.table("runs"), q.table("spans"), q.table("scores"));
    let id = Uuid::new_v4();
    let now = Utc::now();
    let comment = new.comment.as_deref().map(without_nul);
    let comment = comment.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned);
    let enum_cast = |q: &super::sql::Sql, ty: &str| match q.dialect {
        super::sql::Dialect::Postgres => format!("::private.{ty}"),
        super::sql::Dialect::Sqlite => String::new(),
    };
    let (dt, src) = (enum_cast(&q, "score_data_type"), enum_cast(&q, "score_source"));
    q.push(&format!(
        "INSERT INTO {scores} (id, project_id, trace_id, span_id, name, value, data_type, string_value, source, \
         comment, created_by, created_at) SELECT "
    ));
    q.arg(Arg::Uuid(id)).push(", r.project_id, r.id, ");
    match new.span {
        Some(span) => q.arg(Arg::Uuid(span)),
        None => q.push("NULL"),
    };
    q.push(", ").arg(Arg::Text(name.clone())).push(", ").arg(Arg::F64(new.value)).push(", ");
    q.arg(Arg::Text(new.data_type.as_str().to_owned())).push(&dt).push(", ");
    match &string_value {
        Some(s) => q.arg(Arg::Text(s.clone())),
        None => q.push("NULL"),
    };
    q.push(", ").arg(Arg::Text(new.source.as_str().to_owned())).push(&src).push(", ");
    match &comment {
        Some(c) => q.arg(Arg::Text(c.clone())),
        None => q.push("NULL"),
    };
    q.push(", ");
    match &new.created_by {
        Some(c) => q.arg(Arg::Text(c.clone())),
        None => q.push("NULL"),
    };
    q.push(", ").arg(Arg::Ts(now));
    q.push(&format!(" FROM {runs} r WHERE r.project_id = ")).arg(Arg::Uuid(project));
    q.push(" AND r.id = ").arg(Arg::Uuid(new.run));
    if let Some(span) = new.span {
        q.push(&format!(" AND EXISTS (SELECT 1 FROM {spans} sp WHERE sp.id = "));
        q.arg(Arg::Uuid(span)).push(" AND sp.run_id = r.id)");
    }
    q.push(" RETURNING id");
    if r.write(q).await?.is_empty() {
        return Err(StoreError::NotFound(match new.span {
            Some(_) => "span not found in this run",
            None => "run not found",
        }));
    }
    Ok(Score {
        id,
        trace_id: new.run,
        span_id: new.span,
        name,
        value: new.value,
        data_type: new.data_type,
        string_value,
        source: new.source,
        comment,
        created_at: now,
    })
}

/// Every score name of the project with its distribution and daily trend.
pub(crate) async fn score_summaries<R: Reader>(
    r: &R,
    project: Uuid,
    range: &TimeRange,
) -> Result<Vec<ScoreSummary>, StoreError> {
    let scores = r.sql().table("scores");

    let mut q = r.sql();
    let dt = q.as_text("sc.data_type");
    q.push(&format!(
        "SELECT sc.name, {dt} AS data_type, COUNT(*) AS n, CAST(AVG(sc.value) AS DOUBLE PRECISION) AS avg,
                CAST(MIN(sc.value) AS DOUBLE PRECISION) AS min, CAST(MAX(sc.value) AS DOUBLE PRECISION) AS max
         FROM {scores} sc WHERE sc.project_id = "
    ));
    q.arg(Arg::Uuid(project));
    push_range(&mut q, "sc.created_at", range);
    q.push(&format!(" GROUP BY sc.name, {dt} ORDER BY sc.name, {dt}"));
    let mut out = Vec::new();
    for row in r.fetch_all(q).await? {
        out.push(ScoreSummary {
            name: row.text("name")?,
            data_type: row.parsed("data_type", ScoreDataType::parse)?,
            count: row.i64("n")?,
            avg: row.f64("avg")?,
            min: row.f64("min")?,
            max: row.f64("max")?,
            buckets: Vec::new(),
            trend: Vec::new(),
        });
    }

    // Distributions: categories and pass/fail as labels, numbers in ten buckets.
    let mut q = r.sql();
    let dt = q.as_text("sc.data_type");
    let bucket = q.floor("(sc.value - b.lo) / (b.hi - b.lo) * 10");
    q.push(&format!("WITH sc AS (SELECT * FROM {scores} sc WHERE sc.project_id = "));
    q.arg(Arg::Uuid(project));
    push_range(&mut q, "sc.created_at", range);
    q.push(&format!(
        "), bounds AS (SELECT name, MIN(value) AS lo, MAX(value) AS hi FROM sc GROUP BY name)
         SELECT sc.name, {dt} AS data_type,
                CASE WHEN {dt} = 'categorical' THEN sc.string_value
                     WHEN {dt} = 'boolean' THEN (CASE WHEN sc.value = 1 THEN 'pass' ELSE 'fail' END)
                     ELSE NULL END AS label,
                CASE WHEN {dt} = 'numeric' AND b.hi > b.lo
                     THEN {bucket} ELSE 0 END AS bucket,
                COUNT(*) AS n
         FROM sc JOIN bounds b ON b.name = sc.name
         GROUP BY sc.name, {dt}, label, bucket
         ORDER BY sc.name, n DESC, label"
    ));
    for row in r.fetch_all(q).await? {
        let (name, dt) = (row.text("name")?, row.parsed("data_type", ScoreDataType::parse)?);
        let Some(summary) = out.iter_mut().find(|s| s.name == name && s.data_type == dt) else { continue };
        let n = row.i64("n")?;
        match row.opt_text("label")? {
            Some(label) => summary.buckets.push((label, n)),
            None => {
                if summary.buckets.is_empty() {
                    summary.buckets = numeric_buckets(summary.min, summary.max);
                }
                // The maximum itself falls at 10: it belongs to the last bucket.
                let i = usize::try_from(row.i64("bucket")?).unwrap_or(0).min(summary.buckets.len() - 1);
                summary.buckets[i].1 += n;
            }
        }
    }

    let mut q = r.sql();
    let (dt, day) = (q.as_text("sc.data_type"), q.day("sc.created_at"));
    q.push(&format!(
        "SELECT sc.name, {dt} AS data_type, {day} AS day, CAST(AVG(sc.value) AS DOUBLE PRECISION) AS avg, COUNT(*) AS n
         FROM {scores} sc WHERE sc.project_id = "
    ));
    q.arg(Arg::Uuid(project));
    push_range(&mut q, "sc.created_at", range);
    q.push(&format!(" GROUP BY sc.name, {dt}, {day} ORDER BY sc.name, {day}"));
    for row in r.fetch_all(q).await? {
        let (name, dt) = (row.text("name")?, row.parsed("data_type", ScoreDataType::parse)?);
        if let Some(summary) = out.iter_mut().find(|s| s.name == name && s.data_type == dt) {
            summary.trend.push((row.text("day")?, row.f64("avg")?, row.i64("n")?));
        }
    }
    Ok(out)
}

/// Ten empty buckets from `lo` to `hi`, labelled by lower bound (one bucket when all equal).
fn numeric_buckets(lo: f64, hi: f64) -> Vec<(String, i64)> {
    if hi <= lo {
        return vec![(trim_number(lo), 0)];
    }
    let width = (hi - lo) / 10.0;
    (0..10).map(|i| (trim_number(lo + width * f64::from(i)), 0)).collect()
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The scores of each of `runs`, newest first (a list's scores column).
pub(crate) async fn scores_of_runs<R: Reader>(
    r: &R,
    project: Uuid,
    runs: Vec<Uuid>,
) -> Result<std::collections::HashMap<Uuid, Vec<Score>>, StoreError> {
    let mut by_run: std::collections::HashMap<Uuid, Vec<Score>> = std::collections::HashMap::new();
    if runs.is_empty() {
        return Ok(by_run);
    }
    let mut q = r.sql();
    let (cols, scores) = (columns(&q), q.table("scores"));
    // The index on (project, run, time) answers this: the project is its first column.
    q.push(&format!("SELECT {cols} FROM {scores} sc WHERE sc.project_id = ")).arg(Arg::Uuid(project));
    q.push(" AND ").in_ids("sc.trace_id", runs).push(" ORDER BY sc.created_at DESC, sc.id");
    for row in r.fetch_all(q).await? {
        let score = crate::rows::score(&row)?;
        by_run.entry(score.trace_id).or_default().push(score);
    }
    Ok(by_run)
}

/// The project's score names in order, at most 500 (by the (project, name, …) index).
pub(crate) async fn score_names<R: Reader>(r: &R, project: Uuid) -> Result<Vec<String>, StoreError> {
    let mut q = r.sql();
    let scores = q.table("scores");
    q.push(&format!("SELECT DISTINCT sc.name AS name FROM {scores} sc WHERE sc.project_id = ")).arg(Arg::Uuid(project));
    q.push(" ORDER BY sc.name LIMIT 500");
    r.fetch_all(q).await?.iter().map(|row| row.text("name")).collect()
}
