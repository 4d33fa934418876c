//! `demo.yaml` is well formed, and the demo upstream serves exactly its operations.

use std::collections::HashSet;
use std::sync::Arc;

use codemode_demo::{DEMO_ACCOUNT_ID, DEMO_SPEC_YAML, DemoUpstream};
use codemode_spec::{Method, Operation};
use codemode_upstream::{Gateway, GatewayConfig};
use serde_json::json;
use serde_yaml::Value as Yaml;

fn document() -> Yaml {
    serde_yaml::from_str(DEMO_SPEC_YAML).expect("demo spec is YAML")
}

/// The operations of the demo spec, as the spec crate would list them.
pub fn demo_operations() -> Vec<Operation> {
    let document = document();
    let paths = document["paths"].as_mapping().expect("paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in Method::ALL {
            if let Some(operation) = item.get(method.openapi_key()) {
                operations.push(Operation {
                    method,
                    path: path.as_str().expect("path").to_string(),
                    operation_id: operation["operationId"].as_str().map(str::to_string),
                    tags: operation["tags"]
                        .as_sequence()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect(),
                });
            }
        }
    }
    operations
}

fn collect_refs(node: &Yaml, refs: &mut Vec<String>) {
    match node {
        Yaml::Mapping(map) => {
            for (key, value) in map {
                if key.as_str() == Some("$ref") {
                    refs.push(value.as_str().expect("$ref is a string").to_string());
                }
                collect_refs(value, refs);
            }
        }
        Yaml::Sequence(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

#[test]
fn the_spec_is_complete_and_every_ref_resolves() {
    let document = document();
    assert_eq!(document["openapi"].as_str(), Some("3.1.0"));
    let operations = demo_operations();
    assert_eq!(operations.len(), 20);
    let ids: HashSet<&str> = operations
        .iter()
        .filter_map(|o| o.operation_id.as_deref())
        .collect();
    assert_eq!(
        ids.len(),
        operations.len(),
        "every operation has a unique operationId"
    );
    let declared: HashSet<&str> = document["tags"]
        .as_sequence()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for operation in &operations {
        assert!(
            !operation.tags.is_empty(),
            "{} {} has tags",
            operation.method,
            operation.path
        );
        assert!(operation.tags.iter().all(|t| declared.contains(t.as_str())));
        let item = &document["paths"][operation.path.as_str()][operation.method.openapi_key()];
        assert!(
            item["summary"].as_str().is_some(),
            "{} {} has a summary",
            operation.method,
            operation.path
        );
    }
    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(
        refs.len() > 50,
        "the spec reuses components ({} refs)",
        refs.len()
    );
    for reference in refs {
        let pointer = reference.strip_prefix("#/").expect("local ref");
        let target = pointer
            .split('/')
            .try_fold(&document, |node, key| node.get(key))
            .unwrap_or_else(|| panic!("{reference} resolves"));
        assert!(target.is_mapping(), "{reference} is an object");
    }
}

#[tokio::test]
async fn the_demo_serves_every_operation_of_its_spec() {
    let operations = demo_operations();
    let gateway: Gateway = Gateway::new(
        Arc::new(DemoUpstream::new()),
        &operations,
        GatewayConfig {
            max_subrequests: 100,
            ..GatewayConfig::default()
        },
    )
    .expect("valid config");
    let call = gateway.call(None);
    for operation in &operations {
        let path = operation
            .path
            .replace("{account_id}", DEMO_ACCOUNT_ID)
            .replace("{zone_id}", "0000")
            .replace("{dns_record_id}", "0000")
            .replace("{namespace_id}", "0000")
            .replace("{key_name}", "k");
        let body = json!({"method": operation.method.as_str(), "path": path, "body": {}});
        let envelope = call.request(&body).await.expect("a response");
        let code = envelope["errors"][0]["code"].as_u64();
        assert!(
            !matches!(code, Some(7000 | 7001)),
            "{} {} is not routed by the demo: {envelope}",
            operation.method,
            operation.path
        );
    }
}
