//! Tracking entries: one per habit and day.

use super::*;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RecordEntry)]
pub(crate) struct EntryBody {
    /// Required unless the habit has a target; then `unit_completed` decides it.
    #[serde(default)]
    pub(crate) status: Option<Status>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub(crate) note: Option<String>,
    /// Units done that day, for a habit with a target.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    pub(crate) unit_completed: Option<f64>,
}

/// Decides an entry's status: for a habit with a numeric target, `unit_completed` against the
/// target decides done / partial (0 is missed) unless the day is explicitly skipped or missed.
pub(crate) fn decide_status(
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
pub(crate) async fn put_entry(
    State(state): State<AppState>,
    me: AuthUser,
    id: Id<noun::Habit>,
    Path((_, date)): Path<(String, String)>,
    Json(b): Json<EntryBody>,
) -> ApiJson<EntryView> {
    let habit = own_habit(&state, &me, &id).await?;
    let date = parse_date(&date)?;
    let today = me.user.today();
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
    let event = me.user.webhook_events.iter().any(|t| t.from_entries());
    let entry = state.db.record_entry(&habit, date, fields, event).await?;
    Ok(axum::Json(entry_view(&entry)))
}

/// The habit's entry for a day.
#[utoipa::path(get, path = "/habits/{id}/entries/{date}", tag = "habits", security(("bearer" = [])),
    params(("id" = String, Path, description = "Habit id"), ("date" = String, Path, description = "The day, e.g. 2026-03-01 (in the caller's time zone)")), responses((status = 200, description = "The entry", body = EntryView)))]
pub(crate) async fn get_entry(
    State(state): State<AppState>,
    me: Reader,
    id: Id<noun::Habit>,
    Path((_, date)): Path<(String, String)>,
) -> ApiJson<EntryView> {
    let read = async {
        let date = parse_date(&date)?;
        tokio::try_join!(state.db.get_habit(me.id(), &id), state.db.get_entry(me.id(), &id, date))
    };
    let (_, (habit, entry)) = me.read(&state, read).await?;
    habit.ok_or(ApiError::NotFound("habit"))?;
    Ok(axum::Json(entry_view(&entry.ok_or(ApiError::NotFound("entry"))?)))
}

/// Deletes the habit's entry for a day.
#[utoipa::path(delete, path = "/habits/{id}/entries/{date}", tag = "habits", security(("bearer" = [])),
    params(("id" = String, Path, description = "Habit id"), ("date" = String, Path, description = "The day, e.g. 2026-03-01 (in the caller's time zone)")), responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_entry(
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

shared::page_query! {
    pub(crate) struct EntriesQuery {
        /// First day (inclusive).
        #[serde(default)]
        pub(crate) from: Option<NaiveDate>,
        /// Last day (inclusive), not before `from`.
        #[serde(default)]
        pub(crate) to: Option<NaiveDate>,
    }
}

/// The habit's entries, oldest first.
#[utoipa::path(get, path = "/habits/{id}/entries", tag = "habits", security(("bearer" = [])),
    params(("id" = String, Path, description = "Habit id"), EntriesQuery), responses((status = 200, description = "A page of entries", body = PageBody<EntryView>)))]

pub(crate) async fn list_entries(
    State(state): State<AppState>,
    me: Reader,
    id: Id<noun::Habit>,
    Query(q): Query<EntriesQuery>,
) -> ApiJson<PageBody<EntryView>> {
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
    let start = paging.start.take();
    let read = async {
        tokio::try_join!(
            state.db.get_habit(me.id(), &id),
            state.db.list_entries(me.id(), &id, from, to, paging.limit, start)
        )
    };
    let (_, (habit, (entries, next))) = me.read(&state, read).await?;
    habit.ok_or(ApiError::NotFound("habit"))?;
    Ok(axum::Json(paging.finish(entries.iter().map(entry_view).collect(), next)?))
}
