//! Keys mode: static API keys, kept only as SHA-256 hashes and compared in constant time.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{ConfigError, KeysConfig};
use crate::principal::Principal;

/// Lowercase hex SHA-256 of `key`, exactly as given (no trimming): the form `[[auth.keys]]` stores.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The accepted keys of keys mode.
pub(crate) struct KeyStore {
    keys: Vec<StoredKey>,
}

struct StoredKey {
    digest: [u8; 32],
    principal: Principal,
}

impl KeyStore {
    /// Checks the configured entries and keeps their digests.
    pub(crate) fn new(config: &KeysConfig) -> Result<KeyStore, ConfigError> {
        if config.keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        let mut first_use: HashMap<[u8; 32], usize> = HashMap::new();
        let mut keys = Vec::with_capacity(config.keys.len());
        for (index, entry) in config.keys.iter().enumerate() {
            let bad = |problem: &str| ConfigError::BadKey {
                index,
                problem: problem.to_owned(),
            };
            if entry.subject.trim().is_empty() {
                return Err(bad("subject must not be empty"));
            }
            if entry.scopes.is_empty() {
                return Err(bad("scopes must grant at least one scope"));
            }
            let digest = parse_digest(&entry.sha256)
                .ok_or_else(|| bad("sha256 must be 64 hex digits (see `codemode keys hash`)"))?;
            if let Some(first) = first_use.insert(digest, index) {
                return Err(bad(&format!("same sha256 as auth.keys[{first}]")));
            }
            keys.push(StoredKey {
                digest,
                principal: Principal {
                    subject: entry.subject.clone(),
                    scopes: entry.scopes,
                    may_forward: entry.forward,
                    client: None,
                },
            });
        }
        Ok(KeyStore { keys })
    }

    /// The principal whose key is `presented`; every stored digest is compared, in constant time.
    pub(crate) fn authenticate(&self, presented: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for stored in &self.keys {
            if bool::from(stored.digest.ct_eq(&digest)) {
                found = Some(&stored.principal);
            }
        }
        found.cloned()
    }
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_key_matches_the_sha256_test_vector() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn digests_parse_in_either_case_and_reject_garbage() {
        let lower = hash_key("k");
        assert!(parse_digest(&lower).is_some());
        assert_eq!(parse_digest(&lower.to_uppercase()), parse_digest(&lower));
        assert!(parse_digest(&lower[..62]).is_none());
        assert!(parse_digest(&format!("+f{}", &lower[2..])).is_none());
        assert!(parse_digest(&"zz".repeat(32)).is_none());
    }
}
