//! Integration tests of codemode-spec, one module per theme: `source` (files, URLs and the
//! download cache), `errors` (what a bad document is told), `resolve` (`$ref` resolution),
//! `view` (what agent code reads as `spec`), `cloudflare` (the shared real-world spec). Shared
//! helpers live here. New tests go in the module of their theme, or a new module declared here.

mod cloudflare;
mod errors;
mod resolve;
mod source;
mod view;

use std::sync::Arc;

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
