//! JWT and JWKS parsing in oauth mode, through `Authenticator::authenticate` against a JWKS served
//! on loopback: any token string, any signed header and claims, and any JWKS document with a token
//! from a fixed key are answered with a principal or an error, never a panic.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use codemode_auth::{Algorithm, AuthConfig, Authenticator, OAuthConfig};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{EncodingKey, Header, crypto, encode};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

const ISSUER: &str = "https://auth.example.com";
const RESOURCE: &str = "https://codemode.example.com/mcp";

/// The fixed signing keys, fuzzing only: one per family the validator accepts.
static KEYS: LazyLock<[(Algorithm, EncodingKey); 3]> = LazyLock::new(|| {
    [
        (
            Algorithm::RS256,
            EncodingKey::from_rsa_der(include_bytes!("../keys/rs256.pk1.der")),
        ),
        (
            Algorithm::ES256,
            EncodingKey::from_ec_der(include_bytes!("../keys/es256.pk8.der")),
        ),
        (
            Algorithm::EdDSA,
            EncodingKey::from_ed_der(include_bytes!("../keys/eddsa.pk8.der")),
        ),
    ]
});

/// The runtime the JWKS server and the authenticators run on.
static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime")
});

/// The document `/fuzzed` serves.
static FUZZED_JWKS: LazyLock<Arc<Mutex<Vec<u8>>>> = LazyLock::new(Arc::default);

/// The JWKS server: `/fixed` publishes the fixed keys, `/fuzzed` whatever the input says.
static SERVER: LazyLock<SocketAddr> = LazyLock::new(|| {
    let fixed =
        json!({ "keys": KEYS.iter().map(|(alg, key)| public_jwk(*alg, key)).collect::<Vec<_>>() })
            .to_string();
    let fuzzed = FUZZED_JWKS.clone();
    let app = axum::Router::new()
        .route(
            "/fixed",
            get(move || async move { ([(CONTENT_TYPE, "application/json")], fixed) }),
        )
        .route(
            "/fuzzed",
            get(move || async move {
                let body = fuzzed.lock().expect("the document lock").clone();
                ([(CONTENT_TYPE, "application/json")], body)
            }),
        );
    RUNTIME.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("the bound address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    })
});

/// The authenticator trusting the fixed keys, built once so its JWKS cache stays warm.
static FIXED: LazyLock<Authenticator> = LazyLock::new(|| authenticator("fixed"));

// The first byte says what the rest is: `t` a bearer token; `s` a key letter (`d` EdDSA, else
// ES256), then a header and claims of any bytes, NUL-separated, signed by that fixed key (RSA
// signing is too slow to do per input); `j` a key letter (`r` RS256, `d` EdDSA, else ES256), then
// a `kid` (empty: none) and a JWKS document, NUL-separated, answered with a well-formed token
// from that fixed key naming that `kid`.
fuzz_target!(|data: &[u8]| match data.split_first() {
    Some((b't', token)) => {
        if let Ok(token) = std::str::from_utf8(token) {
            authenticate(&FIXED, token);
        }
    }
    Some((b's', rest)) => {
        let Some((letter, rest)) = rest.split_first() else {
            return;
        };
        let (alg, key) = fixed_key(if *letter == b'd' { b'd' } else { b'e' });
        let (header, claims) = split_at_nul(rest);
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let signature = crypto::sign(message.as_bytes(), key, alg).expect("the fixed key signs");
        authenticate(&FIXED, &format!("{message}.{signature}"));
    }
    Some((b'j', rest)) => {
        let Some((letter, rest)) = rest.split_first() else {
            return;
        };
        let (kid, document) = split_at_nul(rest);
        let Ok(kid) = std::str::from_utf8(kid) else {
            return;
        };
        *FUZZED_JWKS.lock().expect("the document lock") = document.to_vec();
        authenticate(&authenticator("fuzzed"), &valid_token(*letter, kid));
    }
    _ => {}
});

/// The fixed key a letter names.
fn fixed_key(letter: u8) -> (Algorithm, &'static EncodingKey) {
    let (alg, key) = match letter {
        b'e' => &KEYS[1],
        b'd' => &KEYS[2],
        _ => &KEYS[0],
    };
    (*alg, key)
}

/// A token the validator accepts from the fixed key `letter` names, naming `kid` (empty: none);
/// kept, as RSA signing takes milliseconds.
fn valid_token(letter: u8, kid: &str) -> String {
    static MINTED: LazyLock<Mutex<HashMap<(u8, String), String>>> = LazyLock::new(Mutex::default);
    let mut minted = MINTED.lock().expect("the token lock");
    if minted.len() > 10_000 {
        minted.clear();
    }
    minted
        .entry((letter, kid.to_owned()))
        .or_insert_with(|| {
            let (alg, key) = fixed_key(letter);
            let mut header = Header::new(alg);
            header.kid = Some(kid.to_owned()).filter(|kid| !kid.is_empty());
            encode(&header, &valid_claims(), key).expect("the fixed key signs")
        })
        .clone()
}

/// The bytes before and after the first NUL (all of them and none without one).
fn split_at_nul(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == 0) {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &[]),
    }
}

/// Authenticates `Authorization: Bearer <token>`; any answer but a panic will do.
fn authenticate(authenticator: &Authenticator, token: &str) {
    let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    if let Err(error) = RUNTIME.block_on(authenticator.authenticate(&headers)) {
        drop((error.status(), error.www_authenticate(), error.body()));
    }
}

/// An oauth authenticator whose JWKS is the server's `route`, accepting every asymmetric algorithm.
fn authenticator(route: &str) -> Authenticator {
    let config = AuthConfig::OAuth(OAuthConfig {
        issuer: ISSUER.to_owned(),
        jwks_url: format!("http://{}/{route}", *SERVER),
        resource: RESOURCE.to_owned(),
        authorization_servers: None,
        scopes_supported: None,
        forward_scope: Some("upstream:forward".to_owned()),
        algorithms: vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ],
    });
    Authenticator::new(&config).expect("a valid oauth config")
}

fn public_jwk(alg: Algorithm, key: &EncodingKey) -> Value {
    let mut jwk = Jwk::from_encoding_key(key, alg).expect("a public JWK");
    jwk.common.key_id = Some(format!("{alg:?}"));
    serde_json::to_value(jwk).expect("JWK as JSON")
}

/// Claims the validator accepts: this issuer and resource, a day left, every scope.
fn valid_claims() -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    json!({
        "iss": ISSUER,
        "aud": RESOURCE,
        "sub": "fuzz",
        "exp": now + 86_400,
        "iat": now,
        "scope": "search execute:read execute:write approve upstream:forward",
    })
}
