//! The default rules on real Cloudflare operations.

use codemode_policy::{Access, Decision, Policy, RequestFacts};
use codemode_spec::{Method, Operation};

use crate::cloudflare;

/// The default decision for `method template`, requested with the template as the path.
fn decide(operations: &[Operation], method: Method, template: &str) -> Decision {
    let op = cloudflare::operation(operations, method, template);
    Policy::new(Vec::new()).expect("defaults are valid").decide(
        &RequestFacts::for_operation(op, &op.path),
        Access::READ_WRITE,
    )
}

fn approve(rule: &str) -> Decision {
    Decision::Approve {
        rule: rule.to_string(),
    }
}

const ALLOW: Decision = Decision::Allow { rule: None };

#[test]
fn every_delete_in_the_spec_needs_approval_and_every_get_is_allowed() {
    let policy = Policy::new(Vec::new()).expect("defaults are valid");
    for op in cloudflare::operations() {
        let decision = policy.decide(
            &RequestFacts::for_operation(&op, &op.path),
            Access::READ_WRITE,
        );
        match op.method {
            Method::Delete => assert!(
                matches!(decision, Decision::Approve { .. }),
                "DELETE {}: {decision}",
                op.path
            ),
            Method::Get => assert_eq!(decision, ALLOW, "GET {}", op.path),
            _ => assert!(
                !matches!(decision, Decision::Deny { .. } | Decision::Refused(_)),
                "{} {}: {decision}",
                op.method,
                op.path
            ),
        }
    }
}

#[test]
fn named_rules_cover_the_dangerous_writes() {
    let ops = cloudflare::operations();
    let cases = [
        (
            Method::Delete,
            "/accounts/{account_id}/access/apps/{app_id}",
            "delete",
        ),
        (Method::Post, "/zones/{zone_id}/purge_cache", "cache-purge"),
        (
            Method::Post,
            "/zones/{zone_id}/dns_records",
            "dns-record-writes",
        ),
        (
            Method::Post,
            "/zones/{zone_id}/dns_records/import",
            "dns-record-writes",
        ),
        (
            Method::Put,
            "/zones/{zone_id}/dns_records/{dns_record_id}",
            "dns-record-writes",
        ),
        (
            Method::Patch,
            "/zones/{zone_id}/dns_records/{dns_record_id}",
            "dns-record-writes",
        ),
        (
            Method::Delete,
            "/zones/{zone_id}/dns_records/{dns_record_id}",
            "dns-record-writes",
        ),
        (
            Method::Put,
            "/accounts/{account_id}/workers/scripts/{script_name}",
            "worker-script-upload-or-delete",
        ),
        (
            Method::Delete,
            "/accounts/{account_id}/workers/scripts/{script_name}",
            "worker-script-upload-or-delete",
        ),
        (
            Method::Put,
            "/accounts/{account_id}/workers/scripts/{script_name}/content",
            "worker-script-upload-or-delete",
        ),
        (
            Method::Post,
            "/accounts/{account_id}/workers/scripts/{script_name}/versions",
            "worker-version-upload",
        ),
        (
            Method::Post,
            "/accounts/{account_id}/workers/scripts/{script_name}/deployments",
            "worker-deployment",
        ),
        (
            Method::Put,
            "/accounts/{account_id}/workers/services/{service_name}/environments/{environment_name}/content",
            "worker-script-upload-or-delete",
        ),
        (
            Method::Put,
            "/accounts/{account_id}/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}",
            "worker-script-upload-or-delete",
        ),
        (
            Method::Put,
            "/accounts/{account_id}/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}/content",
            "worker-script-upload-or-delete",
        ),
        (
            Method::Delete,
            "/accounts/{account_id}/r2/buckets/{bucket_name}",
            "r2-bucket-delete",
        ),
        (
            Method::Delete,
            "/accounts/{account_id}/d1/database/{database_id}",
            "d1-database-delete",
        ),
        (
            Method::Delete,
            "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}",
            "kv-namespace-delete",
        ),
        (
            Method::Delete,
            "/accounts/{account_id}/queues/{queue_id}",
            "queue-delete",
        ),
        (
            Method::Delete,
            "/accounts/{account_id}/vectorize/v2/indexes/{index_name}",
            "vectorize-index-delete",
        ),
        (Method::Delete, "/zones/{zone_id}", "zone-delete"),
        (
            Method::Put,
            "/zones/{zone_id}/workers/script",
            "worker-script-upload-or-delete",
        ),
        (
            Method::Delete,
            "/zones/{zone_id}/workers/script",
            "worker-script-upload-or-delete",
        ),
        (
            Method::Delete,
            "/accounts/{account_id}/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}",
            "worker-script-upload-or-delete",
        ),
        (
            Method::Post,
            "/accounts/{account_id}/pages/projects/{project_name}/purge_build_cache",
            "cache-purge",
        ),
        (
            Method::Post,
            "/zones/{zone_id}/cache/cache_reserve_clear",
            "cache-purge",
        ),
        (
            Method::Delete,
            "/accounts/{account_id}/vectorize/indexes/{index_name}",
            "vectorize-index-delete",
        ),
    ];
    for (method, template, rule) in cases {
        assert_eq!(
            decide(&ops, method, template),
            approve(rule),
            "{method} {template}"
        );
    }
}

#[test]
fn other_writes_and_reads_are_allowed() {
    let ops = cloudflare::operations();
    let cases = [
        (Method::Get, "/zones/{zone_id}/dns_records"),
        (
            Method::Get,
            "/accounts/{account_id}/workers/scripts/{script_name}",
        ),
        (
            Method::Post,
            "/accounts/{account_id}/workers/scripts/{script_name}/tails",
        ),
        (
            Method::Patch,
            "/accounts/{account_id}/workers/scripts/{script_name}/settings",
        ),
        (
            Method::Put,
            "/accounts/{account_id}/workers/scripts/{script_name}/schedules",
        ),
        (Method::Post, "/accounts/{account_id}/r2/buckets"),
        (
            Method::Post,
            "/accounts/{account_id}/d1/database/{database_id}/query",
        ),
        (Method::Patch, "/zones/{zone_id}"),
    ];
    for (method, template) in cases {
        assert_eq!(decide(&ops, method, template), ALLOW, "{method} {template}");
    }
}

#[test]
fn an_operation_is_caught_by_its_operation_id_on_any_route() {
    let policy = Policy::new(Vec::new()).expect("defaults are valid");
    let moved = Operation {
        method: Method::Put,
        path: "/zones/{zone_id}/workers/v3/script".to_string(),
        operation_id: Some("worker-script-(-deprecated)-upload-worker".to_string()),
        tags: vec!["Worker Script (Deprecated)".to_string()],
    };
    assert_eq!(
        policy.decide(
            &RequestFacts::for_operation(&moved, "/zones/z1/workers/v3/script"),
            Access::READ_WRITE
        ),
        approve("worker-script-upload-or-delete")
    );
    let retagged = Operation {
        method: Method::Post,
        path: "/zones/{zone_id}/dns/records".to_string(),
        operation_id: Some("dns-record-create".to_string()),
        tags: vec!["DNS Records for a Zone".to_string()],
    };
    assert_eq!(
        policy.decide(
            &RequestFacts::for_operation(&retagged, "/zones/z1/dns/records"),
            Access::READ_WRITE
        ),
        approve("dns-record-writes")
    );
}

#[test]
fn concrete_paths_match_the_defaults_without_a_template() {
    let policy = Policy::new(Vec::new()).expect("defaults are valid");
    let decide =
        |method, path| policy.decide(&RequestFacts::unmatched(method, path), Access::READ_WRITE);
    assert_eq!(
        decide(
            Method::Post,
            "/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache"
        ),
        approve("cache-purge")
    );
    assert_eq!(
        decide(Method::Post, "/zones/z1/dns_records/batch"),
        approve("dns-record-writes")
    );
    assert_eq!(
        decide(Method::Delete, "/anything/at/all"),
        approve("delete")
    );
    assert_eq!(
        decide(Method::Put, "/zones/z1/workers/script"),
        approve("worker-script-upload-or-delete")
    );
    assert_eq!(decide(Method::Post, "/zones/z1/dns_records_other"), ALLOW);
}
