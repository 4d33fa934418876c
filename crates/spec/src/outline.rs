//! `spec.op`: one operation in a form an agent reads at a glance: its parameters one line
//! each, and its request body and success response as TypeScript types, cut to a bounded size.
//!
//! The request body leaves out read-only fields and lists as required only the fields that
//! remain; `allOf` parts are merged, and a `oneOf` of many object shapes is shown as one
//! object whose fields hold the union of the shapes' types.

use std::sync::Arc;

use serde::Serialize;

use crate::node::Node;
use crate::operation::{Method, Operation};

/// The most characters a rendered body or response type takes; deeper levels are cut to `…`
/// until it fits.
const TYPE_CHARS: usize = 900;

/// The deepest nesting a type is rendered to.
const MAX_DEPTH: usize = 6;

/// The most characters of a parameter's description.
const DESCRIPTION_CHARS: usize = 100;

/// Union members shown before the rest are cut to `…`.
const UNION_MEMBERS: usize = 4;

/// Enum values shown before the rest are cut to `…`.
const ENUM_VALUES: usize = 12;

/// Properties of one object shown before the rest are cut to `…`.
const PROPERTIES: usize = 24;

/// Fields the server assigns: never required in a request body, even where a spec shares one
/// schema between request and response and lists them as required.
pub(crate) const SERVER_ASSIGNED: [&str; 5] = [
    "id",
    "created_on",
    "modified_on",
    "created_at",
    "updated_at",
];

/// One operation, compactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outline {
    /// The method.
    pub method: Method,
    /// The path template.
    pub path: String,
    /// The summary (empty when the spec gives none).
    pub summary: String,
    /// Every parameter, path-level ones first.
    pub parameters: Vec<ParameterLine>,
    /// The JSON request body as a TypeScript type, if the operation takes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The success response as a TypeScript type, if the spec describes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

/// One parameter of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterLine {
    /// Its name.
    pub name: String,
    /// Where it goes: `path`, `query` or `header`.
    #[serde(rename = "in")]
    pub location: String,
    /// Whether the operation requires it.
    pub required: bool,
    /// Its type, in TypeScript.
    #[serde(rename = "type")]
    pub ty: String,
    /// The first line of its description, cut short.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// The outline of `operation`, whose view node is `node`.
pub(crate) fn outline(operation: &Operation, node: &Node) -> Outline {
    let text = |key: &str| {
        node.get(key)
            .and_then(|value| value.as_str())
            .unwrap_or("")
            .to_string()
    };
    let parameters = node
        .get("parameters")
        .and_then(|list| list.as_array())
        .unwrap_or(&[])
        .iter()
        .filter_map(|parameter| parameter_line(parameter))
        .collect();
    let body = node
        .get("requestBody")
        .and_then(|body| json_schema(body))
        .map(|schema| fitted(schema, Direction::Request));
    let response = node
        .get("responses")
        .and_then(|responses| responses.as_object())
        .and_then(|responses| {
            responses
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .and_then(|(_, response)| json_schema(response))
        })
        .map(|schema| fitted(schema, Direction::Response));
    Outline {
        method: operation.method,
        path: operation.path.clone(),
        summary: text("summary"),
        parameters,
        body,
        response,
    }
}

/// A parameter as one line, if it has a name and a place.
fn parameter_line(parameter: &Node) -> Option<ParameterLine> {
    let name = parameter.get("name")?.as_str()?.to_string();
    let location = parameter.get("in")?.as_str()?.to_string();
    let schema = parameter.get("schema");
    let required = location == "path"
        || parameter
            .get("required")
            .is_some_and(|flag| matches!(flag.as_ref(), Node::Bool(true)));
    let description = parameter
        .get("description")
        .or_else(|| schema.and_then(|schema| schema.get("description")))
        .and_then(|text| text.as_str())
        .map(one_line)
        .unwrap_or_default();
    let ty = schema.map_or_else(
        || "string".to_string(),
        |schema| Renderer::new(Direction::Request, 2).render(schema, 0),
    );
    Some(ParameterLine {
        name,
        location,
        required,
        ty,
        description,
    })
}

/// The schema of a body or response's JSON content (or its only content).
fn json_schema(holder: &Node) -> Option<&Arc<Node>> {
    let content = holder.get("content")?.as_object()?;
    content
        .iter()
        .find(|(media, _)| media.contains("json"))
        .or_else(|| content.first())
        .and_then(|(_, media)| media.get("schema"))
}

/// The first line of a description, cut to [`DESCRIPTION_CHARS`].
fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    cut(line.trim(), DESCRIPTION_CHARS)
}

/// `text` cut to `limit` characters, ending in `…` when cut.
fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Whether a type describes what is sent or what comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Sent: read-only fields are left out.
    Request,
    /// Received: write-only fields are left out.
    Response,
}

/// The deepest rendering of `schema` that fits in [`TYPE_CHARS`].
fn fitted(schema: &Node, direction: Direction) -> String {
    let mut shallowest = String::new();
    for depth in (1..=MAX_DEPTH).rev() {
        let rendered = Renderer::new(direction, depth).render(schema, 0);
        if rendered.chars().count() <= TYPE_CHARS {
            return rendered;
        }
        shallowest = rendered;
    }
    cut(&shallowest, TYPE_CHARS)
}

/// Renders schemas as TypeScript types to a depth.
struct Renderer {
    direction: Direction,
    depth: usize,
}

/// An object schema's parts, with `allOf` merged.
#[derive(Default)]
struct ObjectParts<'n> {
    properties: Vec<(&'n str, &'n Arc<Node>)>,
    required: Vec<&'n str>,
    additional: Option<&'n Arc<Node>>,
}

impl Renderer {
    fn new(direction: Direction, depth: usize) -> Renderer {
        Renderer { direction, depth }
    }

    /// The TypeScript type of `schema` at nesting `level`.
    fn render(&self, schema: &Node, level: usize) -> String {
        if schema.circular_target().is_some() {
            return "…".to_string();
        }
        let nullable = schema
            .get("nullable")
            .is_some_and(|flag| matches!(flag.as_ref(), Node::Bool(true)));
        let rendered = self.render_inner(schema, level);
        if nullable && rendered != "unknown" {
            format!("{rendered} | null")
        } else {
            rendered
        }
    }

    fn render_inner(&self, schema: &Node, level: usize) -> String {
        if let Some(values) = schema.get("enum").and_then(|values| values.as_array()) {
            return literals(values);
        }
        if let Some(constant) = schema.get("const") {
            return literals(std::slice::from_ref(constant));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(variants) = schema.get(key).and_then(|variants| variants.as_array()) {
                return self.union(schema, variants, level);
            }
        }
        if is_object(schema) {
            if level >= self.depth {
                return "{ … }".to_string();
            }
            let mut parts = ObjectParts::default();
            collect(schema, &mut parts);
            return self.object(&parts, level);
        }
        if let Some(parts) = schema.get("allOf").and_then(|parts| parts.as_array())
            && let Some(first) = parts.first()
        {
            return self.render(first, level);
        }
        match schema.get("type").map(|ty| ty.as_ref()) {
            Some(Node::String(ty)) => self.primitive(schema, ty, level),
            Some(Node::Array(types)) => {
                let names: Vec<String> = types
                    .iter()
                    .filter_map(|ty| ty.as_str())
                    .map(|ty| self.primitive(schema, ty, level))
                    .collect();
                names.join(" | ")
            }
            _ => "unknown".to_string(),
        }
    }

    fn primitive(&self, schema: &Node, ty: &str, level: usize) -> String {
        match ty {
            "string" => "string".to_string(),
            "integer" | "number" => "number".to_string(),
            "boolean" => "boolean".to_string(),
            "null" => "null".to_string(),
            "array" => {
                if level >= self.depth {
                    return "…[]".to_string();
                }
                let item = schema.get("items").map_or_else(
                    || "unknown".to_string(),
                    |items| self.render(items, level + 1),
                );
                if item.contains(' ') && !item.starts_with('{') {
                    format!("({item})[]")
                } else {
                    format!("{item}[]")
                }
            }
            "object" => "Record<string, unknown>".to_string(),
            _ => "unknown".to_string(),
        }
    }

    /// A `oneOf`/`anyOf`: many object shapes merge into one object, others join with `|`.
    fn union(&self, schema: &Node, variants: &[Arc<Node>], level: usize) -> String {
        let objects = variants.iter().all(|variant| is_object(variant));
        if objects && variants.len() > UNION_MEMBERS {
            if level >= self.depth {
                return "{ … }".to_string();
            }
            let mut merged = ObjectParts::default();
            collect_own(schema, &mut merged);
            let mut shared_required: Option<Vec<&str>> = None;
            for variant in variants {
                let mut parts = ObjectParts::default();
                collect(variant, &mut parts);
                for (name, property) in parts.properties {
                    merged.properties.push((name, property));
                }
                shared_required = Some(match shared_required {
                    None => parts.required,
                    Some(required) => required
                        .into_iter()
                        .filter(|name| parts.required.contains(name))
                        .collect(),
                });
            }
            merged.required.extend(shared_required.unwrap_or_default());
            return format!(
                "{} /* one of {} shapes */",
                self.object(&merged, level),
                variants.len()
            );
        }
        let mut members: Vec<String> = Vec::new();
        for variant in variants.iter() {
            let member = self.render(variant, level);
            if !members.contains(&member) {
                members.push(member);
            }
        }
        if members.len() > 1 {
            members.retain(|member| member != "unknown");
        }
        if members.len() > UNION_MEMBERS {
            members.truncate(UNION_MEMBERS);
            members.push("…".to_string());
        }
        members.join(" | ")
    }

    /// An object type from merged parts; a property listed more than once (by several
    /// shapes) shows the union of its types.
    fn object(&self, parts: &ObjectParts<'_>, level: usize) -> String {
        let mut fields: Vec<(&str, Vec<String>)> = Vec::new();
        for (name, property) in &parts.properties {
            if self.hidden(property) {
                continue;
            }
            let ty = self.render(property, level + 1);
            match fields.iter_mut().find(|(field, _)| field == name) {
                Some((_, types)) => {
                    if !types.contains(&ty) {
                        types.push(ty);
                    }
                }
                None => fields.push((name, vec![ty])),
            }
        }
        let extra = parts
            .additional
            .filter(|additional| additional.as_object().is_some())
            .map(|additional| self.render(additional, level + 1));
        if fields.is_empty() {
            return format!("Record<string, {}>", extra.as_deref().unwrap_or("unknown"));
        }
        let shown = fields.len().min(PROPERTIES);
        let total = fields.len();
        let mut out = String::from("{ ");
        for (name, types) in &mut fields[..shown] {
            let name: &str = name;
            let required = parts.required.contains(&name)
                && !(self.direction == Direction::Request && SERVER_ASSIGNED.contains(&name));
            let optional = if required { "" } else { "?" };
            if types.len() > 1 {
                types.retain(|ty| ty != "unknown");
            }
            let literal = types.iter().all(|ty| ty.starts_with('"'));
            let cap = if literal { ENUM_VALUES } else { UNION_MEMBERS };
            let ty = if types.len() > cap {
                format!("{} | …", types[..cap].join(" | "))
            } else {
                types.join(" | ")
            };
            out.push_str(&format!("{}{optional}: {ty}; ", key(name)));
        }
        if total > shown {
            out.push_str(&format!("/* {} more */ ", total - shown));
        }
        if let Some(extra) = extra {
            out.push_str(&format!("[key: string]: {extra}; "));
        }
        out.push('}');
        out
    }

    /// Whether a property is left out in this direction.
    fn hidden(&self, property: &Node) -> bool {
        let flag = match self.direction {
            Direction::Request => "readOnly",
            Direction::Response => "writeOnly",
        };
        property
            .get(flag)
            .is_some_and(|value| matches!(value.as_ref(), Node::Bool(true)))
    }
}

/// Whether a schema describes an object (by type, properties or `allOf` of objects).
fn is_object(schema: &Node) -> bool {
    if schema.get("properties").is_some() {
        return true;
    }
    if schema.get("type").and_then(|ty| ty.as_str()) == Some("object")
        && schema.get("oneOf").is_none()
        && schema.get("anyOf").is_none()
    {
        return true;
    }
    schema
        .get("allOf")
        .and_then(|parts| parts.as_array())
        .is_some_and(|parts| parts.iter().any(|part| is_object(part)))
}

/// Collects an object schema's own parts and those of its `allOf`.
fn collect<'n>(schema: &'n Node, parts: &mut ObjectParts<'n>) {
    collect_own(schema, parts);
    if let Some(all) = schema.get("allOf").and_then(|all| all.as_array()) {
        for part in all {
            collect(part, parts);
        }
    }
}

/// Collects the parts written on the schema itself.
fn collect_own<'n>(schema: &'n Node, parts: &mut ObjectParts<'n>) {
    if let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) {
        for (name, property) in properties {
            parts.properties.push((name, property));
        }
    }
    if let Some(required) = schema.get("required").and_then(|r| r.as_array()) {
        parts
            .required
            .extend(required.iter().filter_map(|name| name.as_str()));
    }
    if let Some(additional) = schema.get("additionalProperties") {
        parts.additional = Some(additional);
    }
}

/// Enum values as TypeScript literals.
fn literals(values: &[Arc<Node>]) -> String {
    let mut shown: Vec<String> = values
        .iter()
        .take(ENUM_VALUES)
        .map(|value| serde_json::to_string(value.as_ref()).unwrap_or_default())
        .collect();
    if values.len() > ENUM_VALUES {
        shown.push("…".to_string());
    }
    if shown.is_empty() {
        "never".to_string()
    } else {
        shown.join(" | ")
    }
}

/// A property name as a TypeScript key: bare when it is an identifier, quoted otherwise.
fn key(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if bare {
        name.to_string()
    } else {
        serde_json::to_string(name).unwrap_or_default()
    }
}
