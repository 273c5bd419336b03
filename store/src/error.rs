use uuid::Uuid;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record names a session/run/span that is not in the batch nor stored in the project, or
    /// reuses an id owned by another project. The ingest endpoint answers 400 for this.
    #[error("invalid project reference: {0}")]
    InvalidReference(String),
    /// A value the database refuses (Postgres' data-exception class 22: a string it cannot
    /// store, a number out of its column's range). The client's data, never a 500.
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// The named project does not exist (or has no key).
    #[error("project {0} not found")]
    ProjectNotFound(Uuid),
    /// A record the caller named does not exist in the project.
    #[error("{0}")]
    NotFound(&'static str),
    /// An argument the store refuses, such as a blank project name.
    #[error("{0}")]
    Invalid(String),
    /// A database URL the store cannot use.
    #[error("unsupported database URL (expected postgres://… or sqlite://…): {0}")]
    UnsupportedUrl(String),
    /// The database cannot be reached right now (connection refused or lost, pool exhausted,
    /// server shutting down). The ingest endpoint answers 503 so clients retry.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value that does not decode (a bug or a hand-edited row).
    #[error("corrupt stored value in {0}")]
    Corrupt(&'static str),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        // A foreign-key failure is a reference the checks did not catch (for example a row
        // deleted concurrently): still the client's reference, never a 500.
        if let sqlx::Error::Database(db) = &err
            && db.is_foreign_key_violation()
        {
            return Self::InvalidReference(db.message().to_owned());
        }
        if let sqlx::Error::Database(db) = &err
            && db.code().is_some_and(|c| c.starts_with("22"))
        {
            return Self::InvalidData(db.message().to_owned());
        }
        if is_unavailable(&err) {
            return Self::Unavailable(err);
        }
        Self::Database(err)
    }
}

/// Errors that mean "the database is not there (now)", not "this request is wrong": I/O, pool
/// timeouts, and Postgres' connection-exception (08), operator-intervention (57) and
/// transaction-rollback (40: a deadlock between two batches, a serialization failure) classes,
/// all of which a retry of the same batch can get past.
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57") || c.starts_with("40"))
        }
        _ => false,
    }
}

impl StoreError {
    /// True for a unique-constraint failure (used to report a reused key hash clearly).
    pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
    }
}
