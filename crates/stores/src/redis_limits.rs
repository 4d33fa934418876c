//! Rate-limit counts in Redis, so every replica counts against the same limits: one key per
//! count and window, checked and incremented in one Lua script, expiring with its window.

use std::time::Duration;

use codemode_ratelimit::{
    AcquireFuture, Acquired, Full, LimitKey, LimitStore, StoreUnavailable, Window,
};
use redis::Script;

use crate::redis_link::RedisLink;

/// How long a count without a period (a session's calls, a user's running calls) lives after
/// its last change: a session idle this long starts again, and a slot a dead replica held is
/// freed by then.
pub const OPEN_COUNT_IDLE: Duration = Duration::from_secs(3_600);

/// Takes one use unless the count is at the limit. KEYS[1]: the count; ARGV[1]: the limit;
/// ARGV[2]: when it expires (Unix ms), or 0 to expire ARGV[3] ms after this change.
const ACQUIRE: &str = r"
local uses = tonumber(redis.call('GET', KEYS[1]) or '0')
if uses >= tonumber(ARGV[1]) then return {0, uses} end
uses = redis.call('INCR', KEYS[1])
if ARGV[2] ~= '0' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, uses}
";

/// Gives one use back, if the count still exists.
const RELEASE: &str = r"
local uses = tonumber(redis.call('GET', KEYS[1]) or '0')
if uses <= 1 then redis.call('DEL', KEYS[1]) return 0 end
return redis.call('DECR', KEYS[1])
";

/// Counts in Redis, shared by every replica that uses the same server and prefix.
pub struct RedisLimitStore {
    link: RedisLink,
    acquire: Script,
    release: Script,
    runtime: tokio::runtime::Handle,
}

impl RedisLimitStore {
    /// Counts through `link`; releases run in the background on the current Tokio runtime.
    pub fn new(link: RedisLink) -> RedisLimitStore {
        RedisLimitStore {
            link,
            acquire: Script::new(ACQUIRE),
            release: Script::new(RELEASE),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// The Redis key of `key`'s count in `window`: a period's start is part of it, so a new
    /// period starts from zero.
    fn redis_key(&self, key: &LimitKey, window: Window) -> String {
        match window {
            Window::Open => self.link.key(&format!("limit:{}", key.as_str())),
            Window::Period { start, .. } => {
                self.link
                    .key(&format!("limit:{}@{}", key.as_str(), start.timestamp()))
            }
        }
    }
}

impl LimitStore for RedisLimitStore {
    fn try_acquire<'a>(
        &'a self,
        key: &'a LimitKey,
        limit: u64,
        window: Window,
    ) -> AcquireFuture<'a> {
        let redis_key = self.redis_key(key, window);
        let expires_at = match window {
            Window::Open => 0,
            Window::Period { end, .. } => end.timestamp_millis().max(1),
        };
        Box::pin(async move {
            let mut connection = self.link.connection();
            let (taken, uses): (u8, u64) = self
                .acquire
                .key(redis_key)
                .arg(limit)
                .arg(expires_at)
                .arg(OPEN_COUNT_IDLE.as_millis() as u64)
                .invoke_async(&mut connection)
                .await
                .map_err(|error| StoreUnavailable(format!("Redis: {error}")))?;
            Ok(if taken == 1 {
                Ok(Acquired {
                    count: uses,
                    window,
                })
            } else {
                Err(Full { count: uses })
            })
        })
    }

    fn release(&self, key: &LimitKey, acquired: &Acquired) {
        let redis_key = self.redis_key(key, acquired.window);
        let (script, mut connection) = (self.release.clone(), self.link.connection());
        self.runtime.spawn(async move {
            let released: redis::RedisResult<i64> =
                script.key(redis_key).invoke_async(&mut connection).await;
            if let Err(error) = released {
                tracing::warn!(%error, "could not give a rate-limit count back to Redis; it expires by itself");
            }
        });
    }

    fn remove(&self, key: &LimitKey) {
        let redis_key = self.redis_key(key, Window::Open);
        let mut connection = self.link.connection();
        self.runtime.spawn(async move {
            let removed: redis::RedisResult<i64> = redis::cmd("DEL")
                .arg(redis_key)
                .query_async(&mut connection)
                .await;
            if let Err(error) = removed {
                tracing::warn!(%error, "could not forget an ended session's counts in Redis; they expire by themselves");
            }
        });
    }
}
