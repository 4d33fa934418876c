//! The loaded spec: the view agent code reads, the operation list, the products and the stats.

use std::sync::Arc;

use crate::check::{self, Problem};
use crate::document;
use crate::error::{SpecError, UnknownOperation};
use crate::find::{FindIndex, FindOptions, Found};
use crate::node::Node;
use crate::operation::{self, Method, Operation, Product};
use crate::outline::{self, Outline};
use crate::refs;
use crate::routes::RouteTable;
use crate::stats::{self, SpecStats};
use crate::view;

/// The title used when the spec's `info.title` is missing.
const UNTITLED: &str = "API";

/// How many nearest operations an unknown method and path is told about.
const NEAREST: usize = 5;

/// An OpenAPI document loaded and resolved once; immutable, and cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Spec {
    view: Arc<Node>,
    operations: Vec<Operation>,
    products: Vec<Product>,
    title: String,
    server_url: Option<String>,
    stats: SpecStats,
    routes: RouteTable,
    index: FindIndex,
}

impl Spec {
    /// Parses an OpenAPI 3.0/3.1 document (JSON or YAML) and resolves it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Spec, SpecError> {
        let root = document::parse(bytes)?;
        let openapi = document::openapi_version(&root)?.to_string();
        let view = view::build(&root)?;
        let products = operation::products(&view.operations);
        let dag = stats::measure(&view.root);
        let stats = SpecStats {
            openapi,
            operations: view.operations.len(),
            paths: view.paths,
            products: products.len(),
            refs: refs::count_refs(&root),
            ref_targets: view.ref_targets,
            cycles: view.cycles,
            circular_markers: dag.circular_markers,
            circular_marker_occurrences: dag.expanded.markers,
            nodes: dag.nodes,
            shared_nodes: dag.shared_nodes,
            expanded_nodes: dag.expanded.nodes,
            resolved_bytes: dag.expanded.bytes,
            source_bytes: bytes.len(),
        };
        let routes = RouteTable::new(&view.operations);
        let index = FindIndex::build(&view.root, &view.operations);
        Ok(Spec {
            routes,
            index,
            view: view.root,
            operations: view.operations,
            products,
            title: document::title(&root).unwrap_or(UNTITLED).to_string(),
            server_url: document::server_url(&root),
            stats,
        })
    }

    /// The view agent code reads as `spec`: `{ paths: { [path]: { [method]: operation } } }`.
    pub fn view(&self) -> &Arc<Node> {
        &self.view
    }

    /// Every operation, in view order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The products, most operations first, ties by name.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// The API's title (`info.title`, or "API" when the spec has none).
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The API's base URL as the spec gives it: `servers[0].url` with its variables'
    /// defaults; `None` when the spec names no server (or a variable has no default).
    pub fn server_url(&self) -> Option<&str> {
        self.server_url.as_deref()
    }

    /// The operations that best match a task described in words, best first.
    pub fn find(&self, query: &str, options: &FindOptions) -> Vec<Found<'_>> {
        self.index.find(&self.operations, query, options)
    }

    /// The operation a method and path (a template, or a concrete path, with or without a
    /// query string) name.
    pub fn operation(&self, method: Method, path: &str) -> Result<&Operation, UnknownOperation> {
        let segments = segments(path);
        self.routes.find(method, &segments).ok_or_else(|| {
            let nearest = self
                .routes
                .nearest(method, &segments, NEAREST)
                .into_iter()
                .map(|op| format!("{} {}", op.method, op.path))
                .collect();
            UnknownOperation {
                method,
                path: path.to_string(),
                nearest,
            }
        })
    }

    /// The compact view of the operation a method and path name.
    pub fn outline(&self, method: Method, path: &str) -> Result<Outline, UnknownOperation> {
        let operation = self.operation(method, path)?;
        Ok(outline::outline(operation, self.node_of(operation)))
    }

    /// How a request with these query parameter names and JSON body breaks `operation`: query
    /// parameters it does not have, body fields of the wrong type or value, missing required
    /// fields; empty when it does not.
    pub fn check_request(
        &self,
        operation: &Operation,
        query: &[&str],
        body: Option<&serde_json::Value>,
    ) -> Vec<Problem> {
        check::check(self.node_of(operation), query, body)
    }

    /// The view node of one of the spec's operations.
    fn node_of(&self, operation: &Operation) -> &Node {
        self.view
            .get("paths")
            .and_then(|paths| paths.get(&operation.path))
            .and_then(|item| item.get(operation.method.openapi_key()))
            .map_or(&Node::Null, |node| node)
    }

    /// What loading found.
    pub fn stats(&self) -> &SpecStats {
        &self.stats
    }
}

/// The segments of a path, its query string and outer slashes left out.
fn segments(path: &str) -> Vec<&str> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}
