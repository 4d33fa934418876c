//! Turns any API response into the envelope agent code reads, with every credential
//! scrubbed: Cloudflare's `{success, status, result, errors, messages, result_info?}`, or the
//! generic `{ok, status, headers, data}` of any other API.

use serde_json::{Map, Value, json};

use crate::credential::Credential;
use crate::scrub::scrub_value;
use crate::upstream::RawResponse;

/// How many of the API's errors a summary names.
const SUMMARY_ERRORS: usize = 5;

/// How many characters of one error message, or of a non-JSON body, a summary quotes.
const SUMMARY_CHARS: usize = 300;

/// Which envelope an upstream's responses become.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EnvelopeShape {
    /// Cloudflare's contract: see [`envelope`].
    #[default]
    Cloudflare,
    /// Any other API's: see [`generic_envelope`].
    Generic,
}

impl EnvelopeShape {
    /// The envelope of `response` in this shape, scrubbed of each of `secrets`.
    pub fn envelope(
        self,
        response: RawResponse,
        secrets: &[Credential],
    ) -> Result<Value, MalformedBody> {
        match self {
            EnvelopeShape::Cloudflare => envelope(response, secrets),
            EnvelopeShape::Generic => generic_envelope(response, secrets),
        }
    }

    /// What the API said in a failed envelope of this shape, as one line.
    pub fn summary(self, envelope: &Value) -> Option<String> {
        match self {
            EnvelopeShape::Cloudflare => error_summary(envelope),
            EnvelopeShape::Generic => body_summary(envelope),
        }
    }
}

/// The generic envelope for a response: `{ok, status, headers, data}`, where `ok` says
/// whether the status is 2xx, `headers` holds the response's headers by lower-case name, and
/// `data` is the parsed JSON body, else its text, else `null` with a `note` for an empty one. A
/// body whose `Content-Type` says JSON but which does not parse is a [`MalformedBody`]. Scrubbed
/// of each of `secrets` as [`envelope`] is.
pub fn generic_envelope(
    response: RawResponse,
    secrets: &[Credential],
) -> Result<Value, MalformedBody> {
    let mut headers = Map::new();
    for (name, value) in &response.headers {
        headers.insert(name.clone(), Value::String(value.clone()));
    }
    let mut envelope = json!({
        "ok": (200..300).contains(&response.status),
        "status": response.status,
        "headers": headers,
        "data": null,
    });
    if response.body.is_empty() {
        envelope["note"] = Value::String(EMPTY_NOTE.into());
    } else {
        let declared = declared_json(response.content_type.as_deref());
        let parsed = match declared {
            Declared::Other => None,
            Declared::Json | Declared::Unsaid => {
                Some(serde_json::from_slice::<Value>(&response.body))
            }
        };
        envelope["data"] = match parsed {
            Some(Ok(data)) => data,
            Some(Err(error)) if declared == Declared::Json => {
                return Err(malformed(&response, &error));
            }
            Some(Err(_)) | None => {
                Value::String(String::from_utf8_lossy(&response.body).into_owned())
            }
        };
    }
    scrub_value(&mut envelope, secrets);
    Ok(envelope)
}

/// A generic envelope's body as one line: its `message` or `error` text, else the body.
fn body_summary(envelope: &Value) -> Option<String> {
    let data = envelope.get("data")?;
    let text = match data {
        Value::Null => return None,
        Value::String(text) => text.trim().to_owned(),
        Value::Object(fields) => match (fields.get("message"), fields.get("error")) {
            (Some(Value::String(text)), _) | (None, Some(Value::String(text))) => text.clone(),
            _ => data.to_string(),
        },
        other => other.to_string(),
    };
    (!text.is_empty()).then(|| shorten(&text))
}

/// How many characters of a body that does not parse its error quotes.
const PREFIX_CHARS: usize = 80;

/// The note an envelope carries when the response had no body.
pub const EMPTY_NOTE: &str = "the API sent an empty body";

/// A body whose `Content-Type` says JSON but which does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "HTTP {status} with Content-Type {content_type}, but the body ({bytes} bytes) is not JSON: \
     {reason}; it begins {prefix}"
)]
pub struct MalformedBody {
    /// The HTTP status.
    pub status: u16,
    /// The declared content type, escaped.
    pub content_type: String,
    /// The body's length.
    pub bytes: usize,
    /// Where and why parsing failed.
    pub reason: String,
    /// The body's first characters, quoted with control and bidi characters escaped.
    pub prefix: String,
}

/// The envelope for a response.
///
/// A Cloudflare envelope passes through with `status` added (and `result`, `errors`, `messages`
/// filled in when absent). Other JSON becomes `result` of an envelope whose `success` says whether
/// the status is 2xx. An empty body becomes `result: null` with a `note` saying the body was
/// empty. A body of another type becomes `{success, status, result: <text>}`; one whose
/// `Content-Type` says JSON but which does not parse is a [`MalformedBody`]. Every string of
/// it, keys, text and error messages included, is then scrubbed of each of `secrets` in every
/// spelling JSON allows (see [`crate::scrub`]), so nothing derived from it can hold one.
///
/// The response is consumed: its bytes are freed as soon as they are parsed.
pub fn envelope(response: RawResponse, secrets: &[Credential]) -> Result<Value, MalformedBody> {
    let mut envelope = parsed(response)?;
    scrub_value(&mut envelope, secrets);
    Ok(envelope)
}

/// The envelope of `response`, as the API sent it.
fn parsed(response: RawResponse) -> Result<Value, MalformedBody> {
    let status = response.status;
    let ok = (200..300).contains(&status);
    if response.body.is_empty() {
        return Ok(
            json!({"success": ok, "status": status, "result": null, "errors": [], "messages": [], "note": EMPTY_NOTE}),
        );
    }
    let declared = declared_json(response.content_type.as_deref());
    let parsed = match declared {
        Declared::Other => None,
        Declared::Json | Declared::Unsaid => Some(serde_json::from_slice::<Value>(&response.body)),
    };
    Ok(match parsed {
        Some(Ok(Value::Object(fields))) if is_envelope(&fields) => pass_through(fields, status),
        Some(Ok(result)) => {
            json!({"success": ok, "status": status, "result": result, "errors": [], "messages": []})
        }
        Some(Err(error)) if declared == Declared::Json => {
            return Err(malformed(&response, &error));
        }
        Some(Err(_)) | None => {
            let text = String::from_utf8_lossy(&response.body);
            json!({"success": ok, "status": status, "result": text})
        }
    })
}

/// The error for a body declared JSON that does not parse, quoting its start.
fn malformed(response: &RawResponse, error: &serde_json::Error) -> MalformedBody {
    let text = String::from_utf8_lossy(&response.body[..response.body.len().min(PREFIX_CHARS * 4)]);
    let start: String = text.chars().take(PREFIX_CHARS).collect();
    let cut = if start.len() < response.body.len() {
        "..."
    } else {
        ""
    };
    MalformedBody {
        status: response.status,
        content_type: format!("{:?}", response.content_type.as_deref().unwrap_or_default()),
        bytes: response.body.len(),
        reason: error.to_string(),
        prefix: format!("{start:?}{cut}"),
    }
}

/// The API's errors in an envelope, as one line: `[10000] Authentication error; ...`.
pub fn error_summary(envelope: &Value) -> Option<String> {
    let listed: Vec<String> = envelope
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(SUMMARY_ERRORS)
        .map(|error| {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_string);
            match error.get("code") {
                Some(code) => format!("[{code}] {}", shorten(&message)),
                None => shorten(&message),
            }
        })
        .collect();
    if !listed.is_empty() {
        return Some(listed.join("; "));
    }
    match envelope.get("result") {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(shorten(text.trim())),
        _ => None,
    }
}

/// What a response's `Content-Type` says about JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    /// A JSON media type (`application/json`, `application/problem+json`, ...).
    Json,
    /// No content type: the body is read as JSON if it parses.
    Unsaid,
    /// Another media type: the body is text.
    Other,
}

fn declared_json(content_type: Option<&str>) -> Declared {
    match content_type {
        None => Declared::Unsaid,
        Some(ct) => {
            let essence = ct.split(';').next().unwrap_or_default();
            if essence.trim().to_ascii_lowercase().ends_with("json") {
                Declared::Json
            } else {
                Declared::Other
            }
        }
    }
}

fn is_envelope(fields: &Map<String, Value>) -> bool {
    fields.get("success").is_some_and(Value::is_boolean)
        && (fields.contains_key("result") || fields.contains_key("errors"))
}

fn pass_through(mut fields: Map<String, Value>, status: u16) -> Value {
    let mut envelope = Map::new();
    envelope.insert(
        "success".into(),
        fields.remove("success").unwrap_or(Value::Bool(false)),
    );
    envelope.insert("status".into(), status.into());
    for (key, default) in [
        ("result", Value::Null),
        ("errors", json!([])),
        ("messages", json!([])),
    ] {
        envelope.insert(key.into(), fields.remove(key).unwrap_or(default));
    }
    fields.remove("status");
    envelope.extend(fields);
    Value::Object(envelope)
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(SUMMARY_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn envelope(response: RawResponse, secrets: &[Credential]) -> Value {
        super::envelope(response, secrets).expect("a well-formed body")
    }

    fn response(status: u16, content_type: Option<&str>, body: &str) -> RawResponse {
        RawResponse {
            status,
            content_type: content_type.map(str::to_string),
            retry_after: None,
            headers: Vec::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn envelopes_pass_through_with_status() {
        let body = r#"{"result":[{"id":"a"}],"success":true,"errors":[],"messages":[],"result_info":{"page":1,"per_page":20,"count":1,"total_count":1}}"#;
        let value = envelope(
            response(200, Some("application/json; charset=utf-8"), body),
            &[],
        );
        assert_eq!(
            value,
            json!({"success": true, "status": 200, "result": [{"id": "a"}], "errors": [], "messages": [],
                   "result_info": {"page": 1, "per_page": 20, "count": 1, "total_count": 1}})
        );
        let keys: Vec<&str> = value
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "success",
                "status",
                "result",
                "errors",
                "messages",
                "result_info"
            ]
        );
    }

    #[test]
    fn failed_envelopes_keep_their_errors() {
        let body = r#"{"success":false,"errors":[{"code":7003,"message":"Could not route"}],"messages":[],"result":null}"#;
        let value = envelope(response(404, Some("application/json"), body), &[]);
        assert_eq!(value["success"], json!(false));
        assert_eq!(value["status"], json!(404));
        assert_eq!(
            error_summary(&value).as_deref(),
            Some("[7003] Could not route")
        );
    }

    #[test]
    fn other_json_is_wrapped() {
        let value = envelope(response(201, None, r#"{"hello":"world"}"#), &[]);
        assert_eq!(
            value,
            json!({"success": true, "status": 201, "result": {"hello": "world"}, "errors": [], "messages": []})
        );
        let array = envelope(
            response(500, Some("application/problem+json"), "[1,2]"),
            &[],
        );
        assert_eq!(array["success"], json!(false));
        assert_eq!(array["result"], json!([1, 2]));
    }

    #[test]
    fn non_json_becomes_text() {
        let value = envelope(
            response(200, Some("application/octet-stream"), "{\"raw\":1}"),
            &[],
        );
        assert_eq!(
            value,
            json!({"success": true, "status": 200, "result": "{\"raw\":1}"})
        );
        let html = envelope(
            response(502, Some("text/html"), "<h1>Bad gateway</h1>"),
            &[],
        );
        assert_eq!(
            html,
            json!({"success": false, "status": 502, "result": "<h1>Bad gateway</h1>"})
        );
        assert_eq!(
            error_summary(&html).as_deref(),
            Some("<h1>Bad gateway</h1>")
        );
        let unsaid = envelope(response(200, None, "{not json"), &[]);
        assert_eq!(unsaid["result"], json!("{not json"));
    }

    #[test]
    fn declared_json_that_does_not_parse_is_an_error_quoting_its_start() {
        let body = format!("{{\"a\": \u{202e}\n{}", "x".repeat(200));
        let error = super::envelope(response(502, Some("application/json"), &body), &[])
            .expect_err("not JSON");
        assert_eq!((error.status, error.bytes), (502, body.len()));
        assert!(error.reason.contains("line 1"), "{}", error.reason);
        assert!(
            error.prefix.starts_with(r#""{\"a\": \u{202e}\n"#) && error.prefix.ends_with("\"..."),
            "{}",
            error.prefix
        );
        let message = error.to_string();
        assert!(
            !message.contains('\u{202e}') && !message.contains('\n'),
            "{message}"
        );
        assert!(message.starts_with("HTTP 502 with Content-Type \"application/json\""));
    }

    #[test]
    fn credentials_are_scrubbed_after_parsing_from_every_part() {
        let token = Credential::new("cf-Tok3n").expect("valid token");
        let secrets = [Credential::new("other-1").expect("valid token"), token];
        let escaped = r"\u0063\u0066-Tok3n";
        let body = format!(
            r#"{{"success":false,"errors":[{{"code":1,"message":"bad {escaped}"}}],
                "result":{{"{escaped}":"Bearer {escaped}","o":"other-1"}}}}"#
        );
        let value = envelope(response(400, Some("application/json"), &body), &secrets);
        assert_eq!(
            value["result"],
            json!({"[redacted]": "Bearer [redacted]", "o": "[redacted]"})
        );
        assert_eq!(error_summary(&value).as_deref(), Some("[1] bad [redacted]"));
        let text = envelope(
            response(200, Some("text/plain"), &format!("auth={escaped}")),
            &secrets,
        );
        assert_eq!(text["result"], json!("auth=[redacted]"));
        assert!(!value.to_string().contains("Tok3n") && !text.to_string().contains("Tok3n"));
    }

    #[test]
    fn generic_envelopes_carry_ok_status_headers_and_data() {
        let token = Credential::new("gh-Tok3n").expect("valid token");
        let mut raw = response(
            404,
            Some("application/json"),
            r#"{"message":"Not Found gh-Tok3n"}"#,
        );
        raw.headers = vec![("x-ratelimit-remaining".into(), "59".into())];
        let value = generic_envelope(raw, std::slice::from_ref(&token)).expect("JSON");
        assert_eq!(
            value,
            json!({"ok": false, "status": 404, "headers": {"x-ratelimit-remaining": "59"},
                   "data": {"message": "Not Found [redacted]"}})
        );
        assert_eq!(
            EnvelopeShape::Generic.summary(&value).as_deref(),
            Some("Not Found [redacted]")
        );
        let empty = generic_envelope(response(204, None, ""), &[]).expect("empty");
        assert_eq!(
            empty,
            json!({"ok": true, "status": 204, "headers": {}, "data": null, "note": EMPTY_NOTE})
        );
        let text = generic_envelope(response(200, Some("text/plain"), "hi"), &[]).expect("text");
        assert_eq!(text["data"], json!("hi"));
    }

    #[test]
    fn empty_bodies_have_a_null_result() {
        assert_eq!(
            envelope(response(204, None, ""), &[]),
            json!({"success": true, "status": 204, "result": null, "errors": [], "messages": [], "note": EMPTY_NOTE})
        );
        let declared = envelope(response(200, Some("application/json"), ""), &[]);
        assert_eq!(
            (&declared["result"], &declared["note"]),
            (&json!(null), &json!(EMPTY_NOTE))
        );
    }
}
