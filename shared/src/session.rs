//! Sessions: an access token plus an opaque refresh token of a rotating family.
//!
//! A refresh token reads `rt1.<user_id>.<family_id>.<secret>`; only SHA-256 of the secret is
//! stored. Refreshing swaps the family's current hash for a new one (single use); presenting a
//! hash the family already rotated away is reuse, and revokes the whole family.

use crate::{
    error::ApiError,
    jwt::now_epoch,
    models::{RefreshFamilyItem, UserItem},
    state::AppState,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const PREFIX: &str = "rt1";

/// How long after a rotation the token it replaced is still answered once (a retry of a refresh
/// whose answer was lost).
pub const REFRESH_GRACE_SECS: i64 = 30;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
}

/// A parsed (not yet verified) refresh token.
pub struct RefreshToken {
    pub user_id: String,
    pub family_id: String,
    secret: String,
}

impl RefreshToken {
    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.split('.');
        let (prefix, user_id, family_id, secret) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let is_id = crate::domain::is_ulid;
        if prefix != PREFIX || parts.next().is_some() || !is_id(user_id) || !is_id(family_id) || secret.len() != 43 {
            return None;
        }
        Some(RefreshToken { user_id: user_id.into(), family_id: family_id.into(), secret: secret.into() })
    }

    pub fn hash(&self) -> String {
        hash_secret(&self.secret)
    }
}

fn hash_secret(secret: &str) -> String {
    B64.encode(Sha256::digest(secret.as_bytes()))
}

fn new_secret() -> String {
    B64.encode(rand::random::<[u8; 32]>())
}

/// When a session ends however often it is refreshed: its absolute lifetime after the login.
fn session_end(state: &AppState, session_started: chrono::DateTime<chrono::Utc>) -> i64 {
    session_started.timestamp() + state.auth.session_max_age.as_secs() as i64
}

/// When a refresh token expires: after its idle lifetime, and never past [`session_end`].
fn refresh_expiry(state: &AppState, session_started: chrono::DateTime<chrono::Utc>) -> i64 {
    let idle = (now_epoch() + state.auth.refresh_token_ttl.as_secs()) as i64;
    idle.min(session_end(state, session_started))
}

fn pair(state: &AppState, user: &UserItem, family_id: &str, secret: &str) -> Result<TokenPair, ApiError> {
    Ok(TokenPair {
        access_token: state.jwt.issue(&user.user_id, user.role, user.token_version, now_epoch())?,
        token_type: "Bearer".into(),
        expires_in: state.jwt.ttl.as_secs(),
        refresh_token: format!("{PREFIX}.{}.{family_id}.{secret}", user.user_id),
    })
}

/// A session made but not stored yet: its refresh family, to be written with the request's other
/// items (registration writes it in the account's own transaction), and the secret its first
/// refresh token carries.
pub struct NewSession {
    pub family: RefreshFamilyItem,
    secret: String,
}

impl NewSession {
    /// The token pair of this session, once its family is stored.
    pub fn tokens(&self, state: &AppState, user: &UserItem) -> Result<TokenPair, ApiError> {
        pair(state, user, &self.family.family_id, &self.secret)
    }
}

/// Starts a new session (login, password change) for `user`.
pub async fn start(state: &AppState, user: &UserItem) -> Result<TokenPair, ApiError> {
    let session = new_session(state, user);
    state.db.create_refresh_family(&session.family).await?;
    session.tokens(state, user)
}

/// A new session of `user`, not stored yet.
pub fn new_session(state: &AppState, user: &UserItem) -> NewSession {
    let family_id = ulid::Ulid::new().to_string();
    let secret = new_secret();
    let key = crate::keys::refresh_family(&user.user_id, &family_id);
    let created_at = chrono::Utc::now();
    let family = RefreshFamilyItem {
        pk: key.pk,
        sk: key.sk,
        entity: RefreshFamilyItem::ENTITY.into(),
        user_id: user.user_id.clone(),
        family_id: family_id.clone(),
        current_hash: hash_secret(&secret),
        rotated_hashes: Vec::new(),
        previous_hash: None,
        rotated_at: 0,
        grace_used: false,
        token_version: user.token_version,
        created_at,
        expires_at_epoch: refresh_expiry(state, created_at),
    };
    NewSession { family, secret }
}

const INVALID: ApiError = ApiError::Unauthorized("invalid or expired refresh token");

/// Exchanges a refresh token for a new pair; the presented token is spent. The token the latest
/// rotation replaced is answered once more within [`REFRESH_GRACE_SECS`] (a retried refresh);
/// any other spent token is reuse and ends the session.
pub async fn refresh(state: &AppState, raw: &str) -> Result<TokenPair, ApiError> {
    let token = RefreshToken::parse(raw).ok_or(INVALID)?;
    let family = state.db.get_refresh_family(&token.user_id, &token.family_id).await?.ok_or(INVALID)?;
    let presented = token.hash();
    let now = now_epoch() as i64;
    if family.expires_at_epoch <= now || session_end(state, family.created_at) <= now {
        return Err(INVALID);
    }
    let same = |hash: &str| bool::from(subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), hash.as_bytes()));
    let current = same(&family.current_hash);
    let retry = !current
        && !family.grace_used
        && now - family.rotated_at <= REFRESH_GRACE_SECS
        && family.previous_hash.as_deref().is_some_and(same);
    if !current && !retry {
        if family.rotated_hashes.iter().any(|h| h == &presented) {
            tracing::warn!(user_id = %token.user_id, family_id = %token.family_id, "refresh token reuse: family revoked");
            state.db.delete_refresh_family(&token.user_id, &token.family_id).await?;
        }
        return Err(INVALID);
    }
    let user = state.db.get_user(&token.user_id, true).await?.ok_or(INVALID)?;
    if !user.is_active || user.token_version != family.token_version {
        return Err(INVALID);
    }
    let secret = new_secret();
    let expires = refresh_expiry(state, family.created_at);
    state.db.rotate_refresh_family(&family, &hash_secret(&secret), expires, now, retry).await.map_err(|e| match e {
        // Another request spent this token first: it is no longer valid for this one.
        ApiError::Conflict { .. } => INVALID,
        other => other,
    })?;
    pair(state, &user, &token.family_id, &secret)
}

/// Ends the session a refresh token belongs to (logout). Unknown tokens are ignored.
pub async fn end(state: &AppState, raw: &str) -> Result<(), ApiError> {
    let token = RefreshToken::parse(raw).ok_or(INVALID)?;
    let Some(family) = state.db.get_refresh_family(&token.user_id, &token.family_id).await? else {
        return Ok(());
    };
    let presented = token.hash();
    if presented == family.current_hash || family.rotated_hashes.contains(&presented) {
        state.db.delete_refresh_family(&token.user_id, &token.family_id).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_only_well_formed_tokens() {
        let u = ulid::Ulid::new().to_string();
        let f = ulid::Ulid::new().to_string();
        let secret = new_secret();
        let t = RefreshToken::parse(&format!("rt1.{u}.{f}.{secret}")).unwrap();
        assert_eq!((t.user_id.as_str(), t.family_id.as_str()), (u.as_str(), f.as_str()));
        assert_eq!(t.hash(), hash_secret(&secret));
        assert!(RefreshToken::parse(&format!("rt2.{u}.{f}.{secret}")).is_none());
        assert!(RefreshToken::parse(&format!("rt1.{u}.{f}.{secret}.x")).is_none());
        assert!(RefreshToken::parse(&format!("rt1.nope.{f}.{secret}")).is_none());
        assert!(RefreshToken::parse(&format!("rt1.{u}.{f}.short")).is_none());
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,300}") {
            let _ = RefreshToken::parse(&s);
        }
    }
}
