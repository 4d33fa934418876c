//! The key kept outside the database, and the MACs it puts on the chain's anchor and head so
//! that moving either (deleting the newest or oldest rows) is evident.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::chain::ChainPoint;

/// A 32-byte key that signs the chain's anchor and head; wiped on drop, never shown by `Debug`.
#[derive(Clone)]
pub struct AuditKey(Zeroizing<[u8; 32]>);

/// Text that is not a key written as 64 hex characters; the text itself is never repeated.
#[derive(Debug, thiserror::Error)]
#[error(
    "an audit key must be 64 hex characters (32 bytes); the value given has {0} characters \
     or is not hex"
)]
pub struct InvalidKey(usize);

impl AuditKey {
    /// Reads a key written as 64 hex characters (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<AuditKey, InvalidKey> {
        let text = text.trim();
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, bytes.as_mut_slice())
            .map_err(|_| InvalidKey(text.chars().count()))?;
        Ok(AuditKey(bytes))
    }

    /// The MAC of chain point `name` (`anchor` or `head`) at `point`, lowercase hex.
    pub fn sign(&self, name: &str, point: &ChainPoint) -> String {
        crate::hex(&self.mac(name, point).finalize().into_bytes())
    }

    /// Whether `mac` is this key's MAC of `name` at `point`, compared in constant time.
    pub fn signed(&self, name: &str, point: &ChainPoint, mac: &str) -> bool {
        hex::decode(mac).is_ok_and(|bytes| self.mac(name, point).verify_slice(&bytes).is_ok())
    }

    fn mac(&self, name: &str, point: &ChainPoint) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_slice()).expect("any key length");
        mac.update(format!("codemode audit {name} {} {}", point.id, point.hash).as_bytes());
        mac
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordId;

    fn point(id: i64) -> ChainPoint {
        ChainPoint {
            id: RecordId(id),
            hash: "ab".repeat(32),
        }
    }

    #[test]
    fn a_mac_covers_the_point_its_name_and_the_key() {
        let key = AuditKey::parse(&"11".repeat(32)).unwrap();
        let mac = key.sign("head", &point(5));
        assert!(key.signed("head", &point(5), &mac));
        assert!(!key.signed("head", &point(4), &mac));
        assert!(!key.signed("anchor", &point(5), &mac));
        let other = AuditKey::parse(&"22".repeat(32)).unwrap();
        assert!(!other.signed("head", &point(5), &mac));
        assert!(!key.signed("head", &point(5), "not hex"));
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        let error = AuditKey::parse(&"zz".repeat(32)).unwrap_err();
        assert!(!error.to_string().contains("zz"), "{error}");
        assert!(AuditKey::parse(&"ab".repeat(16)).is_err());
        assert_eq!(
            format!("{:?}", AuditKey::parse(&"ab".repeat(32)).unwrap()),
            "AuditKey(<redacted>)"
        );
    }
}
