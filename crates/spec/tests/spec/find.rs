//! `Spec::find` on real specs: tasks phrased the way agents phrase them, each with the
//! operations that do it, scored by recall@5 against a plain BM25 baseline over the same text.

use std::collections::HashMap;

use codemode_spec::{FindOptions, Method, Spec};

use crate::{github_spec, load, shared_cloudflare_spec};

/// A task in words and the operations (`METHOD /template`) that would do it.
type Task = (&'static str, &'static [&'static str]);

/// Cloudflare tasks of the kind an agent is given.
const CLOUDFLARE_TASKS: &[Task] = &[
    ("list all my zones", &["GET /zones"]),
    ("list my zones", &["GET /zones"]),
    ("show my zones", &["GET /zones"]),
    ("which zones do I have", &["GET /zones"]),
    ("list my domains", &["GET /zones"]),
    ("list my accounts", &["GET /accounts"]),
    ("list my API tokens", &["GET /user/tokens"]),
    ("add a new domain to Cloudflare", &["POST /zones"]),
    ("get the details of one zone", &["GET /zones/{zone_id}"]),
    ("delete a zone", &["DELETE /zones/{zone_id}"]),
    (
        "create a DNS record for example.com",
        &["POST /zones/{zone_id}/dns_records"],
    ),
    (
        "show the DNS records of my domain",
        &["GET /zones/{zone_id}/dns_records"],
    ),
    (
        "remove a DNS record",
        &["DELETE /zones/{zone_id}/dns_records/{dns_record_id}"],
    ),
    (
        "change the IP address an A record points to",
        &[
            "PATCH /zones/{zone_id}/dns_records/{dns_record_id}",
            "PUT /zones/{zone_id}/dns_records/{dns_record_id}",
        ],
    ),
    (
        "export a zone file with every DNS record",
        &["GET /zones/{zone_id}/dns_records/export"],
    ),
    (
        "purge everything from the cache of a site",
        &["POST /zones/{zone_id}/purge_cache"],
    ),
    (
        "turn on always use HTTPS for a zone",
        &["PATCH /zones/{zone_id}/settings/{setting_id}"],
    ),
    (
        "list the workers in my account",
        &["GET /accounts/{account_id}/workers/scripts"],
    ),
    (
        "deploy a worker script",
        &["PUT /accounts/{account_id}/workers/scripts/{script_name}"],
    ),
    (
        "delete a worker",
        &["DELETE /accounts/{account_id}/workers/scripts/{script_name}"],
    ),
    (
        "set the cron triggers of a worker",
        &["PUT /accounts/{account_id}/workers/scripts/{script_name}/schedules"],
    ),
    (
        "create a key-value namespace",
        &["POST /accounts/{account_id}/storage/kv/namespaces"],
    ),
    (
        "store a value under a key in KV",
        &["PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}"],
    ),
    (
        "which keys are in a KV namespace",
        &["GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/keys"],
    ),
    (
        "create a storage bucket",
        &["POST /accounts/{account_id}/r2/buckets"],
    ),
    (
        "which R2 buckets do I have",
        &["GET /accounts/{account_id}/r2/buckets"],
    ),
    (
        "create a new SQL database",
        &["POST /accounts/{account_id}/d1/database"],
    ),
    (
        "run a SQL query against a database",
        &[
            "POST /accounts/{account_id}/d1/database/{database_id}/query",
            "POST /accounts/{account_id}/d1/database/{database_id}/raw",
        ],
    ),
    (
        "list my Cloudflare tunnels",
        &["GET /accounts/{account_id}/cfd_tunnel"],
    ),
    ("create an API token", &["POST /user/tokens"]),
    (
        "check that my API token is valid",
        &["GET /user/tokens/verify"],
    ),
    (
        "block an IP address on a zone",
        &[
            "POST /zones/{zone_id}/firewall/access_rules/rules",
            "POST /accounts/{account_identifier}/firewall/access_rules/rules",
            "POST /user/firewall/access_rules/rules",
        ],
    ),
    (
        "who are the members of my account",
        &["GET /accounts/{account_id}/members"],
    ),
    (
        "invite someone to my account",
        &["POST /accounts/{account_id}/members"],
    ),
    (
        "list Pages projects",
        &["GET /accounts/{account_id}/pages/projects"],
    ),
    ("create a queue", &["POST /accounts/{account_id}/queues"]),
    (
        "send logs to a storage destination with a logpush job",
        &[
            "POST /accounts/{account_id}/logpush/jobs",
            "POST /zones/{zone_id}/logpush/jobs",
        ],
    ),
    (
        "list the load balancers of a zone",
        &["GET /zones/{zone_id}/load_balancers"],
    ),
    (
        "add a custom hostname for SaaS",
        &["POST /zones/{zone_id}/custom_hostnames"],
    ),
    ("list the accounts I can access", &["GET /accounts"]),
    (
        "create an email routing rule",
        &["POST /zones/{zone_identifier}/email/routing/rules"],
    ),
    (
        "show the worker routes of a zone",
        &["GET /zones/{zone_id}/workers/routes"],
    ),
    (
        "list videos in Stream",
        &["GET /accounts/{account_id}/stream"],
    ),
    (
        "upload an image",
        &["POST /accounts/{account_id}/images/v1"],
    ),
    (
        "create a vector index",
        &[
            "POST /accounts/{account_id}/vectorize/v2/indexes",
            "POST /accounts/{account_id}/vectorize/indexes",
        ],
    ),
    (
        "get the audit log of my account",
        &["GET /accounts/{account_id}/audit_logs"],
    ),
];

/// GitHub tasks of the kind an agent is given.
const GITHUB_TASKS: &[Task] = &[
    (
        "list the open issues of a repo",
        &["GET /repos/{owner}/{repo}/issues"],
    ),
    (
        "file a new bug report issue",
        &["POST /repos/{owner}/{repo}/issues"],
    ),
    (
        "comment on an issue",
        &["POST /repos/{owner}/{repo}/issues/{issue_number}/comments"],
    ),
    (
        "close an issue",
        &["PATCH /repos/{owner}/{repo}/issues/{issue_number}"],
    ),
    ("open a pull request", &["POST /repos/{owner}/{repo}/pulls"]),
    (
        "merge a pull request",
        &["PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge"],
    ),
    (
        "show the pull requests of a repository",
        &["GET /repos/{owner}/{repo}/pulls"],
    ),
    (
        "ask someone to review my PR",
        &["POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"],
    ),
    (
        "approve a pull request",
        &["POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews"],
    ),
    (
        "which files does a pull request change",
        &["GET /repos/{owner}/{repo}/pulls/{pull_number}/files"],
    ),
    ("list my repositories", &["GET /user/repos"]),
    (
        "list the repositories of another user",
        &["GET /users/{username}/repos"],
    ),
    (
        "create a repository",
        &["POST /user/repos", "POST /orgs/{org}/repos"],
    ),
    (
        "create a repo in an organization",
        &["POST /orgs/{org}/repos"],
    ),
    ("delete a repository", &["DELETE /repos/{owner}/{repo}"]),
    ("star a repo", &["PUT /user/starred/{owner}/{repo}"]),
    ("fork a repository", &["POST /repos/{owner}/{repo}/forks"]),
    ("list the branches", &["GET /repos/{owner}/{repo}/branches"]),
    ("create a branch", &["POST /repos/{owner}/{repo}/git/refs"]),
    (
        "delete a branch",
        &["DELETE /repos/{owner}/{repo}/git/refs/{ref}"],
    ),
    (
        "protect the main branch",
        &["PUT /repos/{owner}/{repo}/branches/{branch}/protection"],
    ),
    (
        "read a file from a repo",
        &["GET /repos/{owner}/{repo}/contents/{path}"],
    ),
    (
        "commit a change to a file",
        &["PUT /repos/{owner}/{repo}/contents/{path}"],
    ),
    (
        "publish a release",
        &["POST /repos/{owner}/{repo}/releases"],
    ),
    (
        "get the latest release",
        &["GET /repos/{owner}/{repo}/releases/latest"],
    ),
    (
        "list the CI runs of a repo",
        &["GET /repos/{owner}/{repo}/actions/runs"],
    ),
    (
        "trigger a workflow manually",
        &["POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"],
    ),
    ("create a gist", &["POST /gists"]),
    (
        "who are the members of an organization",
        &["GET /orgs/{org}/members"],
    ),
    (
        "add a label to an issue",
        &["POST /repos/{owner}/{repo}/issues/{issue_number}/labels"],
    ),
    ("who am I", &["GET /user"]),
    (
        "search for repositories about rust",
        &["GET /search/repositories"],
    ),
    ("search issues across GitHub", &["GET /search/issues"]),
    (
        "list the commits of a repo",
        &["GET /repos/{owner}/{repo}/commits"],
    ),
    (
        "add a webhook to a repository",
        &["POST /repos/{owner}/{repo}/hooks"],
    ),
    (
        "give a user access to a repository",
        &["PUT /repos/{owner}/{repo}/collaborators/{username}"],
    ),
    (
        "set an actions secret on a repo",
        &["PUT /repos/{owner}/{repo}/actions/secrets/{secret_name}"],
    ),
    (
        "list the teams of an organization",
        &["GET /orgs/{org}/teams"],
    ),
    ("follow a user", &["PUT /user/following/{username}"]),
    ("show my notifications", &["GET /notifications"]),
    ("list my repos", &["GET /user/repos"]),
    ("list my gists", &["GET /gists"]),
    ("which orgs am I in", &["GET /user/orgs"]),
    ("show my issues", &["GET /issues", "GET /user/issues"]),
];

/// recall@5 below which `find` is a regression, per set.
const CLOUDFLARE_FLOOR: f64 = 0.9;
const GITHUB_FLOOR: f64 = 0.9;

/// How much better than the baseline `find` must stay, in recall@5 points.
const MARGIN_OVER_BASELINE: f64 = 0.15;

#[test]
fn find_beats_plain_bm25_on_cloudflare_tasks() {
    let spec = shared_cloudflare_spec();
    check_set("Cloudflare", spec, CLOUDFLARE_TASKS, CLOUDFLARE_FLOOR);
}

#[test]
fn find_beats_plain_bm25_on_github_tasks() {
    let spec = github_spec();
    check_set("GitHub", spec, GITHUB_TASKS, GITHUB_FLOOR);
}

/// Scores a set with `find` and with the baseline, prints both, and holds `find` to its floor
/// and to its margin over the baseline.
fn check_set(name: &str, spec: &Spec, tasks: &[Task], floor: f64) {
    let baseline = Bm25::build(spec);
    let mut misses = Vec::new();
    let (mut found, mut based) = (0usize, 0usize);
    for (task, expected) in tasks {
        for expected in *expected {
            let (method, path) = expected.split_once(' ').expect("METHOD /path");
            let method: Method = method.parse().expect("a method");
            assert!(
                spec.operation(method, path).is_ok_and(|op| op.path == path),
                "{name} task {task:?} expects {expected}, which the spec does not have"
            );
        }
        let top: Vec<String> = spec
            .find(
                task,
                &FindOptions {
                    limit: 5,
                    ..FindOptions::default()
                },
            )
            .iter()
            .map(|hit| format!("{} {}", hit.operation.method, hit.operation.path))
            .collect();
        if top.iter().any(|hit| expected.contains(&hit.as_str())) {
            found += 1;
        } else {
            misses.push(format!("{task:?}: got {top:?}"));
        }
        if baseline
            .top(task, 5)
            .iter()
            .any(|hit| expected.contains(&hit.as_str()))
        {
            based += 1;
        }
    }
    let recall = found as f64 / tasks.len() as f64;
    let baseline_recall = based as f64 / tasks.len() as f64;
    for miss in &misses {
        println!("{name} miss: {miss}");
    }
    println!(
        "{name}: recall@5 find {recall:.3} ({found}/{}), plain BM25 {baseline_recall:.3} ({based}/{})",
        tasks.len(),
        tasks.len()
    );
    assert!(
        recall >= floor,
        "{name} recall@5 {recall:.3} fell below {floor}; missed:\n{}",
        misses.join("\n")
    );
    assert!(
        recall >= baseline_recall + MARGIN_OVER_BASELINE,
        "{name} recall@5 {recall:.3} is not {MARGIN_OVER_BASELINE} above plain BM25's \
         {baseline_recall:.3}"
    );
}

/// Everyday requests for a collection of one's own, whose collection GET must rank in the top
/// three (an agent reads no further).
#[test]
fn everyday_list_tasks_rank_their_collection_in_the_top_three() {
    let cloudflare = shared_cloudflare_spec();
    let github = github_spec();
    let tasks: [(&Spec, &str, &str); 7] = [
        (cloudflare, "list my zones", "GET /zones"),
        (cloudflare, "show my zones", "GET /zones"),
        (cloudflare, "which zones do I have", "GET /zones"),
        (cloudflare, "list my accounts", "GET /accounts"),
        (github, "list my repos", "GET /user/repos"),
        (github, "list my gists", "GET /gists"),
        (github, "which orgs am I in", "GET /user/orgs"),
    ];
    for (spec, task, expected) in tasks {
        let top: Vec<String> = spec
            .find(
                task,
                &FindOptions {
                    limit: 3,
                    ..FindOptions::default()
                },
            )
            .iter()
            .map(|hit| format!("{} {}", hit.operation.method, hit.operation.path))
            .collect();
        assert!(
            top.iter().any(|hit| hit == expected),
            "{task:?}: {expected} not in the top 3 {top:?}"
        );
    }
}

#[test]
fn find_filters_by_method_and_product_and_caps_the_limit() {
    let spec = shared_cloudflare_spec();
    let deletes = spec.find(
        "dns records",
        &FindOptions {
            method: Some(Method::Delete),
            ..FindOptions::default()
        },
    );
    assert!(!deletes.is_empty());
    assert!(
        deletes
            .iter()
            .all(|hit| hit.operation.method == Method::Delete)
    );
    let kv = spec.find(
        "namespace keys",
        &FindOptions {
            product: Some("STORAGE".to_string()),
            limit: 3,
            ..FindOptions::default()
        },
    );
    assert_eq!(kv.len(), 3);
    assert!(
        kv.iter().all(|hit| hit.operation.product() == "storage"),
        "{kv:?}"
    );
    let many = spec.find(
        "list",
        &FindOptions {
            limit: 10_000,
            ..FindOptions::default()
        },
    );
    assert_eq!(many.len(), codemode_spec::MAX_FIND_LIMIT);
    assert!(spec.find("", &FindOptions::default()).is_empty());
    assert!(spec.find("zzzqqq", &FindOptions::default()).is_empty());
}

#[test]
fn find_reads_a_small_spec_and_its_parameter_names() {
    let spec = load(
        r#"{"openapi": "3.0.3", "paths": {
            "/things": {
                "get": {"summary": "List things", "parameters": [{"name": "colour", "in": "query"}]},
                "post": {"summary": "Create a thing"}
            },
            "/things/{id}": {"delete": {"summary": "Remove a thing"}}
        }}"#,
    );
    let first = |query: &str| {
        let hits = spec.find(query, &FindOptions::default());
        let hit = hits.first().expect("a hit");
        format!("{} {}", hit.operation.method, hit.operation.path)
    };
    assert_eq!(first("add a thing"), "POST /things");
    assert_eq!(first("delete a thing"), "DELETE /things/{id}");
    assert_eq!(first("things by colour"), "GET /things");
}

/// Plain BM25 over one bag of words per operation (method, path, summary, operationId, tags,
/// description, parameter names): no fields, no verbs, no synonyms, no stemming.
struct Bm25 {
    documents: Vec<(String, HashMap<String, f64>, f64)>,
    frequencies: HashMap<String, f64>,
    average: f64,
}

impl Bm25 {
    fn build(spec: &Spec) -> Bm25 {
        let view = spec.view();
        let mut documents = Vec::new();
        let mut frequencies: HashMap<String, f64> = HashMap::new();
        for operation in spec.operations() {
            let node = view
                .get("paths")
                .and_then(|paths| paths.get(&operation.path))
                .and_then(|item| item.get(operation.method.openapi_key()))
                .expect("every operation is in the view");
            let text = |key: &str| {
                node.get(key)
                    .and_then(|value| value.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let parameters: Vec<String> = node
                .get("parameters")
                .and_then(|list| list.as_array())
                .unwrap_or(&[])
                .iter()
                .filter_map(|p| p.get("name")?.as_str().map(str::to_string))
                .collect();
            let bag = [
                operation.method.to_string(),
                operation.path.clone(),
                text("summary"),
                operation.operation_id.clone().unwrap_or_default(),
                operation.tags.join(" "),
                text("description"),
                parameters.join(" "),
            ]
            .join(" ");
            let mut counts: HashMap<String, f64> = HashMap::new();
            let words = words(&bag);
            for word in &words {
                *counts.entry(word.clone()).or_default() += 1.0;
            }
            for word in counts.keys() {
                *frequencies.entry(word.clone()).or_default() += 1.0;
            }
            documents.push((
                format!("{} {}", operation.method, operation.path),
                counts,
                words.len() as f64,
            ));
        }
        let average =
            documents.iter().map(|(_, _, len)| len).sum::<f64>() / documents.len().max(1) as f64;
        Bm25 {
            documents,
            frequencies,
            average,
        }
    }

    fn top(&self, query: &str, limit: usize) -> Vec<String> {
        let (k1, b) = (1.2, 0.75);
        let total = self.documents.len() as f64;
        let terms = words(query);
        let mut scored: Vec<(f64, &str)> = self
            .documents
            .iter()
            .map(|(name, counts, length)| {
                let score = terms
                    .iter()
                    .filter_map(|term| {
                        let tf = *counts.get(term)?;
                        let df = self.frequencies[term];
                        let idf = (1.0 + (total - df + 0.5) / (df + 0.5)).ln();
                        Some(
                            idf * tf * (k1 + 1.0)
                                / (tf + k1 * (1.0 - b + b * length / self.average)),
                        )
                    })
                    .sum::<f64>();
                (score, name.as_str())
            })
            .filter(|(score, _)| *score > 0.0)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored
            .into_iter()
            .take(limit)
            .map(|(_, name)| name.to_string())
            .collect()
    }
}

/// Lower-cased runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}
