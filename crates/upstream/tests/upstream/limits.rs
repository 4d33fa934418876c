//! Per-call budgets: how many requests, and how many at once.

use std::time::{Duration, Instant};

use codemode_upstream::{GatewayConfig, RequestError};
use futures::future::join_all;
use serde_json::json;

use crate::fake_api::FakeApi;
use crate::{TOKEN, http_gateway, open_config};

#[tokio::test]
async fn the_subrequest_limit_is_per_call_and_named_in_the_error() {
    let (base, api) = FakeApi::start(None).await;
    let config = GatewayConfig {
        max_subrequests: 3,
        ..open_config()
    };
    let gateway = http_gateway(&base, Some(TOKEN), &[], config);
    let call = gateway.call();
    let options = json!({"method": "GET", "path": "/echo"});
    for _ in 0..3 {
        call.request(&options).await.expect("within the limit");
    }
    let error = call
        .clone()
        .request(&options)
        .await
        .expect_err("over the limit");
    assert_eq!(error, RequestError::SubrequestLimit { limit: 3 });
    assert!(error.to_string().contains("at most 3 requests"), "{error}");
    assert_eq!(api.hits("/echo"), 3);
    let records = call.records();
    assert_eq!(
        records.len(),
        3,
        "a request over the budget is not sent or recorded"
    );

    gateway
        .call()
        .request(&options)
        .await
        .expect("a new call has a new budget");
}

#[tokio::test]
async fn retries_do_not_use_up_the_budget() {
    let (base, _api) = FakeApi::start(None).await;
    let config = GatewayConfig {
        max_subrequests: 1,
        ..open_config()
    };
    let gateway = http_gateway(&base, Some(TOKEN), &[], config);
    let call = gateway.call();
    call.request(&json!({"method": "GET", "path": "/flaky/429/2"}))
        .await
        .expect("one request, three attempts");
    assert_eq!(call.records()[0].attempts, 3);
}

#[tokio::test]
async fn the_seventh_concurrent_request_waits() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let call = gateway.call();
    let options = json!({"method": "GET", "path": "/slow/200"});
    let started = Instant::now();
    let results = join_all((0..12).map(|_| {
        let call = call.clone();
        let options = options.clone();
        async move { call.request(&options).await }
    }))
    .await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(api.max_in_flight(), 6);
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert_eq!(call.records().len(), 12);
}
