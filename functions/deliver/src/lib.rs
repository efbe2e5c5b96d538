//! `functions/deliver`: delivers users' events to their webhooks, at least once.
//!
//! An event (a reminder fired, an entry recorded) is an outbox item (`USER#<id> / OUTBOX#<event>`)
//! written in the same transaction as what it tells of. Two things start this function:
//!
//! - **DynamoDB Streams**: the insert of an outbox item (filtered in the template to `INSERT` of
//!   `OUTBOX#` sort keys), so that a first attempt follows within about a second;
//! - **a schedule, every minute**: the outbox items whose next attempt is due (GSI1
//!   `OUTBOX#<shard>`, sorted by that time): the retries, and any first attempt a stream batch
//!   did not make.
//!
//! One attempt of an outbox item:
//! 1. **claim** it (`attempt` n → n+1, next attempt moved to a lease's end): no two runs work on
//!    it at once, and if this run dies it is due again when the lease ends;
//! 2. on the first attempt, **choose** its deliveries, one per (enabled webhook taking the type,
//!    event), with the events derived from an entry (`streak.milestone`,
//!    `challenge.goal_reached`), and write them with the item in one transaction. Each delivery
//!    keeps the exact body, so every attempt carries the same `webhook-id` and payload;
//! 3. **send** each pending delivery (Standard Webhooks signature), record the attempt;
//! 4. all settled: the outbox item goes. Otherwise its next attempt is set by exponential
//!    backoff with jitter (30 s, 1, 2, 4, ... minutes, at most 2 hours apart, 12 attempts over
//!    about 10 hours by default). After the last attempt a pending delivery is **dead**: it joins
//!    the dead-letter list (GSI1 `DEAD_DELIVERIES`) and the log line `delivery dead-lettered`,
//!    which a metric filter and an alarm of the template watch.
//!
//! A webhook that fails `WEBHOOK_DISABLE_AFTER` attempts in a row (15 by default; a success
//! resets the count) is switched off, and its user gets a notification saying so.

use chrono::{DateTime, Utc};
use futures::{stream, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};
use shared::{
    config::{ConfigError, Vars},
    email::Mailer,
    keys,
    models::UserItem,
    models::{
        derived_event_id, Channel, DeliveryItem, DeliveryStatus, EventType, OutboxItem, PushSubscriptionItem,
        WebhookItem,
    },
    push::Vapid,
    storage::Db,
    webhooks::{self, Sender},
    ApiError,
};
use std::{collections::HashMap, time::Duration};
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct DeliverConfig {
    /// Attempts of an event before its pending deliveries are given up.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; doubled after each one.
    pub base_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// A webhook failing this many attempts in a row is switched off.
    pub disable_after: u32,
    /// Events worked on at once within one run.
    pub concurrency: usize,
    /// Due outbox items read per shard and run.
    pub page_size: i32,
}

impl Default for DeliverConfig {
    fn default() -> Self {
        DeliverConfig {
            max_attempts: 12,
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(7200),
            disable_after: 15,
            concurrency: 32,
            page_size: 100,
        }
    }
}

impl DeliverConfig {
    /// `DELIVERY_MAX_ATTEMPTS` (1–30, default 12), `DELIVERY_BASE_DELAY_SECONDS` (1–3600, 30),
    /// `DELIVERY_MAX_DELAY_SECONDS` (1–86400, 7200), `WEBHOOK_DISABLE_AFTER` (1–1000, 15),
    /// `DELIVERY_CONCURRENCY` (1–256, 32).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let (v, d) = (Vars(vars), DeliverConfig::default());
        Ok(DeliverConfig {
            max_attempts: v.whole("DELIVERY_MAX_ATTEMPTS", 1..=30, d.max_attempts.into())? as u32,
            base_delay: v.seconds("DELIVERY_BASE_DELAY_SECONDS", d.base_delay.as_secs(), 3600)?,
            max_delay: v.seconds("DELIVERY_MAX_DELAY_SECONDS", d.max_delay.as_secs(), 86_400)?,
            disable_after: v.whole("WEBHOOK_DISABLE_AFTER", 1..=1000, d.disable_after.into())? as u32,
            concurrency: v.whole("DELIVERY_CONCURRENCY", 1..=256, d.concurrency as u64)? as usize,
            ..d
        })
    }

    /// The wait after failed attempt `attempt` (1 for the first): `base · 2^(attempt-1)`, at
    /// most `max_delay`, of which a random half ("equal jitter"), so that the retries of many
    /// events failing together spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let full = self.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(self.max_delay);
        let half = full / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

/// The time a run works when the invocation's deadline cannot be believed (the template's
/// `Timeout`).
pub const FALLBACK_TIMEOUT: Duration = Duration::from_secs(60);

/// Streak lengths that are a `streak.milestone`.
pub const MILESTONES: [u32; 9] = [7, 14, 30, 50, 100, 200, 365, 500, 1000];

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Outbox items this run took.
    pub events: usize,
    /// Outbox items another run had taken (or finished) first.
    pub taken_elsewhere: usize,
    /// Events nobody receives (no enabled webhook takes their type): removed.
    pub no_receiver: usize,
    pub delivered: usize,
    pub failed_attempts: usize,
    /// Deliveries given up (attempts spent, or the subscription ended by its push service).
    pub dead: usize,
    pub webhooks_disabled: usize,
    /// Deliveries whose webhook was switched off or removed (or subscription removed) first.
    pub cancelled: usize,
    /// Push subscriptions their push service said had ended (404/410): removed.
    pub subscriptions_removed: usize,
    /// Outbox items left for a later attempt.
    pub retries_scheduled: usize,
    /// Items that met an error (throttling): due again when their lease ends.
    pub errors: usize,
    /// The run stopped at its deadline with due items left.
    pub left_for_next_run: bool,
}

impl Report {
    fn add(&mut self, o: &Report) {
        self.events += o.events;
        self.taken_elsewhere += o.taken_elsewhere;
        self.no_receiver += o.no_receiver;
        self.delivered += o.delivered;
        self.failed_attempts += o.failed_attempts;
        self.dead += o.dead;
        self.webhooks_disabled += o.webhooks_disabled;
        self.cancelled += o.cancelled;
        self.subscriptions_removed += o.subscriptions_removed;
        self.retries_scheduled += o.retries_scheduled;
        self.errors += o.errors;
        self.left_for_next_run |= o.left_for_next_run;
    }
}

/// The outbox items a DynamoDB Streams event names: inserts of `OUTBOX#` items, as
/// `(user_id, event_id)`. Other records are ignored (the template's filter lets none through).
pub fn stream_outbox_keys(event: &Value) -> Option<Vec<(String, String)>> {
    let records = event.get("Records")?.as_array()?;
    Some(
        records
            .iter()
            .filter(|r| r.get("eventName").and_then(Value::as_str) == Some("INSERT"))
            .filter_map(|r| {
                let k = r.get("dynamodb")?.get("Keys")?;
                let pk = k.get(keys::PK)?.get("S")?.as_str()?;
                let sk = k.get(keys::SK)?.get("S")?.as_str()?;
                Some((pk.strip_prefix("USER#")?.to_owned(), sk.strip_prefix(keys::OUTBOX)?.to_owned()))
            })
            .collect(),
    )
}

/// What a run works with: the table, the HTTP client, the VAPID key and the settings.
#[derive(Clone, Copy)]
pub struct Deliverer<'a> {
    pub db: &'a Db,
    pub sender: &'a Sender,
    pub vapid: &'a Vapid,
    pub mailer: &'a Mailer,
    pub cfg: &'a DeliverConfig,
}

/// Where a user's events go: the webhooks, the browsers' push subscriptions, and the verified
/// address when the user asked for reminders by e-mail.
struct Targets {
    hooks: Vec<WebhookItem>,
    subs: Vec<PushSubscriptionItem>,
    user: Option<UserItem>,
}

impl Targets {
    /// The address reminders are e-mailed to, if any.
    fn mail_to(&self) -> Option<&str> {
        self.user.as_ref().filter(|u| u.is_active && u.email_verified && u.email_reminders).map(|u| u.email.as_str())
    }
}

impl Deliverer<'_> {
    /// Handles one invocation: a DynamoDB Streams batch, or an EventBridge scheduled event.
    pub async fn handle_event(
        &self,
        event: &Value,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<Report, ApiError> {
        let work: Vec<(String, String, u32)> = if let Some(keys) = stream_outbox_keys(event) {
            keys.into_iter().map(|(u, e)| (u, e, 0)).collect()
        } else if event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
            self.due_work(now).await
        } else {
            return Err(ApiError::BadRequest("neither a DynamoDB Streams batch nor a scheduled event".into()));
        };
        let report = self.run(work, now, deadline).await;
        if report.errors > 0 || report.left_for_next_run || report.dead > 0 {
            tracing::warn!(?report, "delivery run left work or gave some up");
        } else {
            tracing::info!(?report, "delivery run finished");
        }
        Ok(report)
    }

    /// Every outbox item due at `now` (a page per shard, the shards read in parallel).
    async fn due_work(&self, now: DateTime<Utc>) -> Vec<(String, String, u32)> {
        let pages: Vec<Result<Vec<OutboxItem>, ApiError>> = stream::iter(0..keys::OUTBOX_SHARDS)
            .map(|shard| self.db.due_outbox(shard, now, self.cfg.page_size))
            .buffer_unordered(keys::OUTBOX_SHARDS as usize)
            .collect()
            .await;
        let mut work = Vec::new();
        for page in pages {
            match page {
                Ok(items) => work.extend(items.into_iter().map(|o| (o.user_id, o.event_id, o.attempt))),
                Err(e) => tracing::warn!(error = %e, "a shard of the outbox left for the next run"),
            }
        }
        work
    }

    /// Works on outbox items `(user, event, attempt seen)` until `deadline`. `now` is the
    /// run's start: each item's attempt is timed from it plus the time the run has taken.
    pub async fn run(&self, work: Vec<(String, String, u32)>, now: DateTime<Utc>, deadline: Option<Instant>) -> Report {
        let started = Instant::now();
        let results: Vec<Report> = stream::iter(work)
            .map(|(user, event, seen)| async move {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Report { left_for_next_run: true, ..Report::default() };
                }
                let now = now + started.elapsed();
                match self.attempt(&user, &event, seen, now).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, user_id = %user, event_id = %event, "delivery attempt failed; due again after its lease");
                        Report { errors: 1, ..Report::default() }
                    }
                }
            })
            .buffer_unordered(self.cfg.concurrency)
            .collect()
            .await;
        let mut total = Report::default();
        results.iter().for_each(|r| total.add(r));
        total
    }

    /// One attempt of one outbox item (see the module's documentation).
    pub async fn attempt(
        &self,
        user_id: &str,
        event_id: &str,
        seen: u32,
        now: DateTime<Utc>,
    ) -> Result<Report, ApiError> {
        let (db, cfg) = (self.db, self.cfg);
        let mut report = Report::default();
        // Long enough for every delivery of the item to time out, and the writes after.
        let lease_until = now + self.sender.settings().timeout + Duration::from_secs(60);
        let Some(mut outbox) = db.claim_outbox(user_id, event_id, seen, lease_until).await? else {
            report.taken_elsewhere = 1;
            return Ok(report);
        };
        report.events = 1;
        // Browsers and e-mail take fired reminders only: the other events read the webhooks alone.
        let targets = if outbox.event_type == EventType::ReminderFired {
            let (hooks, subs, user) = tokio::join!(
                db.list_webhooks(user_id),
                db.list_push_subscriptions(user_id),
                db.get_user(user_id, false)
            );
            Targets { hooks: hooks?, subs: subs?, user: user? }
        } else {
            Targets { hooks: db.list_webhooks(user_id).await?, subs: Vec::new(), user: None }
        };
        let pending: Vec<DeliveryItem> = if outbox.expanded {
            db.deliveries_of(&outbox).await?.into_iter().filter(|d| d.status == DeliveryStatus::Pending).collect()
        } else {
            let chosen = choose(db, &outbox, &targets, now).await?;
            if chosen.is_empty() {
                db.finish_outbox(&outbox).await?;
                report.no_receiver = 1;
                return Ok(report);
            }
            if !db.expand_outbox(&outbox, &chosen).await? {
                report.taken_elsewhere = 1;
                return Ok(report);
            }
            outbox.deliveries = chosen.iter().map(DeliveryItem::reference).collect();
            outbox.expanded = true;
            chosen
        };
        let last = outbox.attempt >= cfg.max_attempts;
        let outcomes: Vec<Result<Report, ApiError>> =
            futures::future::join_all(pending.iter().map(|d| self.send_one(&targets, d, last, now))).await;
        let mut still_pending = false;
        for o in outcomes {
            match o {
                Ok(o) => {
                    still_pending |= o.failed_attempts > 0 && o.dead == 0;
                    report.add(&o);
                }
                // Not recorded (throttling): the delivery stays pending for the next attempt.
                Err(e) => {
                    tracing::warn!(error = %e, %event_id, "a delivery's attempt was not recorded");
                    report.errors += 1;
                    still_pending = true;
                }
            }
        }
        if still_pending {
            db.reschedule_outbox(&outbox, now + cfg.backoff(outbox.attempt)).await?;
            report.retries_scheduled = 1;
        } else {
            db.finish_outbox(&outbox).await?;
        }
        Ok(report)
    }

    /// One delivery's attempt through its channel, recorded.
    async fn send_one(
        &self,
        targets: &Targets,
        d: &DeliveryItem,
        last: bool,
        now: DateTime<Utc>,
    ) -> Result<Report, ApiError> {
        let db = self.db;
        let mut report = Report::default();
        let sent = match d.channel {
            Channel::Webhook => match targets.hooks.iter().find(|h| h.webhook_id == d.target_id && h.enabled) {
                Some(hook) => {
                    Some((self.sender.send(&hook.url, &hook.secret, &d.event_id, &d.body, now).await, Some(hook)))
                }
                None => None,
            },
            Channel::Push => match targets.subs.iter().find(|s| s.subscription_id == d.target_id) {
                Some(sub) => Some((self.push(sub, &d.body, now).await, None)),
                None => None,
            },
            Channel::Email => match targets.mail_to() {
                Some(to) => Some((self.mail(to, &d.body, now).await, None)),
                None => None,
            },
        };
        // Removed or switched off since the delivery was chosen: nothing to send it to.
        let Some((a, hook)) = sent else {
            db.record_attempt(d, None, DeliveryStatus::Cancelled, now).await?;
            report.cancelled = 1;
            return Ok(report);
        };
        if a.status_code.is_some_and(|c| (200..300).contains(&c)) {
            db.record_attempt(d, Some(&a), DeliveryStatus::Delivered, now).await?;
            if let Some(hook) = hook {
                db.webhook_succeeded(hook).await?;
            }
            report.delivered = 1;
            return Ok(report);
        }
        // A push service's 404 or 410: the browser's subscription has ended (RFC 8030 §7.3).
        if d.channel == Channel::Push && matches!(a.status_code, Some(404 | 410)) {
            db.record_attempt(d, Some(&a), DeliveryStatus::Dead, now).await?;
            db.delete_push_subscription(&d.user_id, &d.target_id).await?;
            tracing::info!(user_id = %d.user_id, subscription_id = %d.target_id, "push subscription ended by its push service: removed");
            report.failed_attempts = 1;
            report.dead = 1;
            report.subscriptions_removed = 1;
            return Ok(report);
        }
        report.failed_attempts = 1;
        let status = if last { DeliveryStatus::Dead } else { DeliveryStatus::Pending };
        db.record_attempt(d, Some(&a), status, now).await?;
        if last {
            report.dead = 1;
            tracing::error!(
                user_id = %d.user_id, target_id = %d.target_id, channel = ?d.channel, event_id = %d.event_id,
                attempts = d.attempts.len() + 1, "delivery dead-lettered"
            );
        }
        if let Some(hook) = hook {
            if let Some(failures) = db.webhook_failed(hook).await? {
                if failures >= self.cfg.disable_after && db.disable_webhook(hook, failures, now).await? {
                    tracing::warn!(user_id = %d.user_id, webhook_id = %hook.webhook_id, failures, "webhook switched off");
                    report.webhooks_disabled = 1;
                }
            }
        }
        Ok(report)
    }

    /// One reminder e-mail (SES): the API's answer as the attempt's status (200 when SES took it).
    async fn mail(&self, to: &str, body: &str, now: DateTime<Utc>) -> shared::models::Attempt {
        let started = std::time::Instant::now();
        let message = serde_json::from_str::<Value>(body).ok();
        let text = message.as_ref().and_then(|m| m["data"]["message"].as_str()).unwrap_or("A habit reminder");
        let subject = format!("Reminder: {text}");
        let content = format!(
            "{text}\n\nYou get this because reminders by e-mail are on for your Habit Tracker account \
             (PATCH /me {{\"email_reminders\": false}} turns them off).\n"
        );
        let outcome = self.mailer.send(to, &subject, &content).await.map(|()| 200);
        shared::models::Attempt::of(now, started, outcome)
    }

    /// One Web Push message: `message` encrypted for the subscription (new keys and salt each
    /// time), VAPID-signed, kept by the push service for an hour at most while the device is
    /// away (a reminder later than that is no use).
    async fn push(&self, sub: &PushSubscriptionItem, message: &str, now: DateTime<Utc>) -> shared::models::Attempt {
        let failed =
            |error: String| shared::models::Attempt { at: now, status_code: None, error: Some(error), duration_ms: 0 };
        let keys = shared::push::check_keys(&sub.p256dh, &sub.auth).map_err(|(_, why)| why.to_owned());
        let body = keys.and_then(|(ua, auth)| shared::push::encrypt(&ua, &auth, message.as_bytes()));
        let authorization = sub
            .endpoint
            .parse::<http::Uri>()
            .map_err(|_| "the endpoint is not a URL".to_owned())
            .and_then(|uri| self.vapid.authorization(&uri, now));
        let (body, authorization) = match (body, authorization) {
            (Ok(b), Ok(a)) => (b, a),
            (Err(e), _) | (_, Err(e)) => return failed(e),
        };
        let headers = [
            ("content-type", "application/octet-stream".to_owned()),
            ("content-encoding", "aes128gcm".to_owned()),
            ("ttl", "3600".to_owned()),
            ("urgency", "high".to_owned()),
            ("authorization", authorization),
        ];
        self.sender.post(&sub.endpoint, &headers, body, now).await
    }
}

/// The deliveries of an outbox item's event, and of the events derived from it: to the enabled
/// webhooks taking each type, and a fired reminder to every push subscription too. A derived
/// event delivered before (the same facts) is left out.
async fn choose(
    db: &Db,
    outbox: &OutboxItem,
    targets: &Targets,
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryItem>, ApiError> {
    let data: Value = serde_json::from_str(&outbox.data).map_err(ApiError::internal)?;
    let hooks = &targets.hooks;
    let wants = |t: EventType| hooks.iter().any(|h| h.wants(t));
    let mut derived = Vec::new();
    if outbox.event_type == EventType::EntryRecorded && data.get("status").and_then(Value::as_str) == Some("done") {
        if wants(EventType::StreakMilestone) {
            derived.extend(streak_milestone(db, outbox, &data).await?);
        }
        if wants(EventType::ChallengeGoalReached) {
            derived.extend(goals_reached(db, outbox, &data).await?);
        }
    }
    let user = outbox.user_id.as_str();
    let deliveries = |(id, t, at, data): &(String, EventType, DateTime<Utc>, Value)| {
        let body = webhooks::body(*t, *at, data);
        let mut out: Vec<DeliveryItem> = hooks
            .iter()
            .filter(|h| h.wants(*t))
            .map(|h| DeliveryItem::new((user, &h.webhook_id, Channel::Webhook), id, *t, body.clone(), now))
            .collect();
        if *t == EventType::ReminderFired {
            out.extend(
                targets
                    .subs
                    .iter()
                    .map(|s| DeliveryItem::new((user, &s.subscription_id, Channel::Push), id, *t, body.clone(), now)),
            );
            if targets.mail_to().is_some() {
                out.push(DeliveryItem::new((user, user, Channel::Email), id, *t, body.clone(), now));
            }
        }
        out
    };
    let mut chosen = deliveries(&(outbox.event_id.clone(), outbox.event_type, outbox.occurred_at, data.clone()));
    let derived: Vec<DeliveryItem> = derived.iter().flat_map(deliveries).collect();
    if !derived.is_empty() {
        let before = db.existing_deliveries(&derived).await?;
        chosen.extend(derived.into_iter().filter(|d| !before.contains(&d.reference())));
    }
    // One transaction writes them with the outbox item (100 items at most).
    if chosen.len() > 99 {
        tracing::warn!(event_id = %outbox.event_id, chosen = chosen.len(), "deliveries beyond 99 left out");
        chosen.truncate(99);
    }
    Ok(chosen)
}

type Derived = (String, EventType, DateTime<Utc>, Value);

/// `streak.milestone` when the habit's streak as of the entry's day is a milestone. Its id comes
/// from the habit, the day and the length: recording that day again names the same event.
async fn streak_milestone(db: &Db, outbox: &OutboxItem, data: &Value) -> Result<Option<Derived>, ApiError> {
    let (Some(habit_id), Some(date)) = (
        data.get("habit_id").and_then(Value::as_str),
        data.get("date").and_then(Value::as_str).and_then(|d| d.parse::<chrono::NaiveDate>().ok()),
    ) else {
        return Ok(None);
    };
    let Some(found) = db.get_habit_with_history(&outbox.user_id, habit_id).await? else { return Ok(None) };
    let stats = found.stats(date);
    if !MILESTONES.contains(&stats.current_streak) {
        return Ok(None);
    }
    let at = date.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let id = derived_event_id(at, &format!("{habit_id}#streak#{}#{date}", stats.current_streak));
    let body = json!({
        "habit_id": habit_id,
        "habit_title": found.habit.fields.title,
        "streak": stats.current_streak,
        "streak_unit": stats.streak_unit,
        "date": date,
    });
    Ok(Some((id, EventType::StreakMilestone, outbox.occurred_at, body)))
}

/// `challenge.goal_reached` for each challenge the habit backs whose goal the progress has
/// reached. One per membership: its id comes from the user, the challenge and the join.
async fn goals_reached(db: &Db, outbox: &OutboxItem, data: &Value) -> Result<Vec<Derived>, ApiError> {
    let Some(habit_id) = data.get("habit_id").and_then(Value::as_str) else { return Ok(Vec::new()) };
    let memberships = db.memberships_of_habit(&outbox.user_id, habit_id).await?;
    if memberships.is_empty() {
        return Ok(Vec::new());
    }
    let challenges = db.challenges_by_id(memberships.iter().map(|m| m.challenge_id.as_str())).await?;
    Ok(memberships
        .iter()
        .filter_map(|m| {
            let goal = challenges.iter().find(|c| c.challenge_id == m.challenge_id)?.goal_days?;
            (m.progress >= u64::from(goal)).then(|| {
                let id = derived_event_id(m.joined_at, &format!("{}#{}#goal", m.user_id, m.challenge_id));
                let body = json!({
                    "challenge_id": m.challenge_id,
                    "challenge_name": m.challenge_name,
                    "habit_id": m.habit_id,
                    "progress": m.progress,
                    "goal_days": goal,
                });
                (id, EventType::ChallengeGoalReached, outbox.occurred_at, body)
            })
        })
        .collect())
}
