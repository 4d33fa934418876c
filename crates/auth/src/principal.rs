//! The authenticated caller.

use crate::scope::Scopes;

/// Who is calling, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable identity: the key's `subject` or the token's `sub`.
    pub subject: String,
    /// What the caller may do.
    pub scopes: Scopes,
    /// Whether the caller may send its own upstream credential with a request.
    pub may_forward: bool,
    /// The OAuth client acting for the subject (`client_id` or `azp`), when known.
    pub client: Option<String>,
}

impl Principal {
    /// Subject of the single user in `none` mode.
    pub const LOCAL_SUBJECT: &'static str = "local";

    /// The single local user of `none` mode: every scope, and may forward its own credential.
    pub fn local() -> Principal {
        Principal {
            subject: Principal::LOCAL_SUBJECT.to_owned(),
            scopes: Scopes::all(),
            may_forward: true,
            client: None,
        }
    }

    /// A caller with no scopes at all: what a request that was never authenticated acts as.
    pub fn nobody() -> Principal {
        Principal {
            subject: "unauthenticated".to_owned(),
            scopes: Scopes::empty(),
            may_forward: false,
            client: None,
        }
    }
}
