//! The whole `tools/list`, as a client hands it to a model, fits in 800 o200k tokens with one
//! upstream and in 1,000 with three.

use std::path::PathBuf;

use crate::support::{StdioSession, cloudflare_spec};
use serde_json::json;

const BUDGET: usize = 800;
const BUDGET_THREE: usize = 1000;

#[test]
fn tools_list_costs_at_most_800_o200k_tokens_on_the_cloudflare_spec() {
    let spec = cloudflare_spec();
    let mut session = StdioSession::start(&["--spec", spec.to_str().expect("utf-8 path")]);
    let (tokens, _) = tools_list_tokens(&mut session, BUDGET);
    assert!(
        tokens > 300,
        "suspiciously small tools/list ({tokens} tokens)"
    );
}

#[test]
fn tools_list_costs_at_most_1000_o200k_tokens_with_three_upstreams() {
    let octokit = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/node_modules/@octokit/openapi/generated");
    assert!(
        octokit.exists(),
        "GitHub's spec is missing at {}; run `cd tests && npm ci`",
        octokit.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("codemode.toml");
    let table = |name: &str, spec: PathBuf| {
        format!(
            "[[upstreams]]\nname = \"{name}\"\nspec = {:?}\napi_base = \"http://127.0.0.1:9\"\n",
            spec.display().to_string()
        )
    };
    let text = [
        table("cloudflare", cloudflare_spec()),
        table("github", octokit.join("api.github.com.json")),
        table("ghes", octokit.join("ghes-3.19.json")),
    ]
    .join("\n");
    std::fs::write(&config, text).expect("config written");
    let mut session = StdioSession::start(&["--config", config.to_str().expect("utf-8 path")]);
    let (tokens, text) = tools_list_tokens(&mut session, BUDGET_THREE);
    for named in ["github: Api", "ghes: Api", "specs.github", "specs.ghes"] {
        assert!(
            text.contains(named),
            "tools/list does not name {named}:\n{text}"
        );
    }
    assert!(
        tokens > 400,
        "suspiciously small tools/list ({tokens} tokens)"
    );
}

/// The o200k tokens of `tools/list` as a model sees it, checked against `budget`.
fn tools_list_tokens(session: &mut StdioSession, budget: usize) -> (usize, String) {
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
        tokens <= budget,
        "tools/list costs {tokens} tokens, over the budget of {budget}:\n{text}"
    );
    (tokens, text)
}
