//! Habits, their tracking entries and their category links (all in the owner's partition).

use super::{from_item, item_key, limits::Counted, n, s, values, Db, Item, Page, Query, SortKey, GSI1, GSI2, TABLE};
use crate::idempotency::RequestItem;
use crate::{
    error::ApiError,
    keys,
    models::{
        CategoryItem, EntryFields, EntryItem, EventType, HabitCategoryItem, HabitItem, MembershipItem, OutboxItem,
    },
};
use aws_sdk_dynamodb::types::TransactWriteItem;

/// Any failed condition of an entry write: something it relied on changed meanwhile.
fn entry_conflict(e: super::TxError) -> ApiError {
    match e.failed_condition() {
        Some(_) => ApiError::Conflict {
            detail: "the habit, the entry or a challenge membership changed meanwhile; retry".into(),
            field: None,
        },
        None => e.into(),
    }
}
use chrono::NaiveDate;

/// A habit with the items that sort beside it.
pub struct HabitWith {
    pub habit: HabitItem,
    pub category_ids: Vec<String>,
    pub entries: Vec<EntryItem>,
}

impl HabitWith {
    /// The habit's statistics as of `today` (its entries read with it).
    pub fn stats(&self, today: NaiveDate) -> crate::schedule::Stats {
        let marks = self
            .entries
            .iter()
            .map(|e| (e.date, crate::schedule::Mark { status: e.status, units: e.unit_completed.unwrap_or(0.0) }))
            .collect();
        crate::schedule::stats(&self.habit.schedule(), &marks, today)
    }
}

fn entity(item: &Item) -> Option<&str> {
    item.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// Splits the items of a habit's key range into the habit, its links and its entries.
fn assemble(items: Vec<Item>) -> Result<Option<HabitWith>, ApiError> {
    let mut habit = None;
    let mut category_ids = Vec::new();
    let mut entries = Vec::new();
    for item in items {
        match entity(&item) {
            Some(HabitItem::ENTITY) => habit = Some(from_item::<HabitItem>(item)?),
            Some(HabitCategoryItem::ENTITY) => category_ids.push(from_item::<HabitCategoryItem>(item)?.category_id),
            Some(EntryItem::ENTITY) => entries.push(from_item::<EntryItem>(item)?),
            _ => {}
        }
    }
    Ok(habit.map(|habit| HabitWith { habit, category_ids, entries }))
}

impl Db {
    /// Writes a new habit, counted against the user's limit, with the record of its request when
    /// it came with an `Idempotency-Key` (one transaction).
    pub async fn create_habit(&self, habit: &HabitItem, request: Option<&RequestItem>) -> Result<(), ApiError> {
        let mut ops = vec![
            self.put_op(habit, Some("attribute_not_exists(PK)"))?,
            self.count_one_more(&habit.user_id, Counted::Habits)?,
        ];
        ops.extend(request.map(|r| self.request_op(r)).transpose()?);
        self.transact(ops).await.map_err(|e| match e.failed_condition() {
            Some(1) => Counted::Habits.exceeded(),
            _ => e.into(),
        })
    }

    pub async fn get_habit(&self, user_id: &str, habit_id: &str) -> Result<Option<HabitItem>, ApiError> {
        self.get(&keys::habit(user_id, habit_id), true).await
    }

    /// The habit and its category ids: one Query.
    pub async fn get_habit_with_links(&self, user_id: &str, habit_id: &str) -> Result<Option<HabitWith>, ApiError> {
        let (lo, hi) = keys::habit_with_links_range(habit_id);
        assemble(self.query_all(Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::Between(lo, hi)))).await?)
    }

    /// The habit, its links and its whole history: one Query (paged by DynamoDB beyond 1 MB).
    pub async fn get_habit_with_history(&self, user_id: &str, habit_id: &str) -> Result<Option<HabitWith>, ApiError> {
        let (lo, hi) = keys::habit_range(habit_id);
        assemble(self.query_all(Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::Between(lo, hi)))).await?)
    }

    /// Finds any user's habit by id (admins): its shard of GSI1 `HABITS#<shard>`.
    pub async fn find_habit(&self, habit_id: &str) -> Result<Option<HabitItem>, ApiError> {
        let q = Query::new(GSI1, keys::habits_gsi1pk(habit_id), Some(SortKey::Equals(keys::habit_sk(habit_id))));
        let (items, _) = self.query_page(&q).await?;
        items.into_iter().next().map(from_item).transpose()
    }

    /// Replaces a habit as it was read (`current`): the write fails with 409 if the habit, its
    /// entries or its memberships changed meanwhile (their counters are part of the item).
    pub async fn update_habit(&self, habit: &HabitItem, current: &HabitItem) -> Result<(), ApiError> {
        let vals =
            values([(":v", n(current.version)), (":er", n(current.entries_rev)), (":mr", n(current.membership_rev))]);
        self.put_if(&super::to_item(habit)?, "version = :v AND entries_rev = :er AND membership_rev = :mr", Some(vals))
            .await
            .map_err(|e| match e {
                ApiError::Conflict { .. } => {
                    ApiError::Conflict { detail: "the habit was changed concurrently; retry".into(), field: None }
                }
                other => other,
            })
    }

    /// Deletes a habit and everything of it: the habit item first (so an entry or link write
    /// racing the delete fails its habit condition instead of landing after the sweep), then its
    /// entries and links, reminders and memberships. Every call sweeps all of them, so a retry
    /// after a partial failure finishes the clean-up; `false` only when nothing of the habit was
    /// left.
    pub async fn delete_habit(&self, user_id: &str, habit_id: &str) -> Result<bool, ApiError> {
        let (lo, hi) = keys::habit_range(habit_id);
        let habit_key = keys::habit(user_id, habit_id);
        let items = self.query_all(Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::Between(lo, hi)))).await?;
        if !items.is_empty() {
            let ops = vec![
                self.delete_op(&habit_key, Some("attribute_exists(PK)"), None)?,
                self.count_fewer(user_id, Counted::Habits, 1)?,
            ];
            // Gone already (a concurrent delete): it was counted out there.
            match self.transact(ops).await {
                Err(e) if e.failed_condition() == Some(0) => {}
                other => other?,
            }
            let owned: Vec<_> = items.iter().filter_map(item_key).filter(|k| *k != habit_key).collect();
            self.batch_delete(owned).await?;
        }
        let reminders = self.delete_habit_reminders(user_id, habit_id).await?;
        let memberships = self.memberships_of_habit(user_id, habit_id).await?;
        for m in &memberships {
            self.remove_membership(m).await?;
        }
        Ok(!items.is_empty() || reminders > 0 || !memberships.is_empty())
    }

    /// A page of a user's habits (GSI2), optionally only active or inactive ones.
    pub async fn list_user_habits(
        &self,
        user_id: &str,
        active: Option<bool>,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<HabitItem>, ApiError> {
        let mut q = Query::new(GSI2, keys::user_pk(user_id), Some(SortKey::BeginsWith(keys::HABIT.into())));
        if let Some(a) = active {
            q.filter = Some((
                "is_active = :active".into(),
                values([(":active", aws_sdk_dynamodb::types::AttributeValue::Bool(a))]),
            ));
        }
        self.page(q, limit, start).await
    }

    /// A page of every user's habits (the shards of GSI1 `HABITS#<shard>` merged, oldest first).
    pub async fn list_all_habits(&self, limit: i32, start: Option<Item>) -> Result<Page<HabitItem>, ApiError> {
        self.merged_page(Query::new(GSI1, "", None), keys::habits_gsi1pks(), limit, start).await
    }

    /// A page of a category's habits (GSI1 links, then one `BatchGetItem`), optionally of one user.
    pub async fn list_category_habits(
        &self,
        category_id: &str,
        user_id: Option<&str>,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<HabitItem>, ApiError> {
        let prefix = keys::links_gsi1sk_prefix(user_id);
        let q = Query::new(GSI1, keys::category_pk(category_id), Some(SortKey::BeginsWith(prefix)));
        let (links, next) = self.page::<HabitCategoryItem>(q, limit, start).await?;
        let keys: Vec<_> = links.iter().map(|l| keys::habit(&l.user_id, &l.habit_id)).collect();
        Ok((self.batch_get(&keys).await?, next))
    }

    /// Today's entries and every habit of a user: one Query on GSI2 (`GSI2SK >= DAY#<today>`).
    pub async fn habits_and_entries_from(
        &self,
        user_id: &str,
        today: NaiveDate,
    ) -> Result<(Vec<HabitItem>, Vec<EntryItem>), ApiError> {
        let q = Query::new(GSI2, keys::user_pk(user_id), Some(SortKey::AtLeast(keys::day_gsi2sk_from(today))));
        let (mut habits, mut entries) = (Vec::new(), Vec::new());
        for item in self.query_all(q).await? {
            match entity(&item) {
                Some(HabitItem::ENTITY) => habits.push(from_item(item)?),
                Some(EntryItem::ENTITY) => entries.push(from_item(item)?),
                _ => {}
            }
        }
        Ok((habits, entries))
    }

    /// The habit's challenge memberships (in the owner's partition).
    pub async fn memberships_of_habit(&self, user_id: &str, habit_id: &str) -> Result<Vec<MembershipItem>, ApiError> {
        let mut q = Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::BeginsWith(keys::MEMBER.into())));
        q.filter = Some(("habit_id = :h".into(), values([(":h", s(habit_id))])));
        self.query_all(q).await?.into_iter().map(from_item).collect()
    }

    /// Progress updates of the memberships that count `date`, for a change of `delta` done days.
    fn progress_ops(
        &self,
        memberships: &[MembershipItem],
        date: NaiveDate,
        delta: i64,
    ) -> Result<Vec<TransactWriteItem>, ApiError> {
        if delta == 0 {
            return Ok(Vec::new());
        }
        memberships
            .iter()
            .filter(|m| m.counts(date))
            .map(|m| {
                self.update_op(
                    &keys::membership(&m.user_id, &m.challenge_id),
                    "ADD progress :d, GSI3SK :ds",
                    Some("attribute_exists(PK)"),
                    values([(":d", n(delta)), (":ds", n(i128::from(delta) * i128::from(keys::SCORE_PROGRESS_UNIT)))]),
                    None,
                )
            })
            .collect()
    }

    /// The day's entry and the habit's memberships, read together (after the habit, so that the
    /// write's conditions catch any change in between).
    async fn entry_and_memberships(
        &self,
        habit: &HabitItem,
        date: NaiveDate,
    ) -> Result<(Option<EntryItem>, Vec<MembershipItem>), ApiError> {
        let (old, memberships) = tokio::join!(
            self.get_entry(&habit.user_id, &habit.habit_id, date),
            self.memberships_of_habit(&habit.user_id, &habit.habit_id)
        );
        Ok((old?, memberships?))
    }

    /// Creates or replaces the habit's entry for `date`, and moves the progress of every challenge
    /// membership the habit backs, in one transaction. Conditions: the habit is as read (dates,
    /// target, and the membership set: `version`, `membership_rev`), the entry is as read, and
    /// each membership still exists. Every entry write bumps the habit's `entries_rev`.
    ///
    /// With `event`, the entry's `entry.recorded` event goes to the outbox in the same transaction
    /// (when a webhook of the user takes it or an event derived from it).
    pub async fn record_entry(
        &self,
        habit: &HabitItem,
        date: NaiveDate,
        fields: EntryFields,
        event: bool,
    ) -> Result<EntryItem, ApiError> {
        let (old, memberships) = self.entry_and_memberships(habit, date).await?;
        let now = chrono::Utc::now();
        let entry = EntryItem::new(habit, date, fields, old.as_ref(), now);
        let done = |e: Option<&EntryItem>| i64::from(e.is_some_and(|e| e.status == crate::schedule::Status::Done));
        let delta = done(Some(&entry)) - done(old.as_ref());
        let mut ops = vec![self.habit_rev_op(habit, true)?, self.entry_put_op(&entry, old.as_ref())?];
        ops.extend(self.progress_ops(&memberships, date, delta)?);
        if event {
            let data = serde_json::json!({
                "habit_id": entry.habit_id,
                "date": entry.date,
                "status": entry.status,
                "unit_completed": entry.unit_completed,
                "note": entry.note,
            });
            let id = ulid::Ulid::new().to_string();
            ops.push(self.outbox_op(&OutboxItem::new(&habit.user_id, id, EventType::EntryRecorded, &data, now))?);
        }
        self.transact(ops).await.map_err(entry_conflict)?;
        Ok(entry)
    }

    /// Deletes the habit's entry for `date` and takes it out of the memberships' progress;
    /// `false` when there is none.
    pub async fn remove_entry(&self, habit: &HabitItem, date: NaiveDate) -> Result<bool, ApiError> {
        let (old, memberships) = self.entry_and_memberships(habit, date).await?;
        let Some(old) = old else { return Ok(false) };
        let delta = -i64::from(old.status == crate::schedule::Status::Done);
        let key = keys::entry(&old.user_id, &old.habit_id, old.date);
        let mut ops = vec![
            self.habit_rev_op(habit, false)?,
            self.delete_op(&key, Some("version = :ov"), Some(values([(":ov", n(old.version))])))?,
        ];
        ops.extend(self.progress_ops(&memberships, date, delta)?);
        self.transact(ops).await.map_err(entry_conflict)?;
        Ok(true)
    }

    /// Bumps `entries_rev`, conditioned on the membership set (and, for writes, the habit itself).
    fn habit_rev_op(&self, habit: &HabitItem, check_version: bool) -> Result<TransactWriteItem, ApiError> {
        let mut vals = values([(":one", n(1)), (":zero", n(0)), (":mr", n(habit.membership_rev))]);
        let cond = if check_version {
            vals.insert(":v".into(), n(habit.version));
            "version = :v AND membership_rev = :mr"
        } else {
            "membership_rev = :mr"
        };
        self.update_op(
            &keys::habit(&habit.user_id, &habit.habit_id),
            "SET entries_rev = if_not_exists(entries_rev, :zero) + :one",
            Some(cond),
            vals,
            None,
        )
    }

    fn entry_put_op(&self, entry: &EntryItem, old: Option<&EntryItem>) -> Result<TransactWriteItem, ApiError> {
        let mut op =
            self.put_op(entry, Some(if old.is_some() { "version = :ov" } else { "attribute_not_exists(PK)" }))?;
        if let (Some(old), Some(put)) = (old, op.put.as_mut()) {
            put.expression_attribute_values = Some(values([(":ov", n(old.version))]));
        }
        Ok(op)
    }

    pub async fn get_entry(
        &self,
        user_id: &str,
        habit_id: &str,
        date: NaiveDate,
    ) -> Result<Option<EntryItem>, ApiError> {
        self.get(&keys::entry(user_id, habit_id, date), true).await
    }

    /// A page of a habit's entries between two dates (inclusive), oldest first.
    pub async fn list_entries(
        &self,
        user_id: &str,
        habit_id: &str,
        from: NaiveDate,
        to: NaiveDate,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<EntryItem>, ApiError> {
        let (lo, hi) = keys::entries_range(habit_id, from, to);
        let q = Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::Between(lo, hi)));
        self.page(q, limit, start).await
    }

    /// Files a habit under a category: the link is written only while the habit exists and the
    /// category is active (one transaction). Idempotent.
    pub async fn link_category(&self, link: &HabitCategoryItem) -> Result<(), ApiError> {
        let ops = vec![
            self.check_op(&keys::habit(&link.user_id, &link.habit_id), "attribute_exists(PK)", &[], None)?,
            self.check_op(
                &keys::category(&link.category_id),
                "#st = :active",
                &[("#st", "status")],
                Some(values([(":active", s(CategoryItem::ACTIVE))])),
            )?,
            self.put_op(link, None)?,
        ];
        self.transact(ops).await.map_err(|e| match e.failed_condition() {
            Some(0) => ApiError::NotFound("habit"),
            Some(1) => ApiError::NotFound("category"),
            _ => e.into(),
        })
    }

    /// Removes a habit from a category; `false` when it was not filed there. A transaction (of one
    /// delete) so that a retry after a lost answer is recognised by its token: a plain
    /// `DeleteItem` retried would find nothing and answer 404 for the link it removed.
    pub async fn unlink_category(&self, user_id: &str, habit_id: &str, category_id: &str) -> Result<bool, ApiError> {
        let key = keys::habit_category(user_id, habit_id, category_id);
        match self.transact(vec![self.delete_op(&key, Some("attribute_exists(PK)"), None)?]).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_condition() == Some(0) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
