//! A real HTTP server on loopback that plays the API: it records every request and answers by path.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The path prefix the fake API serves under, like Cloudflare's `/client/v4`.
pub const PREFIX: &str = "/client/v4";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The path, without [`PREFIX`].
    pub path: String,
    /// The raw query string.
    pub query: Option<String>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// The fake API's state: what it saw, and the accounts `GET /accounts` lists (`None`: 403).
#[derive(Default)]
pub struct FakeApi {
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    accounts: Mutex<Option<Vec<Value>>>,
}

impl FakeApi {
    /// Starts a server; returns its base URL (with [`PREFIX`]) and its state.
    pub async fn start(accounts: Option<Vec<Value>>) -> (String, Arc<FakeApi>) {
        let api = Arc::new(FakeApi {
            accounts: Mutex::new(accounts),
            ..FakeApi::default()
        });
        let app = Router::new().fallback(handle).with_state(Arc::clone(&api));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}{PREFIX}"), api)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// How many requests reached `path` (without the prefix).
    pub fn hits(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }

    /// The most requests that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

fn envelope(result: Value) -> Value {
    json!({"success": true, "errors": [], "messages": [], "result": result})
}

fn failure(code: u32, message: &str) -> Value {
    json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null})
}

fn json_reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    State(api): State<Arc<FakeApi>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or(uri.path())
        .to_string();
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let seen = Seen {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().map(str::to_string),
        authorization: text(header::AUTHORIZATION),
        content_type: text(header::CONTENT_TYPE),
        body: body.to_vec(),
    };
    let authorization = seen.authorization.clone().unwrap_or_default();
    api.seen.lock().expect("lock").push(seen);
    let hits = api.hits(&path);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["echo"] => json_reply(
            StatusCode::OK,
            json!({"success": true, "errors": [], "messages": [{"code": 1, "message": "hi"}],
                   "result": {"ok": true}, "result_info": {"page": 1, "per_page": 20, "count": 1, "total_count": 1}}),
        ),
        ["reflect-token"] => json_reply(StatusCode::OK, envelope(json!({"seen": authorization}))),
        ["reflect-token", spelling] => reflect_token(spelling, &authorization),
        ["flaky", status, failures] => {
            let failures: usize = failures.parse().expect("failure count");
            if hits <= failures {
                let status = StatusCode::from_u16(status.parse().expect("status")).expect("status");
                let mut reply = json_reply(
                    status,
                    failure(
                        971,
                        "Please wait and consider throttling your request speed",
                    ),
                );
                if status == StatusCode::TOO_MANY_REQUESTS {
                    reply
                        .headers_mut()
                        .insert(header::RETRY_AFTER, "0".parse().expect("header"));
                }
                reply
            } else {
                json_reply(StatusCode::OK, envelope(json!({"attempt": hits})))
            }
        }
        ["retry-after", seconds] => {
            if hits == 1 || *seconds == "3600" {
                let mut reply =
                    json_reply(StatusCode::TOO_MANY_REQUESTS, failure(971, "slow down"));
                reply
                    .headers_mut()
                    .insert(header::RETRY_AFTER, seconds.parse().expect("header"));
                reply
            } else {
                json_reply(StatusCode::OK, envelope(json!({"attempt": hits})))
            }
        }
        ["status", "401"] => json_reply(
            StatusCode::UNAUTHORIZED,
            failure(10000, "Authentication error"),
        ),
        ["status", "403"] => json_reply(
            StatusCode::FORBIDDEN,
            failure(9109, "Unauthorized to access requested resource"),
        ),
        ["text"] => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            "plain words",
        )
            .into_response(),
        ["json"] => json_reply(StatusCode::CREATED, json!({"hello": "world"})),
        ["html-error"] => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<h1>502 Bad Gateway</h1>",
        )
            .into_response(),
        ["redirect"] => (
            StatusCode::FOUND,
            [(header::LOCATION, format!("{PREFIX}/elsewhere"))],
        )
            .into_response(),
        ["slow", millis] => {
            let now = api.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            api.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(millis.parse().expect("millis"))).await;
            api.in_flight.fetch_sub(1, Ordering::SeqCst);
            json_reply(StatusCode::OK, envelope(json!(null)))
        }
        ["big"] => json_reply(StatusCode::OK, envelope(json!("x".repeat(2 << 20)))),
        ["accounts"] => match api.accounts.lock().expect("lock").clone() {
            Some(accounts) => {
                let count = accounts.len();
                let mut body = envelope(json!(accounts));
                body["result_info"] =
                    json!({"page": 1, "per_page": 50, "count": count, "total_count": count});
                json_reply(StatusCode::OK, body)
            }
            None => json_reply(
                StatusCode::FORBIDDEN,
                failure(9109, "Unauthorized to access requested resource"),
            ),
        },
        _ => json_reply(
            StatusCode::NOT_FOUND,
            failure(7000, "No route for that URI"),
        ),
    }
}

/// A reply echoing the `Authorization` header in one of the spellings JSON allows: every
/// character `\u`-escaped, every other one, in upper-case hex, as a key, in an error message,
/// inside a JSON string inside the JSON, or in a text body.
fn reflect_token(spelling: &str, authorization: &str) -> Response {
    let every = escape(authorization, |_| true, false);
    let every_other = escape(authorization, |i| i % 2 == 0, false);
    let upper = escape(authorization, |_| true, true);
    let envelope = |result: String| {
        format!(r#"{{"success":true,"errors":[],"messages":[],"result":{result}}}"#)
    };
    let (status, content_type, body) = match spelling {
        "escaped" => (
            200,
            "application/json",
            envelope(format!(r#"{{"seen":"{every}"}}"#)),
        ),
        "partly-escaped" => (
            200,
            "application/json",
            envelope(format!(r#"{{"seen":"{every_other}"}}"#)),
        ),
        "upper-case" => (
            200,
            "application/json",
            envelope(format!(r#"{{"seen":"{upper}"}}"#)),
        ),
        "in-a-key" => (
            200,
            "application/json",
            envelope(format!(r#"{{"{every_other}":true}}"#)),
        ),
        "nested" => {
            let inner = format!(r#"{{\"seen\":\"{}\"}}"#, every.replace('\\', "\\\\"));
            (200, "application/json", envelope(format!(r#""{inner}""#)))
        }
        "in-an-error" => (
            400,
            "application/json",
            format!(
                r#"{{"success":false,"errors":[{{"code":6003,"message":"bad header {every_other}"}}],"messages":[],"result":null}}"#
            ),
        ),
        "refused" => (
            403,
            "application/json",
            format!(
                r#"{{"success":false,"errors":[{{"code":9109,"message":"token {every} lacks permission"}}],"messages":[],"result":null}}"#
            ),
        ),
        "text" => (200, "text/plain", format!("you sent {every_other}")),
        _ => (
            404,
            "application/json",
            failure(7000, "no such spelling").to_string(),
        ),
    };
    (
        StatusCode::from_u16(status).expect("status"),
        [(header::CONTENT_TYPE, content_type)],
        body,
    )
        .into_response()
}

/// `text` with the characters at the indices `pick` chooses written as `\uXXXX`.
fn escape(text: &str, pick: impl Fn(usize) -> bool, upper: bool) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| match (pick(i), upper) {
            (false, _) => c.to_string(),
            (true, false) => format!("\\u{:04x}", u32::from(c)),
            (true, true) => format!("\\u{:04X}", u32::from(c)),
        })
        .collect()
}
