//! Who is calling a tool: the authenticated principal, their session and client, and the
//! upstream credential they forwarded, if any.

use codemode_auth::Principal;
use codemode_upstream::Credential;

/// The caller of one tool call, as the transport established it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who, and what they may do.
    pub principal: Principal,
    /// The MCP session the server issued, when the call came in one; never an id the caller
    /// chose (a stateless request's `Mcp-Session-Id` header is not one).
    pub session: Option<String>,
    /// The client's self-reported name.
    pub client: Option<String>,
    /// The upstream credential the caller forwarded, if any.
    pub forwarded: Option<Credential>,
    /// The credentials the caller forwarded for the other upstreams, by upstream name.
    pub forwarded_to: Vec<(String, Credential)>,
}

impl Caller {
    /// The caller's subject.
    pub fn subject(&self) -> &str {
        &self.principal.subject
    }
}
