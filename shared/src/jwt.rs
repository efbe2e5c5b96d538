//! Access tokens: HS256 JWTs with the algorithm pinned and `exp`, `nbf`, `iat`, `iss`, `aud`,
//! `sub` required and checked. `ver` carries the user's token version, so bumping it (password
//! change, role change, deactivation) revokes every token issued before.

use crate::{config::Config, error::ApiError, models::Role};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
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
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub ttl: Duration,
}

impl JwtKeys {
    pub fn new(config: &Config) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        JwtKeys {
            encoding: EncodingKey::from_secret(&config.jwt_secret),
            decoding: DecodingKey::from_secret(&config.jwt_secret),
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
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// Verifies signature, algorithm and every registered claim. Any failure is a 401 that does
    /// not say which check failed.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| ApiError::Unauthorized("invalid or expired access token"))
    }
}

pub fn now_epoch() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
