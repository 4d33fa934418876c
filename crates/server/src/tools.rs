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
         {SPEC_DTS}\
         Products ({count}, largest first): {products}\n\
         Limits: code {code_kib} KiB, {secs} s, results cut past {result_chars} characters.\n\
         Example: async () => spec.find(\"create a DNS record\", {{limit: 3}})",
        title = summary.title,
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

fn execute_tool(summary: &SpecSummary<'_>, limits: &ToolLimits, held: &ApprovalSummary) -> Tool {
    let description = format!(
        "Call the {title} API. `code` is an async arrow function run in a sandbox with these globals; \
         console output is returned too. Find the method and path with `search` first.\n\
         {CLOUDFLARE_DTS}\
         Limits: {requests} requests per call, {secs} s, \
         code {code_kib} KiB, results cut past {result_chars} characters.\n\
         Example: async () => (await cloudflare.request({{method: \"GET\", path: \"/zones\", \
         query: {{per_page: 5}}}})).result.map(z => z.name)\n{approvals}",
        title = summary.title,
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
