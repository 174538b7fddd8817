//! Versioned migrations from `migrations/`, applied under an advisory lock so
//! that several replicas starting at once apply each migration exactly once.

use crate::{Store, StoreError};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Arbitrary constant shared by every EventFlow process that migrates.
const MIGRATION_LOCK_KEY: i64 = 0x6576_656e_7466_6c6f; // "eventflo"

impl Store {
    /// Applies every pending migration and returns the names of those applied.
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut connection = self.connection().await?;
        connection
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
            .await?;
        let client: &mut tokio_postgres::Client = &mut connection;
        let outcome = embedded::migrations::runner().run_async(client).await;
        connection
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
            .await?;
        let report = outcome.map_err(|error| StoreError::Migration(Box::new(error)))?;
        Ok(report
            .applied_migrations()
            .iter()
            .map(|m| m.to_string())
            .collect())
    }
}

/// A fingerprint of the migrations this build carries (names and checksums),
/// e.g. to name a template database that must be rebuilt when they change.
pub fn migrations_fingerprint() -> String {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| format!("{}:{:x}", m, m.checksum()))
        .collect::<Vec<_>>()
        .join(",")
}
