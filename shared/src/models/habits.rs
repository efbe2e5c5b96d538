//! Habits and their daily tracking entries.

use crate::keys;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A numeric goal per day, e.g. 8 glasses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Target {
    /// Kept to six decimal places.
    #[schema(minimum = 0.000001, maximum = 1000000)]
    pub value: f64,
    /// e.g. `glasses`; trimmed.
    #[schema(min_length = 1, max_length = 20, pattern = r"\S")]
    pub unit: String,
}

item! {
    /// `USER#<id> / HABIT#<habit>`: a habit of one user.
    pub struct HabitItem [pk: "PK", sk: "SK", gsi1pk: "GSI1PK", gsi1sk: "GSI1SK", gsi2pk: "GSI2PK", gsi2sk: "GSI2SK"] {
        pub habit_id: String,
        pub user_id: String,
        #[serde(flatten)]
        pub fields: HabitFields,
        pub version: u64,
        /// Bumped by every entry write: a challenge join that counted the history conditions on it.
        #[serde(default)]
        pub entries_rev: u64,
        /// Bumped by every challenge join or leave: an entry write that looked up the habit's
        /// memberships conditions on it.
        #[serde(default)]
        pub membership_rev: u64,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

/// The editable part of a habit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct HabitFields {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub frequency: crate::schedule::Frequency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    pub start_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    pub is_active: bool,
}

impl HabitItem {
    pub const ENTITY: &'static str = "Habit";

    pub fn new(user_id: &str, fields: HabitFields, now: DateTime<Utc>) -> Self {
        let habit_id = ulid::Ulid::new().to_string();
        let key = keys::habit(user_id, &habit_id);
        HabitItem {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            entity: Self::ENTITY.into(),
            gsi1pk: keys::habits_gsi1pk(&habit_id),
            gsi1sk: key.sk.clone(),
            gsi2pk: key.pk,
            gsi2sk: key.sk,
            habit_id,
            user_id: user_id.into(),
            fields,
            version: 1,
            entries_rev: 0,
            membership_rev: 0,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn schedule(&self) -> crate::schedule::Schedule {
        crate::schedule::Schedule {
            frequency: self.fields.frequency.clone(),
            start_date: self.fields.start_date,
            end_date: self.fields.end_date,
        }
    }
}

item! {
    /// `USER#<id> / HABIT#<habit>#ENTRY#<date>`: one day of tracking.
    pub struct EntryItem [pk: "PK", sk: "SK", gsi2pk: "GSI2PK", gsi2sk: "GSI2SK"] {
        pub habit_id: String,
        pub user_id: String,
        pub date: NaiveDate,
        pub status: crate::schedule::Status,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub note: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub unit_completed: Option<f64>,
        pub updated_at: DateTime<Utc>,
        /// Revision of this entry: a replace or delete conditions on the one it read.
        #[serde(default)]
        pub version: u64,
    }
}

impl EntryItem {
    pub const ENTITY: &'static str = "Entry";

    /// The habit's entry for `date`, replacing `previous` (the entry read before, if any).
    pub fn new(
        habit: &HabitItem,
        date: NaiveDate,
        fields: EntryFields,
        previous: Option<&EntryItem>,
        now: DateTime<Utc>,
    ) -> Self {
        let key = keys::entry(&habit.user_id, &habit.habit_id, date);
        EntryItem {
            pk: key.pk.clone(),
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi2pk: key.pk,
            gsi2sk: keys::entry_gsi2sk(date, &habit.habit_id),
            habit_id: habit.habit_id.clone(),
            user_id: habit.user_id.clone(),
            date,
            status: fields.status,
            note: fields.note,
            unit_completed: fields.unit_completed,
            updated_at: now,
            version: previous.map_or(1, |o| o.version + 1),
        }
    }
}

/// What a user records of a day.
#[derive(Debug, Clone)]
pub struct EntryFields {
    pub status: crate::schedule::Status,
    pub note: Option<String>,
    pub unit_completed: Option<f64>,
}
