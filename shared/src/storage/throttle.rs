//! Login throttling (OWASP API4, NIST SP 800-63B §5.2.2), counted *before* any password is
//! hashed, atomically, so that parallel attempts cannot slip past the count:
//!
//! - **Per identifier** as typed (`NAME#alice`, `EMAIL#alice@example.com`, or a signed-in user's
//!   id for a password change): the first [`FREE_FAILURES`] failures cost nothing; after them each
//!   attempt waits a delay that doubles (1, 2, 4, ... s) up to [`MAX_DELAY_SECS`]. An attempt is
//!   counted as a failure when it starts and forgotten when it succeeds; failures are forgotten
//!   [`WINDOW_SECS`] after the last one. There is no hard lock: a stranger's failures keep the
//!   right password waiting [`MAX_DELAY_SECS`] at most. A username and the account's e-mail are
//!   counted apart, so the answers never tell which identifiers share an account, and an unknown
//!   identifier is counted exactly like a known one.
//! - **Per source address** (API Gateway's `sourceIp`): at most [`SOURCE_ATTEMPTS`] password
//!   checks (logins, registrations, password changes) per [`SOURCE_WINDOW_SECS`], which bounds
//!   the argon2 work one client can cause.
//!
//! Both answer 429 with `Retry-After`. Attempts that race for the same slot lose with a 429 of one
//! second, so that N parallel wrong passwords are never N password checks.

use super::{from_item, item_key, n, s, sdk_error, values, Db};
use crate::{
    domain::{Email, Username},
    error::ApiError,
    keys::{self, Key},
    models::GuardItem,
};
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use serde::{Deserialize, Serialize};

pub const FREE_FAILURES: u32 = 5;
pub const MAX_DELAY_SECS: i64 = 30;
pub const WINDOW_SECS: i64 = 15 * 60;
pub const SOURCE_ATTEMPTS: u32 = 100;
pub const SOURCE_WINDOW_SECS: i64 = 5 * 60;

/// `LOGIN#<subject> / THROTTLE`: the failures of one identifier; expires with its window (TTL).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginThrottleItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub failures: u32,
    /// No attempt before this time (epoch seconds).
    #[serde(default)]
    pub next_attempt_at: i64,
    pub window_ends_at: i64,
    pub expires_at_epoch: i64,
    /// A new id at every write: what makes one attempt's write its own, so that a retry after a
    /// lost answer recognises it ([`Db::put_if`]) and concurrent attempts (which would otherwise
    /// write the very same counts) never take each other's write for theirs.
    #[serde(default)]
    pub attempt_id: String,
}

impl LoginThrottleItem {
    pub const ENTITY: &'static str = "LoginThrottle";

    fn live(&self, now: i64) -> bool {
        self.window_ends_at > now
    }

    /// The first count of a window of `window_secs` starting `now`.
    fn first(key: &Key, now: i64, next_attempt_at: i64, window_secs: i64) -> Self {
        LoginThrottleItem {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            entity: Self::ENTITY.into(),
            failures: 1,
            next_attempt_at,
            window_ends_at: now + window_secs,
            expires_at_epoch: now + window_secs,
            attempt_id: ulid::Ulid::new().to_string(),
        }
    }
}

/// The wait before the next attempt once `failures` have been counted: none for the first
/// [`FREE_FAILURES`], then 1, 2, 4, ... seconds, at most [`MAX_DELAY_SECS`].
pub fn delay_after(failures: u32) -> i64 {
    match failures.checked_sub(FREE_FAILURES) {
        None => 0,
        Some(extra) => (1_i64 << extra.min(6)).min(MAX_DELAY_SECS),
    }
}

/// The identifier a login names, as typed (never the account it resolves to).
pub enum LoginId {
    Username(Username),
    Email(Email),
}

impl LoginId {
    /// The guard that names the account with this identifier, if there is one.
    pub fn guard(&self) -> Key {
        match self {
            LoginId::Username(u) => keys::username_guard(u.as_str()),
            LoginId::Email(e) => keys::email_guard(e.as_str()),
        }
    }

    /// Where the identifier's failures are counted.
    pub fn throttle(&self) -> Key {
        match self {
            LoginId::Username(u) => keys::username_throttle(u.as_str()),
            LoginId::Email(e) => keys::email_throttle(e.as_str()),
        }
    }
}

fn too_many(secs: i64) -> ApiError {
    ApiError::TooManyRequests { retry_after_secs: secs.max(1) as u64 }
}

impl Db {
    /// Reads what a login needs before its password is checked, in one `BatchGetItem`: the guard
    /// of the identifier (whose account it names, if any) and the identifier's throttle state.
    pub async fn login_lookup(
        &self,
        guard: &Key,
        throttle_key: &Key,
    ) -> Result<(Option<GuardItem>, Option<LoginThrottleItem>), ApiError> {
        let (mut found_guard, mut throttle) = (None, None);
        for item in self.batch_get_raw(&[guard.clone(), throttle_key.clone()]).await? {
            match item_key(&item) {
                Some(k) if k == *throttle_key => throttle = Some(from_item(item)?),
                Some(k) if k == *guard => found_guard = Some(from_item(item)?),
                _ => {}
            }
        }
        Ok((found_guard, throttle))
    }

    /// Counts one attempt of `subject` as a failure before its password is checked, or refuses it
    /// (429) while the identifier must wait. `state` is the identifier's item as read before.
    pub async fn reserve_login_attempt(
        &self,
        key: &Key,
        state: Option<&LoginThrottleItem>,
        now: i64,
    ) -> Result<(), ApiError> {
        let write = match state.filter(|t| t.live(now)) {
            None => {
                self.start_window(&LoginThrottleItem::first(key, now, now + delay_after(1), WINDOW_SECS), now).await
            }
            Some(t) if t.next_attempt_at > now => return Err(too_many(t.next_attempt_at - now)),
            Some(t) => {
                let failures = t.failures + 1;
                let counted = LoginThrottleItem {
                    failures,
                    next_attempt_at: now + delay_after(failures),
                    window_ends_at: now + WINDOW_SECS,
                    expires_at_epoch: now + WINDOW_SECS,
                    attempt_id: ulid::Ulid::new().to_string(),
                    ..t.clone()
                };
                self.put_if(
                    &super::to_item(&counted)?,
                    "failures = :seen AND window_ends_at > :now",
                    Some(values([(":seen", n(t.failures)), (":now", n(now))])),
                )
                .await
            }
        };
        match write {
            // Another attempt of this identifier took the slot first.
            Err(ApiError::Conflict { .. }) => Err(too_many(1)),
            other => other,
        }
    }

    /// Writes the first count of a window, unless a live window exists (a 409 then).
    async fn start_window(&self, first: &LoginThrottleItem, now: i64) -> Result<(), ApiError> {
        self.put_if(
            &super::to_item(first)?,
            "attribute_not_exists(PK) OR window_ends_at <= :now",
            Some(values([(":now", n(now))])),
        )
        .await
    }

    /// Forgets the identifier's failures after its right password.
    pub async fn clear_login_failures(&self, key: &Key) -> Result<(), ApiError> {
        self.delete_existing(key).await.map(|_| ())
    }

    /// Counts one password check from `source`, or refuses it (429) when the source has used its
    /// [`SOURCE_ATTEMPTS`] of the window. One call, two when a window starts.
    pub async fn reserve_source_attempt(&self, source: &str, now: i64, limit: u32) -> Result<(), ApiError> {
        let key = keys::source_throttle(source);
        for _ in 0..2 {
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(keys::PK, s(&key.pk))
                .key(keys::SK, s(&key.sk))
                .update_expression("ADD failures :one")
                .condition_expression("failures < :max AND window_ends_at > :now")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":max", n(limit))
                .expression_attribute_values(":now", n(now))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let old = match counted {
                Ok(_) => return Ok(()),
                Err(e) => match e.as_service_error() {
                    Some(
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                            failed,
                        ),
                    ) => failed.item.clone(),
                    _ => return Err(sdk_error(e)),
                },
            };
            let window_ends_at = old.as_ref().and_then(|i| i.get("window_ends_at")).and_then(|v| v.as_n().ok());
            if let Some(end) = window_ends_at.and_then(|e| e.parse::<i64>().ok()).filter(|end| *end > now) {
                return Err(too_many(end - now));
            }
            // No window yet, or an ended one: start one (a parallel start wins; count again).
            match self.start_window(&LoginThrottleItem::first(&key, now, 0, SOURCE_WINDOW_SECS), now).await {
                Ok(_) => return Ok(()),
                Err(ApiError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(too_many(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_after_the_free_failures_up_to_its_cap() {
        let delays: Vec<i64> = (0..14).map(delay_after).collect();
        assert_eq!(delays, [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 30, 30, 30, 30]);
        assert_eq!(delay_after(u32::MAX), MAX_DELAY_SECS);
    }
}
