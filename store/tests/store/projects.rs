//! The store's project and key operations, directly, on both backends: the rules the CLI and
//! the ingest endpoint rely on.

use northstar_store::{AnyStore, Store, StoreError};
use northstar_test_support::{Backend, store};

/// Keys and their hashes, as the server mints and hashes them; the store keeps hashes opaque.
mod keys {
    pub fn mint() -> String {
        format!("ns_{}", uuid::Uuid::new_v4().simple())
    }

    pub fn hash(key: &str) -> String {
        format!("sha256-of-{key}")
    }
}

async fn keys_and_projects(backend: Backend) {
    let (store, _guard) = store(backend).await;
    assert!(store.list_projects().await.expect("list").is_empty());

    let (k1, k2) = (keys::mint(), keys::mint());
    let a = store.create_project("  alpha  ", &keys::hash(&k1)).await.expect("create");
    assert_eq!(a.name, "alpha", "names are trimmed");
    let b = store.create_project("beta", &keys::hash(&k2)).await.expect("create");
    assert_eq!(store.resolve_api_key(&keys::hash(&k1)).await.expect("resolve"), Some(a.id));
    assert_eq!(store.resolve_api_key(&keys::hash(&k2)).await.expect("resolve"), Some(b.id));

    let listed: Vec<_> = store.list_projects().await.expect("list").into_iter().map(|p| (p.id, p.name)).collect();
    assert_eq!(listed, vec![(a.id, "alpha".to_owned()), (b.id, "beta".to_owned())]);

    assert!(matches!(store.create_project(" \t ", &keys::hash("x")).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.create_project("gamma", &keys::hash(&k1)).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.list_projects().await.expect("list").len(), 2, "a refused project leaves nothing behind");

    // Rotation replaces the single key row; the old hash resolves to nothing.
    let k3 = keys::mint();
    store.rotate_key(a.id, &keys::hash(&k3)).await.expect("rotate");
    assert_eq!(store.resolve_api_key(&keys::hash(&k1)).await.expect("resolve"), None);
    assert_eq!(store.resolve_api_key(&keys::hash(&k3)).await.expect("resolve"), Some(a.id));
    assert!(matches!(store.rotate_key(a.id, &keys::hash(&k2)).await, Err(StoreError::Invalid(_))), "b's key");
    let stranger = uuid::Uuid::new_v4();
    assert!(
        matches!(store.rotate_key(stranger, &keys::hash("y")).await, Err(StoreError::ProjectNotFound(id)) if id == stranger)
    );

    assert!(store.revoke_key(a.id).await.expect("revoke"));
    assert!(!store.revoke_key(a.id).await.expect("revoke again"));
    assert_eq!(store.resolve_api_key(&keys::hash(&k3)).await.expect("resolve"), None);
    let revoked = store.list_projects().await.expect("list").into_iter().find(|p| p.id == a.id).expect("a");
    assert!(revoked.key_revoked_at.is_some());
    assert!(matches!(store.revoke_key(stranger).await, Err(StoreError::ProjectNotFound(_))));

    // Migrations are idempotent.
    store.migrate().await.expect("migrate again");
}

#[tokio::test]
async fn keys_and_projects_postgres() {
    keys_and_projects(Backend::Postgres).await;
}

#[tokio::test]
async fn keys_and_projects_sqlite() {
    keys_and_projects(Backend::Sqlite).await;
}

#[tokio::test]
async fn urls_choose_the_backend() {
    let memory = AnyStore::connect("sqlite::memory:").await.expect("in-memory SQLite");
    assert_eq!(memory.backend(), "sqlite");
    memory.migrate().await.expect("migrate");
    let err = AnyStore::connect("mysql://user:secret@localhost/db").await.expect_err("unsupported");
    assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    assert!(!err.to_string().contains("secret"), "credentials are never echoed: {err}");
}
