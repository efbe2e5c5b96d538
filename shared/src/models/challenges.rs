//! Challenges and their memberships.

use super::UserItem;
use crate::keys;
use chrono::{DateTime, NaiveDate, Utc};

item! {
    /// `CHALLENGE#<id> / CHALLENGE`: an admin-published challenge.
    pub struct ChallengeItem [pk: "PK", sk: "SK", gsi1pk: "GSI1PK", gsi1sk: "GSI1SK"] {
        pub challenge_id: String,
        pub challenge_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        pub start_date: NaiveDate,
        pub end_date: NaiveDate,
        /// Completed days to reach, if the challenge has a goal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub goal_days: Option<u32>,
        /// Kept by the join and leave transactions.
        pub participant_count: u64,
        /// `active`, or `deleting` while its memberships are being removed (no joins then).
        pub status: String,
        pub created_date: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub version: u64,
    }
}

impl ChallengeItem {
    pub const ENTITY: &'static str = "Challenge";
    pub const ACTIVE: &'static str = "active";
    pub const DELETING: &'static str = "deleting";

    /// A new challenge with a new id, nobody in it yet.
    pub fn new(
        challenge_name: String,
        description: Option<String>,
        (start_date, end_date): (NaiveDate, NaiveDate),
        goal_days: Option<u32>,
        now: DateTime<Utc>,
    ) -> Self {
        let id = ulid::Ulid::new().to_string();
        let key = keys::challenge(&id);
        ChallengeItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi1pk: keys::CHALLENGES_GSI1PK.into(),
            gsi1sk: keys::challenge_gsi1sk(start_date, &id),
            challenge_id: id,
            challenge_name,
            description,
            start_date,
            end_date,
            goal_days,
            participant_count: 0,
            status: Self::ACTIVE.into(),
            created_date: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The next revision after its fields were edited: the listing key follows `start_date`.
    pub fn revised(&mut self, now: DateTime<Utc>) {
        self.gsi1sk = keys::challenge_gsi1sk(self.start_date, &self.challenge_id);
        self.version += 1;
        self.updated_at = now;
    }
}

item! {
    /// `USER#<id> / MEMBER#<challenge>`: a user's membership, backed by one of their habits. Its
    /// progress (done entries of the habit inside the challenge window) is kept in step with every
    /// entry write, in the same transaction; GSI3 ranks it (`score`).
    pub struct MembershipItem [pk: "PK", sk: "SK", gsi3pk: "GSI3PK"] {
        /// The leaderboard score (`keys::member_score`), a number.
        #[serde(rename = "GSI3SK")]
        pub score: u64,
        pub challenge_id: String,
        pub user_id: String,
        /// The public name shown on the leaderboard.
        pub username: String,
        pub habit_id: String,
        pub challenge_name: String,
        pub start_date: NaiveDate,
        pub end_date: NaiveDate,
        pub progress: u64,
        pub joined_at: DateTime<Utc>,
    }
}

impl MembershipItem {
    pub const ENTITY: &'static str = "Membership";

    /// `user`'s membership of `challenge`, backed by the habit `habit_id`, with the progress made
    /// so far (ranked first among equals by who joined first).
    pub fn new(user: &UserItem, challenge: &ChallengeItem, habit_id: &str, progress: u64, now: DateTime<Utc>) -> Self {
        let key = keys::membership(&user.user_id, &challenge.challenge_id);
        MembershipItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi3pk: keys::ranking_gsi3pk(&challenge.challenge_id, &user.user_id),
            score: keys::member_score(progress, now.timestamp_millis()),
            challenge_id: challenge.challenge_id.clone(),
            user_id: user.user_id.clone(),
            username: user.username.clone(),
            habit_id: habit_id.to_owned(),
            challenge_name: challenge.challenge_name.clone(),
            start_date: challenge.start_date,
            end_date: challenge.end_date,
            progress,
            joined_at: now,
        }
    }

    pub fn counts(&self, date: NaiveDate) -> bool {
        date >= self.start_date && date <= self.end_date
    }
}
