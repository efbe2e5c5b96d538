//! Web Push: the message encryption of RFC 8291 (`aes128gcm`, RFC 8188) and the VAPID
//! authorization of RFC 8292, so that a browser's push service carries a reminder to the user's
//! device, readable only there.
//!
//! The VAPID key pair (P-256) is derived from a secret (`VAPID_SECRET_ARN`, a Secrets Manager
//! secret the stack generates; locally `VAPID_SECRET`): the same secret always gives the same key,
//! which the browser's subscriptions are bound to.

use crate::config::{ConfigError, Vars};
use aws_lc_rs::{aead, agreement, rand::SecureRandom, signature};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64U, Engine};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::{collections::HashMap, sync::Arc};

pub const VAPID_SECRET_VAR: &str = "VAPID_SECRET_ARN";
/// The shortest secret the key is derived from.
pub const VAPID_SECRET_MIN: usize = 32;
/// Record size announced in the header (one record carries the whole message).
const RECORD_SIZE: u32 = 4096;
/// The largest payload a push service must take (RFC 8291: 4096 bytes of ciphertext body).
pub const PAYLOAD_MAX: usize = 3993;

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    parts.iter().for_each(|p| mac.update(p));
    mac.finalize().into_bytes().into()
}

/// HKDF-SHA256 (RFC 5869) with an output of at most 32 bytes (one block).
fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let prk = hmac_sha256(salt, &[ikm]);
    hmac_sha256(&prk, &[info, &[1]])[..len].to_vec()
}

/// The server's VAPID key and contact.
#[derive(Clone)]
pub struct Vapid {
    key: Arc<signature::EcdsaKeyPair>,
    public: Vec<u8>,
    subject: String,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vapid({}, {})", self.public_key(), self.subject)
    }
}

impl Vapid {
    /// The key pair derived from `secret` (≥ 32 characters), with the contact `subject`
    /// (`mailto:` or `https:`, which push services use to reach the sender's operator).
    pub fn from_secret(secret: &str, subject: &str) -> Result<Self, String> {
        if secret.len() < VAPID_SECRET_MIN {
            return Err(format!("must be at least {VAPID_SECRET_MIN} characters"));
        }
        if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
            return Err(format!("VAPID_SUBJECT must be a mailto: or https: URL, got {subject:?}"));
        }
        // A scalar below the group order: the first of HKDF(secret, counter) that the curve takes
        // (all but about one in four billion are).
        for counter in 0u8..=255 {
            let scalar = hkdf(b"habit-tracker vapid", secret.as_bytes(), &[b"p256 key ", &[counter][..]].concat(), 32);
            let Ok(private) = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, &scalar) else { continue };
            let public = private.compute_public_key().map_err(|_| "public key")?.as_ref().to_vec();
            let key = signature::EcdsaKeyPair::from_private_key_and_public_key(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &scalar,
                &public,
            )
            .map_err(|e| format!("key: {e}"))?;
            return Ok(Vapid { key: Arc::new(key), public, subject: subject.to_owned() });
        }
        Err("no key could be derived from the secret".into())
    }

    /// `VAPID_SECRET_ARN` (read from Secrets Manager) or `VAPID_SECRET`, and `VAPID_SUBJECT`.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let mut vars: HashMap<String, String> = std::env::vars().collect();
        if let Some(arn) = vars.get(VAPID_SECRET_VAR).filter(|v| !v.is_empty()).cloned() {
            let secret = crate::signing::fetch(sdk, &arn)
                .await
                .map_err(|reason| ConfigError::Malformed { name: VAPID_SECRET_VAR, reason })?;
            vars.insert("VAPID_SECRET".into(), secret);
        }
        Self::from_vars(&vars)
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let vars = Vars(vars);
        let secret =
            vars.get("VAPID_SECRET").ok_or(ConfigError::Missing("VAPID_SECRET_ARN (or VAPID_SECRET locally)"))?;
        let subject = vars.get("VAPID_SUBJECT").ok_or(ConfigError::Missing("VAPID_SUBJECT"))?;
        Vapid::from_secret(secret, subject).map_err(|reason| ConfigError::Malformed { name: "VAPID_SECRET", reason })
    }

    /// The public key as the browser's `applicationServerKey` takes it: the uncompressed point,
    /// base64url.
    pub fn public_key(&self) -> String {
        B64U.encode(&self.public)
    }

    /// The `Authorization` header of a push to `endpoint` (RFC 8292): `vapid t=<JWT>, k=<key>`,
    /// the JWT (ES256) naming the push service's origin, valid for 12 hours.
    pub fn authorization(&self, endpoint: &http::Uri, now: chrono::DateTime<chrono::Utc>) -> Result<String, String> {
        let origin = format!(
            "{}://{}",
            endpoint.scheme_str().ok_or("no scheme")?,
            endpoint.authority().ok_or("no host")?.as_str()
        );
        let header = B64U.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({"aud": origin, "exp": now.timestamp() + 12 * 3600, "sub": self.subject});
        let signing_input = format!("{header}.{}", B64U.encode(claims.to_string()));
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = self.key.sign(&rng, signing_input.as_bytes()).map_err(|_| "signing failed")?;
        Ok(format!("vapid t={signing_input}.{}, k={}", B64U.encode(sig.as_ref()), self.public_key()))
    }
}

/// A refused field of a subscription, and why.
pub type FieldError = (&'static str, &'static str);

/// A browser's subscription keys, checked: `p256dh` an uncompressed P-256 point (65 bytes),
/// `auth` 16 bytes, both base64url (padding taken).
pub fn check_keys(p256dh: &str, auth: &str) -> Result<(Vec<u8>, Vec<u8>), FieldError> {
    let decode = |s: &str| B64U.decode(s.trim_end_matches('='));
    let ua = decode(p256dh).map_err(|_| ("keys.p256dh", "must be base64url"))?;
    let valid_point = ua.len() == 65 && ua[0] == 4 && {
        // Agreeing with it is the check that it is a point of the curve.
        let probe = agreement::PrivateKey::generate(&agreement::ECDH_P256).expect("key generation");
        agreement::agree(&probe, agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &ua), (), |_| Ok(())).is_ok()
    };
    if !valid_point {
        return Err(("keys.p256dh", "must be an uncompressed P-256 public key (65 bytes)"));
    }
    let auth = decode(auth).map_err(|_| ("keys.auth", "must be base64url"))?;
    if auth.len() != 16 {
        return Err(("keys.auth", "must be 16 bytes"));
    }
    Ok((ua, auth))
}

/// Encrypts `plaintext` for the subscription (`ua_public`: its `p256dh`, `auth`: its auth secret)
/// as RFC 8291 says: an ephemeral ECDH key, a random salt, one `aes128gcm` record. The result is
/// the request body (`Content-Encoding: aes128gcm`).
pub fn encrypt(ua_public: &[u8], auth: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    if plaintext.len() > PAYLOAD_MAX {
        return Err(format!("the payload is over {PAYLOAD_MAX} bytes"));
    }
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let own = agreement::PrivateKey::generate(&agreement::ECDH_P256).map_err(|_| "key generation")?;
    let own_public = own.compute_public_key().map_err(|_| "public key")?.as_ref().to_vec();
    let shared = agreement::agree(
        &own,
        agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, ua_public),
        "the subscription's key is not a P-256 point",
        |s| Ok(s.to_vec()),
    )?;
    let key_info = [b"WebPush: info\0".as_slice(), ua_public, &own_public].concat();
    let ikm = hkdf(auth, &shared, &key_info, 32);
    let mut salt = [0u8; 16];
    rng.fill(&mut salt).map_err(|_| "random")?;
    let cek = hkdf(&salt, &ikm, b"Content-Encoding: aes128gcm\0", 16);
    let nonce = hkdf(&salt, &ikm, b"Content-Encoding: nonce\0", 12);
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &cek).map_err(|_| "cek")?);
    let mut record = [plaintext, &[2u8]].concat(); // 0x02: the last record, no padding
    key.seal_in_place_append_tag(
        aead::Nonce::try_assume_unique_for_key(&nonce).map_err(|_| "nonce")?,
        aead::Aad::empty(),
        &mut record,
    )
    .map_err(|_| "sealing failed")?;
    let mut body = Vec::with_capacity(16 + 4 + 1 + own_public.len() + record.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(own_public.len() as u8);
    body.extend_from_slice(&own_public);
    body.extend_from_slice(&record);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The receiving side, written from RFC 8291 §3.4 and RFC 8188 §2 for this test only.
    fn decrypt(ua_private: &agreement::PrivateKey, auth: &[u8], body: &[u8]) -> Vec<u8> {
        let (salt, rest) = body.split_at(16);
        let rs = u32::from_be_bytes(rest[..4].try_into().unwrap());
        assert_eq!(rs, RECORD_SIZE);
        let idlen = rest[4] as usize;
        let (as_public, record) = rest[5..].split_at(idlen);
        let ua_public = ua_private.compute_public_key().unwrap().as_ref().to_vec();
        let shared = agreement::agree(
            ua_private,
            agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, as_public),
            (),
            |s| Ok(s.to_vec()),
        )
        .unwrap();
        let ikm = hkdf(auth, &shared, &[b"WebPush: info\0".as_slice(), &ua_public, as_public].concat(), 32);
        let cek = hkdf(salt, &ikm, b"Content-Encoding: aes128gcm\0", 16);
        let nonce = hkdf(salt, &ikm, b"Content-Encoding: nonce\0", 12);
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &cek).unwrap());
        let mut data = record.to_vec();
        let plain = key
            .open_in_place(aead::Nonce::try_assume_unique_for_key(&nonce).unwrap(), aead::Aad::empty(), &mut data)
            .unwrap();
        assert_eq!(plain.last(), Some(&2), "the last record's delimiter");
        plain[..plain.len() - 1].to_vec()
    }

    #[test]
    fn hkdf_matches_rfc_5869_test_case_1() {
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let okm = hkdf(&salt, &ikm, &info, 32);
        assert_eq!(
            okm.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }

    #[test]
    fn a_message_decrypts_with_the_subscriptions_private_key_only() {
        let ua = agreement::PrivateKey::generate(&agreement::ECDH_P256).unwrap();
        let ua_public = ua.compute_public_key().unwrap().as_ref().to_vec();
        let auth = [7u8; 16];
        let body = encrypt(&ua_public, &auth, b"Time to stretch").unwrap();
        assert_eq!(decrypt(&ua, &auth, &body), b"Time to stretch");
        let again = encrypt(&ua_public, &auth, b"Time to stretch").unwrap();
        assert_ne!(body, again, "a new salt and key each time");
        let other = agreement::PrivateKey::generate(&agreement::ECDH_P256).unwrap();
        let result = std::panic::catch_unwind(|| decrypt(&other, &auth, &body));
        assert!(result.is_err(), "another key cannot read it");
        assert!(encrypt(&ua_public, &auth, &vec![b'x'; PAYLOAD_MAX + 1]).is_err());
    }

    #[test]
    fn the_vapid_key_is_derived_from_the_secret_and_signs_a_jwt_for_the_push_services_origin() {
        let secret = "a-local-vapid-secret-of-enough-length-0123";
        let a = Vapid::from_secret(secret, "mailto:ops@example.com").unwrap();
        let b = Vapid::from_secret(secret, "mailto:ops@example.com").unwrap();
        assert_eq!(a.public_key(), b.public_key(), "the same secret, the same key");
        assert_ne!(a.public_key(), Vapid::from_secret(&format!("{secret}x"), "mailto:o@x.io").unwrap().public_key());
        assert_eq!(B64U.decode(a.public_key()).unwrap().len(), 65);
        assert!(Vapid::from_secret("short", "mailto:o@x.io").is_err());
        assert!(Vapid::from_secret(secret, "ops@example.com").is_err());
        let endpoint: http::Uri = "https://fcm.googleapis.com/fcm/send/abc:def".parse().unwrap();
        let now = chrono::Utc::now();
        let header = a.authorization(&endpoint, now).unwrap();
        let (t, k) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(k, a.public_key());
        let parts: Vec<&str> = t.split('.').collect();
        let claims: serde_json::Value = serde_json::from_slice(&B64U.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://fcm.googleapis.com");
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        assert_eq!(claims["exp"], now.timestamp() + 12 * 3600);
        let public = signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, B64U.decode(k).unwrap());
        public.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &B64U.decode(parts[2]).unwrap()).unwrap();
    }

    #[test]
    fn subscription_keys_are_checked() {
        let ua = agreement::PrivateKey::generate(&agreement::ECDH_P256).unwrap();
        let p256dh = B64U.encode(ua.compute_public_key().unwrap().as_ref());
        let auth = B64U.encode([1u8; 16]);
        assert!(check_keys(&p256dh, &auth).is_ok());
        assert!(check_keys(&format!("{p256dh}="), &auth).is_ok(), "padding taken");
        let mut off_curve = B64U.decode(&p256dh).unwrap();
        off_curve[64] ^= 1;
        assert_eq!(check_keys(&B64U.encode(off_curve), &auth).unwrap_err().0, "keys.p256dh");
        assert_eq!(check_keys("!!", &auth).unwrap_err().0, "keys.p256dh");
        assert_eq!(check_keys(&p256dh, &B64U.encode([1u8; 15])).unwrap_err().0, "keys.auth");
    }
}
