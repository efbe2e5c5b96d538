//! Users, profiles and their uniqueness guards.

use super::{from_item, item_key, n, s, values, Db, Item, Page, Query, SortKey, TxError, GSI1};
use crate::{
    domain::Role,
    error::ApiError,
    keys::{self, Key},
    models::{GuardItem, ProfileItem, SweepItem, UserItem},
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

fn is_active_admin(user: &UserItem) -> bool {
    user.role == Role::Admin && user.is_active
}

/// The answer when a change would leave no active admin.
pub const LAST_ADMIN: &str = "at least one active admin must remain";

impl Db {
    /// The change a write of a user makes to the number of active admins, as a transaction
    /// operation: one more (an admin created, promoted or reactivated), or one fewer only while
    /// another active admin remains (the condition fails otherwise).
    fn admin_count_op(
        &self,
        before: Option<&UserItem>,
        after: Option<&UserItem>,
    ) -> Result<Option<aws_sdk_dynamodb::types::TransactWriteItem>, ApiError> {
        let key = keys::admin_count();
        match (before.is_some_and(is_active_admin), after.is_some_and(is_active_admin)) {
            (false, true) => {
                self.update_op(&key, "ADD active_admins :one", None, values([(":one", n(1))]), None).map(Some)
            }
            (true, false) => self
                .update_op(
                    &key,
                    "ADD active_admins :minus",
                    Some("active_admins > :one"),
                    values([(":minus", n(-1)), (":one", n(1))]),
                    None,
                )
                .map(Some),
            _ => Ok(None),
        }
    }

    /// 409 naming the field when the username or e-mail is already taken (one `BatchGetItem`): a
    /// cheap refusal before any password is hashed. The guards' own conditions still decide races.
    pub async fn ensure_free(&self, username: &str, email: &str) -> Result<(), ApiError> {
        let (name, mail) = (keys::username_guard(username), keys::email_guard(email));
        let found: Vec<Option<Key>> =
            self.batch_get_raw(&[name.clone(), mail.clone()]).await?.iter().map(item_key).collect();
        if found.contains(&Some(name)) {
            return Err(guard_conflict("username"));
        }
        if found.contains(&Some(mail)) {
            return Err(guard_conflict("email"));
        }
        Ok(())
    }

    /// Registers a user: the user item, an empty profile, both guards and (when given) the
    /// refresh family of the session registration starts, all or nothing: a registration that
    /// fails after this leaves nothing that a repeat of it would trip over.
    pub async fn create_user(
        &self,
        user: &UserItem,
        profile: &ProfileItem,
        session: Option<&crate::models::RefreshFamilyItem>,
    ) -> Result<(), ApiError> {
        let ops = vec![
            self.put_op(user, Some(NEW))?,
            self.put_op(profile, Some(NEW))?,
            self.put_op(
                &GuardItem::new(keys::username_guard(&user.username), USERNAME_GUARD, &user.user_id),
                Some(NEW),
            )?,
            self.put_op(&GuardItem::new(keys::email_guard(&user.email), EMAIL_GUARD, &user.user_id), Some(NEW))?,
        ];
        let session = session.map(|family| self.put_op(family, Some(NEW))).transpose()?;
        let ops = ops.into_iter().chain(self.admin_count_op(None, Some(user))?).chain(session).collect();
        self.transact(ops).await.map_err(|e| match e.failed_condition() {
            Some(2) => guard_conflict("username"),
            Some(3) => guard_conflict("email"),
            _ => e.into(),
        })
    }

    /// The current usernames of `user_ids` (one `BatchGetItem` per 100): names copied elsewhere
    /// (a membership) may be older than a rename.
    pub async fn usernames(
        &self,
        user_ids: impl IntoIterator<Item = &str>,
    ) -> Result<std::collections::HashMap<String, String>, ApiError> {
        let wanted: Vec<Key> = user_ids.into_iter().map(keys::user).collect();
        if wanted.is_empty() {
            return Ok(Default::default());
        }
        Ok(self.batch_get::<UserItem>(&wanted).await?.into_iter().map(|u| (u.user_id, u.username)).collect())
    }

    /// Whether an account has this (normalized) username.
    pub async fn username_taken(&self, username: &str) -> Result<bool, ApiError> {
        Ok(self.get::<GuardItem>(&keys::username_guard(username), true).await?.is_some())
    }

    pub async fn get_user(&self, user_id: &str, consistent: bool) -> Result<Option<UserItem>, ApiError> {
        self.get(&keys::user(user_id), consistent).await
    }

    /// Replaces a user read at `current.version` with `updated` (whose version must be one more),
    /// swapping the username / e-mail guards in the same transaction when they changed, and
    /// writing the refresh family of a session it starts (a password change) in it too.
    pub async fn update_user(
        &self,
        current: &UserItem,
        updated: &UserItem,
        session: Option<&crate::models::RefreshFamilyItem>,
    ) -> Result<(), ApiError> {
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
        let admins = ops.len();
        ops.extend(self.admin_count_op(Some(current), Some(updated))?);
        ops.extend(session.map(|family| self.put_op(family, Some(NEW))).transpose()?);
        self.transact(ops).await.map_err(|e| match e.failed_condition() {
            Some(0) => ApiError::Conflict { detail: "the user was changed concurrently; retry".into(), field: None },
            Some(i) if i == admins => ApiError::Conflict { detail: LAST_ADMIN.into(), field: None },
            Some(i) => match fields.get(i).copied().flatten() {
                Some(field) => guard_conflict(field),
                None => e.into(),
            },
            None => e.into(),
        })
    }

    /// Deletes an account: one transaction removes the user, profile and guards (the name and
    /// e-mail are free again, every token is dead) and leaves a sweep marker, indexed under
    /// `SWEEPS`; the rest of the partition goes in [`sweep_user`](Self::sweep_user), which can
    /// stop at a deadline and be resumed by the dispatcher.
    pub async fn delete_user(&self, user: &UserItem) -> Result<(), ApiError> {
        let marker = SweepItem::new(&user.user_id);
        let mut ops = vec![
            self.delete_op(&keys::user(&user.user_id), Some(AT_VERSION), Some(values([(":v", n(user.version))])))?,
            self.delete_op(&keys::profile(&user.user_id), None, None)?,
            self.delete_op(&keys::username_guard(&user.username), None, None)?,
            self.delete_op(&keys::email_guard(&user.email), None, None)?,
            self.put_op(&marker, None)?,
        ];
        let admins = ops.len();
        ops.extend(self.admin_count_op(Some(user), None)?);
        self.transact(ops).await.map_err(|e: TxError| match e.failed_condition() {
            Some(0) => ApiError::Conflict { detail: "the user was changed concurrently; retry".into(), field: None },
            Some(i) if i == admins => ApiError::Conflict { detail: LAST_ADMIN.into(), field: None },
            _ => e.into(),
        })
    }

    /// Deletes what is left of a deleted account's partition, a page at a time, until it is
    /// empty (then the marker goes too: `true`) or `stop_at` comes (`false`: the dispatcher's
    /// next runs go on). Each membership swept leaves its challenge one member less.
    pub async fn sweep_user(&self, user_id: &str, stop_at: Option<tokio::time::Instant>) -> Result<bool, ApiError> {
        let marker = keys::sweep_marker(user_id);
        loop {
            if stop_at.is_some_and(|t| tokio::time::Instant::now() >= t) {
                return Ok(false);
            }
            let mut q = Query::new(super::TABLE, keys::user_pk(user_id), None);
            q.limit = Some(100);
            let (items, _) = self.query_page(&q).await?;
            if !items.iter().filter_map(item_key).any(|k| k != marker) {
                self.delete_existing(&marker).await?;
                return Ok(true);
            }
            // Memberships first, each with its challenge's count in one transaction (a concurrent
            // sweep of the same account cannot count a member out twice), then the rest.
            let (memberships, rest): (Vec<Item>, Vec<Item>) = items
                .into_iter()
                .filter(|i| item_key(i).is_some_and(|k| k != marker))
                .partition(|i| item_key(i).is_some_and(|k| k.sk.starts_with(keys::MEMBER)));
            for m in memberships {
                self.remove_membership(&from_item(m)?).await?;
            }
            self.batch_delete(rest.iter().filter_map(item_key).collect()).await?;
        }
    }

    /// Accounts deleted but not yet swept (GSI1 `SWEEPS`), oldest first, up to `limit`.
    pub async fn pending_sweeps(&self, limit: i32) -> Result<Vec<String>, ApiError> {
        let q = Query::new(GSI1, keys::SWEEPS_GSI1PK, None);
        let (sweeps, _) = self.page::<SweepItem>(q, limit, None).await?;
        Ok(sweeps.into_iter().map(|m| m.user_id).collect())
    }

    /// A page of users from GSI1 (the shards `USERS#<shard>` merged), of one role and activity if
    /// given. With a role, the sort key's prefix selects activity too; without one, activity is
    /// a filter.
    pub async fn list_users(
        &self,
        role: Option<Role>,
        is_active: Option<bool>,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<UserItem>, ApiError> {
        let prefix = keys::users_gsi1sk_prefix(role, is_active);
        let mut q = Query::new(GSI1, "", Some(SortKey::BeginsWith(prefix)));
        if let Some(active) = is_active.filter(|_| role.is_none()) {
            q.filter = Some(("is_active = :active".into(), values([(":active", AttributeValue::Bool(active))])));
        }
        self.merged_page(q, keys::users_gsi1pks(), limit, start).await
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
            return self.put_if(&p.item, AT_VERSION, p.expression_attribute_values).await;
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

/// The user item's attributes a link's use changes, as one conditional update.
fn link_update(
    db: &Db,
    claims: &crate::email::LinkClaims,
    nonce_attribute: &str,
    set: &str,
    mut vals: std::collections::HashMap<String, AttributeValue>,
) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
    vals.insert(":n".into(), s(&claims.nonce));
    vals.insert(":e".into(), s(&claims.email));
    vals.insert(":one".into(), n(1));
    vals.insert(":t".into(), AttributeValue::Bool(true));
    db.update_at(&keys::user(&claims.user_id))
        .update_expression(format!("SET {set}, version = version + :one REMOVE {nonce_attribute}"))
        .condition_expression(format!("{nonce_attribute} = :n AND email = :e AND is_active = :t"))
        .set_expression_attribute_values(Some(vals))
}

/// A link already used, replaced by a newer one, or for an address the account no longer has.
fn link_refused<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> ApiError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException") {
        ApiError::invalid("token", "is not a valid link, or it has expired or been used")
    } else {
        super::sdk_error(e)
    }
}

impl Db {
    /// The account an e-mail address (as typed) names, by its guard; `None` when none does.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserItem>, ApiError> {
        let Some(guard) = self.get::<GuardItem>(&keys::email_guard(email), true).await? else { return Ok(None) };
        self.get_user(&guard.user_id, true).await
    }

    /// Starts a link of `purpose` for `user`: a new nonce replaces any earlier link's. At most
    /// one link of a purpose per account within its cooldown (nobody can fill an inbox with
    /// them): `false`, and nothing written, when one went out more recently.
    pub async fn start_link(
        &self,
        user: &UserItem,
        purpose: crate::email::Purpose,
        nonce: &str,
    ) -> Result<bool, ApiError> {
        let (attribute, sent) = match purpose {
            crate::email::Purpose::VerifyEmail => ("verify_nonce", "verify_sent_at"),
            crate::email::Purpose::ResetPassword => ("reset_nonce", "reset_sent_at"),
        };
        let now = chrono::Utc::now().timestamp();
        let out = self
            .update_at(&keys::user(&user.user_id))
            .update_expression(format!("SET {attribute} = :n, {sent} = :now"))
            .condition_expression(format!("email = :e AND (attribute_not_exists({sent}) OR {sent} < :cutoff)"))
            .expression_attribute_values(":n", s(nonce))
            .expression_attribute_values(":e", s(&user.email))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":cutoff", n(now - purpose.cooldown().num_seconds()))
            .send()
            .await;
        super::unless_condition_failed(out)
    }

    /// Uses an e-mail verification link: the address it was sent to is verified, once.
    pub async fn confirm_email(&self, claims: &crate::email::LinkClaims) -> Result<(), ApiError> {
        link_update(self, claims, "verify_nonce", "email_verified = :t", Default::default())
            .send()
            .await
            .map_err(link_refused)?;
        Ok(())
    }

    /// Uses a password reset link: the new hash, and every token and session of the account
    /// revoked (`token_version`), once.
    pub async fn reset_password(&self, claims: &crate::email::LinkClaims, hash: &str) -> Result<(), ApiError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let vals = values([(":h", s(hash)), (":now", s(now))]);
        link_update(
            self,
            claims,
            "reset_nonce",
            "password_hash = :h, token_version = token_version + :one, updated_at = :now",
            vals,
        )
        .send()
        .await
        .map_err(link_refused)?;
        Ok(())
    }
}
