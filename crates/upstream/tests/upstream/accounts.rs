//! Choosing `accountId`: explicit, configured, or discovered by a request the caller sends.

use codemode_upstream::{AccountError, Call, resolve_account};
use serde_json::json;

use crate::fake_api::FakeApi;
use crate::{TOKEN, assert_no_token, http_gateway, open_config};

const ONLY: &str = "023e105f4ecef8ad9ca31a8372d0c353";

/// The account `explicit` or `configured` names, else the one discovered through `call`.
async fn resolve(
    explicit: Option<&str>,
    configured: Option<&str>,
    call: &Call,
) -> Result<String, AccountError> {
    resolve_account(explicit, configured, |options| async move {
        call.request(&options).await
    })
    .await
}

#[tokio::test]
async fn the_only_account_is_discovered_by_each_call_through_its_sender() {
    let (base, api) = FakeApi::start(Some(vec![json!({"id": ONLY, "name": "Solo"})])).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    for _ in 0..2 {
        let call = gateway.call();
        assert_eq!(resolve(None, None, &call).await, Ok(ONLY.to_string()));
        let ledger = call.records();
        assert_eq!(ledger.len(), 1, "discovery is a request of the call's own");
        assert_eq!(
            (ledger[0].path.as_str(), ledger[0].status),
            ("/accounts", Some(200))
        );
    }
    assert_eq!(api.hits("/accounts"), 2);
    assert_eq!(api.seen()[0].query.as_deref(), Some("per_page=50"));
}

#[tokio::test]
async fn a_refused_discovery_says_why_and_sends_nothing() {
    let refused = resolve_account(None, None, |_| async {
        Err::<serde_json::Value, _>("GET /accounts needs the execute:read scope")
    })
    .await
    .expect_err("refused");
    assert_eq!(
        refused,
        AccountError::Discovery("GET /accounts needs the execute:read scope".into())
    );
    assert!(
        refused.to_string().contains("name the account explicitly"),
        "{refused}"
    );
}

#[tokio::test]
async fn explicit_and_configured_accounts_win_without_a_request() {
    let (base, api) = FakeApi::start(Some(vec![json!({"id": ONLY, "name": "Solo"})])).await;
    let call = http_gateway(&base, Some(TOKEN), &[], open_config()).call();
    assert_eq!(
        resolve(Some("aaaa"), Some("bbbb"), &call).await,
        Ok("aaaa".to_string())
    );
    assert_eq!(
        resolve(None, Some("bbbb"), &call).await,
        Ok("bbbb".to_string())
    );
    assert!(matches!(
        resolve(Some("../zones"), None, &call).await,
        Err(AccountError::InvalidId(_))
    ));
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn no_account_is_an_error_that_says_how_to_fix_it() {
    let (base, _api) = FakeApi::start(Some(Vec::new())).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let error = resolve(None, None, &gateway.call())
        .await
        .expect_err("none");
    assert_eq!(error, AccountError::NoAccounts);
    assert!(
        error.to_string().contains("name the account explicitly"),
        "{error}"
    );
}

#[tokio::test]
async fn several_accounts_are_listed() {
    let accounts = vec![
        json!({"id": "1111", "name": "Personal"}),
        json!({"id": "2222", "name": "Work"}),
    ];
    let (base, api) = FakeApi::start(Some(accounts)).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let error = resolve(None, None, &gateway.call())
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
    assert_eq!(api.hits("/accounts"), 1);
}

#[tokio::test]
async fn a_failed_discovery_explains_itself_without_the_token() {
    let (base, _api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let error = resolve(None, None, &gateway.call()).await.expect_err("403");
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
