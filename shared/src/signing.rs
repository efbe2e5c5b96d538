//! The keys that sign access tokens and page cursors, each with an id (`kid`), so that a
//! rotation logs nobody out: the active key signs, every key of the set verifies.
//!
//! In AWS the set is one Secrets Manager secret (`SIGNING_KEYS_SECRET_ARN`), read once when a
//! function starts; locally it is `JWT_KEYS` (the same JSON) or `JWT_SECRET` (one key). The JSON:
//!
//! ```json
//! {"active": "2026-12", "2026-11": "<secret, 32+ bytes>", "2026-12": "<secret, 32+ bytes>"}
//! ```
//! (flat, so that CloudFormation's `GenerateSecretString` can create the first key itself).
//! Rotation, in the README: add a key, let every function load it, make it active, and once
//! the access tokens and cursors signed with the old one have expired, remove the old one.

use sha2::{Digest, Sha256};

/// Minimum length of a signing secret in bytes: HS256 keys shorter than the hash are weak.
pub const MIN_SECRET_LEN: usize = 32;
/// Most keys a set may hold (each is tried when a cursor is checked).
pub const MAX_KEYS: usize = 4;

#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeys {
    /// The id of the key that signs.
    pub active: String,
    /// Every key that verifies, by id; the active one among them.
    pub keys: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("SigningKeys").field("active", &self.active).field("kids", &ids).finish()
    }
}

impl SigningKeys {
    /// One key (`JWT_SECRET`), its id derived from it (not secret: a hash prefix).
    pub fn single(secret: &[u8]) -> Result<Self, String> {
        check_secret("JWT_SECRET", secret)?;
        let kid = format!("k{}", &hex(&Sha256::digest(secret))[..12]);
        Ok(SigningKeys { active: kid.clone(), keys: vec![(kid, secret.to_vec())] })
    }

    /// A key set in its JSON form (see the module's documentation).
    pub fn parse(json: &str) -> Result<Self, String> {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)
            .map_err(|_| "expected a JSON object {\"active\": kid, kid: secret, ...}".to_owned())?;
        let active = map.get("active").and_then(|a| a.as_str()).ok_or("no \"active\" key id")?.to_owned();
        let mut keys = Vec::new();
        for (kid, secret) in map.iter().filter(|(k, _)| k.as_str() != "active") {
            if kid.is_empty()
                || kid.len() > 64
                || !kid.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(format!("key id {kid:?}: 1-64 letters, digits, '-', '_' or '.'"));
            }
            let secret = secret.as_str().ok_or_else(|| format!("key {kid}: the secret must be a string"))?;
            check_secret(kid, secret.as_bytes())?;
            keys.push((kid.clone(), secret.as_bytes().to_vec()));
        }
        if !keys.iter().any(|(kid, _)| *kid == active) {
            return Err(format!("the active key {active:?} is not in the set"));
        }
        if keys.len() > MAX_KEYS {
            return Err(format!("at most {MAX_KEYS} keys at once, got {}", keys.len()));
        }
        // The active key first: it signs, and it is tried first.
        keys.sort_by_key(|(kid, _)| *kid != active);
        Ok(SigningKeys { active, keys })
    }

    /// The secret of the active key.
    pub fn active_secret(&self) -> &[u8] {
        &self.keys[0].1
    }
}

fn check_secret(kid: &str, secret: &[u8]) -> Result<(), String> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(format!("key {kid}: must be at least {MIN_SECRET_LEN} bytes"));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the key set from Secrets Manager (in AWS, once per execution environment).
pub async fn fetch(sdk: &aws_config::SdkConfig, secret_id: &str) -> Result<String, String> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| format!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e)))?;
    out.secret_string.ok_or_else(|| "the secret has no string value".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef-a";
    const B: &str = "0123456789abcdef0123456789abcdef-b";

    #[test]
    fn a_set_parses_with_its_active_key_first() {
        let set = SigningKeys::parse(&format!(r#"{{"active": "k2", "k1": "{A}", "k2": "{B}"}}"#)).unwrap();
        assert_eq!(set.active, "k2");
        assert_eq!(set.active_secret(), B.as_bytes());
        assert_eq!(set.keys.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["k2", "k1"]);
        assert!(!format!("{set:?}").contains(A), "secrets are never printed");
    }

    #[test]
    fn bad_sets_are_refused_with_a_reason() {
        for (json, says) in [
            ("[]".to_owned(), "JSON object"),
            (format!(r#"{{"k1": "{A}"}}"#), "active"),
            (format!(r#"{{"active": "k3", "k1": "{A}"}}"#), "not in the set"),
            (r#"{"active": "k1", "k1": "short"}"#.to_owned(), "32 bytes"),
            (format!(r#"{{"active": "k1", "k1": 7, "x": "{A}"}}"#), "string"),
            (format!(r#"{{"active": "k 1", "k 1": "{A}"}}"#), "key id"),
            (format!(r#"{{"active": "a", "a": "{A}", "b": "{A}", "c": "{A}", "d": "{A}", "e": "{A}"}}"#), "at most"),
        ] {
            let e = SigningKeys::parse(&json).unwrap_err();
            assert!(e.contains(says), "{json}: {e}");
        }
    }

    #[test]
    fn a_single_secret_gets_a_stable_id() {
        let one = SigningKeys::single(A.as_bytes()).unwrap();
        assert_eq!(one, SigningKeys::single(A.as_bytes()).unwrap());
        assert_ne!(one.active, SigningKeys::single(B.as_bytes()).unwrap().active);
        assert!(SigningKeys::single(b"short").is_err());
    }
}
