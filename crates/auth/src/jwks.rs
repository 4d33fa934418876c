//! The issuer's signing keys: fetched from the JWKS URL, cached, and refreshed when a token
//! names an unknown `kid` or the cache is old — never more than once per `min_interval`.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};
use tokio::time::Instant;

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// Length of an Ed25519 public key, the `x` of an `OKP` key (RFC 8037 §2).
const ED25519_KEY_BYTES: usize = 32;

/// How often the JWKS may be fetched, and how long keys are trusted without a fetch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshPolicy {
    /// Least time between two fetches, whatever tokens arrive.
    pub(crate) min_interval: Duration,
    /// Age after which cached keys are refetched (and still used if the fetch fails).
    pub(crate) max_age: Duration,
    /// Limit on one fetch, connection to last byte.
    pub(crate) fetch_timeout: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            min_interval: Duration::from_secs(10),
            max_age: Duration::from_secs(15 * 60),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// One public key that may verify token signatures.
pub(crate) struct SigningKey {
    kid: Option<String>,
    /// The `alg` the JWKS pins this key to, if any.
    pub(crate) algorithm: Option<Algorithm>,
    /// The key itself.
    pub(crate) key: DecodingKey,
}

/// Why no key could be found for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyLookupError {
    /// The JWKS, freshly fetched or fetched too recently to fetch again, has no such key.
    Unknown,
    /// No JWKS has ever been fetched successfully.
    Unavailable(String),
}

#[derive(Default)]
struct KeySet {
    keys: Vec<Arc<SigningKey>>,
    fetched_at: Option<Instant>,
}

/// Cached signing keys of one issuer.
pub(crate) struct JwksCache {
    url: String,
    client: reqwest::Client,
    policy: RefreshPolicy,
    current: RwLock<Arc<KeySet>>,
    last_attempt: Mutex<Option<Instant>>,
}

impl JwksCache {
    /// A cache for `url`; nothing is fetched until the first token arrives.
    pub(crate) fn new(url: &str, policy: RefreshPolicy) -> Result<JwksCache, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(policy.fetch_timeout)
            .connect_timeout(policy.fetch_timeout)
            .build()?;
        Ok(JwksCache {
            url: url.to_owned(),
            client,
            policy,
            current: RwLock::default(),
            last_attempt: Mutex::new(None),
        })
    }

    /// The key for a token's `kid`; a token without `kid` may use the only key of a one-key set.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
    ) -> Result<Arc<SigningKey>, KeyLookupError> {
        let current = self.current.read().await.clone();
        if !self.is_stale(&current)
            && let Some(key) = current.find(kid)
        {
            return Ok(key);
        }
        self.refresh_and_find(kid).await
    }

    /// Whether the issuer's keys can be had: yes while the cached set is fresh, else as a
    /// fetch (no more often than the refresh policy allows) finds out.
    pub(crate) async fn reachable(&self) -> Result<(), String> {
        let current = self.current.read().await.clone();
        if !self.is_stale(&current) {
            return Ok(());
        }
        match self.refresh_and_find(None).await {
            Err(KeyLookupError::Unavailable(problem)) => Err(problem),
            Ok(_) | Err(KeyLookupError::Unknown) => Ok(()),
        }
    }

    async fn refresh_and_find(&self, kid: Option<&str>) -> Result<Arc<SigningKey>, KeyLookupError> {
        let mut last_attempt = self.last_attempt.lock().await;
        let current = self.current.read().await.clone();
        if !self.is_stale(&current)
            && let Some(key) = current.find(kid)
        {
            return Ok(key);
        }
        let may_fetch = last_attempt.is_none_or(|at| at.elapsed() >= self.policy.min_interval);
        if !may_fetch {
            return current.find(kid).ok_or_else(|| current.missing());
        }
        *last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let fresh = Arc::new(KeySet {
                    keys,
                    fetched_at: Some(Instant::now()),
                });
                *self.current.write().await = fresh.clone();
                fresh.find(kid).ok_or(KeyLookupError::Unknown)
            }
            Err(problem) => {
                tracing::warn!(url = %self.url, %problem, "JWKS fetch failed");
                match current.fetched_at {
                    Some(_) => current.find(kid).ok_or(KeyLookupError::Unknown),
                    None => Err(KeyLookupError::Unavailable(problem)),
                }
            }
        }
    }

    fn is_stale(&self, set: &KeySet) -> bool {
        set.fetched_at
            .is_none_or(|at| at.elapsed() >= self.policy.max_age)
    }

    async fn fetch(&self) -> Result<Vec<Arc<SigningKey>>, String> {
        let mut response = self
            .client
            .get(&self.url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| format!("JWKS request failed: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("JWKS answered HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| format!("JWKS read failed: {error}"))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("JWKS is larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let document: JwksDocument = serde_json::from_slice(&body)
            .map_err(|error| format!("JWKS is not a JSON key set: {error}"))?;
        Ok(document
            .keys
            .into_iter()
            .filter_map(signing_key)
            .map(Arc::new)
            .collect())
    }
}

impl KeySet {
    fn find(&self, kid: Option<&str>) -> Option<Arc<SigningKey>> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|key| key.kid.as_deref() == Some(kid))
                .cloned(),
            None => match self.keys.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        }
    }

    fn missing(&self) -> KeyLookupError {
        match self.fetched_at {
            Some(_) => KeyLookupError::Unknown,
            None => KeyLookupError::Unavailable("the JWKS has not been fetched yet".to_owned()),
        }
    }
}

/// A JWKS, each key left raw so one key codemode cannot use does not spoil the rest.
#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

/// The key in `raw` if it is a public signature key codemode can use; symmetric and encryption
/// keys, and Ed25519 keys of the wrong length, are skipped.
fn signing_key(raw: serde_json::Value) -> Option<SigningKey> {
    let jwk: Jwk = serde_json::from_value(raw).ok()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption))
        || matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_))
    {
        return None;
    }
    let algorithm = match jwk.common.key_algorithm {
        Some(alg) => Some(Algorithm::try_from(alg).ok()?),
        None => None,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    // jsonwebtoken's Ed25519 verifier slices the key's first 32 bytes: a shorter one panics.
    if let AlgorithmParameters::OctetKeyPair(params) = &jwk.algorithm {
        let x = key.try_get_as_bytes().ok()?;
        if params.curve != EllipticCurve::Ed25519 || x.len() != ED25519_KEY_BYTES {
            return None;
        }
    }
    Some(SigningKey {
        kid: jwk.common.key_id,
        algorithm,
        key,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Json;
    use axum::routing::get;
    use jsonwebtoken::EncodingKey;
    use p256::pkcs8::EncodePrivateKey;
    use serde_json::{Value, json};

    use super::*;

    fn ec_jwk(kid: &str) -> Value {
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let der = secret.to_pkcs8_der().expect("pkcs8");
        let key = EncodingKey::from_ec_der(der.as_bytes());
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).expect("jwk");
        jwk.common.key_id = Some(kid.to_owned());
        serde_json::to_value(jwk).expect("json")
    }

    /// Serves `document` on loopback; returns the URL and a fetch counter.
    async fn serve(document: Value) -> (String, Arc<AtomicUsize>) {
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let app = axum::Router::new().route(
            "/jwks",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let document = document.clone();
                async move { Json(document) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{address}/jwks"), fetches)
    }

    fn policy(min_interval: Duration, max_age: Duration) -> RefreshPolicy {
        RefreshPolicy {
            min_interval,
            max_age,
            fetch_timeout: Duration::from_secs(2),
        }
    }

    #[tokio::test]
    async fn stale_keys_are_refetched() {
        let (url, fetches) = serve(json!({ "keys": [ec_jwk("a")] })).await;
        let cache = JwksCache::new(&url, policy(Duration::ZERO, Duration::ZERO)).expect("cache");
        cache.key_for(Some("a")).await.expect("first lookup");
        cache.key_for(Some("a")).await.expect("second lookup");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn fresh_keys_are_not_refetched() {
        let (url, fetches) = serve(json!({ "keys": [ec_jwk("a")] })).await;
        let cache = JwksCache::new(&url, RefreshPolicy::default()).expect("cache");
        for _ in 0..5 {
            cache.key_for(Some("a")).await.expect("lookup");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_without_kid_uses_the_only_key() {
        let (url, _) = serve(json!({ "keys": [ec_jwk("a")] })).await;
        let cache = JwksCache::new(&url, RefreshPolicy::default()).expect("cache");
        assert!(cache.key_for(None).await.is_ok());

        let (url, _) = serve(json!({ "keys": [ec_jwk("a"), ec_jwk("b")] })).await;
        let cache = JwksCache::new(&url, RefreshPolicy::default()).expect("cache");
        assert_eq!(
            cache.key_for(None).await.err(),
            Some(KeyLookupError::Unknown)
        );
    }

    #[tokio::test]
    async fn unusable_keys_are_skipped_not_fatal() {
        let document = json!({ "keys": [
            { "kty": "oct", "kid": "secret", "k": "c2VjcmV0" },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB" },
            { "kty": "weird", "kid": "odd" },
            ec_jwk("good"),
        ]});
        let (url, _) = serve(document).await;
        let cache = JwksCache::new(&url, RefreshPolicy::default()).expect("cache");
        assert!(cache.key_for(Some("good")).await.is_ok());
        for kid in ["secret", "enc", "odd"] {
            assert_eq!(
                cache.key_for(Some(kid)).await.err(),
                Some(KeyLookupError::Unknown),
                "{kid}"
            );
        }
    }

    #[tokio::test]
    async fn unreachable_jwks_is_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        drop(listener);
        let cache = JwksCache::new(&format!("http://{address}/jwks"), RefreshPolicy::default())
            .expect("cache");
        assert!(matches!(
            cache.key_for(Some("a")).await,
            Err(KeyLookupError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn reachability_follows_the_key_set() {
        let (url, fetches) = serve(json!({ "keys": [ec_jwk("a")] })).await;
        let cache = JwksCache::new(&url, RefreshPolicy::default()).expect("cache");
        cache.reachable().await.expect("reachable");
        cache.reachable().await.expect("still reachable");
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "a fresh set is not fetched again"
        );

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        drop(listener);
        let down = JwksCache::new(&format!("http://{address}/jwks"), RefreshPolicy::default())
            .expect("cache");
        assert!(down.reachable().await.is_err());
    }
}
