//! Delivery of a user's events outside the API: webhook endpoints and push subscriptions, the
//! outbox that events are written to in the transaction that makes them, and each event's
//! delivery to each target.

use crate::keys;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What happened, as a webhook's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    /// A reminder fired (the notification in `/me/notifications`).
    #[serde(rename = "reminder.fired")]
    ReminderFired,
    /// A tracking entry was recorded (created or changed).
    #[serde(rename = "entry.recorded")]
    EntryRecorded,
    /// A habit's current streak reached a milestone (7, 14, 30, 50, 100, 200, 365, 500, 1000).
    #[serde(rename = "streak.milestone")]
    StreakMilestone,
    /// The caller's progress in a challenge reached the challenge's goal.
    #[serde(rename = "challenge.goal_reached")]
    ChallengeGoalReached,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ReminderFired => "reminder.fired",
            EventType::EntryRecorded => "entry.recorded",
            EventType::StreakMilestone => "streak.milestone",
            EventType::ChallengeGoalReached => "challenge.goal_reached",
        }
    }

    /// The types an `entry.recorded` outbox item can give rise to (the others are derived from it
    /// when it is delivered).
    pub fn from_entries(self) -> bool {
        matches!(self, EventType::EntryRecorded | EventType::StreakMilestone | EventType::ChallengeGoalReached)
    }
}

item! {
    /// `USER#<id> / WEBHOOK#<webhook>`: an endpoint the user's events are POSTed to, signed as the
    /// Standard Webhooks specification says.
    pub struct WebhookItem [pk: "PK", sk: "SK"] {
        pub webhook_id: String,
        pub user_id: String,
        pub url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        pub event_types: Vec<EventType>,
        /// `whsec_` and the base64 of 24 random bytes; shown once, when the endpoint is made.
        pub secret: String,
        pub enabled: bool,
        /// Why the delivery switched it off (after a run of failures).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub disabled_reason: Option<String>,
        /// Failed attempts since the last success.
        #[serde(default)]
        pub consecutive_failures: u32,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub version: u64,
    }
}

impl WebhookItem {
    pub const ENTITY: &'static str = "Webhook";

    /// A new, enabled webhook of `user_id` with a new id and secret.
    pub fn new(
        user_id: &str,
        url: String,
        description: Option<String>,
        event_types: Vec<EventType>,
        now: DateTime<Utc>,
    ) -> Self {
        let webhook_id = ulid::Ulid::new().to_string();
        let key = keys::webhook(user_id, &webhook_id);
        WebhookItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            webhook_id,
            user_id: user_id.into(),
            url,
            description,
            event_types,
            secret: crate::webhooks::new_secret(),
            enabled: true,
            disabled_reason: None,
            consecutive_failures: 0,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    pub fn wants(&self, t: EventType) -> bool {
        self.enabled && self.event_types.contains(&t)
    }
}

item! {
    /// `USER#<id> / OUTBOX#<event>`: an event to deliver, written in the same transaction as what
    /// it tells of, so that no event is lost and none is made by a change that did not happen.
    /// While work is left it sits in the outbox's due index (GSI1 `OUTBOX#<shard>`, sorted by the
    /// time of its next attempt); the `deliver` function removes it when every delivery is settled.
    pub struct OutboxItem [pk: "PK", sk: "SK", gsi1pk: "GSI1PK", gsi1sk: "GSI1SK"] {
        /// A ULID; the `webhook-id` of every attempt of this event.
        pub event_id: String,
        pub user_id: String,
        pub event_type: EventType,
        /// The event's `data`, as JSON text.
        pub data: String,
        pub occurred_at: DateTime<Utc>,
        /// Attempts taken so far (each claim of the item is one).
        pub attempt: u32,
        /// The deliveries this event (and the events derived from it) made, as
        /// `<target_id>#<event_id>`; empty until the first attempt has chosen them.
        #[serde(default)]
        pub deliveries: Vec<String>,
        #[serde(default)]
        pub expanded: bool,
        /// Kept after the last attempt by TTL only if something goes wrong with its removal.
        pub expires_at_epoch: i64,
    }
}

impl OutboxItem {
    pub const ENTITY: &'static str = "Outbox";
    /// Removed by TTL at the latest after this long (the retries end well before).
    pub const TTL_DAYS: i64 = 7;

    pub fn new(
        user_id: &str,
        event_id: String,
        event_type: EventType,
        data: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Self {
        let key = keys::outbox(user_id, &event_id);
        OutboxItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi1pk: keys::outbox_gsi1pk(&event_id),
            gsi1sk: keys::due_gsi1sk(at, &event_id),
            user_id: user_id.into(),
            event_type,
            data: data.to_string(),
            occurred_at: at,
            attempt: 0,
            deliveries: Vec::new(),
            expanded: false,
            expires_at_epoch: (at + chrono::Duration::days(Self::TTL_DAYS)).timestamp(),
            event_id,
        }
    }
}

item! {
    /// `USER#<id> / PUSH#<subscription>`: a browser's Web Push subscription (its `PushSubscription`
    /// JSON). The id is made from the endpoint, so subscribing the same browser again replaces it.
    pub struct PushSubscriptionItem [pk: "PK", sk: "SK"] {
        pub subscription_id: String,
        pub user_id: String,
        /// The push service's URL for this browser.
        pub endpoint: String,
        /// The browser's P-256 public key (base64url, uncompressed point).
        pub p256dh: String,
        /// The browser's 16-byte authentication secret (base64url).
        pub auth: String,
        /// When the push service ends the subscription (epoch milliseconds), if it says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expiration_time: Option<i64>,
        pub created_at: DateTime<Utc>,
    }
}

impl PushSubscriptionItem {
    pub const ENTITY: &'static str = "PushSubscription";

    /// The id of a user's subscription at `endpoint` (a ULID made from a hash of it).
    pub fn id_for(endpoint: &str) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(endpoint.as_bytes());
        let mut bytes = [0u8; 16];
        bytes[6..].copy_from_slice(&digest[..10]);
        ulid::Ulid::from_parts(0, u128::from_be_bytes(bytes)).to_string()
    }
}

/// How a delivery reaches its target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An HTTP POST signed as Standard Webhooks says.
    #[default]
    Webhook,
    /// A Web Push message to a browser (RFC 8030/8291/8292).
    Push,
    /// An e-mail to the user's verified address (SES).
    Email,
}

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet; another attempt is due.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up: the attempts ran out, or the push service ended the subscription.
    Dead,
    /// Not sent: its webhook was switched off or removed, or its subscription removed, first.
    Cancelled,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// The endpoint's HTTP status; absent when there was no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Why it failed without an answer (timeout, connection refused, refused address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl Attempt {
    /// An attempt made at `now` that began at `started`: the status it got, or why it got none.
    pub fn of(now: DateTime<Utc>, started: std::time::Instant, outcome: Result<u16, String>) -> Self {
        let duration_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(status) => Attempt { at: now, status_code: Some(status), error: None, duration_ms },
            Err(error) => Attempt { at: now, status_code: None, error: Some(error), duration_ms },
        }
    }
}

item! {
    /// `USER#<id> / DELIVERY#<webhook>#<event>`: one event's delivery to one endpoint, the body
    /// sent on every attempt (so that every attempt carries the same id and payload) and each
    /// attempt's outcome. Expires after [`DeliveryItem::TTL_DAYS`].
    pub struct DeliveryItem [pk: "PK", sk: "SK"] {
        #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
        pub gsi1pk: Option<String>,
        #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
        pub gsi1sk: Option<String>,
        /// The webhook or push subscription it goes to.
        pub target_id: String,
        #[serde(default)]
        pub channel: Channel,
        pub event_id: String,
        pub user_id: String,
        pub event_type: EventType,
        /// The request body, exactly as signed and sent (for Web Push: the message before its
        /// encryption, which is new on every attempt).
        pub body: String,
        pub status: DeliveryStatus,
        pub attempts: Vec<Attempt>,
        pub created_at: DateTime<Utc>,
        pub expires_at_epoch: i64,
    }
}

impl DeliveryItem {
    pub const ENTITY: &'static str = "Delivery";
    pub const TTL_DAYS: i64 = 30;

    /// A delivery to `target_id` of `user_id` through `channel`.
    pub fn new(
        (user_id, target_id, channel): (&str, &str, Channel),
        event_id: &str,
        event_type: EventType,
        body: String,
        now: DateTime<Utc>,
    ) -> Self {
        let key = keys::delivery(user_id, target_id, event_id);
        DeliveryItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi1pk: None,
            gsi1sk: None,
            target_id: target_id.into(),
            channel,
            event_id: event_id.into(),
            user_id: user_id.into(),
            event_type,
            body,
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            created_at: now,
            expires_at_epoch: (now + chrono::Duration::days(Self::TTL_DAYS)).timestamp(),
        }
    }

    /// `<target_id>#<event_id>`, as an outbox item lists its deliveries.
    pub fn reference(&self) -> String {
        format!("{}#{}", self.target_id, self.event_id)
    }
}

/// A deterministic ULID for an event derived from others (a milestone, a goal reached): the same
/// facts always name the same event, so a repeat of the derivation delivers nothing twice.
pub fn derived_event_id(at: DateTime<Utc>, facts: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(facts.as_bytes());
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    ulid::Ulid::from_parts(at.timestamp_millis().max(0) as u64, u128::from_be_bytes(random)).to_string()
}
