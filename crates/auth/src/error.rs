//! Refusals, and how they map to HTTP (RFC 6750 challenges, RFC 9728 metadata pointer).

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{HeaderValue, WWW_AUTHENTICATE};
use serde_json::json;

use crate::scope::Scope;

/// A refused request: what went wrong, and the challenge to send back.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}")]
pub struct AuthError {
    kind: AuthErrorKind,
    challenge: Challenge,
}

/// What went wrong. Messages never contain the presented token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthErrorKind {
    /// No bearer token in the request.
    #[error("missing bearer token")]
    MissingToken,
    /// A token was presented but is not acceptable.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The caller is known but lacks the scope this action needs.
    #[error("insufficient scope: `{0}` is required")]
    InsufficientScope(Scope),
    /// Tokens cannot be checked right now (the issuer's keys are unreachable).
    #[error("cannot verify tokens right now: {0}")]
    Unavailable(String),
}

/// What the `WWW-Authenticate` challenge advertises besides the error.
#[derive(Debug, Clone, Default)]
pub(crate) struct Challenge {
    /// URL of the protected resource metadata (oauth mode only).
    pub(crate) resource_metadata: Option<Arc<str>>,
    /// Scopes a client should request, space-separated (oauth mode only).
    pub(crate) scope: Option<Arc<str>>,
}

impl AuthError {
    pub(crate) fn new(kind: AuthErrorKind, challenge: &Challenge) -> AuthError {
        AuthError {
            kind,
            challenge: challenge.clone(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &AuthErrorKind {
        &self.kind
    }

    /// The HTTP status: 401 for missing or bad tokens, 403 for too little scope, 503 when keys are unreachable.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            AuthErrorKind::MissingToken | AuthErrorKind::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            AuthErrorKind::InsufficientScope(_) => StatusCode::FORBIDDEN,
            AuthErrorKind::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `WWW-Authenticate` value to send, or `None` when the refusal is not the caller's fault (503).
    pub fn www_authenticate(&self) -> Option<String> {
        let mut params: Vec<(&str, &str)> = Vec::new();
        match &self.kind {
            AuthErrorKind::MissingToken => {
                self.push_metadata(&mut params);
                self.push_scope(&mut params);
            }
            AuthErrorKind::InvalidToken(reason) => {
                params.push(("error", "invalid_token"));
                params.push(("error_description", reason));
                self.push_metadata(&mut params);
                self.push_scope(&mut params);
            }
            AuthErrorKind::InsufficientScope(needed) => {
                params.push(("error", "insufficient_scope"));
                params.push(("scope", needed.as_str()));
                self.push_metadata(&mut params);
            }
            AuthErrorKind::Unavailable(_) => return None,
        }
        let rendered: Vec<String> = params
            .into_iter()
            .map(|(name, value)| format!("{name}=\"{}\"", quote_escape(value)))
            .collect();
        Some(if rendered.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer {}", rendered.join(", "))
        })
    }

    /// The JSON body: `{"error": <code>, "error_description": <message>}`.
    pub fn body(&self) -> serde_json::Value {
        let code = match self.kind {
            AuthErrorKind::MissingToken => "unauthorized",
            AuthErrorKind::InvalidToken(_) => "invalid_token",
            AuthErrorKind::InsufficientScope(_) => "insufficient_scope",
            AuthErrorKind::Unavailable(_) => "temporarily_unavailable",
        };
        let description = match &self.kind {
            // The cause names internal URLs and errors: it belongs in the log, not the reply.
            AuthErrorKind::Unavailable(_) => {
                "the token's signing keys cannot be fetched right now; try again later".to_owned()
            }
            kind => kind.to_string(),
        };
        json!({ "error": code, "error_description": description })
    }

    fn push_metadata<'a>(&'a self, params: &mut Vec<(&'a str, &'a str)>) {
        if let Some(url) = &self.challenge.resource_metadata {
            params.push(("resource_metadata", url));
        }
    }

    fn push_scope<'a>(&'a self, params: &mut Vec<(&'a str, &'a str)>) {
        if let Some(scope) = &self.challenge.scope {
            params.push(("scope", scope));
        }
    }
}

/// Makes `value` safe inside an RFC 7235 quoted-string.
fn quote_escape(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            _ => vec![c],
        })
        .collect()
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Some(challenge) = self
            .www_authenticate()
            .and_then(|value| HeaderValue::from_str(&value).ok())
        {
            response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth_challenge() -> Challenge {
        Challenge {
            resource_metadata: Some(
                "https://h.example/.well-known/oauth-protected-resource/mcp".into(),
            ),
            scope: Some("search approve".into()),
        }
    }

    #[test]
    fn keys_mode_challenge_is_bare_bearer() {
        let error = AuthError::new(AuthErrorKind::MissingToken, &Challenge::default());
        assert_eq!(error.www_authenticate().as_deref(), Some("Bearer"));
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn description_quotes_are_escaped() {
        let error = AuthError::new(
            AuthErrorKind::InvalidToken("say \"hi\"\n".into()),
            &Challenge::default(),
        );
        assert_eq!(
            error.www_authenticate().as_deref(),
            Some(r#"Bearer error="invalid_token", error_description="say \"hi\"""#)
        );
    }

    #[test]
    fn unavailable_is_503_without_challenge() {
        let error = AuthError::new(
            AuthErrorKind::Unavailable("jwks unreachable".into()),
            &oauth_challenge(),
        );
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.www_authenticate(), None);
        assert_eq!(error.body()["error"], "temporarily_unavailable");
    }

    #[test]
    fn response_carries_status_header_and_body() {
        let error = AuthError::new(
            AuthErrorKind::InsufficientScope(Scope::Approve),
            &oauth_challenge(),
        );
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            "Bearer error=\"insufficient_scope\", scope=\"approve\", \
             resource_metadata=\"https://h.example/.well-known/oauth-protected-resource/mcp\""
        );
    }
}
