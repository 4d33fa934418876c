//! Builds the frozen JavaScript object graph of the spec view, once per runtime.

use std::collections::HashMap;
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
        done: HashMap::new(),
    };
    match view.as_object() {
        Some(fields) if !extra.is_empty() => {
            let root = Object::new(ctx.clone())?;
            for (key, field) in fields {
                root.prop(key.as_ref(), converter.property(field)?)?;
            }
            for (key, field) in extra {
                root.prop(key, Property::from(field).enumerable())?;
            }
            converter.freeze.call::<_, ()>((root.clone(),))?;
            Ok(root.into_value())
        }
        _ => converter.convert(view),
    }
}

struct Converter<'c, 'js> {
    ctx: &'c Ctx<'js>,
    freeze: Function<'js>,
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
                array.into_value()
            }
            Node::Object(fields) => {
                let object = Object::new(ctx)?;
                for (key, field) in fields {
                    object.prop(key.as_ref(), self.property(field)?)?;
                }
                object.into_value()
            }
        };
        if value.is_object() {
            self.freeze.call::<_, ()>((value.clone(),))?;
        }
        self.done.insert(Arc::as_ptr(node), value.clone());
        Ok(value)
    }

    /// A node as an object's property: defined, not assigned, so a key such as `__proto__`
    /// stays a plain key.
    fn property(&mut self, node: &Arc<Node>) -> rquickjs::Result<Property<Value<'js>>> {
        Ok(Property::from(self.convert(node)?)
            .enumerable()
            .writable()
            .configurable())
    }
}

/// A JSON number as a JavaScript number: an integer when it fits, a double otherwise.
fn number_value<'js>(ctx: Ctx<'js>, number: &serde_json::Number) -> Value<'js> {
    match number.as_i64().and_then(|int| i32::try_from(int).ok()) {
        Some(int) => Value::new_int(ctx, int),
        None => Value::new_float(ctx, number.as_f64().unwrap_or(f64::NAN)),
    }
}
