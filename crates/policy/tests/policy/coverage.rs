//! Every operation of the Cloudflare spec each default rule decides, compared with the listing
//! checked in next to this file: a rule that stops covering an operation, or a write that newly
//! needs no approval, fails here until a person reviews it and updates the listing.

use std::collections::BTreeSet;
use std::path::PathBuf;

use codemode_policy::{Access, DEFAULT_RULES_TOML, Decision, Policy, RequestFacts, Rule};
use codemode_spec::Method;
use serde::Deserialize;

use crate::cloudflare;

/// The listing as checked in.
const LISTING: &str = include_str!("default-rule-coverage.txt");

/// What the listing calls writes no default rule decides.
const UNCOVERED: &str = "no-rule (allowed)";

#[derive(Deserialize)]
struct Defaults {
    rule: Vec<Rule>,
}

/// The listing for the current defaults and spec: a count per rule, then one line per
/// operation, `rule METHOD template operationId`, in rule order and spec order.
fn listing() -> String {
    let policy = Policy::new(Vec::new()).expect("defaults are valid");
    let operations = cloudflare::operations();
    let decided: Vec<(String, String)> = operations
        .iter()
        .filter_map(|op| {
            let path = cloudflare::concrete(&op.path);
            let rule =
                match policy.decide(&RequestFacts::for_operation(op, &path), Access::READ_WRITE) {
                    Decision::Approve { rule } | Decision::Deny { rule } => rule,
                    Decision::Allow { rule: Some(rule) } => rule,
                    Decision::Allow { rule: None } if op.method == Method::Get => return None,
                    Decision::Allow { rule: None } => UNCOVERED.to_string(),
                    Decision::Refused(missing) => panic!("{} {}: {missing}", op.method, op.path),
                };
            let id = op.operation_id.as_deref().unwrap_or("-");
            Some((
                rule.clone(),
                format!("{rule} {} {} {id}", op.method, op.path),
            ))
        })
        .collect();
    let defaults: Defaults = toml::from_str(DEFAULT_RULES_TOML).expect("defaults parse");
    let mut sections: Vec<String> = defaults.rule.into_iter().map(|r| r.name).collect();
    sections.push(UNCOVERED.to_string());
    let mut text = String::from(
        "# Every operation of ../shared/specs/cloudflare-openapi-2024-08.json the default rules\n\
         # decide, by the rule that decides it (the first that matches), then every write they\n\
         # leave to the principal's scopes alone. Compared with the spec by coverage.rs.\n",
    );
    for section in &sections {
        let count = decided.iter().filter(|(rule, _)| rule == section).count();
        text.push_str(&format!("# {section}: {count}\n"));
    }
    for section in &sections {
        for (_, line) in decided.iter().filter(|(rule, _)| rule == section) {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

#[test]
fn every_operation_each_default_rule_decides_is_listed() {
    let actual = listing();
    if actual == LISTING {
        return;
    }
    let written = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("default-rule-coverage.txt");
    std::fs::write(&written, &actual).expect("write the new listing");
    let old: BTreeSet<&str> = LISTING.lines().collect();
    let new: BTreeSet<&str> = actual.lines().collect();
    let gone: Vec<&str> = old.difference(&new).copied().collect();
    let added: Vec<&str> = new.difference(&old).copied().collect();
    panic!(
        "the operations the default rules decide changed.\nno longer so:\n  {}\nnewly so:\n  {}\n\
         Review each line (a gated capability must stay gated on every route), then copy {} \
         to crates/policy/tests/policy/default-rule-coverage.txt",
        gone.join("\n  "),
        added.join("\n  "),
        written.display()
    );
}

#[test]
fn every_gated_capability_is_listed_under_a_rule() {
    for line in [
        "worker-script-upload-or-delete PUT /zones/{zone_id}/workers/script worker-script-(-deprecated)-upload-worker",
        "worker-script-upload-or-delete PUT /accounts/{account_id}/workers/scripts/{script_name} worker-script-upload-worker-module",
        "dns-record-writes POST /zones/{zone_id}/dns_records dns-records-for-a-zone-create-dns-record",
        "cache-purge POST /zones/{zone_id}/purge_cache zone-purge",
        "r2-bucket-delete DELETE /accounts/{account_id}/r2/buckets/{bucket_name} r2-delete-bucket",
        "d1-database-delete DELETE /accounts/{account_id}/d1/database/{database_id} cloudflare-d1-delete-database",
    ] {
        assert!(LISTING.lines().any(|l| l == line), "{line}");
    }
    assert!(
        !LISTING
            .lines()
            .any(|l| l.starts_with(&format!("{UNCOVERED} DELETE "))),
        "every DELETE needs approval"
    );
}
