//! Which account `accountId` names: the call's, else the configured one, else the only account
//! the credential can see, discovered by a request governed like any other.

use std::fmt::Display;

use serde_json::{Value, json};

use crate::envelope::error_summary;

/// The longest account id accepted.
const MAX_ACCOUNT_ID_LEN: usize = 64;

/// How many accounts one discovery request lists.
const DISCOVERY_PAGE: u32 = 50;

/// How to choose an account yourself, at the end of every error discovery gives.
const HOW_TO_FIX: &str = "name the account explicitly";

/// Why no account could be chosen. `NoAccounts`, `Several` and `Discovery` end by asking for an
/// explicit account; a caller adds how its users name one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The given id cannot be an account id.
    #[error(
        "account id {0:?} is not valid: use the 32-character hex id from the dashboard or GET /accounts"
    )]
    InvalidId(String),
    /// The credential sees no account.
    #[error(
        "the API token can access no account, so accountId cannot be set; check the token's account resources, or {HOW_TO_FIX}"
    )]
    NoAccounts,
    /// The credential sees several accounts.
    #[error(
        "the API token can access {count} accounts, so accountId is ambiguous: {listed}; {HOW_TO_FIX}"
    )]
    Several {
        /// How many accounts.
        count: u64,
        /// `name (id)` of each, comma-separated.
        listed: String,
    },
    /// Listing the accounts failed.
    #[error("could not discover the account (GET /accounts failed: {0}); {HOW_TO_FIX}")]
    Discovery(String),
}

/// The account for one call: `explicit` (from the call), else `configured`, else the only account
/// the credential sees, listed by `GET /accounts` sent through `send`. `send` carries the request
/// as it carries one of the code's own (scope check, policy, budget, audit), so discovery gets no
/// more than the caller could ask for itself.
pub async fn resolve_account<F, Fut, E>(
    explicit: Option<&str>,
    configured: Option<&str>,
    send: F,
) -> Result<String, AccountError>
where
    F: FnOnce(Value) -> Fut,
    Fut: Future<Output = Result<Value, E>>,
    E: Display,
{
    if let Some(id) = explicit.or(configured) {
        return checked_id(id);
    }
    let options =
        json!({"method": "GET", "path": "/accounts", "query": {"per_page": DISCOVERY_PAGE}});
    let body = send(options)
        .await
        .map_err(|e| AccountError::Discovery(e.to_string()))?;
    only_account(&body)
}

fn checked_id(id: &str) -> Result<String, AccountError> {
    let id = id.trim();
    let valid = !id.is_empty()
        && id.len() <= MAX_ACCOUNT_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(id.to_string())
    } else {
        Err(AccountError::InvalidId(
            id.chars().take(MAX_ACCOUNT_ID_LEN).collect(),
        ))
    }
}

/// The one account a `GET /accounts` envelope lists.
fn only_account(body: &Value) -> Result<String, AccountError> {
    if body.get("success") != Some(&Value::Bool(true)) {
        let status = body.get("status").cloned().unwrap_or(Value::Null);
        let errors = error_summary(body).unwrap_or_else(|| "no error message".into());
        return Err(AccountError::Discovery(format!("HTTP {status}: {errors}")));
    }
    let accounts = body
        .get("result")
        .and_then(Value::as_array)
        .ok_or_else(|| AccountError::Discovery("the response has no list of accounts".into()))?;
    let total = body
        .pointer("/result_info/total_count")
        .and_then(Value::as_u64)
        .unwrap_or(accounts.len() as u64)
        .max(accounts.len() as u64);
    match accounts.as_slice() {
        [] => Err(AccountError::NoAccounts),
        [only] if total == 1 => only
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| AccountError::Discovery("the account has no id".into()))
            .and_then(checked_id),
        several => Err(AccountError::Several {
            count: total,
            listed: several.iter().map(describe).collect::<Vec<_>>().join(", "),
        }),
    }
}

fn describe(account: &Value) -> String {
    let text = |key| account.get(key).and_then(Value::as_str).unwrap_or("?");
    format!("{} ({})", text("name"), text("id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_checked() {
        assert_eq!(
            checked_id(" 023e105f4ecef8ad9ca31a8372d0c353 "),
            Ok("023e105f4ecef8ad9ca31a8372d0c353".into())
        );
        for bad in ["", "a/b", "../x", "a b", "a\nb", &"a".repeat(65)] {
            assert!(
                matches!(checked_id(bad), Err(AccountError::InvalidId(_))),
                "{bad:?}"
            );
        }
    }
}
