//! What loading a spec found: counts of operations and `$ref`s, the reference cycles, and the
//! size of the view both as held in memory and fully expanded (computed, never materialised).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::node::Node;

/// What loading a spec found, for `codemode spec` and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecStats {
    /// The `openapi` version, e.g. `3.0.3`.
    pub openapi: String,
    /// Operations in the view (GET, POST, PUT, PATCH and DELETE only).
    pub operations: usize,
    /// Paths with at least one operation.
    pub paths: usize,
    /// Distinct products.
    pub products: usize,
    /// `$ref` occurrences anywhere in the source document.
    pub refs: usize,
    /// Distinct `$ref` targets the view reaches.
    pub ref_targets: usize,
    /// The distinct reference cycles (groups of targets that reach one another, or a target
    /// that refers to itself), each as its sorted member refs.
    pub cycles: Vec<Vec<String>>,
    /// Distinct `{"$circular": ...}` marker nodes: the places where resolution cut a cycle.
    pub circular_markers: usize,
    /// Markers in the fully expanded view: a cut inside a shared schema appears once for every
    /// place that schema appears.
    pub circular_marker_occurrences: u64,
    /// Distinct nodes held in memory.
    pub nodes: usize,
    /// Nodes referenced from more than one place (held once, appearing many times).
    pub shared_nodes: usize,
    /// Nodes in the fully expanded view.
    pub expanded_nodes: u64,
    /// Size of the fully expanded view as compact JSON.
    pub resolved_bytes: u64,
    /// Size of the source document.
    pub source_bytes: usize,
}

impl fmt::Display for SpecStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "OpenAPI {}: {} operations on {} paths, {} products",
            self.openapi, self.operations, self.paths, self.products
        )?;
        writeln!(
            f,
            "$refs: {} in the source, {} distinct targets resolved",
            self.refs, self.ref_targets
        )?;
        write!(f, "reference cycles: {}", self.cycles.len())?;
        for cycle in self.cycles.iter().take(3) {
            write!(f, "\n  [{}]", cycle.join(", "))?;
        }
        if self.cycles.len() > 3 {
            write!(f, "\n  ... and {} more", self.cycles.len() - 3)?;
        }
        writeln!(
            f,
            "\ncircular markers: {} distinct ({} in the expanded view)",
            self.circular_markers, self.circular_marker_occurrences
        )?;
        write!(
            f,
            "view: {} nodes in memory ({} shared), {} expanded; source {} -> {} fully expanded",
            self.nodes,
            self.shared_nodes,
            self.expanded_nodes,
            Megabytes(self.source_bytes as u64),
            Megabytes(self.resolved_bytes)
        )
    }
}

/// A byte count shown in megabytes.
struct Megabytes(u64);

impl fmt::Display for Megabytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} MB", self.0 as f64 / 1_000_000.0)
    }
}

/// The shape of a node DAG, measured once per distinct node.
#[derive(Debug, Default)]
pub(crate) struct DagMeasure {
    /// Distinct nodes.
    pub(crate) nodes: usize,
    /// Nodes referenced from more than one place.
    pub(crate) shared_nodes: usize,
    /// Distinct circular markers.
    pub(crate) circular_markers: usize,
    /// Totals of the fully expanded tree.
    pub(crate) expanded: Expanded,
}

/// Totals of a fully expanded subtree (saturating: an expansion can be astronomically large).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Expanded {
    /// Nodes.
    pub(crate) nodes: u64,
    /// Circular markers.
    pub(crate) markers: u64,
    /// Size as compact JSON.
    pub(crate) bytes: u64,
}

impl Expanded {
    fn add(&mut self, other: Expanded) {
        self.nodes = self.nodes.saturating_add(other.nodes);
        self.markers = self.markers.saturating_add(other.markers);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// Measures the DAG under `root`, visiting each distinct node once.
pub(crate) fn measure(root: &Arc<Node>) -> DagMeasure {
    let mut walk = Walk {
        seen: HashMap::new(),
        shared: 0,
        markers: 0,
    };
    let expanded = walk.visit(root);
    DagMeasure {
        nodes: walk.seen.len(),
        shared_nodes: walk.shared,
        circular_markers: walk.markers,
        expanded,
    }
}

/// A memoised walk over a DAG, keyed by node address.
struct Walk {
    seen: HashMap<*const Node, (Expanded, u32)>,
    shared: usize,
    markers: usize,
}

impl Walk {
    fn visit(&mut self, node: &Arc<Node>) -> Expanded {
        let address = Arc::as_ptr(node);
        if let Some((expanded, places)) = self.seen.get_mut(&address) {
            if *places == 1 {
                self.shared += 1;
            }
            *places = places.saturating_add(1);
            return *expanded;
        }
        let mut expanded = Expanded {
            nodes: 1,
            markers: 0,
            bytes: 0,
        };
        let own_bytes = match node.as_ref() {
            Node::Null => 4,
            Node::Bool(true) => 4,
            Node::Bool(false) => 5,
            Node::Number(number) => number.to_string().len() as u64,
            Node::String(text) => string_bytes(text),
            Node::Array(items) => {
                for item in items {
                    expanded.add(self.visit(item));
                }
                brackets_and_commas(items.len())
            }
            Node::Object(fields) => {
                for (_, value) in fields {
                    expanded.add(self.visit(value));
                }
                let keys: u64 = fields.iter().map(|(key, _)| string_bytes(key) + 1).sum();
                brackets_and_commas(fields.len()) + keys
            }
        };
        expanded.bytes = expanded.bytes.saturating_add(own_bytes);
        if node.circular_target().is_some() {
            expanded.markers += 1;
            self.markers += 1;
        }
        self.seen.insert(address, (expanded, 1));
        expanded
    }
}

/// The `[]`/`{}` and separating commas of a container with `len` members.
fn brackets_and_commas(len: usize) -> u64 {
    2 + len.saturating_sub(1) as u64
}

/// The length of a string written as compact JSON, quotes and escapes included.
fn string_bytes(text: &str) -> u64 {
    let escaped: usize = text
        .bytes()
        .map(|byte| match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum();
    escaped as u64 + 2
}
