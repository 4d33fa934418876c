//! The call's ledger: every checked request, sent or refused, in order, with the caller's decision.

use std::sync::Arc;

use codemode_spec::Method;
use codemode_upstream::{
    Call, Credential, Gateway, GatewayConfig, HttpSettings, HttpUpstream, RequestError,
};
use serde_json::json;

use crate::fake_api::FakeApi;
use crate::{TOKEN, open_config};

/// What a caller decided about a request, as the server's policy would.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Allowed,
    Denied(&'static str),
}

/// A call whose ledger keeps [`Verdict`]s, to the fake API at `base`.
fn deciding_call(base: &str, config: GatewayConfig) -> Call<Verdict> {
    let upstream = HttpUpstream::new(base, HttpSettings::default()).expect("valid base");
    let gateway: Gateway<Verdict> =
        Gateway::new(Arc::new(upstream), &[], config).expect("valid config");
    gateway.call(Some(Credential::new(TOKEN).expect("valid token")))
}

#[tokio::test]
async fn sent_refused_and_undecided_requests_are_kept_in_order() {
    let (base, api) = FakeApi::start(None).await;
    let call = deciding_call(&base, open_config());

    let retried = call
        .check(&json!({"method": "GET", "path": "/flaky/429/2"}))
        .expect("valid");
    call.send(retried, Verdict::Allowed)
        .await
        .expect("success after retries");
    let refused = call
        .check(&json!({"method": "DELETE", "path": "/echo"}))
        .expect("valid");
    call.refuse(refused, Verdict::Denied("no-deletes"));
    call.request(&json!({"method": "GET", "path": "/json"}))
        .await
        .expect("sent");
    call.check(&json!({"method": "GET", "path": "../x"}))
        .expect_err("refused by the path guard");

    let entries: Vec<_> = call
        .records()
        .into_iter()
        .map(|r| (r.method, r.path, r.status, r.attempts, r.decision))
        .collect();
    assert_eq!(
        entries,
        [
            (
                Method::Get,
                "/flaky/429/2".to_string(),
                Some(200),
                3,
                Some(Verdict::Allowed)
            ),
            (
                Method::Delete,
                "/echo".to_string(),
                None,
                0,
                Some(Verdict::Denied("no-deletes"))
            ),
            (Method::Get, "/json".to_string(), Some(201), 1, None),
        ]
    );
    assert_eq!(api.hits("/echo"), 0, "a refused request is never sent");
}

#[tokio::test]
async fn a_refused_request_counts_against_the_budget() {
    let (base, api) = FakeApi::start(None).await;
    let config = GatewayConfig {
        max_subrequests: 2,
        ..open_config()
    };
    let call = deciding_call(&base, config);
    let options = json!({"method": "GET", "path": "/echo"});
    let refused = call.check(&options).expect("within the budget");
    call.refuse(refused, Verdict::Denied("no-echo"));
    let sent = call.check(&options).expect("within the budget");
    call.send(sent, Verdict::Allowed).await.expect("sent");
    assert_eq!(
        call.check(&options).expect_err("over the budget"),
        RequestError::SubrequestLimit { limit: 2 }
    );
    let records = call.records();
    assert_eq!(
        records.len(),
        2,
        "a request over the budget is refused before any decision"
    );
    assert_eq!(records[0].decision, Some(Verdict::Denied("no-echo")));
    assert_eq!(api.hits("/echo"), 1);
}

#[tokio::test]
async fn failures_are_recorded_with_the_status_the_api_gave() {
    let (base, _api) = FakeApi::start(None).await;
    let call = deciding_call(&base, open_config());
    let checked = call
        .check(&json!({"method": "GET", "path": "/status/403"}))
        .expect("valid");
    let error = call.send(checked, Verdict::Allowed).await.expect_err("403");
    assert!(matches!(error, RequestError::Authentication { .. }));
    let record = &call.records()[0];
    assert_eq!((record.status, record.attempts), (Some(403), 1));
}
