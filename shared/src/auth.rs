//! Authorization, decided here and only here.
//!
//! [`AuthUser`] verifies the bearer token and loads the caller's user item (one consistent
//! `GetItem`), rejecting deactivated users and tokens issued before the user's token version was
//! bumped. Handlers take the caller's id from it, so the partition they touch is always the
//! caller's own. [`AdminUser`] additionally requires the `admin` role.
//!
//! A read-only route takes a [`Reader`] instead: the token is verified at once, and the account
//! check runs *together with* the route's own read ([`Reader::read`]), so the request waits for
//! one DynamoDB round trip, not two. The check decides first: a refused caller gets the refusal
//! (401), whatever the read found or failed with, so nothing about the data leaks; the read only
//! ever addresses the partition of the token's verified subject. Writes keep [`AuthUser`]: the
//! caller is confirmed before anything is written.

use crate::{domain::Role, error::ApiError, jwt::Claims, models::UserItem, state::AppState};
use axum::{extract::FromRequestParts, http::request::Parts};

/// The verified caller.
pub struct AuthUser {
    pub user: UserItem,
    pub claims: Claims,
}

impl AuthUser {
    pub fn id(&self) -> &str {
        &self.user.user_id
    }
}

/// The verified caller, who is an admin.
pub struct AdminUser(pub AuthUser);

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header =
        parts.headers.get(axum::http::header::AUTHORIZATION).ok_or(ApiError::Unauthorized("missing bearer token"))?;
    let value = header.to_str().map_err(|_| ApiError::Unauthorized("malformed Authorization header"))?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized("malformed Authorization header"));
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        confirm(state, state.jwt.verify(bearer(parts)?)?).await
    }
}

/// The account behind verified `claims`, if it may still act: active, and with the token's
/// version and role (one consistent `GetItem`).
async fn confirm(state: &AppState, claims: Claims) -> Result<AuthUser, ApiError> {
    let revoked = || ApiError::Unauthorized("access token revoked");
    let user = state.db.get_user(&claims.sub, true).await?.ok_or_else(revoked)?;
    if !user.is_active || user.token_version != claims.ver || user.role != claims.role {
        return Err(revoked());
    }
    Ok(AuthUser { user, claims })
}

/// The caller of a read-only route: a verified token whose account is confirmed alongside the
/// route's read ([`Reader::read`]).
pub struct Reader(Claims);

impl Reader {
    /// The token's verified subject: the partition the read may address.
    pub fn id(&self) -> &str {
        &self.0.sub
    }

    /// Runs `read` and the account check at the same time. The check's answer comes first: a
    /// refusal is returned whatever `read` gave, so a revoked token learns nothing of the data.
    pub async fn read<T>(
        &self,
        state: &AppState,
        read: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<(AuthUser, T), ApiError> {
        let (caller, found) = tokio::join!(confirm(state, self.0.clone()), read);
        Ok((caller?, found?))
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Reader(state.jwt.verify(bearer(parts)?)?))
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = AuthUser::from_request_parts(parts, state).await?;
        if caller.user.role != Role::Admin {
            return Err(ApiError::Forbidden);
        }
        Ok(AdminUser(caller))
    }
}

/// Re-authentication for sensitive changes (a new e-mail, a new password, deleting the account):
/// the caller's current password, throttled like a login (per account and per source address),
/// so a stolen access token alone cannot take the account over, and cannot be used to guess the
/// password quickly. A wrong or missing password is a 400 naming `current_password`.
pub async fn confirm_password(
    state: &AppState,
    source: &crate::http::SourceIp,
    me: &AuthUser,
    candidate: Option<String>,
) -> Result<(), ApiError> {
    let Some(candidate) = candidate else {
        return Err(ApiError::invalid("current_password", "is required for this change"));
    };
    if candidate.chars().count() > crate::domain::Password::MAX {
        return Err(ApiError::invalid("current_password", "is incorrect"));
    }
    let now = crate::jwt::now_epoch() as i64;
    let key = crate::keys::account_throttle(me.id());
    let throttle = state.db.get(&key, true).await?;
    tokio::try_join!(source.reserve(state), state.db.reserve_login_attempt(&key, throttle.as_ref(), now))?;
    if !crate::password::verify(candidate, Some(me.user.password_hash.clone())).await? {
        return Err(ApiError::invalid("current_password", "is incorrect"));
    }
    state.db.clear_login_failures(&key).await
}
