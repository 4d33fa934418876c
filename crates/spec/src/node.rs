//! A JSON tree whose subtrees may be shared: every resolved `$ref` points at one node.

use std::sync::Arc;

use serde::{Serialize, Serializer};

/// A JSON value whose children are reference-counted, so a schema reused in many places
/// is held once in memory.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// JSON `null`.
    Null,
    /// JSON `true` / `false`.
    Bool(bool),
    /// A JSON number, kept exactly as written.
    Number(serde_json::Number),
    /// A JSON string.
    String(Arc<str>),
    /// A JSON array.
    Array(Vec<Arc<Node>>),
    /// A JSON object, keys in document order.
    Object(Vec<(Arc<str>, Arc<Node>)>),
}

impl Node {
    /// The value of `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Arc<Node>> {
        self.as_object()?
            .iter()
            .find_map(|(name, value)| (name.as_ref() == key).then_some(value))
    }

    /// The text, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(text) => Some(text),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Arc<Node>]> {
        match self {
            Node::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members in order, if this is an object.
    pub fn as_object(&self) -> Option<&[(Arc<str>, Arc<Node>)]> {
        match self {
            Node::Object(fields) => Some(fields),
            _ => None,
        }
    }

    /// The `$ref` a `{"$circular": "#/..."}` marker stands for, if this is one: the place a
    /// reference cycle was cut.
    pub fn circular_target(&self) -> Option<&str> {
        match self.as_object()?.first() {
            Some((key, target)) if key.as_ref() == CIRCULAR_KEY => target.as_str(),
            _ => None,
        }
    }

    /// Expands into a plain JSON value, copying shared subtrees at every place they appear
    /// (for tests and small specs: the expansion can be far larger than the node).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Node::Null => serde_json::Value::Null,
            Node::Bool(flag) => serde_json::Value::Bool(*flag),
            Node::Number(number) => serde_json::Value::Number(number.clone()),
            Node::String(text) => serde_json::Value::String(text.to_string()),
            Node::Array(items) => items.iter().map(|item| item.to_json()).collect(),
            Node::Object(fields) => fields
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

/// The key of the marker that replaces a `$ref` whose target is already being resolved.
pub const CIRCULAR_KEY: &str = "$circular";

impl Serialize for Node {
    /// Writes the node as JSON, expanding shared subtrees, without building an intermediate value.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => serializer.serialize_unit(),
            Node::Bool(flag) => serializer.serialize_bool(*flag),
            Node::Number(number) => number.serialize(serializer),
            Node::String(text) => serializer.serialize_str(text),
            Node::Array(items) => serializer.collect_seq(items),
            Node::Object(fields) => {
                serializer.collect_map(fields.iter().map(|(key, value)| (key, value)))
            }
        }
    }
}
