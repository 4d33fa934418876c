//! Integration tests of codemode-spec, one module per theme: `source` (files, URLs and the
//! download cache), `errors` (what a bad document is told), `resolve` (`$ref` resolution),
//! `view` (what agent code reads as `spec`), `cloudflare` (the shared real-world spec), `find`
//! (ranked retrieval on real specs), `outline` (compact operation views). Shared
//! helpers live here. New tests go in the module of their theme, or a new module declared here.

mod cloudflare;
mod errors;
mod find;
mod outline;
mod resolve;
mod source;
mod view;

use std::sync::{Arc, OnceLock};

use codemode_spec::{Node, Spec};

/// The spec in `text`, which must load.
fn load(text: &str) -> Spec {
    Spec::from_bytes(text.as_bytes()).unwrap_or_else(|error| panic!("spec should load: {error}"))
}

/// The node at a path of keys and array indices under the view.
fn at<'a>(node: &'a Arc<Node>, steps: &[&str]) -> &'a Arc<Node> {
    steps.iter().fold(node, |node, step| match node.as_ref() {
        Node::Array(items) => &items[step.parse::<usize>().expect("array step is an index")],
        _ => node
            .get(step)
            .unwrap_or_else(|| panic!("no {step:?} in {:?}", node.to_json())),
    })
}

/// The shared Cloudflare spec (August 2024), loaded once per test binary.
fn shared_cloudflare_spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        read_spec(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/specs/cloudflare-openapi-2024-08.json"
        ))
    })
}

/// GitHub's REST spec from npm `@octokit/openapi` (`npm ci` in tests/ installs it), loaded once.
fn github_spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        read_spec(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/node_modules/@octokit/openapi/generated/api.github.com.json"
        ))
    })
}

/// The spec in the file at `path`, which must exist and load.
fn read_spec(path: &str) -> Spec {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|error| panic!("this test needs the spec at {path} ({error})"));
    Spec::from_bytes(&bytes).unwrap_or_else(|error| panic!("{path} should load: {error}"))
}
