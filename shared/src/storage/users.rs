//! Users, profiles and their uniqueness guards.

use super::{from_item, item_key, n, s, sdk_error, values, Db, Item, Query, SortKey, TxError, GSI1};
use crate::{
    error::ApiError,
    keys::{self, Key},
    models::{GuardItem, ProfileItem, UserItem},
};
use aws_sdk_dynamodb::types::AttributeValue;

pub const USERNAME_GUARD: &str = "UsernameGuard";
pub const EMAIL_GUARD: &str = "EmailGuard";

/// Condition that a new item (or guard) does not exist yet.
const NEW: &str = "attribute_not_exists(PK)";
/// Condition for replacing an item read at version `:v`.
const AT_VERSION: &str = "version = :v";

fn guard_conflict(field: &'static str) -> ApiError {
    let detail = match field {
        "username" => "this username is already taken",
        _ => "this e-mail address is already registered",
    };
    ApiError::conflict(field, detail)
}

impl Db {
    /// Registers a user: the user item, an empty profile and both guards, all or nothing.
    pub async fn create_user(&self, user: &UserItem, profile: &ProfileItem) -> Result<(), ApiError> {
        let ops = vec![
            self.put_op(user, Some(NEW))?,
            self.put_op(profile, Some(NEW))?,
            self.put_op(
                &GuardItem::new(keys::username_guard(&user.username), USERNAME_GUARD, &user.user_id),
                Some(NEW),
            )?,
            self.put_op(&GuardItem::new(keys::email_guard(&user.email), EMAIL_GUARD, &user.user_id), Some(NEW))?,
        ];
        self.transact(ops).await.map_err(|e| match e.failed_condition() {
            Some(2) => guard_conflict("username"),
            Some(3) => guard_conflict("email"),
            _ => e.into(),
        })
    }

    pub async fn get_user(&self, user_id: &str, consistent: bool) -> Result<Option<UserItem>, ApiError> {
        self.get(&keys::user(user_id), consistent).await
    }

    /// Replaces a user read at `current.version` with `updated` (whose version must be one more),
    /// swapping the username / e-mail guards in the same transaction when they changed.
    pub async fn update_user(&self, current: &UserItem, updated: &UserItem) -> Result<(), ApiError> {
        let mut ops = vec![self.put_op(updated, Some(AT_VERSION))?];
        // `put_op` carries no values; add the version value to the first operation.
        if let Some(put) = ops[0].put.as_mut() {
            put.expression_attribute_values = Some(values([(":v", n(current.version))]));
        }
        let mut fields = vec![None];
        let owner = values([(":uid", s(&current.user_id))]);
        for (field, entity, old, new) in [
            (
                "username",
                USERNAME_GUARD,
                keys::username_guard(&current.username),
                keys::username_guard(&updated.username),
            ),
            ("email", EMAIL_GUARD, keys::email_guard(&current.email), keys::email_guard(&updated.email)),
        ] {
            if old != new {
                ops.push(self.delete_op(&old, Some("user_id = :uid"), Some(owner.clone()))?);
                ops.push(self.put_op(&GuardItem::new(new, entity, &current.user_id), Some(NEW))?);
                fields.extend([None, Some(field)]);
            }
        }
        self.transact(ops).await.map_err(|e| match e.failed_condition() {
            Some(0) => ApiError::Conflict { detail: "the user was changed concurrently; retry".into(), field: None },
            Some(i) => match fields.get(i).copied().flatten() {
                Some(field) => guard_conflict(field),
                None => e.into(),
            },
            None => e.into(),
        })
    }

    /// Deletes a user and everything they own: every item of their partition and their guards.
    /// Items beyond what one transaction holds are batch-deleted first; the user item, profile and
    /// guards go last, in one transaction, so a failure leaves an account that can be deleted again.
    pub async fn delete_user(&self, user: &UserItem) -> Result<(), ApiError> {
        let user_key = keys::user(&user.user_id);
        let profile_key = keys::profile(&user.user_id);
        let owned: Vec<Key> = self
            .query_partition(&user_key.pk)
            .await?
            .iter()
            .filter_map(item_key)
            .filter(|k| *k != user_key && *k != profile_key)
            .collect();
        let owned_memberships: Vec<Key> = owned.iter().filter(|k| k.sk.starts_with(keys::MEMBER)).cloned().collect();
        let mut ops = vec![
            self.delete_op(&user_key, Some(AT_VERSION), Some(values([(":v", n(user.version))])))?,
            self.delete_op(&profile_key, None, None)?,
            self.delete_op(&keys::username_guard(&user.username), None, None)?,
            self.delete_op(&keys::email_guard(&user.email), None, None)?,
        ];
        const MAX_TX: usize = 100;
        if owned.len() + ops.len() <= MAX_TX {
            for key in &owned {
                ops.push(self.delete_op(key, None, None)?);
            }
        } else {
            self.batch_delete(owned).await?;
        }
        self.transact(ops).await.map_err(|e: TxError| match e.failed_condition() {
            Some(0) => ApiError::Conflict { detail: "the user was changed concurrently; retry".into(), field: None },
            _ => e.into(),
        })?;
        // The user's memberships went with the partition: their challenges have one member less.
        for key in owned_memberships {
            let challenge_id = key.sk.trim_start_matches(keys::MEMBER);
            let _ = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(keys::PK, s(keys::challenge_pk(challenge_id)))
                .key(keys::SK, s(keys::CHALLENGE_SK))
                .update_expression("ADD participant_count :minus")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":minus", n(-1))
                .send()
                .await;
        }
        Ok(())
    }

    /// A page of users from GSI1 (`GSI1PK = USERS`, `begins_with(GSI1SK, prefix)`), optionally
    /// filtered on `is_active` when the prefix cannot express it.
    pub async fn list_users(
        &self,
        prefix: &str,
        active_filter: Option<bool>,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<UserItem>, Option<Item>), ApiError> {
        let mut q = Query::new(GSI1, keys::USERS_GSI1PK, Some(SortKey::BeginsWith(prefix.to_owned())));
        q.limit = Some(limit);
        q.start = start;
        if let Some(active) = active_filter {
            q.filter = Some(("is_active = :active".into(), values([(":active", AttributeValue::Bool(active))])));
        }
        let (items, next) = self.query_page(&q).await?;
        Ok((items.into_iter().map(from_item).collect::<Result<_, _>>()?, next))
    }

    pub async fn get_profile(&self, user_id: &str) -> Result<Option<ProfileItem>, ApiError> {
        self.get(&keys::profile(user_id), true).await
    }

    /// Replaces a profile read at `expected_version`. When the time zone changes, the copy on the
    /// user item changes in the same transaction (bumping the user's version).
    pub async fn put_profile(
        &self,
        profile: &ProfileItem,
        expected_version: u64,
        time_zone_changed: bool,
    ) -> Result<(), ApiError> {
        let mut put = self.put_op(profile, Some(AT_VERSION))?;
        if let Some(p) = put.put.as_mut() {
            p.expression_attribute_values = Some(values([(":v", n(expected_version))]));
        }
        if !time_zone_changed {
            let p = put.put.expect("a put operation");
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(p.item))
                .condition_expression(AT_VERSION)
                .set_expression_attribute_values(p.expression_attribute_values)
                .send()
                .await
                .map_err(sdk_error)?;
            return Ok(());
        }
        let user_update = match &profile.fields.time_zone {
            Some(tz) => self.update_op(
                &keys::user(&profile.user_id),
                "SET time_zone = :tz, version = version + :one",
                Some("attribute_exists(PK)"),
                values([(":tz", s(tz)), (":one", n(1))]),
                None,
            )?,
            None => self.update_op(
                &keys::user(&profile.user_id),
                "REMOVE time_zone SET version = version + :one",
                Some("attribute_exists(PK)"),
                values([(":one", n(1))]),
                None,
            )?,
        };
        self.transact(vec![put, user_update]).await.map_err(ApiError::from)
    }
}
