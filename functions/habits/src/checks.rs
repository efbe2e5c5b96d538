//! Checks of habit fields and dates, and the caller's own habit.

use super::*;

pub(crate) fn parse_date(raw: &str) -> ApiResult<NaiveDate> {
    raw.parse().map_err(|_| ApiError::invalid("date", "must be a date like 2026-03-01"))
}

pub(crate) fn check_fields(c: &mut Checker, f: &HabitFields, today: NaiveDate) {
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

/// Loads one of the caller's habits (another user's id is simply not found).
pub(crate) async fn own_habit(state: &AppState, me: &AuthUser, id: &str) -> ApiResult<HabitItem> {
    state.db.get_habit(me.id(), id).await?.ok_or(ApiError::NotFound("habit"))
}
