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

/// Both tools, as `tools/list` returns them; `held` is what the policy holds for approval.
pub fn definitions(
    summary: &SpecSummary<'_>,
    limits: &ToolLimits,
    held: &ApprovalSummary,
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

/// The declarations of every API's global.
fn api_declarations(summary: &SpecSummary<'_>) -> String {
    let generic: Vec<&str> = std::iter::once(summary.api)
        .chain(summary.others.iter().map(|(name, _, _)| *name))
        .filter(|name| *name != CLOUDFLARE)
        .collect();
    let first_is_cloudflare = summary.api == CLOUDFLARE;
    let mut text = if first_is_cloudflare {
        CLOUDFLARE_DTS.to_string()
    } else {
        CLOUDFLARE_DTS
            .lines()
            .filter(|line| line.starts_with("declare const accountId"))
            .map(|line| format!("{line}\n"))
            .collect()
    };
    if !generic.is_empty() {
        text.push_str(if first_is_cloudflare {
            GENERIC_SHORT_DTS
        } else {
            GENERIC_DTS
        });
        let names: Vec<String> = generic.iter().map(|name| format!("{name}: Api")).collect();
        text.push_str(&format!("declare const {};\n", names.join(", ")));
    }
    text
}

/// The APIs' titles, for the execute description.
fn titles(summary: &SpecSummary<'_>) -> String {
    let mut titles = vec![summary.title];
    titles.extend(summary.others.iter().map(|(_, title, _)| *title));
    titles.join(", ")
}

fn execute_tool(summary: &SpecSummary<'_>, limits: &ToolLimits, held: &ApprovalSummary) -> Tool {
    let description = format!(
        "Call the {title} API. `code` is an async arrow function run in a sandbox with these globals; \
         console output is returned too. Find the method and path with `search` first.\n\
         {declarations}\
         Limits: {requests} requests per call, {secs} s, \
         code {code_kib} KiB, results cut past {result_chars} characters.\n\
         Example: async () => (await cloudflare.request({{method: \"GET\", path: \"/zones\", \
         query: {{per_page: 5}}}})).result.map(z => z.name)\n{approvals}",
        title = titles(summary),
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

/// What the agent is told beforehand about approvals: which requests policy holds, and what
/// it sees when one is held.
fn approval_note(held: &ApprovalSummary) -> String {
    if held.is_empty() {
        return "No request needs a person's approval.".to_string();
    }
    let mut kinds: Vec<String> = held
        .every
        .iter()
        .map(|method| format!("any {}", method.as_str()))
        .collect();
    if !held.rules.is_empty() {
        kinds.extend(held.rules.iter().cloned());
    }
    format!(
        "Needs a person's approval: {}. Your client may ask them; else you get \
         `approval_required`, nothing sent: once approved, rerun the code with its approval_id.",
        kinds.join(", ")
    )
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
