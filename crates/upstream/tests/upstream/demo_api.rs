//! The demo API end to end through the gateway, checked against its own spec.

use std::sync::Arc;

use codemode_upstream::{
    AccountResolver, Call, DEMO_ACCOUNT_ID, DemoUpstream, Gateway, GatewayConfig, RequestError,
};
use serde_json::{Value, json};

use crate::demo_spec::demo_operations;

fn demo() -> Gateway {
    let config = GatewayConfig {
        max_subrequests: 200,
        ..GatewayConfig::default()
    };
    Gateway::new(Arc::new(DemoUpstream::new()), &demo_operations(), config)
}

async fn send(call: &Call, options: Value) -> Value {
    call.request(&options).await.expect("the demo answers")
}

/// Asserts a failed envelope with this status and error code.
fn assert_failure(envelope: &Value, status: u64, code: u64) {
    assert_eq!(envelope["success"], json!(false), "{envelope}");
    assert_eq!(envelope["status"], json!(status), "{envelope}");
    assert_eq!(envelope["errors"][0]["code"], json!(code), "{envelope}");
}

async fn zone_id(call: &Call, name: &str) -> String {
    let zones = send(
        call,
        json!({"method": "GET", "path": "/zones", "query": {"name": name}}),
    )
    .await;
    zones["result"][0]["id"]
        .as_str()
        .expect("zone id")
        .to_string()
}

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
    assert_eq!(
        AccountResolver::new()
            .resolve(None, None, &gateway.call(None))
            .await,
        Ok(DEMO_ACCOUNT_ID.to_string())
    );
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

#[tokio::test]
async fn workers_kv_values_round_trip() {
    let gateway = demo();
    let call = gateway.call(None);
    let namespaces_path = format!("/accounts/{DEMO_ACCOUNT_ID}/storage/kv/namespaces");
    let namespaces = send(&call, json!({"method": "GET", "path": namespaces_path})).await;
    assert_eq!(namespaces["result"][0]["title"], json!("demo-config"));
    let namespace = namespaces["result"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let values = format!("{namespaces_path}/{namespace}/values");

    let greeting = send(
        &call,
        json!({"method": "GET", "path": format!("{values}/greeting")}),
    )
    .await;
    assert_eq!(
        greeting,
        json!({"success": true, "status": 200, "result": "hello from the demo"})
    );

    let key = format!("{values}/caf%C3%A9%20menu");
    let put = send(&call, json!({"method": "PUT", "path": key, "body": "espresso", "rawBody": true, "contentType": "text/plain"})).await;
    assert_eq!(put["success"], json!(true));
    let read = send(&call, json!({"method": "GET", "path": key})).await;
    assert_eq!(read["result"], json!("espresso"));

    let multipart = "--b\r\nContent-Disposition: form-data; name=\"value\"\r\n\r\nv2\r\n--b\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{\"owner\":\"ops\"}\r\n--b--\r\n";
    send(&call, json!({"method": "PUT", "path": format!("{values}/flag"), "body": multipart, "rawBody": true,
        "contentType": "multipart/form-data; boundary=b"})).await;
    let flag = send(
        &call,
        json!({"method": "GET", "path": format!("{values}/flag")}),
    )
    .await;
    assert_eq!(flag["result"], json!("v2"));
    let keys = send(&call, json!({"method": "GET", "path": format!("{namespaces_path}/{namespace}/keys"), "query": {"prefix": "f"}})).await;
    assert_eq!(
        keys["result"],
        json!([{"name": "flag", "metadata": {"owner": "ops"}}])
    );

    send(&call, json!({"method": "DELETE", "path": key})).await;
    let gone = send(&call, json!({"method": "GET", "path": key})).await;
    assert_failure(&gone, 404, 10009);

    let created = send(
        &call,
        json!({"method": "POST", "path": namespaces_path, "body": {"title": "sessions"}}),
    )
    .await;
    assert_eq!(created["result"]["title"], json!("sessions"));
    let again = send(
        &call,
        json!({"method": "POST", "path": namespaces_path, "body": {"title": "sessions"}}),
    )
    .await;
    assert_failure(&again, 400, 10014);
    let missing_ns = send(
        &call,
        json!({"method": "GET", "path": format!("{namespaces_path}/ffff/values/x")}),
    )
    .await;
    assert_failure(&missing_ns, 404, 10013);
}

#[tokio::test]
async fn the_spec_check_applies_to_the_demo() {
    let gateway = demo();
    let error = gateway
        .call(None)
        .request(&json!({"method": "DELETE", "path": "/zones"}))
        .await
        .expect_err("not in the spec");
    assert!(matches!(error, RequestError::NotInSpec { .. }));
    assert!(
        error.to_string().contains("(this path accepts GET, POST)"),
        "{error}"
    );
}

#[tokio::test]
async fn each_demo_starts_from_the_seed() {
    let first = demo();
    let call = first.call(None);
    let zone = zone_id(&call, "example.org").await;
    send(
        &call,
        json!({"method": "DELETE", "path": format!("/zones/{zone}")}),
    )
    .await;
    let fresh = demo();
    assert_eq!(zone_id(&fresh.call(None), "example.org").await, zone);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_shared_across_spawned_tasks() {
    let call = demo().call(None);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let options = json!({"method": "GET", "path": "/zones"});
                call.request(&options).await
            })
        })
        .collect();
    for task in tasks {
        let envelope = task
            .await
            .expect("task finished")
            .expect("the demo answers");
        assert_eq!(envelope["result_info"]["total_count"], json!(2));
    }
    assert_eq!(call.records().len(), 10);
}
