//! `/me/webhooks`: the caller's webhook endpoints (Standard Webhooks), a test delivery, and each
//! endpoint's deliveries with their attempts. The delivery itself is `functions/deliver`.

use super::*;
use shared::{
    models::{Attempt, DeliveryItem, DeliveryStatus, EventType, WebhookItem},
    storage::delivery::WEBHOOKS_MAX,
    webhooks,
};

pub const DESCRIPTION_MAX: usize = 200;

#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookView {
    webhook_id: String,
    url: String,
    description: Option<String>,
    event_types: Vec<EventType>,
    /// `false` once switched off (by the caller, or by the delivery after a run of failures).
    enabled: bool,
    /// Why the delivery switched it off.
    disabled_reason: Option<String>,
    /// Failed attempts since the last success.
    consecutive_failures: u32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn webhook_view(h: &WebhookItem) -> WebhookView {
    WebhookView {
        webhook_id: h.webhook_id.clone(),
        url: h.url.clone(),
        description: h.description.clone(),
        event_types: h.event_types.clone(),
        enabled: h.enabled,
        disabled_reason: h.disabled_reason.clone(),
        consecutive_failures: h.consecutive_failures,
        created_at: h.created_at,
        updated_at: h.updated_at,
    }
}

/// A new webhook, with its secret: shown this once.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedWebhook {
    #[serde(flatten)]
    webhook: WebhookView,
    /// The signing secret (`whsec_...`), for verifying `webhook-signature`. Not shown again.
    secret: String,
}

fn check(c: &mut Checker, state: &AppState, h: &WebhookItem) {
    c.check("url", webhooks::check_url(&h.url, state.config.webhooks.allow_private).map(|_| ()));
    c.text("description", h.description.as_deref(), DESCRIPTION_MAX);
}

/// The event types as given: each at most once, at least one (sorted).
fn event_types(c: &mut Checker, mut types: Vec<EventType>) -> Vec<EventType> {
    let n = types.len();
    types.sort();
    types.dedup();
    if types.is_empty() || types.len() != n {
        c.fail("event_types", "must name each event type at most once, at least one");
    }
    types
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateWebhook)]
pub(crate) struct CreateBody {
    /// Where events are POSTed: an `https` URL on the public internet.
    #[schema(max_length = 2048, example = "https://hooks.example.com/habits")]
    url: String,
    /// 1 to 200 characters.
    #[serde(default)]
    #[schema(max_length = 200)]
    description: Option<String>,
    /// The events to send, at least one.
    #[schema(min_items = 1, value_type = std::collections::BTreeSet<EventType>)]
    event_types: Vec<EventType>,
}

/// Adds a webhook endpoint (at most 10). Its signing secret is in this answer only.
#[utoipa::path(post, path = "/me/webhooks", tag = "webhooks", security(("bearer" = [])), request_body = CreateBody,
    responses((status = 201, description = "Created; the secret is shown this once", body = CreatedWebhook)))]
pub(crate) async fn create_webhook(
    State(state): State<AppState>,
    me: AuthUser,
    Json(b): Json<CreateBody>,
) -> ApiResult<(StatusCode, axum::Json<CreatedWebhook>)> {
    let description = b.description.map(|d| d.trim().to_owned());
    let mut hook = WebhookItem::new(me.id(), b.url.trim().to_owned(), description, Vec::new(), Utc::now());
    let mut c = Checker::default();
    hook.event_types = event_types(&mut c, b.event_types);
    check(&mut c, &state, &hook);
    c.finish()?;
    let mut hooks = state.db.list_webhooks(me.id()).await?;
    if hooks.len() >= WEBHOOKS_MAX {
        return Err(ApiError::Conflict {
            detail: format!("you have {WEBHOOKS_MAX} webhooks, the most there can be; delete one first"),
            field: None,
        });
    }
    hooks.push(hook.clone());
    state.db.save_webhook(&me.user, &hook, None, &hooks).await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedWebhook { webhook: webhook_view(&hook), secret: hook.secret })))
}

/// All of the caller's webhooks (there are at most 10: one page).
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookList {
    items: Vec<WebhookView>,
}

/// The caller's webhooks, oldest first.
#[utoipa::path(get, path = "/me/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, description = "The caller's webhooks", body = WebhookList)))]
pub(crate) async fn list_webhooks(State(state): State<AppState>, me: Reader) -> ApiJson<WebhookList> {
    let (_, hooks) = me.read(&state, state.db.list_webhooks(me.id())).await?;
    Ok(axum::Json(WebhookList { items: hooks.iter().map(webhook_view).collect() }))
}

async fn own_webhook(state: &AppState, me: &AuthUser, id: &str) -> ApiResult<WebhookItem> {
    state.db.get_webhook(me.id(), id).await?.ok_or(ApiError::NotFound("webhook"))
}

/// One of the caller's webhooks.
#[utoipa::path(get, path = "/me/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, description = "The webhook", body = WebhookView)))]
pub(crate) async fn get_webhook(
    State(state): State<AppState>,
    me: Reader,
    id: Id<noun::Webhook>,
) -> ApiJson<WebhookView> {
    let (_, found) = me.read(&state, state.db.get_webhook(me.id(), &id)).await?;
    Ok(axum::Json(webhook_view(&found.ok_or(ApiError::NotFound("webhook"))?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PatchWebhook)]
pub(crate) struct PatchBody {
    #[serde(default)]
    #[schema(max_length = 2048)]
    url: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "shared::http::nullable")]
    #[schema(max_length = 200, nullable)]
    description: Option<Option<String>>,
    #[serde(default)]
    #[schema(min_items = 1, value_type = Option<std::collections::BTreeSet<EventType>>)]
    event_types: Option<Vec<EventType>>,
    /// `true` switches it on again (its run of failures starts from 0), `false` off.
    #[serde(default)]
    enabled: Option<bool>,
}

/// Changes a webhook; switching it on again clears the reason it was switched off.
#[utoipa::path(patch, path = "/me/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")), request_body = PatchBody,
    responses((status = 200, description = "The updated webhook", body = WebhookView)))]
pub(crate) async fn patch_webhook(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Webhook>,
    Json(p): Json<PatchBody>,
) -> ApiJson<WebhookView> {
    let mut hooks = state.db.list_webhooks(me.id()).await?;
    let current = hooks.iter().find(|h| h.webhook_id == *id).cloned().ok_or(ApiError::NotFound("webhook"))?;
    let mut hook = current.clone();
    hook.url = p.url.map(|u| u.trim().to_owned()).unwrap_or(hook.url);
    hook.description = p.description.map(|d| d.map(|d| d.trim().to_owned())).unwrap_or(hook.description);
    let mut c = Checker::default();
    if let Some(types) = p.event_types {
        hook.event_types = event_types(&mut c, types);
    }
    if let Some(on) = p.enabled {
        if on && !hook.enabled {
            hook.disabled_reason = None;
            hook.consecutive_failures = 0;
        }
        hook.enabled = on;
    }
    check(&mut c, &state, &hook);
    c.finish()?;
    hook.version += 1;
    hook.updated_at = Utc::now();
    hooks.iter_mut().filter(|h| h.webhook_id == hook.webhook_id).for_each(|h| *h = hook.clone());
    state.db.save_webhook(&me.user, &hook, Some(&current), &hooks).await?;
    Ok(axum::Json(webhook_view(&hook)))
}

/// Deletes a webhook: nothing more is sent to it (deliveries on their way are given up).
#[utoipa::path(delete, path = "/me/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_webhook(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Webhook>,
) -> ApiResult<StatusCode> {
    let mut hooks = state.db.list_webhooks(me.id()).await?;
    let Some(at) = hooks.iter().position(|h| h.webhook_id == *id) else { return Err(ApiError::NotFound("webhook")) };
    let hook = hooks.remove(at);
    if state.db.delete_webhook(&me.user, &hook, &hooks).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("webhook"))
    }
}

/// What a test delivery met.
#[derive(Serialize, ToSchema)]
pub(crate) struct TestResult {
    /// The endpoint answered 2xx.
    delivered: bool,
    /// The `webhook-id` it was sent with.
    event_id: String,
    #[serde(flatten)]
    attempt: Attempt,
}

/// Sends a `webhook.test` event to the webhook now (also when it is switched off) and answers
/// with what the endpoint did. Not retried, not counted in its run of failures.
#[utoipa::path(post, path = "/me/webhooks/{id}/test", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, description = "The attempt's outcome", body = TestResult)))]
pub(crate) async fn test_webhook(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Webhook>,
) -> ApiJson<TestResult> {
    let hook = own_webhook(&state, &me, &id).await?;
    let now = Utc::now();
    let event_id = ulid::Ulid::new().to_string();
    let body = serde_json::json!({
        "type": "webhook.test",
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {"webhook_id": hook.webhook_id},
    })
    .to_string();
    let attempt = state.webhook_sender().send(&hook.url, &hook.secret, &event_id, &body, now).await;
    let delivered = attempt.status_code.is_some_and(|c| (200..300).contains(&c));
    Ok(axum::Json(TestResult { delivered, event_id, attempt }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    /// The event's id: the `webhook-id` of every attempt.
    event_id: String,
    event_type: EventType,
    status: DeliveryStatus,
    /// Every attempt so far, oldest first.
    attempts: Vec<Attempt>,
    /// The body sent on every attempt.
    payload: serde_json::Value,
    created_at: DateTime<Utc>,
}

fn delivery_view(d: &DeliveryItem) -> DeliveryView {
    DeliveryView {
        event_id: d.event_id.clone(),
        event_type: d.event_type,
        status: d.status,
        attempts: d.attempts.clone(),
        payload: serde_json::from_str(&d.body).unwrap_or(serde_json::Value::Null),
        created_at: d.created_at,
    }
}

shared::page_query! {
    pub(crate) struct DeliveriesQuery {}
}

/// A webhook's deliveries, newest first, each with its attempts (kept 30 days).
#[utoipa::path(get, path = "/me/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id"), DeliveriesQuery),
    responses((status = 200, description = "A page of deliveries", body = PageBody<DeliveryView>)))]
pub(crate) async fn list_deliveries(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Webhook>,
    Query(q): Query<DeliveriesQuery>,
) -> ApiJson<PageBody<DeliveryView>> {
    let hook = own_webhook(&state, &me, &id).await?;
    let mut paging =
        Paging::new(&state, format!("deliveries:{}:{}", me.id(), hook.webhook_id), q.limit, q.cursor.as_deref())?;
    let (items, next) = state.db.list_deliveries(me.id(), &hook.webhook_id, paging.limit, paging.start.take()).await?;
    Ok(axum::Json(paging.finish(items.iter().map(delivery_view).collect(), next)?))
}
