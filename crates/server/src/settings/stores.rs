//! Where shared state lives: `[store]` (rate-limit counts and approvals: embedded, or Redis)
//! and the audit log's store (`[audit] store`: SQLite, or Postgres), with the URLs they need.
//! A URL may carry a password: it is held as a secret and shown only without it.

use std::fmt;

use codemode_secret::Secret;
use serde::{Deserialize, Deserializer};

use crate::settings::ConfigError;

/// The prefix of every Redis key unless configured otherwise.
pub const DEFAULT_REDIS_PREFIX: &str = "codemode:";

/// A store's URL: never shown with its password.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl(Secret);

impl StoreUrl {
    /// The URL itself, for connecting.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The URL without its password, for messages and logs.
    pub fn shown(&self) -> String {
        codemode_stores::redacted(self.expose())
    }

    /// An error unless the URL parses and has one of `schemes`.
    fn check(&self, key: &'static str, schemes: &[&str]) -> Result<(), ConfigError> {
        let reason = match url::Url::parse(self.expose()) {
            Err(error) => format!("not a URL ({error})"),
            Ok(url) if !schemes.contains(&url.scheme()) => format!(
                "{} has the scheme {:?}; use {}",
                self.shown(),
                url.scheme(),
                schemes.join(" or ")
            ),
            Ok(url) if url.host_str().is_none_or(str::is_empty) => {
                format!("{} names no host", self.shown())
            }
            Ok(_) => return Ok(()),
        };
        Err(ConfigError::Invalid { key, reason })
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({})", self.shown())
    }
}

impl<'de> Deserialize<'de> for StoreUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|url| StoreUrl(Secret::new(url)))
    }
}

/// Where rate-limit counts and approvals live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// Counts in this process's memory, approvals in the SQLite file beside the audit log.
    #[default]
    Embedded,
    /// Both in Redis, shared by every replica that uses it.
    Redis,
}

/// `[store]`: where rate-limit counts and approvals live.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `embedded` (default) or `redis`.
    pub kind: StoreKind,
    /// `redis://[:password@]host:port[/db]`, for `kind = "redis"`.
    pub redis_url: Option<StoreUrl>,
    /// What every Redis key starts with (default `codemode:`), so deployments can share a server.
    pub redis_prefix: Option<String>,
}

impl StoreConfig {
    /// The Redis key prefix.
    pub fn redis_prefix(&self) -> &str {
        self.redis_prefix.as_deref().unwrap_or(DEFAULT_REDIS_PREFIX)
    }

    /// Every problem of these settings.
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        match (&self.kind, &self.redis_url) {
            (StoreKind::Redis, None) => problems.push(ConfigError::Invalid {
                key: "store.redis_url",
                reason: "`store.kind = \"redis\"` needs the server's URL, e.g. \
                         redis://127.0.0.1:6379"
                    .into(),
            }),
            (_, Some(url)) => problems.extend(url.check("store.redis_url", &["redis"]).err()),
            (StoreKind::Embedded, None) => {}
        }
        problems
    }
}

/// Where the audit log lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditStoreKind {
    /// One SQLite file (`[audit] path`).
    #[default]
    Sqlite,
    /// A Postgres database shared by every replica (`[audit] postgres_url`).
    Postgres,
}

/// The problems of the audit log's store settings.
pub fn audit_store_problems(kind: AuditStoreKind, url: Option<&StoreUrl>) -> Vec<ConfigError> {
    match (kind, url) {
        (AuditStoreKind::Postgres, None) => vec![ConfigError::Invalid {
            key: "audit.postgres_url",
            reason: "`audit.store = \"postgres\"` needs the database's URL, e.g. \
                     postgres://codemode@127.0.0.1/codemode"
                .into(),
        }],
        (_, Some(url)) => url
            .check("audit.postgres_url", &["postgres", "postgresql"])
            .err()
            .into_iter()
            .collect(),
        (AuditStoreKind::Sqlite, None) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(text: &str) -> StoreConfig {
        toml::from_str(text).expect("parses")
    }

    #[test]
    fn redis_needs_a_redis_url_and_never_shows_its_password() {
        let missing = store("kind = \"redis\"").problems();
        assert!(
            missing[0].to_string().contains("store.redis_url"),
            "{}",
            missing[0]
        );
        let wrong = store("kind = \"redis\"\nredis_url = \"http://:pw-7781@host\"").problems();
        let message = wrong[0].to_string();
        assert!(message.contains("redis"), "{message}");
        assert!(!message.contains("pw-7781"), "{message}");
        let good = store("kind = \"redis\"\nredis_url = \"redis://:pw-7781@127.0.0.1:6379\"");
        assert!(good.problems().is_empty());
        assert!(!format!("{good:?}").contains("pw-7781"));
    }

    #[test]
    fn postgres_needs_a_postgres_url() {
        let missing = audit_store_problems(AuditStoreKind::Postgres, None);
        assert!(missing[0].to_string().contains("audit.postgres_url"));
        let url: StoreUrl = toml::Value::String("postgres://u:pw-5521@127.0.0.1/db".into())
            .try_into()
            .expect("a string");
        assert!(audit_store_problems(AuditStoreKind::Postgres, Some(&url)).is_empty());
        assert!(!format!("{url:?}").contains("pw-5521"));
    }
}
