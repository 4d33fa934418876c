//! Parses a spec's bytes, JSON or YAML, and checks that it is an OpenAPI 3.0 or 3.1 document.

use serde_json::Value;

use crate::error::SpecError;

/// Parses JSON or YAML: a document whose first character is `{` or `[` is JSON, anything else
/// is YAML.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, SpecError> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = text.iter().copied().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{' | b'[')) {
        serde_json::from_slice(text).map_err(SpecError::Json)
    } else {
        serde_yaml::from_slice(text).map_err(SpecError::Yaml)
    }
}

/// Checks the document's top level and returns its `openapi` version.
pub(crate) fn openapi_version(root: &Value) -> Result<&str, SpecError> {
    let Value::Object(fields) = root else {
        return Err(SpecError::NotAnObject { found: kind(root) });
    };
    if let Some(version) = fields.get("swagger") {
        let version = match version {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        return Err(SpecError::Swagger { version });
    }
    let version = match fields.get("openapi") {
        None => return Err(SpecError::MissingField { field: "openapi" }),
        Some(Value::String(version)) => version.as_str(),
        Some(_) => {
            return Err(SpecError::InvalidField {
                location: "#/openapi".to_string(),
                expected: "a version string such as \"3.1.0\"",
            });
        }
    };
    let supported = ["3.0", "3.1"].iter().any(|minor| {
        version == *minor
            || version
                .strip_prefix(minor)
                .is_some_and(|rest| rest.starts_with('.'))
    });
    if supported {
        Ok(version)
    } else {
        Err(SpecError::UnsupportedVersion {
            version: version.to_string(),
        })
    }
}

/// The API's title from `info.title`, if the spec gives one.
pub(crate) fn title(root: &Value) -> Option<&str> {
    root.get("info")?.get("title")?.as_str()
}

/// The first server's URL (`servers[0].url`) with each `{variable}` replaced by its default,
/// if the spec names a server; `None` also when a variable has no default.
pub(crate) fn server_url(root: &Value) -> Option<String> {
    let server = root.get("servers")?.get(0)?;
    let mut url = server.get("url")?.as_str()?.to_string();
    if let Some(Value::Object(variables)) = server.get("variables") {
        for (name, variable) in variables {
            let default = variable.get("default")?.as_str()?;
            url = url.replace(&format!("{{{name}}}"), default);
        }
    }
    (!url.is_empty() && !url.contains('{')).then_some(url)
}

/// A JSON type name with its article, for error messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
