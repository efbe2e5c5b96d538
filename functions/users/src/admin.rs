//! Users, for admins: list, read, change role and activity, delete.

use super::*;

shared::page_query! {
    pub(crate) struct ListQuery {
        /// Only users with this role.
        #[serde(default)]
        #[param(inline)]
        pub(crate) role: Option<Role>,
        /// Only active (`true`) or deactivated (`false`) users.
        #[serde(default)]
        pub(crate) is_active: Option<bool>,
    }
}

/// Lists users (admins).
#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = ["admin"])), params(ListQuery),
    responses((status = 200, description = "A page of users", body = PageBody<UserView>)))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<ListQuery>,
) -> ApiJson<PageBody<UserView>> {
    let mut paging =
        Paging::new(&state, format!("users:{:?}:{:?}", q.role, q.is_active), q.limit, q.cursor.as_deref())?;
    let (users, next) = state.db.list_users(q.role, q.is_active, paging.limit, paging.start.take()).await?;
    Ok(axum::Json(paging.finish(users.iter().map(UserItem::view).collect(), next)?))
}

/// Loads a user by path id.
pub(crate) async fn load_user(state: &AppState, id: &str) -> ApiResult<UserItem> {
    state.db.get_user(id, true).await?.ok_or(ApiError::NotFound("user"))
}

/// One user (admins).
#[utoipa::path(get, path = "/users/{id}", tag = "users", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserView)))]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    _admin: AdminUser,
    id: Id<noun::User>,
) -> ApiJson<UserView> {
    Ok(axum::Json(load_user(&state, &id).await?.view()))
}

/// A user's profile (admins).
#[utoipa::path(get, path = "/users/{id}/profile", tag = "users", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user's profile", body = ProfileView)))]
pub(crate) async fn get_user_profile(
    State(state): State<AppState>,
    _admin: AdminUser,
    id: Id<noun::User>,
) -> ApiJson<ProfileView> {
    load_user(&state, &id).await?;
    profile_of(&state, &id).await
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminPatch {
    #[serde(default)]
    pub(crate) role: Option<Role>,
    /// `false` deactivates the account.
    #[serde(default)]
    pub(crate) is_active: Option<bool>,
}

/// Changes a user's role or activity (admins).
///
/// Changes a user's role or activity. Either change revokes the user's tokens at once.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "User id")), request_body = AdminPatch,
    responses((status = 200, description = "The updated user", body = UserView)))]
pub(crate) async fn patch_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    id: Id<noun::User>,
    Json(patch): Json<AdminPatch>,
) -> ApiJson<UserView> {
    let current = load_user(&state, &id).await?;
    if current.user_id == admin.user.user_id
        && (patch.role.is_some_and(|r| r != Role::Admin) || patch.is_active == Some(false))
    {
        return Err(ApiError::Conflict {
            detail: "admins cannot demote or deactivate themselves; ask another admin".into(),
            field: None,
        });
    }
    let role = patch.role.unwrap_or(current.role);
    let is_active = patch.is_active.unwrap_or(current.is_active);
    if role == current.role && is_active == current.is_active {
        return Ok(axum::Json(current.view()));
    }
    let updated = current.with_access(role, is_active, Utc::now());
    state.db.update_user(&current, &updated, None).await?;
    Ok(axum::Json(updated.view()))
}

/// Deletes a user (admins; not themselves).
#[utoipa::path(delete, path = "/users/{id}", tag = "users", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "Deleted, and everything the account held"),
        (status = 202, description = "Deleted; what the account held is being removed")))]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    stop_at: StopAt,
    id: Id<noun::User>,
) -> ApiResult<StatusCode> {
    let user = load_user(&state, &id).await?;
    if user.user_id == admin.user.user_id {
        return Err(ApiError::Conflict { detail: ADMIN_SELF_DELETE.into(), field: None });
    }
    delete_account(&state, &user, stop_at).await
}
