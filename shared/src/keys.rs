//! Every DynamoDB key of the single table is built here, and only here.
//!
//! | entity          | PK                  | SK                   | GSI1PK  | GSI1SK                                    |
//! |-----------------|---------------------|----------------------|---------|-------------------------------------------|
//! | User            | `USER#<user_id>`    | `USER`               | `USERS` | `ROLE#<role>#ACTIVE#<0/1>#USER#<user_id>` |
//! | Profile         | `USER#<user_id>`    | `PROFILE`            |         |                                           |
//! | RefreshFamily   | `USER#<user_id>`    | `REFRESH#<family>`   |         |                                           |
//! | UsernameGuard   | `USERNAME#<name>`   | `GUARD`              |         |                                           |
//! | EmailGuard      | `EMAIL#<email>`     | `GUARD`              |         |                                           |
//!
//! Ids are ULIDs (26 characters, lexicographically sortable by creation time); guards use the
//! normalized (lower-case) username or e-mail so that uniqueness is case-insensitive.

use crate::models::Role;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
/// Attribute holding an epoch-seconds expiry; DynamoDB TTL deletes expired items.
pub const TTL_ATTRIBUTE: &str = "expires_at_epoch";

const USER: &str = "USER#";
pub const USER_SK: &str = "USER";
pub const PROFILE_SK: &str = "PROFILE";
pub const GUARD_SK: &str = "GUARD";
const REFRESH: &str = "REFRESH#";
pub const USERS_GSI1PK: &str = "USERS";

/// A primary key of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: impl Into<String>) -> Self {
        Key { pk, sk: sk.into() }
    }
}

/// The partition that holds everything a user owns.
pub fn user_pk(user_id: &str) -> String {
    format!("{USER}{user_id}")
}

pub fn user(user_id: &str) -> Key {
    Key::new(user_pk(user_id), USER_SK)
}

pub fn profile(user_id: &str) -> Key {
    Key::new(user_pk(user_id), PROFILE_SK)
}

pub fn refresh_family(user_id: &str, family_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{REFRESH}{family_id}"))
}

/// Guard item that makes a username unique (case-insensitive: callers pass the normalized name).
pub fn username_guard(username: &str) -> Key {
    Key::new(format!("USERNAME#{username}"), GUARD_SK)
}

pub fn email_guard(email: &str) -> Key {
    Key::new(format!("EMAIL#{email}"), GUARD_SK)
}

/// GSI1 sort key of a user: admin listings filter by role, or role and active, with `begins_with`.
pub fn users_gsi1sk(role: Role, is_active: bool, user_id: &str) -> String {
    format!(
        "{}{}",
        users_gsi1sk_prefix(Some(role), Some(is_active)),
        user_id
    )
}

/// The `begins_with` prefix for an admin user listing. A filter on `is_active` alone cannot be a
/// prefix (role comes first) and is applied as a filter expression by the caller.
pub fn users_gsi1sk_prefix(role: Option<Role>, is_active: Option<bool>) -> String {
    match (role, is_active) {
        (None, _) => "ROLE#".to_owned(),
        (Some(role), None) => format!("ROLE#{}#", role.as_str()),
        (Some(role), Some(active)) => {
            format!("ROLE#{}#ACTIVE#{}#USER#", role.as_str(), u8::from(active))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_owned_items_share_one_partition() {
        let id = "01J0000000000000000000000A";
        assert_eq!(user(id).pk, format!("USER#{id}"));
        assert_eq!(profile(id).pk, user(id).pk);
        assert_eq!(refresh_family(id, "F1").pk, user(id).pk);
        assert_eq!(user(id).sk, "USER");
        assert_eq!(profile(id).sk, "PROFILE");
        assert_eq!(refresh_family(id, "F1").sk, "REFRESH#F1");
    }

    #[test]
    fn guards_have_their_own_partitions() {
        assert_eq!(
            username_guard("alice"),
            Key {
                pk: "USERNAME#alice".into(),
                sk: "GUARD".into()
            }
        );
        assert_eq!(
            email_guard("a@b.co"),
            Key {
                pk: "EMAIL#a@b.co".into(),
                sk: "GUARD".into()
            }
        );
    }

    #[test]
    fn gsi1_prefixes_select_role_then_activity() {
        let sk = users_gsi1sk(Role::Admin, true, "U1");
        assert_eq!(sk, "ROLE#admin#ACTIVE#1#USER#U1");
        assert!(sk.starts_with(&users_gsi1sk_prefix(None, None)));
        assert!(sk.starts_with(&users_gsi1sk_prefix(Some(Role::Admin), None)));
        assert!(sk.starts_with(&users_gsi1sk_prefix(Some(Role::Admin), Some(true))));
        assert!(!sk.starts_with(&users_gsi1sk_prefix(Some(Role::User), None)));
        assert!(!sk.starts_with(&users_gsi1sk_prefix(Some(Role::Admin), Some(false))));
    }

    #[test]
    fn ulid_sort_keys_order_by_creation() {
        let a = ulid::Ulid::from_parts(1_000, 5).to_string();
        let b = ulid::Ulid::from_parts(2_000, 1).to_string();
        assert!(refresh_family("U", &a).sk < refresh_family("U", &b).sk);
    }
}
