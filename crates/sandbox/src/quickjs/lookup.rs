//! `spec.find(query, options)` and `spec.op(method, path)`: the loaded spec's ranked search and
//! compact operation views, answered in Rust and handed to `search` code as plain JSON.

use std::sync::Arc;

use codemode_spec::{FindOptions, MAX_FIND_LIMIT, Method, Spec};
use rquickjs::function::Opt;
use rquickjs::{Ctx, Exception, Function, Object, Value};
use serde_json::json;

/// The options `spec.find` accepts.
const FIND_OPTIONS: [&str; 4] = ["limit", "method", "product", "api"];

/// The spec's helpers, each a frozen function, as `(name, function)` fields of `spec`.
pub(crate) fn helpers<'js>(
    ctx: &Ctx<'js>,
    spec: &Arc<Spec>,
    api: &str,
) -> rquickjs::Result<Vec<(&'static str, Value<'js>)>> {
    let (found_in, api_name) = (spec.clone(), api.to_owned());
    let find = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, query: Value<'js>, options: Opt<Value<'js>>| {
            find(&ctx, &found_in, &api_name, &query, options.0.as_ref())
        },
    )?;
    let (outlined_in, api_name) = (spec.clone(), api.to_owned());
    let op = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, method: Value<'js>, path: Opt<Value<'js>>| {
            op(&ctx, &outlined_in, &api_name, &method, path.0.as_ref())
        },
    )?;
    let freeze: Function = ctx.globals().get::<_, Object>("Object")?.get("freeze")?;
    let mut fields = Vec::new();
    for (name, function) in [("find", find), ("op", op)] {
        freeze.call::<_, ()>((function.clone(),))?;
        fields.push((name, function.into_value()));
    }
    Ok(fields)
}

/// `spec.find`: up to `limit` operations as `{api, method, path, summary, product}`.
fn find<'js>(
    ctx: &Ctx<'js>,
    spec: &Spec,
    api: &str,
    query: &Value<'js>,
    options: Option<&Value<'js>>,
) -> rquickjs::Result<Value<'js>> {
    let Some(query) = query.as_string().map(|text| text.to_string()).transpose()? else {
        return Err(Exception::throw_type(
            ctx,
            "spec.find(query, options?) takes the task in words, e.g. spec.find('create a DNS record')",
        ));
    };
    let options = find_options(ctx, api, options)?;
    let found: Vec<serde_json::Value> = spec
        .find(&query, &options)
        .into_iter()
        .map(|hit| {
            json!({
                "api": api,
                "method": hit.operation.method,
                "path": hit.operation.path,
                "summary": hit.summary,
                "product": hit.operation.product(),
            })
        })
        .collect();
    ctx.json_parse(serde_json::Value::from(found).to_string())
}

/// Reads `spec.find`'s options, refusing unknown keys and values of the wrong kind.
fn find_options<'js>(
    ctx: &Ctx<'js>,
    api: &str,
    options: Option<&Value<'js>>,
) -> rquickjs::Result<FindOptions> {
    let mut read = FindOptions::default();
    let Some(options) = options.filter(|value| !value.is_undefined() && !value.is_null()) else {
        return Ok(read);
    };
    let Some(options) = options.as_object() else {
        return Err(Exception::throw_type(
            ctx,
            "spec.find's options must be an object such as { limit: 5, method: 'GET' }",
        ));
    };
    for key in options.keys::<String>() {
        let key = key?;
        if !FIND_OPTIONS.contains(&key.as_str()) {
            return Err(Exception::throw_type(
                ctx,
                &format!(
                    "spec.find has no option {key:?}; its options are {}",
                    FIND_OPTIONS.join(", ")
                ),
            ));
        }
    }
    let text = |key: &str| -> rquickjs::Result<Option<String>> {
        let value: Value = options.get(key)?;
        if value.is_undefined() {
            return Ok(None);
        }
        match value.as_string() {
            Some(text) => text.to_string().map(Some),
            None => Err(Exception::throw_type(
                ctx,
                &format!("spec.find's option {key} must be a string"),
            )),
        }
    };
    let limit: Value = options.get("limit")?;
    if !limit.is_undefined() {
        match limit.as_number() {
            Some(limit) if limit >= 1.0 && limit.fract() == 0.0 => {
                read.limit = (limit as usize).min(MAX_FIND_LIMIT);
            }
            _ => {
                return Err(Exception::throw_type(
                    ctx,
                    &format!(
                        "spec.find's option limit must be a whole number from 1 to {MAX_FIND_LIMIT}"
                    ),
                ));
            }
        }
    }
    if let Some(method) = text("method")? {
        read.method = Some(parse_method(ctx, &method)?);
    }
    read.product = text("product")?;
    if let Some(asked) = text("api")?
        && asked != api
    {
        return Err(Exception::throw_type(
            ctx,
            &format!("there is no API named {asked:?} here; the APIs are: {api}"),
        ));
    }
    Ok(read)
}

/// `spec.op`: the compact view of one operation, by method and path (a template or a concrete
/// path), or `"METHOD /path"` as one argument.
fn op<'js>(
    ctx: &Ctx<'js>,
    spec: &Spec,
    api: &str,
    method: &Value<'js>,
    path: Option<&Value<'js>>,
) -> rquickjs::Result<Value<'js>> {
    let usage = "spec.op(method, path) takes a method and a path, e.g. \
                 spec.op('POST', '/zones/{zone_id}/dns_records')";
    let string = |value: &Value<'js>| value.as_string().map(|text| text.to_string()).transpose();
    let first = string(method)?.ok_or_else(|| Exception::throw_type(ctx, usage))?;
    let (method, path) = match path.filter(|value| !value.is_undefined()) {
        Some(path) => (
            first,
            string(path)?.ok_or_else(|| Exception::throw_type(ctx, usage))?,
        ),
        None => match first.split_once(' ') {
            Some((method, path)) => (method.to_owned(), path.trim().to_owned()),
            None => return Err(Exception::throw_type(ctx, usage)),
        },
    };
    let method = parse_method(ctx, &method)?;
    let outline = spec.outline(method, &path).map_err(|unknown| {
        Exception::throw_message(
            ctx,
            &format!("{unknown}; spec.find('what it does') searches by task"),
        )
    })?;
    let mut view = serde_json::Map::new();
    view.insert("api".to_owned(), api.into());
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&outline) {
        view.extend(fields);
    }
    ctx.json_parse(serde_json::Value::Object(view).to_string())
}

/// A method name, or a TypeError naming the five.
fn parse_method(ctx: &Ctx<'_>, method: &str) -> rquickjs::Result<Method> {
    method
        .parse()
        .map_err(|error: codemode_spec::operation::UnknownMethod| {
            Exception::throw_type(ctx, &error.to_string())
        })
}
