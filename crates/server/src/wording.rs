//! The server's wording of library errors: the libraries say what is wrong in their own terms,
//! and this adds the flag or environment variable that fixes it.

use codemode_audit::AuditError;
use codemode_credentials::CredentialsError;
use codemode_upstream::{AccountError, AuthFailure, RequestError};

use crate::settings::{ACCOUNT_ENV, AUDIT_KEY_ENV, CREDENTIALS_KEY_ENV, TOKEN_ENV};

/// The flag that names the account when a call names none.
pub const ACCOUNT_FLAG: &str = "--account-id";

/// A failed upstream request, as the agent reads it.
pub fn request_error(error: &RequestError) -> String {
    match error {
        RequestError::Authentication {
            failure: AuthFailure::NoCredential,
            ..
        } => format!("{error}; set {TOKEN_ENV} for the server"),
        RequestError::Authentication {
            failure: AuthFailure::Rejected,
            ..
        } => format!("{error}; the server's token is {TOKEN_ENV}"),
        other => other.to_string(),
    }
}

/// Why `accountId` could not be set, as the agent reads it.
pub fn account_error(error: &AccountError) -> String {
    match error {
        AccountError::InvalidId(_) => error.to_string(),
        AccountError::NoAccounts | AccountError::Several { .. } | AccountError::Discovery(_) => {
            format!(
                "{error}: pass `account_id` to execute, or start the server with {ACCOUNT_FLAG} \
                 or {ACCOUNT_ENV}"
            )
        }
    }
}

/// An audit log error, naming the variable and the command that fix a key problem.
pub fn audit_error(error: &AuditError) -> String {
    match error {
        AuditError::KeyRequired | AuditError::BadSignature { .. } => {
            format!("{error}; the server's audit key is {AUDIT_KEY_ENV}")
        }
        AuditError::Unsigned { .. } => format!(
            "{error}: run `codemode audit verify`, then `codemode audit sign` with {AUDIT_KEY_ENV} set"
        ),
        other => other.to_string(),
    }
}

/// A credential store error, naming the variable that holds the key where the key is at fault.
pub fn credentials_error(error: &CredentialsError) -> String {
    match error {
        CredentialsError::KeyFormat(length) => format!(
            "{CREDENTIALS_KEY_ENV} must be 64 hex characters (32 bytes); the value given has \
             {length} characters"
        ),
        CredentialsError::WrongKey(path) => format!(
            "cannot decrypt: wrong {CREDENTIALS_KEY_ENV}? The credential store {} was created \
             with a different key",
            path.display()
        ),
        CredentialsError::Undecryptable(subject) => format!(
            "cannot decrypt the credential stored for {subject:?}: wrong {CREDENTIALS_KEY_ENV}, \
             or the row was altered"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use codemode_spec::Method;

    use super::*;

    fn authentication(failure: AuthFailure) -> RequestError {
        RequestError::Authentication {
            status: 401,
            method: Method::Get,
            path: "/zones".into(),
            failure,
            api: String::new(),
        }
    }

    #[test]
    fn token_errors_name_the_variable_that_holds_the_token() {
        for failure in [AuthFailure::NoCredential, AuthFailure::Rejected] {
            let message = request_error(&authentication(failure));
            assert!(message.contains(TOKEN_ENV), "{message}");
            assert!(message.contains("GET /zones"), "{message}");
        }
        let forbidden = request_error(&authentication(AuthFailure::Forbidden));
        assert!(!forbidden.contains(TOKEN_ENV), "{forbidden}");
        assert!(forbidden.contains("lacks permission"), "{forbidden}");
    }

    #[test]
    fn account_errors_say_how_to_name_the_account() {
        let several = AccountError::Several {
            count: 2,
            listed: "Personal (1111), Work (2222)".into(),
        };
        for error in [
            AccountError::NoAccounts,
            several,
            AccountError::Discovery("HTTP 403".into()),
        ] {
            let message = account_error(&error);
            for part in ["pass `account_id` to execute", ACCOUNT_FLAG, ACCOUNT_ENV] {
                assert!(message.contains(part), "{message}");
            }
        }
        let invalid = account_error(&AccountError::InvalidId("a/b".into()));
        assert!(!invalid.contains(ACCOUNT_FLAG), "{invalid}");
    }

    #[test]
    fn key_errors_name_the_variable_that_holds_the_key() {
        for error in [
            CredentialsError::KeyFormat(9),
            CredentialsError::WrongKey(PathBuf::from("/data/credentials.db")),
            CredentialsError::Undecryptable("alice".into()),
        ] {
            let message = credentials_error(&error);
            assert!(message.contains(CREDENTIALS_KEY_ENV), "{message}");
        }
        assert!(credentials_error(&CredentialsError::KeyFormat(9)).contains("has 9 characters"));
        let empty = credentials_error(&CredentialsError::EmptySubject);
        assert!(!empty.contains(CREDENTIALS_KEY_ENV), "{empty}");
    }
}
