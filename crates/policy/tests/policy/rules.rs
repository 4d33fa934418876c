//! Operator rules, their precedence over the defaults, scopes and rule validation.

use codemode_policy::{Access, Action, Decision, Match, Policy, PolicyError, RequestFacts, Rule};
use codemode_spec::{Method, Operation};

fn dns_record_patch() -> Operation {
    Operation {
        method: Method::Patch,
        path: "/zones/{zone_id}/dns_records/{dns_record_id}".to_string(),
        operation_id: Some("dns-records-for-a-zone-patch-dns-record".to_string()),
        tags: vec!["DNS Records for a Zone".to_string()],
    }
}

fn decide(policy: &Policy, op: &Operation, path: &str) -> Decision {
    policy.decide(&RequestFacts::for_operation(op, path), Access::READ_WRITE)
}

#[test]
fn operator_rules_come_before_the_defaults() {
    let policy = Policy::from_toml(
        r#"
        [[rule]]
        name = "staging-dns-is-free"
        method = ["PATCH"]
        path = "/zones/staging-zone/dns_records/**"
        action = "allow"
        "#,
    )
    .expect("valid rules");
    let op = dns_record_patch();
    assert_eq!(
        decide(&policy, &op, "/zones/staging-zone/dns_records/r1"),
        Decision::Allow {
            rule: Some("staging-dns-is-free".to_string())
        }
    );
    assert_eq!(
        decide(&policy, &op, "/zones/production/dns_records/r1"),
        Decision::Approve {
            rule: "dns-record-writes".to_string()
        }
    );
}

#[test]
fn deny_names_the_rule_in_the_decision_and_its_message() {
    let policy = Policy::from_toml(
        r#"
        [[rule]]
        name = "no-dns-changes"
        tag = "DNS Records for a Zone"
        method = ["post", "PUT", "Patch", "DELETE"]
        action = "deny"
        "#,
    )
    .expect("valid rules");
    let decision = decide(&policy, &dns_record_patch(), "/zones/z/dns_records/r");
    assert_eq!(
        decision,
        Decision::Deny {
            rule: "no-dns-changes".to_string()
        }
    );
    assert_eq!(
        decision.to_string(),
        r#"denied by policy rule "no-dns-changes""#
    );
}

#[test]
fn operation_id_globs_and_tags_need_a_matched_operation() {
    let policy = Policy::from_toml(
        r#"
        [[rule]]
        name = "no-dns-patch"
        operation_id = "dns-records-*-patch-*"
        action = "deny"
        "#,
    )
    .expect("valid rules");
    let op = dns_record_patch();
    assert!(matches!(
        decide(&policy, &op, "/zones/z/dns_records/r"),
        Decision::Deny { .. }
    ));
    let unmatched = RequestFacts::unmatched(Method::Patch, "/zones/z/dns_records/r");
    assert_eq!(
        policy.decide(&unmatched, Access::READ_WRITE),
        Decision::Approve {
            rule: "dns-record-writes".to_string()
        }
    );
}

#[test]
fn conditions_combine_with_and() {
    let rule = Rule {
        name: "delete-in-zone-a".to_string(),
        method: Some(vec![Method::Delete]),
        path: Some(vec!["/zones/a/**".to_string()]),
        operation_id: None,
        tag: None,
        matching: Match::All,
        action: Action::Deny,
    };
    let policy = Policy::new(vec![rule]).expect("valid rule");
    let facts = |method, path| RequestFacts::unmatched(method, path);
    assert!(matches!(
        policy.decide(&facts(Method::Delete, "/zones/a/x"), Access::READ_WRITE),
        Decision::Deny { .. }
    ));
    assert!(matches!(
        policy.decide(&facts(Method::Delete, "/zones/b/x"), Access::READ_WRITE),
        Decision::Approve { .. }
    ));
    assert_eq!(
        policy.decide(&facts(Method::Get, "/zones/a/x"), Access::READ_WRITE),
        Decision::Allow { rule: None }
    );
}

#[test]
fn a_read_only_principal_is_refused_writes_before_any_rule() {
    let policy = Policy::from_toml(
        r#"
        [[rule]]
        name = "everything"
        action = "allow"
        "#,
    )
    .expect("valid rules");
    let post = RequestFacts::unmatched(Method::Post, "/zones/z/purge_cache");
    let decision = policy.decide(&post, Access::READ_ONLY);
    assert!(matches!(decision, Decision::Refused(_)));
    assert_eq!(
        decision.to_string(),
        "read-only principal: POST needs the execute:write scope"
    );
    let get = RequestFacts::unmatched(Method::Get, "/zones");
    assert_eq!(
        policy.decide(&get, Access::READ_ONLY),
        Decision::Allow {
            rule: Some("everything".to_string())
        }
    );
    let write_only = Access {
        read: false,
        write: true,
    };
    assert_eq!(
        policy.decide(&get, write_only).to_string(),
        "write-only principal: GET needs the execute:read scope"
    );
}

#[test]
fn invalid_rules_are_rejected_with_the_rule_named() {
    let bad_glob = Policy::from_toml(
        r#"
        [[rule]]
        name = "sloppy"
        path = "zones/**"
        action = "deny"
        "#,
    )
    .expect_err("relative glob");
    assert!(matches!(&bad_glob, PolicyError::PathGlob { rule, .. } if rule == "sloppy"));
    assert!(
        bad_glob.to_string().contains("starts with `/`"),
        "{bad_glob}"
    );

    let no_methods = Policy::from_toml("[[rule]]\nname = \"n\"\nmethod = []\naction = \"deny\"\n")
        .expect_err("empty method list");
    assert!(matches!(
        &no_methods,
        PolicyError::EmptyList { rule, condition: "method" } if rule == "n"
    ));
    assert!(
        no_methods.to_string().contains("leave it out"),
        "{no_methods}"
    );
    let no_tags = Policy::from_toml("[[rule]]\nname = \"t\"\ntag = []\naction = \"deny\"\n")
        .expect_err("empty tag list");
    assert!(matches!(
        no_tags,
        PolicyError::EmptyList {
            condition: "tag",
            ..
        }
    ));
    let bad_in_list =
        Policy::from_toml("[[rule]]\nname = \"l\"\npath = [\"/ok\", \"bad\"]\naction = \"deny\"\n")
            .expect_err("relative glob in a list");
    assert!(matches!(bad_in_list, PolicyError::PathGlob { glob, .. } if glob == "bad"));

    let duplicate = Policy::from_toml("[[rule]]\nname = \"delete\"\naction = \"allow\"\n")
        .expect_err("clashes with a default");
    assert!(matches!(duplicate, PolicyError::DuplicateName(name) if name == "delete"));

    let unnamed = Policy::from_toml("[[rule]]\nname = \" \"\naction = \"allow\"\n");
    assert!(matches!(unnamed, Err(PolicyError::EmptyName)));

    for text in [
        "[[rule]]\nname = \"m\"\nmethod = [\"HEAD\"]\naction = \"deny\"\n",
        "[[rule]]\nname = \"a\"\naction = \"block\"\n",
        "[[rule]]\nname = \"t\"\npaths = \"/x\"\naction = \"deny\"\n",
        "[[rule]]\nname = \"x\"\n",
        "[[rule]]\nname = \"m\"\nmatch = \"some\"\naction = \"deny\"\n",
        "[[rule]]\nname = \"n\"\ntag = 3\naction = \"deny\"\n",
    ] {
        assert!(
            matches!(Policy::from_toml(text), Err(PolicyError::Toml(_))),
            "{text}"
        );
    }
}

#[test]
fn an_empty_document_is_just_the_defaults() {
    let policy = Policy::from_toml("").expect("no rules");
    let purge = RequestFacts::unmatched(Method::Post, "/zones/z/purge_cache");
    assert_eq!(
        policy.decide(&purge, Access::READ_WRITE),
        Decision::Approve {
            rule: "cache-purge".to_string()
        }
    );
}

#[test]
fn a_selector_list_holds_when_any_entry_matches() {
    let policy = Policy::from_toml(
        r#"
        [[rule]]
        name = "no-record-or-zone-edits"
        tag = ["Zone", "DNS Records for a Zone"]
        operation_id = ["*-patch-*", "zones-0-patch"]
        action = "deny"
        "#,
    )
    .expect("valid rules");
    assert!(matches!(
        decide(&policy, &dns_record_patch(), "/zones/z/dns_records/r"),
        Decision::Deny { .. }
    ));
    let zone_patch = Operation {
        method: Method::Patch,
        path: "/zones/{zone_id}".to_string(),
        operation_id: Some("zones-0-patch".to_string()),
        tags: vec!["Zone".to_string()],
    };
    assert!(matches!(
        decide(&policy, &zone_patch, "/zones/z"),
        Decision::Deny { .. }
    ));
    let settings = Operation {
        method: Method::Patch,
        path: "/zones/{zone_id}/settings".to_string(),
        operation_id: Some("zone-settings-edit-zone-settings-info".to_string()),
        tags: vec!["Zone Settings".to_string()],
    };
    assert_eq!(
        decide(&policy, &settings, "/zones/z/settings"),
        Decision::Allow { rule: None }
    );
}

#[test]
fn match_all_needs_every_selector_and_match_any_one() {
    let rules = |matching: &str| {
        Policy::from_toml(&format!(
            r#"
            [[rule]]
            name = "dns-in-staging"
            method = ["PATCH"]
            match = "{matching}"
            tag = "DNS Records for a Zone"
            path = "/zones/staging/**"
            action = "deny"
            "#
        ))
        .expect("valid rules")
    };
    let op = dns_record_patch();
    let all = rules("all");
    assert!(matches!(
        decide(&all, &op, "/zones/staging/dns_records/r"),
        Decision::Deny { .. }
    ));
    assert!(matches!(
        decide(&all, &op, "/zones/production/dns_records/r"),
        Decision::Approve { .. }
    ));
    let any = rules("any");
    assert!(matches!(
        decide(&any, &op, "/zones/production/dns_records/r"),
        Decision::Deny { .. }
    ));
    let outside_the_spec = RequestFacts::unmatched(Method::Patch, "/zones/staging/settings");
    assert!(matches!(
        any.decide(&outside_the_spec, Access::READ_WRITE),
        Decision::Deny { .. }
    ));
    assert_eq!(
        all.decide(&outside_the_spec, Access::READ_WRITE),
        Decision::Allow { rule: None }
    );
    let get = RequestFacts::unmatched(Method::Get, "/zones/staging/settings");
    assert_eq!(
        any.decide(&get, Access::READ_WRITE),
        Decision::Allow { rule: None },
        "the method holds whatever `match` says"
    );
}
