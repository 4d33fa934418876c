//! Who is calling a tool: the authenticated principal, their session and client, and the
//! upstream credential they forwarded, if any.

use codemode_auth::{Principal, Scopes};
use codemode_upstream::Credential;
use rmcp::RoleServer;
use rmcp::service::RequestContext;

/// An upstream credential a trusted principal sent with its request, already taken out of the
/// headers by the HTTP layer.
#[derive(Clone)]
pub struct ForwardedCredential(pub Credential);

/// The caller of one tool call.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who, and what they may do.
    pub principal: Principal,
    /// The MCP session, when the transport has one.
    pub session: Option<String>,
    /// The client's self-reported name.
    pub client: Option<String>,
    /// The upstream credential the caller forwarded, if any.
    pub forwarded: Option<Credential>,
}

impl Caller {
    /// The caller of the request in `context`. Over stdio (no HTTP request) it is the local user.
    pub fn of(context: &RequestContext<RoleServer>, stdio_session: &str) -> Caller {
        let client = context
            .peer
            .peer_info()
            .map(|info| info.client_info.name.clone());
        let Some(parts) = context.extensions.get::<http::request::Parts>() else {
            return Caller {
                principal: Principal::local(),
                session: Some(stdio_session.to_string()),
                client,
                forwarded: None,
            };
        };
        Caller {
            // The HTTP auth layer always sets the principal; without one, nothing is allowed.
            principal: parts
                .extensions
                .get::<Principal>()
                .cloned()
                .unwrap_or_else(nobody),
            session: parts
                .headers
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            client,
            forwarded: parts
                .extensions
                .get::<ForwardedCredential>()
                .map(|f| f.0.clone()),
        }
    }
}

/// A caller with no scopes at all.
fn nobody() -> Principal {
    Principal {
        subject: "unauthenticated".to_string(),
        scopes: Scopes::empty(),
        may_forward: false,
        client: None,
    }
}
