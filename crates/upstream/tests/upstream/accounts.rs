//! Choosing `accountId`: explicit, configured, or discovered once per credential.

use codemode_upstream::{AccountError, AccountResolver};
use serde_json::json;

use crate::fake_api::FakeApi;
use crate::{TOKEN, assert_no_token, http_gateway, open_config};

const ONLY: &str = "023e105f4ecef8ad9ca31a8372d0c353";

#[tokio::test]
async fn the_only_account_is_discovered_once_per_credential() {
    let (base, api) = FakeApi::start(Some(vec![json!({"id": ONLY, "name": "Solo"})])).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let resolver = AccountResolver::new();
    for _ in 0..3 {
        assert_eq!(
            resolver.resolve(None, None, &gateway.call()).await,
            Ok(ONLY.to_string())
        );
    }
    assert_eq!(api.hits("/accounts"), 1);
    assert_eq!(api.seen()[0].query.as_deref(), Some("per_page=50"));

    let other_token = http_gateway(&base, Some("another-token"), &[], open_config());
    assert_eq!(
        resolver.resolve(None, None, &other_token.call()).await,
        Ok(ONLY.to_string())
    );
    assert_eq!(
        api.hits("/accounts"),
        2,
        "a different credential discovers again"
    );
}

#[tokio::test]
async fn explicit_and_configured_accounts_win_without_a_request() {
    let (base, api) = FakeApi::start(Some(vec![json!({"id": ONLY, "name": "Solo"})])).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let resolver = AccountResolver::new();
    assert_eq!(
        resolver
            .resolve(Some("aaaa"), Some("bbbb"), &gateway.call())
            .await,
        Ok("aaaa".to_string())
    );
    assert_eq!(
        resolver.resolve(None, Some("bbbb"), &gateway.call()).await,
        Ok("bbbb".to_string())
    );
    assert!(matches!(
        resolver
            .resolve(Some("../zones"), None, &gateway.call())
            .await,
        Err(AccountError::InvalidId(_))
    ));
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn no_account_is_an_error_that_says_how_to_fix_it() {
    let (base, _api) = FakeApi::start(Some(Vec::new())).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let error = AccountResolver::new()
        .resolve(None, None, &gateway.call())
        .await
        .expect_err("none");
    assert_eq!(error, AccountError::NoAccounts);
    assert!(
        error.to_string().contains("name the account explicitly"),
        "{error}"
    );
}

#[tokio::test]
async fn several_accounts_are_listed_and_not_cached() {
    let accounts = vec![
        json!({"id": "1111", "name": "Personal"}),
        json!({"id": "2222", "name": "Work"}),
    ];
    let (base, api) = FakeApi::start(Some(accounts)).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let resolver = AccountResolver::new();
    let error = resolver
        .resolve(None, None, &gateway.call())
        .await
        .expect_err("ambiguous");
    let message = error.to_string();
    assert!(matches!(error, AccountError::Several { count: 2, .. }));
    for part in [
        "Personal (1111)",
        "Work (2222)",
        "accountId is ambiguous",
        "name the account explicitly",
    ] {
        assert!(message.contains(part), "{message}");
    }
    resolver
        .resolve(None, None, &gateway.call())
        .await
        .expect_err("still ambiguous");
    assert_eq!(api.hits("/accounts"), 2);
}

#[tokio::test]
async fn a_failed_discovery_explains_itself_without_the_token() {
    let (base, _api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let error = AccountResolver::new()
        .resolve(None, None, &gateway.call())
        .await
        .expect_err("403");
    let message = error.to_string();
    assert!(matches!(error, AccountError::Discovery(_)));
    for part in [
        "GET /accounts failed",
        "HTTP 403",
        "[9109]",
        "name the account explicitly",
    ] {
        assert!(message.contains(part), "{message}");
    }
    assert_no_token(&message);
}
