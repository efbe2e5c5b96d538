//! Statistics of a habit, and the caller's day (`/me/today`).

use super::*;

#[derive(Serialize, ToSchema)]
pub(crate) struct StatsView {
    pub(crate) habit_id: String,
    /// The caller's today, in their time zone: the day the figures are computed for.
    pub(crate) as_of: NaiveDate,
    pub(crate) time_zone: String,
    #[serde(flatten)]
    pub(crate) stats: Stats,
}

/// Streaks and completion rates of a habit, as of the caller's today.
#[utoipa::path(get, path = "/habits/{id}/stats", tag = "habits", security(("bearer" = [])), params(("id" = String, Path, description = "Habit id")),
    responses((status = 200, description = "The statistics", body = StatsView)))]
pub(crate) async fn get_stats(State(state): State<AppState>, me: Reader, id: Id<noun::Habit>) -> ApiJson<StatsView> {
    let (me, found) = me.read(&state, state.db.get_habit_with_history(me.id(), &id)).await?;
    let found = found.ok_or(ApiError::NotFound("habit"))?;
    let today = me.user.today();
    let stats = found.stats(today);
    Ok(axum::Json(StatsView {
        habit_id: id.into_string(),
        as_of: today,
        time_zone: me.user.tz().name().to_owned(),
        stats,
    }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TodayItem {
    pub(crate) habit: HabitView,
    pub(crate) entry: Option<EntryView>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TodayView {
    pub(crate) date: NaiveDate,
    pub(crate) time_zone: String,
    pub(crate) items: Vec<TodayItem>,
}

/// Every active habit scheduled today (the caller's today) with today's entry: one Query, sent
/// with the caller's check, before the caller's time zone is known: it starts at the earliest day
/// that is today anywhere (UTC−12), and today's entries are picked out once the zone is.
#[utoipa::path(get, path = "/me/today", tag = "habits", security(("bearer" = [])),
    responses((status = 200, description = "Today's habits", body = TodayView)))]
pub(crate) async fn today(State(state): State<AppState>, me: Reader) -> ApiJson<TodayView> {
    let earliest = (Utc::now() - chrono::Duration::hours(12)).date_naive();
    let (me, (habits, entries)) = me.read(&state, state.db.habits_and_entries_from(me.id(), earliest)).await?;
    let today = me.user.today();
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
