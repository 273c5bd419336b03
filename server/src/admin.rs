//! The admin commands: projects and keys. Output goes to stdout; keys are printed once.

use std::io::Write;

use northstar_store::{AnyStore, Store, StoreError};
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
        let key = match (p.key_created_at, p.key_revoked_at) {
            (_, Some(at)) => format!("revoked {}", at.format("%Y-%m-%d %H:%M:%S")),
            (Some(at), None) => format!("active since {}", at.format("%Y-%m-%d %H:%M:%S")),
            (None, None) => "none".into(),
        };
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

fn not_found(err: StoreError) -> anyhow::Error {
    match err {
        StoreError::ProjectNotFound(id) => anyhow::anyhow!("no project with id {id}"),
        other => other.into(),
    }
}
