//! What the demo answers: Cloudflare envelopes, error codes and pagination.

use bytes::Bytes;
use codemode_upstream::RawResponse;
use serde::Serialize;
use serde_json::{Value, json};

use crate::query::Page;

/// Error codes, as the Cloudflare API uses them.
pub(crate) mod code {
    pub(crate) const INVALID_REQUEST: u32 = 1001;
    pub(crate) const ZONE_EXISTS: u32 = 1061;
    pub(crate) const INVALID_ZONE_NAME: u32 = 1099;
    pub(crate) const PURGE_TARGET_MISSING: u32 = 1012;
    pub(crate) const PURGE_TOO_MANY_FILES: u32 = 1015;
    pub(crate) const NO_ROUTE: u32 = 7000;
    pub(crate) const METHOD_NOT_ALLOWED: u32 = 7001;
    pub(crate) const UNKNOWN_OBJECT: u32 = 7003;
    pub(crate) const DNS_NAME_INVALID: u32 = 9000;
    pub(crate) const DNS_NOT_PROXIABLE: u32 = 9004;
    pub(crate) const DNS_CONTENT_INVALID: u32 = 9005;
    pub(crate) const DNS_TYPE_INVALID: u32 = 9007;
    pub(crate) const DNS_TTL_INVALID: u32 = 9020;
    pub(crate) const INVALID_BODY: u32 = 9207;
    pub(crate) const KV_KEY_NOT_FOUND: u32 = 10009;
    pub(crate) const KV_NAMESPACE_NOT_FOUND: u32 = 10013;
    pub(crate) const KV_TITLE_EXISTS: u32 = 10014;
    pub(crate) const KV_INVALID: u32 = 10019;
    pub(crate) const DNS_RECORD_NOT_FOUND: u32 = 81044;
    pub(crate) const DNS_RECORD_EXISTS: u32 = 81057;
}

/// A failed request: HTTP status, Cloudflare error code, message.
pub(crate) struct ApiError {
    status: u16,
    code: u32,
    message: String,
}

/// A handler's answer: a response, or the error to wrap in a failure envelope.
pub(crate) type Reply = Result<RawResponse, ApiError>;

/// An error with this status, code and message.
pub(crate) fn error(status: u16, code: u32, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

/// A 400 with this code and message.
pub(crate) fn invalid(code: u32, message: impl Into<String>) -> ApiError {
    error(400, code, message)
}

/// The 404 of an id that names nothing.
pub(crate) fn unknown_object(path: &str) -> ApiError {
    error(
        404,
        code::UNKNOWN_OBJECT,
        format!("Could not route to {path}, perhaps your object identifier is invalid?"),
    )
}

/// A page of `items`, with `result_info`.
pub(crate) fn paginated<T: Serialize>(items: &[T], page: Page) -> Reply {
    let total = items.len() as u64;
    let start = (page.page - 1).saturating_mul(page.per_page).min(total) as usize;
    let end = (start as u64 + page.per_page).min(total) as usize;
    let shown = &items[start..end];
    let info = json!({
        "page": page.page,
        "per_page": page.per_page,
        "count": shown.len(),
        "total_count": total,
        "total_pages": total.div_ceil(page.per_page),
    });
    Ok(envelope_reply(200, to_json(shown), Some(info)))
}

/// A success envelope around `result`.
pub(crate) fn success<T: Serialize + ?Sized>(result: &T) -> Reply {
    Ok(envelope_reply(200, to_json(result), None))
}

/// The failure envelope of `error`.
pub(crate) fn failure(error: ApiError) -> RawResponse {
    let body = json!({
        "success": false,
        "errors": [{"code": error.code, "message": error.message}],
        "messages": [],
        "result": null,
    });
    json_response(error.status, &body)
}

/// A success envelope with this status and optional `result_info`.
pub(crate) fn envelope_reply(
    status: u16,
    result: Value,
    result_info: Option<Value>,
) -> RawResponse {
    let mut body = json!({"success": true, "errors": [], "messages": [], "result": result});
    if let (Some(info), Some(fields)) = (result_info, body.as_object_mut()) {
        fields.insert("result_info".into(), info);
    }
    json_response(status, &body)
}

fn json_response(status: u16, body: &Value) -> RawResponse {
    RawResponse {
        status,
        content_type: Some("application/json".into()),
        retry_after: None,
        headers: Vec::new(),
        body: Bytes::from(body.to_string()),
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
