//! Web Push: the server's public key for the browser (`GET /push/public-key`) and the caller's
//! browsers' subscriptions (`/me/push-subscriptions`). A fired reminder is pushed to each of them
//! by `functions/deliver`.

use super::*;
use shared::{models::PushSubscriptionItem, storage::delivery::PUSH_SUBSCRIPTIONS_MAX, webhooks};

#[derive(Serialize, ToSchema)]
pub(crate) struct PublicKey {
    /// The VAPID public key (P-256, uncompressed, base64url): the `applicationServerKey` of
    /// `pushManager.subscribe`.
    public_key: String,
}

/// The server's Web Push (VAPID) public key, for a browser to subscribe with. Public.
#[utoipa::path(get, path = "/push/public-key", tag = "push",
    responses((status = 200, description = "The key", body = PublicKey)))]
pub(crate) async fn public_key(State(state): State<AppState>) -> ApiJson<PublicKey> {
    Ok(axum::Json(PublicKey { public_key: state.vapid()?.public_key() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubscriptionKeys {
    /// The browser's P-256 public key, base64url.
    #[schema(example = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM")]
    p256dh: String,
    /// The browser's authentication secret (16 bytes), base64url.
    #[schema(example = "tBHItJI5svbpez7KI4CCXg")]
    auth: String,
}

/// A browser's `PushSubscription`, as its `toJSON()` gives it (hence `expirationTime`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreatePushSubscription)]
pub(crate) struct CreateBody {
    /// The push service's URL for this browser (`https`).
    #[schema(max_length = 2048, example = "https://fcm.googleapis.com/fcm/send/c1KrmpTuRm:APA91bE")]
    endpoint: String,
    /// When the subscription ends (epoch milliseconds), or `null`.
    #[serde(default, rename = "expirationTime")]
    expiration_time: Option<i64>,
    keys: SubscriptionKeys,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SubscriptionView {
    subscription_id: String,
    endpoint: String,
    expiration_time: Option<i64>,
    created_at: DateTime<Utc>,
}

fn subscription_view(s: &PushSubscriptionItem) -> SubscriptionView {
    SubscriptionView {
        subscription_id: s.subscription_id.clone(),
        endpoint: s.endpoint.clone(),
        expiration_time: s.expiration_time,
        created_at: s.created_at,
    }
}

/// Subscribes a browser to the caller's reminders (at most 10). The same browser again (its
/// endpoint) replaces its subscription.
#[utoipa::path(post, path = "/me/push-subscriptions", tag = "push", security(("bearer" = [])), request_body = CreateBody,
    responses((status = 201, description = "Subscribed", body = SubscriptionView)))]
pub(crate) async fn subscribe(
    State(state): State<AppState>,
    me: AuthUser,
    Json(b): Json<CreateBody>,
) -> ApiResult<(StatusCode, axum::Json<SubscriptionView>)> {
    let mut c = Checker::default();
    let endpoint = b.endpoint.trim().to_owned();
    c.check("endpoint", webhooks::check_url(&endpoint, state.config.webhooks.allow_private).map(|_| ()));
    if let Err((field, why)) = shared::push::check_keys(&b.keys.p256dh, &b.keys.auth) {
        c.fail(field, why);
    }
    c.finish()?;
    let id = PushSubscriptionItem::id_for(&endpoint);
    let subs = state.db.list_push_subscriptions(me.id()).await?;
    if subs.len() >= PUSH_SUBSCRIPTIONS_MAX && !subs.iter().any(|s| s.subscription_id == id) {
        return Err(ApiError::Conflict {
            detail: format!(
                "you have {PUSH_SUBSCRIPTIONS_MAX} push subscriptions, the most there can be; delete one first"
            ),
            field: None,
        });
    }
    let key = shared::keys::push_subscription(me.id(), &id);
    let sub = PushSubscriptionItem {
        pk: key.pk,
        sk: key.sk,
        entity: PushSubscriptionItem::ENTITY.into(),
        subscription_id: id,
        user_id: me.id().into(),
        endpoint,
        p256dh: b.keys.p256dh,
        auth: b.keys.auth,
        expiration_time: b.expiration_time,
        created_at: Utc::now(),
    };
    state.db.put_push_subscription(&sub).await?;
    Ok((StatusCode::CREATED, axum::Json(subscription_view(&sub))))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SubscriptionList {
    items: Vec<SubscriptionView>,
}

/// The caller's push subscriptions.
#[utoipa::path(get, path = "/me/push-subscriptions", tag = "push", security(("bearer" = [])),
    responses((status = 200, description = "The caller's subscriptions", body = SubscriptionList)))]
pub(crate) async fn list_subscriptions(State(state): State<AppState>, me: Reader) -> ApiJson<SubscriptionList> {
    let (_, subs) = me.read(&state, state.db.list_push_subscriptions(me.id())).await?;
    Ok(axum::Json(SubscriptionList { items: subs.iter().map(subscription_view).collect() }))
}

/// Unsubscribes a browser.
#[utoipa::path(delete, path = "/me/push-subscriptions/{id}", tag = "push", security(("bearer" = [])),
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 204, description = "Unsubscribed")))]
pub(crate) async fn unsubscribe(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::PushSubscription>,
) -> ApiResult<StatusCode> {
    if state.db.delete_push_subscription(me.id(), &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("push subscription"))
    }
}
