//! Webhooks, push subscriptions, the outbox and deliveries (see `functions/deliver`).

use super::{
    from_item, n, s, sdk_error, unless_condition_failed, values, Db, Item, Page, Query, SortKey, TxError, GSI1, TABLE,
};
use crate::{
    error::ApiError,
    keys,
    models::{
        Attempt, DeliveryItem, DeliveryStatus, EventType, NotificationItem, OutboxItem, PushSubscriptionItem, UserItem,
        WebhookItem,
    },
};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use chrono::{DateTime, Utc};

/// The most webhooks one user may have.
pub const WEBHOOKS_MAX: usize = 10;
/// The most push subscriptions (browsers, devices) one user may have.
pub const PUSH_SUBSCRIPTIONS_MAX: usize = 10;

/// The event types the enabled webhooks among `hooks` take, sorted, each once.
pub fn events_taken(hooks: &[WebhookItem]) -> Vec<EventType> {
    let mut types: Vec<EventType> =
        hooks.iter().filter(|h| h.enabled).flat_map(|h| h.event_types.iter().copied()).collect();
    types.sort();
    types.dedup();
    types
}

fn changed_meanwhile() -> ApiError {
    ApiError::Conflict { detail: "your webhooks or account changed meanwhile; read them again".into(), field: None }
}

impl Db {
    /// Every webhook of a user (at most [`WEBHOOKS_MAX`]: one page).
    pub async fn list_webhooks(&self, user_id: &str) -> Result<Vec<WebhookItem>, ApiError> {
        let q = Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::BeginsWith(keys::WEBHOOK.into())));
        self.query_all(q).await?.into_iter().map(from_item).collect()
    }

    pub async fn get_webhook(&self, user_id: &str, webhook_id: &str) -> Result<Option<WebhookItem>, ApiError> {
        self.get(&keys::webhook(user_id, webhook_id), true).await
    }

    /// The update of the user's `webhook_events` to what `hooks` (all of the user's webhooks
    /// after the change) take, conditioned on the user as read: two concurrent webhook changes
    /// cannot leave a list that misses a type.
    fn webhook_events_op(&self, user: &UserItem, hooks: &[WebhookItem]) -> Result<TransactWriteItem, ApiError> {
        let events = serde_dynamo::to_attribute_value(events_taken(hooks)).map_err(ApiError::internal)?;
        self.update_op(
            &keys::user(&user.user_id),
            "SET webhook_events = :e, version = version + :one",
            Some("version = :v"),
            values([(":e", events), (":one", n(1)), (":v", n(user.version))]),
            None,
        )
    }

    /// Writes a new webhook (`previous: None`) or a change of one read at `previous`'s version,
    /// with the user's `webhook_events`, in one transaction. `hooks`: all of the user's webhooks
    /// after the change.
    pub async fn save_webhook(
        &self,
        user: &UserItem,
        hook: &WebhookItem,
        previous: Option<&WebhookItem>,
        hooks: &[WebhookItem],
    ) -> Result<(), ApiError> {
        let mut put =
            self.put_op(hook, Some(if previous.is_some() { "version = :v" } else { "attribute_not_exists(PK)" }))?;
        if let (Some(p), Some(op)) = (previous, put.put.as_mut()) {
            op.expression_attribute_values = Some(values([(":v", n(p.version))]));
        }
        let ops = vec![put, self.webhook_events_op(user, hooks)?];
        self.transact(ops).await.map_err(|e| match e.failed_condition() {
            Some(_) => changed_meanwhile(),
            None => e.into(),
        })
    }

    /// Deletes a webhook read at its version (and its deliveries' record stays until they
    /// expire), with the user's `webhook_events`; `false` when it was gone.
    pub async fn delete_webhook(
        &self,
        user: &UserItem,
        hook: &WebhookItem,
        hooks: &[WebhookItem],
    ) -> Result<bool, ApiError> {
        let key = keys::webhook(&hook.user_id, &hook.webhook_id);
        let ops = vec![
            self.delete_op(&key, Some("version = :v"), Some(values([(":v", n(hook.version))])))?,
            self.webhook_events_op(user, hooks)?,
        ];
        match self.transact(ops).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_condition() == Some(0) => Ok(false),
            Err(e) if e.failed_condition().is_some() => Err(changed_meanwhile()),
            Err(e) => Err(e.into()),
        }
    }

    /// A page of a webhook's deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        user_id: &str,
        webhook_id: &str,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<DeliveryItem>, ApiError> {
        let mut q =
            Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::BeginsWith(keys::deliveries_prefix(webhook_id))));
        q.descending = true;
        self.page(q, limit, start).await
    }

    /// Every push subscription of a user (at most [`PUSH_SUBSCRIPTIONS_MAX`]).
    pub async fn list_push_subscriptions(&self, user_id: &str) -> Result<Vec<PushSubscriptionItem>, ApiError> {
        let q = Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::BeginsWith(keys::PUSH.into())));
        self.query_all(q).await?.into_iter().map(from_item).collect()
    }

    /// Writes a subscription (the same browser's again replaces it: its keys may be new).
    pub async fn put_push_subscription(&self, sub: &PushSubscriptionItem) -> Result<(), ApiError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(super::to_item(sub)?))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Removes a subscription; `false` when there was none.
    pub async fn delete_push_subscription(&self, user_id: &str, subscription_id: &str) -> Result<bool, ApiError> {
        self.delete_existing(&keys::push_subscription(user_id, subscription_id)).await
    }

    /// The `Put` of an outbox item, for the transaction that makes its event.
    pub fn outbox_op(&self, item: &OutboxItem) -> Result<TransactWriteItem, ApiError> {
        self.put_op(item, Some("attribute_not_exists(PK)"))
    }

    /// One page of the outbox items of a shard whose next attempt is due at `now`, oldest first.
    pub async fn due_outbox(&self, shard: u32, now: DateTime<Utc>, limit: i32) -> Result<Vec<OutboxItem>, ApiError> {
        let upto = SortKey::Between("0".into(), keys::due_upper(now));
        let mut q = Query::new(GSI1, keys::outbox_shard_gsi1pk(shard), Some(upto));
        q.limit = Some(limit);
        let (items, _) = self.query_page(&q).await?;
        items.into_iter().map(from_item).collect()
    }

    /// Takes an outbox item for one attempt: its `attempt` moves from `seen` to `seen + 1`, and
    /// its next attempt to `lease_until` (so that no other run takes it while this one works;
    /// if this one dies, it is due again then). `None` when another run took it first, or it is
    /// gone (delivered).
    pub async fn claim_outbox(
        &self,
        user_id: &str,
        event_id: &str,
        seen: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<OutboxItem>, ApiError> {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        let key = keys::outbox(user_id, event_id);
        let sk = keys::due_gsi1sk(lease_until, event_id);
        // This claim's own mark: two runs claiming in the same second set the same lease, but
        // only one of them this token.
        let token = ulid::Ulid::new().to_string();
        let out = self
            .update_at(&key)
            .update_expression("SET attempt = :next, GSI1SK = :sk, claim = :token")
            .condition_expression("attempt = :seen")
            .expression_attribute_values(":next", n(seen + 1))
            .expression_attribute_values(":seen", n(seen))
            .expression_attribute_values(":sk", s(&sk))
            .expression_attribute_values(":token", s(&token))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => out.attributes.map(from_item).transpose(),
            Err(e) => match e.as_service_error() {
                // This call's own earlier attempt, whose answer was lost: the claim is ours.
                Some(UpdateItemError::ConditionalCheckFailedException(found))
                    if found.item.as_ref().is_some_and(|i| i.get("claim") == Some(&s(&token))) =>
                {
                    found.item.clone().map(from_item).transpose()
                }
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(None),
                _ => Err(sdk_error(e)),
            },
        }
    }

    /// Writes the deliveries an outbox item's first attempt chose, and marks it expanded (only
    /// while it is at the attempt claimed), in one transaction.
    pub async fn expand_outbox(&self, outbox: &OutboxItem, deliveries: &[DeliveryItem]) -> Result<bool, ApiError> {
        let refs: Vec<String> = deliveries.iter().map(DeliveryItem::reference).collect();
        let mut ops = vec![self.update_op(
            &keys::outbox(&outbox.user_id, &outbox.event_id),
            "SET expanded = :t, deliveries = :d",
            Some("attempt = :a"),
            values([
                (":t", AttributeValue::Bool(true)),
                (":d", serde_dynamo::to_attribute_value(&refs).map_err(ApiError::internal)?),
                (":a", n(outbox.attempt)),
            ]),
            None,
        )?];
        for d in deliveries {
            ops.push(self.put_op(d, Some("attribute_not_exists(PK)"))?);
        }
        match self.transact(ops).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_condition().is_some() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Records one attempt of a delivery and where it stands now. A delivery given up (`Dead`)
    /// joins the dead-letter list (GSI1 `DEAD_DELIVERIES`, by time); a `Cancelled` one (its
    /// target removed or switched off) does not.
    pub async fn record_attempt(
        &self,
        d: &DeliveryItem,
        attempt: Option<&Attempt>,
        status: DeliveryStatus,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let mut set = vec!["#st = :st"];
        let mut vals = values([(":st", serde_dynamo::to_attribute_value(status).map_err(ApiError::internal)?)]);
        if let Some(a) = attempt {
            set.push("attempts = list_append(attempts, :a)");
            vals.insert(":a".into(), serde_dynamo::to_attribute_value(vec![a]).map_err(ApiError::internal)?);
        }
        // Only onto the attempts as read: an SDK retry of a write whose answer was lost finds
        // one more and writes nothing (the attempt is recorded once).
        vals.insert(":n".into(), n(d.attempts.len()));
        if status == DeliveryStatus::Dead {
            set.push("GSI1PK = :dpk, GSI1SK = :dsk");
            vals.insert(":dpk".into(), s(keys::DEAD_DELIVERIES_GSI1PK));
            vals.insert(":dsk".into(), s(keys::due_gsi1sk(now, &d.sk)));
        }
        let key = keys::delivery(&d.user_id, &d.target_id, &d.event_id);
        let out = self
            .update_at(&key)
            .update_expression(format!("SET {}", set.join(", ")))
            .condition_expression("size(attempts) = :n")
            .expression_attribute_names("#st", "status")
            .set_expression_attribute_values(Some(vals))
            .send()
            .await;
        unless_condition_failed(out).map(|_| ())
    }

    /// The deliveries an outbox item lists (those still there).
    pub async fn deliveries_of(&self, outbox: &OutboxItem) -> Result<Vec<DeliveryItem>, ApiError> {
        let keys: Vec<keys::Key> = outbox
            .deliveries
            .iter()
            .filter_map(|r| r.split_once('#'))
            .map(|(hook, event)| keys::delivery(&outbox.user_id, hook, event))
            .collect();
        self.batch_get(&keys).await
    }

    /// Which of these deliveries exist already (a derived event delivered before).
    pub async fn existing_deliveries(&self, candidates: &[DeliveryItem]) -> Result<Vec<String>, ApiError> {
        let keys: Vec<keys::Key> =
            candidates.iter().map(|d| keys::delivery(&d.user_id, &d.target_id, &d.event_id)).collect();
        Ok(self.batch_get::<DeliveryItem>(&keys).await?.iter().map(DeliveryItem::reference).collect())
    }

    /// A success resets the webhook's run of failures (a write only when there is one now: the
    /// count read with the webhook may be behind concurrent failures).
    pub async fn webhook_succeeded(&self, hook: &WebhookItem) -> Result<(), ApiError> {
        let key = keys::webhook(&hook.user_id, &hook.webhook_id);
        let out = self
            .update_at(&key)
            .update_expression("SET consecutive_failures = :zero")
            .condition_expression("attribute_exists(PK) AND consecutive_failures > :zero")
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        unless_condition_failed(out).map(|_| ())
    }

    /// Counts one more failure of a webhook; the run of failures it makes now (`None`: the
    /// webhook is gone).
    pub async fn webhook_failed(&self, hook: &WebhookItem) -> Result<Option<u32>, ApiError> {
        let key = keys::webhook(&hook.user_id, &hook.webhook_id);
        let out = self
            .update_at(&key)
            .update_expression("ADD consecutive_failures :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match out {
            Ok(out) => Ok(out
                .attributes
                .and_then(|a| a.get("consecutive_failures").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()))),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Switches a webhook off after a run of `failures` and tells its user, in one transaction,
    /// once (only while it is on). `true` when this call switched it off.
    pub async fn disable_webhook(
        &self,
        hook: &WebhookItem,
        failures: u32,
        now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let off = WebhookItem {
            enabled: false,
            disabled_reason: Some(format!("{failures} failed deliveries in a row")),
            consecutive_failures: failures,
            version: hook.version + 1,
            updated_at: now,
            ..hook.clone()
        };
        let mut put = self.put_op(&off, Some("enabled = :t AND version = :v"))?;
        if let Some(p) = put.put.as_mut() {
            p.expression_attribute_values = Some(values([(":t", AttributeValue::Bool(true)), (":v", n(hook.version))]));
        }
        let ops =
            vec![put, self.put_op(&NotificationItem::webhook_disabled(&off, now), Some("attribute_not_exists(PK)"))?];
        match self.transact(ops).await {
            Ok(()) => Ok(true),
            Err(TxError::Cancelled(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves an outbox item's next attempt to `at` (only while it is at the attempt claimed).
    pub async fn reschedule_outbox(&self, outbox: &OutboxItem, at: DateTime<Utc>) -> Result<(), ApiError> {
        let key = keys::outbox(&outbox.user_id, &outbox.event_id);
        let out = self
            .update_at(&key)
            .update_expression("SET GSI1SK = :sk")
            .condition_expression("attempt = :a")
            .expression_attribute_values(":sk", s(keys::due_gsi1sk(at, &outbox.event_id)))
            .expression_attribute_values(":a", n(outbox.attempt))
            .send()
            .await;
        unless_condition_failed(out).map(|_| ())
    }

    /// Removes an outbox item whose deliveries are all settled.
    pub async fn finish_outbox(&self, outbox: &OutboxItem) -> Result<(), ApiError> {
        self.delete_existing(&keys::outbox(&outbox.user_id, &outbox.event_id)).await.map(|_| ())
    }

    /// The dead-letter list: deliveries given up, oldest first (for operators; `habit-admin`).
    pub async fn dead_deliveries(&self, limit: i32, start: Option<Item>) -> Result<Page<DeliveryItem>, ApiError> {
        self.page(Query::new(GSI1, keys::DEAD_DELIVERIES_GSI1PK, None), limit, start).await
    }
}
