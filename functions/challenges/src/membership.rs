//! Joining and leaving challenges, and the caller's own.

use super::*;

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = JoinChallenge)]
pub(crate) struct JoinBody {
    /// One of the caller's habits; absent: a new daily habit is made from the challenge.
    #[serde(default)]
    pub(crate) habit_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MembershipView {
    pub(crate) challenge_id: String,
    pub(crate) challenge_name: String,
    pub(crate) habit_id: String,
    pub(crate) start_date: NaiveDate,
    pub(crate) end_date: NaiveDate,
    pub(crate) progress: u64,
    pub(crate) joined_at: DateTime<Utc>,
}

pub(crate) fn membership_view(m: &MembershipItem) -> MembershipView {
    MembershipView {
        challenge_id: m.challenge_id.clone(),
        challenge_name: m.challenge_name.clone(),
        habit_id: m.habit_id.clone(),
        start_date: m.start_date,
        end_date: m.end_date,
        progress: m.progress,
        joined_at: m.joined_at,
    }
}

/// Joins a challenge.
///
/// Joins with one of the caller's habits, or with a new daily habit made from the challenge. The
/// body is optional (no body: a new habit).
#[utoipa::path(post, path = "/challenges/{id}/join", tag = "challenges", security(("bearer" = [])),
    params(("id" = String, Path, description = "Challenge id")),
    request_body(content = Option<JoinBody>, content_type = "application/json",
        description = "Optional; without a body a new daily habit is made from the challenge."),
    responses((status = 201, description = "Joined", body = MembershipView)))]
pub(crate) async fn join(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Challenge>,
    OptionalJson(body): OptionalJson<JoinBody>,
) -> ApiResult<(StatusCode, axum::Json<MembershipView>)> {
    let challenge = load(&state, &id).await?;
    let today = me.user.today();
    if today > challenge.end_date {
        return Err(ApiError::Conflict { detail: "this challenge has ended".into(), field: None });
    }
    let now = Utc::now();
    let habit_id = body.and_then(|b| b.habit_id);
    let (habit, created) = match habit_id {
        Some(hid) => {
            let habit = if is_ulid(&hid) { state.db.get_habit(me.id(), &hid).await? } else { None };
            (habit.ok_or(ApiError::NotFound("habit"))?, false)
        }
        None => {
            let fields = HabitFields {
                title: challenge.challenge_name.clone(),
                description: challenge.description.clone(),
                frequency: Frequency::Daily,
                target: None,
                start_date: challenge.start_date.max(today.min(challenge.end_date)),
                end_date: Some(challenge.end_date),
                is_active: true,
            };
            (HabitItem::new(me.id(), fields, now), true)
        }
    };
    // Counted after the habit was read: the join conditions on the habit's entries_rev.
    let progress =
        if created { 0 } else { state.db.count_done(&habit, challenge.start_date, challenge.end_date).await? };
    let m = MembershipItem::new(&me.user, &challenge, &habit.habit_id, progress, now);
    let backing = if created { Backing::New(&habit) } else { Backing::Existing(&habit) };
    state.db.join_challenge(&m, backing, today).await?;
    Ok((StatusCode::CREATED, axum::Json(membership_view(&m))))
}

/// Leaves a challenge (the habit stays).
#[utoipa::path(delete, path = "/challenges/{id}/membership", tag = "challenges", security(("bearer" = [])),
    params(("id" = String, Path, description = "Challenge id")),
    responses((status = 204, description = "Left")))]
pub(crate) async fn leave(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Membership>,
) -> ApiResult<StatusCode> {
    let m = state.db.get_membership(me.id(), &id).await?.ok_or(ApiError::NotFound("membership"))?;
    if state.db.remove_membership(&m).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("membership"))
    }
}

/// The challenges the caller has joined.
#[utoipa::path(get, path = "/me/challenges", tag = "challenges", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of memberships", body = PageBody<MembershipView>)))]
pub(crate) async fn my_challenges(
    State(state): State<AppState>,
    me: Reader,
    Query(q): Query<PageQuery>,
) -> ApiJson<PageBody<MembershipView>> {
    let mut paging = Paging::new(&state, format!("my-challenges:{}", me.id()), q.limit, q.cursor.as_deref())?;
    let (_, (items, next)) =
        me.read(&state, state.db.user_memberships(me.id(), paging.limit, paging.start.take())).await?;
    Ok(axum::Json(paging.finish(items.iter().map(membership_view).collect(), next)?))
}
