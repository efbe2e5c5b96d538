//! Every user's habits, for admins.

use super::*;

shared::page_query! {
    pub(crate) struct AdminQuery {
        /// Only this user's habits.
        #[serde(default)]
        pub(crate) user_id: Option<String>,
        /// Only habits filed under this category.
        #[serde(default)]
        pub(crate) category_id: Option<String>,
    }
}

/// Every user's habits (GSI1), or one user's (GSI2), or one category's (links), admins only.
#[utoipa::path(get, path = "/admin/habits", tag = "habits", security(("bearer" = ["admin"])), params(AdminQuery),
    responses((status = 200, description = "A page of habits", body = PageBody<HabitView>)))]
pub(crate) async fn admin_list_habits(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<AdminQuery>,
) -> ApiJson<PageBody<HabitView>> {
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
