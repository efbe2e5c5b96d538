//! Self service: the caller's account, password and profile.

use super::*;

/// The caller's account.
#[utoipa::path(get, path = "/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The caller's account", body = UserView)))]
pub(crate) async fn get_me(me: AuthUser) -> ApiJson<UserView> {
    Ok(axum::Json(me.user.view()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchMeBody {
    /// 3–30 characters of `a-z 0-9 _ . -`, starting with a letter or digit; trimmed and stored
    /// lower-case (unique case-insensitively).
    #[serde(default)]
    #[schema(min_length = 3, max_length = 30, pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,29}$", examples("alice_01"))]
    pub(crate) username: Option<String>,
    /// Trimmed and stored lower-case (unique case-insensitively).
    #[serde(default)]
    #[schema(format = Email, max_length = 254, examples("alice@example.com"))]
    pub(crate) email: Option<String>,
    /// An international number, `+` then 8 to 15 digits; spaces, dashes, dots and brackets are
    /// removed. `null` removes the phone number.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(pattern = r"^[ ().-]*\+[ ().-]*[1-9](?:[ ().-]*[0-9]){7,14}[ ().-]*$", examples("+14155550123"))]
    pub(crate) phone: Option<Option<String>>,
    /// The caller's current password: required to change the e-mail.
    #[serde(default)]
    #[schema(format = Password, max_length = 128, examples("correct horse battery"))]
    pub(crate) current_password: Option<String>,
    /// `true`: reminders are also e-mailed (to a verified address).
    #[serde(default)]
    pub(crate) email_reminders: Option<bool>,
}

/// Changes the caller's username, e-mail or phone number (a new e-mail needs `current_password`).
#[utoipa::path(patch, path = "/me", tag = "users", security(("bearer" = [])), request_body = PatchMeBody,
    responses((status = 200, description = "The updated account", body = UserView),
        (status = 429, description = "Too many password checks; retry after `Retry-After` seconds",
            content_type = "application/problem+json", body = shared::error::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub(crate) async fn patch_me(
    State(state): State<AppState>,
    source: SourceIp,
    me: AuthUser,
    Json(body): Json<PatchMeBody>,
) -> ApiJson<UserView> {
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
    if let Some(on) = body.email_reminders {
        updated.email_reminders = on;
    }
    if updated.username == current.username
        && updated.email == current.email
        && updated.phone == current.phone
        && updated.email_reminders == current.email_reminders
    {
        return Ok(axum::Json(current.view()));
    }
    let new_address = updated.email != current.email;
    if new_address {
        // A new address is unverified until a link sent to it is used.
        updated.email_verified = false;
        updated.verify_nonce = Some(shared::email::nonce());
    }
    if updated.email != current.email {
        // The e-mail is where a password reset goes: changing it is taking the account.
        shared::auth::confirm_password(&state, &source, &me, body.current_password).await?;
    }
    updated.version += 1;
    updated.updated_at = Utc::now();
    state.db.update_user(&current, &updated, None).await?;
    if let (true, Some(nonce)) = (new_address, &updated.verify_nonce) {
        shared::email::send_link(&state, &updated, shared::email::Purpose::VerifyEmail, nonce).await;
    }
    Ok(axum::Json(updated.view()))
}

/// Sends a new verification link to the caller's address (an earlier link stops working); at most
/// one a minute.
#[utoipa::path(post, path = "/me/email-verification", tag = "users", security(("bearer" = [])),
    responses((status = 202, description = "A link is on its way to the caller's address"),
        (status = 409, description = "The address is verified already", content_type = "application/problem+json",
            body = shared::error::Problem),
        (status = 429, description = "A link went out less than a minute ago; retry after `Retry-After` seconds",
            content_type = "application/problem+json", body = shared::error::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub(crate) async fn resend_verification(State(state): State<AppState>, me: AuthUser) -> ApiResult<StatusCode> {
    if me.user.email_verified {
        return Err(ApiError::Conflict { detail: "the e-mail address is verified already".into(), field: None });
    }
    let nonce = shared::email::nonce();
    if !state.db.start_link(&me.user, shared::email::Purpose::VerifyEmail, &nonce).await? {
        let wait = shared::email::Purpose::VerifyEmail.cooldown().num_seconds() as u64;
        return Err(ApiError::TooManyRequests { retry_after_secs: wait });
    }
    shared::email::send_link(&state, &me.user, shared::email::Purpose::VerifyEmail, &nonce).await;
    Ok(StatusCode::ACCEPTED)
}

/// Admins cannot delete themselves here (that could leave no admin); another admin can.
pub(crate) const ADMIN_SELF_DELETE: &str = "admins cannot delete their own account; ask another admin";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmBody {
    /// The caller's current password.
    #[schema(format = Password, max_length = 128, examples("correct horse battery"))]
    pub(crate) current_password: String,
}

/// Deletes the caller's account (not for admins); needs the current password.
#[utoipa::path(delete, path = "/me", tag = "users", security(("bearer" = [])), request_body = ConfirmBody,
    responses((status = 204, description = "Deleted, and everything the account held"),
        (status = 202, description = "Deleted: the account is gone (its name and e-mail free, every token dead); \
            what it held is being removed and will be gone within minutes"),
        (status = 429, description = "Too many password checks; retry after `Retry-After` seconds",
            content_type = "application/problem+json", body = shared::error::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub(crate) async fn delete_me(
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
pub(crate) async fn delete_account(state: &AppState, user: &UserItem, stop_at: StopAt) -> ApiResult<StatusCode> {
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
pub(crate) struct PasswordBody {
    #[schema(format = Password, examples("correct horse battery"))]
    pub(crate) current_password: String,
    /// 10 to 128 characters, not all one character, not the username or e-mail, and different
    /// from the current password.
    #[schema(format = Password, min_length = 10, max_length = 128, examples("staple battery horse correct"))]
    pub(crate) new_password: String,
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
pub(crate) async fn change_password(
    State(state): State<AppState>,
    source: SourceIp,
    me: AuthUser,
    Json(body): Json<PasswordBody>,
) -> ApiJson<TokenPair> {
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
pub(crate) async fn get_my_profile(State(state): State<AppState>, me: Reader) -> ApiJson<ProfileView> {
    let (_, profile) = me.read(&state, profile_of(&state, me.id())).await?;
    Ok(profile)
}

pub(crate) async fn profile_of(state: &AppState, user_id: &str) -> ApiJson<ProfileView> {
    let profile = state.db.get_profile(user_id).await?.ok_or(ApiError::NotFound("profile"))?;
    Ok(axum::Json(profile.view()))
}

/// Limits of profile fields.
pub(crate) const NAME_MAX: usize = 50;
pub(crate) const BIO_MAX: usize = 500;

pub(crate) fn check_profile(c: &mut Checker, fields: &ProfileFields) {
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
pub(crate) struct ProfileBody {
    #[serde(default)]
    #[schema(max_length = 50, examples("Alice"))]
    pub(crate) first_name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 50, examples("Lee"))]
    pub(crate) last_name: Option<String>,
    /// Date of birth, from 1900-01-01 to today.
    #[serde(default)]
    #[schema(examples("1990-05-17"))]
    pub(crate) dob: Option<NaiveDate>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub(crate) bio: Option<String>,
    /// An IANA time-zone name.
    #[serde(default)]
    #[schema(examples("Europe/Berlin"))]
    pub(crate) time_zone: Option<String>,
}

/// Replaces the whole profile: fields left out are cleared.
#[utoipa::path(put, path = "/me/profile", tag = "users", security(("bearer" = [])), request_body = ProfileBody,
    responses((status = 200, description = "The new profile", body = ProfileView)))]
pub(crate) async fn put_my_profile(
    State(state): State<AppState>,
    me: AuthUser,
    Json(body): Json<ProfileBody>,
) -> ApiJson<ProfileView> {
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
pub(crate) struct ProfilePatch {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 50, examples("Alice"))]
    pub(crate) first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 50, examples("Lee"))]
    pub(crate) last_name: Option<Option<String>>,
    /// Date of birth, from 1900-01-01 to today.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(examples("1990-05-17"))]
    pub(crate) dob: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 500)]
    pub(crate) bio: Option<Option<String>>,
    /// An IANA time-zone name.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(examples("Europe/Berlin"))]
    pub(crate) time_zone: Option<Option<String>>,
}

/// Changes the fields present in the body (`null` clears one).
#[utoipa::path(patch, path = "/me/profile", tag = "users", security(("bearer" = [])), request_body = ProfilePatch,
    responses((status = 200, description = "The updated profile", body = ProfileView)))]
pub(crate) async fn patch_my_profile(
    State(state): State<AppState>,
    me: AuthUser,
    Json(patch): Json<ProfilePatch>,
) -> ApiJson<ProfileView> {
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
pub(crate) async fn save_profile(
    state: &AppState,
    user_id: &str,
    change: impl FnOnce(ProfileFields) -> ProfileFields,
) -> ApiJson<ProfileView> {
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
