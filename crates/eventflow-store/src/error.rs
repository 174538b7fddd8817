use tokio_postgres::error::SqlState;

/// What went wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL cannot be reached or dropped the connection; retrying later may work.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A statement failed for another reason.
    #[error("database query failed")]
    Query(#[source] tokio_postgres::Error),
    /// A migration failed to apply.
    #[error("database migration failed")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The configured database URL does not parse.
    #[error("invalid database url")]
    InvalidUrl(#[source] tokio_postgres::Error),
    /// `ensure_database` will not put this name into `CREATE DATABASE`.
    #[error("refusing to create database {name:?}: {reason}")]
    DatabaseName { name: String, reason: &'static str },
    /// A row that must exist does not.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// Creating the row would pass a per-project limit; nothing was written.
    #[error("a project may have at most {limit} {what}")]
    LimitReached { what: &'static str, limit: usize },
    /// An endpoint secret must be sealed or opened but no keyring was given
    /// (`Store::with_secrets`).
    #[error("endpoint secrets are encrypted at rest: set EVENTFLOW_SECRETS_KEY")]
    SecretsKeyMissing,
    /// A sealed endpoint secret did not open with the configured keys.
    #[error("cannot decrypt the signing secret of endpoint {endpoint_id}")]
    SealedSecret {
        endpoint_id: eventflow_domain::EndpointId,
        #[source]
        source: eventflow_domain::OpenError,
    },
    /// A stored value does not parse as its domain type (the schema should prevent this).
    #[error("corrupt row in {table}")]
    Corrupt {
        table: &'static str,
        #[source]
        source: eventflow_domain::DomainError,
    },
}

impl StoreError {
    /// Returns true when the database could not be reached, so the caller should
    /// answer 503 rather than 500.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// Returns PostgreSQL's message when it refused a value of the statement
    /// itself (SQLSTATE class 22, data exception, or 54, program limit
    /// exceeded such as "stack depth limit exceeded" on deeply nested JSON):
    /// the sender's data is at fault, so the caller may answer 4xx.
    pub fn data_refusal(&self) -> Option<&str> {
        let Self::Query(error) = self else {
            return None;
        };
        let db_error = error.as_db_error()?;
        let class = db_error.code().code().get(..2)?;
        matches!(class, "22" | "54").then(|| db_error.message())
    }

    /// Returns true when the statement itself failed (not the connection, not
    /// a timeout), so the same statement over a part of its rows may succeed.
    pub fn is_statement_failure(&self) -> bool {
        matches!(self, Self::Query(_))
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        if is_connection_failure(&error) {
            Self::Unavailable(Box::new(error))
        } else {
            Self::Query(error)
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(error) => error.into(),
            other => Self::Unavailable(Box::new(other)),
        }
    }
}

/// Connection-level failures: closed sockets, I/O errors (no SQLSTATE), the
/// server-side codes PostgreSQL sends while shutting down or starting up, and
/// a server out of connection slots.
fn is_connection_failure(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        None => true,
        Some(code) => {
            code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS
                || *code == SqlState::QUERY_CANCELED
        }
    }
}
