//! The catalogue of challenges: admins create, change and delete them; everyone reads them.

use super::*;

pub(crate) fn check(c: &mut Checker, ch: &ChallengeItem) {
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
pub(crate) async fn load(state: &AppState, id: &str) -> ApiResult<ChallengeItem> {
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
pub(crate) struct CreateBody {
    /// Trimmed; 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "30 days of running")]
    pub(crate) challenge_name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub(crate) description: Option<String>,
    /// From 2000-01-01.
    #[schema(example = "2025-03-01")]
    pub(crate) start_date: NaiveDate,
    /// Not before `start_date`.
    #[schema(example = "2025-03-31")]
    pub(crate) end_date: NaiveDate,
    /// `done` days needed to reach the goal.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650, example = 20, value_type = Option<u32>)]
    pub(crate) goal_days: Option<Whole>,
}

/// Creates a challenge.
#[utoipa::path(post, path = "/challenges", tag = "challenges", security(("bearer" = ["admin"])),
    request_body = CreateBody, params(IdempotencyHeader),
    responses((status = 201, description = "Created", body = ChallengeView)))]
pub(crate) async fn create_challenge(
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
    let (record, answer) = created(request, admin.id(), view(&c, admin.user.today()))?;
    state.db.create_challenge(&c, record.as_ref()).await?;
    Ok(answer)
}

shared::page_query! {
    pub(crate) struct ListQuery {
        /// Only the challenges in this state, for the caller's today.
        #[serde(default)]
        #[param(inline, value_type = ChallengeState)]
        pub(crate) state: Option<String>,
    }
}

/// Lists challenges.
#[utoipa::path(get, path = "/challenges", tag = "challenges", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of challenges", body = PageBody<ChallengeView>)))]
pub(crate) async fn list_challenges(
    State(state): State<AppState>,
    me: AuthUser,
    Query(q): Query<ListQuery>,
) -> ApiJson<PageBody<ChallengeView>> {
    let when = match q.state.as_deref() {
        None => None,
        Some("upcoming") => Some(When::Upcoming),
        Some("active") => Some(When::Active),
        Some("ended") => Some(When::Ended),
        Some(_) => return Err(ApiError::invalid("state", "must be one of upcoming, active, ended")),
    };
    let today = me.user.today();
    let mut paging = Paging::new(&state, format!("challenges:{when:?}:{today}"), q.limit, q.cursor.as_deref())?;
    let (items, next) = state.db.list_challenges(when, today, paging.limit, paging.start.take()).await?;
    Ok(axum::Json(paging.finish(items.iter().map(|c| view(c, today)).collect(), next)?))
}

/// One challenge.
#[utoipa::path(get, path = "/challenges/{id}", tag = "challenges", security(("bearer" = [])),
    params(("id" = String, Path, description = "Challenge id")),
    responses((status = 200, description = "The challenge", body = ChallengeView)))]
pub(crate) async fn get_challenge(
    State(state): State<AppState>,
    me: Reader,
    id: Id<noun::Challenge>,
) -> ApiJson<ChallengeView> {
    let (me, challenge) = me.read(&state, load(&state, &id)).await?;
    Ok(axum::Json(view(&challenge, me.user.today())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PatchChallenge)]
pub(crate) struct PatchBody {
    /// Trimmed; 1 to 100 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub(crate) challenge_name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 1000)]
    pub(crate) description: Option<Option<String>>,
    /// From 2000-01-01; fixed once anyone has joined.
    #[serde(default)]
    #[schema(example = "2025-03-01")]
    pub(crate) start_date: Option<NaiveDate>,
    /// Not before `start_date`; fixed once anyone has joined.
    #[serde(default)]
    #[schema(example = "2025-03-31")]
    pub(crate) end_date: Option<NaiveDate>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(minimum = 1, maximum = 3650, value_type = Option<u32>)]
    pub(crate) goal_days: Option<Option<Whole>>,
}

/// Changes a challenge.
///
/// Its window is fixed once anyone has joined (members' progress is counted in it).
#[utoipa::path(patch, path = "/challenges/{id}", tag = "challenges", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Challenge id")), request_body = PatchBody,
    responses((status = 200, description = "The updated challenge", body = ChallengeView)))]
pub(crate) async fn patch_challenge(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    id: Id<noun::Challenge>,
    Json(p): Json<PatchBody>,
) -> ApiJson<ChallengeView> {
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
    Ok(axum::Json(view(&c, admin.user.today())))
}

/// Deletes a challenge and its memberships (the members' habits stay).
#[utoipa::path(delete, path = "/challenges/{id}", tag = "challenges", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Challenge id")),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_challenge(
    State(state): State<AppState>,
    _admin: AdminUser,
    id: Id<noun::Challenge>,
) -> ApiResult<StatusCode> {
    // An interrupted delete (status `deleting`) can be resumed.
    let c = state.db.get_challenge_any(&id).await?.ok_or(ApiError::NotFound("challenge"))?;
    state.db.delete_challenge(&c).await?;
    Ok(StatusCode::NO_CONTENT)
}
