//! Item shapes of the single table (what DynamoDB stores) and the public views the API returns.
//! Every item carries its keys under generic names and an `entity` tag.

use crate::keys;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

/// `USER#<id> / USER`: the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub user_id: String,
    pub username: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub password_hash: String,
    pub role: Role,
    pub is_active: bool,
    /// Bumped by a password change, role change or deactivation: access tokens carrying an older
    /// value are rejected at once.
    pub token_version: u64,
    /// Optimistic-concurrency version of this item.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserItem {
    pub const ENTITY: &'static str = "User";

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
            gsi1pk: keys::USERS_GSI1PK.into(),
            gsi1sk: keys::users_gsi1sk(role, true, &user_id),
            user_id,
            username,
            email,
            phone,
            password_hash,
            role,
            is_active: true,
            token_version: 0,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn view(&self) -> UserView {
        UserView {
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            role: self.role,
            is_active: self.is_active,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// What the API shows of a user (never the password hash or token version).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserView {
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub phone: Option<String>,
    pub role: Role,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `USER#<id> / PROFILE`: the user's one profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub user_id: String,
    #[serde(flatten)]
    pub fields: ProfileFields,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

/// The editable part of a profile; also the API's profile body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
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
        ProfileView {
            user_id: self.user_id.clone(),
            fields: self.fields.clone(),
            updated_at: self.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfileView {
    pub user_id: String,
    #[serde(flatten)]
    pub fields: ProfileFields,
    pub updated_at: DateTime<Utc>,
}

/// `USERNAME#<name> / GUARD` or `EMAIL#<email> / GUARD`: makes a value unique across the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuardItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub user_id: String,
}

impl GuardItem {
    pub fn new(key: keys::Key, entity: &str, user_id: &str) -> Self {
        GuardItem {
            pk: key.pk,
            sk: key.sk,
            entity: entity.into(),
            user_id: user_id.into(),
        }
    }
}

/// `USER#<id> / REFRESH#<family>`: one login session's chain of rotating refresh tokens.
/// Only hashes are stored: the current token's, and those already rotated (to detect reuse).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshFamilyItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub user_id: String,
    pub family_id: String,
    pub current_hash: String,
    #[serde(default)]
    pub rotated_hashes: Vec<String>,
    /// The user's token version when the session began: a later bump ends the session.
    pub token_version: u64,
    pub created_at: DateTime<Utc>,
    /// DynamoDB TTL attribute (epoch seconds): expired families disappear by themselves.
    pub expires_at_epoch: i64,
}

impl RefreshFamilyItem {
    pub const ENTITY: &'static str = "RefreshFamily";
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;
    use std::collections::HashMap;

    #[test]
    fn user_item_shape() {
        let now = Utc::now();
        let u = UserItem::new(
            "U1".into(),
            "ann".into(),
            "ann@x.io".into(),
            None,
            "$argon2id$h".into(),
            Role::User,
            now,
        );
        let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&u).unwrap();
        assert_eq!(item["PK"], AttributeValue::S("USER#U1".into()));
        assert_eq!(item["SK"], AttributeValue::S("USER".into()));
        assert_eq!(item["entity"], AttributeValue::S("User".into()));
        assert_eq!(item["GSI1PK"], AttributeValue::S("USERS".into()));
        assert_eq!(
            item["GSI1SK"],
            AttributeValue::S("ROLE#user#ACTIVE#1#USER#U1".into())
        );
        assert_eq!(item["role"], AttributeValue::S("user".into()));
        assert_eq!(item["is_active"], AttributeValue::Bool(true));
        assert_eq!(item["version"], AttributeValue::N("1".into()));
        assert!(
            !item.contains_key("phone"),
            "absent phone is not stored as NULL"
        );
        let back: UserItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back.view(), u.view());
        let view = serde_json::to_value(u.view()).unwrap();
        assert!(view.get("password_hash").is_none() && view.get("token_version").is_none());
    }

    #[test]
    fn profile_item_shape() {
        let mut p = ProfileItem::empty("U1", Utc::now());
        p.fields.time_zone = Some("Europe/Berlin".into());
        let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&p).unwrap();
        assert_eq!(item["PK"], AttributeValue::S("USER#U1".into()));
        assert_eq!(item["SK"], AttributeValue::S("PROFILE".into()));
        assert_eq!(item["entity"], AttributeValue::S("Profile".into()));
        assert_eq!(item["time_zone"], AttributeValue::S("Europe/Berlin".into()));
        assert!(!item.contains_key("bio"));
        let back: ProfileItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back.fields, p.fields);
    }
}
