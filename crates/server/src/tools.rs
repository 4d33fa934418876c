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
const LISTED_PRODUCTS: usize = 40;

/// What the descriptions say about the loaded spec.
pub struct SpecSummary<'a> {
    /// The API's title.
    pub title: &'a str,
    /// Number of operations.
    pub operations: usize,
    /// Product names, most frequent first.
    pub products: Vec<&'a str>,
}

/// Both tools, as `tools/list` returns them; `held` is what the policy holds for approval.
pub fn definitions(summary: &SpecSummary<'_>, held: &ApprovalSummary) -> Vec<Tool> {
    vec![search_tool(summary), execute_tool(summary, held)]
}

fn search_tool(summary: &SpecSummary<'_>) -> Tool {
    let shown = summary.products.len().min(LISTED_PRODUCTS);
    let mut products = summary.products[..shown].join(", ");
    if summary.products.len() > shown {
        products.push_str(&format!(" (+{} more)", summary.products.len() - shown));
    }
    let description = format!(
        "Search the {title} OpenAPI spec ({operations} operations, every $ref resolved). \
         `code` is an async arrow function run with only this global; return just what you need.\n\
         {SPEC_DTS}\
         Products (tags[0]): {products}\n\
         Example: async () => Object.entries(spec.paths).flatMap(([path, ops]) => \
         Object.entries(ops).filter(([, op]) => op.tags[0] === \"{first}\")\
         .map(([method, op]) => ({{method, path, summary: op.summary}})))",
        title = summary.title,
        operations = summary.operations,
        first = summary.products.first().copied().unwrap_or("zones"),
    );
    Tool::new(SEARCH, description, code_schema(false))
        .with_title("Search the API spec")
        .with_annotations(ToolAnnotations::new().read_only(true))
}

fn execute_tool(summary: &SpecSummary<'_>, held: &ApprovalSummary) -> Tool {
    let description = format!(
        "Call the {title} API. `code` is an async arrow function run in a sandbox with these globals; \
         console output is returned too. Find paths with `search` first.\n\
         {CLOUDFLARE_DTS}\
         Example: async () => (await cloudflare.request({{method: \"GET\", path: \"/zones\", \
         query: {{per_page: 5}}}})).result.map(z => z.name)\n{approvals}",
        title = summary.title,
        approvals = approval_note(held),
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
