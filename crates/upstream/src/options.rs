//! Reads the options agent code passes to `cloudflare.request` into a checked request.

use std::str::FromStr;

use bytes::Bytes;
use codemode_spec::Method;
use codemode_spec::operation::UnknownMethod;
use serde_json::{Map, Value};

use crate::path_guard::{GuardedPath, PathError};
use crate::upstream::RequestBody;

/// The keys `cloudflare.request` accepts.
pub const OPTION_KEYS: [&str; 6] = ["method", "path", "query", "body", "contentType", "rawBody"];

/// The content type of a `body` sent without `contentType`.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// The content type of a `rawBody` sent without `contentType`.
pub const RAW_CONTENT_TYPE: &str = "application/octet-stream";

/// The longest accepted `contentType`, in bytes.
const MAX_CONTENT_TYPE_LEN: usize = 256;

/// How many characters of a refused value an error message quotes.
const QUOTED_CHARS: usize = 120;

/// One request as agent code described it, after every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOptions {
    /// The method.
    pub method: Method,
    /// The path, relative to the API base.
    pub path: GuardedPath,
    /// Query parameters in order; a key repeats for each array element.
    pub query: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<RequestBody>,
}

/// Why the options were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// The options are not an object.
    #[error(
        "request options must be an object like {{method: \"GET\", path: \"/zones\"}}, got {0}"
    )]
    NotAnObject(&'static str),
    /// A key other than the six known ones.
    #[error(
        "unknown option {0:?}; the options are method, path, query, body, contentType, rawBody"
    )]
    UnknownKey(String),
    /// A required key is absent.
    #[error("missing option `{0}`")]
    Missing(&'static str),
    /// A key holds the wrong kind of value.
    #[error("`{key}` must be {expected}, got {got}")]
    WrongType {
        /// The option.
        key: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was.
        got: &'static str,
    },
    /// The method is not one of the five.
    #[error(transparent)]
    Method(#[from] UnknownMethod),
    /// The path was refused.
    #[error("refused path {path:?}: {source}")]
    Path {
        /// The path (shortened when long).
        path: String,
        /// Why.
        source: PathError,
    },
    /// A query parameter cannot be encoded.
    #[error("query parameter {key:?}: {reason}")]
    Query {
        /// The parameter name (shortened when long).
        key: String,
        /// Why.
        reason: &'static str,
    },
    /// `contentType` is not a media type.
    #[error(
        "`contentType` {0:?} is not a media type such as \"application/json\" or \
         \"multipart/form-data; boundary=...\""
    )]
    ContentType(String),
    /// `rawBody: true` without a string `body`.
    #[error("with `rawBody: true`, `body` must be a string (the exact text to send), got {0}")]
    RawBodyNotString(&'static str),
}

impl RequestOptions {
    /// Checks the options of one `cloudflare.request` call.
    pub fn parse(options: &Value) -> Result<RequestOptions, OptionsError> {
        let Value::Object(map) = options else {
            return Err(OptionsError::NotAnObject(kind(options)));
        };
        if let Some(key) = map.keys().find(|k| !OPTION_KEYS.contains(&k.as_str())) {
            return Err(OptionsError::UnknownKey(quote(key)));
        }
        let method = Method::from_str(required_str(map, "method")?)?;
        let path = required_str(map, "path")?;
        let path = GuardedPath::parse(path).map_err(|source| OptionsError::Path {
            path: quote(path),
            source,
        })?;
        let query = match map.get("query") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(params)) => encode_query(params)?,
            Some(other) => {
                return Err(OptionsError::WrongType {
                    key: "query",
                    expected: "an object of parameter names to values",
                    got: kind(other),
                });
            }
        };
        Ok(RequestOptions {
            method,
            path,
            query,
            body: body(map)?,
        })
    }
}

fn required_str<'a>(
    map: &'a Map<String, Value>,
    key: &'static str,
) -> Result<&'a str, OptionsError> {
    match map.get(key) {
        None | Some(Value::Null) => Err(OptionsError::Missing(key)),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(OptionsError::WrongType {
            key,
            expected: "a string",
            got: kind(other),
        }),
    }
}

/// Query pairs: `null` skipped, arrays as repeated keys, scalars as text, objects refused.
fn encode_query(params: &Map<String, Value>) -> Result<Vec<(String, String)>, OptionsError> {
    let mut pairs = Vec::with_capacity(params.len());
    for (key, value) in params {
        let refuse = |reason| OptionsError::Query {
            key: quote(key),
            reason,
        };
        if key.is_empty() {
            return Err(refuse("the parameter name is empty"));
        }
        if key.chars().any(char::is_control) {
            return Err(refuse(
                "the name contains a control character (CR, LF, NUL, ...)",
            ));
        }
        let values: &[Value] = match value {
            Value::Array(items) => items,
            single => std::slice::from_ref(single),
        };
        for item in values {
            if let Some(text) = query_text(item).map_err(refuse)? {
                pairs.push((key.clone(), text));
            }
        }
    }
    Ok(pairs)
}

/// The text of one query value, `None` for null.
fn query_text(value: &Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(number_text(n))),
        Value::String(s) if s.chars().any(char::is_control) => {
            Err("the value contains a control character (CR, LF, NUL, ...)")
        }
        Value::String(s) => Ok(Some(s.clone())),
        Value::Array(_) => Err("arrays inside arrays are not supported; flatten the values"),
        Value::Object(_) => Err(
            "nested objects are not supported; use the API's flat parameter name, \
             e.g. {\"account.id\": \"...\"}",
        ),
    }
}

/// A number as JavaScript prints it: `5`, not `5.0`.
fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
            format!("{f:.0}")
        }
        _ => n.to_string(),
    }
}

/// The body: JSON unless `rawBody`, with `contentType` or the matching default.
fn body(map: &Map<String, Value>) -> Result<Option<RequestBody>, OptionsError> {
    let raw = match map.get("rawBody") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(raw)) => *raw,
        Some(other) => {
            return Err(OptionsError::WrongType {
                key: "rawBody",
                expected: "a boolean",
                got: kind(other),
            });
        }
    };
    let content_type = match map.get("contentType") {
        None | Some(Value::Null) => None,
        Some(Value::String(ct)) => Some(checked_content_type(ct)?),
        Some(other) => {
            return Err(OptionsError::WrongType {
                key: "contentType",
                expected: "a string",
                got: kind(other),
            });
        }
    };
    let body = map.get("body").filter(|b| !b.is_null());
    match (body, raw) {
        (None, false) => Ok(None),
        (Some(Value::String(text)), true) => Ok(Some(RequestBody {
            content_type: content_type.unwrap_or_else(|| RAW_CONTENT_TYPE.to_string()),
            bytes: Bytes::from(text.clone()),
        })),
        (other, true) => Err(OptionsError::RawBodyNotString(
            other.map_or("nothing", kind),
        )),
        (Some(json), false) => Ok(Some(RequestBody {
            content_type: content_type.unwrap_or_else(|| JSON_CONTENT_TYPE.to_string()),
            bytes: Bytes::from(json.to_string()),
        })),
    }
}

/// Accepts `type/subtype` with optional `; parameters`, printable ASCII only.
fn checked_content_type(ct: &str) -> Result<String, OptionsError> {
    let refuse = || OptionsError::ContentType(quote(ct));
    if ct.len() > MAX_CONTENT_TYPE_LEN || !ct.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(refuse());
    }
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, subtype)) if is_token(kind) && is_token(subtype) => Ok(ct.trim().to_string()),
        _ => Err(refuse()),
    }
}

/// A JSON value's kind, as an error message names it.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for an error message, shortened when long.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(options: Value) -> RequestOptions {
        RequestOptions::parse(&options).expect("valid options")
    }

    fn refuse(options: Value) -> OptionsError {
        RequestOptions::parse(&options).expect_err("options should be refused")
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn method_is_case_insensitive_and_one_of_five() {
        assert_eq!(
            parse(json!({"method": "patch", "path": "/zones/a"})).method,
            Method::Patch
        );
        assert!(matches!(
            refuse(json!({"method": "TRACE", "path": "/zones"})),
            OptionsError::Method(_)
        ));
        assert_eq!(
            refuse(json!({"path": "/zones"})),
            OptionsError::Missing("method")
        );
        assert_eq!(
            refuse(json!({"method": "GET"})),
            OptionsError::Missing("path")
        );
        assert!(matches!(
            refuse(json!({"method": 1, "path": "/zones"})),
            OptionsError::WrongType { key: "method", .. }
        ));
    }

    #[test]
    fn unknown_keys_and_non_objects_are_refused() {
        let error = refuse(json!({"method": "GET", "path": "/zones", "headers": {}}));
        assert_eq!(error, OptionsError::UnknownKey("headers".into()));
        assert!(error.to_string().contains("contentType"));
        assert_eq!(
            refuse(json!("GET /zones")),
            OptionsError::NotAnObject("a string")
        );
    }

    #[test]
    fn query_values_are_encoded_like_the_api_expects() {
        let options = parse(json!({
            "method": "GET",
            "path": "/zones",
            "query": {
                "name": "example.com",
                "per_page": 5,
                "page": 2.0,
                "ratio": 0.5,
                "paused": false,
                "skipped": null,
                "tag": ["a", null, 3, true],
                "account.id": "abc"
            }
        }));
        assert_eq!(
            options.query,
            pairs(&[
                ("name", "example.com"),
                ("per_page", "5"),
                ("page", "2"),
                ("ratio", "0.5"),
                ("paused", "false"),
                ("tag", "a"),
                ("tag", "3"),
                ("tag", "true"),
                ("account.id", "abc"),
            ])
        );
    }

    #[test]
    fn unencodable_query_values_are_refused() {
        for query in [
            json!({"account": {"id": "x"}}),
            json!({"tag": [["a"]]}),
            json!({"name": "a\r\nb"}),
            json!({"na\nme": "a"}),
            json!({"": "a"}),
        ] {
            let error = refuse(json!({"method": "GET", "path": "/zones", "query": query}));
            assert!(matches!(error, OptionsError::Query { .. }), "{error}");
        }
        assert!(matches!(
            refuse(json!({"method": "GET", "path": "/zones", "query": "a=b"})),
            OptionsError::WrongType { key: "query", .. }
        ));
    }

    #[test]
    fn bodies_are_json_unless_raw() {
        let json_body =
            parse(json!({"method": "POST", "path": "/zones", "body": {"name": "a.com"}}));
        assert_eq!(
            json_body.body,
            Some(RequestBody {
                content_type: JSON_CONTENT_TYPE.into(),
                bytes: Bytes::from_static(br#"{"name":"a.com"}"#),
            })
        );
        let raw = parse(json!({
            "method": "PUT",
            "path": "/x",
            "body": "--b\r\nvalue\r\n--b--",
            "rawBody": true,
            "contentType": "multipart/form-data; boundary=b"
        }));
        assert_eq!(
            raw.body,
            Some(RequestBody {
                content_type: "multipart/form-data; boundary=b".into(),
                bytes: Bytes::from_static(b"--b\r\nvalue\r\n--b--"),
            })
        );
        let raw_default =
            parse(json!({"method": "PUT", "path": "/x", "body": "v", "rawBody": true}));
        assert_eq!(
            raw_default.body.map(|b| b.content_type),
            Some(RAW_CONTENT_TYPE.to_string())
        );
        assert_eq!(
            parse(json!({"method": "GET", "path": "/x", "body": null})).body,
            None
        );
    }

    #[test]
    fn bad_bodies_and_content_types_are_refused() {
        assert_eq!(
            refuse(json!({"method": "PUT", "path": "/x", "body": {"a": 1}, "rawBody": true})),
            OptionsError::RawBodyNotString("an object")
        );
        assert_eq!(
            refuse(json!({"method": "PUT", "path": "/x", "rawBody": true})),
            OptionsError::RawBodyNotString("nothing")
        );
        for ct in [
            "text/plain\r\nX-Evil: 1",
            "text/plain\0",
            "",
            "json",
            "text/",
            "te xt/plain",
            "text/pl\u{e9}in",
        ] {
            let error =
                refuse(json!({"method": "PUT", "path": "/x", "body": "v", "contentType": ct}));
            assert!(
                matches!(error, OptionsError::ContentType(_)),
                "{ct:?}: {error}"
            );
        }
    }

    #[test]
    fn refused_paths_name_the_path_and_the_reason() {
        let error = refuse(json!({"method": "GET", "path": "https://evil.example/"}));
        assert!(matches!(
            error,
            OptionsError::Path {
                source: PathError::NotRooted,
                ..
            }
        ));
        assert!(error.to_string().contains("https://evil.example/"));
        let long = format!("/{}", "a".repeat(5000));
        let message = refuse(json!({"method": "GET", "path": long})).to_string();
        assert!(message.len() < 400, "{message}");
    }
}
