//! The path guard and the policy agree on every spelling of a path the URL standard allows:
//! either the guard refuses the spelling, or the policy decides it exactly as the canonical path
//! it spells, through the same spec operation.

use codemode_policy::{Access, Decision, Policy, RequestFacts, canonical_path};
use codemode_spec::{Method, Operation};
use codemode_upstream::{GuardedPath, RouteTable};
use proptest::collection::vec;
use proptest::prelude::*;

/// Canonical paths the rules below decide, each with the method it is requested with.
const TARGETS: &[(Method, &str)] = &[
    (Method::Post, "/zones/z1/purge_cache"),
    (Method::Patch, "/zones/z1/dns_records/r-1"),
    (Method::Put, "/zones/z1/workers/script"),
    (Method::Delete, "/accounts/a1/r2/buckets/b.1"),
    (
        Method::Put,
        "/accounts/a1/storage/kv/namespaces/n1/values/prod:config",
    ),
    (
        Method::Put,
        "/accounts/a1/storage/kv/namespaces/n1/values/prod:caf\u{e9} 1;2%",
    ),
    (
        Method::Put,
        "/accounts/a1/storage/kv/namespaces/n1/values/a=b&c,d+e!$'()*@~_",
    ),
    (Method::Post, "/accounts/a1/ai/run/@cf/meta/llama-3"),
    (Method::Get, "/zones/z1/dns_records"),
];

fn op(method: Method, path: &str, id: &str) -> Operation {
    Operation {
        method,
        path: path.to_string(),
        operation_id: Some(id.to_string()),
        tags: Vec::new(),
    }
}

fn routes() -> RouteTable {
    RouteTable::new(&[
        op(Method::Post, "/zones/{zone_id}/purge_cache", "zone-purge"),
        op(
            Method::Patch,
            "/zones/{zone_id}/dns_records/{dns_record_id}",
            "dns-records-for-a-zone-patch-dns-record",
        ),
        op(
            Method::Get,
            "/zones/{zone_id}/dns_records",
            "dns-records-for-a-zone-list-dns-records",
        ),
        op(
            Method::Put,
            "/zones/{zone_id}/workers/script",
            "worker-script-(-deprecated)-upload-worker",
        ),
        op(
            Method::Delete,
            "/accounts/{account_id}/r2/buckets/{bucket_name}",
            "r2-delete-bucket",
        ),
        op(
            Method::Put,
            "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}",
            "workers-kv-namespace-write-key-value-pair-with-metadata",
        ),
        op(
            Method::Post,
            "/accounts/{account_id}/ai/run/@cf/meta/llama-3",
            "workers-ai-post-run-cf-meta-llama-3",
        ),
    ])
}

/// The defaults, with operator rules by path on a reserved character and by operation.
fn policy() -> Policy {
    Policy::from_toml(
        r#"
        [[rule]]
        name = "prod-keys-are-read-only"
        method = ["PUT"]
        path = "/accounts/*/storage/kv/namespaces/*/values/prod:*"
        action = "deny"

        [[rule]]
        name = "no-llama"
        operation_id = "workers-ai-post-run-*"
        action = "deny"
        "#,
    )
    .expect("valid rules")
}

/// The decision on a guarded path as the server makes it: the spec route of its decoded
/// segments, the facts of the path as sent.
fn decide_sent(
    policy: &Policy,
    routes: &RouteTable,
    method: Method,
    path: &GuardedPath,
) -> Decision {
    let segments: Vec<&str> = path.segments().collect();
    let facts = match routes.find(method, &segments) {
        Some(operation) => RequestFacts::for_operation(operation, path.as_str()),
        None => RequestFacts::unmatched(method, path.as_str()),
    };
    policy.decide(&facts, Access::READ_WRITE)
}

/// The decision on the canonical path itself, read as it is.
fn decide_canonical(
    policy: &Policy,
    routes: &RouteTable,
    method: Method,
    canonical: &str,
) -> Decision {
    let segments: Vec<&str> = canonical[1..].split('/').collect();
    let facts = match routes.find(method, &segments) {
        Some(operation) => RequestFacts::for_operation(operation, canonical),
        None => RequestFacts::unmatched(method, canonical),
    };
    policy.decide(&facts, Access::READ_WRITE)
}

/// Whether a character may be sent as it is (RFC 3986 unreserved).
fn unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// One spelling of `c`, picked by `choice`: as it is, or its UTF-8 bytes percent-encoded with
/// upper- or lower-case hex. Unreserved characters are mostly left as they are, others mostly
/// encoded, so most spellings are ones the guard lets through.
fn spell_char(c: char, choice: u8) -> String {
    let plain_odds = if unreserved(c) { 250 } else { 20 };
    if choice < plain_odds {
        return c.to_string();
    }
    let mut utf8 = [0; 4];
    c.encode_utf8(&mut utf8)
        .bytes()
        .map(|b| match choice % 2 {
            0 => format!("%{b:02X}"),
            _ => format!("%{b:02x}"),
        })
        .collect()
}

/// The spellings that change more than one character: dot segments, `;` parameters, empty
/// segments, a trailing `/`, a backslash, an encoded slash, a double encoding.
fn mutate(segments: &mut Vec<String>, at: usize, kind: usize) {
    let at = at % segments.len();
    let insert = |segments: &mut Vec<String>, items: &[&str]| {
        for item in items.iter().rev() {
            segments.insert(at, item.to_string());
        }
    };
    match kind {
        0 => insert(segments, &["."]),
        1 => insert(segments, &["%2e"]),
        2 => insert(segments, &["x", ".."]),
        3 => insert(segments, &["x", "%2E%2e"]),
        4 => insert(segments, &["x", "..;p"]),
        5 => insert(segments, &["x", ".%2E%3Bp"]),
        6 => segments[at].push_str(";p"),
        7 => insert(segments, &[""]),
        8 => segments.push(String::new()),
        9 => segments[at] = format!("x\\..\\{}", segments[at]),
        10 => segments[at] = format!("x%2F..%2F{}", segments[at]),
        _ => segments[at] = format!("%25{:02X}{}", b'x', segments[at]),
    }
}

/// A spelling of `canonical`: each character spelled by the next choice, then maybe a mutation.
fn spell(canonical: &str, choices: &[u8], mutation: Option<(usize, usize)>) -> String {
    let mut next = choices.iter().copied().cycle();
    let mut segments: Vec<String> = canonical[1..]
        .split('/')
        .map(|segment| {
            segment
                .chars()
                .map(|c| spell_char(c, next.next().unwrap_or(0)))
                .collect()
        })
        .collect();
    if let Some((at, kind)) = mutation {
        mutate(&mut segments, at, kind);
    }
    format!("/{}", segments.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_guard_refuses_a_spelling_or_the_policy_decides_it_as_its_canonical_path(
        target in 0..TARGETS.len(),
        choices in vec(any::<u8>(), 1..80),
        mutation in proptest::option::of((any::<usize>(), 0..12usize)),
    ) {
        let (method, canonical) = TARGETS[target];
        let spelling = spell(canonical, &choices, mutation);
        if let Ok(path) = GuardedPath::parse(&spelling) {
            let (policy, routes) = (policy(), routes());
            prop_assert_eq!(canonical_path(path.as_str()), canonical, "{}", spelling);
            prop_assert_eq!(
                decide_sent(&policy, &routes, method, &path),
                decide_canonical(&policy, &routes, method, canonical),
                "{} {}", method, spelling
            );
        }
    }
}

#[test]
fn canonical_paths_meet_the_rules_they_are_written_for() {
    let (policy, routes) = (policy(), routes());
    let expected = [
        "needs approval under policy rule \"cache-purge\"",
        "needs approval under policy rule \"dns-record-writes\"",
        "needs approval under policy rule \"worker-script-upload-or-delete\"",
        "needs approval under policy rule \"r2-bucket-delete\"",
        "denied by policy rule \"prod-keys-are-read-only\"",
        "denied by policy rule \"prod-keys-are-read-only\"",
        "allowed",
        "denied by policy rule \"no-llama\"",
        "allowed",
    ];
    for (&(method, canonical), expected) in TARGETS.iter().zip(expected) {
        let decision = decide_canonical(&policy, &routes, method, canonical);
        assert_eq!(decision.to_string(), expected, "{method} {canonical}");
    }
}

#[test]
fn encoded_reserved_characters_pass_the_guard_and_meet_the_same_rule() {
    let (policy, routes) = (policy(), routes());
    for (method, spelling, canonical) in [
        (
            Method::Put,
            "/accounts/a1/storage/kv/namespaces/n1/values/prod%3Aconfig",
            TARGETS[4].1,
        ),
        (
            Method::Put,
            "/accounts/a1/storage/kv/namespaces/n1/values/prod%3aconfig",
            TARGETS[4].1,
        ),
        (
            Method::Post,
            "/accounts/a1/ai/run/%40cf/meta/llama-3",
            TARGETS[7].1,
        ),
        (
            Method::Put,
            "/accounts/a1/storage/kv/namespaces/n1/values/prod%3Acaf%C3%A9%201%3B2%25",
            TARGETS[5].1,
        ),
    ] {
        let path = GuardedPath::parse(spelling).expect("the guard lets it through");
        let decision = decide_sent(&policy, &routes, method, &path);
        assert!(
            matches!(decision, Decision::Deny { .. }),
            "{spelling}: {decision}"
        );
        assert_eq!(
            decision,
            decide_canonical(&policy, &routes, method, canonical)
        );
    }
}
