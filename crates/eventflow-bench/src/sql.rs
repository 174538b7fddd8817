//! The benchmark's own PostgreSQL connections, for what only a load tool does:
//! seeding a data set in bulk, vacuuming it, sampling ids, counting a run's
//! deliveries. The statements the services run live in `eventflow-store`, whose
//! pooled connections stay its own; the seeder's rows are checked against the
//! store's definitions by its test.

use anyhow::Context;

/// Opens one connection to `database_url` (`--database-url`).
pub async fn connect(database_url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .context("connecting to PostgreSQL (--database-url)")?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("warning: a PostgreSQL connection failed: {error}");
        }
    });
    Ok(client)
}
