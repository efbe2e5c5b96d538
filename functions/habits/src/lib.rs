//! `functions/habits`: habits, daily tracking entries, statistics, category assignment, the
//! caller's day (`/me/today`) and the admin view of every habit.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Router,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    auth::{AdminUser, AuthUser},
    domain::Checker,
    domain::Role,
    http::{is_ulid, noun, nullable, Id, Json, PageBody, Paging, Query},
    idempotency::{created, IdempotencyHeader, Keyed},
    models::{EntryFields, EntryItem, HabitCategoryItem, HabitFields, HabitItem, Target},
    schedule::{self, Frequency, Stats, Status},
    ApiError, ApiResult, AppState,
};
use utoipa::{IntoParams, ToSchema};

shared::routes![
    create_habit,
    list_habits,
    get_habit,
    patch_habit,
    delete_habit,
    list_entries,
    get_entry,
    put_entry,
    delete_entry,
    get_stats,
    assign_category,
    unassign_category,
    today,
    admin_list_habits,
];

pub fn app(state: AppState) -> Router {
    shared::http::finish(routes(), state)
}

type J<T> = ApiResult<axum::Json<T>>;

const TITLE_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 1000;
const NOTE_MAX: usize = 500;
const UNIT_MAX: usize = 20;
const AMOUNT_MAX: f64 = 1_000_000.0;

/// Amounts (targets, units done) are kept to six decimal places: DynamoDB cannot store numbers
/// below 1e-130, and no habit counts finer than a millionth.
fn round_amount(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The fields as stored, once checked: the target rounded (see [`round_amount`]).
fn rounded(fields: HabitFields) -> HabitFields {
    HabitFields { target: fields.target.map(|t| Target { value: round_amount(t.value), ..t }), ..fields }
}

// ---- views ---------------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct HabitView {
    pub habit_id: String,
    pub user_id: String,
    #[serde(flatten)]
    pub fields: HabitFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The categories the habit is filed under (single-habit reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<CategoryRef>>,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryRef {
    pub category_id: String,
    pub name: String,
}

fn view(h: &HabitItem) -> HabitView {
    HabitView {
        habit_id: h.habit_id.clone(),
        user_id: h.user_id.clone(),
        fields: h.fields.clone(),
        created_at: h.created_at,
        updated_at: h.updated_at,
        categories: None,
    }
}

#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub habit_id: String,
    pub date: NaiveDate,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_completed: Option<f64>,
    pub updated_at: DateTime<Utc>,
}

fn entry_view(e: &EntryItem) -> EntryView {
    EntryView {
        habit_id: e.habit_id.clone(),
        date: e.date,
        status: e.status,
        note: e.note.clone(),
        unit_completed: e.unit_completed,
        updated_at: e.updated_at,
    }
}

// ---- checks --------------------------------------------------------------------------------------

fn parse_date(raw: &str) -> ApiResult<NaiveDate> {
    raw.parse().map_err(|_| ApiError::invalid("date", "must be a date like 2026-03-01"))
}

fn check_fields(c: &mut Checker, f: &HabitFields, today: NaiveDate) {
    let title_len = f.title.trim().chars().count();
    if title_len == 0 || title_len > TITLE_MAX {
        c.fail("title", format!("must be 1 to {TITLE_MAX} characters"));
    }
    c.text("description", f.description.as_deref(), DESCRIPTION_MAX);
    if let Err((field, message)) = f.frequency.validate() {
        c.fail(field, message);
    }
    if let Some(t) = &f.target {
        if !(t.value.is_finite() && t.value >= 0.000_001 && t.value <= AMOUNT_MAX) {
            c.fail("target.value", format!("must be a number from 0.000001 to {AMOUNT_MAX}"));
        }
        let unit_len = t.unit.trim().chars().count();
        if unit_len == 0 || unit_len > UNIT_MAX {
            c.fail("target.unit", format!("must be 1 to {UNIT_MAX} characters"));
        }
    }
    let earliest = NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date");
    if f.start_date < earliest || f.start_date > today + chrono::Days::new(366) {
        c.fail("start_date", "must be between 2000-01-01 and a year from today");
    }
    if f.end_date.is_some_and(|end| end < f.start_date) {
        c.fail("end_date", "must not be before start_date");
    }
}

fn today_of(user: &shared::models::UserItem) -> NaiveDate {
    schedule::today_in(user.tz(), Utc::now())
}

/// Loads one of the caller's habits (another user's id is simply not found).
async fn own_habit(state: &AppState, me: &AuthUser, id: &str) -> ApiResult<HabitItem> {
    state.db.get_habit(me.id(), id).await?.ok_or(ApiError::NotFound("habit"))
}

// ---- habits --------------------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateHabit)]
struct CreateBody {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "Drink water")]
    title: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    description: Option<String>,
    frequency: Frequency,
    /// A numeric goal per day: entries then give `unit_completed`.
    #[serde(default)]
    target: Option<Target>,
    /// Defaults to today (the caller's time zone); from 2000-01-01 to a year from today.
    #[serde(default)]
    start_date: Option<NaiveDate>,
    /// Not before `start_date`.
    #[serde(default)]
    end_date: Option<NaiveDate>,
    /// Defaults to true.
    #[serde(default)]
    is_active: Option<bool>,
}

/// Creates a habit.
#[utoipa::path(post, path = "/habits", tag = "habits", security(("bearer" = [])), request_body = CreateBody,
    params(IdempotencyHeader),
    responses((status = 201, description = "Created", body = HabitView)))]
async fn create_habit(
    State(state): State<AppState>,
    me: AuthUser,
    Keyed { body: b, key }: Keyed<CreateBody>,
) -> ApiResult<Response> {
    if let Some(replay) = state.db.replay(me.id(), key.as_ref()).await? {
        return Ok(replay.into_response());
    }
    let today = today_of(&me.user);
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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only active (true) or inactive (false) habits.
    #[serde(default)]
    is_active: Option<bool>,
    /// Only habits filed under this category.
    #[serde(default)]
    category_id: Option<String>,
    /// Page size.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// Lists the caller's habits.
#[utoipa::path(get, path = "/habits", tag = "habits", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of habits", body = PageBody<HabitView>)))]

async fn list_habits(
    State(state): State<AppState>,
    me: AuthUser,
    Query(q): Query<ListQuery>,
) -> J<PageBody<HabitView>> {
    let mut paging = Paging::new(
        &state,
        format!("habits:{}:{:?}:{:?}", me.id(), q.is_active, q.category_id),
        q.limit,
        q.cursor.as_deref(),
    )?;
    let (habits, next) = match &q.category_id {
        None => state.db.list_user_habits(me.id(), q.is_active, paging.limit, paging.start.take()).await?,
        Some(cid) => {
            if !is_ulid(cid) {
                return Err(ApiError::invalid("category_id", "is not a category id"));
            }
            let (habits, next) =
                state.db.list_category_habits(cid, Some(me.id()), paging.limit, paging.start.take()).await?;
            (habits.into_iter().filter(|h| q.is_active.is_none_or(|a| h.fields.is_active == a)).collect(), next)
        }
    };
    Ok(axum::Json(paging.finish(habits.iter().map(view).collect(), next)?))
}

/// One of the caller's habits, with its categories.
#[utoipa::path(get, path = "/habits/{id}", tag = "habits", security(("bearer" = [])), params(("id" = String, Path, description = "Habit id")),
    responses((status = 200, description = "The habit", body = HabitView)))]
async fn get_habit(State(state): State<AppState>, me: AuthUser, id: Id<noun::Habit>) -> J<HabitView> {
    let found = state.db.get_habit_with_links(me.id(), &id).await?.ok_or(ApiError::NotFound("habit"))?;
    let categories = state.db.get_categories(&found.category_ids).await?;
    let mut v = view(&found.habit);
    v.categories =
        Some(categories.into_iter().map(|c| CategoryRef { category_id: c.category_id, name: c.name }).collect());
    Ok(axum::Json(v))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PatchHabit)]
struct PatchBody {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    title: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 1000)]
    description: Option<Option<String>>,
    #[serde(default)]
    frequency: Option<Frequency>,
    #[serde(default, deserialize_with = "nullable")]
    target: Option<Option<Target>>,
    #[serde(default)]
    start_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "nullable")]
    end_date: Option<Option<NaiveDate>>,
    #[serde(default)]
    is_active: Option<bool>,
}

/// Changes a habit; fields left out stay as they are.
#[utoipa::path(patch, path = "/habits/{id}", tag = "habits", security(("bearer" = [])), params(("id" = String, Path, description = "Habit id")),
    request_body = PatchBody, responses((status = 200, description = "The updated habit", body = HabitView)))]
async fn patch_habit(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Habit>,
    Json(p): Json<PatchBody>,
) -> J<HabitView> {
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
    check_fields(&mut c, &fields, today_of(&me.user));
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
async fn delete_habit(State(state): State<AppState>, me: AuthUser, id: Id<noun::Habit>) -> ApiResult<StatusCode> {
    if state.db.delete_habit(me.id(), &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("habit"))
    }
}

// ---- entries -------------------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RecordEntry)]
struct EntryBody {
    /// Required unless the habit has a target; then `unit_completed` decides it.
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    #[schema(max_length = 500)]
    note: Option<String>,
    /// Units done that day, for a habit with a target.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    unit_completed: Option<f64>,
}

/// Decides an entry's status: for a habit with a numeric target, `unit_completed` against the
/// target decides done / partial (0 is missed) unless the day is explicitly skipped or missed.
fn decide_status(
    c: &mut Checker,
    target: Option<&Target>,
    status: Option<Status>,
    units: Option<f64>,
) -> Option<Status> {
    if let Some(u) = units {
        if !(u.is_finite() && (0.0..=AMOUNT_MAX).contains(&u)) {
            c.fail("unit_completed", format!("must be a number from 0 to {AMOUNT_MAX}"));
            return None;
        }
    }
    // Checked as sent, decided as stored.
    let units = units.map(round_amount);
    match (target, status) {
        (None, None) => {
            c.fail("status", "is required: one of done, partial, skipped, missed");
            None
        }
        (None, Some(s)) => {
            if units.is_some() {
                c.fail("unit_completed", "this habit has no numeric target");
            }
            Some(s)
        }
        (Some(_), Some(s @ (Status::Skipped | Status::Missed))) => Some(s),
        (Some(t), given) => {
            let Some(u) = units else {
                c.fail("unit_completed", format!("is required: this habit counts {}", t.unit));
                return None;
            };
            let derived = if u >= t.value {
                Status::Done
            } else if u > 0.0 {
                Status::Partial
            } else {
                Status::Missed
            };
            if given.is_some_and(|g| g != derived) {
                c.fail("status", format!("disagrees with unit_completed ({u} of {} {})", t.value, t.unit));
            }
            Some(derived)
        }
    }
}

/// Records (creates or replaces) the habit's entry for a day.
#[utoipa::path(put, path = "/habits/{id}/entries/{date}", tag = "habits", security(("bearer" = [])),
    params(("id" = String, Path, description = "Habit id"), ("date" = String, Path, description = "The day, e.g. 2026-03-01 (in the caller's time zone)")), request_body = EntryBody,
    responses((status = 200, description = "The entry", body = EntryView)))]
async fn put_entry(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Habit>,
    Path((_, date)): Path<(String, String)>,
    Json(b): Json<EntryBody>,
) -> J<EntryView> {
    let habit = own_habit(&state, &me, &id).await?;
    let date = parse_date(&date)?;
    let today = today_of(&me.user);
    let mut c = Checker::default();
    if date < habit.fields.start_date {
        c.fail("date", format!("is before the habit's start_date {}", habit.fields.start_date));
    } else if habit.fields.end_date.is_some_and(|end| date > end) {
        c.fail("date", "is after the habit's end_date");
    } else if date > today {
        c.fail("date", format!("is after today ({today} in {})", me.user.tz().name()));
    }
    c.text("note", b.note.as_deref(), NOTE_MAX);
    let status = decide_status(&mut c, habit.fields.target.as_ref(), b.status, b.unit_completed);
    c.finish()?;
    let Some(status) = status else { return Err(ApiError::internal("status checked but missing")) };
    let fields = EntryFields { status, note: b.note, unit_completed: b.unit_completed.map(round_amount) };
    let entry = state.db.record_entry(&habit, date, fields).await?;
    Ok(axum::Json(entry_view(&entry)))
}

/// The habit's entry for a day.
#[utoipa::path(get, path = "/habits/{id}/entries/{date}", tag = "habits", security(("bearer" = [])),
    params(("id" = String, Path, description = "Habit id"), ("date" = String, Path, description = "The day, e.g. 2026-03-01 (in the caller's time zone)")), responses((status = 200, description = "The entry", body = EntryView)))]
async fn get_entry(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Habit>,
    Path((_, date)): Path<(String, String)>,
) -> J<EntryView> {
    let date = parse_date(&date)?;
    let (habit, entry) = tokio::join!(state.db.get_habit(me.id(), &id), state.db.get_entry(me.id(), &id, date));
    habit?.ok_or(ApiError::NotFound("habit"))?;
    Ok(axum::Json(entry_view(&entry?.ok_or(ApiError::NotFound("entry"))?)))
}

/// Deletes the habit's entry for a day.
#[utoipa::path(delete, path = "/habits/{id}/entries/{date}", tag = "habits", security(("bearer" = [])),
    params(("id" = String, Path, description = "Habit id"), ("date" = String, Path, description = "The day, e.g. 2026-03-01 (in the caller's time zone)")), responses((status = 204, description = "Deleted")))]
async fn delete_entry(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Habit>,
    Path((_, date)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let habit = own_habit(&state, &me, &id).await?;
    let date = parse_date(&date)?;
    if !state.db.remove_entry(&habit, date).await? {
        return Err(ApiError::NotFound("entry"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EntriesQuery {
    /// First day (inclusive).
    #[serde(default)]
    from: Option<NaiveDate>,
    /// Last day (inclusive), not before `from`.
    #[serde(default)]
    to: Option<NaiveDate>,
    /// Page size.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// The habit's entries, oldest first.
#[utoipa::path(get, path = "/habits/{id}/entries", tag = "habits", security(("bearer" = [])),
    params(("id" = String, Path, description = "Habit id"), EntriesQuery), responses((status = 200, description = "A page of entries", body = PageBody<EntryView>)))]

async fn list_entries(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Habit>,
    Query(q): Query<EntriesQuery>,
) -> J<PageBody<EntryView>> {
    let (min, max) = (
        NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date"),
        NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date"),
    );
    let from = q.from.unwrap_or(min);
    let to = q.to.unwrap_or(max);
    let mut c = Checker::default();
    for (field, d) in [("from", from), ("to", to)] {
        if d < min || d > max {
            c.fail(field, "must be a date from 2000-01-01 to 9999-12-31");
        }
    }
    if from > to {
        c.fail("to", "must not be before from");
    }
    c.finish()?;
    let mut paging =
        Paging::new(&state, format!("entries:{}:{id}:{from}:{to}", me.id()), q.limit, q.cursor.as_deref())?;
    let (habit, page) = tokio::join!(
        state.db.get_habit(me.id(), &id),
        state.db.list_entries(me.id(), &id, from, to, paging.limit, paging.start.take())
    );
    habit?.ok_or(ApiError::NotFound("habit"))?;
    let (entries, next) = page?;
    Ok(axum::Json(paging.finish(entries.iter().map(entry_view).collect(), next)?))
}

// ---- statistics and today ------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
struct StatsView {
    habit_id: String,
    /// The caller's today, in their time zone: the day the figures are computed for.
    as_of: NaiveDate,
    time_zone: String,
    #[serde(flatten)]
    stats: Stats,
}

/// Streaks and completion rates of a habit, as of the caller's today.
#[utoipa::path(get, path = "/habits/{id}/stats", tag = "habits", security(("bearer" = [])), params(("id" = String, Path, description = "Habit id")),
    responses((status = 200, description = "The statistics", body = StatsView)))]
async fn get_stats(State(state): State<AppState>, me: AuthUser, id: Id<noun::Habit>) -> J<StatsView> {
    let found = state.db.get_habit_with_history(me.id(), &id).await?.ok_or(ApiError::NotFound("habit"))?;
    let today = today_of(&me.user);
    let marks = found
        .entries
        .iter()
        .map(|e| (e.date, schedule::Mark { status: e.status, units: e.unit_completed.unwrap_or(0.0) }))
        .collect();
    let stats = schedule::stats(&found.habit.schedule(), &marks, today);
    Ok(axum::Json(StatsView {
        habit_id: id.into_string(),
        as_of: today,
        time_zone: me.user.tz().name().to_owned(),
        stats,
    }))
}

#[derive(Serialize, ToSchema)]
struct TodayItem {
    habit: HabitView,
    entry: Option<EntryView>,
}

#[derive(Serialize, ToSchema)]
struct TodayView {
    date: NaiveDate,
    time_zone: String,
    items: Vec<TodayItem>,
}

/// Every active habit scheduled today (the caller's today) with today's entry: one Query.
#[utoipa::path(get, path = "/me/today", tag = "habits", security(("bearer" = [])),
    responses((status = 200, description = "Today's habits", body = TodayView)))]
async fn today(State(state): State<AppState>, me: AuthUser) -> J<TodayView> {
    let today = today_of(&me.user);
    let (habits, entries) = state.db.habits_and_entries_from(me.id(), today).await?;
    let items = habits
        .iter()
        .filter(|h| {
            h.fields.is_active
                && h.fields.start_date <= today
                && h.fields.end_date.is_none_or(|end| today <= end)
                && h.fields.frequency.is_scheduled(today)
        })
        .map(|h| TodayItem {
            habit: view(h),
            entry: entries.iter().find(|e| e.habit_id == h.habit_id && e.date == today).map(entry_view),
        })
        .collect();
    Ok(axum::Json(TodayView { date: today, time_zone: me.user.tz().name().to_owned(), items }))
}

// ---- categories ----------------------------------------------------------------------------------

/// The habit a caller may file: their own, or (admins) anyone's.
async fn assignable_habit(state: &AppState, me: &AuthUser, id: &str) -> ApiResult<HabitItem> {
    if let Some(h) = state.db.get_habit(me.id(), id).await? {
        return Ok(h);
    }
    if me.user.role == Role::Admin {
        if let Some(h) = state.db.find_habit(id).await? {
            return Ok(h);
        }
    }
    Err(ApiError::NotFound("habit"))
}

/// Files a habit under a category (the owner, or an admin for anyone's habit).
#[utoipa::path(put, path = "/habits/{id}/categories/{category_id}", tag = "habits", security(("bearer" = [])),
    params(("id" = String, Path, description = "Habit id"), ("category_id" = String, Path, description = "Category id")),
    responses((status = 204, description = "Filed")))]
async fn assign_category(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Habit>,
    category_id: Id<noun::LinkedCategory>,
) -> ApiResult<StatusCode> {
    let habit = assignable_habit(&state, &me, &id).await?;
    let link = HabitCategoryItem::new(&habit.user_id, &habit.habit_id, &category_id, Utc::now());
    state.db.link_category(&link).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unfiles a habit from a category (the owner, or an admin for anyone's habit).
#[utoipa::path(delete, path = "/habits/{id}/categories/{category_id}", tag = "habits", security(("bearer" = [])),
    params(("id" = String, Path, description = "Habit id"), ("category_id" = String, Path, description = "Category id")),
    responses((status = 204, description = "Unfiled")))]
async fn unassign_category(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Habit>,
    category_id: Id<noun::LinkedCategory>,
) -> ApiResult<StatusCode> {
    let habit = assignable_habit(&state, &me, &id).await?;
    if state.db.unlink_category(&habit.user_id, &habit.habit_id, &category_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("category assignment"))
    }
}

// ---- admin ---------------------------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AdminQuery {
    /// Only this user's habits.
    #[serde(default)]
    user_id: Option<String>,
    /// Only habits filed under this category.
    #[serde(default)]
    category_id: Option<String>,
    /// Page size.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// Every user's habits (GSI1), or one user's (GSI2), or one category's (links), admins only.
#[utoipa::path(get, path = "/admin/habits", tag = "habits", security(("bearer" = ["admin"])), params(AdminQuery),
    responses((status = 200, description = "A page of habits", body = PageBody<HabitView>)))]
async fn admin_list_habits(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<AdminQuery>,
) -> J<PageBody<HabitView>> {
    let mut c = Checker::default();
    for (field, value) in [("user_id", &q.user_id), ("category_id", &q.category_id)] {
        if value.as_deref().is_some_and(|v| !is_ulid(v)) {
            c.fail(field, "is not an id");
        }
    }
    c.finish()?;
    let mut paging =
        Paging::new(&state, format!("admin-habits:{:?}:{:?}", q.user_id, q.category_id), q.limit, q.cursor.as_deref())?;
    let (habits, next) = match (&q.user_id, &q.category_id) {
        (user, Some(cid)) => {
            state.db.list_category_habits(cid, user.as_deref(), paging.limit, paging.start.take()).await?
        }
        (Some(user), None) => state.db.list_user_habits(user, None, paging.limit, paging.start.take()).await?,
        (None, None) => state.db.list_all_habits(paging.limit, paging.start.take()).await?,
    };
    Ok(axum::Json(paging.finish(habits.iter().map(view).collect(), next)?))
}
