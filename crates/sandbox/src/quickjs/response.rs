//! Turns an API envelope into JavaScript values directly, consuming it as it goes: no JSON
//! text is made and parsed again, and each part of the envelope is freed once converted.

use rquickjs::object::Property;
use rquickjs::{Array, Ctx, Object, Value};
use serde_json::Value as Json;

/// `json` as JavaScript values. Object keys are defined, not assigned, so a key such as
/// `__proto__` stays a plain key, as `JSON.parse` keeps it.
pub(crate) fn to_js<'js>(ctx: &Ctx<'js>, json: Json) -> rquickjs::Result<Value<'js>> {
    Ok(match json {
        Json::Null => Value::new_null(ctx.clone()),
        Json::Bool(flag) => Value::new_bool(ctx.clone(), flag),
        Json::Number(number) => match number.as_i64().and_then(|int| i32::try_from(int).ok()) {
            Some(int) => Value::new_int(ctx.clone(), int),
            None => Value::new_float(ctx.clone(), number.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(text) => rquickjs::String::from_str(ctx.clone(), &text)?.into_value(),
        Json::Array(items) => {
            let array = Array::new(ctx.clone())?;
            for (index, item) in items.into_iter().enumerate() {
                array.set(index, to_js(ctx, item)?)?;
            }
            array.into_value()
        }
        Json::Object(fields) => {
            let object = Object::new(ctx.clone())?;
            for (key, field) in fields {
                let value = to_js(ctx, field)?;
                object.prop(
                    key.as_str(),
                    Property::from(value).enumerable().writable().configurable(),
                )?;
            }
            object.into_value()
        }
    })
}
