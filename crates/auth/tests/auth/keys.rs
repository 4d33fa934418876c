//! Keys mode and none mode, through the public API.

use codemode_auth::{
    AuthConfig, AuthErrorKind, AuthMode, Authenticator, Principal, Scope, Scopes, hash_key,
};
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::{auth_config, bearer};

const ALICE_KEY: &str = "cm_live_alice_4f9d2c7e1b";
const BOB_KEY: &str = "cm_live_bob_8a1e6f3d90";

fn keys_config() -> AuthConfig {
    auth_config(&format!(
        r#"
        [auth]
        mode = "keys"

        [[auth.keys]]
        subject = "alice"
        sha256 = "{}"
        scopes = ["search", "execute:read"]

        [[auth.keys]]
        subject = "bob"
        sha256 = "{}"
        scopes = "search execute:read execute:write approve"
        forward = true
        "#,
        hash_key(ALICE_KEY),
        hash_key(BOB_KEY).to_uppercase(),
    ))
}

#[tokio::test]
async fn the_right_key_yields_its_principal() {
    let config = keys_config();
    config
        .validate(false)
        .expect("keys mode is fine off loopback");
    let auth = Authenticator::new(&config).expect("authenticator");
    assert_eq!(auth.mode(), AuthMode::Keys);

    let alice = auth.authenticate(&bearer(ALICE_KEY)).await.expect("alice");
    assert_eq!(
        alice,
        Principal {
            subject: "alice".into(),
            scopes: Scopes::from_names(["search", "execute:read"]).expect("scopes"),
            may_forward: false,
            client: None,
        }
    );
    let bob = auth
        .authenticate(&bearer(BOB_KEY))
        .await
        .expect("bob (uppercase hash)");
    assert_eq!(bob.subject, "bob");
    assert_eq!(bob.scopes, Scopes::all());
    assert!(bob.may_forward);
    assert_eq!(auth.resource_metadata(), None);
    assert_eq!(auth.resource_metadata_url(), None);
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_401_with_a_bare_challenge() {
    let auth = Authenticator::new(&keys_config()).expect("authenticator");
    let wrong = format!("{ALICE_KEY}x");

    let error = auth
        .authenticate(&bearer(&wrong))
        .await
        .expect_err("wrong key");
    assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        error.www_authenticate().as_deref(),
        Some("Bearer error=\"invalid_token\", error_description=\"unknown API key\"")
    );
    for rendered in [
        error.to_string(),
        format!("{error:?}"),
        error.body().to_string(),
    ] {
        assert!(!rendered.contains(&wrong), "key leaked: {rendered}");
    }

    let error = auth
        .authenticate(&HeaderMap::new())
        .await
        .expect_err("no key");
    assert_eq!(error.kind(), &AuthErrorKind::MissingToken);
    assert_eq!(error.www_authenticate().as_deref(), Some("Bearer"));
    assert_eq!(error.body()["error"], "unauthorized");

    let mut basic = HeaderMap::new();
    basic.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Basic YWxpY2U6cHc="),
    );
    let error = auth.authenticate(&basic).await.expect_err("wrong scheme");
    assert_eq!(error.kind(), &AuthErrorKind::MissingToken);
}

#[tokio::test]
async fn keys_mode_403_has_no_metadata_url() {
    let auth = Authenticator::new(&keys_config()).expect("authenticator");
    let alice = auth.authenticate(&bearer(ALICE_KEY)).await.expect("alice");
    let error = auth
        .require(&alice, Scope::Approve)
        .expect_err("no approve");
    assert_eq!(error.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        error.www_authenticate().as_deref(),
        Some("Bearer error=\"insufficient_scope\", scope=\"approve\"")
    );
}

#[test]
fn hash_key_is_lowercase_hex_sha256_of_the_exact_bytes() {
    assert_eq!(
        hash_key(""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_ne!(hash_key("key"), hash_key("key\n"));
}

#[test]
fn debug_output_redacts_key_hashes() {
    let config = keys_config();
    let rendered = format!("{config:?}");
    assert!(!rendered.contains(&hash_key(ALICE_KEY)), "{rendered}");
    assert!(rendered.contains("alice"));
}

#[tokio::test]
async fn none_mode_is_the_local_user_on_loopback_only() {
    let config = auth_config("[auth]\nmode = \"none\"\n");
    assert_eq!(config, AuthConfig::default());
    config.validate(true).expect("loopback");
    let refusal = config.validate(false).expect_err("off loopback");
    assert!(refusal.to_string().contains("loopback"), "{refusal}");

    let auth = Authenticator::new(&config).expect("authenticator");
    let principal = auth.authenticate(&HeaderMap::new()).await.expect("anyone");
    assert_eq!(principal, Principal::local());
    assert_eq!(principal.scopes, Scopes::all());
    assert!(principal.may_forward);
    assert!(auth.require(&principal, Scope::Approve).is_ok());
}
