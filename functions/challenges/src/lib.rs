//! `functions/challenges`: the challenge catalogue (admins), joining and leaving (everyone signed
//! in), and the leaderboard. Progress is the number of `done` entries of the member's habit dated
//! inside the challenge window, kept in step with every entry write (see `storage::habits`).
//!
//! Leaderboard order: progress (highest first), then the earlier join; both are folded into one
//! numeric GSI3 sort key, so a page of the ranking is one Query.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    Router,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    auth::{AdminUser, AuthUser},
    domain::Checker,
    http::{is_ulid, noun, nullable, page_size, Id, Json, OptionalJson, PageBody, Paging, Query, Whole},
    idempotency::{created, IdempotencyHeader, Keyed},
    models::{ChallengeItem, HabitFields, HabitItem, MembershipItem},
    schedule::{self, Frequency},
    storage::challenges::{Backing, When},
    ApiError, ApiResult, AppState,
};
use utoipa::{IntoParams, ToSchema};

shared::routes![
    create_challenge,
    list_challenges,
    get_challenge,
    patch_challenge,
    delete_challenge,
    participants,
    join,
    leave,
    leaderboard,
    my_challenges,
];

pub fn app(state: AppState) -> Router {
    shared::http::finish(routes(), state)
}

type J<T> = ApiResult<axum::Json<T>>;

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 1000;
const GOAL_MAX: u32 = 3650;

/// Where a challenge stands relative to the caller's today.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum ChallengeState {
    Upcoming,
    Active,
    Ended,
}

#[derive(Serialize, ToSchema)]
struct ChallengeView {
    challenge_id: String,
    challenge_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[schema(example = "2025-03-01")]
    start_date: NaiveDate,
    #[schema(example = "2025-03-31")]
    end_date: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    goal_days: Option<u32>,
    /// `upcoming`, `active` or `ended`, for the caller's today.
    state: ChallengeState,
    participant_count: u64,
    created_date: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn phase(c: &ChallengeItem, today: NaiveDate) -> ChallengeState {
    if today < c.start_date {
        ChallengeState::Upcoming
    } else if today > c.end_date {
        ChallengeState::Ended
    } else {
        ChallengeState::Active
    }
}

fn view(c: &ChallengeItem, today: NaiveDate) -> ChallengeView {
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

fn today_of(me: &AuthUser) -> NaiveDate {
    schedule::today_in(me.user.tz(), Utc::now())
}

fn check(c: &mut Checker, ch: &ChallengeItem) {
    let len = ch.challenge_name.trim().chars().count();
    if len == 0 || len > NAME_MAX {
        c.fail("challenge_name", format!("must be 1 to {NAME_MAX} characters"));
    }
    c.text("description", ch.description.as_deref(), DESCRIPTION_MAX);
    if ch.start_date < NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date")
        || ch.start_date.format("%Y").to_string().len() != 4
    {
        c.fail("start_date", "must be a date from 2000-01-01 to 9999-12-31");
    }
    if ch.end_date < ch.start_date || ch.end_date.format("%Y").to_string().len() != 4 {
        c.fail("end_date", "must not be before start_date");
    }
    if ch.goal_days.is_some_and(|g| g == 0 || g > GOAL_MAX) {
        c.fail("goal_days", format!("must be between 1 and {GOAL_MAX}"));
    }
}

/// A challenge that is not being deleted.
async fn load(state: &AppState, id: &str) -> ApiResult<ChallengeItem> {
    state
        .db
        .get_challenge_any(id)
        .await?
        .filter(|c| c.status == ChallengeItem::ACTIVE)
        .ok_or(ApiError::NotFound("challenge"))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateChallenge)]
struct CreateBody {
    /// Trimmed; 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "30 days of running")]
    challenge_name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    description: Option<String>,
    /// From 2000-01-01.
    #[schema(example = "2025-03-01")]
    start_date: NaiveDate,
    /// Not before `start_date`.
    #[schema(example = "2025-03-31")]
    end_date: NaiveDate,
    /// `done` days needed to reach the goal.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650, example = 20, value_type = Option<u32>)]
    goal_days: Option<Whole>,
}

/// Creates a challenge.
#[utoipa::path(post, path = "/challenges", tag = "challenges", security(("bearer" = ["admin"])),
    request_body = CreateBody, params(IdempotencyHeader),
    responses((status = 201, description = "Created", body = ChallengeView)))]
async fn create_challenge(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Keyed { body: b, key: request }: Keyed<CreateBody>,
) -> ApiResult<Response> {
    if let Some(replay) = state.db.replay(admin.id(), request.as_ref()).await? {
        return Ok(replay.into_response());
    }
    let c = ChallengeItem::new(
        b.challenge_name.trim().to_owned(),
        b.description,
        (b.start_date, b.end_date),
        b.goal_days.map(|g| g.0),
        Utc::now(),
    );
    let mut chk = Checker::default();
    check(&mut chk, &c);
    chk.finish()?;
    let (record, answer) = created(request, admin.id(), view(&c, today_of(&admin)))?;
    state.db.create_challenge(&c, record.as_ref()).await?;
    Ok(answer)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only the challenges in this state, for the caller's today.
    #[serde(default)]
    #[param(inline, value_type = ChallengeState)]
    state: Option<String>,
    /// Page size.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// Lists challenges.
#[utoipa::path(get, path = "/challenges", tag = "challenges", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of challenges", body = PageBody<ChallengeView>)))]
async fn list_challenges(
    State(state): State<AppState>,
    me: AuthUser,
    Query(q): Query<ListQuery>,
) -> J<PageBody<ChallengeView>> {
    let when = match q.state.as_deref() {
        None => None,
        Some("upcoming") => Some(When::Upcoming),
        Some("active") => Some(When::Active),
        Some("ended") => Some(When::Ended),
        Some(_) => return Err(ApiError::invalid("state", "must be one of upcoming, active, ended")),
    };
    let today = today_of(&me);
    let mut paging = Paging::new(&state, format!("challenges:{when:?}:{today}"), q.limit, q.cursor.as_deref())?;
    let (items, next) = state.db.list_challenges(when, today, paging.limit, paging.start.take()).await?;
    Ok(axum::Json(paging.finish(items.iter().map(|c| view(c, today)).collect(), next)?))
}

/// One challenge.
#[utoipa::path(get, path = "/challenges/{id}", tag = "challenges", security(("bearer" = [])),
    params(("id" = String, Path, description = "Challenge id")),
    responses((status = 200, description = "The challenge", body = ChallengeView)))]
async fn get_challenge(State(state): State<AppState>, me: AuthUser, id: Id<noun::Challenge>) -> J<ChallengeView> {
    Ok(axum::Json(view(&load(&state, &id).await?, today_of(&me))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PatchChallenge)]
struct PatchBody {
    /// Trimmed; 1 to 100 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    challenge_name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 1000)]
    description: Option<Option<String>>,
    /// From 2000-01-01; fixed once anyone has joined.
    #[serde(default)]
    #[schema(example = "2025-03-01")]
    start_date: Option<NaiveDate>,
    /// Not before `start_date`; fixed once anyone has joined.
    #[serde(default)]
    #[schema(example = "2025-03-31")]
    end_date: Option<NaiveDate>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(minimum = 1, maximum = 3650, value_type = Option<u32>)]
    goal_days: Option<Option<Whole>>,
}

/// Changes a challenge.
///
/// Its window is fixed once anyone has joined (members' progress is counted in it).
#[utoipa::path(patch, path = "/challenges/{id}", tag = "challenges", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Challenge id")), request_body = PatchBody,
    responses((status = 200, description = "The updated challenge", body = ChallengeView)))]
async fn patch_challenge(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    id: Id<noun::Challenge>,
    Json(p): Json<PatchBody>,
) -> J<ChallengeView> {
    let current = load(&state, &id).await?;
    let mut c = current.clone();
    c.challenge_name = p.challenge_name.map(|n| n.trim().to_owned()).unwrap_or(c.challenge_name);
    c.description = p.description.unwrap_or(c.description);
    c.start_date = p.start_date.unwrap_or(c.start_date);
    c.end_date = p.end_date.unwrap_or(c.end_date);
    c.goal_days = p.goal_days.map(|g| g.map(|g| g.0)).unwrap_or(c.goal_days);
    let mut chk = Checker::default();
    check(&mut chk, &c);
    chk.finish()?;
    let window_changed = c.start_date != current.start_date || c.end_date != current.end_date;
    if window_changed && current.participant_count > 0 {
        let field = if c.start_date != current.start_date { "start_date" } else { "end_date" };
        return Err(ApiError::conflict(field, "the dates cannot change once someone has joined"));
    }
    c.revised(Utc::now());
    state.db.update_challenge(&c, &current).await?;
    Ok(axum::Json(view(&c, today_of(&admin))))
}

/// Deletes a challenge and its memberships (the members' habits stay).
#[utoipa::path(delete, path = "/challenges/{id}", tag = "challenges", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Challenge id")),
    responses((status = 204, description = "Deleted")))]
async fn delete_challenge(
    State(state): State<AppState>,
    _admin: AdminUser,
    id: Id<noun::Challenge>,
) -> ApiResult<StatusCode> {
    // An interrupted delete (status `deleting`) can be resumed.
    let c = state.db.get_challenge_any(&id).await?.ok_or(ApiError::NotFound("challenge"))?;
    state.db.delete_challenge(&c).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = JoinChallenge)]
struct JoinBody {
    /// One of the caller's habits; absent: a new daily habit is made from the challenge.
    #[serde(default)]
    habit_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct MembershipView {
    challenge_id: String,
    challenge_name: String,
    habit_id: String,
    start_date: NaiveDate,
    end_date: NaiveDate,
    progress: u64,
    joined_at: DateTime<Utc>,
}

fn membership_view(m: &MembershipItem) -> MembershipView {
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
async fn join(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Challenge>,
    OptionalJson(body): OptionalJson<JoinBody>,
) -> ApiResult<(StatusCode, axum::Json<MembershipView>)> {
    let challenge = load(&state, &id).await?;
    let today = today_of(&me);
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
async fn leave(State(state): State<AppState>, me: AuthUser, id: Id<noun::Membership>) -> ApiResult<StatusCode> {
    let m = state.db.get_membership(me.id(), &id).await?.ok_or(ApiError::NotFound("membership"))?;
    if state.db.remove_membership(&m).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("membership"))
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// Page size.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// A leaderboard row: public fields only.
#[derive(Serialize, ToSchema)]
struct Rank {
    rank: u64,
    username: String,
    progress: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    goal_reached: Option<bool>,
    joined_at: DateTime<Utc>,
}

/// The leaderboard: progress (highest first), then the earlier join.
#[utoipa::path(get, path = "/challenges/{id}/leaderboard", tag = "challenges", security(("bearer" = [])),
    params(("id" = String, Path, description = "Challenge id"), PageQuery),
    responses((status = 200, description = "A page of the ranking", body = PageBody<Rank>)))]
async fn leaderboard(
    State(state): State<AppState>,
    _me: AuthUser,
    id: Id<noun::Challenge>,
    Query(q): Query<PageQuery>,
) -> J<PageBody<Rank>> {
    let c = load(&state, &id).await?;
    let limit = page_size(q.limit)?;
    let scope = format!("leaderboard:{id}");
    let (start, offset) = match q.cursor.as_deref() {
        Some(cur) => state.cursors.decode_at(&scope, cur).map(|(k, o)| (Some(k), o))?,
        None => (None, 0),
    };
    let (members, next) = state.db.leaderboard(&id, limit, start).await?;
    let names = state.db.usernames(members.iter().map(|m| m.user_id.as_str())).await?;
    let items: Vec<Rank> = members
        .iter()
        .enumerate()
        .map(|(i, m)| Rank {
            rank: offset + i as u64 + 1,
            username: names.get(&m.user_id).unwrap_or(&m.username).clone(),
            progress: m.progress,
            goal_reached: c.goal_days.map(|g| m.progress >= u64::from(g)),
            joined_at: m.joined_at,
        })
        .collect();
    let next_cursor =
        next.as_ref().map(|k| state.cursors.encode_at(&scope, k, offset + items.len() as u64)).transpose()?;
    Ok(axum::Json(PageBody { items, next_cursor }))
}

#[derive(Serialize, ToSchema)]
struct Participant {
    user_id: String,
    username: String,
    habit_id: String,
    progress: u64,
    joined_at: DateTime<Utc>,
}

/// Every member (admins), in leaderboard order.
#[utoipa::path(get, path = "/challenges/{id}/participants", tag = "challenges", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Challenge id"), PageQuery),
    responses((status = 200, description = "A page of members", body = PageBody<Participant>)))]
async fn participants(
    State(state): State<AppState>,
    _admin: AdminUser,
    id: Id<noun::Challenge>,
    Query(q): Query<PageQuery>,
) -> J<PageBody<Participant>> {
    load(&state, &id).await?;
    let mut paging = Paging::new(&state, format!("participants:{id}"), q.limit, q.cursor.as_deref())?;
    let (members, next) = state.db.leaderboard(&id, paging.limit, paging.start.take()).await?;
    let names = state.db.usernames(members.iter().map(|m| m.user_id.as_str())).await?;
    let items = members
        .into_iter()
        .map(|m| Participant {
            username: names.get(&m.user_id).cloned().unwrap_or(m.username),
            user_id: m.user_id,
            habit_id: m.habit_id,
            progress: m.progress,
            joined_at: m.joined_at,
        })
        .collect();
    Ok(axum::Json(paging.finish(items, next)?))
}

/// The challenges the caller has joined.
#[utoipa::path(get, path = "/me/challenges", tag = "challenges", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of memberships", body = PageBody<MembershipView>)))]
async fn my_challenges(
    State(state): State<AppState>,
    me: AuthUser,
    Query(q): Query<PageQuery>,
) -> J<PageBody<MembershipView>> {
    let mut paging = Paging::new(&state, format!("my-challenges:{}", me.id()), q.limit, q.cursor.as_deref())?;
    let (items, next) = state.db.user_memberships(me.id(), paging.limit, paging.start.take()).await?;
    Ok(axum::Json(paging.finish(items.iter().map(membership_view).collect(), next)?))
}
