//! One connection to Redis shared by the Redis stores: reconnecting by itself, every command
//! bounded in time, and keys under one prefix.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::url_text::redacted;

/// How long a Redis command or connection attempt may take before the store reports itself
/// unavailable.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Why Redis could not be used at start-up.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL {url}: {reason}; write redis://[:password@]host:port[/db]")]
    Url {
        /// The URL, its password hidden.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The server could not be reached.
    #[error("cannot reach Redis at {url}: {reason}; check that it runs and the URL is right")]
    Connect {
        /// The URL, its password hidden.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// A shared, self-reconnecting connection to one Redis database.
#[derive(Clone)]
pub struct RedisLink {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisLink {
    /// Connects to `url`; every key the stores write starts with `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisLink, RedisError> {
        let shown = redacted(url);
        let client = redis::Client::open(url).map_err(|error| RedisError::Url {
            url: shown.clone(),
            reason: error.to_string(),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|error| RedisError::Connect {
                url: shown,
                reason: error.to_string(),
            })?;
        Ok(RedisLink {
            connection,
            prefix: prefix.to_string(),
        })
    }

    /// A handle to send commands on.
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// The key `name` under this link's prefix.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}
