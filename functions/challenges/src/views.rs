//! What the API returns of challenges.

use super::*;

/// Where a challenge stands relative to the caller's today.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ChallengeState {
    Upcoming,
    Active,
    Ended,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ChallengeView {
    pub(crate) challenge_id: String,
    pub(crate) challenge_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[schema(example = "2025-03-01")]
    pub(crate) start_date: NaiveDate,
    #[schema(example = "2025-03-31")]
    pub(crate) end_date: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) goal_days: Option<u32>,
    /// `upcoming`, `active` or `ended`, for the caller's today.
    pub(crate) state: ChallengeState,
    pub(crate) participant_count: u64,
    pub(crate) created_date: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

pub(crate) fn phase(c: &ChallengeItem, today: NaiveDate) -> ChallengeState {
    if today < c.start_date {
        ChallengeState::Upcoming
    } else if today > c.end_date {
        ChallengeState::Ended
    } else {
        ChallengeState::Active
    }
}

pub(crate) fn view(c: &ChallengeItem, today: NaiveDate) -> ChallengeView {
    ChallengeView {
        challenge_id: c.challenge_id.clone(),
        challenge_name: c.challenge_name.clone(),
        description: c.description.clone(),
        start_date: c.start_date,
        end_date: c.end_date,
        goal_days: c.goal_days,
        state: phase(c, today),
        participant_count: c.participant_count,
        created_date: c.created_date,
        updated_at: c.updated_at,
    }
}
