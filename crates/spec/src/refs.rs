//! The `$ref` graph the view needs: every target it reaches, located once, and the
//! strongly connected components (reference cycles) among them.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::SpecError;
use crate::pointer::{self, Location};

/// Index of a `$ref` target in a [`RefGraph`].
pub(crate) type RefId = usize;

/// One `$ref` target.
#[derive(Debug)]
pub(crate) struct Target<'v> {
    /// The `$ref` value as written, e.g. `#/components/schemas/Zone`.
    pub(crate) reference: &'v str,
    /// The value it points at.
    pub(crate) value: &'v Value,
    /// The targets its value refers to directly.
    refs: Vec<RefId>,
    /// Its strongly connected component.
    component: usize,
}

/// Collects the targets reachable from the values the view is built from.
pub(crate) struct RefScan<'v> {
    root: &'v Value,
    targets: Vec<Target<'v>>,
    ids: HashMap<&'v str, RefId>,
    pending: Vec<RefId>,
}

impl<'v> RefScan<'v> {
    /// Starts an empty scan of the document `root`.
    pub(crate) fn new(root: &'v Value) -> Self {
        RefScan {
            root,
            targets: Vec::new(),
            ids: HashMap::new(),
            pending: Vec::new(),
        }
    }

    /// Adds every target `value` reaches, directly or through other targets; `at` is where
    /// `value` sits, for errors.
    pub(crate) fn add(&mut self, value: &'v Value, at: &Location<'_>) -> Result<(), SpecError> {
        self.scan(value, at, &mut Vec::new())?;
        while let Some(id) = self.pending.pop() {
            let target = &self.targets[id];
            let (reference, value) = (target.reference, target.value);
            let mut refs = Vec::new();
            self.scan(value, &Location::Pointer(reference), &mut refs)?;
            self.targets[id].refs = refs;
        }
        Ok(())
    }

    /// Finishes the scan by finding the reference cycles.
    pub(crate) fn finish(mut self) -> RefGraph<'v> {
        let edges: Vec<&[RefId]> = self.targets.iter().map(|t| t.refs.as_slice()).collect();
        let (components, count) = strongly_connected(&edges);
        let mut component_sizes = vec![0; count];
        for (target, component) in self.targets.iter_mut().zip(components) {
            target.component = component;
            component_sizes[component] += 1;
        }
        RefGraph {
            targets: self.targets,
            ids: self.ids,
            component_sizes,
        }
    }

    /// Records the targets referred to inside `value` (not following them) into `refs`.
    fn scan(
        &mut self,
        value: &'v Value,
        at: &Location<'_>,
        refs: &mut Vec<RefId>,
    ) -> Result<(), SpecError> {
        match value {
            Value::Object(fields) => {
                let reference = fields.get("$ref").and_then(Value::as_str);
                if let Some(reference) = reference {
                    refs.push(self.intern(reference, at)?);
                }
                for (key, child) in fields {
                    if key != "$ref" || reference.is_none() {
                        self.scan(child, &Location::Key(at, key), refs)?;
                    }
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.scan(item, &Location::Index(at, index), refs)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The id of `reference`'s target, locating it the first time it is seen.
    fn intern(&mut self, reference: &'v str, at: &Location<'_>) -> Result<RefId, SpecError> {
        if let Some(&id) = self.ids.get(reference) {
            return Ok(id);
        }
        let value = pointer::target(self.root, reference, at)?;
        let id = self.targets.len();
        self.targets.push(Target {
            reference,
            value,
            refs: Vec::new(),
            component: 0,
        });
        self.ids.insert(reference, id);
        self.pending.push(id);
        Ok(id)
    }
}

/// The `$ref` targets the view reaches and how they form cycles.
#[derive(Debug)]
pub(crate) struct RefGraph<'v> {
    targets: Vec<Target<'v>>,
    ids: HashMap<&'v str, RefId>,
    component_sizes: Vec<usize>,
}

impl<'v> RefGraph<'v> {
    /// The id of a scanned `$ref`.
    pub(crate) fn id(&self, reference: &str) -> Option<RefId> {
        self.ids.get(reference).copied()
    }

    /// The target with this id.
    pub(crate) fn target(&self, id: RefId) -> &Target<'v> {
        &self.targets[id]
    }

    /// The number of targets.
    pub(crate) fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether `id` shares a cycle with another target, so that how it resolves depends on
    /// which of those targets are already being resolved above it.
    pub(crate) fn in_shared_cycle(&self, id: RefId) -> bool {
        self.component_sizes[self.targets[id].component] > 1
    }

    /// Whether two targets lie on a common cycle.
    pub(crate) fn same_cycle(&self, a: RefId, b: RefId) -> bool {
        self.targets[a].component == self.targets[b].component
    }

    /// The distinct reference cycles: each strongly connected group of targets that refer to
    /// one another (or a target that refers to itself), members sorted.
    pub(crate) fn cycles(&self) -> Vec<Vec<String>> {
        let mut members: HashMap<usize, Vec<String>> = HashMap::new();
        for (id, target) in self.targets.iter().enumerate() {
            let cyclic = self.component_sizes[target.component] > 1 || target.refs.contains(&id);
            if cyclic {
                members
                    .entry(target.component)
                    .or_default()
                    .push(target.reference.to_string());
            }
        }
        let mut cycles: Vec<Vec<String>> = members.into_values().collect();
        for cycle in &mut cycles {
            cycle.sort();
        }
        cycles.sort();
        cycles
    }
}

/// The number of `$ref` members anywhere in `value`.
pub(crate) fn count_refs(value: &Value) -> usize {
    match value {
        Value::Object(fields) => {
            let own = usize::from(fields.get("$ref").is_some_and(Value::is_string));
            own + fields.values().map(count_refs).sum::<usize>()
        }
        Value::Array(items) => items.iter().map(count_refs).sum(),
        _ => 0,
    }
}

/// Tarjan's algorithm without recursion: the component of every node, and the number of
/// components.
fn strongly_connected(edges: &[&[RefId]]) -> (Vec<usize>, usize) {
    let nodes = edges.len();
    let mut order: Vec<Option<usize>> = vec![None; nodes];
    let mut low = vec![0; nodes];
    let mut on_stack = vec![false; nodes];
    let mut stack = Vec::new();
    let mut components = vec![0; nodes];
    let mut count = 0;
    let mut next = 0;
    for start in 0..nodes {
        if order[start].is_some() {
            continue;
        }
        order[start] = Some(next);
        low[start] = next;
        next += 1;
        stack.push(start);
        on_stack[start] = true;
        let mut calls = vec![(start, 0)];
        while let Some((node, edge)) = calls.last_mut() {
            let node = *node;
            if let Some(&child) = edges[node].get(*edge) {
                *edge += 1;
                match order[child] {
                    None => {
                        order[child] = Some(next);
                        low[child] = next;
                        next += 1;
                        stack.push(child);
                        on_stack[child] = true;
                        calls.push((child, 0));
                    }
                    Some(child_order) if on_stack[child] => low[node] = low[node].min(child_order),
                    Some(_) => {}
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if Some(low[node]) == order[node] {
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    components[member] = count;
                    if member == node {
                        break;
                    }
                }
                count += 1;
            }
        }
    }
    (components, count)
}

#[cfg(test)]
mod tests {
    use super::strongly_connected;

    #[test]
    fn components_group_cycles_and_leave_chains_apart() {
        // 0 -> 1 -> 2 -> 0 is a cycle; 3 -> 3 a self-loop; 4 -> 0 a chain into the cycle.
        let edges: Vec<&[usize]> = vec![&[1], &[2], &[0], &[3], &[0]];
        let (components, count) = strongly_connected(&edges);
        assert_eq!(count, 3);
        assert_eq!(components[0], components[1]);
        assert_eq!(components[1], components[2]);
        assert_ne!(components[3], components[0]);
        assert_ne!(components[4], components[0]);
        assert_ne!(components[4], components[3]);
    }

    #[test]
    fn long_chains_do_not_recurse() {
        let targets: Vec<[usize; 1]> = (0..200_000).map(|i| [i + 1]).collect();
        let mut edges: Vec<&[usize]> = targets.iter().map(|t| t.as_slice()).collect();
        edges.push(&[0]);
        let (components, count) = strongly_connected(&edges);
        assert_eq!(count, 1);
        assert!(components.iter().all(|&c| c == 0));
    }
}
