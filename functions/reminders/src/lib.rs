//! `functions/reminders`: reminders for one's own habits, the notifications they produce, and
//! what carries them out: webhooks (`webhooks`) and browsers' Web Push subscriptions (`push`).

mod push;
mod webhooks;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use push::*;
use serde::{Deserialize, Serialize};
use shared::{
    auth::{AuthUser, Reader},
    domain::{Checker, TimeZone},
    http::{is_ulid, noun, Id, Json, PageBody, Paging, Query},
    idempotency::{created, IdempotencyHeader, Keyed},
    models::{NotificationItem, NotificationKind, ReminderItem, ReminderSpec},
    reminder_time,
    schedule::Day,
    ApiError, ApiJson, ApiResult, AppState,
};
use utoipa::ToSchema;
use webhooks::*;

shared::routes![
    create_reminder,
    list_reminders,
    get_reminder,
    patch_reminder,
    delete_reminder,
    list_notifications,
    mark_notification,
    read_all,
    create_webhook,
    list_webhooks,
    get_webhook,
    patch_webhook,
    delete_webhook,
    test_webhook,
    list_deliveries,
    public_key,
    subscribe,
    list_subscriptions,
    unsubscribe,
];

pub const MESSAGE_MAX: usize = 200;

#[derive(Serialize, ToSchema)]
struct ReminderView {
    reminder_id: String,
    habit_id: String,
    /// Local time of day, 24-hour `HH:MM`.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "07:30")]
    reminder_time: String,
    #[schema(example = json!(["mon", "wed"]))]
    repeat_days: Vec<Day>,
    /// IANA time zone name.
    #[schema(example = "Europe/Berlin")]
    time_zone: String,
    message: String,
    is_active: bool,
    /// The next time it fires (UTC); absent while inactive.
    next_fire_at: Option<DateTime<Utc>>,
    last_fired_at: Option<DateTime<Utc>>,
    created_date: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn view(r: &ReminderItem) -> ReminderView {
    ReminderView {
        reminder_id: r.reminder_id.clone(),
        habit_id: r.habit_id.clone(),
        reminder_time: r.reminder_time.clone(),
        repeat_days: r.repeat_days.clone(),
        time_zone: r.time_zone.clone(),
        message: r.message.clone(),
        is_active: r.is_active,
        next_fire_at: r.next_fire_at,
        last_fired_at: r.last_fired_at,
        created_date: r.created_date,
        updated_at: r.updated_at,
    }
}

/// Checks the schedule fields of a reminder as it will be stored.
fn check(c: &mut Checker, r: &ReminderItem) {
    c.check("reminder_time", reminder_time::parse_time(&r.reminder_time));
    let mut days = r.repeat_days.clone();
    days.sort();
    days.dedup();
    if days.is_empty() || days.len() != r.repeat_days.len() {
        c.fail("repeat_days", "must list each weekday (mon ... sun) at most once, at least one");
    }
    c.check("time_zone", TimeZone::parse(&r.time_zone));
    let len = r.message.trim().chars().count();
    if len == 0 || len > MESSAGE_MAX {
        c.fail("message", format!("must be 1 to {MESSAGE_MAX} characters"));
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateReminder)]
struct CreateBody {
    /// One of the caller's own habits.
    habit_id: String,
    /// Local time of day, 24-hour `HH:MM`.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "07:30")]
    reminder_time: String,
    /// Each weekday at most once, at least one.
    #[schema(min_items = 1, max_items = 7, value_type = std::collections::BTreeSet<Day>, example = json!(["mon", "wed"]))]
    repeat_days: Vec<Day>,
    /// IANA time zone name. Defaults to the profile's time zone (UTC when the profile names none).
    #[serde(default)]
    #[schema(example = "Europe/Berlin")]
    time_zone: Option<String>,
    /// Trimmed; 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", example = "Time to stretch")]
    message: String,
    /// Defaults to `true`.
    #[serde(default)]
    #[schema(default = true)]
    is_active: Option<bool>,
}

/// Creates a reminder for one of the caller's habits.
#[utoipa::path(post, path = "/reminders", tag = "reminders", security(("bearer" = [])),
    request_body = CreateBody, params(IdempotencyHeader),
    responses((status = 201, description = "Created", body = ReminderView)))]
async fn create_reminder(
    State(state): State<AppState>,
    me: AuthUser,
    Keyed { body: b, key }: Keyed<CreateBody>,
) -> ApiResult<Response> {
    if let Some(replay) = state.db.replay(me.id(), key.as_ref()).await? {
        return Ok(replay.into_response());
    }
    let now = Utc::now();
    let spec = ReminderSpec {
        habit_id: b.habit_id,
        reminder_time: b.reminder_time,
        repeat_days: b.repeat_days,
        time_zone: b.time_zone.unwrap_or_else(|| me.user.tz().name().to_owned()),
        message: b.message.trim().to_owned(),
        is_active: b.is_active.unwrap_or(true),
    };
    let mut r = ReminderItem::new(me.id(), spec, now);
    let mut c = Checker::default();
    check(&mut c, &r);
    c.finish()?;
    // The habit must be one of the caller's own, and still there when the reminder is written.
    if !is_ulid(&r.habit_id) {
        return Err(ApiError::NotFound("habit"));
    }
    r.arm(now);
    let (record, answer) = created(key, me.id(), view(&r))?;
    state.db.create_reminder(&r, record.as_ref()).await?;
    Ok(answer)
}

shared::page_query! {
    struct ListQuery {
        /// Only the reminders of this habit.
        #[serde(default)]
        habit_id: Option<String>,
    }
}

/// Lists the caller's reminders.
#[utoipa::path(get, path = "/reminders", tag = "reminders", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of reminders", body = PageBody<ReminderView>)))]
async fn list_reminders(
    State(state): State<AppState>,
    me: Reader,
    Query(q): Query<ListQuery>,
) -> ApiJson<PageBody<ReminderView>> {
    if q.habit_id.as_deref().is_some_and(|h| !is_ulid(h)) {
        return Err(ApiError::invalid("habit_id", "is not a habit id"));
    }
    let mut paging =
        Paging::new(&state, format!("reminders:{}:{:?}", me.id(), q.habit_id), q.limit, q.cursor.as_deref())?;
    let read = state.db.list_reminders(me.id(), q.habit_id.as_deref(), paging.limit, paging.start.take());
    let (_, (items, next)) = me.read(&state, read).await?;
    Ok(axum::Json(paging.finish(items.iter().map(view).collect(), next)?))
}

async fn own_reminder(state: &AppState, me: &AuthUser, id: &str) -> ApiResult<ReminderItem> {
    state.db.get_reminder(me.id(), id).await?.ok_or(ApiError::NotFound("reminder"))
}

/// One of the caller's reminders.
#[utoipa::path(get, path = "/reminders/{id}", tag = "reminders", security(("bearer" = [])),
    params(("id" = String, Path, description = "Reminder id")),
    responses((status = 200, description = "The reminder", body = ReminderView)))]
async fn get_reminder(State(state): State<AppState>, me: Reader, id: Id<noun::Reminder>) -> ApiJson<ReminderView> {
    let (_, found) = me.read(&state, state.db.get_reminder(me.id(), &id)).await?;
    Ok(axum::Json(view(&found.ok_or(ApiError::NotFound("reminder"))?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PatchReminder)]
struct PatchBody {
    /// Local time of day, 24-hour `HH:MM`.
    #[serde(default)]
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "07:30")]
    reminder_time: Option<String>,
    /// Each weekday at most once, at least one.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 7, value_type = std::collections::BTreeSet<Day>, example = json!(["mon", "wed"]))]
    repeat_days: Option<Vec<Day>>,
    /// IANA time zone name.
    #[serde(default)]
    #[schema(example = "Europe/Berlin")]
    time_zone: Option<String>,
    /// Trimmed; 1 to 200 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    message: Option<String>,
    #[serde(default)]
    is_active: Option<bool>,
}

/// Changes a reminder; its next fire time is computed anew from now.
#[utoipa::path(patch, path = "/reminders/{id}", tag = "reminders", security(("bearer" = [])),
    params(("id" = String, Path, description = "Reminder id")), request_body = PatchBody,
    responses((status = 200, description = "The updated reminder", body = ReminderView)))]
async fn patch_reminder(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Reminder>,
    Json(p): Json<PatchBody>,
) -> ApiJson<ReminderView> {
    let current = own_reminder(&state, &me, &id).await?;
    let now = Utc::now();
    let mut r = current.clone();
    r.reminder_time = p.reminder_time.unwrap_or(r.reminder_time);
    r.repeat_days = p.repeat_days.unwrap_or(r.repeat_days);
    r.time_zone = p.time_zone.unwrap_or(r.time_zone);
    r.message = p.message.map(|m| m.trim().to_owned()).unwrap_or(r.message);
    r.is_active = p.is_active.unwrap_or(r.is_active);
    let mut c = Checker::default();
    check(&mut c, &r);
    c.finish()?;
    r.arm(now);
    r.version += 1;
    r.updated_at = now;
    state.db.put_reminder(&r, current.version).await?;
    Ok(axum::Json(view(&r)))
}

/// Deletes one of the caller's reminders.
#[utoipa::path(delete, path = "/reminders/{id}", tag = "reminders", security(("bearer" = [])),
    params(("id" = String, Path, description = "Reminder id")),
    responses((status = 204, description = "Deleted")))]
async fn delete_reminder(State(state): State<AppState>, me: AuthUser, id: Id<noun::Reminder>) -> ApiResult<StatusCode> {
    if state.db.delete_reminder(me.id(), &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("reminder"))
    }
}

// ---- notifications -------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
struct NotificationView {
    notification_id: String,
    kind: NotificationKind,
    /// The reminder that fired (`kind: reminder`).
    reminder_id: Option<String>,
    habit_id: Option<String>,
    /// The webhook switched off (`kind: webhook_disabled`).
    webhook_id: Option<String>,
    message: String,
    occurrence_at: DateTime<Utc>,
    fired_at: DateTime<Utc>,
    late: bool,
    read: bool,
}

fn notification_view(n: &NotificationItem) -> NotificationView {
    NotificationView {
        notification_id: n.notification_id.clone(),
        kind: n.kind,
        reminder_id: n.reminder_id.clone(),
        habit_id: n.habit_id.clone(),
        webhook_id: n.webhook_id.clone(),
        message: n.message.clone(),
        occurrence_at: n.occurrence_at,
        fired_at: n.fired_at,
        late: n.late,
        read: n.read,
    }
}

shared::page_query! {
    struct NotificationsQuery {
        /// Only unread notifications (default `false`).
        #[serde(default)]
        unread: Option<bool>,
    }
}

/// Lists the caller's notifications.
#[utoipa::path(get, path = "/me/notifications", tag = "notifications", security(("bearer" = [])),
    params(NotificationsQuery),
    responses((status = 200, description = "A page of notifications", body = PageBody<NotificationView>)))]
async fn list_notifications(
    State(state): State<AppState>,
    me: Reader,
    Query(q): Query<NotificationsQuery>,
) -> ApiJson<PageBody<NotificationView>> {
    let unread = q.unread.unwrap_or(false);
    let mut paging = Paging::new(&state, format!("notifications:{}:{unread}", me.id()), q.limit, q.cursor.as_deref())?;
    let read = state.db.list_notifications(me.id(), unread, paging.limit, paging.start.take());
    let (_, (items, next)) = me.read(&state, read).await?;
    Ok(axum::Json(paging.finish(items.iter().map(notification_view).collect(), next)?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MarkNotification)]
struct MarkBody {
    read: bool,
}

/// Marks one of the caller's notifications read or unread.
#[utoipa::path(patch, path = "/me/notifications/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "Notification id")), request_body = MarkBody,
    responses((status = 200, description = "The updated notification", body = NotificationView)))]
async fn mark_notification(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Notification>,
    Json(b): Json<MarkBody>,
) -> ApiJson<NotificationView> {
    let n = state.db.mark_notification(me.id(), &id, b.read).await?.ok_or(ApiError::NotFound("notification"))?;
    Ok(axum::Json(notification_view(&n)))
}

#[derive(Serialize, ToSchema)]
struct ReadAll {
    /// How many notifications were marked read.
    updated: usize,
}

/// Marks all the caller's notifications read.
#[utoipa::path(post, path = "/me/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "How many were marked read", body = ReadAll)))]
async fn read_all(State(state): State<AppState>, me: AuthUser) -> ApiJson<ReadAll> {
    Ok(axum::Json(ReadAll { updated: state.db.read_all_notifications(me.id()).await? }))
}
