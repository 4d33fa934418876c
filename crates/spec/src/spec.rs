//! The loaded spec: the view agent code reads, the operation list, the products and the stats.

use std::sync::Arc;

use crate::document;
use crate::error::SpecError;
use crate::node::Node;
use crate::operation::{self, Operation, Product};
use crate::refs;
use crate::stats::{self, SpecStats};
use crate::view;

/// The title used when the spec's `info.title` is missing.
const UNTITLED: &str = "API";

/// An OpenAPI document loaded and resolved once; immutable, and cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Spec {
    view: Arc<Node>,
    operations: Vec<Operation>,
    products: Vec<Product>,
    title: String,
    stats: SpecStats,
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
        Ok(Spec {
            view: view.root,
            operations: view.operations,
            products,
            title: document::title(&root).unwrap_or(UNTITLED).to_string(),
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

    /// What loading found.
    pub fn stats(&self) -> &SpecStats {
        &self.stats
    }
}
