//! Workers KV: namespaces, keys, and values as text or multipart.

use codemode_demo::DEMO_ACCOUNT_ID;
use serde_json::json;

use crate::{assert_failure, demo, send};

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
