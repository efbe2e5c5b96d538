//! Opaque, tamper-proof page cursors: the `LastEvaluatedKey` of a Query, serialized, bound to the
//! listing it came from (`scope`) and signed with HMAC-SHA256. A client can hand it back but can
//! neither read a meaningful structure into it nor forge one that points elsewhere.

use crate::{error::ApiError, signing::SigningKeys, storage::Item};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;

type HmacSha256 = Hmac<Sha256>;

/// Longest cursor accepted (a key of four short strings stays far below this).
pub const MAX_CURSOR_LEN: usize = 1024;

/// The cursor keys, one derived from each signing key: the active key's first, which signs;
/// any of them verifies, so a key rotation breaks no page in progress.
#[derive(Clone)]
pub struct CursorKey(Vec<Vec<u8>>);

impl CursorKey {
    /// Derives the cursor keys from the signing keys (domain-separated from JWT signing).
    pub fn derive(keys: &SigningKeys) -> Self {
        CursorKey(keys.keys.iter().map(|(_, secret)| Self::derive_one(secret)).collect())
    }

    fn derive_one(secret: &[u8]) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"habit-tracker/cursor/v1");
        mac.finalize().into_bytes().to_vec()
    }

    fn mac(key: &[u8], scope: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    /// Encodes a `LastEvaluatedKey` (string and number attributes) for the listing named `scope`.
    pub fn encode(&self, scope: &str, key: &Item) -> Result<String, ApiError> {
        self.encode_at(scope, key, 0)
    }

    /// Like [`encode`](Self::encode), also carrying how many items came before the next page
    /// (for rankings).
    pub fn encode_at(&self, scope: &str, key: &Item, offset: u64) -> Result<String, ApiError> {
        let map = key
            .iter()
            .map(|(k, v)| match v {
                AttributeValue::S(s) => Ok((k.as_str(), format!("S:{s}"))),
                AttributeValue::N(n) => Ok((k.as_str(), format!("N:{n}"))),
                _ => Err(ApiError::internal("cursor keys must be string or number attributes")),
            })
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        let payload = serde_json::to_vec(&(map, offset)).map_err(ApiError::internal)?;
        let tag = Self::mac(&self.0[0], scope, &payload).finalize().into_bytes();
        Ok(format!("{}.{}", B64.encode(&payload), B64.encode(tag)))
    }

    /// Decodes a cursor made by [`encode`](Self::encode) for the same `scope`; anything else is
    /// a 400 naming the `cursor` parameter.
    pub fn decode(&self, scope: &str, cursor: &str) -> Result<Item, ApiError> {
        self.decode_at(scope, cursor).map(|(key, _)| key)
    }

    /// Decodes a cursor and the offset it carries.
    pub fn decode_at(&self, scope: &str, cursor: &str) -> Result<(Item, u64), ApiError> {
        let bad = || ApiError::invalid("cursor", "is not a cursor returned by this listing");
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(bad());
        }
        let (payload, tag) = cursor.split_once('.').ok_or_else(bad)?;
        let payload = B64.decode(payload).map_err(|_| bad())?;
        let tag = B64.decode(tag).map_err(|_| bad())?;
        if !self.0.iter().any(|key| Self::mac(key, scope, &payload).verify_slice(&tag).is_ok()) {
            return Err(bad());
        }
        let (map, offset): (BTreeMap<String, String>, u64) = serde_json::from_slice(&payload).map_err(|_| bad())?;
        let key = map
            .into_iter()
            .map(|(k, v)| match v.split_at_checked(2) {
                Some(("S:", s)) => Ok((k, AttributeValue::S(s.to_owned()))),
                Some(("N:", n)) => Ok((k, AttributeValue::N(n.to_owned()))),
                _ => Err(bad()),
            })
            .collect::<Result<_, _>>()?;
        Ok((key, offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key_of(secret: &[u8]) -> CursorKey {
        CursorKey::derive(&SigningKeys::single(secret).unwrap())
    }

    #[test]
    fn a_cursor_outlives_a_rotation_until_its_key_is_removed() {
        let (old, new) = ("old-secret-old-secret-old-secret-00", "new-secret-new-secret-new-secret-00");
        let set = |json: String| CursorKey::derive(&SigningKeys::parse(&json).unwrap());
        let before = set(format!(r#"{{"active": "old", "old": "{old}"}}"#));
        let during = set(format!(r#"{{"active": "new", "old": "{old}", "new": "{new}"}}"#));
        let after = set(format!(r#"{{"active": "new", "new": "{new}"}}"#));
        let c = before.encode("users", &key()).unwrap();
        assert_eq!(during.decode("users", &c).unwrap(), key());
        assert!(after.decode("users", &c).is_err());
        let c = during.encode("users", &key()).unwrap();
        assert_eq!(after.decode("users", &c).unwrap(), key(), "the active key signs");
    }

    fn key() -> Item {
        [("PK", "USER#1"), ("SK", "USER"), ("GSI1PK", "USERS"), ("GSI1SK", "ROLE#user#ACTIVE#1#USER#1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect()
    }

    #[test]
    fn round_trip() {
        let k = key_of(b"secret-secret-secret-secret-secret");
        let c = k.encode("users", &key()).unwrap();
        assert_eq!(k.decode("users", &c).unwrap(), key());
        let mut numeric = key();
        numeric.insert("GSI3SK".into(), AttributeValue::N("50000000000001".into()));
        let c = k.encode_at("board", &numeric, 40).unwrap();
        assert_eq!(k.decode_at("board", &c).unwrap(), (numeric, 40));
    }

    #[test]
    fn rejects_other_scope_other_key_and_tampering() {
        let k = key_of(b"secret-secret-secret-secret-secret");
        let c = k.encode("users", &key()).unwrap();
        assert!(k.decode("users:role=admin", &c).is_err());
        assert!(key_of(b"another-secret-another-secret-xx").decode("users", &c).is_err());
        let (payload, tag) = c.split_once('.').unwrap();
        let (mut forged, offset): (BTreeMap<String, String>, u64) =
            serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
        forged.insert("PK".into(), "S:USER#2".into());
        let forged = (forged, offset);
        let forged = format!("{}.{}", B64.encode(serde_json::to_vec(&forged).unwrap()), tag);
        assert!(k.decode("users", &forged).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_on_garbage(s in ".{0,2000}") {
            let k = key_of(b"secret-secret-secret-secret-secret");
            prop_assert!(k.decode("users", &s).is_err());
        }
    }
}
