//! Challenges, memberships and the leaderboard.

use super::{from_item, n, s, values, Db, Item, Page, Query, SortKey, TxError, GSI1, GSI3, TABLE};
use crate::{
    error::ApiError,
    keys,
    models::{ChallengeItem, EntryItem, HabitItem, MembershipItem},
    schedule::Status,
};
use chrono::NaiveDate;

/// Which challenges a listing shows, relative to today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Upcoming,
    Active,
    Ended,
}

/// The habit a membership is backed by: one of the user's, or a new one made from the challenge.
pub enum Backing<'a> {
    Existing(&'a HabitItem),
    New(&'a HabitItem),
}

impl Db {
    /// Writes a new challenge; with the record of its request (one transaction) when it came with
    /// an `Idempotency-Key`.
    pub async fn create_challenge(
        &self,
        c: &ChallengeItem,
        request: Option<&crate::idempotency::RequestItem>,
    ) -> Result<(), ApiError> {
        match request {
            None => self.put_new(c).await,
            Some(r) => {
                Ok(self.transact(vec![self.put_op(c, Some("attribute_not_exists(PK)"))?, self.request_op(r)?]).await?)
            }
        }
    }

    /// A challenge whatever its status.
    pub async fn get_challenge_any(&self, id: &str) -> Result<Option<ChallengeItem>, ApiError> {
        self.get(&keys::challenge(id), true).await
    }

    /// Challenges by id, whatever their status (those gone are left out).
    pub async fn challenges_by_id<'a>(
        &self,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<Vec<ChallengeItem>, ApiError> {
        self.batch_get(&ids.map(keys::challenge).collect::<Vec<_>>()).await
    }

    /// Replaces a challenge read as `current` (fails if it changed or someone joined or left).
    pub async fn update_challenge(&self, c: &ChallengeItem, current: &ChallengeItem) -> Result<(), ApiError> {
        let vals = values([(":v", n(current.version)), (":pc", n(current.participant_count))]);
        self.put_if(&super::to_item(c)?, "version = :v AND participant_count = :pc", Some(vals)).await
    }

    /// A page of challenges by start date (GSI1 `CHALLENGES`), optionally upcoming, active or ended.
    pub async fn list_challenges(
        &self,
        when: Option<When>,
        today: NaiveDate,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<ChallengeItem>, ApiError> {
        let started = keys::challenges_started_by(today);
        let sk = match when {
            None => SortKey::BeginsWith(keys::CHALLENGE_START.into()),
            Some(When::Upcoming) => SortKey::Between(started, keys::CHALLENGES_END.into()),
            Some(When::Active | When::Ended) => SortKey::Between(keys::CHALLENGE_START.into(), started),
        };
        let mut q = Query::new(GSI1, keys::CHALLENGES_GSI1PK, Some(sk));
        let day = s(today.format("%Y-%m-%d").to_string());
        let active = s(ChallengeItem::ACTIVE);
        q.filter = Some(match when {
            Some(When::Active) => {
                ("#st = :active AND end_date >= :today".into(), values([(":active", active), (":today", day)]))
            }
            Some(When::Ended) => {
                ("#st = :active AND end_date < :today".into(), values([(":active", active), (":today", day)]))
            }
            _ => ("#st = :active".into(), values([(":active", active)])),
        });
        q.names = &[("#st", "status")];
        self.page(q, limit, start).await
    }

    /// Done entries of a habit inside a window (its progress there).
    pub async fn count_done(&self, habit: &HabitItem, from: NaiveDate, to: NaiveDate) -> Result<u64, ApiError> {
        let (lo, hi) = keys::entries_range(&habit.habit_id, from, to);
        let items =
            self.query_all(Query::new(TABLE, keys::user_pk(&habit.user_id), Some(SortKey::Between(lo, hi)))).await?;
        let mut done = 0;
        for item in items {
            if from_item::<EntryItem>(item)?.status == Status::Done {
                done += 1;
            }
        }
        Ok(done)
    }

    /// Joins: the membership (once per user and challenge), the participant count, and the habit
    /// (its `membership_rev` bumped, conditioned on the entries the progress was counted from;
    /// or the new habit made for the challenge), in one transaction.
    pub async fn join_challenge(
        &self,
        m: &MembershipItem,
        backing: Backing<'_>,
        today: NaiveDate,
    ) -> Result<(), ApiError> {
        let habit_op = match backing {
            Backing::Existing(h) => self.update_op(
                &keys::habit(&h.user_id, &h.habit_id),
                "SET membership_rev = if_not_exists(membership_rev, :zero) + :one",
                Some("attribute_exists(PK) AND entries_rev = :er AND membership_rev = :mr"),
                values([(":zero", n(0)), (":one", n(1)), (":er", n(h.entries_rev)), (":mr", n(h.membership_rev))]),
                None,
            )?,
            Backing::New(h) => self.put_op(h, Some("attribute_not_exists(PK)"))?,
        };
        // A habit made for the challenge counts against the user's limit like any other.
        let counted = match backing {
            Backing::New(h) => Some(self.count_one_more(&h.user_id, super::limits::Counted::Habits)?),
            Backing::Existing(_) => None,
        };
        let mut ops = vec![
            self.put_op(m, Some("attribute_not_exists(PK)"))?,
            self.update_op(
                &keys::challenge(&m.challenge_id),
                "ADD participant_count :one",
                Some("#st = :active AND end_date >= :today"),
                values([
                    (":one", n(1)),
                    (":active", s(ChallengeItem::ACTIVE)),
                    (":today", s(today.format("%Y-%m-%d").to_string())),
                ]),
                Some([("#st".to_owned(), "status".to_owned())].into()),
            )?,
            habit_op,
        ];
        ops.extend(counted);
        self.transact(ops).await.map_err(|e| match e.failed_condition() {
            Some(0) => ApiError::Conflict { detail: "you have already joined this challenge".into(), field: None },
            Some(1) => {
                ApiError::Conflict { detail: "this challenge has ended or is no longer open".into(), field: None }
            }
            Some(3) => super::limits::Counted::Habits.exceeded(),
            Some(_) => ApiError::Conflict { detail: "the habit changed meanwhile; retry".into(), field: None },
            None => e.into(),
        })
    }

    pub async fn get_membership(&self, user_id: &str, challenge_id: &str) -> Result<Option<MembershipItem>, ApiError> {
        self.get(&keys::membership(user_id, challenge_id), true).await
    }

    /// Removes a membership, decrementing the challenge's count and bumping the habit's
    /// `membership_rev` (so a racing entry write retries). A challenge or habit already gone is
    /// left out of the transaction.
    pub async fn remove_membership(&self, m: &MembershipItem) -> Result<bool, ApiError> {
        let (mut with_challenge, mut with_habit) = (true, true);
        for _ in 0..3 {
            let mut ops = vec![self.delete_op(
                &keys::membership(&m.user_id, &m.challenge_id),
                Some("attribute_exists(PK)"),
                None,
            )?];
            if with_challenge {
                ops.push(self.update_op(
                    &keys::challenge(&m.challenge_id),
                    "ADD participant_count :minus",
                    Some("attribute_exists(PK)"),
                    values([(":minus", n(-1))]),
                    None,
                )?);
            }
            if with_habit {
                ops.push(self.update_op(
                    &keys::habit(&m.user_id, &m.habit_id),
                    "SET membership_rev = if_not_exists(membership_rev, :zero) + :one",
                    Some("attribute_exists(PK)"),
                    values([(":zero", n(0)), (":one", n(1))]),
                    None,
                )?);
            }
            match self.transact(ops).await {
                Ok(()) => return Ok(true),
                Err(TxError::Cancelled(reasons)) => {
                    let failed = |i: usize| reasons.get(i).is_some_and(|r| r == "ConditionalCheckFailed");
                    if failed(0) {
                        return Ok(false);
                    }
                    // The indexes of the operations as they were built, before either flag changes.
                    let habit_index = if with_challenge { 2 } else { 1 };
                    if with_challenge && failed(1) {
                        with_challenge = false;
                    }
                    if with_habit && failed(habit_index) {
                        with_habit = false;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::Conflict { detail: "the membership changed meanwhile; retry".into(), field: None })
    }

    /// A page of a challenge's members, best first (the shards of GSI3 merged, descending score).
    pub async fn leaderboard(
        &self,
        challenge_id: &str,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<MembershipItem>, ApiError> {
        let mut q = Query::new(GSI3, "", None);
        q.descending = true;
        self.merged_page(q, keys::ranking_gsi3pks(challenge_id), limit, start).await
    }

    /// A page of a user's memberships.
    pub async fn user_memberships(
        &self,
        user_id: &str,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<MembershipItem>, ApiError> {
        let q = Query::new(TABLE, keys::user_pk(user_id), Some(SortKey::BeginsWith(keys::MEMBER.into())));
        self.page(q, limit, start).await
    }

    /// Deletes a challenge and every membership of it: marked `deleting` first (no joins from
    /// then on), memberships removed (repeating while GSI3 still shows some), then the challenge.
    pub async fn delete_challenge(&self, c: &ChallengeItem) -> Result<(), ApiError> {
        let key = keys::challenge(&c.challenge_id);
        if c.status != ChallengeItem::DELETING {
            self.mark_deleting(&key, c.version).await?;
        }
        for pass in 0..3 {
            if pass > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            let shards = keys::ranking_gsi3pks(&c.challenge_id).map(|pk| self.query_all(Query::new(GSI3, pk, None)));
            let members: Vec<MembershipItem> = futures::future::try_join_all(shards)
                .await?
                .into_iter()
                .flatten()
                .map(from_item)
                .collect::<Result<_, _>>()?;
            if members.is_empty() && pass > 0 {
                break;
            }
            for m in &members {
                self.remove_membership(m).await?;
            }
        }
        self.delete_existing(&key).await?;
        Ok(())
    }
}
