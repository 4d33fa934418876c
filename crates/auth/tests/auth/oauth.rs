//! Oauth mode end to end: the test plays the authorization server (fresh key pairs, a JWKS on
//! loopback, tokens minted with jsonwebtoken) and codemode-auth plays the resource server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::routing::get;
use codemode_auth::{AuthError, AuthErrorKind, Authenticator, Scope, Scopes};
use http::{HeaderMap, StatusCode};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde_json::{Value, json};

use crate::{auth_config, bearer};

const ISSUER: &str = "https://auth.example.com";
const RESOURCE: &str = "https://codemode.example.com/mcp";
const METADATA_URL: &str = "https://codemode.example.com/.well-known/oauth-protected-resource/mcp";

/// A signing key of the test authorization server.
#[derive(Clone)]
struct TestKey {
    kid: String,
    alg: Algorithm,
    private: EncodingKey,
}

impl TestKey {
    fn ec(kid: &str) -> TestKey {
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let der = secret.to_pkcs8_der().expect("pkcs8 der");
        TestKey {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            private: EncodingKey::from_ec_der(der.as_bytes()),
        }
    }

    /// An Ed25519 key from a fixed seed (its PKCS#8 wrapping is a constant prefix).
    fn ed25519(kid: &str) -> TestKey {
        const PKCS8_PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let der = [&PKCS8_PREFIX[..], &[7; 32]].concat();
        TestKey {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            private: EncodingKey::from_ed_der(&der),
        }
    }

    /// One RSA key per test binary: generating it unoptimised takes a while.
    fn rsa() -> TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("rsa key");
            let der = private.to_pkcs1_der().expect("pkcs1 der");
            TestKey {
                kid: "rsa-1".to_owned(),
                alg: Algorithm::RS256,
                private: EncodingKey::from_rsa_der(der.as_bytes()),
            }
        })
        .clone()
    }

    fn public_jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.private, self.alg).expect("public jwk");
        jwk.common.key_id = Some(self.kid.clone());
        serde_json::to_value(jwk).expect("jwk json")
    }

    fn mint(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.private).expect("signed token")
    }
}

/// The test authorization server's JWKS endpoint, on loopback, counting fetches.
struct Issuer {
    jwks_url: String,
    published: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Issuer {
    async fn start(keys: &[&TestKey]) -> Issuer {
        let jwks: Vec<Value> = keys.iter().map(|k| k.public_jwk()).collect();
        let published = Arc::new(Mutex::new(jwks));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counter) = (published.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let keys = served.lock().expect("jwks lock").clone();
                async move { Json(json!({ "keys": keys })) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Issuer {
            jwks_url: format!("http://{address}/jwks"),
            published,
            fetches,
        }
    }

    fn publish(&self, keys: &[&TestKey]) {
        *self.published.lock().expect("jwks lock") = keys.iter().map(|k| k.public_jwk()).collect();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn authenticator(&self, extra_toml: &str) -> Authenticator {
        let config = auth_config(&format!(
            "[auth]\nmode = \"oauth\"\nissuer = \"{ISSUER}\"\njwks_url = \"{}\"\nresource = \"{RESOURCE}\"\n{extra_toml}",
            self.jwks_url
        ));
        config.validate(false).expect("oauth is fine off loopback");
        Authenticator::new(&config).expect("authenticator")
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Claims of a good token; tests override fields to break it.
fn claims(overrides: Value) -> Value {
    let mut claims = json!({
        "iss": ISSUER,
        "sub": "alice",
        "aud": RESOURCE,
        "iat": now(),
        "exp": now() + 600,
        "scope": "search execute:read",
        "client_id": "claude-desktop",
    });
    if let (Some(base), Some(extra)) = (claims.as_object_mut(), overrides.as_object()) {
        for (name, value) in extra {
            base.insert(name.clone(), value.clone());
        }
    }
    claims
}

/// Asserts a 401 `invalid_token` with `description`, and that the token shows up nowhere.
fn assert_invalid(error: &AuthError, token: &str, description: &str) {
    assert_eq!(
        error.kind(),
        &AuthErrorKind::InvalidToken(description.to_owned())
    );
    assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        error.www_authenticate().as_deref(),
        Some(
            format!(
                "Bearer error=\"invalid_token\", error_description=\"{description}\", \
                 resource_metadata=\"{METADATA_URL}\", \
                 scope=\"search execute:read execute:write approve\""
            )
            .as_str()
        )
    );
    assert_token_hidden(error, token);
}

fn assert_token_hidden(error: &AuthError, token: &str) {
    let signature = token.rsplit('.').next().expect("signature part");
    for rendered in [
        error.to_string(),
        format!("{error:?}"),
        error.body().to_string(),
        error.www_authenticate().unwrap_or_default(),
    ] {
        assert!(!rendered.contains(token), "token leaked: {rendered}");
        assert!(
            !rendered.contains(signature),
            "signature leaked: {rendered}"
        );
    }
}

#[tokio::test]
async fn valid_rs256_token_yields_the_principal() {
    let key = TestKey::rsa();
    let issuer = Issuer::start(&[&key]).await;
    let auth = issuer.authenticator("forward_scope = \"upstream:forward\"");
    let token = key.mint(&claims(json!({
        "scope": "openid search execute:read upstream:forward",
    })));

    let principal = auth
        .authenticate(&bearer(&token))
        .await
        .expect("valid token");

    assert_eq!(principal.subject, "alice");
    assert_eq!(principal.scopes.to_string(), "search execute:read");
    assert!(principal.may_forward);
    assert_eq!(principal.client.as_deref(), Some("claude-desktop"));
    assert!(auth.require(&principal, Scope::ExecuteRead).is_ok());
    assert!(!format!("{principal:?}").contains(&token));
}

#[tokio::test]
async fn valid_es256_token_reads_scp_and_azp() {
    let key = TestKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let auth = issuer.authenticator("");
    let token = key.mint(&json!({
        "iss": ISSUER,
        "sub": "bob",
        "aud": ["https://other.example", RESOURCE],
        "exp": now() + 600,
        "nbf": now() - 5,
        "scp": ["execute:write", "approve", "upstream:forward"],
        "azp": "cli",
    }));

    let principal = auth
        .authenticate(&bearer(&token))
        .await
        .expect("valid token");

    assert_eq!(principal.subject, "bob");
    assert_eq!(
        principal.scopes,
        Scopes::from_names(["execute:write", "approve"]).expect("scopes")
    );
    assert!(!principal.may_forward, "no forward_scope configured");
    assert_eq!(principal.client.as_deref(), Some("cli"));
}

#[tokio::test]
async fn expired_and_premature_tokens_are_refused() {
    let key = TestKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let auth = issuer.authenticator("");

    let expired = key.mint(&claims(json!({ "exp": now() - 120 })));
    let error = auth
        .authenticate(&bearer(&expired))
        .await
        .expect_err("expired");
    assert_invalid(&error, &expired, "token has expired");

    let early = key.mint(&claims(json!({ "nbf": now() + 300 })));
    let error = auth
        .authenticate(&bearer(&early))
        .await
        .expect_err("nbf ahead");
    assert_invalid(&error, &early, "token is not valid yet (nbf)");

    let within_leeway = key.mint(&claims(json!({ "exp": now() - 5, "nbf": now() + 5 })));
    assert!(auth.authenticate(&bearer(&within_leeway)).await.is_ok());
}

#[tokio::test]
async fn wrong_issuer_and_audience_are_refused() {
    let key = TestKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let auth = issuer.authenticator("");

    let foreign = key.mint(&claims(json!({ "iss": "https://evil.example.com" })));
    let error = auth
        .authenticate(&bearer(&foreign))
        .await
        .expect_err("issuer");
    assert_invalid(&error, &foreign, "token issuer is not trusted");

    let other_resource = key.mint(&claims(
        json!({ "aud": "https://codemode.example.com/other" }),
    ));
    let error = auth
        .authenticate(&bearer(&other_resource))
        .await
        .expect_err("aud");
    assert_invalid(
        &error,
        &other_resource,
        "token audience does not include this resource",
    );

    let no_audience = key.mint(&json!({
        "iss": ISSUER, "sub": "alice", "exp": now() + 600, "scope": "search",
    }));
    let error = auth
        .authenticate(&bearer(&no_audience))
        .await
        .expect_err("no aud");
    assert_invalid(&error, &no_audience, "token lacks the `aud` claim");
}

#[tokio::test]
async fn forged_signature_is_refused() {
    let published = TestKey::ec("ec-1");
    let forger = TestKey::ec("ec-1");
    let issuer = Issuer::start(&[&published]).await;
    let auth = issuer.authenticator("");

    let forged = forger.mint(&claims(json!({})));
    let error = auth
        .authenticate(&bearer(&forged))
        .await
        .expect_err("forged");
    assert_invalid(&error, &forged, "token signature is invalid");

    let genuine = published.mint(&claims(json!({})));
    let (head, _) = genuine.rsplit_once('.').expect("three parts");
    let (_, forged_signature) = forged.rsplit_once('.').expect("three parts");
    let spliced = format!("{head}.{forged_signature}");
    let error = auth
        .authenticate(&bearer(&spliced))
        .await
        .expect_err("spliced");
    assert_invalid(&error, &spliced, "token signature is invalid");
}

#[tokio::test]
async fn algorithms_outside_the_allowed_list_are_refused() {
    let key = TestKey::ec("ec-1");
    let issuer = Issuer::start(&[&key]).await;
    let auth = issuer.authenticator("algorithms = [\"RS256\"]");
    let token = key.mint(&claims(json!({})));
    let error = auth
        .authenticate(&bearer(&token))
        .await
        .expect_err("ES256 not allowed");
    assert_invalid(&error, &token, "token signing algorithm is not accepted");

    let hmac = encode(
        &Header::new(Algorithm::HS256),
        &claims(json!({})),
        &EncodingKey::from_secret(b"guessable"),
    )
    .expect("hmac token");
    let auth = issuer.authenticator("");
    let error = auth.authenticate(&bearer(&hmac)).await.expect_err("HS256");
    assert_invalid(&error, &hmac, "token signing algorithm is not accepted");
}

/// Found by fuzzing (fuzz/corpus/jwt/crash-okp-short-x): jsonwebtoken's Ed25519 verifier
/// panicked on a published `OKP` key whose `x` is shorter than 32 bytes.
#[tokio::test]
async fn an_ed25519_key_of_the_wrong_length_is_skipped() {
    let good = TestKey::ed25519("good");
    let issuer = Issuer::start(&[&good]).await;
    let mut published = vec![good.public_jwk()];
    for (kid, x) in [("short", "ME-3VMgIMg"), ("long", &"A".repeat(60)[..])] {
        published
            .push(json!({ "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": kid, "x": x }));
    }
    *issuer.published.lock().expect("jwks lock") = published;
    let auth = issuer.authenticator("algorithms = [\"EdDSA\"]");

    let token = good.mint(&claims(json!({})));
    let principal = auth
        .authenticate(&bearer(&token))
        .await
        .expect("valid EdDSA token");
    assert_eq!(principal.subject, "alice");
    for kid in ["short", "long"] {
        let token = TestKey::ed25519(kid).mint(&claims(json!({})));
        let error = auth.authenticate(&bearer(&token)).await.expect_err(kid);
        assert_invalid(&error, &token, "token signing key is unknown");
    }
}

/// Moves tokio's clock past the 10 s JWKS refresh interval without waiting for it.
async fn skip_past_the_refresh_interval() {
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(11)).await;
    tokio::time::resume();
}

#[tokio::test]
async fn unknown_kid_refreshes_the_jwks_once() {
    let old = TestKey::ec("2025-old");
    let new = TestKey::rsa();
    let issuer = Issuer::start(&[&old]).await;
    let auth = issuer.authenticator("");

    let before = old.mint(&claims(json!({})));
    auth.authenticate(&bearer(&before)).await.expect("old key");
    auth.authenticate(&bearer(&before))
        .await
        .expect("old key, cached");
    assert_eq!(issuer.fetches(), 1);

    issuer.publish(&[&old, &new]);
    skip_past_the_refresh_interval().await;
    let rotated = new.mint(&claims(json!({})));
    let principal = auth
        .authenticate(&bearer(&rotated))
        .await
        .expect("rotated key");
    assert_eq!(principal.subject, "alice");
    assert_eq!(issuer.fetches(), 2, "the unknown kid caused one refresh");

    let stranger = TestKey::ec("never-published").mint(&claims(json!({})));
    for _ in 0..5 {
        let error = auth
            .authenticate(&bearer(&stranger))
            .await
            .expect_err("unknown kid");
        assert_invalid(&error, &stranger, "token signing key is unknown");
    }
    assert_eq!(issuer.fetches(), 2, "refreshes are rate-limited");
    auth.authenticate(&bearer(&rotated))
        .await
        .expect("known keys still work");
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_refresh() {
    let key = TestKey::ec("k");
    let issuer = Issuer::start(&[&key]).await;
    let auth = Arc::new(issuer.authenticator(""));
    let stranger = TestKey::ec("unknown").mint(&claims(json!({})));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (auth, headers) = (auth.clone(), bearer(&stranger));
            tokio::spawn(async move { auth.authenticate(&headers).await.is_err() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.expect("task"), "unknown kid refused");
    }
    assert_eq!(issuer.fetches(), 1);
}

#[tokio::test]
async fn missing_token_gets_the_metadata_challenge() {
    let key = TestKey::ec("k");
    let issuer = Issuer::start(&[&key]).await;
    let auth = issuer.authenticator("");

    let error = auth
        .authenticate(&HeaderMap::new())
        .await
        .expect_err("no token");

    assert_eq!(error.kind(), &AuthErrorKind::MissingToken);
    assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        error.www_authenticate().as_deref(),
        Some(
            "Bearer resource_metadata=\"https://codemode.example.com/.well-known/oauth-protected-resource/mcp\", \
             scope=\"search execute:read execute:write approve\""
        )
    );
    assert_eq!(issuer.fetches(), 0, "no token, no JWKS fetch");
}

#[tokio::test]
async fn insufficient_scope_is_403_naming_the_scope() {
    let key = TestKey::ec("k");
    let issuer = Issuer::start(&[&key]).await;
    let auth = issuer.authenticator("");
    let token = key.mint(&claims(json!({ "scope": "search execute:read" })));
    let principal = auth.authenticate(&bearer(&token)).await.expect("valid");

    let error = auth
        .require(&principal, Scope::for_method(&http::Method::POST))
        .expect_err("read-only token");

    assert_eq!(error.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        error.www_authenticate().as_deref(),
        Some(
            "Bearer error=\"insufficient_scope\", scope=\"execute:write\", \
             resource_metadata=\"https://codemode.example.com/.well-known/oauth-protected-resource/mcp\""
        )
    );
    assert_eq!(error.body()["error"], "insufficient_scope");
}

#[tokio::test]
async fn resource_metadata_follows_rfc_9728() {
    let issuer = Issuer::start(&[]).await;
    let auth = issuer.authenticator(
        "authorization_servers = [\"https://login.example.com\"]\n\
         scopes_supported = [\"search\", \"execute:read\", \"upstream:forward\"]",
    );
    assert_eq!(auth.resource_metadata_url(), Some(METADATA_URL));
    assert_eq!(
        auth.resource_metadata(),
        Some(&json!({
            "resource": RESOURCE,
            "authorization_servers": ["https://login.example.com"],
            "scopes_supported": ["search", "execute:read", "upstream:forward"],
            "bearer_methods_supported": ["header"],
        }))
    );

    let defaults = issuer.authenticator("");
    assert_eq!(
        defaults
            .resource_metadata()
            .map(|doc| doc["authorization_servers"].clone()),
        Some(json!([ISSUER]))
    );
    assert_eq!(
        defaults
            .resource_metadata()
            .map(|doc| doc["scopes_supported"].clone()),
        Some(json!([
            "search",
            "execute:read",
            "execute:write",
            "approve"
        ]))
    );
}

#[tokio::test]
async fn token_without_sub_is_refused() {
    let key = TestKey::ec("k");
    let issuer = Issuer::start(&[&key]).await;
    let auth = issuer.authenticator("");
    let token = key.mint(&json!({
        "iss": ISSUER, "aud": RESOURCE, "exp": now() + 600, "scope": "search",
    }));
    let error = auth
        .authenticate(&bearer(&token))
        .await
        .expect_err("no sub");
    assert_invalid(&error, &token, "token lacks the `sub` claim");
}

#[tokio::test]
async fn garbage_token_is_refused_without_echo() {
    let issuer = Issuer::start(&[]).await;
    let auth = issuer.authenticator("");
    let garbage = "not-a-jwt-but-a-secret-value";
    let error = auth
        .authenticate(&bearer(garbage))
        .await
        .expect_err("garbage");
    assert_invalid(&error, garbage, "token is malformed");
    assert_eq!(issuer.fetches(), 0);
}

#[tokio::test]
async fn unreachable_jwks_is_503_without_challenge() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let config = auth_config(&format!(
        "[auth]\nmode = \"oauth\"\nissuer = \"{ISSUER}\"\njwks_url = \"http://{address}/jwks\"\nresource = \"{RESOURCE}\""
    ));
    let auth = Authenticator::new(&config).expect("authenticator");
    let token = TestKey::ec("k").mint(&claims(json!({})));

    let error = auth
        .authenticate(&bearer(&token))
        .await
        .expect_err("no keys");

    assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error.www_authenticate(), None);
    assert_token_hidden(&error, &token);
}
