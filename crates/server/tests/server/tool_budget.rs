//! The whole `tools/list`, as a client hands it to a model, fits in 800 o200k tokens with one upstream.

use crate::support::{StdioSession, cloudflare_spec};
use serde_json::json;

const BUDGET: usize = 800;

#[test]
fn tools_list_costs_at_most_800_o200k_tokens_on_the_cloudflare_spec() {
    let spec = cloudflare_spec();
    let mut session = StdioSession::start(&["--spec", spec.to_str().expect("utf-8 path")]);
    let listed = session.request("tools/list", json!({}));
    let tools = listed["tools"].as_array().expect("a tools array");
    assert_eq!(tools.len(), 2);
    let as_given_to_a_model: Vec<_> = tools
        .iter()
        .map(|tool| {
            json!({
                "name": tool["name"],
                "title": tool["title"],
                "description": tool["description"],
                "input_schema": tool["inputSchema"],
                "annotations": tool["annotations"],
            })
        })
        .collect();
    let text = serde_json::to_string(&as_given_to_a_model).expect("serialisable");
    let tokens = tiktoken_rs::o200k_base()
        .expect("o200k vocabulary")
        .encode_with_special_tokens(&text)
        .len();
    println!("tools/list costs {tokens} o200k tokens");
    assert!(
        tokens <= BUDGET,
        "tools/list costs {tokens} tokens, over the budget of {BUDGET}:\n{text}"
    );
    assert!(
        tokens > 300,
        "suspiciously small tools/list ({tokens} tokens)"
    );
}
