//! `/zones`: pagination, filters, edits, and cache purges.

use serde_json::json;

use crate::{assert_failure, demo, send, zone_id};

#[tokio::test]
async fn zones_are_paginated_filtered_and_editable() {
    let gateway = demo();
    let call = gateway.call(None);
    let first = send(
        &call,
        json!({"method": "GET", "path": "/zones", "query": {"per_page": 1}}),
    )
    .await;
    assert_eq!(first["result"][0]["name"], json!("example.com"));
    assert_eq!(
        first["result_info"],
        json!({"page": 1, "per_page": 1, "count": 1, "total_count": 2, "total_pages": 2})
    );
    let second = send(
        &call,
        json!({"method": "GET", "path": "/zones", "query": {"per_page": 1, "page": 2}}),
    )
    .await;
    assert_eq!(second["result"][0]["name"], json!("example.org"));
    let bad_page = send(
        &call,
        json!({"method": "GET", "path": "/zones", "query": {"per_page": 500}}),
    )
    .await;
    assert_failure(&bad_page, 400, 1001);

    let created = send(
        &call,
        json!({"method": "POST", "path": "/zones", "body": {"name": "Example.NET"}}),
    )
    .await;
    assert_eq!(created["result"]["name"], json!("example.net"));
    assert_eq!(created["result"]["status"], json!("pending"));
    let id = created["result"]["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 32);
    let duplicate = send(
        &call,
        json!({"method": "POST", "path": "/zones", "body": {"name": "example.net"}}),
    )
    .await;
    assert_failure(&duplicate, 400, 1061);
    let invalid = send(
        &call,
        json!({"method": "POST", "path": "/zones", "body": {"name": "not a domain"}}),
    )
    .await;
    assert_failure(&invalid, 400, 1099);
    let missing = send(
        &call,
        json!({"method": "POST", "path": "/zones", "body": {}}),
    )
    .await;
    assert_failure(&missing, 400, 9207);
    let not_json = send(&call, json!({"method": "POST", "path": "/zones", "body": "name=x", "rawBody": true, "contentType": "text/plain"})).await;
    assert_failure(&not_json, 400, 9207);

    let path = format!("/zones/{id}");
    let paused = send(
        &call,
        json!({"method": "PATCH", "path": path, "body": {"paused": true}}),
    )
    .await;
    assert_eq!(paused["result"]["paused"], json!(true));
    let unknown_field = send(
        &call,
        json!({"method": "PATCH", "path": path, "body": {"plan": "pro"}}),
    )
    .await;
    assert_failure(&unknown_field, 400, 9207);
    let deleted = send(&call, json!({"method": "DELETE", "path": path})).await;
    assert_eq!(deleted["result"], json!({"id": id}));
    let gone = send(&call, json!({"method": "GET", "path": path})).await;
    assert_failure(&gone, 404, 7003);
    assert!(
        gone["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&path)
    );
}

#[tokio::test]
async fn cache_purges_are_validated() {
    let gateway = demo();
    let call = gateway.call(None);
    let purge = format!("/zones/{}/purge_cache", zone_id(&call, "example.org").await);
    let nothing = send(&call, json!({"method": "POST", "path": purge, "body": {}})).await;
    assert_failure(&nothing, 400, 1012);
    let too_many: Vec<String> = (0..31)
        .map(|i| format!("https://example.org/{i}"))
        .collect();
    let many = send(
        &call,
        json!({"method": "POST", "path": purge, "body": {"files": too_many}}),
    )
    .await;
    assert_failure(&many, 400, 1015);
    let everything = send(
        &call,
        json!({"method": "POST", "path": purge, "body": {"purge_everything": true}}),
    )
    .await;
    assert_eq!(everything["success"], json!(true));
}
