//! The prompt registry (migration 0011, the original's schema): prompts, their numbered
//! versions, labels that point at versions (every move kept in a history), and the spans that
//! used a version (`prompt_trace_links`, written by ingest). One SQL text for both backends.
//!
//! The original's rules (reference §2.8) are kept: a version's number is the prompt's highest
//! plus one and its content hash is SHA-256 of the content; a new version becomes the prompt's
//! current one; moving `prod` needs a change note; a prompt is found by slug or, ignoring case,
//! by name.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SubsecRound, Utc};
use northstar_wire::{prompt, without_nul};
use serde_json::Value;
use uuid::Uuid;

use crate::StoreError;
use crate::backend::{Backend, in_transaction};
use crate::query::sql::{Arg, Reader, Sql, WriteTx};
use crate::rows::Columns;

/// A prompt of the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    /// The newest version.
    pub current_version_id: Option<Uuid>,
    /// Label → the version it points at.
    pub labels: BTreeMap<String, Uuid>,
    /// Label → the number of the version it points at.
    pub label_numbers: BTreeMap<String, i32>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many versions it has.
    pub versions: i64,
    /// The newest version's number.
    pub latest_version: Option<i32>,
}

/// One version of a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptVersion {
    pub id: Uuid,
    pub prompt_id: Uuid,
    pub version_number: i32,
    pub content: String,
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i32>,
    /// The original's variable schema: `[{"name", "type", "required", "default"}]`.
    pub variables: Value,
    pub parent_version_id: Option<Uuid>,
    pub change_note: Option<String>,
    pub content_hash: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One move of a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMove {
    pub label: String,
    pub version_id: Uuid,
    pub version_number: i32,
    pub deployed_at: DateTime<Utc>,
    pub deployed_by: Option<String>,
    pub change_note: Option<String>,
}

/// A prompt with its versions (newest first) and its label history (newest first).
#[derive(Debug, Clone, PartialEq)]
pub struct PromptDetail {
    pub prompt: Prompt,
    pub versions: Vec<PromptVersion>,
    pub history: Vec<LabelMove>,
}

/// A new prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewPrompt {
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub created_by: Option<String>,
}

/// A new version of a prompt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewPromptVersion {
    pub content: String,
    pub model: Option<String>,
    /// 0 to 2, kept to 3 decimals.
    pub temperature: Option<f64>,
    pub max_tokens: Option<i64>,
    /// The variable schema; `None` infers it from the content.
    pub variables: Option<Value>,
    pub parent_version_id: Option<Uuid>,
    pub change_note: Option<String>,
    pub created_by: Option<String>,
}

/// A label to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelChange {
    pub label: String,
    pub version_id: Uuid,
    pub change_note: Option<String>,
    pub deployed_by: Option<String>,
}

/// A span's use of a prompt version, as the run page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptUse {
    pub span_id: Uuid,
    pub prompt_id: Uuid,
    pub prompt_name: String,
    pub prompt_slug: String,
    pub version_id: Uuid,
    pub version_number: i32,
    pub content_hash: String,
    /// The labels pointing at this version now.
    pub labels: Vec<String>,
    pub variable_values: Value,
    pub linked_at: DateTime<Utc>,
}

/// How the runs that used one version went: what compares two versions on real traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionFigures {
    pub version_id: Uuid,
    pub runs: i64,
    pub errors: i64,
    pub cost_usd: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    /// Mean of each numeric or pass/fail score of those runs, with how many there were.
    pub scores: Vec<(String, f64, i64)>,
}

/// Labels that may not be moved by hand: `latest` is always the newest version.
pub const LATEST: &str = "latest";

const MAX_NAME: usize = 200;
const MAX_LABEL: usize = 64;
const MAX_NOTE: usize = 2_000;

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Invalid(message.into())
}

/// Optional text: NUL as U+FFFD (the store-wide rule), trimmed, empty as none.
fn optional(text: Option<&str>) -> Option<String> {
    text.map(without_nul).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// A slug: what a URL and an SDK call carry.
fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 100
        && slug.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A label's name: printable, no spaces, at most 64 characters.
pub fn check_label(label: &str) -> Result<(), StoreError> {
    if label.is_empty() {
        return Err(invalid("label is required"));
    }
    if label.chars().count() > MAX_LABEL || label.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(format!("a label has 1 to {MAX_LABEL} characters and no spaces")));
    }
    Ok(())
}

const PROMPT_COLUMNS: &str = "p.id, p.name, p.slug, p.description, p.current_version_id, p.labels, p.created_by, \
     p.created_at, p.updated_at, \
     (SELECT COUNT(*) FROM {versions} v WHERE v.prompt_id = p.id) AS version_count, \
     (SELECT MAX(v.version_number) FROM {versions} v WHERE v.prompt_id = p.id) AS latest_version";

fn prompt_columns(q: &Sql) -> String {
    PROMPT_COLUMNS.replace("{versions}", &q.table("prompt_versions"))
}

fn decode_prompt(row: &impl Columns) -> Result<Prompt, StoreError> {
    let labels = match row.json("labels")? {
        Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().and_then(|s| Uuid::parse_str(s).ok()).map(|id| (k, id)))
            .collect(),
        _ => BTreeMap::new(),
    };
    Ok(Prompt {
        id: row.uuid("id")?,
        name: row.text("name")?,
        slug: row.text("slug")?,
        description: row.opt_text("description")?,
        current_version_id: row.opt_uuid("current_version_id")?,
        labels,
        label_numbers: BTreeMap::new(),
        created_by: row.opt_text("created_by")?,
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
        versions: row.i64("version_count")?,
        latest_version: row.opt_i32("latest_version")?,
    })
}

const VERSION_COLUMNS: &str = "v.id, v.prompt_id, v.version_number, v.content, v.model, \
     CAST(v.temperature AS DOUBLE PRECISION) AS temperature, v.max_tokens, v.variables, v.parent_version_id, \
     v.change_note, v.content_hash, v.created_by, v.created_at";

fn decode_version(row: &impl Columns) -> Result<PromptVersion, StoreError> {
    Ok(PromptVersion {
        id: row.uuid("id")?,
        prompt_id: row.uuid("prompt_id")?,
        version_number: row.opt_i32("version_number")?.ok_or(StoreError::Corrupt("prompt_versions.version_number"))?,
        content: row.text("content")?,
        model: row.opt_text("model")?,
        temperature: row.opt_f64("temperature")?,
        max_tokens: row.opt_i32("max_tokens")?,
        variables: row.json("variables")?,
        parent_version_id: row.opt_uuid("parent_version_id")?,
        change_note: row.opt_text("change_note")?,
        content_hash: row.text("content_hash")?,
        created_by: row.opt_text("created_by")?,
        created_at: row.ts("created_at")?,
    })
}

/// Fills each prompt's [`Prompt::label_numbers`] with one read of the labelled versions' numbers.
async fn number_labels<R: Reader>(r: &R, project: Uuid, prompts: &mut [Prompt]) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = prompts.iter().flat_map(|p| p.labels.values().copied()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut q = r.sql();
    let versions = q.table("prompt_versions");
    q.push(&format!("SELECT id, version_number FROM {versions} WHERE ")).in_ids("id", crate::ingest::unique(ids));
    q.push(" AND ").project_is("project_id", project);
    let numbers: HashMap<Uuid, i32> = r
        .fetch_all(q)
        .await?
        .iter()
        .map(|row| Ok((row.uuid("id")?, row.opt_i32("version_number")?.unwrap_or_default())))
        .collect::<Result<_, StoreError>>()?;
    for p in prompts {
        p.label_numbers = p.labels.iter().filter_map(|(l, id)| numbers.get(id).map(|n| (l.clone(), *n))).collect();
    }
    Ok(())
}

/// The project's prompts, most recently changed first.
pub(crate) async fn list<R: Reader>(r: &R, project: Uuid) -> Result<Vec<Prompt>, StoreError> {
    let mut q = r.sql();
    let (cols, prompts) = (prompt_columns(&q), q.table("prompts"));
    q.push(&format!("SELECT {cols} FROM {prompts} p WHERE p.project_id = ")).arg(Arg::Uuid(project));
    q.push(" ORDER BY p.updated_at DESC, p.name, p.id");
    let mut list = r.fetch_all(q).await?.iter().map(decode_prompt).collect::<Result<Vec<_>, _>>()?;
    number_labels(r, project, &mut list).await?;
    Ok(list)
}

async fn prompt_where<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<Prompt>, StoreError> {
    let mut q = r.sql();
    let (cols, prompts) = (prompt_columns(&q), q.table("prompts"));
    q.push(&format!("SELECT {cols} FROM {prompts} p WHERE p.project_id = ")).arg(Arg::Uuid(project));
    q.push(" AND p.id = ").arg(Arg::Uuid(id));
    let mut found = r.fetch_all(q).await?.first().map(decode_prompt).transpose()?;
    if let Some(p) = found.as_mut() {
        number_labels(r, project, std::slice::from_mut(p)).await?;
    }
    Ok(found)
}

/// One prompt with its versions and label history.
pub(crate) async fn detail<R: Reader>(r: &R, project: Uuid, id: Uuid) -> Result<Option<PromptDetail>, StoreError> {
    let Some(prompt) = prompt_where(r, project, id).await? else { return Ok(None) };
    let mut q = r.sql();
    let versions = q.table("prompt_versions");
    q.push(&format!("SELECT {VERSION_COLUMNS} FROM {versions} v WHERE v.project_id = ")).arg(Arg::Uuid(project));
    q.push(" AND v.prompt_id = ").arg(Arg::Uuid(id)).push(" ORDER BY v.version_number DESC");
    let versions = r.fetch_all(q).await?.iter().map(decode_version).collect::<Result<Vec<_>, _>>()?;
    let numbers: HashMap<Uuid, i32> = versions.iter().map(|v| (v.id, v.version_number)).collect();

    let mut q = r.sql();
    let history = q.table("prompt_label_history");
    q.push(&format!(
        "SELECT h.label, h.version_id, h.deployed_at, h.deployed_by, h.change_note FROM {history} h WHERE h.project_id = "
    ));
    q.arg(Arg::Uuid(project)).push(" AND h.prompt_id = ").arg(Arg::Uuid(id));
    q.push(" ORDER BY h.deployed_at DESC, h.id DESC");
    let history = r
        .fetch_all(q)
        .await?
        .iter()
        .map(|row| {
            let version_id = row.uuid("version_id")?;
            Ok(LabelMove {
                label: row.text("label")?,
                version_number: numbers.get(&version_id).copied().unwrap_or_default(),
                version_id,
                deployed_at: row.ts("deployed_at")?,
                deployed_by: row.opt_text("deployed_by")?,
                change_note: row.opt_text("change_note")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(PromptDetail { prompt, versions, history }))
}

/// Creates a prompt of the project.
pub(crate) async fn create<B: Backend>(b: &B, project: Uuid, new: &NewPrompt) -> Result<Prompt, StoreError> {
    let name = without_nul(new.name.trim()).into_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(invalid(format!("a prompt's name has 1 to {MAX_NAME} characters and no control characters")));
    }
    let slug = new.slug.trim();
    if !valid_slug(slug) {
        return Err(invalid("a slug has 1 to 100 characters: letters, digits, '-', '_' or '.'"));
    }
    let description = optional(new.description.as_deref());
    let id = Uuid::new_v4();
    let at = now();
    let mut q = Sql::new(B::DIALECT);
    let (prompts, projects) = (q.table("prompts"), q.table("projects"));
    q.push(&format!(
        "INSERT INTO {prompts} (id, project_id, name, slug, description, labels, created_by, created_at, updated_at) \
         SELECT "
    ));
    q.arg(Arg::Uuid(id)).push(", pr.id, ").arg(Arg::Text(name)).push(", ").arg(Arg::Text(slug.to_owned()));
    q.push(", ").opt_arg(description.map(Arg::Text)).push(", ").json_arg(&Value::Object(serde_json::Map::new()));
    q.push(", ").opt_arg(optional(new.created_by.as_deref()).map(Arg::Text));
    q.push(", ").arg(Arg::Ts(at)).push(", ").arg(Arg::Ts(at));
    q.push(&format!(" FROM {projects} pr WHERE pr.id = ")).arg(Arg::Uuid(project)).push(" RETURNING id");
    match b.write(q).await {
        Ok(rows) if rows.is_empty() => Err(StoreError::ProjectNotFound(project)),
        Ok(_) => prompt_where(b, project, id).await?.ok_or(StoreError::NotFound("prompt")),
        Err(StoreError::Database(err)) if StoreError::is_unique_violation(&err) => {
            Err(invalid(format!("a prompt with slug {slug} already exists in this project")))
        }
        Err(err) => Err(err),
    }
}

/// Locks the prompt's row for the rest of the transaction (marking it changed); false when
/// it is not the project's.
async fn touch<T: WriteTx>(tx: &mut T, prompt: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
    let mut q = Sql::new(T::DIALECT);
    let prompts = q.table("prompts");
    q.push(&format!("UPDATE {prompts} SET updated_at = ")).arg(Arg::Ts(at));
    q.push(" WHERE id = ").arg(Arg::Uuid(prompt)).push(" AND project_id = ").arg(Arg::Uuid(tx.project()));
    q.push(" RETURNING id");
    Ok(!tx.fetch_all(q).await?.is_empty())
}

/// Adds a version to a prompt of the project; it becomes the prompt's current version.
pub(crate) async fn add_version<B: Backend>(
    b: &B,
    project: Uuid,
    prompt_id: Uuid,
    new: &NewPromptVersion,
) -> Result<PromptVersion, StoreError> {
    let content = without_nul(&new.content).into_owned();
    if content.trim().is_empty() {
        return Err(invalid("content is required"));
    }
    if content.chars().count() > prompt::MAX_CONTENT_CHARS {
        return Err(invalid(format!("content has at most {} characters", prompt::MAX_CONTENT_CHARS)));
    }
    let temperature = match new.temperature {
        Some(t) if !(0.0..=2.0).contains(&t) => return Err(invalid("temperature must be between 0 and 2")),
        Some(t) => Some((t * 1000.0).round() / 1000.0),
        None => None,
    };
    let max_tokens = match new.max_tokens {
        Some(n) if !(1..=i64::from(i32::MAX)).contains(&n) => {
            return Err(invalid("max_tokens must be a positive integer"));
        }
        Some(n) => Some(n),
        None => None,
    };
    let variables = match &new.variables {
        None => prompt::variables_schema(&content),
        Some(Value::Array(v)) if v.is_empty() => prompt::variables_schema(&content),
        Some(v @ Value::Array(_)) => v.clone(),
        Some(_) => return Err(invalid("variables must be an array")),
    };
    let model = optional(new.model.as_deref());
    let (note, by) = (optional(new.change_note.as_deref()), optional(new.created_by.as_deref()));
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(invalid(format!("a change note has at most {MAX_NOTE} characters")));
    }
    let hash = prompt::content_hash(&content);
    let id = Uuid::new_v4();
    let at = now();
    let created = in_transaction!(b, project, |tx| {
        if !touch(&mut tx, prompt_id, at).await? {
            return Err(StoreError::NotFound("prompt"));
        }
        let mut q = Sql::new(B::DIALECT);
        let versions = q.table("prompt_versions");
        if let Some(parent) = new.parent_version_id {
            q.push(&format!("SELECT id FROM {versions} WHERE id = ")).arg(Arg::Uuid(parent));
            q.push(" AND prompt_id = ").arg(Arg::Uuid(prompt_id));
            if tx.fetch_all(q).await?.is_empty() {
                return Err(invalid(format!("parent version {parent} is not a version of this prompt")));
            }
            q = Sql::new(B::DIALECT);
        }
        q.push(&format!(
            "INSERT INTO {versions} (id, prompt_id, project_id, version_number, content, model, temperature, max_tokens, \
             variables, parent_version_id, change_note, content_hash, created_by, created_at) SELECT "
        ));
        q.arg(Arg::Uuid(id)).push(", ").arg(Arg::Uuid(prompt_id)).push(", ").arg(Arg::Uuid(project));
        q.push(", COALESCE(MAX(version_number), 0) + 1, ").arg(Arg::Text(content.clone())).push(", ");
        q.opt_arg(model.clone().map(Arg::Text)).push(", ").opt_arg(temperature.map(Arg::F64)).push(", ");
        q.opt_arg(max_tokens.map(Arg::I64)).push(", ").json_arg(&variables).push(", ");
        q.opt_arg(new.parent_version_id.map(Arg::Uuid)).push(", ").opt_arg(note.clone().map(Arg::Text));
        q.push(", ").arg(Arg::Text(hash.clone())).push(", ").opt_arg(by.clone().map(Arg::Text));
        q.push(", ").arg(Arg::Ts(at));
        q.push(&format!(" FROM {versions} WHERE prompt_id = ")).arg(Arg::Uuid(prompt_id));
        tx.fetch_all(q).await?;
        let mut q = Sql::new(B::DIALECT);
        let prompts = q.table("prompts");
        q.push(&format!("UPDATE {prompts} SET current_version_id = ")).arg(Arg::Uuid(id));
        q.push(" WHERE id = ").arg(Arg::Uuid(prompt_id)).push(" RETURNING id");
        tx.fetch_all(q).await?;
        let mut q = Sql::new(B::DIALECT);
        q.push(&format!("SELECT {VERSION_COLUMNS} FROM {versions} v WHERE v.id = ")).arg(Arg::Uuid(id));
        tx.fetch_all(q).await?.first().map(decode_version).transpose()?
    });
    created.ok_or(StoreError::NotFound("prompt version"))
}

/// Points a label of a prompt of the project at one of its versions, and records the move.
pub(crate) async fn set_label<B: Backend>(
    b: &B,
    project: Uuid,
    prompt_id: Uuid,
    change: &LabelChange,
) -> Result<Prompt, StoreError> {
    let label = change.label.trim();
    check_label(label)?;
    if label == LATEST {
        return Err(invalid("the latest label always points at the newest version"));
    }
    let note = optional(change.change_note.as_deref());
    if label == "prod" && note.is_none() {
        return Err(invalid("change_note is required for prod labels"));
    }
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(invalid(format!("a change note has at most {MAX_NOTE} characters")));
    }
    let at = now();
    in_transaction!(b, project, |tx| {
        if !touch(&mut tx, prompt_id, at).await? {
            return Err(StoreError::NotFound("prompt"));
        }
        let mut q = Sql::new(B::DIALECT);
        let (versions, prompts) = (q.table("prompt_versions"), q.table("prompts"));
        q.push(&format!("SELECT v.id FROM {versions} v WHERE v.id = ")).arg(Arg::Uuid(change.version_id));
        q.push(" AND v.prompt_id = ").arg(Arg::Uuid(prompt_id)).push(" AND v.project_id = ").arg(Arg::Uuid(project));
        if tx.fetch_all(q).await?.is_empty() {
            return Err(invalid(format!("prompt version {} not found for project", change.version_id)));
        }
        // The row is locked (`touch`): its labels are read, changed and written back whole.
        let mut q = Sql::new(B::DIALECT);
        q.push(&format!("SELECT labels FROM {prompts} WHERE id = ")).arg(Arg::Uuid(prompt_id));
        let mut labels = match tx.fetch_all(q).await?.first().map(|row| row.json("labels")).transpose()? {
            Some(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        labels.insert(label.to_owned(), Value::String(change.version_id.to_string()));
        let mut q = Sql::new(B::DIALECT);
        q.push(&format!("UPDATE {prompts} SET labels = ")).json_arg(&Value::Object(labels));
        q.push(" WHERE id = ").arg(Arg::Uuid(prompt_id)).push(" RETURNING id");
        tx.fetch_all(q).await?;
        let mut q = Sql::new(B::DIALECT);
        let history = q.table("prompt_label_history");
        q.push(&format!(
            "INSERT INTO {history} (project_id, prompt_id, label, version_id, deployed_at, deployed_by, change_note) VALUES ("
        ));
        q.arg(Arg::Uuid(project)).push(", ").arg(Arg::Uuid(prompt_id)).push(", ").arg(Arg::Text(label.to_owned()));
        q.push(", ").arg(Arg::Uuid(change.version_id)).push(", ").arg(Arg::Ts(at)).push(", ");
        q.opt_arg(optional(change.deployed_by.as_deref()).map(Arg::Text)).push(", ").opt_arg(note.map(Arg::Text));
        q.push(") RETURNING id");
        tx.fetch_all(q).await?;
    });
    prompt_where(b, project, prompt_id).await?.ok_or(StoreError::NotFound("prompt"))
}

/// Appends ` AND <prompt p is the one named name>` and returns the `ORDER BY` that puts a slug
/// match before a name match: the original's rule (slug, else name in any case), for the
/// resolve function and for links named by a tracing protocol alike.
pub(crate) fn push_named(q: &mut Sql, name: &str) -> String {
    let n = q.bind(Arg::Text(without_nul(name).into_owned()));
    q.push(" AND (p.slug = ").again(n).push(" OR lower(p.name) = lower(").again(n).push("))");
    let mut order = Sql::new(q.dialect);
    order.push("CASE WHEN p.slug = ").again(n).push(" THEN 0 ELSE 1 END");
    order.text
}

/// The version an SDK asks for: of the prompt whose slug is `slug` (else whose name is, in
/// any case), version number `version`, or else the version `label` points at. `latest`,
/// unless a label of that name was set, is the newest version.
pub(crate) async fn resolve<R: Reader>(
    r: &R,
    project: Uuid,
    slug: &str,
    label: &str,
    version: Option<i64>,
) -> Result<Option<(Prompt, PromptVersion)>, StoreError> {
    let mut q = r.sql();
    let (cols, prompts) = (prompt_columns(&q), q.table("prompts"));
    q.push(&format!("SELECT {cols} FROM {prompts} p WHERE p.project_id = ")).arg(Arg::Uuid(project));
    let order = push_named(&mut q, slug);
    q.push(&format!(" ORDER BY {order}, p.created_at LIMIT 1"));
    let Some(prompt) = r.fetch_all(q).await?.first().map(decode_prompt).transpose()? else { return Ok(None) };
    let mut q = r.sql();
    let versions = q.table("prompt_versions");
    q.push(&format!("SELECT {VERSION_COLUMNS} FROM {versions} v WHERE v.project_id = ")).arg(Arg::Uuid(project));
    q.push(" AND v.prompt_id = ").arg(Arg::Uuid(prompt.id)).push(" AND ");
    match version {
        Some(n) => {
            let Ok(n) = i32::try_from(n) else { return Ok(None) };
            q.push("v.version_number = ").arg(Arg::I64(i64::from(n)));
        }
        None => {
            let target = match prompt.labels.get(without_nul(label).as_ref()) {
                Some(id) => *id,
                None if label == LATEST => match prompt.current_version_id {
                    Some(id) => id,
                    None => return Ok(None),
                },
                None => return Ok(None),
            };
            q.push("v.id = ").arg(Arg::Uuid(target));
        }
    }
    let found = r.fetch_all(q).await?.first().map(decode_version).transpose()?;
    Ok(found.map(|v| (prompt, v)))
}

/// The prompt versions the spans of a run used, by span and time linked.
pub(crate) async fn uses_of_run<R: Reader>(r: &R, project: Uuid, run: Uuid) -> Result<Vec<PromptUse>, StoreError> {
    let mut q = r.sql();
    let (links, versions, prompts) = (q.table("prompt_trace_links"), q.table("prompt_versions"), q.table("prompts"));
    q.push(&format!(
        "SELECT l.span_id, p.id AS prompt_id, p.name, p.slug, p.labels, v.id AS version_id, v.version_number, \
         v.content_hash, l.variable_values, l.linked_at
         FROM {links} l JOIN {versions} v ON v.id = l.prompt_version_id JOIN {prompts} p ON p.id = v.prompt_id
         WHERE l.project_id = "
    ));
    q.arg(Arg::Uuid(project)).push(" AND l.trace_id = ").arg(Arg::Uuid(run));
    q.push(" ORDER BY l.linked_at, l.id");
    r.fetch_all(q)
        .await?
        .iter()
        .map(|row| {
            let version_id = row.uuid("version_id")?;
            let labels = match row.json("labels")? {
                Value::Object(map) => map
                    .into_iter()
                    .filter(|(_, v)| v.as_str() == Some(version_id.to_string().as_str()))
                    .map(|(k, _)| k)
                    .collect(),
                _ => Vec::new(),
            };
            Ok(PromptUse {
                span_id: row.uuid("span_id")?,
                prompt_id: row.uuid("prompt_id")?,
                prompt_name: row.text("name")?,
                prompt_slug: row.text("slug")?,
                version_id,
                version_number: row.opt_i32("version_number")?.unwrap_or_default(),
                content_hash: row.text("content_hash")?,
                labels,
                variable_values: row.json("variable_values")?,
                linked_at: row.ts("linked_at")?,
            })
        })
        .collect()
}

/// How the runs that used each version of a prompt went (versions no run used are absent).
pub(crate) async fn version_figures<R: Reader>(
    r: &R,
    project: Uuid,
    prompt_id: Uuid,
) -> Result<Vec<VersionFigures>, StoreError> {
    let mut q = r.sql();
    let (links, versions, runs) = (q.table("prompt_trace_links"), q.table("prompt_versions"), q.table("runs"));
    let cost = crate::query::run_cost(&q, "r");
    let d = q.millis("r.started_at", "r.ended_at");
    q.push(&format!(
        "WITH used AS (SELECT DISTINCT l.prompt_version_id, l.trace_id FROM {links} l
                       JOIN {versions} v ON v.id = l.prompt_version_id
                       WHERE l.project_id = "
    ));
    q.arg(Arg::Uuid(project)).push(" AND v.prompt_id = ").arg(Arg::Uuid(prompt_id));
    let used_g = q.as_text("u.prompt_version_id");
    q.push(&format!(
        "),
         items AS (SELECT {used_g} AS g, CASE WHEN r.status = 'error' THEN 1 ELSE 0 END AS err,
                   CAST({cost} AS DOUBLE PRECISION) AS cost, {d} AS d
                   FROM used u JOIN {runs} r ON r.id = u.trace_id),
         totals AS (SELECT g, COUNT(*) AS n, SUM(err) AS errors, SUM(cost) AS cost, COUNT(d) AS finished FROM items GROUP BY g),
         ranked AS (SELECT g, d, ROW_NUMBER() OVER (PARTITION BY g ORDER BY d) AS rn FROM items WHERE d IS NOT NULL),
         pct AS (SELECT k.g,
                   MAX(CASE WHEN k.rn = (t.finished + 1) / 2 THEN k.d END) AS p50,
                   MAX(CASE WHEN k.rn = (t.finished * 95 + 99) / 100 THEN k.d END) AS p95
                 FROM ranked k JOIN totals t ON t.g = k.g GROUP BY k.g)
         SELECT t.g AS g, CAST(t.n AS BIGINT) AS n, CAST(t.errors AS BIGINT) AS errors,
                CAST(t.cost AS DOUBLE PRECISION) AS cost, p.p50 AS p50, p.p95 AS p95
         FROM totals t LEFT JOIN pct p ON p.g = t.g"
    ));
    let mut out: Vec<VersionFigures> = r
        .fetch_all(q)
        .await?
        .iter()
        .map(|row| {
            Ok(VersionFigures {
                version_id: Uuid::parse_str(&row.text("g")?).map_err(|_| StoreError::Corrupt("prompt_version_id"))?,
                runs: row.i64("n")?,
                errors: row.i64("errors")?,
                cost_usd: row.f64("cost")?,
                latency_p50_ms: row.opt_f64("p50")?,
                latency_p95_ms: row.opt_f64("p95")?,
                scores: Vec::new(),
            })
        })
        .collect::<Result<_, StoreError>>()?;

    let mut q = r.sql();
    let scores = q.table("scores");
    let dt = q.as_text("sc.data_type");
    q.push(&format!(
        "WITH used AS (SELECT DISTINCT l.prompt_version_id, l.trace_id FROM {links} l
                       JOIN {versions} v ON v.id = l.prompt_version_id
                       WHERE l.project_id = "
    ));
    q.arg(Arg::Uuid(project)).push(" AND v.prompt_id = ").arg(Arg::Uuid(prompt_id));
    let used_g = q.as_text("u.prompt_version_id");
    q.push(&format!(
        ")
         SELECT {used_g} AS g, sc.name AS name, CAST(AVG(sc.value) AS DOUBLE PRECISION) AS mean, CAST(COUNT(*) AS BIGINT) AS n
         FROM used u JOIN {scores} sc ON sc.trace_id = u.trace_id
         WHERE sc.project_id = "
    ));
    q.arg(Arg::Uuid(project))
        .push(&format!(" AND {dt} <> 'categorical' GROUP BY u.prompt_version_id, sc.name ORDER BY sc.name"));
    for row in r.fetch_all(q).await? {
        let id = Uuid::parse_str(&row.text("g")?).map_err(|_| StoreError::Corrupt("prompt_version_id"))?;
        if let Some(f) = out.iter_mut().find(|f| f.version_id == id) {
            f.scores.push((row.text("name")?, row.f64("mean")?, row.i64("n")?));
        }
    }
    Ok(out)
}
