//! Access tokens: HS256 JWTs with the algorithm pinned and `exp`, `nbf`, `iat`, `iss`, `aud`,
//! `sub` required and checked, signed by the active key of the set and carrying its `kid`; any
//! key of the set verifies (a rotation logs nobody out, see [`crate::signing`]). `ver` carries the user's token version, so bumping it (password
//! change, role change, deactivation) revokes every token issued before.

use crate::{config::AuthConfig, domain::Role, error::ApiError};
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    /// The user's token version when the token was issued.
    pub ver: u64,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
}

#[derive(Clone)]
pub struct JwtKeys {
    /// The active key's id (the `kid` header of every token issued).
    kid: String,
    encoding: EncodingKey,
    /// Every key of the set, by id.
    decoding: Vec<(String, DecodingKey)>,
    validation: Validation,
    issuer: String,
    audience: String,
    pub ttl: Duration,
}

impl JwtKeys {
    pub fn new(config: &AuthConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let keys = &config.signing_keys;
        JwtKeys {
            kid: keys.active.clone(),
            encoding: EncodingKey::from_secret(keys.active_secret()),
            decoding: keys.keys.iter().map(|(kid, secret)| (kid.clone(), DecodingKey::from_secret(secret))).collect(),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl: config.access_token_ttl,
        }
    }

    /// Issues an access token for a user at `now` (epoch seconds).
    pub fn issue(&self, user_id: &str, role: Role, token_version: u64, now: u64) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user_id.to_owned(),
            role,
            ver: token_version,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs(),
            jti: ulid::Ulid::new().to_string(),
        };
        let header = Header { kid: Some(self.kid.clone()), ..Header::new(Algorithm::HS256) };
        encode(&header, &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// Verifies signature, algorithm and every registered claim. Any failure is a 401 that does
    /// not say which check failed.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let invalid = || ApiError::Unauthorized("invalid or expired access token");
        let kid = decode_header(token).map_err(|_| invalid())?.kid.ok_or_else(invalid)?;
        let (_, key) = self.decoding.iter().find(|(k, _)| *k == kid).ok_or_else(invalid)?;
        decode::<Claims>(token, key, &self.validation).map(|data| data.claims).map_err(|_| invalid())
    }
}

pub fn now_epoch() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
