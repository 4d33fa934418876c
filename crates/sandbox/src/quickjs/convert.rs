//! Builds the frozen JavaScript object graph of the spec view, once per runtime.
//!
//! Objects are born frozen rather than frozen once built: their properties are defined
//! read-only and then the object is made non-extensible, so objects with the same keys share
//! one QuickJS shape. `Object.freeze` on a built object gives it a shape of its own, which on
//! a large spec doubles what every cycle collection walks and what each worker holds.
//!
//! Nodes are built level by level, deepest first ([`deepest_first`]), not depth first: QuickJS
//! allocates in that order, so the objects a search walks top-down (the paths, each path's
//! operations, their tags and summaries) end up next to each other in memory instead of each
//! between its own bulky subtrees, and a walk over every operation touches a few hundred
//! kilobytes instead of the whole heap.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use codemode_spec::Node;
use rquickjs::object::Property;
use rquickjs::{Array, Ctx, Function, Object, Value};

/// The view as frozen JavaScript values, with `extra` fields added to its root object. Every
/// shared node (a resolved `$ref`) becomes one shared object, so the graph is as small as the
/// view and never expanded.
pub(crate) fn to_js<'js>(
    ctx: &Ctx<'js>,
    view: &Arc<Node>,
    extra: Vec<(&str, Value<'js>)>,
) -> rquickjs::Result<Value<'js>> {
    let object: Object = ctx.globals().get("Object")?;
    let mut converter = Converter {
        ctx,
        freeze: object.get("freeze")?,
        prevent_extensions: object.get("preventExtensions")?,
        done: HashMap::new(),
    };
    for node in deepest_first(view) {
        converter.convert(node)?;
    }
    match view.as_object() {
        Some(fields) if !extra.is_empty() => {
            let root = Object::new(ctx.clone())?;
            for (key, field) in fields {
                root.prop(key.as_ref(), converter.property(field)?)?;
            }
            for (key, field) in extra {
                root.prop(key, Property::from(field).enumerable())?;
            }
            converter
                .prevent_extensions
                .call::<_, ()>((root.clone(),))?;
            Ok(root.into_value())
        }
        _ => converter.convert(view),
    }
}

struct Converter<'c, 'js> {
    ctx: &'c Ctx<'js>,
    /// `Object.freeze`, for arrays: their elements only become read-only this way.
    freeze: Function<'js>,
    /// `Object.preventExtensions`, for objects whose properties are already read-only.
    prevent_extensions: Function<'js>,
    done: HashMap<*const Node, Value<'js>>,
}

impl<'js> Converter<'_, 'js> {
    fn convert(&mut self, node: &Arc<Node>) -> rquickjs::Result<Value<'js>> {
        if let Some(value) = self.done.get(&Arc::as_ptr(node)) {
            return Ok(value.clone());
        }
        let ctx = self.ctx.clone();
        let value = match node.as_ref() {
            Node::Null => return Ok(Value::new_null(ctx)),
            Node::Bool(flag) => return Ok(Value::new_bool(ctx, *flag)),
            Node::Number(number) => return Ok(number_value(ctx, number)),
            Node::String(text) => rquickjs::String::from_str(ctx, text)?.into_value(),
            Node::Array(items) => {
                let array = Array::new(ctx)?;
                for (index, item) in items.iter().enumerate() {
                    array.set(index, self.convert(item)?)?;
                }
                self.freeze.call::<_, ()>((array.clone(),))?;
                array.into_value()
            }
            Node::Object(fields) => {
                let object = Object::new(ctx)?;
                for (key, field) in fields {
                    object.prop(key.as_ref(), self.property(field)?)?;
                }
                self.prevent_extensions.call::<_, ()>((object.clone(),))?;
                object.into_value()
            }
        };
        self.done.insert(Arc::as_ptr(node), value.clone());
        Ok(value)
    }

    /// A node as an object's property, read-only from the start: defined, not assigned, so
    /// a key such as `__proto__` stays a plain key.
    fn property(&mut self, node: &Arc<Node>) -> rquickjs::Result<Property<Value<'js>>> {
        Ok(Property::from(self.convert(node)?).enumerable())
    }
}

/// Every node below the root that QuickJS allocates (strings, arrays, objects), once each,
/// grouped by the depth a breadth-first walk first reaches it at, deepest group first, each
/// group in the order it was reached. A node's children are deeper than the depth it was
/// first reached at, or already reached: either way they are built first or on demand.
fn deepest_first(view: &Arc<Node>) -> Vec<&Arc<Node>> {
    let mut seen = HashSet::from([Arc::as_ptr(view)]);
    let mut levels: Vec<Vec<&Arc<Node>>> = Vec::new();
    let mut level = vec![view];
    while !level.is_empty() {
        let mut next = Vec::new();
        for &node in &level {
            let children: Box<dyn Iterator<Item = &Arc<Node>>> = match node.as_ref() {
                Node::Array(items) => Box::new(items.iter()),
                Node::Object(fields) => Box::new(fields.iter().map(|(_, field)| field)),
                _ => continue,
            };
            for child in children {
                let allocates = matches!(
                    child.as_ref(),
                    Node::String(_) | Node::Array(_) | Node::Object(_)
                );
                if allocates && seen.insert(Arc::as_ptr(child)) {
                    next.push(child);
                }
            }
        }
        levels.push(std::mem::replace(&mut level, next));
    }
    levels.into_iter().skip(1).rev().flatten().collect()
}

/// A JSON number as a JavaScript number: an integer when it fits, a double otherwise.
fn number_value<'js>(ctx: Ctx<'js>, number: &serde_json::Number) -> Value<'js> {
    match number.as_i64().and_then(|int| i32::try_from(int).ok()) {
        Some(int) => Value::new_int(ctx, int),
        None => Value::new_float(ctx, number.as_f64().unwrap_or(f64::NAN)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Runtime};

    fn text(value: &str) -> Arc<Node> {
        Arc::new(Node::String(value.into()))
    }

    #[test]
    fn each_level_is_built_together_deepest_first() {
        let operation = |summary: &str| {
            let response = Node::Object(vec![("description".into(), text("ok"))]);
            let responses = Node::Object(vec![("200".into(), Arc::new(response))]);
            Arc::new(Node::Object(vec![
                ("summary".into(), text(summary)),
                ("responses".into(), Arc::new(responses)),
            ]))
        };
        let (one, two, three) = (operation("one"), operation("two"), operation("three"));
        let item = |methods: Vec<(&str, &Arc<Node>)>| {
            let methods = methods
                .into_iter()
                .map(|(method, op)| (method.into(), op.clone()));
            Arc::new(Node::Object(methods.collect()))
        };
        let paths = Node::Object(vec![
            ("/a".into(), item(vec![("get", &one), ("post", &two)])),
            ("/b".into(), item(vec![("get", &three)])),
        ]);
        let view = Arc::new(Node::Object(vec![("paths".into(), Arc::new(paths))]));
        let order = deepest_first(&view);
        let at = |node: &Arc<Node>| order.iter().position(|built| Arc::ptr_eq(built, node));
        let (one, two, three) = (at(&one), at(&two), at(&three));
        assert!(one.is_some() && two == one.map(|at| at + 1) && three == one.map(|at| at + 2));
        let paths = view.get("paths").expect("the paths");
        assert!(order.last().is_some_and(|last| Arc::ptr_eq(last, paths)));
        assert!(at(&view).is_none(), "the root is built by to_js itself");
        let unique: HashSet<_> = order.iter().map(|node| Arc::as_ptr(node)).collect();
        assert_eq!(unique.len(), order.len());
    }

    #[test]
    fn objects_with_the_same_keys_share_one_shape_and_stay_frozen() {
        let operations = (0..1_000)
            .map(|index| {
                let operation = Node::Object(vec![
                    ("summary".into(), text(&format!("Operation {index}"))),
                    ("operationId".into(), text(&format!("operation-{index}"))),
                ]);
                (format!("/things/{index}").into(), Arc::new(operation))
            })
            .collect();
        let view = Arc::new(Node::Object(vec![(
            "paths".into(),
            Arc::new(Node::Object(operations)),
        )]));
        let runtime = Runtime::new().expect("a runtime");
        let context = Context::full(&runtime).expect("a context");
        let before = runtime.memory_usage().shape_count;
        context.with(|ctx| {
            let spec = to_js(&ctx, &view, Vec::new()).expect("the view converts");
            ctx.globals().set("spec", spec).expect("spec is set");
            let frozen: bool = ctx
                .eval(
                    "Object.isFrozen(spec) && Object.isFrozen(spec.paths) && \
                     Object.values(spec.paths).every(operation => Object.isFrozen(operation))",
                )
                .expect("the check runs");
            assert!(frozen);
        });
        let shapes = runtime.memory_usage().shape_count - before;
        assert!(shapes < 50, "{shapes} new shapes for 1,002 objects");
    }
}
