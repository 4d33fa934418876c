//! Who is calling over HTTP: authenticates every MCP request, takes a forwarded upstream
//! credential out of its headers, and checks the scope a `tools/call` needs before it runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use codemode_auth::{AuthError, AuthMode, Authenticator, Principal, Scope, Tool};
use codemode_upstream::Credential;
use serde_json::{Value, json};

use crate::tools::{EXECUTE, SEARCH};

/// An upstream credential a trusted principal sent with its request, taken out of the headers.
#[derive(Clone)]
pub struct ForwardedCredential(pub Credential);

/// The credentials a trusted principal sent for the other upstreams, by upstream name, taken
/// out of their `forward_header`s.
#[derive(Clone)]
pub struct ForwardedCredentials(pub Vec<(String, Credential)>);

/// The header a trusted backend sends a user's own upstream token in.
pub const FORWARD_HEADER: HeaderName = HeaderName::from_static("x-upstream-authorization");

/// The header that names an MCP session.
const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");

/// What the authentication layer needs.
#[derive(Clone)]
pub struct AuthLayer {
    /// Validates keys or tokens.
    pub authenticator: Arc<Authenticator>,
    /// Largest request body read to find the tool being called.
    pub max_body: usize,
    /// Which subject opened each session: only that subject may use it.
    pub sessions: Arc<Mutex<HashMap<String, String>>>,
    /// The header each other upstream's forwarded credential comes in, with the upstream's
    /// name and credential scheme.
    pub forward_headers: Arc<[(HeaderName, String, String)]>,
}

impl AuthLayer {
    /// The caller behind `headers`; in `none` mode, the local user.
    pub async fn principal(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        if self.authenticator.mode() == AuthMode::None {
            return Ok(Principal::local());
        }
        self.authenticator.authenticate(headers).await
    }

    /// Refuses with 403 `insufficient_scope` unless `principal` holds `needed`.
    pub fn require(&self, principal: &Principal, needed: Scope) -> Result<(), AuthError> {
        self.authenticator.require(principal, needed)
    }
}

/// Axum middleware for `/mcp`: refuses, or passes the request on with its principal.
pub async fn authenticate(
    State(layer): State<AuthLayer>,
    request: Request,
    next: Next,
) -> Response {
    let principal = match layer.principal(request.headers()).await {
        Ok(principal) => principal,
        Err(refused) => return refused.into_response(),
    };
    let (mut parts, body) = request.into_parts();
    if let Some(value) = parts.headers.remove(FORWARD_HEADER) {
        if !principal.may_forward {
            return forbidden(
                "this principal may not forward an upstream credential (X-Upstream-Authorization)",
            );
        }
        let text = value.to_str().unwrap_or_default();
        let token = text.strip_prefix("Bearer ").unwrap_or(text);
        let Ok(credential) = Credential::new(token) else {
            return bad_request("X-Upstream-Authorization does not hold a usable token");
        };
        parts.extensions.insert(ForwardedCredential(credential));
    }
    let mut forwarded = Vec::new();
    for (header, upstream, scheme) in layer.forward_headers.iter() {
        let Some(value) = parts.headers.remove(header) else {
            continue;
        };
        if !principal.may_forward {
            return forbidden(&format!(
                "this principal may not forward an upstream credential ({header})"
            ));
        }
        let text = value.to_str().unwrap_or_default();
        let token = text
            .strip_prefix(&format!("{scheme} "))
            .filter(|_| !scheme.is_empty())
            .unwrap_or(text);
        let Ok(credential) = Credential::new(token) else {
            return bad_request(&format!("{header} does not hold a usable token"));
        };
        forwarded.push((upstream.clone(), credential));
    }
    if !forwarded.is_empty() {
        parts.extensions.insert(ForwardedCredentials(forwarded));
    }
    let body = if parts.method == Method::POST {
        let Ok(bytes) = axum::body::to_bytes(body, layer.max_body).await else {
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        };
        for needed in missing_scopes(&bytes, &principal) {
            if let Err(refused) = layer.require(&principal, needed) {
                return refused.into_response();
            }
        }
        Body::from(bytes)
    } else {
        body
    };
    let session = header_text(&parts.headers, &SESSION_HEADER);
    if let Some(session) = &session
        && !layer.may_use(session, &principal.subject)
    {
        return forbidden("this MCP session belongs to another principal");
    }
    let subject = principal.subject.clone();
    let ending = parts.method == Method::DELETE;
    parts.extensions.insert(principal);
    let response = next.run(Request::from_parts(parts, body)).await;
    layer.track_session(session, &response, &subject, ending);
    response
}

impl AuthLayer {
    fn may_use(&self, session: &str, subject: &str) -> bool {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.get(session).is_none_or(|owner| owner == subject)
    }

    /// Records who opened a session (the response that names it), and forgets ended ones.
    fn track_session(
        &self,
        requested: Option<String>,
        response: &Response,
        subject: &str,
        ending: bool,
    ) {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(opened) = header_text(response.headers(), &SESSION_HEADER) {
            sessions
                .entry(opened)
                .or_insert_with(|| subject.to_string());
        }
        if let Some(ended) = requested.filter(|_| ending && response.status().is_success()) {
            sessions.remove(&ended);
        }
    }
}

fn header_text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

/// The scopes `principal` lacks for the `tools/call` requests in a JSON-RPC body. A body that
/// does not parse lacks none here: the MCP layer answers it with a parse error.
fn missing_scopes(body: &[u8], principal: &Principal) -> Vec<Scope> {
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let messages = match message {
        Value::Array(batch) => batch,
        single => vec![single],
    };
    messages
        .iter()
        .filter(|m| m["method"] == "tools/call")
        .filter_map(|m| match m["params"]["name"].as_str() {
            Some(SEARCH) => principal.scopes.missing_for(Tool::Search),
            Some(EXECUTE) => principal.scopes.missing_for(Tool::Execute),
            _ => None,
        })
        .collect()
}

/// A 403 with a JSON body.
pub fn forbidden(description: &str) -> Response {
    error(StatusCode::FORBIDDEN, "forbidden", description)
}

fn bad_request(description: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// An error response in the OAuth style: `{error, error_description}`.
pub fn error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}
