//! Item shapes of the single table (what DynamoDB stores) and the public views the API returns.
//! Every item carries its keys under generic names and an `entity` tag.

/// An item of the table: its keys under the table's generic attribute names (`PK`, `SK`,
/// `GSI1PK`, ...), its `entity` tag, then its own fields.
///
/// ```text
/// item! {
///     /// `CATEGORY#<id> / CATEGORY`: ...
///     pub struct CategoryItem [pk: "PK", sk: "SK", gsi1pk: "GSI1PK", gsi1sk: "GSI1SK"] {
///         pub name: String,
///     }
/// }
/// ```
macro_rules! item {
    (
        $(#[$meta:meta])*
        pub struct $name:ident [$($key:ident: $attribute:literal),* $(,)?] {
            $($fields:tt)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $(
                #[serde(rename = $attribute)]
                pub $key: String,
            )*
            pub entity: String,
            $($fields)*
        }
    };
}

mod categories;
mod challenges;
mod delivery;
mod habits;
mod reminders;
mod users;

pub use {categories::*, challenges::*, delivery::*, habits::*, reminders::*, users::*};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use aws_sdk_dynamodb::types::AttributeValue;
    use chrono::{DateTime, Utc};
    use std::collections::HashMap;

    #[test]
    fn user_item_shape() {
        let now = Utc::now();
        let u =
            UserItem::new("U1".into(), "ann".into(), "ann@x.io".into(), None, "$argon2id$h".into(), Role::User, now);
        let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&u).unwrap();
        assert_eq!(item["PK"], AttributeValue::S("USER#U1".into()));
        assert_eq!(item["SK"], AttributeValue::S("USER".into()));
        assert_eq!(item["entity"], AttributeValue::S("User".into()));
        assert_eq!(item["GSI1PK"], AttributeValue::S(crate::keys::users_gsi1pk("U1")));
        assert!(
            matches!(&item["GSI1PK"], AttributeValue::S(pk) if pk.len() == "USERS#00".len() && pk.starts_with("USERS#"))
        );
        assert_eq!(item["GSI1SK"], AttributeValue::S("ROLE#user#ACTIVE#1#USER#U1".into()));
        assert_eq!(item["role"], AttributeValue::S("user".into()));
        assert_eq!(item["is_active"], AttributeValue::Bool(true));
        assert_eq!(item["version"], AttributeValue::N("1".into()));
        assert!(!item.contains_key("phone"), "absent phone is not stored as NULL");
        let back: UserItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back.view(), u.view());
        let view = serde_json::to_value(u.view()).unwrap();
        assert!(view.get("password_hash").is_none() && view.get("token_version").is_none());
    }

    #[test]
    fn habit_item_shape() {
        use crate::schedule::{Day, Frequency};
        let fields = HabitFields {
            title: "Gym".into(),
            description: None,
            frequency: Frequency::Weekdays { days: vec![Day::Mon, Day::Wed] },
            target: Some(Target { value: 8.0, unit: "glasses".into() }),
            start_date: "2026-01-05".parse().unwrap(),
            end_date: None,
            is_active: true,
        };
        let h = HabitItem::new("U1", fields.clone(), Utc::now());
        let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&h).unwrap();
        assert_eq!(item["PK"], AttributeValue::S("USER#U1".into()));
        assert_eq!(item["SK"], AttributeValue::S(format!("HABIT#{}", h.habit_id)));
        assert_eq!(item["entity"], AttributeValue::S("Habit".into()));
        assert_eq!(item["GSI1PK"], AttributeValue::S(crate::keys::habits_gsi1pk(&h.habit_id)));
        assert_eq!(item["GSI2PK"], AttributeValue::S("USER#U1".into()));
        assert_eq!(item["start_date"], AttributeValue::S("2026-01-05".into()));
        assert!(
            matches!(&item["frequency"], AttributeValue::M(m) if m["type"] == AttributeValue::S("weekdays".into()))
        );
        let back: HabitItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back.fields, fields);
    }

    #[test]
    fn notification_ids_are_deterministic_per_occurrence() {
        let t: DateTime<Utc> = "2026-11-24T06:30:00Z".parse().unwrap();
        let a = NotificationItem::id_for("R1", t);
        assert_eq!(a, NotificationItem::id_for("R1", t));
        assert_ne!(a, NotificationItem::id_for("R2", t));
        assert_ne!(a, NotificationItem::id_for("R1", t + chrono::Duration::days(1)));
        assert!(a < NotificationItem::id_for("R1", t + chrono::Duration::days(1)), "sortable by occurrence");
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
