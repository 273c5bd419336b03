//! The admin commands: projects, keys and users. Output goes to stdout; keys are printed once.

use std::io::Write;

use northstar_store::{AnyStore, KeyScope, Store, StoreError};
use uuid::Uuid;

use crate::keys;

/// `project create --name NAME`.
///
/// # Errors
///
/// Store errors, including a blank name.
pub async fn create_project(store: &AnyStore, name: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let key = keys::mint();
    let project = store.create_project(name, &keys::hash(&key)).await?;
    writeln!(out, "project id: {}", project.id)?;
    writeln!(out, "name:       {}", project.name)?;
    writeln!(out, "API key:    {key}")?;
    writeln!(out, "(shown once: only its SHA-256 hash is stored)")?;
    Ok(())
}

/// `project list`.
///
/// # Errors
///
/// Store errors.
pub async fn list_projects(store: &AnyStore, out: &mut impl Write) -> anyhow::Result<()> {
    let projects = store.list_projects().await?;
    writeln!(out, "{:<36}  {:<24}  {:<20}  key", "id", "name", "created")?;
    for p in projects {
        let key = p.key_state();
        writeln!(out, "{:<36}  {:<24}  {:<20}  {key}", p.id, p.name, p.created_at.format("%Y-%m-%d %H:%M:%S"))?;
    }
    Ok(())
}

/// `key rotate --project ID`.
///
/// # Errors
///
/// Unknown project; store errors.
pub async fn rotate_key(store: &AnyStore, project: Uuid, out: &mut impl Write) -> anyhow::Result<()> {
    let key = keys::mint();
    store.rotate_key(project, &keys::hash(&key)).await.map_err(not_found)?;
    writeln!(out, "project id: {project}")?;
    writeln!(out, "API key:    {key}")?;
    writeln!(out, "(shown once; the previous key no longer works)")?;
    Ok(())
}

/// `key revoke --project ID`.
///
/// # Errors
///
/// Unknown project; store errors.
pub async fn revoke_key(store: &AnyStore, project: Uuid, out: &mut impl Write) -> anyhow::Result<()> {
    if store.revoke_key(project).await.map_err(not_found)? {
        writeln!(out, "revoked the API key of project {project}")?;
    } else {
        writeln!(out, "the API key of project {project} was already revoked")?;
    }
    Ok(())
}

/// `key create --project ID --name NAME --scope ingest|read`.
///
/// # Errors
///
/// Unknown project or scope, a blank name; store errors.
pub async fn create_key(
    store: &AnyStore,
    project: Uuid,
    name: &str,
    scope: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let scope = KeyScope::parse(scope).ok_or_else(|| anyhow::anyhow!("scope must be ingest or read"))?;
    let key = keys::mint();
    let created = store.create_api_key(project, name, scope, &keys::hash(&key)).await.map_err(not_found)?;
    writeln!(out, "key id:     {}", created.id)?;
    writeln!(out, "name:       {}", created.name)?;
    writeln!(out, "scope:      {}", created.scope.as_str())?;
    writeln!(out, "API key:    {key}")?;
    writeln!(out, "(shown once: only its SHA-256 hash is stored)")?;
    Ok(())
}

/// `key list --project ID`: never the keys themselves.
///
/// # Errors
///
/// Store errors.
pub async fn list_keys(store: &AnyStore, project: Uuid, out: &mut impl Write) -> anyhow::Result<()> {
    let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
    };
    writeln!(out, "{:<36}  {:<24}  {:<6}  {:<19}  {:<19}  state", "id", "name", "scope", "created", "last used")?;
    for k in store.list_api_keys(project).await? {
        let state = if k.revoked_at.is_some() { format!("revoked {}", at(k.revoked_at)) } else { "active".into() };
        let name = &k.name;
        writeln!(
            out,
            "{:<36}  {:<24}  {:<6}  {:<19}  {:<19}  {state}",
            k.id,
            name,
            k.scope.as_str(),
            at(Some(k.created_at)),
            at(k.last_used_at)
        )?;
    }
    Ok(())
}

/// `key revoke --project ID --key KEY`.
///
/// # Errors
///
/// A key that is not the project's; store errors.
pub async fn revoke_named_key(store: &AnyStore, project: Uuid, key: Uuid, out: &mut impl Write) -> anyhow::Result<()> {
    let revoked = store.revoke_api_key(project, key).await.map_err(|e| match e {
        StoreError::NotFound(_) => anyhow::anyhow!("project {project} has no key {key}"),
        other => other.into(),
    })?;
    if revoked {
        writeln!(out, "revoked key {key}")?;
    } else {
        writeln!(out, "key {key} was already revoked")?;
    }
    Ok(())
}

/// `user create --email E --password P [--admin]`.
///
/// # Errors
///
/// A taken email, a short password; store errors.
pub async fn create_user(
    store: &AnyStore,
    email: &str,
    password: &str,
    is_admin: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&password)).await??;
    let user = store.create_user(email, &hash, is_admin).await?;
    let kind = if user.is_admin { "server admin" } else { "user" };
    writeln!(out, "created {kind} {} ({})", user.email, user.id)?;
    Ok(())
}

/// `user password --email E --password P`: a new password; the user's logins end.
///
/// # Errors
///
/// An unknown email, a short password; store errors.
pub async fn set_password(store: &AnyStore, email: &str, password: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&password)).await??;
    let user = store.update_user(email, &northstar_store::UserChange::Password(hash)).await.map_err(no_user(email))?;
    writeln!(out, "set the password of {}; their logins have ended", user.email)?;
    Ok(())
}

/// `user disable --email E` / `user enable --email E`.
///
/// # Errors
///
/// An unknown email; store errors.
pub async fn set_disabled(store: &AnyStore, email: &str, disabled: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let user =
        store.update_user(email, &northstar_store::UserChange::Disabled(disabled)).await.map_err(no_user(email))?;
    if disabled {
        writeln!(out, "disabled {}; their logins have ended", user.email)?;
    } else {
        writeln!(out, "enabled {}", user.email)?;
    }
    Ok(())
}

fn no_user(email: &str) -> impl FnOnce(StoreError) -> anyhow::Error + '_ {
    move |err| match err {
        StoreError::NotFound(_) => anyhow::anyhow!("no user with email {email}"),
        other => other.into(),
    }
}

/// `user add --email E --project ID --role member|admin`.
///
/// # Errors
///
/// Unknown user, project or role; store errors.
pub async fn add_member(
    store: &AnyStore,
    email: &str,
    project: Uuid,
    role: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let role = northstar_store::Role::parse(role).ok_or_else(|| anyhow::anyhow!("role must be member or admin"))?;
    let (user, _) = store.user_by_email(email).await?.ok_or_else(|| anyhow::anyhow!("no user with email {email}"))?;
    store.set_member(project, user.id, role).await.map_err(|e| match e {
        StoreError::NotFound(_) => anyhow::anyhow!("no project with id {project}"),
        other => other.into(),
    })?;
    writeln!(out, "{} is now {} of project {project}", user.email, role.as_str())?;
    Ok(())
}

fn not_found(err: StoreError) -> anyhow::Error {
    match err {
        StoreError::ProjectNotFound(id) => anyhow::anyhow!("no project with id {id}"),
        other => other.into(),
    }
}
