//! `functions/users`: the caller's own account and profile (`/me...`), and admin user management
//! (`/users...`).

use axum::{extract::State, http::StatusCode, Router};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    auth::{AdminUser, AuthUser},
    domain::Role,
    domain::{Checker, Email, Password, Phone, TimeZone, Username},
    http::{noun, nullable, Id, Json, PageBody, Paging, Query, SourceIp, StopAt},
    models::{ProfileFields, ProfileItem, ProfileView, UserItem, UserView},
    password, session,
    session::TokenPair,
    ApiError, ApiResult, AppState,
};
use utoipa::{IntoParams, ToSchema};

shared::routes![
    get_me,
    patch_me,
    delete_me,
    change_password,
    get_my_profile,
    put_my_profile,
    patch_my_profile,
    list_users,
    get_user,
    patch_user,
    delete_user,
    get_user_profile,
];

pub fn app(state: AppState) -> Router {
    shared::http::finish(routes(), state)
}

type J<T> = ApiResult<axum::Json<T>>;

// ---- self service ----------------------------------------------------------------------------

/// The caller's account.
#[utoipa::path(get, path = "/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The caller's account", body = UserView)))]
async fn get_me(me: AuthUser) -> J<UserView> {
    Ok(axum::Json(me.user.view()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchMeBody {
    /// 3–30 characters of `a-z 0-9 _ . -`, starting with a letter or digit; trimmed and stored
    /// lower-case (unique case-insensitively).
    #[serde(default)]
    #[schema(min_length = 3, max_length = 30, pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,29}$", examples("alice_01"))]
    username: Option<String>,
    /// Trimmed and stored lower-case (unique case-insensitively).
    #[serde(default)]
    #[schema(format = Email, max_length = 254, examples("alice@example.com"))]
    email: Option<String>,
    /// An international number, `+` then 8 to 15 digits; spaces, dashes, dots and brackets are
    /// removed. `null` removes the phone number.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(pattern = r"^[ ().-]*\+[ ().-]*[1-9](?:[ ().-]*[0-9]){7,14}[ ().-]*$", examples("+14155550123"))]
    phone: Option<Option<String>>,
    /// The caller's current password: required to change the e-mail.
    #[serde(default)]
    #[schema(format = Password, max_length = 128, examples("correct horse battery"))]
    current_password: Option<String>,
}

/// Changes the caller's username, e-mail or phone number (a new e-mail needs `current_password`).
#[utoipa::path(patch, path = "/me", tag = "users", security(("bearer" = [])), request_body = PatchMeBody,
    responses((status = 200, description = "The updated account", body = UserView),
        (status = 429, description = "Too many password checks; retry after `Retry-After` seconds",
            content_type = "application/problem+json", body = shared::error::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
async fn patch_me(
    State(state): State<AppState>,
    source: SourceIp,
    me: AuthUser,
    Json(body): Json<PatchMeBody>,
) -> J<UserView> {
    let mut c = Checker::default();
    let username = body.username.as_deref().and_then(|u| c.check("username", Username::parse(u)));
    let email = body.email.as_deref().and_then(|e| c.check("email", Email::parse(e)));
    if body.current_password.as_ref().is_some_and(|p| p.chars().count() > Password::MAX) {
        c.fail("current_password", "is too long");
    }
    let phone = match &body.phone {
        None => None,
        Some(None) => Some(None),
        Some(Some(p)) => c.check("phone", Phone::parse(p)).map(|p| Some(p.as_str().to_owned())),
    };
    c.finish()?;
    let current = me.user.clone();
    let mut updated = current.clone();
    if let Some(u) = username {
        updated.username = u.as_str().to_owned();
    }
    if let Some(e) = email {
        updated.email = e.as_str().to_owned();
    }
    if let Some(p) = phone {
        updated.phone = p;
    }
    if updated.username == current.username && updated.email == current.email && updated.phone == current.phone {
        return Ok(axum::Json(current.view()));
    }
    if updated.email != current.email {
        // The e-mail is where a password reset goes: changing it is taking the account.
        shared::auth::confirm_password(&state, &source, &me, body.current_password).await?;
    }
    updated.version += 1;
    updated.updated_at = Utc::now();
    state.db.update_user(&current, &updated, None).await?;
    Ok(axum::Json(updated.view()))
}

/// Admins cannot delete themselves here (that could leave no admin); another admin can.
const ADMIN_SELF_DELETE: &str = "admins cannot delete their own account; ask another admin";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    /// The caller's current password.
    #[schema(format = Password, max_length = 128, examples("correct horse battery"))]
    current_password: String,
}

/// Deletes the caller's account (not for admins); needs the current password.
#[utoipa::path(delete, path = "/me", tag = "users", security(("bearer" = [])), request_body = ConfirmBody,
    responses((status = 204, description = "Deleted, and everything the account held"),
        (status = 202, description = "Deleted: the account is gone (its name and e-mail free, every token dead); \
            what it held is being removed and will be gone within minutes"),
        (status = 429, description = "Too many password checks; retry after `Retry-After` seconds",
            content_type = "application/problem+json", body = shared::error::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
async fn delete_me(
    State(state): State<AppState>,
    source: SourceIp,
    stop_at: StopAt,
    me: AuthUser,
    Json(body): Json<ConfirmBody>,
) -> ApiResult<StatusCode> {
    if me.user.role == Role::Admin {
        return Err(ApiError::Conflict { detail: ADMIN_SELF_DELETE.into(), field: None });
    }
    shared::auth::confirm_password(&state, &source, &me, Some(body.current_password)).await?;
    delete_account(&state, &me.user, stop_at).await
}

/// Ends an account, then sweeps what it held until the invocation's deadline: 204 when all is
/// gone, 202 when the dispatcher's next runs finish the sweep.
async fn delete_account(state: &AppState, user: &UserItem, stop_at: StopAt) -> ApiResult<StatusCode> {
    state.db.delete_user(user).await?;
    // The account has ended; the marker guarantees the rest goes, so a failure here is a 202.
    match state.db.sweep_user(&user.user_id, stop_at.0).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Ok(StatusCode::ACCEPTED),
        Err(e) => {
            tracing::warn!(error = %e, user_id = %user.user_id, "account sweep left for the dispatcher");
            Ok(StatusCode::ACCEPTED)
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    #[schema(format = Password, examples("correct horse battery"))]
    current_password: String,
    /// 10 to 128 characters, not all one character, not the username or e-mail, and different
    /// from the current password.
    #[schema(format = Password, min_length = 10, max_length = 128, examples("staple battery horse correct"))]
    new_password: String,
}

/// Changes the caller's password.
///
/// Changes the password and revokes every other token: the token version is bumped (old access
/// tokens and refresh families stop working) and a fresh session is returned.
#[utoipa::path(put, path = "/me/password", tag = "users", security(("bearer" = [])), request_body = PasswordBody,
    responses((status = 200, description = "A fresh session; every other token is revoked", body = TokenPair),
        (status = 429, description = "Too many password checks; retry after `Retry-After` seconds",
            content_type = "application/problem+json", body = shared::error::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
async fn change_password(
    State(state): State<AppState>,
    source: SourceIp,
    me: AuthUser,
    Json(body): Json<PasswordBody>,
) -> J<TokenPair> {
    let current = me.user.clone();
    let mut c = Checker::default();
    let new =
        c.check("new_password", Password::parse(&body.new_password, Some(&current.username), Some(&current.email)));
    if body.current_password == body.new_password {
        c.fail("new_password", "must differ from the current password");
    }
    c.finish()?;
    shared::auth::confirm_password(&state, &source, &me, Some(body.current_password)).await?;
    let Some(new) = new else {
        return Err(ApiError::internal("checked password missing"));
    };
    let mut updated = current.clone();
    updated.password_hash = password::hash(new).await?;
    updated.token_version += 1;
    updated.version += 1;
    updated.updated_at = Utc::now();
    // The new session's family in the same transaction: a change whose answer is lost leaves
    // nothing for a repeat to trip over, and no password changed without a session to show.
    let session = session::new_session(&state, &updated);
    state.db.update_user(&current, &updated, Some(&session.family)).await?;
    Ok(axum::Json(session.tokens(&state, &updated)?))
}

/// The caller's profile.
#[utoipa::path(get, path = "/me/profile", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's profile", body = ProfileView),
        (status = 404, description = "The caller has no profile", content_type = "application/problem+json",
            body = shared::error::Problem),
    ))]
async fn get_my_profile(State(state): State<AppState>, me: AuthUser) -> J<ProfileView> {
    profile_of(&state, me.id()).await
}

async fn profile_of(state: &AppState, user_id: &str) -> J<ProfileView> {
    let profile = state.db.get_profile(user_id).await?.ok_or(ApiError::NotFound("profile"))?;
    Ok(axum::Json(profile.view()))
}

/// Limits of profile fields.
const NAME_MAX: usize = 50;
const BIO_MAX: usize = 500;

fn check_profile(c: &mut Checker, fields: &ProfileFields) {
    c.text("first_name", fields.first_name.as_deref(), NAME_MAX);
    c.text("last_name", fields.last_name.as_deref(), NAME_MAX);
    c.text("bio", fields.bio.as_deref(), BIO_MAX);
    if let Some(dob) = fields.dob {
        let today = Utc::now().date_naive();
        if dob > today || dob < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") {
            c.fail("dob", "must be a past date after 1900-01-01");
        }
    }
    if let Some(tz) = &fields.time_zone {
        c.check("time_zone", TimeZone::parse(tz));
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    #[serde(default)]
    #[schema(max_length = 50, examples("Alice"))]
    first_name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 50, examples("Lee"))]
    last_name: Option<String>,
    /// Date of birth, from 1900-01-01 to today.
    #[serde(default)]
    #[schema(examples("1990-05-17"))]
    dob: Option<NaiveDate>,
    #[serde(default)]
    #[schema(max_length = 500)]
    bio: Option<String>,
    /// An IANA time-zone name.
    #[serde(default)]
    #[schema(examples("Europe/Berlin"))]
    time_zone: Option<String>,
}

/// Replaces the whole profile: fields left out are cleared.
#[utoipa::path(put, path = "/me/profile", tag = "users", security(("bearer" = [])), request_body = ProfileBody,
    responses((status = 200, description = "The new profile", body = ProfileView)))]
async fn put_my_profile(State(state): State<AppState>, me: AuthUser, Json(body): Json<ProfileBody>) -> J<ProfileView> {
    let fields = ProfileFields {
        first_name: body.first_name,
        last_name: body.last_name,
        dob: body.dob,
        bio: body.bio,
        time_zone: body.time_zone,
    };
    save_profile(&state, me.id(), |_| fields).await
}

/// The profile fields to change; `null` clears one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProfilePatch {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 50, examples("Alice"))]
    first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 50, examples("Lee"))]
    last_name: Option<Option<String>>,
    /// Date of birth, from 1900-01-01 to today.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(examples("1990-05-17"))]
    dob: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 500)]
    bio: Option<Option<String>>,
    /// An IANA time-zone name.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(examples("Europe/Berlin"))]
    time_zone: Option<Option<String>>,
}

/// Changes the fields present in the body (`null` clears one).
#[utoipa::path(patch, path = "/me/profile", tag = "users", security(("bearer" = [])), request_body = ProfilePatch,
    responses((status = 200, description = "The updated profile", body = ProfileView)))]
async fn patch_my_profile(
    State(state): State<AppState>,
    me: AuthUser,
    Json(patch): Json<ProfilePatch>,
) -> J<ProfileView> {
    save_profile(&state, me.id(), |old| ProfileFields {
        first_name: patch.first_name.unwrap_or(old.first_name),
        last_name: patch.last_name.unwrap_or(old.last_name),
        dob: patch.dob.unwrap_or(old.dob),
        bio: patch.bio.unwrap_or(old.bio),
        time_zone: patch.time_zone.unwrap_or(old.time_zone),
    })
    .await
}

/// Reads the profile, applies `change`, checks the result and writes it at the read version.
async fn save_profile(
    state: &AppState,
    user_id: &str,
    change: impl FnOnce(ProfileFields) -> ProfileFields,
) -> J<ProfileView> {
    let current = state.db.get_profile(user_id).await?.unwrap_or_else(|| ProfileItem::empty(user_id, Utc::now()));
    let fields = change(current.fields.clone());
    let mut c = Checker::default();
    check_profile(&mut c, &fields);
    c.finish()?;
    let updated = ProfileItem { fields, version: current.version + 1, updated_at: Utc::now(), ..current.clone() };
    let tz_changed = updated.fields.time_zone != current.fields.time_zone;
    state.db.put_profile(&updated, current.version, tz_changed).await?;
    Ok(axum::Json(updated.view()))
}

// ---- admin -------------------------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only users with this role.
    #[serde(default)]
    #[param(inline)]
    role: Option<Role>,
    /// Only active (`true`) or deactivated (`false`) users.
    #[serde(default)]
    is_active: Option<bool>,
    /// Page size.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

/// Lists users (admins).
#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = ["admin"])), params(ListQuery),
    responses((status = 200, description = "A page of users", body = PageBody<UserView>)))]
async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<ListQuery>,
) -> J<PageBody<UserView>> {
    let mut paging =
        Paging::new(&state, format!("users:{:?}:{:?}", q.role, q.is_active), q.limit, q.cursor.as_deref())?;
    let (users, next) = state.db.list_users(q.role, q.is_active, paging.limit, paging.start.take()).await?;
    Ok(axum::Json(paging.finish(users.iter().map(UserItem::view).collect(), next)?))
}

/// Loads a user by path id.
async fn load_user(state: &AppState, id: &str) -> ApiResult<UserItem> {
    state.db.get_user(id, true).await?.ok_or(ApiError::NotFound("user"))
}

/// One user (admins).
#[utoipa::path(get, path = "/users/{id}", tag = "users", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserView)))]
async fn get_user(State(state): State<AppState>, _admin: AdminUser, id: Id<noun::User>) -> J<UserView> {
    Ok(axum::Json(load_user(&state, &id).await?.view()))
}

/// A user's profile (admins).
#[utoipa::path(get, path = "/users/{id}/profile", tag = "users", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user's profile", body = ProfileView)))]
async fn get_user_profile(State(state): State<AppState>, _admin: AdminUser, id: Id<noun::User>) -> J<ProfileView> {
    load_user(&state, &id).await?;
    profile_of(&state, &id).await
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AdminPatch {
    #[serde(default)]
    role: Option<Role>,
    /// `false` deactivates the account.
    #[serde(default)]
    is_active: Option<bool>,
}

/// Changes a user's role or activity (admins).
///
/// Changes a user's role or activity. Either change revokes the user's tokens at once.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "User id")), request_body = AdminPatch,
    responses((status = 200, description = "The updated user", body = UserView)))]
async fn patch_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    id: Id<noun::User>,
    Json(patch): Json<AdminPatch>,
) -> J<UserView> {
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
async fn delete_user(
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
