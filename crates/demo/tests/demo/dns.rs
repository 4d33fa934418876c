//! `/zones/{zone_id}/dns_records`: create, read, update, delete, with the API's validation.

use serde_json::json;

use crate::{assert_failure, demo, send, zone_id};

#[tokio::test]
async fn dns_records_crud_with_validation() {
    let gateway = demo();
    let call = gateway.call(None);
    let zone = zone_id(&call, "example.com").await;
    let records_path = format!("/zones/{zone}/dns_records");

    let all = send(&call, json!({"method": "GET", "path": records_path})).await;
    assert_eq!(all["result_info"]["total_count"], json!(5));
    let a_records = send(
        &call,
        json!({"method": "GET", "path": records_path, "query": {"type": "A"}}),
    )
    .await;
    assert_eq!(a_records["result"].as_array().map(Vec::len), Some(1));
    assert_eq!(a_records["result"][0]["content"], json!("192.0.2.1"));

    let created = send(&call, json!({"method": "POST", "path": records_path,
        "body": {"type": "A", "name": "api", "content": "192.0.2.10", "ttl": 300, "proxied": true}})).await;
    assert_eq!(created["success"], json!(true), "{created}");
    assert_eq!(created["result"]["name"], json!("api.example.com"));
    assert_eq!(created["result"]["zone_name"], json!("example.com"));
    let record_path = format!(
        "{records_path}/{}",
        created["result"]["id"].as_str().expect("id")
    );

    let duplicate = send(
        &call,
        json!({"method": "POST", "path": records_path,
        "body": {"type": "A", "name": "api.example.com", "content": "192.0.2.10"}}),
    )
    .await;
    assert_failure(&duplicate, 400, 81057);
    let bad_ip = send(
        &call,
        json!({"method": "POST", "path": records_path,
        "body": {"type": "A", "name": "x", "content": "999.1.1.1"}}),
    )
    .await;
    assert_failure(&bad_ip, 400, 9005);
    let bad_type = send(
        &call,
        json!({"method": "POST", "path": records_path,
        "body": {"type": "SRVX", "name": "x", "content": "y"}}),
    )
    .await;
    assert_failure(&bad_type, 400, 9007);
    let bad_ttl = send(
        &call,
        json!({"method": "POST", "path": records_path,
        "body": {"type": "TXT", "name": "x", "content": "y", "ttl": 5}}),
    )
    .await;
    assert_failure(&bad_ttl, 400, 9020);

    let patched = send(
        &call,
        json!({"method": "PATCH", "path": record_path, "body": {"content": "192.0.2.11"}}),
    )
    .await;
    assert_eq!(patched["result"]["content"], json!("192.0.2.11"));
    assert_eq!(
        patched["result"]["ttl"],
        json!(300),
        "PATCH keeps other fields"
    );
    let replaced = send(
        &call,
        json!({"method": "PUT", "path": record_path,
        "body": {"type": "TXT", "name": "api", "content": "hello"}}),
    )
    .await;
    assert_eq!(replaced["result"]["type"], json!("TXT"));
    assert_eq!(
        replaced["result"]["ttl"],
        json!(1),
        "PUT resets left-out fields"
    );
    let not_proxiable = send(
        &call,
        json!({"method": "PATCH", "path": record_path, "body": {"proxied": true}}),
    )
    .await;
    assert_failure(&not_proxiable, 400, 9004);

    let fetched = send(&call, json!({"method": "GET", "path": record_path})).await;
    assert_eq!(fetched["result"]["content"], json!("hello"));
    send(&call, json!({"method": "DELETE", "path": record_path})).await;
    let gone = send(&call, json!({"method": "GET", "path": record_path})).await;
    assert_failure(&gone, 404, 81044);
    let other_zone = zone_id(&call, "example.org").await;
    let elsewhere = send(&call, json!({"method": "GET",
        "path": format!("/zones/{other_zone}/dns_records/{}", all["result"][0]["id"].as_str().expect("id"))})).await;
    assert_failure(&elsewhere, 404, 81044);
}
