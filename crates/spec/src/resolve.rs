//! Turns source values into the shared node DAG, resolving every `$ref` path by path: a target
//! appears in full wherever it is referenced, and only a `$ref` to a target that is already
//! being resolved further up the same path (a true cycle) is replaced by a circular marker.
//!
//! The resolution of a target is computed once per distinct context and shared. A target's
//! resolution can only depend on which members of its own strongly connected component are
//! being resolved above it: anything above it that it also reaches must reach it back. So the
//! memo key is the target plus those members, which is always empty for a target outside a
//! multi-member cycle.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::SpecError;
use crate::node::{CIRCULAR_KEY, Node};
use crate::pointer::Location;
use crate::refs::{RefGraph, RefId};

/// The deepest nesting allowed in the view, counting each `$ref` followed as a level.
pub(crate) const MAX_DEPTH: usize = 256;

/// The most distinct nodes a spec may resolve to (Cloudflare's resolves to about 140,000);
/// only reference cycles that are densely interconnected come near it.
pub(crate) const MAX_NODES: usize = 2_000_000;

/// The members of an object node, in order.
type Members = Vec<(Arc<str>, Arc<Node>)>;

/// A resolved subtree and how many levels it spans below where it was resolved.
#[derive(Clone)]
struct Resolved {
    node: Arc<Node>,
    height: usize,
}

/// Resolves values of one document against its [`RefGraph`].
pub(crate) struct Resolver<'g, 'v> {
    graph: &'g RefGraph<'v>,
    memo: HashMap<(RefId, Box<[RefId]>), Resolved>,
    stack: Vec<RefId>,
    on_stack: Vec<bool>,
    keys: HashMap<&'v str, Arc<str>>,
    nodes: usize,
}

impl<'g, 'v> Resolver<'g, 'v> {
    /// A resolver with nothing resolved yet.
    pub(crate) fn new(graph: &'g RefGraph<'v>) -> Self {
        Resolver {
            graph,
            memo: HashMap::new(),
            stack: Vec::new(),
            on_stack: vec![false; graph.len()],
            keys: HashMap::new(),
            nodes: 0,
        }
    }

    /// Resolves `value`, found at `at`, which the view places `depth` levels deep.
    pub(crate) fn resolve(
        &mut self,
        value: &'v Value,
        at: &Location<'_>,
        depth: usize,
    ) -> Result<Arc<Node>, SpecError> {
        Ok(self.resolve_value(value, at, depth)?.node)
    }

    /// A shared copy of an object key.
    pub(crate) fn key(&mut self, key: &'v str) -> Arc<str> {
        self.keys
            .entry(key)
            .or_insert_with(|| Arc::from(key))
            .clone()
    }

    /// Wraps a node built by the view, counting it against the node budget.
    pub(crate) fn node(&mut self, node: Node) -> Result<Arc<Node>, SpecError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(SpecError::TooLarge { limit: MAX_NODES });
        }
        Ok(Arc::new(node))
    }

    fn resolve_value(
        &mut self,
        value: &'v Value,
        at: &Location<'_>,
        depth: usize,
    ) -> Result<Resolved, SpecError> {
        if depth > MAX_DEPTH {
            return Err(SpecError::TooDeep {
                location: at.to_string(),
                limit: MAX_DEPTH,
            });
        }
        let (node, height) = match value {
            Value::Null => (Node::Null, 1),
            Value::Bool(flag) => (Node::Bool(*flag), 1),
            Value::Number(number) => (Node::Number(number.clone()), 1),
            Value::String(text) => (Node::String(Arc::from(text.as_str())), 1),
            Value::Array(items) => {
                let mut height = 0;
                let mut children = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let child = self.resolve_value(item, &Location::Index(at, index), depth + 1)?;
                    height = height.max(child.height);
                    children.push(child.node);
                }
                (Node::Array(children), height + 1)
            }
            Value::Object(fields) => match fields.get("$ref") {
                Some(Value::String(reference)) => {
                    return self.resolve_ref(reference, fields, at, depth);
                }
                _ => {
                    let (fields, height) = self.resolve_fields(fields.iter(), at, depth)?;
                    (Node::Object(fields), height + 1)
                }
            },
        };
        Ok(Resolved {
            node: self.node(node)?,
            height,
        })
    }

    /// Resolves object members as children at `depth + 1`, returning them and their height.
    fn resolve_fields(
        &mut self,
        fields: impl Iterator<Item = (&'v String, &'v Value)>,
        at: &Location<'_>,
        depth: usize,
    ) -> Result<(Members, usize), SpecError> {
        let mut height = 0;
        let mut resolved = Vec::with_capacity(fields.size_hint().0);
        for (key, value) in fields {
            let child = self.resolve_value(value, &Location::Key(at, key), depth + 1)?;
            height = height.max(child.height);
            resolved.push((self.key(key), child.node));
        }
        Ok((resolved, height))
    }

    /// Resolves an object holding a `$ref`: the target itself when the `$ref` stands alone,
    /// otherwise a copy of the target object with the sibling members merged over it (siblings
    /// of a target that is not an object have nothing to merge into and are dropped).
    fn resolve_ref(
        &mut self,
        reference: &'v str,
        fields: &'v Map<String, Value>,
        at: &Location<'_>,
        depth: usize,
    ) -> Result<Resolved, SpecError> {
        let id = self
            .graph
            .id(reference)
            .ok_or_else(|| SpecError::RefNotFound {
                reference: reference.to_string(),
                location: at.to_string(),
            })?;
        let target = if self.on_stack[id] {
            self.circular_marker(reference)?
        } else {
            self.resolve_target(id, at, depth + 1)?
        };
        let target_fields = match target.node.as_ref() {
            Node::Object(target_fields) if fields.len() > 1 => target_fields,
            _ => {
                return Ok(Resolved {
                    node: target.node,
                    height: target.height + 1,
                });
            }
        };
        let siblings = fields.iter().filter(|(key, _)| key.as_str() != "$ref");
        let (siblings, sibling_height) = self.resolve_fields(siblings, at, depth)?;
        let mut merged = target_fields.clone();
        for (key, value) in siblings {
            match merged.iter_mut().find(|(name, _)| *name == key) {
                Some(member) => member.1 = value,
                None => merged.push((key, value)),
            }
        }
        let height = target.height.max(sibling_height) + 1;
        Ok(Resolved {
            node: self.node(Node::Object(merged))?,
            height,
        })
    }

    /// The resolution of a target that is not on the stack, computed once per context.
    fn resolve_target(
        &mut self,
        id: RefId,
        at: &Location<'_>,
        depth: usize,
    ) -> Result<Resolved, SpecError> {
        let context: Box<[RefId]> = if self.graph.in_shared_cycle(id) {
            let mut members: Vec<RefId> = self
                .stack
                .iter()
                .copied()
                .filter(|&above| self.graph.same_cycle(id, above))
                .collect();
            members.sort_unstable();
            members.into()
        } else {
            Box::default()
        };
        let key = (id, context);
        if let Some(done) = self.memo.get(&key) {
            if depth + done.height > MAX_DEPTH + 1 {
                return Err(SpecError::TooDeep {
                    location: at.to_string(),
                    limit: MAX_DEPTH,
                });
            }
            return Ok(done.clone());
        }
        let target = self.graph.target(id);
        self.stack.push(id);
        self.on_stack[id] = true;
        let resolved =
            self.resolve_value(target.value, &Location::Pointer(target.reference), depth);
        self.stack.pop();
        self.on_stack[id] = false;
        let resolved = resolved?;
        self.memo.insert(key, resolved.clone());
        Ok(resolved)
    }

    /// The `{"$circular": "#/..."}` marker that cuts a true cycle.
    fn circular_marker(&mut self, reference: &'v str) -> Result<Resolved, SpecError> {
        let target = self.node(Node::String(Arc::from(reference)))?;
        let key = self.key(CIRCULAR_KEY);
        let marker = self.node(Node::Object(vec![(key, target)]))?;
        Ok(Resolved {
            node: marker,
            height: 2,
        })
    }
}
