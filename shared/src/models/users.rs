//! Accounts: the user, their profile, the guards that make names unique, login sessions and
//! the sweep of a deleted account.

use crate::{domain::Role, keys};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

item! {
    /// `USER#<id> / USER`: the account.
    pub struct UserItem [pk: "PK", sk: "SK", gsi1pk: "GSI1PK", gsi1sk: "GSI1SK"] {
        pub user_id: String,
        pub username: String,
        pub email: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub phone: Option<String>,
        pub password_hash: String,
        /// Copy of the profile's time zone (IANA), kept with the account so that every request knows
        /// the caller's "today" without another read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub time_zone: Option<String>,
        pub role: Role,
        pub is_active: bool,
        /// Bumped by a password change, role change or deactivation: access tokens carrying an older
        /// value are rejected at once.
        pub token_version: u64,
        /// The address has been confirmed through a link sent to it (`POST /auth/verify-email`).
        #[serde(default)]
        pub email_verified: bool,
        /// Reminders are also e-mailed (to a verified address only).
        #[serde(default)]
        pub email_reminders: bool,
        /// The nonce of the latest e-mail verification link, until it is used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub verify_nonce: Option<String>,
        /// The nonce of the latest password reset link, until it is used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reset_nonce: Option<String>,
        /// The event types some enabled webhook of the user takes, kept by the webhook changes'
        /// transactions: a change that can make an event writes its outbox item only when
        /// somebody will receive it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub webhook_events: Vec<super::EventType>,
        /// Optimistic-concurrency version of this item.
        pub version: u64,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

impl UserItem {
    pub const ENTITY: &'static str = "User";

    /// The next revision with a new role and activity: listed under them, and every token
    /// issued before is revoked (`token_version`).
    pub fn with_access(&self, role: Role, is_active: bool, now: DateTime<Utc>) -> Self {
        UserItem {
            role,
            is_active,
            gsi1sk: keys::users_gsi1sk(role, is_active, &self.user_id),
            token_version: self.token_version + 1,
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        user_id: String,
        username: String,
        email: String,
        phone: Option<String>,
        password_hash: String,
        role: Role,
        now: DateTime<Utc>,
    ) -> Self {
        let key = keys::user(&user_id);
        UserItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi1pk: keys::users_gsi1pk(&user_id),
            gsi1sk: keys::users_gsi1sk(role, true, &user_id),
            user_id,
            username,
            email,
            phone,
            password_hash,
            time_zone: None,
            role,
            is_active: true,
            token_version: 0,
            email_verified: false,
            email_reminders: false,
            verify_nonce: Some(crate::email::nonce()),
            reset_nonce: None,
            webhook_events: Vec::new(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// The user's time zone (UTC until the profile names one).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.as_deref().and_then(|tz| tz.parse().ok()).unwrap_or(chrono_tz::UTC)
    }

    /// The user's today, in their time zone.
    pub fn today(&self) -> NaiveDate {
        crate::schedule::today_in(self.tz(), Utc::now())
    }

    pub fn view(&self) -> UserView {
        UserView {
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            email_verified: self.email_verified,
            email_reminders: self.email_reminders,
            role: self.role,
            is_active: self.is_active,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// What the API shows of a user (never the password hash or token version).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct UserView {
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub phone: Option<String>,
    /// The address has been confirmed through a link sent to it.
    pub email_verified: bool,
    /// Reminders are also e-mailed (once the address is verified).
    pub email_reminders: bool,
    pub role: Role,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

item! {
    /// The marker of a deleted account whose partition is still being swept.
    pub struct SweepItem [pk: "PK", sk: "SK"] {
        pub user_id: String,
        #[serde(rename = "GSI1PK")]
        pub gsi1pk: String,
        #[serde(rename = "GSI1SK")]
        pub gsi1sk: String,
    }
}

impl SweepItem {
    pub const ENTITY: &'static str = "Sweep";

    pub fn new(user_id: &str) -> Self {
        let key = keys::sweep_marker(user_id);
        SweepItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            user_id: user_id.to_owned(),
            gsi1pk: keys::SWEEPS_GSI1PK.into(),
            gsi1sk: keys::sweep_gsi1sk(Utc::now(), user_id),
        }
    }
}

item! {
    /// `USER#<id> / PROFILE`: the user's one profile.
    pub struct ProfileItem [pk: "PK", sk: "SK"] {
        pub user_id: String,
        #[serde(flatten)]
        pub fields: ProfileFields,
        pub version: u64,
        pub updated_at: DateTime<Utc>,
    }
}

/// The editable part of a profile; also the API's profile body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ProfileFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dob: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl ProfileItem {
    pub const ENTITY: &'static str = "Profile";

    pub fn empty(user_id: &str, now: DateTime<Utc>) -> Self {
        let key = keys::profile(user_id);
        ProfileItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            user_id: user_id.into(),
            fields: ProfileFields::default(),
            version: 1,
            updated_at: now,
        }
    }

    pub fn view(&self) -> ProfileView {
        ProfileView { user_id: self.user_id.clone(), fields: self.fields.clone(), updated_at: self.updated_at }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ProfileView {
    pub user_id: String,
    #[serde(flatten)]
    pub fields: ProfileFields,
    pub updated_at: DateTime<Utc>,
}

item! {
    /// `USERNAME#<name> / GUARD` or `EMAIL#<email> / GUARD`: makes a value unique across the table.
    pub struct GuardItem [pk: "PK", sk: "SK"] {
        pub user_id: String,
    }
}

impl GuardItem {
    pub fn new(key: keys::Key, entity: &str, user_id: &str) -> Self {
        GuardItem { pk: key.pk, sk: key.sk, entity: entity.into(), user_id: user_id.into() }
    }
}

item! {
    /// `USER#<id> / REFRESH#<family>`: one login session's chain of rotating refresh tokens.
    /// Only hashes are stored: the current token's, and those already rotated (to detect reuse).
    pub struct RefreshFamilyItem [pk: "PK", sk: "SK"] {
        pub user_id: String,
        pub family_id: String,
        pub current_hash: String,
        #[serde(default)]
        pub rotated_hashes: Vec<String>,
        /// The hash the latest rotation replaced: presented again within the grace period (a client
        /// that lost the answer and retries), it is answered once more instead of ending the session.
        #[serde(default)]
        pub previous_hash: Option<String>,
        /// When the latest rotation happened (epoch seconds).
        #[serde(default)]
        pub rotated_at: i64,
        /// The grace of the latest rotation has been used.
        #[serde(default)]
        pub grace_used: bool,
        /// The user's token version when the session began: a later bump ends the session.
        pub token_version: u64,
        pub created_at: DateTime<Utc>,
        /// DynamoDB TTL attribute (epoch seconds): expired families disappear by themselves.
        pub expires_at_epoch: i64,
    }
}

impl RefreshFamilyItem {
    pub const ENTITY: &'static str = "RefreshFamily";
}
