//! `/accounts`: the one demo account, and account discovery through the gateway.

use codemode_demo::DEMO_ACCOUNT_ID;
use codemode_upstream::resolve_account;
use serde_json::json;

use crate::{assert_failure, demo, send};

#[tokio::test]
async fn accounts_and_discovery() {
    let gateway = demo();
    let accounts = send(
        &gateway.call(None),
        json!({"method": "GET", "path": "/accounts"}),
    )
    .await;
    assert_eq!(accounts["result"][0]["name"], json!("Demo Account"));
    assert_eq!(accounts["result_info"]["total_count"], json!(1));
    let call = gateway.call(None);
    let discovered = resolve_account(
        None,
        None,
        |options| async move { call.request(&options).await },
    )
    .await;
    assert_eq!(discovered, Ok(DEMO_ACCOUNT_ID.to_string()));
    let details = send(
        &gateway.call(None),
        json!({"method": "GET", "path": format!("/accounts/{DEMO_ACCOUNT_ID}")}),
    )
    .await;
    assert_eq!(details["result"]["id"], json!(DEMO_ACCOUNT_ID));
    let other = send(
        &gateway.call(None),
        json!({"method": "GET", "path": "/accounts/ffff"}),
    )
    .await;
    assert_failure(&other, 404, 7003);
}
