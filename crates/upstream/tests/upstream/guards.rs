//! Every refused request form, end to end: refused before anything reaches the server.

use codemode_upstream::{OptionsError, PathError, RequestError};
use serde_json::json;

use crate::fake_api::FakeApi;
use crate::{TOKEN, assert_no_token, http_gateway, open_config};

const REFUSED_PATHS: &[&str] = &[
    "https://evil.example/client/v4/zones",
    "http://evil.example/",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "data:text/plain,hi",
    "evil.example/zones",
    "zones",
    "",
    "//evil.example/zones",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example\\zones",
    "/zones\\..\\accounts",
    "/../accounts",
    "/zones/../../evil",
    "/zones/./abc",
    "/zones/%2e%2e/accounts",
    "/zones/%2E%2E/accounts",
    "/zones/.%2e/accounts",
    "/zones/%2e",
    "/zones/..;x/accounts",
    "/zones/Z/purge%5Fcache",
    "/accounts/A/worker%73/scripts/S",
    "/zones/a%2fb",
    "/zones/a%2F..%2F..%2Fevil",
    "/zones/a%5cb",
    "/zones/%252e%252e/accounts",
    "/zones/%252fevil",
    "/zones/%zz",
    "/zones/%2",
    "/zones\r\nHost: evil.example",
    "/zones\nX: y",
    "/zones\0",
    "/zones%0d%0aX:y",
    "/zones%00",
    "/zones\t",
    "/zones /x",
    "/zones?name=evil",
    "/zones#fragment",
    "/zones/",
    "/zones//abc",
    "/",
    "/zones/{zone_id}",
    "/zones/\u{ff0f}evil",
    "/zones/\u{2024}\u{2024}",
];

#[tokio::test]
async fn every_refused_path_form_stays_home() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let call = gateway.call();
    for path in REFUSED_PATHS {
        let error = call
            .request(&json!({"method": "GET", "path": path}))
            .await
            .expect_err(path);
        assert!(
            matches!(
                error,
                RequestError::Options {
                    error: OptionsError::Path { .. },
                    ..
                }
            ),
            "{path:?}: {error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("invalid cloudflare.request options: refused path")
        );
        assert_no_token(&error.to_string());
    }
    assert!(api.seen().is_empty(), "{:?}", api.seen());
    assert!(call.records().is_empty());
}

#[tokio::test]
async fn header_and_query_injection_is_refused() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let call = gateway.call();
    let attempts = [
        json!({"method": "GET", "path": "/echo", "query": {"a": "b\r\nX-Evil: 1"}}),
        json!({"method": "GET", "path": "/echo", "query": {"a\r\nX-Evil: 1": "b"}}),
        json!({"method": "GET", "path": "/echo", "query": {"a": ["ok", "b\u{0}"]}}),
        json!({"method": "GET", "path": "/echo", "query": {"nested": {"a": 1}}}),
        json!({"method": "PUT", "path": "/echo", "body": "x", "rawBody": true, "contentType": "text/plain\r\nX-Evil: 1"}),
        json!({"method": "PUT", "path": "/echo", "body": "x", "contentType": "text/plain\nAuthorization: Bearer x"}),
        json!({"method": "GET\r\nX-Evil: 1", "path": "/echo"}),
        json!({"method": "TRACE", "path": "/echo"}),
        json!({"method": "CONNECT", "path": "/echo"}),
        json!({"method": "GET", "path": "/echo", "headers": {"Authorization": "Bearer stolen"}}),
        json!({"method": "GET", "path": "/echo", "url": "https://evil.example"}),
        json!({"method": "GET", "path": ["/echo"]}),
        json!(["GET", "/echo"]),
    ];
    for options in attempts {
        let error = call.request(&options).await.expect_err("refused");
        assert!(
            matches!(error, RequestError::Options { .. }),
            "{options}: {error}"
        );
    }
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn path_errors_say_what_to_do() {
    let (base, _api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &[], open_config());
    let call = gateway.call();
    let message = |path: &str| {
        let call = call.clone();
        let options = json!({"method": "GET", "path": path});
        async move {
            call.request(&options)
                .await
                .expect_err("refused")
                .to_string()
        }
    };
    assert!(
        message("/zones?per_page=5")
            .await
            .contains("put query parameters in `query`")
    );
    assert!(message("/zones/{zone_id}").await.contains("placeholders"));
    assert!(
        message("https://api.example/zones")
            .await
            .contains("must start with \"/\"")
    );
    assert!(message("/zones/../x").await.contains("dot segment"));
    let error = call
        .request(&json!({"method": "GET", "path": "//evil.example"}))
        .await
        .expect_err("refused");
    assert!(matches!(
        error,
        RequestError::Options {
            error: OptionsError::Path {
                source: PathError::SchemeRelative,
                ..
            },
            ..
        }
    ));
}
