//! Requests must match an operation of the spec, unless the operator opts out.

use codemode_spec::{Method, Operation};
use codemode_upstream::{GatewayConfig, RequestError};
use serde_json::json;

use crate::fake_api::FakeApi;
use crate::{TOKEN, fast_retry, http_gateway, open_config};

fn operations() -> Vec<Operation> {
    [
        (Method::Get, "/echo"),
        (Method::Get, "/zones/{zone_id}"),
        (Method::Patch, "/zones/{zone_id}"),
        (Method::Get, "/zones/{zone_id}/settings/{setting_id}"),
        (Method::Get, "/zones/{zone_id}/settings/ssl"),
    ]
    .into_iter()
    .map(|(method, path)| Operation {
        method,
        path: path.to_string(),
        operation_id: None,
        tags: vec!["Zone".to_string()],
    })
    .collect()
}

fn enforcing() -> GatewayConfig {
    GatewayConfig {
        retry: fast_retry(),
        ..GatewayConfig::default()
    }
}

#[tokio::test]
async fn requests_are_matched_to_templates_and_recorded() {
    let (base, _api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &operations(), enforcing());
    let call = gateway.call();
    for path in [
        "/echo",
        "/zones/abc",
        "/zones/abc/settings/ssl",
        "/zones/abc/settings/tls_1_3",
    ] {
        call.request(&json!({"method": "GET", "path": path}))
            .await
            .expect(path);
    }
    let templates: Vec<Option<String>> = call.records().into_iter().map(|r| r.template).collect();
    assert_eq!(
        templates,
        [
            Some("/echo".to_string()),
            Some("/zones/{zone_id}".to_string()),
            Some("/zones/{zone_id}/settings/ssl".to_string()),
            Some("/zones/{zone_id}/settings/{setting_id}".to_string()),
        ]
    );
    let record = &call.records()[1];
    assert_eq!(
        (record.method, record.path.as_str(), record.status),
        (Method::Get, "/zones/abc", Some(404))
    );
}

#[tokio::test]
async fn unknown_operations_are_refused_with_a_hint() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &operations(), enforcing());
    let call = gateway.call();
    let error = call
        .request(&json!({"method": "DELETE", "path": "/zones/abc"}))
        .await
        .expect_err("DELETE is not in the spec");
    let message = error.to_string();
    assert!(matches!(
        error,
        RequestError::NotInSpec {
            method: Method::Delete,
            ..
        }
    ));
    assert!(
        message.contains("DELETE /zones/abc is not an operation of the API spec"),
        "{message}"
    );
    assert!(
        message.contains("(this path accepts GET, PATCH)"),
        "{message}"
    );
    assert!(message.contains("search the spec"), "{message}");

    for path in ["/nothing", "/zones", "/zones/abc/def", "/echo/x"] {
        let error = call
            .request(&json!({"method": "GET", "path": path}))
            .await
            .expect_err(path);
        assert!(
            matches!(error, RequestError::NotInSpec { .. }),
            "{path}: {error}"
        );
    }
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn the_operator_may_allow_paths_outside_the_spec() {
    let (base, api) = FakeApi::start(None).await;
    let gateway = http_gateway(&base, Some(TOKEN), &operations(), open_config());
    let call = gateway.call();
    call.request(&json!({"method": "GET", "path": "/json"}))
        .await
        .expect("allowed");
    call.request(&json!({"method": "GET", "path": "/echo"}))
        .await
        .expect("allowed");
    assert_eq!(api.hits("/json"), 1);
    let templates: Vec<Option<String>> = call.records().into_iter().map(|r| r.template).collect();
    assert_eq!(templates, [None, Some("/echo".to_string())]);
    let guarded = call
        .request(&json!({"method": "GET", "path": "/../json"}))
        .await;
    assert!(
        matches!(guarded, Err(RequestError::Options { .. })),
        "the path guard still applies"
    );
}
