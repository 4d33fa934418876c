//! The server key from its hex text: what a caller reads from its configuration.

use codemode_credentials::{CredentialsError, ServerKey};

#[test]
fn the_key_comes_from_its_hex_text() {
    let hex = ServerKey::generate().expect("random key").to_hex();
    let key = ServerKey::parse(&format!("{}\n", hex.as_str())).expect("key from hex");
    assert_eq!(key.to_hex(), hex);
    assert_eq!(format!("{key:?}"), "ServerKey(<redacted>)");
}

#[test]
fn bad_key_text_is_refused_without_echoing_it() {
    for bad in ["not-a-key", "", &"g".repeat(64), &"ab".repeat(33)] {
        let error = ServerKey::parse(bad).expect_err("bad key");
        assert!(
            matches!(error, CredentialsError::KeyFormat(n) if n == bad.chars().count()),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("64 hex characters"), "{message}");
        if !bad.is_empty() {
            assert!(!message.contains(bad), "{message}");
        }
    }
}
