//! `ServerKey::from_env`, alone in its test binary because it changes the environment.

use codemode_credentials::{CredentialsError, KEY_ENV, ServerKey};

#[test]
fn the_key_comes_from_the_environment() {
    // SAFETY: this binary runs this one test, so no other thread reads the environment.
    unsafe { std::env::remove_var(KEY_ENV) };
    assert!(matches!(
        ServerKey::from_env(),
        Err(CredentialsError::KeyMissing)
    ));

    let hex = ServerKey::generate().expect("random key").to_hex();
    // SAFETY: as above.
    unsafe { std::env::set_var(KEY_ENV, hex.as_str()) };
    let key = ServerKey::from_env().expect("key from env");
    assert_eq!(key.to_hex(), hex);

    // SAFETY: as above.
    unsafe { std::env::set_var(KEY_ENV, "not-a-key") };
    let error = ServerKey::from_env().expect_err("bad key");
    assert!(!error.to_string().contains("not-a-key"), "{error}");
}
