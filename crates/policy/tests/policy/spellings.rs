//! Rules meet the canonical request: every spelling the API decodes to the same resource is
//! decided as that resource.

use codemode_policy::{Access, Decision, Policy, RequestFacts, canonical_path};
use codemode_spec::{Method, Operation};

fn kv_write() -> Operation {
    Operation {
        method: Method::Put,
        path: "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}"
            .to_string(),
        operation_id: Some("workers-kv-namespace-write-key-value-pair-with-metadata".to_string()),
        tags: vec!["Workers KV Namespace".to_string()],
    }
}

fn prod_is_read_only() -> Policy {
    Policy::from_toml(
        r#"
        [[rule]]
        name = "prod-config-is-read-only"
        method = ["PUT", "DELETE"]
        path = "/accounts/*/storage/kv/namespaces/*/values/prod:*"
        action = "deny"
        "#,
    )
    .expect("valid rules")
}

const KEYS: &str = "/accounts/a1/storage/kv/namespaces/n1/values/";

#[test]
fn a_deny_on_a_reserved_character_refuses_its_encoded_spellings() {
    let policy = prod_is_read_only();
    let op = kv_write();
    let deny = Decision::Deny {
        rule: "prod-config-is-read-only".to_string(),
    };
    for key in [
        "prod:config",
        "prod%3Aconfig",
        "prod%3aconfig",
        "%70rod%3Aconfig",
    ] {
        let path = format!("{KEYS}{key}");
        assert_eq!(
            policy.decide(&RequestFacts::for_operation(&op, &path), Access::READ_WRITE),
            deny,
            "{path}"
        );
        assert_eq!(
            policy.decide(
                &RequestFacts::unmatched(Method::Put, &path),
                Access::READ_WRITE
            ),
            deny,
            "{path} outside the spec"
        );
    }
    for key in ["staging:config", "prod%253Aconfig", "prodconfig"] {
        let path = format!("{KEYS}{key}");
        assert_eq!(
            policy.decide(&RequestFacts::for_operation(&op, &path), Access::READ_WRITE),
            Decision::Allow { rule: None },
            "{path}"
        );
    }
}

#[test]
fn a_glob_written_encoded_means_the_same_as_written_plain() {
    let policy = Policy::from_toml(
        r#"
        [[rule]]
        name = "prod-encoded"
        path = "/accounts/*/storage/kv/namespaces/*/values/prod%3A*"
        action = "deny"
        "#,
    )
    .expect("valid rules");
    for key in ["prod:config", "prod%3Aconfig"] {
        let put = RequestFacts::unmatched(Method::Put, &format!("{KEYS}{key}"));
        assert!(
            matches!(
                policy.decide(&put, Access::READ_WRITE),
                Decision::Deny { .. }
            ),
            "{key}"
        );
    }
}

#[test]
fn dot_segments_and_encoded_letters_reach_the_rule_of_the_resource() {
    let policy = Policy::new(Vec::new()).expect("defaults are valid");
    let purge = Decision::Approve {
        rule: "cache-purge".to_string(),
    };
    for path in [
        "/zones/z1/purge_cache",
        "/zones/z1/purge%5Fcache",
        "/zones/z1/purge%5fcache",
        "/zones/z1/x/../purge_cache",
        "/zones/z1/x/%2e%2E/purge_cache",
        "/zones/z1/x/..;p/purge_cache",
        "/zones/z1/./purge_cache",
        "//zones//z1/purge_cache/",
        "/zones/z1%2Fpurge_cache",
        "/zones\\z1\\purge_cache",
    ] {
        assert_eq!(
            policy.decide(
                &RequestFacts::unmatched(Method::Post, path),
                Access::READ_WRITE
            ),
            purge,
            "{path}"
        );
    }
}

#[test]
fn the_facts_hold_the_canonical_path_and_the_template() {
    let op = kv_write();
    let facts = RequestFacts::for_operation(&op, &format!("{KEYS}caf%C3%A9%3Aau%20lait"));
    assert_eq!(facts.path(), format!("{KEYS}caf\u{e9}:au lait"));
    assert_eq!(facts.template(), Some(op.path.as_str()));
    assert_eq!(facts.method(), Method::Put);
    assert_eq!(
        canonical_path(facts.path()),
        facts.path(),
        "canonical is stable"
    );
}
