//! Integration tests of the demo API, served through a real gateway and checked against its own
//! spec. One module per resource of the demo (accounts, zones, dns, kv), plus `spec` (the YAML
//! document and its coverage) and `gateway` (the demo behind a gateway). A test of a new resource
//! gets its own module here; shared helpers go in this file.

mod accounts;
mod dns;
mod gateway;
mod kv;
mod spec;
mod zones;

use std::sync::Arc;

use codemode_demo::DemoUpstream;
use codemode_upstream::{Call, Gateway, GatewayConfig};
use serde_json::{Value, json};

use crate::spec::demo_operations;

/// A gateway over a fresh demo, enforcing the demo spec.
fn demo() -> Gateway {
    let config = GatewayConfig {
        max_subrequests: 200,
        ..GatewayConfig::default()
    };
    Gateway::new(Arc::new(DemoUpstream::new()), &demo_operations(), config).expect("valid config")
}

/// Sends `options` and returns the envelope, failing the test if the gateway refuses.
async fn send(call: &Call, options: Value) -> Value {
    call.request(&options).await.expect("the demo answers")
}

/// Asserts a failed envelope with this status and error code.
fn assert_failure(envelope: &Value, status: u64, code: u64) {
    assert_eq!(envelope["success"], json!(false), "{envelope}");
    assert_eq!(envelope["status"], json!(status), "{envelope}");
    assert_eq!(envelope["errors"][0]["code"], json!(code), "{envelope}");
}

/// The id of the zone called `name`.
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
