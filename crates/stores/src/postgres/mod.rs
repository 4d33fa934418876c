//! The audit log in Postgres: connecting, the schema, and reading the chain's points.
//!
//! Entries live in one table, each row the entry's canonical JSON with its id, kind and chain
//! hashes; `codemode_audit_chain` holds the anchor and head as the SQLite log does. Appends
//! lock the head row, so writers on several replicas take turns and make one chain.

pub mod log;
pub mod writer;

use std::time::Duration;

use codemode_audit::AuditKey;
use codemode_audit::{ChainPoint, GENESIS_HASH, RecordId, StoredPoint};
use tokio_postgres::{Client, GenericClient, NoTls};

use crate::url_text::redacted;

/// How long Postgres may take to answer: to connect, and the audit writer's batch or probe.
pub const POSTGRES_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the Postgres audit log could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL is not a Postgres URL.
    #[error(
        "invalid Postgres URL {url}: {reason}; write postgres://user[:password]@host[:port]/database"
    )]
    Url {
        /// The URL, its password hidden.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The server could not be reached in time.
    #[error("cannot reach Postgres at {url}: {reason}; check that it runs and the URL is right")]
    Connect {
        /// The URL, its password hidden.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Postgres refused a statement.
    #[error("Postgres audit log: {}", described(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// Postgres took the work but gave no answer in time.
    #[error(
        "Postgres gave no answer within {} s; check that the server is not stopped or overloaded \
         and the network to it is up",
        .waited.as_secs()
    )]
    NoAnswer {
        /// How long the writer waited.
        waited: Duration,
    },
    /// The chain's points or an entry could not be handled.
    #[error(transparent)]
    Audit(#[from] codemode_audit::AuditError),
    /// An entry could not be turned into JSON.
    #[error("Postgres audit log: cannot encode an entry: {0}")]
    Json(#[from] serde_json::Error),
}

/// What `error` says, with the server's own message when it sent one: the error's text alone is
/// only "db error".
fn described(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS codemode_audit_entries (
    id        BIGINT PRIMARY KEY,
    kind      TEXT   NOT NULL CHECK (kind IN ('call', 'request')),
    time      TEXT   NOT NULL,
    subject   TEXT   NOT NULL,
    entry     TEXT   NOT NULL,
    prev_hash TEXT   NOT NULL,
    hash      TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS codemode_audit_entries_time ON codemode_audit_entries (time);
CREATE TABLE IF NOT EXISTS codemode_audit_chain (
    point TEXT   PRIMARY KEY CHECK (point IN ('anchor', 'head')),
    id    BIGINT NOT NULL,
    hash  TEXT   NOT NULL,
    mac   TEXT
);
";

/// Connects to `url` and runs the connection on the current runtime; without TLS, so keep
/// Postgres on a private network or loopback.
pub(crate) async fn connect(url: &str) -> Result<Client, PgError> {
    let shown = redacted(url);
    let config: tokio_postgres::Config =
        url.parse()
            .map_err(|error: tokio_postgres::Error| PgError::Url {
                url: shown.clone(),
                reason: error.to_string(),
            })?;
    let connect_error = |reason: String| PgError::Connect {
        url: shown.clone(),
        reason,
    };
    let (client, connection) = tokio::time::timeout(POSTGRES_TIMEOUT, config.connect(NoTls))
        .await
        .map_err(|_| connect_error(format!("no answer in {} s", POSTGRES_TIMEOUT.as_secs())))?
        .map_err(|error| connect_error(described(&error)))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "the Postgres audit connection closed");
        }
    });
    Ok(client)
}

/// Creates the tables and the genesis points if they are missing, one replica at a time.
pub(crate) async fn ensure_schema(
    client: &mut Client,
    key: Option<&AuditKey>,
) -> Result<(), PgError> {
    let transaction = client.transaction().await?;
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock(hashtext('codemode_audit_schema'))",
            &[],
        )
        .await?;
    transaction.batch_execute(SCHEMA).await?;
    let genesis = ChainPoint {
        id: RecordId(0),
        hash: GENESIS_HASH.to_owned(),
    };
    let mac = |name| key.map(|key| key.sign(name, &genesis));
    transaction
        .execute(
            "INSERT INTO codemode_audit_chain (point, id, hash, mac) \
             VALUES ('anchor', 0, $1, $2), ('head', 0, $1, $3) ON CONFLICT (point) DO NOTHING",
            &[&GENESIS_HASH, &mac("anchor"), &mac("head")],
        )
        .await?;
    transaction.commit().await?;
    Ok(())
}

/// Reads chain point `name`; `lock` takes its row lock until the transaction ends.
pub(crate) async fn read_point(
    client: &impl GenericClient,
    name: &str,
    lock: bool,
) -> Result<StoredPoint, PgError> {
    let statement = if lock {
        "SELECT id, hash, mac FROM codemode_audit_chain WHERE point = $1 FOR UPDATE"
    } else {
        "SELECT id, hash, mac FROM codemode_audit_chain WHERE point = $1"
    };
    let row = client.query_one(statement, &[&name]).await?;
    Ok(StoredPoint {
        point: ChainPoint {
            id: RecordId(row.get(0)),
            hash: row.get(1),
        },
        mac: row.get(2),
    })
}
