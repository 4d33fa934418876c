//! Records of paused `execute` calls in Redis, so a retry that reaches another replica can
//! resume a call paused on this one: each record one value expiring when its request state
//! does, and taken (read and removed) in one script, so two retries cannot both get it.
//!
//! [`PausedStore`] is synchronous (its callers run it on blocking threads), so this store
//! keeps its own synchronous connection rather than the async [`crate::RedisLink`].

use std::sync::{Mutex, PoisonError};

use codemode_audit::{PausedStore, PausedStoreError, Timestamp};
use redis::Script;

use crate::redis_link::{REDIS_TIMEOUT, RedisError};
use crate::url_text::redacted;

/// Returns KEYS[1] and removes it in the same step.
const TAKE: &str = r"
local record = redis.call('GET', KEYS[1])
if record then redis.call('DEL', KEYS[1]) end
return record
";

/// Paused calls kept in Redis, under the `[store]` prefix.
pub struct RedisPausedStore {
    client: redis::Client,
    prefix: String,
    connection: Mutex<Option<redis::Connection>>,
    take: Script,
}

impl RedisPausedStore {
    /// Connects to `url`; every key starts with `prefix`.
    pub fn connect(url: &str, prefix: &str) -> Result<RedisPausedStore, RedisError> {
        let shown = redacted(url);
        let client = redis::Client::open(url).map_err(|error| RedisError::Url {
            url: shown.clone(),
            reason: error.to_string(),
        })?;
        let store = RedisPausedStore {
            client,
            prefix: prefix.to_string(),
            connection: Mutex::new(None),
            take: Script::new(TAKE),
        };
        let connection = store.open().map_err(|error| RedisError::Connect {
            url: shown,
            reason: error.to_string(),
        })?;
        *store.lock() = Some(connection);
        Ok(store)
    }

    fn key(&self, call: &str) -> String {
        format!("{}paused:{call}", self.prefix)
    }

    fn open(&self) -> redis::RedisResult<redis::Connection> {
        let connection = self.client.get_connection_with_timeout(REDIS_TIMEOUT)?;
        connection.set_read_timeout(Some(REDIS_TIMEOUT))?;
        connection.set_write_timeout(Some(REDIS_TIMEOUT))?;
        Ok(connection)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<redis::Connection>> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `command` on the kept connection, connecting again first when it was lost. A
    /// command is not repeated after it failed: a take that reached Redis must not run twice.
    fn with<T>(
        &self,
        command: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, PausedStoreError> {
        let mut kept = self.lock();
        let mut connection = match kept.take() {
            Some(connection) => connection,
            None => self.open().map_err(backend)?,
        };
        let done = command(&mut connection).map_err(backend)?;
        *kept = Some(connection);
        Ok(done)
    }
}

impl PausedStore for RedisPausedStore {
    fn save(
        &self,
        call: &str,
        record: &[u8],
        expires_at: Timestamp,
    ) -> Result<(), PausedStoreError> {
        let key = self.key(call);
        self.with(|connection| {
            redis::cmd("SET")
                .arg(&key)
                .arg(record)
                .arg("PXAT")
                .arg(expires_at.unix_millis().max(1))
                .query(connection)
        })
    }

    fn take(&self, call: &str, _now: Timestamp) -> Result<Option<Vec<u8>>, PausedStoreError> {
        let key = self.key(call);
        self.with(|connection| self.take.key(&key).invoke(connection))
    }

    fn delete(&self, call: &str) -> Result<(), PausedStoreError> {
        let key = self.key(call);
        self.with(|connection| redis::cmd("DEL").arg(&key).query(connection))
    }
}

fn backend(error: redis::RedisError) -> PausedStoreError {
    PausedStoreError::Backend(format!("Redis: {error}"))
}
