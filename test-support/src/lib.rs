//! The test harness of the workspace: a real store per test (a fresh Postgres database, or a SQLite file in a
//! temporary directory) and the real server on a free port of 127.0.0.1.
//!
//! Postgres is found through `NORTHSTAR_TEST_DATABASE_URL` (an admin connection, default
//! `postgres://postgres@127.0.0.1:5432/postgres`); `scripts/test` starts a throwaway cluster
//! when none is reachable. A test that cannot reach Postgres fails: it is never skipped.
//!
//! Without its default feature `server` it is the store's harness alone (the store's own tests
//! use it so, without building the server).

use northstar_store::{AnyStore, Store};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

#[cfg(feature = "server")]
pub mod fixtures;
#[cfg(feature = "server")]
pub mod proxy;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
pub use server::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

pub fn admin_url() -> String {
    std::env::var("NORTHSTAR_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, empty Postgres database, dropped when this value is.
#[derive(Debug)]
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    /// The database is named after this process (`northstar_test_<pid>_<uuid>`), so that one a
    /// process left behind (a test binary killed, or a database held by a `static` harness,
    /// which is never dropped) is dropped by the next test run once that process is gone.
    pub async fn create() -> Self {
        let admin = admin_url();
        let name = format!("northstar_test_{}_{}", std::process::id(), Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach Postgres at {admin} (run the tests through scripts/test): {e}"));
        if admin.contains("@127.0.0.1") || admin.contains("@localhost") || admin.contains("@[::1]") {
            drop_orphans(&mut conn).await;
        }
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create test database");
        conn.close().await.ok();
        let (base, _) = admin.rsplit_once('/').expect("admin URL has a database path");
        Self { url: format!("{base}/{name}"), name }
    }
}

/// Drops the test databases of processes that no longer run. Only for a cluster on this
/// machine, whose tests' processes are this machine's. Once per process.
async fn drop_orphans(conn: &mut PgConnection) {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SWEPT.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let Ok(names) =
        sqlx::query_scalar::<_, String>("SELECT datname FROM pg_database WHERE datname LIKE 'northstar\\_test\\_%'")
            .fetch_all(&mut *conn)
            .await
    else {
        return;
    };
    for name in names {
        // Names from before the pid was in them (a uuid only, no second `_`) are orphans too.
        let pid = name.strip_prefix("northstar_test_").and_then(|rest| rest.split_once('_')).map(|(pid, _)| pid);
        let orphan =
            pid.is_none_or(|p| p.parse::<u32>().is_ok_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()));
        if orphan {
            let _ = conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = admin_url();
        let name = self.name.clone();
        // Drop runs inside (or outside) an async runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ =
                        conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
                }
            });
        })
        .join();
    }
}

/// Keeps the database of a test alive for as long as the test runs.
#[derive(Debug)]
pub enum StoreGuard {
    Postgres(PgDatabase),
    Sqlite(tempfile::TempDir),
}

impl StoreGuard {
    /// The database URL, for child processes.
    pub fn url(&self) -> String {
        match self {
            StoreGuard::Postgres(db) => db.url.clone(),
            StoreGuard::Sqlite(dir) => format!("sqlite://{}", dir.path().join("northstar.db").display()),
        }
    }
}

pub async fn store(backend: Backend) -> (AnyStore, StoreGuard) {
    let guard = match backend {
        Backend::Postgres => StoreGuard::Postgres(PgDatabase::create().await),
        Backend::Sqlite => StoreGuard::Sqlite(tempfile::tempdir().expect("temp dir")),
    };
    let store = AnyStore::connect(&guard.url()).await.expect("connect store");
    store.migrate().await.expect("migrate");
    (store, guard)
}

/// Runs raw SQL on a store's database, bypassing the server: only for breaking things on purpose.
pub async fn execute_sql(url: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    if url.starts_with("postgres") {
        let mut conn = PgConnection::connect(url).await.expect("connect");
        conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await.expect("execute");
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
        conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await.expect("execute");
    }
}

pub fn uuid(s: &str) -> Uuid {
    s.parse().expect("uuid literal")
}
