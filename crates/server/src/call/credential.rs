//! Which upstream credential a call acts with: forwarded by the caller, else stored for its
//! subject, else the server's own.

use std::sync::Arc;

use codemode_credentials::CredentialStore;
use codemode_upstream::Credential;

use crate::call::caller::Caller;
use crate::call::error::CallError;

/// Where credentials come from, besides the caller's request.
pub struct Credentials {
    /// Per-subject tokens, when the operator keeps them.
    pub stored: Option<Arc<CredentialStore>>,
    /// The server-wide token, if any.
    pub server: Option<Credential>,
}

impl Credentials {
    /// The credential `caller`'s call uses; `None` sends requests without one.
    pub async fn choose(&self, caller: &Caller) -> Result<Option<Credential>, CallError> {
        if let Some(forwarded) = &caller.forwarded {
            return Ok(Some(forwarded.clone()));
        }
        if let Some(store) = &self.stored {
            let store = store.clone();
            let subject = caller.subject().to_string();
            let stored = tokio::task::spawn_blocking(move || store.get(&subject))
                .await
                .map_err(|_| CallError::StoreStopped("credential store"))??;
            if let Some(secret) = stored {
                return Ok(Some(Credential::from_secret(secret)?));
            }
        }
        Ok(self.server.clone())
    }
}
