//! One fresh database per test, cloned from a migrated template.
//!
//! The template is named after the migrations' fingerprint and built once,
//! under an advisory lock, because nextest runs each test in its own process
//! and `CREATE DATABASE … TEMPLATE` needs the template to have no sessions.

use std::sync::Arc;

use eventflow_store::{PoolSettings, Store};
use sha2::{Digest, Sha256};
use tokio_postgres::NoTls;

const TEMPLATE_LOCK_KEY: i64 = 0x7465_6d70_6c61_7465; // "template"

/// A database created for one test. Databases are dropped by
/// `scripts/test.sh` after the run (a `Drop` cannot wait for PostgreSQL).
pub struct TestDatabase {
    name: String,
    url: String,
    /// The connection [`Self::client`] hands out, opened on first use.
    client: tokio::sync::Mutex<Option<Arc<tokio_postgres::Client>>>,
}

impl TestDatabase {
    /// Creates `eventflow_test_<uuid>` from the migrated template.
    pub async fn create() -> Self {
        Self::create_on(&maintenance_url()).await
    }

    /// Creates `eventflow_test_<uuid>` on the PostgreSQL server of the
    /// maintenance URL `maintenance` (e.g. a private server a test stops).
    pub async fn create_on(maintenance: &str) -> Self {
        let (client, connection) = tokio_postgres::connect(maintenance, NoTls)
            .await
            .unwrap_or_else(|error| panic!("tests need PostgreSQL at {maintenance}: {error}"));
        tokio::spawn(connection);
        let template = ensure_template(&client, maintenance).await;
        let name = format!("eventflow_test_{}", uuid::Uuid::now_v7().simple());
        client
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
            .expect("create test database");
        let url = database_url_on(maintenance, &name);
        Self {
            name,
            url,
            client: tokio::sync::Mutex::new(None),
        }
    }

    /// The connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A URL for this database that connects through `addr` (e.g. a [`crate::TcpProxy`]).
    pub fn url_through(&self, addr: std::net::SocketAddr) -> String {
        let maintenance: tokio_postgres::Config =
            maintenance_url().parse().expect("maintenance url");
        let user = maintenance.get_user().unwrap_or("postgres");
        format!(
            "host={} port={} user={user} dbname={}",
            addr.ip(),
            addr.port(),
            self.name
        )
    }

    /// The address of the PostgreSQL server tests use.
    pub fn server_addr() -> std::net::SocketAddr {
        let maintenance: tokio_postgres::Config =
            maintenance_url().parse().expect("maintenance url");
        let host = match maintenance.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let port = maintenance.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}").parse().expect("postgres address")
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A store connected to this database.
    pub fn store(&self) -> Store {
        // Small: every test holds a few pools and PostgreSQL allows 100 connections.
        let settings = PoolSettings {
            max_connections: 4,
            ..PoolSettings::default()
        };
        Store::connect(&self.url, &settings)
            .expect("test store")
            .with_secrets(std::sync::Arc::new(crate::test_secrets_keyring()))
    }

    /// A plain SQL connection to this database, for what a test must see or
    /// do beneath the store's API: read a row as it is stored (a sealed
    /// secret), write one the services never would (a legacy row). The store
    /// keeps its own connections to itself.
    ///
    /// Opened on first use and kept, so tests running side by side do not
    /// open a connection per query; opened again when PostgreSQL closed it
    /// (a test that restarts the server).
    pub async fn client(&self) -> Arc<tokio_postgres::Client> {
        let mut kept = self.client.lock().await;
        if let Some(client) = kept.as_ref().filter(|client| !client.is_closed()) {
            return Arc::clone(client);
        }
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .unwrap_or_else(|error| panic!("connect to {}: {error}", self.name));
        tokio::spawn(connection);
        let client = Arc::new(client);
        *kept = Some(Arc::clone(&client));
        client
    }

    /// Runs a query returning one i64, for checks the API cannot show.
    pub async fn count(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .expect(sql)
            .get(0)
    }
}

fn maintenance_url() -> String {
    std::env::var("EVENTFLOW_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `maintenance` with its database name replaced.
fn database_url_on(maintenance: &str, name: &str) -> String {
    let base = maintenance.split('?').next().unwrap_or(maintenance);
    let server = base
        .rsplit_once('/')
        .map(|(server, _)| server)
        .unwrap_or(base);
    format!("{server}/{name}")
}

async fn ensure_template(client: &tokio_postgres::Client, maintenance: &str) -> String {
    let fingerprint = hex::encode(Sha256::digest(
        eventflow_store::migrations_fingerprint().as_bytes(),
    ));
    let template = format!("eventflow_tpl_{}", &fingerprint[..16]);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK_KEY])
        .await
        .expect("lock");
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .expect("look up template")
        .is_some();
    if !exists {
        build_template(client, &template, maintenance).await;
    }
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK_KEY])
        .await
        .expect("unlock");
    template
}

/// Migrates into a scratch name and renames it, so a template is never seen half-built.
async fn build_template(client: &tokio_postgres::Client, template: &str, maintenance: &str) {
    let scratch = format!("{template}_build");
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {scratch}"))
        .await
        .expect("drop scratch");
    client
        .batch_execute(&format!("CREATE DATABASE {scratch}"))
        .await
        .expect("create scratch");
    let store = Store::connect(
        &database_url_on(maintenance, &scratch),
        &PoolSettings::default(),
    )
    .expect("scratch store");
    store
        .migrate()
        .await
        .expect("migrations apply to an empty database");
    store.close();
    drop(store);
    // Pool connections close asynchronously; wait until no session remains.
    crate::eventually(
        "no session left on the template database",
        std::time::Duration::from_secs(5),
        || async {
            let sessions: i64 = client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                    &[&scratch],
                )
                .await
                .expect("count sessions")
                .get(0);
            sessions == 0
        },
    )
    .await;
    client
        .batch_execute(&format!("ALTER DATABASE {scratch} RENAME TO {template}"))
        .await
        .expect("rename template");
}
