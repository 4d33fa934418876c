//! Checks a request against its operation before it is sent: query parameters the operation
//! does not have, and a JSON body that breaks the operation's schema (types, required fields,
//! enums), each reported with the path of the field at fault.
//!
//! The check is lenient where specs are loose: fields the schema does not list are allowed,
//! read-only and server-assigned fields are never required, and a `oneOf` is satisfied by any
//! one of its shapes (the closest shape's problems are reported when none fits).

use std::fmt;

use serde_json::Value;

use crate::document::kind;
use crate::node::Node;
use crate::outline::SERVER_ASSIGNED;

/// The most problems reported for one request.
const MAX_PROBLEMS: usize = 6;

/// The deepest body level checked.
const MAX_DEPTH: usize = 24;

/// Array elements checked per array.
const MAX_ELEMENTS: usize = 100;

/// One way a request breaks its operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `query.name`, `body`, `body.data.priority`, `body.tags[2]`.
    pub at: String,
    /// What is wrong, e.g. `is required` or `must be a number (got a string)`.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// The problems of a request with these query parameter names and JSON body against the
/// operation whose view node is `operation`.
pub(crate) fn check(operation: &Node, query: &[&str], body: Option<&Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let declared: Vec<&str> = operation
        .get("parameters")
        .and_then(|list| list.as_array())
        .unwrap_or(&[])
        .iter()
        .filter(|parameter| parameter.get("in").and_then(|at| at.as_str()) == Some("query"))
        .filter_map(|parameter| parameter.get("name")?.as_str())
        .collect();
    for name in query {
        if !declared.contains(name) {
            let known = if declared.is_empty() {
                "it has none".to_string()
            } else {
                format!("it has {}", declared.join(", "))
            };
            problems.push(Problem {
                at: format!("query.{name}"),
                message: format!("not a query parameter of this operation; {known}"),
            });
        }
    }
    if let (Some(body), Some(schema)) = (body, json_body_schema(operation)) {
        check_value(schema, body, "body", 0, &mut problems);
    }
    let mut distinct: Vec<Problem> = Vec::with_capacity(problems.len());
    for problem in problems {
        if !distinct.contains(&problem) {
            distinct.push(problem);
        }
    }
    distinct.truncate(MAX_PROBLEMS);
    distinct
}

/// The schema of an operation's JSON request body, if it takes one.
fn json_body_schema(operation: &Node) -> Option<&Node> {
    let content = operation.get("requestBody")?.get("content")?.as_object()?;
    content
        .iter()
        .find(|(media, _)| media.contains("json"))
        .and_then(|(_, media)| media.get("schema"))
        .map(|schema| schema.as_ref())
}

/// Checks `value` at `at` against `schema`, adding what it breaks to `problems`.
fn check_value(schema: &Node, value: &Value, at: &str, depth: usize, problems: &mut Vec<Problem>) {
    if depth > MAX_DEPTH || problems.len() >= MAX_PROBLEMS || schema.circular_target().is_some() {
        return;
    }
    let flag = |key: &str| {
        schema
            .get(key)
            .is_some_and(|value| matches!(value.as_ref(), Node::Bool(true)))
    };
    if value.is_null() && (flag("nullable") || allows_type(schema, "null")) {
        return;
    }
    if let Some(values) = schema.get("enum").and_then(|values| values.as_array()) {
        if !values.iter().any(|allowed| allowed.to_json() == *value) {
            let listed: Vec<String> = values
                .iter()
                .take(12)
                .map(|allowed| allowed.to_json().to_string())
                .collect();
            problems.push(Problem {
                at: at.to_string(),
                message: format!(
                    "must be one of {} (got {})",
                    listed.join(", "),
                    shown(value)
                ),
            });
        }
        return;
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = schema.get(key).and_then(|variants| variants.as_array()) {
            let mut closest: Option<Vec<Problem>> = None;
            for variant in variants {
                let mut found = Vec::new();
                check_value(variant, value, at, depth + 1, &mut found);
                if found.is_empty() {
                    closest = None;
                    break;
                }
                if closest.as_ref().is_none_or(|best| found.len() < best.len()) {
                    closest = Some(found);
                }
            }
            problems.extend(closest.unwrap_or_default());
        }
    }
    if let Some(parts) = schema.get("allOf").and_then(|parts| parts.as_array()) {
        for part in parts {
            check_value(part, value, at, depth + 1, problems);
        }
    }
    if let Some(expected) = declared_type(schema)
        && !expected.iter().any(|ty| is_type(value, ty))
    {
        problems.push(Problem {
            at: at.to_string(),
            message: format!("must be {} (got {})", expected.join(" or "), kind(value)),
        });
        return;
    }
    match value {
        Value::Object(fields) => {
            if let Some(required) = schema.get("required").and_then(|names| names.as_array()) {
                for name in required.iter().filter_map(|name| name.as_str()) {
                    if !fields.contains_key(name)
                        && !read_only(schema, name, 0)
                        && !SERVER_ASSIGNED.contains(&name)
                    {
                        problems.push(Problem {
                            at: format!("{at}.{name}"),
                            message: "is required".to_string(),
                        });
                    }
                }
            }
            if let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) {
                for (name, property) in properties {
                    if let Some(field) = fields.get(name.as_ref()) {
                        check_value(
                            property,
                            field,
                            &format!("{at}.{name}"),
                            depth + 1,
                            problems,
                        );
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for (index, element) in items.iter().take(MAX_ELEMENTS).enumerate() {
                    check_value(
                        item,
                        element,
                        &format!("{at}[{index}]"),
                        depth + 1,
                        problems,
                    );
                }
            }
        }
        _ => {}
    }
}

/// Whether the property `name` is read-only where `schema`, its `allOf` parts or its
/// `oneOf`/`anyOf` shapes define it.
fn read_only(schema: &Node, name: &str, depth: usize) -> bool {
    if depth > 4 {
        return false;
    }
    let flagged = schema
        .get("properties")
        .and_then(|properties| properties.get(name))
        .and_then(|property| property.get("readOnly"))
        .is_some_and(|flag| matches!(flag.as_ref(), Node::Bool(true)));
    flagged
        || ["allOf", "oneOf", "anyOf"].iter().any(|key| {
            schema
                .get(key)
                .and_then(|parts| parts.as_array())
                .is_some_and(|parts| parts.iter().any(|part| read_only(part, name, depth + 1)))
        })
}

/// The types a schema names, if it names any.
fn declared_type(schema: &Node) -> Option<Vec<&str>> {
    match schema.get("type")?.as_ref() {
        Node::String(ty) => Some(vec![ty.as_ref()]),
        Node::Array(types) => Some(types.iter().filter_map(|ty| ty.as_str()).collect()),
        _ => None,
    }
}

/// Whether a schema's `type` lists `ty`.
fn allows_type(schema: &Node, ty: &str) -> bool {
    declared_type(schema).is_some_and(|types| types.contains(&ty))
}

/// Whether `value` is of the JSON Schema type `ty`.
fn is_type(value: &Value, ty: &str) -> bool {
    match ty {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|n| n.fract() == 0.0)
        }
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// A value as a message quotes it, cut short.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}
