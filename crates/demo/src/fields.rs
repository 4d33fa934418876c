//! The JSON body of a request and its fields, each refused with the API's wording.

use codemode_upstream::PreparedRequest;
use serde_json::{Map, Value};

use crate::reply::{ApiError, code, invalid};

/// The body as a JSON object, or a 400 saying what is wrong with it.
pub(crate) fn body_object(request: &PreparedRequest) -> Result<Map<String, Value>, ApiError> {
    let Some(body) = &request.body else {
        return Err(invalid(
            code::INVALID_BODY,
            "Request body is required: send a JSON object",
        ));
    };
    if !body.content_type.to_ascii_lowercase().contains("json") {
        return Err(invalid(
            code::INVALID_BODY,
            format!("Request body must be JSON, not {}", body.content_type),
        ));
    }
    match serde_json::from_slice(&body.bytes) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(invalid(
            code::INVALID_BODY,
            "Request body is invalid: expected a JSON object",
        )),
    }
}

/// Refuses a body with a field outside `allowed`.
pub(crate) fn only_fields(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(invalid(
            code::INVALID_BODY,
            format!("Unknown field {unknown:?}; allowed: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn wrong_type(key: &str, expected: &str) -> ApiError {
    invalid(code::INVALID_BODY, format!("{key} must be {expected}"))
}

/// The string `key` holds, if any.
pub(crate) fn optional_string(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(wrong_type(key, "a string")),
    }
}

/// The string `key` must hold.
pub(crate) fn required_string(body: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    optional_string(body, key)?
        .ok_or_else(|| invalid(code::INVALID_BODY, format!("{key} is required")))
}

/// The boolean `key` holds, if any.
pub(crate) fn optional_bool(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<bool>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong_type(key, "a boolean")),
    }
}

/// The non-negative whole number `key` holds, if any.
pub(crate) fn optional_integer(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<u64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }) {
            Some(n) => Ok(Some(n)),
            None => Err(wrong_type(key, "a non-negative whole number")),
        },
    }
}
