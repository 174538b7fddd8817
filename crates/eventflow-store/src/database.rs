//! Creating the database itself, for `eventflow dev`: the one statement that
//! runs outside it, on the server's `postgres` maintenance database.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::StoreError;

/// How long to wait for PostgreSQL when the URL sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// PostgreSQL's longest identifier: it truncates longer names silently, so a
/// longer name would create a database of another name.
const MAX_NAME_BYTES: usize = 63;

/// Creates the database named in `database_url` when it does not exist, by
/// connecting to the `postgres` maintenance database of the same server;
/// true when it created it. Another process creating it meanwhile is fine.
///
/// `CREATE DATABASE` takes no parameters, so the name is written into the
/// statement: only ASCII letters, digits, `_` and `-` (at most 63 bytes) are
/// accepted, anything else is refused before PostgreSQL sees it.
pub async fn ensure_database(database_url: &str) -> Result<bool, StoreError> {
    let mut config =
        tokio_postgres::Config::from_str(database_url).map_err(StoreError::InvalidUrl)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let name = config.get_dbname().unwrap_or_default().to_owned();
    check_database_name(&name)?;
    match config.connect(NoTls).await {
        Ok(_) => return Ok(false),
        Err(error) if error.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {}
        Err(error) => return Err(error.into()),
    }
    let mut maintenance = config;
    maintenance.dbname("postgres");
    let (client, connection) = maintenance.connect(NoTls).await?;
    let connection = tokio::spawn(connection);
    let created = client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await;
    drop(client);
    let _ = connection.await;
    match created {
        Ok(()) => Ok(true),
        Err(error) if error.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Accepts the names [`ensure_database`] may write into its statement.
fn check_database_name(name: &str) -> Result<(), StoreError> {
    let refuse = |reason: &'static str| {
        Err(StoreError::DatabaseName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("the URL names no database");
    }
    if name.len() > MAX_NAME_BYTES {
        return refuse("longer than 63 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return refuse("only ASCII letters, digits, _ and - are accepted");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_accepted_and_others_refused() {
        for good in ["eventflow", "EventFlow_dev-2", &"a".repeat(63)] {
            assert!(check_database_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a\"; DROP DATABASE postgres; --",
            "a b",
            "é",
            "a.b",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(
                    check_database_name(bad),
                    Err(StoreError::DatabaseName { .. })
                ),
                "{bad}"
            );
        }
    }
}
