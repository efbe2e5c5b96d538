//! Login throttling per account (OWASP API4): after [`MAX_FAILURES`] failed logins within
//! [`WINDOW_SECS`], further attempts get 429 with `Retry-After` until the window ends, whatever
//! the password. Accounts are keyed by user id; identifiers that name no account are throttled by
//! the identifier itself, so unknown users and wrong passwords still answer alike.

use super::{from_item, item_key, n, s, sdk_error, Db};
use crate::{
    error::ApiError,
    keys::{self, Key},
    models::{GuardItem, UserItem},
};
use serde::{Deserialize, Serialize};

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW_SECS: i64 = 15 * 60;

/// `LOGIN#<subject> / THROTTLE`: failed logins in the current window; expires with it (TTL).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginThrottleItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub failures: u32,
    pub window_ends_at: i64,
    pub expires_at_epoch: i64,
}

impl LoginThrottleItem {
    pub const ENTITY: &'static str = "LoginThrottle";

    /// Seconds until the account may try again, if it is locked now.
    pub fn locked_for(&self, now: i64) -> Option<u64> {
        (self.failures >= MAX_FAILURES && self.window_ends_at > now).then(|| (self.window_ends_at - now) as u64)
    }
}

/// What a login attempt found.
pub struct LoginLookup {
    pub user: Option<UserItem>,
    pub throttle_key: Key,
    pub throttle: Option<LoginThrottleItem>,
}

impl Db {
    /// Resolves the identifier's guard, then reads the account and its throttle state in one
    /// `BatchGetItem` (two calls in all). `subject` names the identifier when no account has it.
    pub async fn login_lookup(&self, guard: &Key, subject: &str) -> Result<LoginLookup, ApiError> {
        let user_id = self.get::<GuardItem>(guard, true).await?.map(|g| g.user_id);
        let throttle_key = match &user_id {
            Some(id) => keys::login_throttle(&format!("USER#{id}")),
            None => keys::login_throttle(subject),
        };
        let mut wanted = vec![throttle_key.clone()];
        if let Some(id) = &user_id {
            wanted.push(keys::user(id));
        }
        let (mut user, mut throttle) = (None, None);
        for item in self.batch_get_raw(&wanted).await? {
            match item_key(&item) {
                Some(k) if k == throttle_key => throttle = Some(from_item(item)?),
                Some(_) => user = Some(from_item(item)?),
                None => {}
            }
        }
        Ok(LoginLookup { user, throttle_key, throttle })
    }

    /// Counts a failed login; a window that has ended starts again at one.
    pub async fn record_login_failure(&self, key: &Key, now: i64) -> Result<(), ApiError> {
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("ADD failures :one")
            .condition_expression("window_ends_at > :now")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match counted.map_err(sdk_error) {
            Ok(_) => Ok(()),
            Err(ApiError::Conflict { .. }) => {
                let item = LoginThrottleItem {
                    pk: key.pk.clone(),
                    sk: key.sk.clone(),
                    entity: LoginThrottleItem::ENTITY.into(),
                    failures: 1,
                    window_ends_at: now + WINDOW_SECS,
                    expires_at_epoch: now + WINDOW_SECS,
                };
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(super::to_item(&item)?))
                    .send()
                    .await
                    .map_err(sdk_error)?;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Forgets the failures after a successful login.
    pub async fn clear_login_failures(&self, key: &Key) -> Result<(), ApiError> {
        self.delete_existing(key).await.map(|_| ())
    }
}
