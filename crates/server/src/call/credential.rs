//! Which upstream credential a call acts with: forwarded by the caller, else stored for its
//! subject, else the server's own.

use std::sync::Arc;

use codemode_credentials::CredentialStore;
use codemode_upstream::Credential;

use crate::call::caller::Caller;
use crate::call::error::CallError;

/// The upstream whose stored credentials are keyed by the bare subject, as before there were
/// several upstreams.
const BARE_KEY_UPSTREAM: &str = "cloudflare";

/// What separates the upstream from the subject in a stored credential's key.
const KEY_SEPARATOR: char = '\u{1f}';

/// The key `subject`'s stored credential for `upstream` is kept under: the bare subject for
/// `cloudflare`, so stores made before there were several upstreams keep working, else the
/// upstream's name and the subject. No key of one upstream is ever another's.
pub fn stored_key(upstream: &str, subject: &str) -> String {
    if upstream == BARE_KEY_UPSTREAM {
        subject.to_string()
    } else {
        format!("{upstream}{KEY_SEPARATOR}{subject}")
    }
}

/// The upstream and subject a stored credential's key names.
pub fn parse_stored_key(key: &str) -> (&str, &str) {
    key.split_once(KEY_SEPARATOR)
        .unwrap_or((BARE_KEY_UPSTREAM, key))
}

/// Where credentials come from, besides the caller's request.
pub struct Credentials {
    /// The first upstream's name, which its stored credentials are keyed by.
    pub upstream: String,
    /// Per-subject tokens, when the operator keeps them.
    pub stored: Option<Arc<CredentialStore>>,
    /// The server-wide token, if any.
    pub server: Option<Credential>,
}

impl Credentials {
    /// The credential `caller`'s call uses; `None` sends requests without one.
    pub async fn choose(&self, caller: &Caller) -> Result<Option<Credential>, CallError> {
        self.choose_for(
            &self.upstream,
            caller.forwarded.as_ref(),
            caller.subject(),
            self.server.as_ref(),
        )
        .await
    }

    /// The credential `caller`'s call uses for the upstream `name` besides the first, whose
    /// server-wide credential is `server`: only ever one meant for that upstream.
    pub async fn choose_other(
        &self,
        caller: &Caller,
        name: &str,
        server: Option<&Credential>,
    ) -> Result<Option<Credential>, CallError> {
        let forwarded = caller
            .forwarded_to
            .iter()
            .find(|(upstream, _)| upstream == name)
            .map(|(_, credential)| credential);
        self.choose_for(name, forwarded, caller.subject(), server)
            .await
    }

    async fn choose_for(
        &self,
        upstream: &str,
        forwarded: Option<&Credential>,
        subject: &str,
        server: Option<&Credential>,
    ) -> Result<Option<Credential>, CallError> {
        if let Some(forwarded) = forwarded {
            return Ok(Some(forwarded.clone()));
        }
        if let Some(store) = &self.stored {
            let store = store.clone();
            let key = stored_key(upstream, subject);
            let stored = tokio::task::spawn_blocking(move || store.get(&key))
                .await
                .map_err(|_| CallError::StoreStopped("credential store"))??;
            if let Some(secret) = stored {
                return Ok(Some(Credential::from_secret(secret)?));
            }
        }
        Ok(server.cloned())
    }
}
