//! The call's ledger: every checked request, sent or refused, in order, with the caller's
//! decision; and the journal each request is written to before it is sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use codemode_spec::Method;
use codemode_upstream::{
    Call, CheckedRequest, Credential, Gateway, GatewayConfig, HttpSettings, HttpUpstream, Journal,
    RequestError,
};
use futures::future::BoxFuture;
use serde_json::json;

use crate::fake_api::FakeApi;
use crate::{TOKEN, open_config};

/// What a caller decided about a request, as the server's policy would.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Allowed,
    Denied(&'static str),
}

/// A gateway whose ledgers keep [`Verdict`]s, to the fake API at `base`.
fn gateway(base: &str, config: GatewayConfig) -> Gateway<Verdict> {
    let upstream = HttpUpstream::new(base, HttpSettings::default()).expect("valid base");
    Gateway::new(Arc::new(upstream), &[], config).expect("valid config")
}

fn token() -> Option<Credential> {
    Some(Credential::new(TOKEN).expect("valid token"))
}

/// A call whose ledger keeps [`Verdict`]s, to the fake API at `base`.
fn deciding_call(base: &str, config: GatewayConfig) -> Call<Verdict> {
    gateway(base, config).call(token())
}

/// A journal that numbers the requests it is given from 1, or refuses them all.
#[derive(Default)]
struct Numbering {
    written: Mutex<Vec<String>>,
    refuse: bool,
}

impl Journal for Numbering {
    fn before_send(&self, request: &CheckedRequest) -> BoxFuture<'static, Result<u64, String>> {
        let mut written = self.written.lock().expect("not poisoned");
        let answer = if self.refuse {
            Err("the journal is full".to_string())
        } else {
            written.push(format!("{} {}", request.method().as_str(), request.path()));
            Ok(written.len() as u64)
        };
        Box::pin(async move { answer })
    }
}

/// Status, attempts, intent and whether in flight, of the call's first request.
fn sent_state(call: &Call<Verdict>) -> (Option<u16>, u32, Option<u64>, bool) {
    let record = &call.records()[0];
    (
        record.status,
        record.attempts,
        record.intent,
        record.in_flight,
    )
}

fn get(call: &Call<Verdict>, path: &str) -> CheckedRequest {
    call.check(&json!({"method": "GET", "path": path}))
        .expect("valid")
}

#[tokio::test]
async fn each_sent_request_is_journaled_first_and_keeps_its_id() {
    let (base, _api) = FakeApi::start(None).await;
    let journal = Arc::new(Numbering::default());
    let call = gateway(&base, open_config()).journaled_call(token(), journal.clone());
    call.send(get(&call, "/echo"), Verdict::Allowed)
        .await
        .expect("sent");
    call.refuse(get(&call, "/echo"), Verdict::Denied("no"));
    call.send(get(&call, "/status/403"), Verdict::Allowed)
        .await
        .expect_err("403");
    let entries: Vec<_> = call
        .records()
        .into_iter()
        .map(|r| (r.path, r.intent, r.in_flight))
        .collect();
    assert_eq!(
        entries,
        [
            ("/echo".to_string(), Some(1), false),
            ("/echo".to_string(), None, false),
            ("/status/403".to_string(), Some(2), false),
        ]
    );
    assert_eq!(
        *journal.written.lock().unwrap(),
        ["GET /echo", "GET /status/403"],
        "a refused request is not journaled"
    );
}

#[tokio::test]
async fn a_request_the_journal_refuses_is_not_sent() {
    let (base, api) = FakeApi::start(None).await;
    let journal = Arc::new(Numbering {
        refuse: true,
        ..Numbering::default()
    });
    let call = gateway(&base, open_config()).journaled_call(token(), journal);
    let error = call
        .send(get(&call, "/echo"), Verdict::Allowed)
        .await
        .expect_err("refused");
    assert!(
        matches!(error, RequestError::NotRecorded { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "GET /echo was not sent: it could not be recorded first (the journal is full); try again shortly"
    );
    assert_eq!(api.hits("/echo"), 0);
    assert_eq!(sent_state(&call), (None, 0, None, false));
}

#[tokio::test]
async fn a_request_still_in_flight_when_its_caller_gives_up_stays_in_the_ledger() {
    let (base, api) = FakeApi::start(None).await;
    let call =
        gateway(&base, open_config()).journaled_call(token(), Arc::new(Numbering::default()));
    let sending = {
        let call = call.clone();
        let checked = get(&call, "/slow/600000");
        tokio::spawn(async move { call.send(checked, Verdict::Allowed).await })
    };
    while api.hits("/slow/600000") == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sending.abort();
    let _ = sending.await;
    assert_eq!(sent_state(&call), (None, 1, Some(1), true));
    assert_eq!(call.records()[0].decision, Some(Verdict::Allowed));
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
