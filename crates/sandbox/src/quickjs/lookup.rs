//! `spec.find(query, options)` and `spec.op(method, path)`: the loaded spec's ranked search and
//! compact operation views, answered in Rust and handed to `search` code as plain JSON.

use std::sync::Arc;

use codemode_spec::{FindOptions, MAX_FIND_LIMIT, Method, Spec};
use rquickjs::function::Opt;
use rquickjs::{Ctx, Exception, Function, Object, Value};
use serde_json::json;

/// The options `spec.find` accepts.
const FIND_OPTIONS: [&str; 4] = ["limit", "method", "product", "api"];

/// Every API the server serves, by the name `execute` code reaches it as, the first first.
pub(crate) type Apis = Arc<[(String, Arc<Spec>)]>;

/// The helpers of the spec of `apis[home]`, each a frozen function, as `(name, function)`
/// fields of its view: `find` ranks the operations of every API (or of the one its `api`
/// option names), `op` looks in this API first, then in the others.
pub(crate) fn helpers<'js>(
    ctx: &Ctx<'js>,
    apis: &Apis,
    home: usize,
) -> rquickjs::Result<Vec<(&'static str, Value<'js>)>> {
    let found_in = apis.clone();
    let find = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, query: Value<'js>, options: Opt<Value<'js>>| {
            find(&ctx, &found_in, &query, options.0.as_ref())
        },
    )?;
    let outlined_in = apis.clone();
    let op = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, method: Value<'js>, path: Opt<Value<'js>>| {
            op(&ctx, &outlined_in, home, &method, path.0.as_ref())
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
    apis: &Apis,
    query: &Value<'js>,
    options: Option<&Value<'js>>,
) -> rquickjs::Result<Value<'js>> {
    let Some(query) = query.as_string().map(|text| text.to_string()).transpose()? else {
        return Err(Exception::throw_type(
            ctx,
            "spec.find(query, options?) takes the task in words, e.g. spec.find('create a DNS record')",
        ));
    };
    let (options, only) = find_options(ctx, apis, options)?;
    let mut hits: Vec<(&str, codemode_spec::Found<'_>)> = apis
        .iter()
        .filter(|(name, _)| only.as_ref().is_none_or(|only| only == name))
        .flat_map(|(name, spec)| {
            spec.find(&query, &options)
                .into_iter()
                .map(move |hit| (name.as_str(), hit))
        })
        .collect();
    hits.sort_by(|(_, a), (_, b)| b.score.total_cmp(&a.score));
    hits.truncate(options.limit);
    let found: Vec<serde_json::Value> = hits
        .into_iter()
        .map(|(api, hit)| {
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

/// Reads `spec.find`'s options, refusing unknown keys and values of the wrong kind, and the
/// one API they name, if any.
fn find_options<'js>(
    ctx: &Ctx<'js>,
    apis: &Apis,
    options: Option<&Value<'js>>,
) -> rquickjs::Result<(FindOptions, Option<String>)> {
    let mut read = FindOptions::default();
    let Some(options) = options.filter(|value| !value.is_undefined() && !value.is_null()) else {
        return Ok((read, None));
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
    let only = text("api")?;
    if let Some(asked) = &only
        && !apis.iter().any(|(name, _)| name == asked)
    {
        let names: Vec<&str> = apis.iter().map(|(name, _)| name.as_str()).collect();
        return Err(Exception::throw_type(
            ctx,
            &format!(
                "there is no API named {asked:?} here; the APIs are: {}",
                names.join(", ")
            ),
        ));
    }
    Ok((read, only))
}

/// `spec.op`: the compact view of one operation, by method and path (a template or a concrete
/// path), or `"METHOD /path"` as one argument.
fn op<'js>(
    ctx: &Ctx<'js>,
    apis: &Apis,
    home: usize,
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
    let (home_api, home_spec) = &apis[home];
    let found = home_spec
        .outline(method, &path)
        .map(|outline| (home_api.as_str(), outline));
    let found =
        apis.iter()
            .filter(|(name, _)| name != home_api)
            .fold(found, |found, (name, spec)| {
                found.or_else(|unknown| {
                    spec.outline(method, &path)
                        .map(|outline| (name.as_str(), outline))
                        .map_err(|_| unknown)
                })
            });
    let (api, outline) = found.map_err(|unknown| {
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
