//! Reminders and the notifications they fire.

use crate::keys;
use chrono::{DateTime, Utc};

item! {
    /// `USER#<id> / REMINDER#<reminder>`: "remind me at HH:MM on these days". While armed (active,
    /// with a next fire time) it sits in the due index (GSI1 `DUE#<shard>`, sorted by fire time).
    pub struct ReminderItem [pk: "PK", sk: "SK"] {
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

item! {
    /// `USER#<id> / NOTIF#<notification>`: a fired reminder. The id is a ULID made from the occurrence
    /// time and a hash of (reminder, occurrence), so one occurrence can only ever make one item.
    pub struct NotificationItem [pk: "PK", sk: "SK"] {
        pub notification_id: String,
        pub user_id: String,
        /// What it tells of; notifications written before kinds existed are reminders.
        #[serde(default)]
        pub kind: NotificationKind,
        /// The reminder that fired (`kind: reminder`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reminder_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub habit_id: Option<String>,
        /// The webhook switched off (`kind: webhook_disabled`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub webhook_id: Option<String>,
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
}

impl NotificationItem {
    pub const ENTITY: &'static str = "Notification";
    pub const TTL_DAYS: i64 = 30;

    /// The deterministic id of a reminder's occurrence.
    pub fn id_for(reminder_id: &str, occurrence: DateTime<Utc>) -> String {
        super::derived_event_id(occurrence, &format!("{reminder_id}@{}", occurrence.timestamp()))
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
            kind: NotificationKind::Reminder,
            reminder_id: Some(reminder.reminder_id.clone()),
            habit_id: Some(reminder.habit_id.clone()),
            webhook_id: None,
            message: reminder.message.clone(),
            occurrence_at: occurrence,
            fired_at,
            late: fired_at - occurrence >= chrono::Duration::seconds(60),
            read: false,
            expires_at_epoch: (fired_at + chrono::Duration::days(Self::TTL_DAYS)).timestamp(),
        }
    }
}

/// What a notification tells of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A reminder fired.
    #[default]
    Reminder,
    /// One of the user's webhooks was switched off after a run of failed deliveries.
    WebhookDisabled,
}

impl NotificationItem {
    /// The `data` of its `reminder.fired` event.
    pub fn event_data(&self) -> serde_json::Value {
        serde_json::json!({
            "notification_id": self.notification_id,
            "reminder_id": self.reminder_id,
            "habit_id": self.habit_id,
            "message": self.message,
            "occurrence_at": self.occurrence_at,
            "fired_at": self.fired_at,
            "late": self.late,
        })
    }

    /// Tells the user that the delivery switched off one of their webhooks (`now`: when). Its id
    /// is made from the webhook and its version, so a repeat of the switch-off tells once.
    pub fn webhook_disabled(hook: &super::WebhookItem, now: DateTime<Utc>) -> Self {
        let id = super::derived_event_id(now, &format!("{}@{}", hook.webhook_id, hook.version));
        let key = keys::notification(&hook.user_id, &id);
        NotificationItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            notification_id: id,
            user_id: hook.user_id.clone(),
            kind: NotificationKind::WebhookDisabled,
            reminder_id: None,
            habit_id: None,
            webhook_id: Some(hook.webhook_id.clone()),
            message: format!(
                "Your webhook {} was switched off after {} failed deliveries in a row; switch it on again with PATCH /me/webhooks/{}",
                hook.url, hook.consecutive_failures, hook.webhook_id
            ),
            occurrence_at: now,
            fired_at: now,
            late: false,
            read: false,
            expires_at_epoch: (now + chrono::Duration::days(Self::TTL_DAYS)).timestamp(),
        }
    }
}
