//! Habits: create, list, read, change, delete.

use super::*;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateHabit)]
pub(crate) struct CreateBody {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "Drink water")]
    pub(crate) title: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub(crate) description: Option<String>,
    pub(crate) frequency: Frequency,
    /// A numeric goal per day: entries then give `unit_completed`.
    #[serde(default)]
    pub(crate) target: Option<Target>,
    /// Defaults to today (the caller's time zone); from 2000-01-01 to a year from today.
    #[serde(default)]
    pub(crate) start_date: Option<NaiveDate>,
    /// Not before `start_date`.
    #[serde(default)]
    pub(crate) end_date: Option<NaiveDate>,
    /// Defaults to true.
    #[serde(default)]
    pub(crate) is_active: Option<bool>,
}

/// Creates a habit.
#[utoipa::path(post, path = "/habits", tag = "habits", security(("bearer" = [])), request_body = CreateBody,
    params(IdempotencyHeader),
    responses((status = 201, description = "Created", body = HabitView)))]
pub(crate) async fn create_habit(
    State(state): State<AppState>,
    me: AuthUser,
    Keyed { body: b, key }: Keyed<CreateBody>,
) -> ApiResult<Response> {
    if let Some(replay) = state.db.replay(me.id(), key.as_ref()).await? {
        return Ok(replay.into_response());
    }
    let today = me.user.today();
    let fields = HabitFields {
        title: b.title.trim().to_owned(),
        description: b.description,
        frequency: b.frequency,
        target: b.target.map(|t| Target { unit: t.unit.trim().to_owned(), ..t }),
        start_date: b.start_date.unwrap_or(today),
        end_date: b.end_date,
        is_active: b.is_active.unwrap_or(true),
    };
    let mut c = Checker::default();
    check_fields(&mut c, &fields, today);
    c.finish()?;
    let fields = rounded(fields);
    let habit = HabitItem::new(me.id(), fields, Utc::now());
    let (record, answer) = created(key, me.id(), view(&habit))?;
    state.db.create_habit(&habit, record.as_ref()).await?;
    Ok(answer)
}

shared::page_query! {
    pub(crate) struct ListQuery {
        /// Only active (true) or inactive (false) habits.
        #[serde(default)]
        pub(crate) is_active: Option<bool>,
        /// Only habits filed under this category.
        #[serde(default)]
        pub(crate) category_id: Option<String>,
    }
}

/// Lists the caller's habits.
#[utoipa::path(get, path = "/habits", tag = "habits", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of habits", body = PageBody<HabitView>)))]

pub(crate) async fn list_habits(
    State(state): State<AppState>,
    me: Reader,
    Query(q): Query<ListQuery>,
) -> ApiJson<PageBody<HabitView>> {
    let mut paging = Paging::new(
        &state,
        format!("habits:{}:{:?}:{:?}", me.id(), q.is_active, q.category_id),
        q.limit,
        q.cursor.as_deref(),
    )?;
    let start = paging.start.take();
    let (_, (habits, next)) = me
        .read(&state, async {
            match &q.category_id {
                None => state.db.list_user_habits(me.id(), q.is_active, paging.limit, start).await,
                Some(cid) if !is_ulid(cid) => Err(ApiError::invalid("category_id", "is not a category id")),
                Some(cid) => {
                    let (habits, next) = state.db.list_category_habits(cid, Some(me.id()), paging.limit, start).await?;
                    let habits = habits.into_iter().filter(|h| q.is_active.is_none_or(|a| h.fields.is_active == a));
                    Ok((habits.collect(), next))
                }
            }
        })
        .await?;
    Ok(axum::Json(paging.finish(habits.iter().map(view).collect(), next)?))
}

/// One of the caller's habits, with its categories.
#[utoipa::path(get, path = "/habits/{id}", tag = "habits", security(("bearer" = [])), params(("id" = String, Path, description = "Habit id")),
    responses((status = 200, description = "The habit", body = HabitView)))]
pub(crate) async fn get_habit(State(state): State<AppState>, me: Reader, id: Id<noun::Habit>) -> ApiJson<HabitView> {
    let (_, found) = me.read(&state, state.db.get_habit_with_links(me.id(), &id)).await?;
    let found = found.ok_or(ApiError::NotFound("habit"))?;
    let categories = state.db.get_categories(&found.category_ids).await?;
    let mut v = view(&found.habit);
    v.categories =
        Some(categories.into_iter().map(|c| CategoryRef { category_id: c.category_id, name: c.name }).collect());
    Ok(axum::Json(v))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PatchHabit)]
pub(crate) struct PatchBody {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub(crate) title: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 1000)]
    pub(crate) description: Option<Option<String>>,
    #[serde(default)]
    pub(crate) frequency: Option<Frequency>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) target: Option<Option<Target>>,
    #[serde(default)]
    pub(crate) start_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) end_date: Option<Option<NaiveDate>>,
    #[serde(default)]
    pub(crate) is_active: Option<bool>,
}

/// Changes a habit; fields left out stay as they are.
#[utoipa::path(patch, path = "/habits/{id}", tag = "habits", security(("bearer" = [])), params(("id" = String, Path, description = "Habit id")),
    request_body = PatchBody, responses((status = 200, description = "The updated habit", body = HabitView)))]
pub(crate) async fn patch_habit(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Habit>,
    Json(p): Json<PatchBody>,
) -> ApiJson<HabitView> {
    let current = own_habit(&state, &me, &id).await?;
    let old = current.fields.clone();
    let fields = HabitFields {
        title: p.title.map(|t| t.trim().to_owned()).unwrap_or(old.title),
        description: p.description.unwrap_or(old.description),
        frequency: p.frequency.unwrap_or(old.frequency),
        target: p.target.map(|t| t.map(|t| Target { unit: t.unit.trim().to_owned(), ..t })).unwrap_or(old.target),
        start_date: p.start_date.unwrap_or(old.start_date),
        end_date: p.end_date.unwrap_or(old.end_date),
        is_active: p.is_active.unwrap_or(old.is_active),
    };
    let mut c = Checker::default();
    check_fields(&mut c, &fields, me.user.today());
    c.finish()?;
    let fields = rounded(fields);
    if fields == current.fields {
        return Ok(axum::Json(view(&current)));
    }
    let updated = HabitItem { fields, version: current.version + 1, updated_at: Utc::now(), ..current.clone() };
    state.db.update_habit(&updated, &current).await?;
    Ok(axum::Json(view(&updated)))
}

/// Deletes a habit with its entries, category links, reminders and challenge memberships.
#[utoipa::path(delete, path = "/habits/{id}", tag = "habits", security(("bearer" = [])), params(("id" = String, Path, description = "Habit id")),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_habit(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Habit>,
) -> ApiResult<StatusCode> {
    if state.db.delete_habit(me.id(), &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("habit"))
    }
}
