//! The HTTP upstream through the gateway: headers, encoding, bodies, envelopes, retries, errors.

use std::time::{Duration, Instant};

use codemode_upstream::{
    AuthFailure, GiveUp, HttpSettings, HttpUpstream, RequestError, UpstreamError,
};
use serde_json::{Value, json};

use crate::fake_api::FakeApi;
use crate::{Api, TOKEN, assert_no_token, http_gateway, open_config};

async fn get(gateway: &Api, path: &str) -> Result<Value, RequestError> {
    gateway
        .call()
        .request(&json!({"method": "GET", "path": path}))
        .await
}

#[tokio::test]
async fn sends_the_credential_as_a_bearer_token_only_in_the_header() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    get(&gateway, "/echo").await.expect("success");
    let seen = api.seen();
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(!seen[0].query.clone().unwrap_or_default().contains(TOKEN));

    let anonymous = http_gateway(&base, None, &[], open_config());
    get(&anonymous, "/echo").await.expect("success");
    assert_eq!(api.seen()[1].authorization, None);
}

#[tokio::test]
async fn a_reflected_token_is_scrubbed_from_the_response() {
    let (base, _api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let body = get(&gateway, "/reflect-token").await.expect("success");
    assert_eq!(body["result"]["seen"], json!("Bearer [redacted]"));
    assert_no_token(&body.to_string());
}

#[tokio::test]
async fn query_values_are_encoded_with_repeated_keys() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let options = json!({
        "method": "get",
        "path": "/echo",
        "query": {"tag": ["a", "b c"], "skip": null, "per_page": 5, "proxied": true, "name": "a&b=c#d", "account.id": "x"}
    });
    gateway.call().request(&options).await.expect("success");
    assert_eq!(
        api.seen()[0].query.as_deref(),
        Some("tag=a&tag=b+c&per_page=5&proxied=true&name=a%26b%3Dc%23d&account.id=x")
    );
}

#[tokio::test]
async fn bodies_are_json_by_default_and_raw_on_request() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let call = gateway.call();
    call.request(
        &json!({"method": "POST", "path": "/echo", "body": {"name": "example.net", "n": [1, 2]}}),
    )
    .await
    .expect("success");
    let multipart =
        "--XyZ\r\nContent-Disposition: form-data; name=\"value\"\r\n\r\nhello\r\n--XyZ--\r\n";
    call.request(&json!({
        "method": "PUT",
        "path": "/echo",
        "body": multipart,
        "rawBody": true,
        "contentType": "multipart/form-data; boundary=XyZ"
    }))
    .await
    .expect("success");
    call.request(&json!({"method": "DELETE", "path": "/echo"}))
        .await
        .expect("success");
    let seen = api.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(seen[0].body, br#"{"name":"example.net","n":[1,2]}"#);
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(
        seen[1].content_type.as_deref(),
        Some("multipart/form-data; boundary=XyZ")
    );
    assert_eq!(seen[1].body, multipart.as_bytes());
    assert_eq!(seen[2].content_type, None);
    assert!(seen[2].body.is_empty());
}

#[tokio::test]
async fn responses_become_envelopes() {
    let (base, _api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    assert_eq!(
        get(&gateway, "/echo").await.expect("envelope"),
        json!({"success": true, "status": 200, "result": {"ok": true}, "errors": [],
               "messages": [{"code": 1, "message": "hi"}],
               "result_info": {"page": 1, "per_page": 20, "count": 1, "total_count": 1}})
    );
    assert_eq!(
        get(&gateway, "/json").await.expect("json"),
        json!({"success": true, "status": 201, "result": {"hello": "world"}, "errors": [], "messages": []})
    );
    assert_eq!(
        get(&gateway, "/text").await.expect("text"),
        json!({"success": true, "status": 200, "result": "plain words"})
    );
    assert_eq!(
        get(&gateway, "/html-error").await.expect("text"),
        json!({"success": false, "status": 502, "result": "<h1>502 Bad Gateway</h1>"})
    );
    let missing = get(&gateway, "/nothing").await.expect("404 envelope");
    assert_eq!(missing["status"], json!(404));
    assert_eq!(missing["errors"][0]["code"], json!(7000));
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let body = get(&gateway, "/redirect").await.expect("302 envelope");
    assert_eq!(body["status"], json!(302));
    assert_eq!(api.hits("/elsewhere"), 0);
}

#[tokio::test]
async fn rate_limits_are_retried_for_every_method() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let call = gateway.call();
    let body = call
        .request(&json!({"method": "POST", "path": "/flaky/429/2", "body": {}}))
        .await
        .expect("success after retries");
    assert_eq!(body["result"], json!({"attempt": 3}));
    assert_eq!(api.hits("/flaky/429/2"), 3);
    let record = &call.records()[0];
    assert_eq!((record.status, record.attempts), (Some(200), 3));
}

#[tokio::test]
async fn retry_after_seconds_are_honoured() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let started = Instant::now();
    get(&gateway, "/retry-after/1")
        .await
        .expect("success after waiting");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(api.hits("/retry-after/1"), 2);
}

#[tokio::test]
async fn unavailable_is_retried_only_when_safe_to_repeat() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let body = get(&gateway, "/flaky/503/1")
        .await
        .expect("success after retry");
    assert_eq!(body["result"], json!({"attempt": 2}));

    let call = gateway.call();
    let post = call
        .request(&json!({"method": "POST", "path": "/flaky/503/5", "body": {}}))
        .await
        .expect("503 envelope");
    assert_eq!(
        (post["status"].clone(), post["success"].clone()),
        (json!(503), json!(false))
    );
    assert_eq!(api.hits("/flaky/503/5"), 1);
}

#[tokio::test]
async fn retries_are_bounded_and_explained() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let error = get(&gateway, "/flaky/429/100").await.expect_err("gives up");
    assert!(matches!(
        error,
        RequestError::RetriesExhausted {
            status: 429,
            attempts: 4,
            give_up: GiveUp::TooManyRetries(3),
            ..
        }
    ));
    assert_eq!(api.hits("/flaky/429/100"), 4);
    let message = error.to_string();
    assert!(
        message.contains("rate limited") && message.contains("[971]"),
        "{message}"
    );
    assert_no_token(&message);

    let error = get(&gateway, "/retry-after/3600")
        .await
        .expect_err("gives up at once");
    assert!(matches!(
        error,
        RequestError::RetriesExhausted {
            attempts: 1,
            give_up: GiveUp::WaitTooLong { .. },
            ..
        }
    ));
    assert!(error.to_string().contains("asked to wait 3600s"), "{error}");
}

#[tokio::test]
async fn authentication_failures_explain_why_without_the_token() {
    let (base, _api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());

    let unauthorized = get(&gateway, "/status/401").await.expect_err("401");
    let message = unauthorized.to_string();
    assert!(matches!(
        unauthorized,
        RequestError::Authentication {
            status: 401,
            failure: AuthFailure::Rejected,
            ..
        }
    ));
    for part in [
        "authentication failed (HTTP 401)",
        "GET /status/401",
        "missing or invalid",
        "[10000] Authentication error",
    ] {
        assert!(message.contains(part), "{message}");
    }
    assert_no_token(&message);

    let forbidden = get(&gateway, "/status/403").await.expect_err("403");
    assert!(matches!(
        forbidden,
        RequestError::Authentication {
            failure: AuthFailure::Forbidden,
            ..
        }
    ));
    let message = forbidden.to_string();
    for part in [
        "HTTP 403",
        "lacks permission for this path",
        "[9109] Unauthorized to access requested resource",
    ] {
        assert!(message.contains(part), "{message}");
    }
    assert_no_token(&message);
    assert_no_token(&format!("{forbidden:?}"));

    let anonymous = http_gateway(&base, None, &[], open_config());
    let anonymous_error = get(&anonymous, "/status/401").await.expect_err("401");
    assert!(matches!(
        anonymous_error,
        RequestError::Authentication {
            failure: AuthFailure::NoCredential,
            ..
        }
    ));
    let message = anonymous_error.to_string();
    assert!(message.contains("no API token is configured"), "{message}");
}

#[tokio::test]
async fn transport_failures_are_errors() {
    let (base, _api) = FakeApi::start(None).await;
    let small = HttpSettings {
        max_response_bytes: 1000,
        request_timeout: Duration::from_millis(300),
        ..HttpSettings::default()
    };
    let upstream = HttpUpstream::new(&base, small).expect("valid base");
    let gateway = Api::new(upstream, Some(TOKEN), &[], open_config());
    assert!(matches!(
        get(&gateway, "/big").await,
        Err(RequestError::Upstream {
            source: UpstreamError::ResponseTooLarge(1000),
            ..
        })
    ));
    assert!(matches!(
        get(&gateway, "/slow/2000").await,
        Err(RequestError::Upstream {
            source: UpstreamError::Timeout(_),
            ..
        })
    ));

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let unreachable = http_gateway(
        &format!("http://{closed}/client/v4"),
        Some(TOKEN),
        &[],
        open_config(),
    );
    let error = get(&unreachable, "/echo")
        .await
        .expect_err("connection refused");
    assert!(matches!(
        error,
        RequestError::Upstream {
            source: UpstreamError::Connection(_),
            ..
        }
    ));
    assert!(
        error.to_string().contains("could not reach the API"),
        "{error}"
    );
    assert_no_token(&error.to_string());
}
