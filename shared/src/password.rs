//! Password hashing: argon2id with OWASP's minimum parameters (m=19456 KiB, t=2, p=1), stored as a
//! PHC string. Hashing runs on the blocking pool, never on the async executor.

use crate::{domain::Password, error::ApiError};
use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use std::sync::OnceLock;

pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> Result<String, ApiError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(ApiError::internal)?;
    hasher().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(ApiError::internal)
}

/// Hashes a policy-checked password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub async fn hash(password: Password) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_blocking(password.expose())).await.map_err(ApiError::internal)?
}

/// A hash of a random password, computed once: verifying against it when the user does not
/// exist makes "unknown user" cost the same time as "wrong password".
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 24] = rand::random();
        hash_blocking(&format!("{random:?}")).expect("hashing a random password")
    })
}

/// Verifies `candidate` against `phc` (or against a dummy hash when `phc` is `None`), on the
/// blocking pool. Returns `false` for a wrong password and for a missing user alike.
pub async fn verify(candidate: String, phc: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let stored = phc.as_deref().unwrap_or_else(|| dummy_hash());
        let parsed = PasswordHash::new(stored).map_err(ApiError::internal)?;
        let ok = hasher().verify_password(candidate.as_bytes(), &parsed).is_ok();
        Ok(ok && phc.is_some())
    })
    .await
    .map_err(ApiError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let h = hash(Password::parse("correct horse battery", None, None).unwrap()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery".into(), Some(h.clone())).await.unwrap());
        assert!(!verify("wrong horse battery".into(), Some(h.clone())).await.unwrap());
        let h2 = hash(Password::parse("correct horse battery", None, None).unwrap()).await.unwrap();
        assert_ne!(h, h2, "salts differ");
    }

    #[tokio::test]
    async fn missing_user_never_verifies() {
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }
}
