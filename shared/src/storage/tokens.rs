//! Refresh-token families: one item per login session, rotated on every refresh.

use super::{s, Db};
use crate::{error::ApiError, keys, models::RefreshFamilyItem};

/// Rotated hashes remembered per family to recognise reuse (older ones expire with the family).
pub const MAX_ROTATED: usize = 100;

impl Db {
    pub async fn create_refresh_family(&self, family: &RefreshFamilyItem) -> Result<(), ApiError> {
        self.put_new(family).await
    }

    pub async fn get_refresh_family(
        &self,
        user_id: &str,
        family_id: &str,
    ) -> Result<Option<RefreshFamilyItem>, ApiError> {
        self.get(&keys::refresh_family(user_id, family_id), true).await
    }

    /// Moves the family from `family.current_hash` to `new_hash`. Fails with a conflict if another
    /// refresh rotated it first (so one refresh token is used once, even under races). A
    /// `grace_retry` answers the hash the latest rotation replaced, once: that rotation's time
    /// and replaced hash stay, and its grace is used up.
    pub async fn rotate_refresh_family(
        &self,
        family: &RefreshFamilyItem,
        new_hash: &str,
        expires_at_epoch: i64,
        now: i64,
        grace_retry: bool,
    ) -> Result<(), ApiError> {
        let mut rotated = family.rotated_hashes.clone();
        rotated.push(family.current_hash.clone());
        if rotated.len() > MAX_ROTATED {
            rotated.drain(..rotated.len() - MAX_ROTATED);
        }
        let updated = RefreshFamilyItem {
            current_hash: new_hash.to_owned(),
            rotated_hashes: rotated,
            previous_hash: if grace_retry { family.previous_hash.clone() } else { Some(family.current_hash.clone()) },
            rotated_at: if grace_retry { family.rotated_at } else { now },
            grace_used: grace_retry,
            expires_at_epoch,
            ..family.clone()
        };
        self.put_if(
            &super::to_item(&updated)?,
            "current_hash = :old",
            Some(super::values([(":old", s(&family.current_hash))])),
        )
        .await
    }

    /// Revokes a whole family (logout, or reuse of a rotated token).
    pub async fn delete_refresh_family(&self, user_id: &str, family_id: &str) -> Result<(), ApiError> {
        let key = keys::refresh_family(user_id, family_id);
        self.delete_existing(&key).await?;
        Ok(())
    }
}
