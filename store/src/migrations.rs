//! The migrations, embedded in the binary: the list `build.rs` makes of `migrations/`, read by
//! `sqlx::migrate::Migrator` as it would read the directory (same versions, descriptions and
//! checksums, so databases migrated by either agree).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::SqlSafeStr;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::StoreError;

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// One backend's migrations, as `build.rs` lists them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Embedded(pub(crate) &'static [(i64, &'static str, &'static str)]);

impl Embedded {
    pub(crate) const POSTGRES: Self = Self(POSTGRES);
    pub(crate) const SQLITE: Self = Self(SQLITE);

    /// How many migrations there are.
    pub(crate) fn len(self) -> usize {
        self.0.len()
    }

    /// A migrator for these migrations.
    pub(crate) async fn migrator(self) -> Result<Migrator, StoreError> {
        Ok(Migrator::new(self).await?)
    }
}

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                // `-- no-transaction` on the first line opts out of the transaction, as sqlx reads it.
                let no_tx = sql.starts_with("-- no-transaction");
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, sql.into_sql_str(), no_tx)
            })
            .collect();
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sqlx::migrate::{Migration, Migrator};

    use super::Embedded;

    /// What sqlx checks of an applied migration, and what it records.
    fn recorded(migrator: &Migrator) -> Vec<(i64, String, Vec<u8>, bool)> {
        migrator
            .iter()
            .map(|m: &Migration| (m.version, m.description.to_string(), m.checksum.to_vec(), m.no_tx))
            .collect()
    }

    /// A database migrated by an earlier build (which used `sqlx::migrate!`, reading the
    /// directory as `Migrator::new` does) must find the same checksums, or it would refuse to start.
    #[tokio::test]
    async fn the_embedded_migrations_are_the_ones_sqlx_reads_from_the_directory() {
        for (embedded, dir) in [(Embedded::POSTGRES, "postgres"), (Embedded::SQLITE, "sqlite")] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(dir);
            let from_directory = Migrator::new(path).await.expect("read the directory");
            let embedded = embedded.migrator().await.expect("the embedded list");
            assert_eq!(recorded(&embedded), recorded(&from_directory), "{dir}");
            assert!(embedded.iter().next().is_some(), "{dir}: no migrations found");
        }
    }
}
