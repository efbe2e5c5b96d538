//! Filing habits under categories.

use super::*;

/// The habit a caller may file: their own, or (admins) anyone's.
pub(crate) async fn assignable_habit(state: &AppState, me: &AuthUser, id: &str) -> ApiResult<HabitItem> {
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
pub(crate) async fn assign_category(
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
pub(crate) async fn unassign_category(
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
