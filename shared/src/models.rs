//! Item shapes of the single table (what DynamoDB stores) and the public views the API returns.
//! Every item carries its keys under generic names and an `entity` tag.

use crate::{domain::Role, keys};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

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
    /// Copy of the profile's time zone (IANA), kept with the account so that every request knows
    /// the caller's "today" without another read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
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
            gsi1pk: keys::USERS_GSI1PK.into(),
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
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// The user's time zone (UTC until the profile names one).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.as_deref().and_then(|tz| tz.parse().ok()).unwrap_or(chrono_tz::UTC)
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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

/// The marker of a deleted account whose partition is still being swept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub user_id: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
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
        GuardItem { pk: key.pk, sk: key.sk, entity: entity.into(), user_id: user_id.into() }
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

impl RefreshFamilyItem {
    pub const ENTITY: &'static str = "RefreshFamily";
}

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

/// `USER#<id> / HABIT#<habit>`: a habit of one user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HabitItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    #[serde(rename = "GSI2PK")]
    pub gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    pub gsi2sk: String,
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
            gsi1pk: keys::HABITS_GSI1PK.into(),
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

/// `USER#<id> / HABIT#<habit>#ENTRY#<date>`: one day of tracking.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(rename = "GSI2PK")]
    pub gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    pub gsi2sk: String,
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

/// `CATEGORY#<id> / CATEGORY`: an admin-managed category.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CategoryItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub category_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `active`, or `deleting` while its links are being removed (no new links then).
    pub status: String,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CategoryItem {
    pub const ENTITY: &'static str = "Category";
    pub const ACTIVE: &'static str = "active";
    pub const DELETING: &'static str = "deleting";

    /// A new category with a new id.
    pub fn new(name: String, description: Option<String>, now: DateTime<Utc>) -> Self {
        let id = ulid::Ulid::new().to_string();
        let key = keys::category(&id);
        CategoryItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi1pk: keys::CATEGORIES_GSI1PK.into(),
            gsi1sk: keys::category_gsi1sk(&name.to_lowercase(), &id),
            category_id: id,
            name,
            description,
            status: Self::ACTIVE.into(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// The next revision with a new name and description (listed by the new name).
    pub fn edited(&self, name: String, description: Option<String>, now: DateTime<Utc>) -> Self {
        CategoryItem {
            gsi1sk: keys::category_gsi1sk(&name.to_lowercase(), &self.category_id),
            name,
            description,
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        }
    }
}

/// `USER#<id> / HABIT#<habit>#CAT#<category>`: a habit filed under a category; GSI1 lists a
/// category's habits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HabitCategoryItem {
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
    pub habit_id: String,
    pub category_id: String,
    pub created_at: DateTime<Utc>,
}

impl HabitCategoryItem {
    pub const ENTITY: &'static str = "HabitCategory";

    pub fn new(user_id: &str, habit_id: &str, category_id: &str, now: DateTime<Utc>) -> Self {
        let key = keys::habit_category(user_id, habit_id, category_id);
        HabitCategoryItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi1pk: keys::category_pk(category_id),
            gsi1sk: keys::link_gsi1sk(user_id, habit_id),
            user_id: user_id.into(),
            habit_id: habit_id.into(),
            category_id: category_id.into(),
            created_at: now,
        }
    }
}

/// `USER#<id> / REMINDER#<reminder>`: "remind me at HH:MM on these days". While armed (active,
/// with a next fire time) it sits in the due index (GSI1 `DUE#<shard>`, sorted by fire time).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReminderItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub reminder_id: String,
    pub user_id: String,
    pub habit_id: String,
    /// `HH:MM`, wall-clock time in `time_zone`.
    pub reminder_time: String,
    pub repeat_days: Vec<crate::schedule::Day>,
    pub time_zone: String,
    pub message: String,
    pub is_active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_fire_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fired_at: Option<DateTime<Utc>>,
    pub created_date: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// What a reminder is, as its owner describes it.
#[derive(Debug, Clone)]
pub struct ReminderSpec {
    pub habit_id: String,
    pub reminder_time: String,
    pub repeat_days: Vec<crate::schedule::Day>,
    pub time_zone: String,
    pub message: String,
    pub is_active: bool,
}

impl ReminderItem {
    pub const ENTITY: &'static str = "Reminder";

    /// A new reminder of `user_id` (not armed yet: see [`arm`](Self::arm)).
    pub fn new(user_id: &str, spec: ReminderSpec, now: DateTime<Utc>) -> Self {
        let reminder_id = ulid::Ulid::new().to_string();
        let key = keys::reminder(user_id, &reminder_id);
        ReminderItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi1pk: None,
            gsi1sk: None,
            reminder_id,
            user_id: user_id.into(),
            habit_id: spec.habit_id,
            reminder_time: spec.reminder_time,
            repeat_days: spec.repeat_days,
            time_zone: spec.time_zone,
            message: spec.message,
            is_active: spec.is_active,
            next_fire_at: None,
            last_fired_at: None,
            created_date: now,
            updated_at: now,
            version: 1,
        }
    }

    /// Sets the next fire time (after `after`) and the due-index keys; an inactive reminder, or
    /// one that can never fire, leaves the index.
    pub fn arm(&mut self, after: DateTime<Utc>) {
        let next = match (
            self.is_active,
            crate::reminder_time::parse_time(&self.reminder_time),
            self.time_zone.parse::<chrono_tz::Tz>(),
        ) {
            (true, Ok(time), Ok(tz)) => crate::reminder_time::next_fire(tz, time, &self.repeat_days, after),
            _ => None,
        };
        self.next_fire_at = next;
        self.gsi1pk = next.map(|_| keys::due_gsi1pk(keys::due_shard(&self.reminder_id)));
        self.gsi1sk = next.map(|at| keys::due_gsi1sk(at, &self.reminder_id));
    }
}

/// `USER#<id> / NOTIF#<notification>`: a fired reminder. The id is a ULID made from the occurrence
/// time and a hash of (reminder, occurrence), so one occurrence can only ever make one item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub notification_id: String,
    pub user_id: String,
    pub reminder_id: String,
    pub habit_id: String,
    pub message: String,
    /// When the reminder was due.
    pub occurrence_at: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
    /// Fired in a later minute than it was due (the dispatcher caught up).
    pub late: bool,
    pub read: bool,
    /// DynamoDB TTL: notifications expire after [`NotificationItem::TTL_DAYS`].
    pub expires_at_epoch: i64,
}

impl NotificationItem {
    pub const ENTITY: &'static str = "Notification";
    pub const TTL_DAYS: i64 = 30;

    /// The deterministic id of a reminder's occurrence.
    pub fn id_for(reminder_id: &str, occurrence: DateTime<Utc>) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{reminder_id}@{}", occurrence.timestamp()).as_bytes());
        let mut random = [0u8; 16];
        random[6..].copy_from_slice(&digest[..10]);
        ulid::Ulid::from_parts(occurrence.timestamp_millis().max(0) as u64, u128::from_be_bytes(random)).to_string()
    }

    pub fn new(reminder: &ReminderItem, occurrence: DateTime<Utc>, fired_at: DateTime<Utc>) -> Self {
        let id = Self::id_for(&reminder.reminder_id, occurrence);
        let key = keys::notification(&reminder.user_id, &id);
        NotificationItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            notification_id: id,
            user_id: reminder.user_id.clone(),
            reminder_id: reminder.reminder_id.clone(),
            habit_id: reminder.habit_id.clone(),
            message: reminder.message.clone(),
            occurrence_at: occurrence,
            fired_at,
            late: fired_at - occurrence >= chrono::Duration::seconds(60),
            read: false,
            expires_at_epoch: (fired_at + chrono::Duration::days(Self::TTL_DAYS)).timestamp(),
        }
    }
}

/// `CHALLENGE#<id> / CHALLENGE`: an admin-published challenge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub challenge_id: String,
    pub challenge_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// Completed days to reach, if the challenge has a goal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal_days: Option<u32>,
    /// Kept by the join and leave transactions.
    pub participant_count: u64,
    /// `active`, or `deleting` while its memberships are being removed (no joins then).
    pub status: String,
    pub created_date: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

impl ChallengeItem {
    pub const ENTITY: &'static str = "Challenge";
    pub const ACTIVE: &'static str = "active";
    pub const DELETING: &'static str = "deleting";

    /// A new challenge with a new id, nobody in it yet.
    pub fn new(
        challenge_name: String,
        description: Option<String>,
        (start_date, end_date): (NaiveDate, NaiveDate),
        goal_days: Option<u32>,
        now: DateTime<Utc>,
    ) -> Self {
        let id = ulid::Ulid::new().to_string();
        let key = keys::challenge(&id);
        ChallengeItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi1pk: keys::CHALLENGES_GSI1PK.into(),
            gsi1sk: keys::challenge_gsi1sk(start_date, &id),
            challenge_id: id,
            challenge_name,
            description,
            start_date,
            end_date,
            goal_days,
            participant_count: 0,
            status: Self::ACTIVE.into(),
            created_date: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The next revision after its fields were edited: the listing key follows `start_date`.
    pub fn revised(&mut self, now: DateTime<Utc>) {
        self.gsi1sk = keys::challenge_gsi1sk(self.start_date, &self.challenge_id);
        self.version += 1;
        self.updated_at = now;
    }
}

/// `USER#<id> / MEMBER#<challenge>`: a user's membership, backed by one of their habits. Its
/// progress (done entries of the habit inside the challenge window) is kept in step with every
/// entry write, in the same transaction; GSI3 ranks it (`score`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(rename = "GSI3PK")]
    pub gsi3pk: String,
    /// The leaderboard score (`keys::member_score`), a number.
    #[serde(rename = "GSI3SK")]
    pub score: u64,
    pub challenge_id: String,
    pub user_id: String,
    /// The public name shown on the leaderboard.
    pub username: String,
    pub habit_id: String,
    pub challenge_name: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub progress: u64,
    pub joined_at: DateTime<Utc>,
}

impl MembershipItem {
    pub const ENTITY: &'static str = "Membership";

    /// `user`'s membership of `challenge`, backed by the habit `habit_id`, with the progress made
    /// so far (ranked first among equals by who joined first).
    pub fn new(user: &UserItem, challenge: &ChallengeItem, habit_id: &str, progress: u64, now: DateTime<Utc>) -> Self {
        let key = keys::membership(&user.user_id, &challenge.challenge_id);
        MembershipItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi3pk: keys::challenge_pk(&challenge.challenge_id),
            score: keys::member_score(progress, now.timestamp_millis()),
            challenge_id: challenge.challenge_id.clone(),
            user_id: user.user_id.clone(),
            username: user.username.clone(),
            habit_id: habit_id.to_owned(),
            challenge_name: challenge.challenge_name.clone(),
            start_date: challenge.start_date,
            end_date: challenge.end_date,
            progress,
            joined_at: now,
        }
    }

    pub fn counts(&self, date: NaiveDate) -> bool {
        date >= self.start_date && date <= self.end_date
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;
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
        assert_eq!(item["GSI1PK"], AttributeValue::S("USERS".into()));
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
        assert_eq!(item["GSI1PK"], AttributeValue::S("HABITS".into()));
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
