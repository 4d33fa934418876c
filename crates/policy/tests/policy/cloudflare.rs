//! The operations of the shared Cloudflare spec, the real API the default rules are written for.

use std::path::PathBuf;

use codemode_spec::{Method, Operation};

/// Every operation of the shared Cloudflare spec, in the spec's order; fails (not skips) when
/// the spec is missing.
pub fn operations() -> Vec<Operation> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/specs/cloudflare-openapi-2024-08.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the shared Cloudflare spec at {}: {e}", path.display()));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("spec is JSON");
    let paths = doc["paths"].as_object().expect("spec has paths");
    let mut operations = Vec::new();
    for (template, item) in paths {
        for method in Method::ALL {
            let Some(op) = item.get(method.openapi_key()) else {
                continue;
            };
            operations.push(Operation {
                method,
                path: template.clone(),
                operation_id: op["operationId"].as_str().map(str::to_string),
                tags: op["tags"]
                    .as_array()
                    .map(|tags| {
                        tags.iter()
                            .filter_map(|t| t.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    assert!(operations.len() > 1_000, "the spec has its operations");
    operations
}

/// The operation `method template` of the spec.
pub fn operation<'a>(operations: &'a [Operation], method: Method, template: &str) -> &'a Operation {
    operations
        .iter()
        .find(|op| op.method == method && op.path == template)
        .unwrap_or_else(|| panic!("{method} {template} is in the spec"))
}

/// A concrete path for `template`: every `{parameter}` replaced by `x1`.
pub fn concrete(template: &str) -> String {
    let mut path = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        path.push_str(&rest[..open]);
        path.push_str("x1");
        rest = &rest[open + close + 1..];
    }
    path.push_str(rest);
    path
}
