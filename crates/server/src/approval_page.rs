//! The approval page: `GET /approvals/{id}` opened in a browser shows the requests waiting
//! for a decision with Approve and Reject buttons, and the form posts back to the same URL.
//!
//! The form is guarded against cross-site requests three ways: the `Host` must be one the
//! server serves (against DNS rebinding), a browser's `Origin` and `Sec-Fetch-Site` must say
//! the post came from this page, and the form carries a token only this page holds (an HMAC
//! of the approval id under a key made at start-up). The page cannot be framed.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use codemode_audit::{Approval, ApprovalError, ApprovalStatus, Decision, Timestamp};
use codemode_auth::AuthMode;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use sha2::Sha256;
use std::sync::Arc;
use subtle::ConstantTimeEq;

use crate::approvals_api::{self, ApprovalsApi, OPERATOR_SUBJECT};
use crate::shown;
use crate::telemetry::{DecidedVia, meters};

/// What the page needs: the approval routes' state, the form key and the hosts served.
#[derive(Clone)]
pub struct ApprovalPage {
    api: ApprovalsApi,
    key: Arc<[u8; 64]>,
    hosts: Arc<[String]>,
}

/// The approval page's form.
#[derive(Deserialize)]
pub struct DecisionForm {
    /// `approve` or `reject`.
    decision: String,
    /// The page's anti-forgery token.
    token: String,
}

impl ApprovalPage {
    /// The page over `api`, answering only on `hosts` (as the `Host` header names them).
    pub fn new(api: ApprovalsApi, hosts: Vec<String>) -> Result<ApprovalPage, getrandom::Error> {
        let mut key = [0u8; 64];
        getrandom::fill(&mut key)?;
        Ok(ApprovalPage {
            api,
            key: Arc::new(key),
            hosts: hosts.into(),
        })
    }

    /// The form token of approval `id`.
    fn token(&self, id: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new((&*self.key).into());
        mac.update(b"codemode approval page\0");
        mac.update(id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Who decides on this page: the authenticated `approve` principal, or with no
    /// authentication the operator at the machine.
    async fn decider(&self, headers: &HeaderMap) -> Result<String, Response> {
        if !self.serves(headers) {
            return Err(page_error(
                StatusCode::FORBIDDEN,
                "This server does not answer for that host name.",
            ));
        }
        if self.api.auth.authenticator.mode() == AuthMode::None {
            return Ok(OPERATOR_SUBJECT.to_string());
        }
        approvals_api::authorize(&self.api, headers)
            .await
            .map_err(IntoResponse::into_response)
    }

    /// Whether the request's `Host` is one the server serves.
    fn serves(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<http::uri::Authority>().ok())
        else {
            return false;
        };
        let name = host.host().trim_matches(['[', ']']);
        self.hosts
            .iter()
            .any(|allowed| match allowed.parse::<http::uri::Authority>() {
                Ok(authority) if authority.port_u16().is_some() => {
                    authority
                        .host()
                        .trim_matches(['[', ']'])
                        .eq_ignore_ascii_case(name)
                        && authority.port_u16() == host.port_u16()
                }
                _ => allowed.trim_matches(['[', ']']).eq_ignore_ascii_case(name),
            })
    }
}

/// `GET /approvals/{id}`: the page for a browser, the approval as JSON for anything else.
pub async fn show(
    State(page): State<ApprovalPage>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !wants_html(&headers) {
        return approvals_api::show(State(page.api.clone()), Path(id), headers).await;
    }
    if let Err(refused) = page.decider(&headers).await {
        return refused;
    }
    match page.api.store.get(&id).await {
        Ok(approval) => render(&page, &approval, None),
        Err(refused) => refusal(&refused),
    }
}

/// `POST /approvals/{id}`: the page's Approve or Reject button.
pub async fn decide(
    State(page): State<ApprovalPage>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    let decider = match page.decider(&headers).await {
        Ok(decider) => decider,
        Err(refused) => return refused,
    };
    if !same_origin(&headers) {
        return page_error(
            StatusCode::FORBIDDEN,
            "This decision was sent from another site; open the approval page and use its buttons.",
        );
    }
    let expected = page.token(&id);
    if !bool::from(expected.as_bytes().ct_eq(form.token.as_bytes())) {
        return page_error(
            StatusCode::FORBIDDEN,
            "This form is not one this server made for this approval; reload the approval page.",
        );
    }
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        _ => {
            return page_error(
                StatusCode::BAD_REQUEST,
                "The decision must be `approve` or `reject`.",
            );
        }
    };
    let decided = page
        .api
        .store
        .decide(&id, &decider, decision, Timestamp::now())
        .await;
    match decided {
        Ok(approval) => {
            meters().decided(DecidedVia::Http, decision == Decision::Approve);
            let word = approval.status.as_str();
            let note = format!("{word} by {decider}");
            render(&page, &approval, Some(&note))
        }
        Err(refused) => refusal(&refused),
    }
}

/// Whether a browser asked for a page rather than JSON.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Whether a browser sent the post from this server's own page. Clients that are not
/// browsers send neither header, and cannot be made to post by another site.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let site_ok = text(header::HeaderName::from_static("sec-fetch-site"))
        .is_none_or(|site| site == "same-origin" || site == "none");
    let origin_ok = match (text(header::ORIGIN), text(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|authority| authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    };
    site_ok && origin_ok
}

/// The page for `approval`, with the outcome of a decision just made, if any.
fn render(page: &ApprovalPage, approval: &Approval, decided: Option<&str>) -> Response {
    let now = Timestamp::now();
    let id = html(&approval.id);
    let mut body = format!(
        "<h1>Approval {id}</h1>\n<p>The agent's code stopped before these requests because \
         policy requires a person's approval. Approving lets each request through once, when \
         the agent calls <code>execute</code> again with this approval id.</p>\n\
         <dl><dt>Asked by</dt><dd>{subject}</dd><dt>Asked at</dt><dd>{created}</dd>\
         <dt>Expires at</dt><dd>{expires}</dd><dt>Status</dt><dd id=\"status\">{status}</dd></dl>\n\
         <h2>Requests</h2>\n<ol>\n",
        subject = text(&approval.subject),
        created = approval.created_at,
        expires = approval.expires_at,
        status = status_word(approval, now),
    );
    for item in &approval.requests {
        let request = &item.request;
        let content = request.body_sha256.as_deref().map_or_else(
            || "no body".to_string(),
            |hash| format!("body SHA-256 {}", html(hash)),
        );
        body.push_str(&format!(
            "<li><div class=\"method\">{method}</div>\
             <div class=\"agent\">Path chosen by the agent's code: <code>{path}</code></div>\
             <div>{content}</div></li>\n",
            method = text(&request.method),
            path = text(&request.path),
        ));
    }
    body.push_str("</ol>\n");
    if let Some(note) = decided {
        body.push_str(&format!(
            "<p id=\"decided\" class=\"note\">{}.</p>\n",
            text(note)
        ));
    }
    if approval.status == ApprovalStatus::Pending && !approval.is_expired(now) {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/approvals/{id}\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button> \
             <button type=\"submit\" name=\"decision\" value=\"reject\">Reject</button></form>\n",
            token = page.token(&approval.id),
        ));
    }
    page_response(StatusCode::OK, &format!("Approval {id}"), &body)
}

/// The status as the page shows it.
fn status_word(approval: &Approval, now: Timestamp) -> &'static str {
    match approval.status {
        ApprovalStatus::Pending if approval.is_expired(now) => "expired",
        status => status.as_str(),
    }
}

/// A refused lookup or decision, as a page.
fn refusal(refused: &ApprovalError) -> Response {
    let status = approvals_api::status_of(refused);
    page_error(
        status,
        &format!("{}.", shown::escaped(&refused.to_string())),
    )
}

fn page_error(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>Cannot show this approval</h1>\n<p>{}</p>\n",
        html(message)
    );
    page_response(status, "Approval", &body)
}

/// A whole page, never cached, framed or sending a referrer elsewhere, with no script at all.
fn page_response(status: StatusCode, title: &str, body: &str) -> Response {
    let document = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title} · codemode</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;\
         padding:0 1rem}}.method{{font-weight:bold;font-family:monospace}}\
         .agent code{{background:#f3f3f3;padding:0 .2rem;word-break:break-all}}\
         li{{margin-bottom:.8rem}}button{{font-size:1rem;margin-right:.5rem}}\
         .note{{font-weight:bold}}dt{{font-weight:bold}}</style></head>\n<body>\n{body}</body></html>\n"
    );
    let mut response = (status, Html(document)).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
        // `no-referrer` would make the browser send `Origin: null` with the form.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Text from the store, shown safely: control and bidi characters escaped, then HTML-escaped.
fn text(value: &str) -> String {
    html(&shown::escaped(value))
}

/// `value` with HTML's special characters escaped.
fn html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(text("/z\u{202e}<b>"), "/z\\u{202e}&lt;b&gt;");
    }

    #[test]
    fn only_same_origin_posts_pass() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_static(value));
            }
            map
        };
        let local = [("host", "127.0.0.1:8787")];
        assert!(same_origin(&headers(&local)));
        assert!(same_origin(&headers(&[
            local[0],
            ("origin", "http://127.0.0.1:8787"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            local[0],
            ("origin", "http://evil.example"),
        ])));
        assert!(!same_origin(&headers(&[
            local[0],
            ("sec-fetch-site", "cross-site"),
        ])));
    }
}
