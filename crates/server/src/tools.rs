//! The two tool definitions, built from the TypeScript declarations in `sandbox-runtime/`.

use std::sync::Arc;

use codemode_policy::ApprovalSummary;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::json;

/// Name of the tool that reads the spec.
pub const SEARCH: &str = "search";
/// Name of the tool that calls the API.
pub const EXECUTE: &str = "execute";

const SPEC_DTS: &str = include_str!("../../../sandbox-runtime/spec.d.ts");
const CLOUDFLARE_DTS: &str = include_str!("../../../sandbox-runtime/cloudflare.d.ts");
/// Any other upstream's `request`, on its own.
const GENERIC_DTS: &str = include_str!("../../../sandbox-runtime/generic.d.ts");
/// Any other upstream's `request`, beside `cloudflare.request`, whose options it shares.
const GENERIC_SHORT_DTS: &str = include_str!("../../../sandbox-runtime/generic-short.d.ts");
/// The global of the upstream with Cloudflare's envelope.
const CLOUDFLARE: &str = "cloudflare";

/// How many products the search description names, most frequent first.
const LISTED_PRODUCTS: usize = 8;

/// What the descriptions say about the loaded spec.
pub struct SpecSummary<'a> {
    /// The API's title.
    pub title: &'a str,
    /// Number of operations.
    pub operations: usize,
    /// Product names, most frequent first.
    pub products: Vec<&'a str>,
    /// The global the first API is reached by (`cloudflare`).
    pub api: &'a str,
    /// The further APIs: each one's global, title and operation count.
    pub others: Vec<(&'a str, &'a str, usize)>,
    /// A GET path of the first API without parameters, for the execute example.
    pub example_path: Option<&'a str>,
}

/// The limits the descriptions state, as the live config sets them.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolLimits {
    /// Results longer than this many characters are cut.
    pub result_chars: usize,
    /// Largest accepted code, in KiB.
    pub code_kib: usize,
    /// Time limit of one `search`, in seconds.
    pub search_secs: f64,
    /// Time limit of one `execute`, in seconds, not counting time waiting for a person.
    pub execute_secs: f64,
    /// Requests one `execute` call may make.
    pub requests: usize,
}

/// Both tools, as `tools/list` returns them; `held` is what each upstream's policy holds for
/// approval, by its global.
pub fn definitions(
    summary: &SpecSummary<'_>,
    limits: &ToolLimits,
    held: &[(String, ApprovalSummary)],
) -> Vec<Tool> {
    vec![
        search_tool(summary, limits),
        execute_tool(summary, limits, held),
    ]
}

fn search_tool(summary: &SpecSummary<'_>, limits: &ToolLimits) -> Tool {
    let shown = summary.products.len().min(LISTED_PRODUCTS);
    let mut products = summary.products[..shown].join(", ");
    if summary.products.len() > shown {
        products.push_str(&format!(
            " (+{} more; all: [...new Set(Object.values(spec.paths).flatMap(Object.values)\
             .map(o => o.tags[0]))])",
            summary.products.len() - shown
        ));
    }
    let description = format!(
        "Search the {title} spec ({operations} operations, $refs resolved) with JS: `code` is an \
         async arrow function whose only global is `spec`. Start with spec.find(\"what to do\"), \
         then spec.op(method, path).\n\
         {SPEC_DTS}{specs}\
         Products ({count}, largest first): {products}\n\
         Limits: code {code_kib} KiB, {secs} s, results cut past {result_chars} characters.\n\
         Example: async () => spec.find(\"create a DNS record\", {{limit: 3}})",
        title = summary.title,
        specs = specs_note(summary),
        operations = summary.operations,
        count = summary.products.len(),
        code_kib = limits.code_kib,
        secs = limits.search_secs,
        result_chars = limits.result_chars,
    );
    Tool::new(SEARCH, description, code_schema(false))
        .with_title("Search the API spec")
        .with_annotations(ToolAnnotations::new().read_only(true))
}

/// The line about the further APIs' specs, or nothing with one API.
fn specs_note(summary: &SpecSummary<'_>) -> String {
    if summary.others.is_empty() {
        return String::new();
    }
    let others: Vec<String> = summary
        .others
        .iter()
        .map(|(name, title, operations)| format!("specs.{name} ({title}, {operations} ops)"))
        .collect();
    format!(
        "More APIs: {}; spec is specs.{}. spec.find ranks all; {{api}} picks one.\n",
        others.join(", "),
        summary.api
    )
}

/// The declarations of every API's global: Cloudflare's envelope and `accountId` (which only
/// Cloudflare has) when an upstream is `cloudflare`, the generic one for the others.
fn api_declarations(summary: &SpecSummary<'_>) -> String {
    let names: Vec<&str> = std::iter::once(summary.api)
        .chain(summary.others.iter().map(|(name, _, _)| *name))
        .collect();
    let has_cloudflare = names.contains(&CLOUDFLARE);
    let generic: Vec<String> = names
        .iter()
        .filter(|name| **name != CLOUDFLARE)
        .map(|name| format!("{name}: Api"))
        .collect();
    let mut text = if has_cloudflare {
        CLOUDFLARE_DTS.to_string()
    } else {
        String::new()
    };
    if !generic.is_empty() {
        text.push_str(if has_cloudflare {
            GENERIC_SHORT_DTS
        } else {
            GENERIC_DTS
        });
        text.push_str(&format!("declare const {};\n", generic.join(", ")));
    }
    text
}

/// The APIs' titles, for the execute description, each once called an API.
fn titles(summary: &SpecSummary<'_>) -> String {
    std::iter::once(summary.title)
        .chain(summary.others.iter().map(|(_, title, _)| *title))
        .map(|title| {
            let title = title.trim();
            if title.to_ascii_lowercase().ends_with("api") {
                title.to_string()
            } else {
                format!("{title} API")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The execute example, written for the first API's global and envelope.
fn example(summary: &SpecSummary<'_>) -> String {
    if summary.api == CLOUDFLARE {
        return "async () => (await cloudflare.request({method: \"GET\", path: \"/zones\", \
                query: {per_page: 5}})).result.map(z => z.name)"
            .to_string();
    }
    let path = summary.example_path.unwrap_or("/");
    format!(
        "async () => (await {api}.request({{method: \"GET\", path: \"{path}\"}})).data",
        api = summary.api
    )
}

fn execute_tool(
    summary: &SpecSummary<'_>,
    limits: &ToolLimits,
    held: &[(String, ApprovalSummary)],
) -> Tool {
    let description = format!(
        "Call the {title}. `code` is an async arrow function run in a sandbox with these globals; \
         console output is returned too. Find the method and path with `search` first.\n\
         {declarations}\
         Limits: {requests} requests per call, {secs} s, \
         code {code_kib} KiB, results cut past {result_chars} characters.\n\
         Example: {example}\n{approvals}",
        title = titles(summary),
        example = example(summary),
        declarations = api_declarations(summary),
        approvals = approval_note(held),
        requests = limits.requests,
        secs = limits.execute_secs,
        code_kib = limits.code_kib,
        result_chars = limits.result_chars,
    );
    Tool::new(EXECUTE, description, code_schema(true))
        .with_title("Call the API")
        .with_annotations(ToolAnnotations::new().read_only(false))
}

/// What the agent is told beforehand about approvals: which requests each upstream's policy
/// holds (once for all when they hold the same), and what it sees when one is held.
fn approval_note(held: &[(String, ApprovalSummary)]) -> String {
    let holding: Vec<&(String, ApprovalSummary)> = held
        .iter()
        .filter(|(_, summary)| !summary.is_empty())
        .collect();
    if holding.is_empty() {
        return "No request needs a person's approval.".to_string();
    }
    let alike =
        holding.len() == held.len() && held.iter().all(|(_, summary)| *summary == held[0].1);
    let kinds = if alike {
        held_kinds(&held[0].1)
    } else {
        holding
            .iter()
            .map(|(name, summary)| format!("{name}: {}", held_kinds(summary)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!(
        "Needs a person's approval: {kinds}. Your client may ask them; else you get \
         `approval_required`, nothing sent: once approved, rerun the code with its approval_id."
    )
}

/// The requests one policy holds, e.g. `any DELETE, purge_cache`.
fn held_kinds(held: &ApprovalSummary) -> String {
    held.every
        .iter()
        .map(|method| format!("any {}", method.as_str()))
        .chain(held.rules.iter().cloned())
        .collect::<Vec<_>>()
        .join(", ")
}

fn code_schema(with_account: bool) -> Arc<JsonObject> {
    let mut properties = JsonObject::new();
    properties.insert(
        "code".into(),
        json!({"type": "string", "description": "async () => { ... }"}),
    );
    if with_account {
        properties.insert(
            "account_id".into(),
            json!({"type": "string", "description": "Sets accountId (optional)", "x-mcp-header": "Account-Id"}),
        );
        properties.insert(
            "approval_id".into(),
            json!({"type": "string", "description": "From approval_required, once approved"}),
        );
    }
    let mut schema = JsonObject::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), properties.into());
    schema.insert("required".into(), json!(["code"]));
    Arc::new(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use codemode_spec::Method;

    fn summary<'a>(api: &'a str, others: Vec<(&'a str, &'a str, usize)>) -> SpecSummary<'a> {
        SpecSummary {
            title: "GitHub v3 REST API",
            operations: 10,
            products: vec!["repos"],
            api,
            others,
            example_path: Some("/user"),
        }
    }

    fn held(every: &[Method], rules: &[&str]) -> ApprovalSummary {
        ApprovalSummary {
            every: every.to_vec(),
            rules: rules.iter().map(|rule| (*rule).to_string()).collect(),
        }
    }

    #[test]
    fn the_example_and_title_follow_the_first_api() {
        let github = summary("github", vec![("cloudflare", "Cloudflare API", 5)]);
        let example = example(&github);
        assert_eq!(
            example,
            "async () => (await github.request({method: \"GET\", path: \"/user\"})).data"
        );
        assert_eq!(titles(&github), "GitHub v3 REST API, Cloudflare API");
        let pets = SpecSummary {
            title: "Pets",
            ..summary("pets", Vec::new())
        };
        assert_eq!(titles(&pets), "Pets API");
    }

    #[test]
    fn account_id_is_declared_only_beside_cloudflare() {
        let alone = api_declarations(&summary("github", Vec::new()));
        assert!(!alone.contains("accountId"), "{alone}");
        assert!(alone.contains("declare const github: Api;"), "{alone}");
        let second = api_declarations(&summary("github", vec![("cloudflare", "Cloudflare", 5)]));
        assert!(second.contains("declare const accountId"), "{second}");
        assert!(second.contains("declare const cloudflare: {"), "{second}");
        assert!(second.contains("declare const github: Api;"), "{second}");
    }

    #[test]
    fn the_approval_note_names_each_upstreams_rules_unless_they_agree() {
        let defaults = held(&[Method::Delete], &["purge"]);
        let same = approval_note(&[
            ("cloudflare".to_string(), defaults.clone()),
            ("github".to_string(), defaults.clone()),
        ]);
        assert!(
            same.starts_with("Needs a person's approval: any DELETE, purge. "),
            "{same}"
        );
        let differ = approval_note(&[
            ("cloudflare".to_string(), defaults.clone()),
            (
                "github".to_string(),
                held(&[Method::Delete, Method::Put], &[]),
            ),
            ("pets".to_string(), ApprovalSummary::default()),
        ]);
        assert!(
            differ.starts_with(
                "Needs a person's approval: cloudflare: any DELETE, purge; github: any DELETE, \
                 any PUT. "
            ),
            "{differ}"
        );
        let none = approval_note(&[("pets".to_string(), ApprovalSummary::default())]);
        assert_eq!(none, "No request needs a person's approval.");
    }
}
