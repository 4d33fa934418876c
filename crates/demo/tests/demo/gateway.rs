//! The demo behind a gateway: the spec check, fresh state per demo, calls shared across tasks.

use codemode_upstream::RequestError;
use serde_json::json;

use crate::{demo, send, zone_id};

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
