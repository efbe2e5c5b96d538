//! Reminders, the due index and notifications.

use super::{
    from_item, item_key, limits::Counted, n, s, sdk_error, values, Db, Item, Page, Query, SortKey, TxError, GSI1, TABLE,
};
use crate::{
    error::ApiError,
    keys,
    models::{EventType, NotificationItem, OutboxItem, ReminderItem},
};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};
use chrono::{DateTime, NaiveDate, Utc};

pub use crate::keys::DUE_SHARDS;

/// What became of one due occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireOutcome {
    Fired,
    /// Another dispatcher fired it first, or the reminder changed meanwhile: nothing done.
    AlreadyHandled,
    /// The habit is inactive, ended or not started, or the user is deactivated: not fired, and
    /// the reminder moved on to its next occurrence.
    Suppressed,
}

impl Db {
    /// Replaces a reminder read at version `expected_version`.
    pub async fn put_reminder(&self, reminder: &ReminderItem, expected_version: u64) -> Result<(), ApiError> {
        self.put_if(&super::to_item(reminder)?, "version = :v", Some(values([(":v", n(expected_version))]))).await
    }

    /// Writes a new reminder only while its habit exists (one transaction): a reminder racing
    /// the deletion of its habit is either swept with the habit or not written at all.
    /// With the record of its request when it came with an `Idempotency-Key`.
    pub async fn create_reminder(
        &self,
        reminder: &ReminderItem,
        request: Option<&crate::idempotency::RequestItem>,
    ) -> Result<(), ApiError> {
        let mut ops = vec![
            self.check_op(&keys::habit(&reminder.user_id, &reminder.habit_id), "attribute_exists(PK)", &[], None)?,
            self.put_op(reminder, Some("attribute_not_exists(PK)"))?,
            self.count_one_more(&reminder.user_id, Counted::Reminders)?,
        ];
        ops.extend(request.map(|r| self.request_op(r)).transpose()?);
        self.transact(ops).await.map_err(|e| match e.failed_condition() {
            Some(0) => ApiError::NotFound("habit"),
            Some(2) => Counted::Reminders.exceeded(),
            _ => e.into(),
        })
    }

    pub async fn get_reminder(&self, user_id: &str, reminder_id: &str) -> Result<Option<ReminderItem>, ApiError> {
        self.get(&keys::reminder(user_id, reminder_id), true).await
    }

    /// Deletes a reminder (counted out in the same transaction); `false` when there was none.
    pub async fn delete_reminder(&self, user_id: &str, reminder_id: &str) -> Result<bool, ApiError> {
        let ops = vec![
            self.delete_op(&keys::reminder(user_id, reminder_id), Some("attribute_exists(PK)"), None)?,
            self.count_fewer(user_id, Counted::Reminders, 1)?,
        ];
        match self.transact(ops).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_condition() == Some(0) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A page of a user's reminders, optionally of one habit.
    pub async fn list_reminders(
        &self,
        user_id: &str,
        habit_id: Option<&str>,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<ReminderItem>, ApiError> {
        let mut q = Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::BeginsWith(keys::REMINDER.into())));
        if let Some(h) = habit_id {
            q.filter = Some(("habit_id = :h".into(), values([(":h", s(h))])));
        }
        self.page(q, limit, start).await
    }

    /// Deletes every reminder of a habit (when the habit goes), each counted out in its own transaction (so two
    /// concurrent sweeps cannot count one reminder out twice); returns how many this call found.
    pub async fn delete_habit_reminders(&self, user_id: &str, habit_id: &str) -> Result<usize, ApiError> {
        let mut q = Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::BeginsWith(keys::REMINDER.into())));
        q.filter = Some(("habit_id = :h".into(), values([(":h", s(habit_id))])));
        let found: Vec<ReminderItem> = self.query_all(q).await?.into_iter().map(from_item).collect::<Result<_, _>>()?;
        for r in &found {
            self.delete_reminder(user_id, &r.reminder_id).await?;
        }
        Ok(found.len())
    }

    /// One page of due reminders of one shard: armed, with `next_fire_at <= now`, oldest first.
    pub async fn due_page(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<ReminderItem>, ApiError> {
        let q = Query::new(GSI1, keys::due_gsi1pk(shard), Some(SortKey::Between("0".into(), keys::due_upper(now))));
        self.page(q, limit, start).await
    }

    /// Moves a reminder from `occurrence` on to `next` (or out of the index) without firing,
    /// provided nobody else moved it first.
    pub async fn advance_reminder(
        &self,
        r: &ReminderItem,
        occurrence: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<bool, ApiError> {
        let op = self.advance_op(r, occurrence, next, false)?;
        let upd = op.update.expect("an update");
        let result = self
            .client
            .update_item()
            .table_name(upd.table_name)
            .set_key(Some(upd.key))
            .update_expression(upd.update_expression)
            .set_condition_expression(upd.condition_expression)
            .set_expression_attribute_values(upd.expression_attribute_values)
            .send()
            .await;
        match result.map_err(sdk_error) {
            Ok(_) => Ok(true),
            Err(ApiError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn advance_op(
        &self,
        r: &ReminderItem,
        occurrence: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
        fired: bool,
    ) -> Result<TransactWriteItem, ApiError> {
        let mut vals =
            values([(":occ", s(occurrence.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))), (":one", n(1))]);
        let mut set = vec!["version = version + :one"];
        if fired {
            set.push("last_fired_at = :occ");
        }
        let update = match next {
            Some(at) => {
                vals.insert(":next".into(), s(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
                vals.insert(":sk".into(), s(keys::due_gsi1sk(at, &r.reminder_id)));
                set.extend(["next_fire_at = :next", "GSI1SK = :sk"]);
                format!("SET {}", set.join(", "))
            }
            None => format!("SET {} REMOVE next_fire_at, GSI1PK, GSI1SK", set.join(", ")),
        };
        self.update_op(&keys::reminder(&r.user_id, &r.reminder_id), &update, Some("next_fire_at = :occ"), vals, None)
    }

    /// Fires one occurrence, exactly once: in one transaction the reminder moves from `occurrence`
    /// to `next` (condition: still at `occurrence` and active), the notification is written
    /// (condition: not there yet) with its `reminder.fired` event in the outbox (named by the
    /// notification's id), and the habit (active, started, not ended on `local_date`) and the
    /// user (active) are checked.
    pub async fn fire_reminder(
        &self,
        r: &ReminderItem,
        occurrence: DateTime<Utc>,
        local_date: NaiveDate,
        next: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<FireOutcome, ApiError> {
        let mut advance = self.advance_op(r, occurrence, next, true)?;
        if let Some(u) = advance.update.as_mut() {
            u.condition_expression = Some("next_fire_at = :occ AND is_active = :t".into());
            u.expression_attribute_values
                .get_or_insert_with(Default::default)
                .insert(":t".into(), AttributeValue::Bool(true));
        }
        let notification = NotificationItem::new(r, occurrence, now);
        let date = local_date.format("%Y-%m-%d").to_string();
        let habit = ConditionCheck::builder()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user_pk(&r.user_id)))
            .key(keys::SK, s(keys::habit_sk(&r.habit_id)))
            .condition_expression(
                "is_active = :t AND start_date <= :d AND (attribute_not_exists(end_date) OR end_date >= :d)",
            )
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":d", s(date))
            .build()
            .map_err(ApiError::internal)?;
        let user = ConditionCheck::builder()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user_pk(&r.user_id)))
            .key(keys::SK, s(keys::USER_SK))
            .condition_expression("is_active = :t")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .build()
            .map_err(ApiError::internal)?;
        let event = OutboxItem::new(
            &r.user_id,
            notification.notification_id.clone(),
            EventType::ReminderFired,
            &notification.event_data(),
            now,
        );
        let ops = vec![
            advance,
            self.put_op(&notification, Some("attribute_not_exists(PK)"))?,
            TransactWriteItem::builder().condition_check(habit).build(),
            TransactWriteItem::builder().condition_check(user).build(),
            self.outbox_op(&event)?,
        ];
        match self.transact(ops).await {
            Ok(()) => Ok(FireOutcome::Fired),
            Err(TxError::Cancelled(reasons)) => {
                let failed = |i: usize| reasons.get(i).is_some_and(|r| r == "ConditionalCheckFailed");
                if failed(0) || failed(1) {
                    Ok(FireOutcome::AlreadyHandled)
                } else if failed(2) || failed(3) {
                    self.advance_reminder(r, occurrence, next).await?;
                    Ok(FireOutcome::Suppressed)
                } else {
                    Err(TxError::Cancelled(reasons).into())
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A page of a user's notifications, newest first, optionally unread only.
    pub async fn list_notifications(
        &self,
        user_id: &str,
        unread: bool,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<NotificationItem>, ApiError> {
        let mut q = Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::BeginsWith(keys::NOTIFICATION.into())));
        q.descending = true;
        if unread {
            q.filter = Some(("#read = :f".into(), values([(":f", AttributeValue::Bool(false))])));
            q.names = &[("#read", "read")];
        }
        self.page(q, limit, start).await
    }

    /// Marks one notification read or unread; `None` when there is no such notification.
    pub async fn mark_notification(
        &self,
        user_id: &str,
        notification_id: &str,
        read: bool,
    ) -> Result<Option<NotificationItem>, ApiError> {
        let key = keys::notification(user_id, notification_id);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(key.pk))
            .key(keys::SK, s(key.sk))
            .update_expression("SET #read = :r")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#read", "read")
            .expression_attribute_values(":r", AttributeValue::Bool(read))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match out.map_err(sdk_error) {
            Ok(out) => out.attributes.map(from_item).transpose(),
            Err(ApiError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Marks every unread notification of a user read; returns how many changed.
    pub async fn read_all_notifications(&self, user_id: &str) -> Result<usize, ApiError> {
        let mut q = Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::BeginsWith(keys::NOTIFICATION.into())));
        q.filter = Some(("#read = :f".into(), values([(":f", AttributeValue::Bool(false))])));
        q.names = &[("#read", "read")];
        let unread: Vec<_> = self.query_all(q).await?.iter().filter_map(item_key).collect();
        // Up to 100 updates per transaction; each only if the notification still exists.
        for chunk in unread.chunks(100) {
            let ops = chunk
                .iter()
                .map(|k| {
                    self.update_op(
                        k,
                        "SET #read = :t",
                        Some("attribute_exists(PK)"),
                        values([(":t", AttributeValue::Bool(true))]),
                        Some([("#read".to_owned(), "read".to_owned())].into()),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.transact(ops).await.map_err(ApiError::from)?;
        }
        Ok(unread.len())
    }
}
