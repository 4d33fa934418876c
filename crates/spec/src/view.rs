//! Builds the view agent code reads, `{ paths: { [path]: { [method]: operation } } }`, and the
//! operation list: each operation keeps only the fields that matter, with path-level parameters
//! merged in and every `$ref` resolved.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::SpecError;
use crate::node::Node;
use crate::operation::{Method, Operation, product_segment};
use crate::pointer::{self, Location};
use crate::refs::RefScan;
use crate::resolve::Resolver;

/// The fields copied from the spec as they are (after resolution), in view order around `tags`.
const LEADING_FIELDS: [&str; 3] = ["summary", "description", "operationId"];

/// The fields after `parameters`, in view order.
const TRAILING_FIELDS: [&str; 2] = ["requestBody", "responses"];

/// How deep an operation's fields sit in the view: `view.paths[path][method][field]`.
const FIELD_DEPTH: usize = 5;

/// The built view and what was found building it.
pub(crate) struct View {
    /// The view's root node.
    pub(crate) root: Arc<Node>,
    /// Every operation in view order.
    pub(crate) operations: Vec<Operation>,
    /// Paths with at least one operation.
    pub(crate) paths: usize,
    /// `$ref` targets the view reaches.
    pub(crate) ref_targets: usize,
    /// The distinct reference cycles, each as its sorted members.
    pub(crate) cycles: Vec<Vec<String>>,
}

/// A path item with at least one operation.
struct PathItem<'v> {
    path: &'v str,
    fields: &'v Map<String, Value>,
    /// The `$ref` the path item was reached through, if any.
    reference: Option<&'v str>,
    operations: Vec<(Method, &'v Map<String, Value>)>,
}

impl PathItem<'_> {
    /// Where the item's fields sit: its `$ref` target, or `inline`.
    fn location<'a>(&'a self, inline: Location<'a>) -> Location<'a> {
        self.reference.map_or(inline, Location::Pointer)
    }
}

/// Builds the view of the document `root`.
pub(crate) fn build(root: &Value) -> Result<View, SpecError> {
    let paths_at = Location::Key(&Location::ROOT, "paths");
    let items = path_items(root, &paths_at)?;
    let mut scan = RefScan::new(root);
    for item in &items {
        let item_at = item.location(Location::Key(&paths_at, item.path));
        if let Some(parameters) = item.fields.get("parameters") {
            scan.add(parameters, &Location::Key(&item_at, "parameters"))?;
        }
        for (method, operation) in &item.operations {
            let operation_at = Location::Key(&item_at, method.openapi_key());
            let resolved = LEADING_FIELDS
                .iter()
                .chain(&["parameters"])
                .chain(&TRAILING_FIELDS);
            for field in resolved {
                if let Some(value) = operation.get(*field) {
                    scan.add(value, &Location::Key(&operation_at, field))?;
                }
            }
        }
    }
    let graph = scan.finish();
    let mut resolver = Resolver::new(&graph);
    let mut operations = Vec::new();
    let mut path_entries = Vec::with_capacity(items.len());
    for item in &items {
        let item_at = item.location(Location::Key(&paths_at, item.path));
        let shared = resolve_parameters(&mut resolver, item.fields, &item_at, FIELD_DEPTH + 1)?;
        let mut method_entries = Vec::with_capacity(item.operations.len());
        for (method, fields) in &item.operations {
            let operation_at = Location::Key(&item_at, method.openapi_key());
            let (node, operation) = build_operation(
                &mut resolver,
                item.path,
                *method,
                fields,
                &shared,
                &operation_at,
            )?;
            method_entries.push((resolver.key(method.openapi_key()), node));
            operations.push(operation);
        }
        let methods = resolver.node(Node::Object(method_entries))?;
        path_entries.push((resolver.key(item.path), methods));
    }
    let paths = resolver.node(Node::Object(path_entries))?;
    let paths_key = resolver.key("paths");
    let root = resolver.node(Node::Object(vec![(paths_key, paths)]))?;
    Ok(View {
        root,
        operations,
        paths: items.len(),
        ref_targets: graph.len(),
        cycles: graph.cycles(),
    })
}

/// The path items that have at least one of the five methods, in document order.
fn path_items<'v>(
    root: &'v Value,
    paths_at: &Location<'_>,
) -> Result<Vec<PathItem<'v>>, SpecError> {
    let paths = match root.get("paths") {
        None => return Err(SpecError::MissingField { field: "paths" }),
        Some(Value::Object(paths)) => paths,
        Some(_) => return Err(invalid(paths_at, "an object")),
    };
    let mut items = Vec::new();
    for (path, value) in paths {
        let inline_at = Location::Key(paths_at, path);
        let reference = value.get("$ref").and_then(Value::as_str);
        let value = match reference {
            Some(reference) => pointer::target(root, reference, &inline_at)?,
            None => value,
        };
        let item_at = reference.map_or(inline_at, Location::Pointer);
        let Value::Object(fields) = value else {
            return Err(invalid(&item_at, "an object (a path item)"));
        };
        let mut operations = Vec::new();
        for method in Method::ALL {
            match fields.get(method.openapi_key()) {
                None => {}
                Some(Value::Object(operation)) => operations.push((method, operation)),
                Some(_) => {
                    return Err(invalid(
                        &Location::Key(&item_at, method.openapi_key()),
                        "an object (an operation)",
                    ));
                }
            }
        }
        if !operations.is_empty() {
            items.push(PathItem {
                path,
                fields,
                reference,
                operations,
            });
        }
    }
    Ok(items)
}

/// Builds one operation's view node and its entry in the operation list.
fn build_operation<'v>(
    resolver: &mut Resolver<'_, 'v>,
    path: &str,
    method: Method,
    fields: &'v Map<String, Value>,
    shared_parameters: &[Arc<Node>],
    at: &Location<'_>,
) -> Result<(Arc<Node>, Operation), SpecError> {
    let mut entries = Vec::with_capacity(LEADING_FIELDS.len() + 1 + 1 + TRAILING_FIELDS.len());
    for field in LEADING_FIELDS {
        if let Some(value) = fields.get(field) {
            let node = resolver.resolve(value, &Location::Key(at, field), FIELD_DEPTH)?;
            entries.push((resolver.key(field), node));
        }
    }
    let tags = product_tags(path, fields, at)?;
    let tag_nodes = tags
        .iter()
        .map(|tag| resolver.node(Node::String(Arc::from(tag.as_str()))))
        .collect::<Result<Vec<_>, _>>()?;
    entries.push((resolver.key("tags"), resolver.node(Node::Array(tag_nodes))?));
    let own_parameters = resolve_parameters(resolver, fields, at, FIELD_DEPTH + 1)?;
    if fields.contains_key("parameters") || !shared_parameters.is_empty() {
        let parameters = merge_parameters(shared_parameters, own_parameters);
        entries.push((
            resolver.key("parameters"),
            resolver.node(Node::Array(parameters))?,
        ));
    }
    for field in TRAILING_FIELDS {
        if let Some(value) = fields.get(field) {
            let node = resolver.resolve(value, &Location::Key(at, field), FIELD_DEPTH)?;
            entries.push((resolver.key(field), node));
        }
    }
    let operation = Operation {
        method,
        path: path.to_string(),
        operation_id: fields
            .get("operationId")
            .and_then(Value::as_str)
            .map(str::to_string),
        tags,
    };
    Ok((resolver.node(Node::Object(entries))?, operation))
}

/// The operation's tags with its product segment first, not repeated.
fn product_tags(
    path: &str,
    fields: &Map<String, Value>,
    at: &Location<'_>,
) -> Result<Vec<String>, SpecError> {
    let product = product_segment(path);
    let mut tags = vec![product.to_string()];
    let Some(listed) = fields.get("tags") else {
        return Ok(tags);
    };
    let tags_at = Location::Key(at, "tags");
    let Value::Array(listed) = listed else {
        return Err(invalid(&tags_at, "an array of strings"));
    };
    for (index, tag) in listed.iter().enumerate() {
        let Value::String(tag) = tag else {
            return Err(invalid(&Location::Index(&tags_at, index), "a string"));
        };
        if tag != product {
            tags.push(tag.clone());
        }
    }
    Ok(tags)
}

/// The resolved `parameters` of a path item or operation (empty when it has none).
fn resolve_parameters<'v>(
    resolver: &mut Resolver<'_, 'v>,
    fields: &'v Map<String, Value>,
    at: &Location<'_>,
    depth: usize,
) -> Result<Vec<Arc<Node>>, SpecError> {
    let parameters_at = Location::Key(at, "parameters");
    match fields.get("parameters") {
        None => Ok(Vec::new()),
        Some(Value::Array(parameters)) => parameters
            .iter()
            .enumerate()
            .map(|(index, parameter)| {
                resolver.resolve(parameter, &Location::Index(&parameters_at, index), depth)
            })
            .collect(),
        Some(_) => Err(invalid(&parameters_at, "an array")),
    }
}

/// Path-level parameters followed by the operation's own; an operation parameter with the
/// same `name` and `in` as a path-level one replaces it in place.
fn merge_parameters(shared: &[Arc<Node>], own: Vec<Arc<Node>>) -> Vec<Arc<Node>> {
    let mut merged = shared.to_vec();
    for parameter in own {
        let identity = parameter_identity(&parameter);
        let existing = identity.and_then(|identity| {
            merged
                .iter()
                .position(|p| parameter_identity(p) == Some(identity))
        });
        match existing {
            Some(index) => merged[index] = parameter,
            None => merged.push(parameter),
        }
    }
    merged
}

/// A parameter's `(name, in)`, which identifies it within an operation.
fn parameter_identity(parameter: &Node) -> Option<(&str, &str)> {
    Some((
        parameter.get("name")?.as_str()?,
        parameter.get("in")?.as_str()?,
    ))
}

fn invalid(at: &Location<'_>, expected: &'static str) -> SpecError {
    SpecError::InvalidField {
        location: at.to_string(),
        expected,
    }
}
