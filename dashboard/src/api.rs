//! The server functions behind the pages. Each takes the project id first and reads only that
//! project; the store comes from context (`server::router` provides it).
#![expect(clippy::too_many_arguments, reason = "a server function takes one argument per form or query field")]

use leptos::prelude::*;

use crate::model::{
    AgentGraph, Me, NodeDetail, OverviewData, ProjectItem, RunSummary, RunsData, ScoreItem, ScoreSummaryItem,
    SearchResult, Seek, SessionData, SessionsData, SettingsData, TraceHead, TreeWindow, UserItem,
};

/// The logged-in user.
#[server(prefix = "/api/dashboard", endpoint = "me")]
pub async fn current_user() -> Result<Me, ServerFnError> {
    let user = crate::convert::current_user()?;
    Ok(Me { email: user.email, is_admin: user.is_admin })
}

/// The projects the logged-in user can open, oldest first.
#[server(prefix = "/api/dashboard", endpoint = "projects")]
pub async fn list_projects() -> Result<Vec<ProjectItem>, ServerFnError> {
    use northstar_store::Store;
    let store = crate::scope::store()?;
    let user = crate::convert::current_user()?;
    let projects = store.projects_of(&user).await.map_err(crate::convert::fail)?;
    Ok(projects.into_iter().map(|(p, role)| crate::convert::project(p, role)).collect())
}

/// Every dashboard user (server admins only).
#[server(prefix = "/api/dashboard", endpoint = "users")]
pub async fn list_users() -> Result<Vec<UserItem>, ServerFnError> {
    use northstar_store::Store;
    crate::convert::server_admin()?;
    let store = crate::scope::store()?;
    let users = store.list_users().await.map_err(crate::convert::fail)?;
    Ok(users.into_iter().map(crate::convert::user_item).collect())
}

/// Disables (`disabled` = `true`) or enables a user (server admins only); a disabled user's
/// logins end at once.
#[server(prefix = "/api/dashboard", endpoint = "user_disabled")]
pub async fn set_user_disabled(email: String, disabled: bool) -> Result<UserItem, ServerFnError> {
    use northstar_store::{Store, UserChange};
    let admin = crate::convert::server_admin()?;
    let store = crate::scope::store()?;
    let user = store.update_user(&email, &UserChange::Disabled(disabled)).await.map_err(crate::convert::fail)?;
    tracing::info!(admin = ?admin.email, user = ?user.email, disabled, "user changed from the dashboard");
    Ok(crate::convert::user_item(user))
}

/// Sets a user's password (server admins only); their logins end at once.
#[server(prefix = "/api/dashboard", endpoint = "user_password")]
pub async fn set_user_password(email: String, password: String) -> Result<UserItem, ServerFnError> {
    use northstar_store::{Store, StoreError, UserChange};
    let admin = crate::convert::server_admin()?;
    let store = crate::scope::store()?;
    let hash = use_context::<crate::convert::DashboardConfig>()
        .map(|c| c.hash_password)
        .ok_or_else(|| ServerFnError::new("the dashboard cannot hash passwords"))?;
    let hash = tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|_| ServerFnError::new("hashing the password failed"))?
        .map_err(|m| crate::convert::fail(StoreError::Invalid(m)))?;
    let user = store.update_user(&email, &UserChange::Password(hash)).await.map_err(crate::convert::fail)?;
    tracing::info!(admin = ?admin.email, user = ?user.email, "password set from the dashboard");
    Ok(crate::convert::user_item(user))
}

/// A project's key state, named keys and retention.
#[server(prefix = "/api/dashboard", endpoint = "settings")]
pub async fn project_settings(project: String) -> Result<SettingsData, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (key, retention_days) = (scope.project.key_state(), scope.project.retention_days);
    let keys = scope.store.list_api_keys(scope.id).await.map_err(crate::convert::fail)?;
    let keys = keys.into_iter().map(crate::convert::key).collect();
    Ok(SettingsData { project: scope.item(), key, retention_days, ingest: crate::convert::ingest(), keys })
}

/// Creates a named key (project admins only) and returns it, once.
#[server(prefix = "/api/dashboard", endpoint = "create_key")]
pub async fn create_key(project: String, name: String, scope: String) -> Result<String, ServerFnError> {
    use northstar_store::{KeyScope, Store};
    let project_scope = crate::scope::ProjectScope::admin(&project).await?;
    let (store, id) = (&project_scope.store, project_scope.id);
    let scope = KeyScope::parse(&scope)
        .ok_or_else(|| crate::convert::fail(northstar_store::StoreError::Invalid("choose ingest or read".into())))?;
    let key = northstar_wire::keys::mint();
    let created = store
        .create_api_key(id, &name, scope, &northstar_wire::keys::hash(&key))
        .await
        .map_err(crate::convert::fail)?;
    tracing::info!(project = %id, key = %created.id, scope = scope.as_str(), "API key created from the dashboard");
    Ok(key)
}

/// Revokes one named key (project admins only).
#[server(prefix = "/api/dashboard", endpoint = "revoke_named_key")]
pub async fn revoke_named_key(project: String, key: String) -> Result<(), ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::admin(&project).await?;
    let key_id = crate::scope::uuid(&key)?;
    scope.store.revoke_api_key(scope.id, key_id).await.map_err(crate::convert::fail)?;
    tracing::info!(project = %scope.id, key = %key_id, "API key revoked from the dashboard");
    Ok(())
}

/// Replaces the project's API key (project admins only) and returns the new key, once.
#[server(prefix = "/api/dashboard", endpoint = "rotate_key")]
pub async fn rotate_key(project: String) -> Result<String, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::admin(&project).await?;
    let (store, id) = (&scope.store, scope.id);
    let key = northstar_wire::keys::mint();
    store.rotate_key(id, &northstar_wire::keys::hash(&key)).await.map_err(crate::convert::fail)?;
    tracing::info!(project = %id, "API key rotated from the dashboard");
    Ok(key)
}

/// Sets how many days the project keeps runs (project admins only); empty keeps everything.
#[server(prefix = "/api/dashboard", endpoint = "retention")]
pub async fn set_retention(project: String, days: String) -> Result<Option<u32>, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::admin(&project).await?;
    let (store, id) = (&scope.store, scope.id);
    let days = match days.trim() {
        "" => None,
        d => Some(
            d.parse::<u32>()
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| ServerFnError::new("retention must be a whole number of days, at least 1"))?,
        ),
    };
    store.set_retention(id, days).await.map_err(crate::convert::fail)?;
    Ok(days)
}

/// The overview page. `range`: `24h`, `7d`, `30d`, `90d` or `all`.
#[server(prefix = "/api/dashboard", endpoint = "overview")]
pub async fn overview(project: String, range: String) -> Result<OverviewData, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let range = crate::convert::range(&range);
    let o = scope.store.overview(scope.id, range).await.map_err(crate::convert::fail)?;
    let has_data = o.sessions > 0 || {
        let any = northstar_store::SessionFilter { limit: 1, ..Default::default() };
        scope.store.list_session_rows(scope.id, &any).await.map_err(crate::convert::fail)?.total > 0
    };
    Ok(crate::convert::overview(scope.item(), o, has_data))
}

/// One page of the sessions list.
#[server(prefix = "/api/dashboard", endpoint = "sessions")]
pub async fn list_sessions(
    project: String,
    status: String,
    range: String,
    q: String,
    sort: String,
    dir: String,
    page: u32,
) -> Result<SessionsData, ServerFnError> {
    use northstar_store::{SessionFilter, SessionSort, SessionStatus, Store};
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (store, id) = (&scope.store, scope.id);
    let filter = SessionFilter {
        status: SessionStatus::parse(&status),
        range: crate::convert::range(&range),
        search: Some(q).filter(|q| !q.trim().is_empty()),
        sort: SessionSort::parse(&sort).unwrap_or_default(),
        descending: dir != "asc",
        limit: crate::PAGE_SIZE,
        offset: page.saturating_sub(1).saturating_mul(crate::PAGE_SIZE),
        ..SessionFilter::default()
    };
    let rows = store.list_session_rows(id, &filter).await.map_err(crate::convert::fail)?;
    let now = chrono::Utc::now();
    Ok(SessionsData {
        rows: rows.rows.iter().map(|r| crate::convert::session(r, now)).collect(),
        total: rows.total,
        ingest: crate::convert::ingest(),
    })
}

/// One session and its runs, oldest first.
#[server(prefix = "/api/dashboard", endpoint = "session")]
pub async fn session(project: String, id: String) -> Result<SessionData, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let id = crate::convert::uuid(&id)?;
    let view = scope.store.session_view(scope.id, id).await.map_err(crate::convert::fail)?;
    let view = view.ok_or_else(crate::scope::PageError::not_found)?;
    Ok(crate::convert::session_data(&view, chrono::Utc::now()))
}

/// The project's score names, for the runs list's score filter.
#[server(prefix = "/api/dashboard", endpoint = "score_names")]
pub async fn score_names(project: String) -> Result<Vec<String>, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::open(&project).await?;
    scope.store.score_names(scope.id).await.map_err(crate::convert::fail)
}

/// One page of runs: status, time range, text, an optional score condition, and the sort
/// (`started`, `duration`, `cost`, `tokens`; `dir` `asc`, else newest or largest first).
#[server(prefix = "/api/dashboard", endpoint = "runs")]
pub async fn list_runs(
    project: String,
    status: String,
    range: String,
    q: String,
    score: String,
    min: String,
    max: String,
    category: String,
    sort: String,
    dir: String,
    page: u32,
) -> Result<RunsData, ServerFnError> {
    use northstar_store::{RunFilter, RunSort, ScoreFilter, Store};
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (store, id) = (&scope.store, scope.id);
    // An empty bound is none; anything else must be a number (never silently no rows).
    let bound = |s: &str, what: &str| match s.trim() {
        "" => Ok(None),
        t => t.parse::<f64>().ok().filter(|v| v.is_finite()).map(Some).ok_or_else(|| {
            crate::scope::PageError::bad_request(format!("the score's {what} must be a number, not “{t}”"))
        }),
    };
    let (min, max) = (bound(&min, "minimum")?, bound(&max, "maximum")?);
    let category = Some(category.trim().to_owned()).filter(|c| !c.is_empty());
    let score =
        Some(score.trim().to_owned()).filter(|s| !s.is_empty()).map(|name| ScoreFilter { name, min, max, category });
    let filter = RunFilter {
        status: crate::convert::status(&status),
        range: crate::convert::range(&range),
        search: Some(q).filter(|q| !q.trim().is_empty()),
        score,
        sort: RunSort::parse(&sort).unwrap_or_default(),
        descending: dir != "asc",
        limit: crate::PAGE_SIZE,
        offset: page.saturating_sub(1).saturating_mul(crate::PAGE_SIZE),
        ..RunFilter::default()
    };
    let rows = store.list_run_rows(id, &filter).await.map_err(crate::convert::fail)?;
    let now = chrono::Utc::now();
    Ok(RunsData {
        rows: rows.rows.iter().map(|r| crate::convert::run(r, now, r.started_at)).collect(),
        total: rows.total,
        ingest: crate::convert::ingest(),
    })
}

/// The run page's first view: the run and the first rows of its tree. With `span` (a deep
/// link), the span's path is opened and the window is the rows around it.
#[server(prefix = "/api/dashboard", endpoint = "trace")]
pub async fn trace(project: String, id: String, span: String) -> Result<TraceHead, ServerFnError> {
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (run, outline) = crate::outline::load(&scope, &id).await?;
    let target = Some(span.trim()).filter(|s| !s.is_empty()).and_then(|s| outline.find(s));
    let toggles = target.map(|i| outline.reveal(&[], i)).unwrap_or_default();
    let open = outline.open(&toggles);
    let selected_row = target.and_then(|i| outline.position(&open, i));
    // The window starts a little above the selected row, so it is not the first one shown.
    let offset = selected_row.map_or(0, |r| r.saturating_sub(TREE_ROWS / 4));
    Ok(TraceHead {
        summary: crate::convert::run_summary(&run, &outline),
        window: outline.window(&open, offset, TREE_ROWS),
        toggles,
        selected_row,
    })
}

/// The run page's header as it is now (a live page reads it again after a change).
#[server(prefix = "/api/dashboard", endpoint = "run_header")]
pub async fn run_header(project: String, id: String) -> Result<RunSummary, ServerFnError> {
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (run, outline) = crate::outline::load(&scope, &id).await?;
    Ok(crate::convert::run_summary(&run, &outline))
}

/// Rows a tree window holds: a screen and a half, so that scrolling has rows ready.
pub const TREE_ROWS: u32 = 120;

/// `limit` visible rows of a run's tree from row `offset`, with the tree in the state
/// `toggles` describes (span ids toggled against the default, comma-separated).
#[server(prefix = "/api/dashboard", endpoint = "trace_rows")]
pub async fn trace_rows(
    project: String,
    run: String,
    toggles: String,
    offset: u32,
    limit: u32,
) -> Result<TreeWindow, ServerFnError> {
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (_, outline) = crate::outline::load(&scope, &run).await?;
    let open = outline.open(&crate::outline::parse_toggles(&toggles));
    Ok(outline.window(&open, offset, limit))
}

/// The next failed span after `from` (a span id; the top when empty), or the previous one
/// before it when `forward` is false, wrapping around; with the tree state that shows it.
/// `None` when no span failed.
#[server(prefix = "/api/dashboard", endpoint = "trace_seek")]
pub async fn trace_seek(
    project: String,
    run: String,
    toggles: String,
    from: String,
    forward: bool,
) -> Result<Option<Seek>, ServerFnError> {
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (_, outline) = crate::outline::load(&scope, &run).await?;
    let Some(target) = outline.next_error(outline.find(&from), forward) else { return Ok(None) };
    Ok(Some(outline.seek(&crate::outline::parse_toggles(&toggles), target)))
}

/// Spans and events of a run matching `text` (name, kind, status, model, attribute values,
/// message text) and `kind` (a span kind, or `error`), in tree order.
#[server(prefix = "/api/dashboard", endpoint = "trace_search")]
pub async fn trace_search(
    project: String,
    run: String,
    text: String,
    kind: String,
) -> Result<SearchResult, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (row, outline) = crate::outline::load(&scope, &run).await?;
    let text_hits = if text.trim().is_empty() {
        Default::default()
    } else {
        let found = scope.store.run_text_search(scope.id, row.id, &text, 10_000).await.map_err(crate::convert::fail)?;
        found.iter().map(ToString::to_string).collect()
    };
    let found = outline.search(&text, &kind, &text_hits);
    let hits = found.iter().take(SearchResult::LIMIT).map(|&i| outline.hit(i)).collect();
    Ok(SearchResult { total: found.len() as u32, hits })
}

/// The run as who called whom (agents, tools, models), for the run page's graph.
#[server(prefix = "/api/dashboard", endpoint = "trace_graph")]
pub async fn trace_graph(project: String, run: String) -> Result<AgentGraph, ServerFnError> {
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (_, outline) = crate::outline::load(&scope, &run).await?;
    Ok(outline.graph())
}

/// The tree state that shows node `node` (a span or event id), and its row.
#[server(prefix = "/api/dashboard", endpoint = "trace_reveal")]
pub async fn trace_reveal(project: String, run: String, toggles: String, node: String) -> Result<Seek, ServerFnError> {
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (_, outline) = crate::outline::load(&scope, &run).await?;
    let target = outline.find(&node).ok_or_else(crate::scope::PageError::not_found)?;
    Ok(outline.seek(&crate::outline::parse_toggles(&toggles), target))
}

/// One node of a run in full: a span (`node` = its id) or the run itself (`node` empty).
#[server(prefix = "/api/dashboard", endpoint = "node")]
pub async fn load_node(project: String, run: String, node: String) -> Result<NodeDetail, ServerFnError> {
    use northstar_store::{NodeView, Store};
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let run = crate::convert::uuid(&run)?;
    let span = if node.is_empty() { None } else { Some(crate::convert::uuid(&node)?) };
    let view = scope.store.node_view(scope.id, run, span).await.map_err(crate::convert::fail)?;
    Ok(match view.ok_or_else(crate::scope::PageError::not_found)? {
        NodeView::Run { run, events } => crate::convert::run_detail(&run, &events),
        NodeView::Span { span, events } => crate::convert::span_detail(&span, &events),
    })
}

/// The scores of a run, newest first.
#[server(prefix = "/api/dashboard", endpoint = "scores")]
pub async fn run_scores(project: String, run: String) -> Result<Vec<ScoreItem>, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (store, project) = (&scope.store, scope.id);
    let scores = store.score_rows(project, crate::convert::uuid(&run)?).await.map_err(crate::convert::fail)?;
    let now = chrono::Utc::now();
    Ok(scores.into_iter().map(|s| crate::convert::score(&s.score, s.created_by, now)).collect())
}

/// Adds a human score to a run. `data_type`: `numeric` (uses `value`), `categorical` (uses
/// `category`) or `boolean` (uses `passed`: `pass` / `fail`).
#[server(prefix = "/api/dashboard", endpoint = "add_score")]
pub async fn add_score(
    project: String,
    run: String,
    name: String,
    data_type: String,
    value: Option<String>,
    category: Option<String>,
    passed: Option<String>,
    comment: Option<String>,
) -> Result<ScoreItem, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (store, project) = (&scope.store, scope.id);
    let mut new = crate::convert::new_score(&run, name, &data_type, value, category, passed, comment)?;
    new.created_by = Some(scope.user.email.clone());
    let score = store.add_score(project, &new).await.map_err(crate::convert::fail)?;
    Ok(crate::convert::score(&score, new.created_by, chrono::Utc::now()))
}

/// Every score name's distribution and trend.
#[server(prefix = "/api/dashboard", endpoint = "score_summaries")]
pub async fn score_summaries(project: String, range: String) -> Result<Vec<ScoreSummaryItem>, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let (store, project) = (&scope.store, scope.id);
    let summaries =
        store.score_summaries(project, crate::convert::range(&range)).await.map_err(crate::convert::fail)?;
    Ok(summaries.into_iter().map(crate::convert::summary).collect())
}

// The prompt registry: members read, the project's admins change.

/// The project's prompts, most recently changed first.
#[server(prefix = "/api/dashboard", endpoint = "prompts")]
pub async fn list_prompts(project: String) -> Result<crate::model::PromptsData, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let prompts = scope.store.list_prompts(scope.id).await.map_err(crate::convert::fail)?;
    let items = prompts.iter().map(crate::convert::prompt_item).collect();
    Ok(crate::model::PromptsData { project: scope.item(), prompts: items })
}

/// A prompt of the scope's project with its versions and history; 404 when it is not there.
#[cfg(feature = "ssr")]
async fn prompt_detail(
    scope: &crate::scope::ProjectScope,
    id: uuid::Uuid,
) -> Result<northstar_store::PromptDetail, ServerFnError> {
    use northstar_store::Store;
    scope.store.prompt_detail(scope.id, id).await.map_err(crate::convert::fail)?.ok_or_else(crate::scope::not_found)
}

/// Creates a prompt (project admins only); its id.
#[server(prefix = "/api/dashboard", endpoint = "create_prompt")]
pub async fn create_prompt(
    project: String,
    name: String,
    slug: String,
    description: String,
) -> Result<String, ServerFnError> {
    use northstar_store::{NewPrompt, Store};
    let scope = crate::scope::ProjectScope::admin(&project).await?;
    let new = NewPrompt { name, slug, description: Some(description), created_by: Some(scope.user.email.clone()) };
    let prompt = scope.store.create_prompt(scope.id, &new).await.map_err(crate::convert::fail)?;
    tracing::info!(project = %scope.id, prompt = %prompt.id, slug = %prompt.slug, "prompt created from the dashboard");
    Ok(prompt.id.to_string())
}

/// One prompt: its versions with how their runs went, and its label history.
#[server(prefix = "/api/dashboard", endpoint = "prompt")]
pub async fn prompt_page(project: String, id: String) -> Result<crate::model::PromptData, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let id = crate::scope::uuid(&id)?;
    let detail = prompt_detail(&scope, id).await?;
    let figures = scope.store.prompt_version_figures(scope.id, id).await.map_err(crate::convert::fail)?;
    let numbers = detail.versions.iter().map(|v| (v.id, v.version_number)).collect();
    let versions = detail
        .versions
        .iter()
        .map(|v| {
            let f = figures.iter().find(|f| f.version_id == v.id);
            crate::convert::version_item(v, &detail.prompt, &numbers, f)
        })
        .collect();
    let history = detail
        .history
        .iter()
        .map(|h| crate::model::LabelMoveItem {
            label: h.label.clone(),
            version: h.version_number,
            at: h.deployed_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            by: h.deployed_by.clone(),
            note: h.change_note.clone(),
        })
        .collect();
    Ok(crate::model::PromptData {
        project: scope.item(),
        prompt: crate::convert::prompt_item(&detail.prompt),
        versions,
        history,
    })
}

/// Adds a version to a prompt (project admins only), after its current one; its number.
#[server(prefix = "/api/dashboard", endpoint = "add_prompt_version")]
pub async fn add_prompt_version(
    project: String,
    prompt: String,
    content: String,
    model: String,
    temperature: String,
    max_tokens: String,
    change_note: String,
) -> Result<i32, ServerFnError> {
    use northstar_store::{NewPromptVersion, Store, StoreError};
    let scope = crate::scope::ProjectScope::admin(&project).await?;
    let prompt = crate::scope::uuid(&prompt)?;
    let number = |text: &str, what: &str| -> Result<Option<f64>, ServerFnError> {
        match text.trim() {
            "" => Ok(None),
            t => t.parse::<f64>().ok().filter(|v| v.is_finite()).map(Some).ok_or_else(|| {
                crate::convert::fail(StoreError::Invalid(format!("{what} must be a number, not “{t}”")))
            }),
        }
    };
    let temperature = number(&temperature, "the temperature")?;
    let max_tokens = match max_tokens.trim() {
        "" => None,
        t => Some(t.parse::<i64>().map_err(|_| {
            crate::convert::fail(StoreError::Invalid(format!("max tokens must be a whole number, not “{t}”")))
        })?),
    };
    let current = scope.store.prompt_detail(scope.id, prompt).await.map_err(crate::convert::fail)?;
    let new = NewPromptVersion {
        content,
        model: Some(model),
        temperature,
        max_tokens,
        variables: None,
        parent_version_id: current.and_then(|d| d.prompt.current_version_id),
        change_note: Some(change_note),
        created_by: Some(scope.user.email.clone()),
    };
    let version = scope.store.add_prompt_version(scope.id, prompt, &new).await.map_err(crate::convert::fail)?;
    tracing::info!(project = %scope.id, %prompt, version = version.version_number, "prompt version added from the dashboard");
    Ok(version.version_number)
}

/// Points a label at a version (project admins only; `prod` needs a change note).
#[server(prefix = "/api/dashboard", endpoint = "set_prompt_label")]
pub async fn set_prompt_label(
    project: String,
    prompt: String,
    label: String,
    version: String,
    change_note: String,
) -> Result<(), ServerFnError> {
    use northstar_store::{LabelChange, Store};
    let scope = crate::scope::ProjectScope::admin(&project).await?;
    let prompt = crate::scope::uuid(&prompt)?;
    let version_id = crate::scope::uuid(&version)?;
    let change =
        LabelChange { label, version_id, change_note: Some(change_note), deployed_by: Some(scope.user.email.clone()) };
    scope.store.set_prompt_label(scope.id, prompt, &change).await.map_err(crate::convert::fail)?;
    tracing::info!(project = %scope.id, %prompt, label = %change.label, version = %version_id, "prompt label moved from the dashboard");
    Ok(())
}

/// The lines of version `to` against version `from` of a prompt.
#[server(prefix = "/api/dashboard", endpoint = "prompt_diff")]
pub async fn prompt_diff(
    project: String,
    prompt: String,
    from: i32,
    to: i32,
) -> Result<Vec<crate::model::DiffLine>, ServerFnError> {
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let id = crate::scope::uuid(&prompt)?;
    let detail = prompt_detail(&scope, id).await?;
    let content = |n: i32| {
        detail
            .versions
            .iter()
            .find(|v| v.version_number == n)
            .map(|v| v.content.clone())
            .ok_or_else(crate::scope::not_found)
    };
    let (old, new) = (content(from)?, content(to)?);
    let diff = similar::TextDiff::from_lines(&old, &new);
    Ok(diff
        .iter_all_changes()
        .map(|c| crate::model::DiffLine {
            tag: match c.tag() {
                similar::ChangeTag::Equal => "same",
                similar::ChangeTag::Insert => "add",
                similar::ChangeTag::Delete => "del",
            }
            .to_owned(),
            text: c.value().trim_end_matches(['\n', '\r']).to_owned(),
        })
        .collect())
}

/// A version of a prompt and a page of the runs that used it, newest first.
#[server(prefix = "/api/dashboard", endpoint = "prompt_version")]
pub async fn prompt_version(
    project: String,
    prompt: String,
    number: i32,
    page: u32,
) -> Result<crate::model::VersionData, ServerFnError> {
    use northstar_store::{RunFilter, Store};
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let id = crate::scope::uuid(&prompt)?;
    let detail = prompt_detail(&scope, id).await?;
    let version = detail.versions.iter().find(|v| v.version_number == number).ok_or_else(crate::scope::not_found)?;
    let figures = scope.store.prompt_version_figures(scope.id, id).await.map_err(crate::convert::fail)?;
    let numbers = detail.versions.iter().map(|v| (v.id, v.version_number)).collect();
    let filter = RunFilter {
        prompt_version: Some(version.id),
        limit: crate::PAGE_SIZE,
        offset: page.saturating_sub(1).saturating_mul(crate::PAGE_SIZE),
        ..RunFilter::default()
    };
    let rows = scope.store.list_run_rows(scope.id, &filter).await.map_err(crate::convert::fail)?;
    let now = chrono::Utc::now();
    Ok(crate::model::VersionData {
        prompt: crate::convert::prompt_item(&detail.prompt),
        version: crate::convert::version_item(
            version,
            &detail.prompt,
            &numbers,
            figures.iter().find(|f| f.version_id == version.id),
        ),
        runs: rows.rows.iter().map(|r| crate::convert::run(r, now, r.started_at)).collect(),
        total: rows.total,
    })
}

/// The prompt versions the spans of a run used, with their variables.
#[server(prefix = "/api/dashboard", endpoint = "run_prompts")]
pub async fn run_prompts(project: String, run: String) -> Result<Vec<crate::model::PromptUseItem>, ServerFnError> {
    use northstar_store::Store;
    let scope = crate::scope::ProjectScope::open(&project).await?;
    let run = crate::scope::uuid(&run)?;
    let uses = scope.store.prompt_uses(scope.id, run).await.map_err(crate::convert::fail)?;
    let mut items = Vec::with_capacity(uses.len());
    for u in uses {
        let span = scope.store.get_span(scope.id, u.span_id).await.map_err(crate::convert::fail)?;
        let variables = match &u.variable_values {
            serde_json::Value::Object(map) => {
                map.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            }
            _ => Vec::new(),
        };
        items.push(crate::model::PromptUseItem {
            span_id: u.span_id.to_string(),
            span_name: span.map_or_else(|| "—".to_owned(), |s| s.name),
            prompt_id: u.prompt_id.to_string(),
            prompt_name: u.prompt_name,
            version: u.version_number,
            labels: u.labels,
            variables,
        });
    }
    Ok(items)
}
