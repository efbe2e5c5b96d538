//! `functions/auth`: registration, login, token refresh and logout, plus the `/health` probe.

use axum::{http::StatusCode, response::IntoResponse, Router};
use serde::{Deserialize, Serialize};
use shared::{
    domain::{Checker, Email, Password, Phone, Username},
    http::Json,
    keys,
    models::{ProfileItem, Role, UserItem, UserView},
    password, session,
    session::TokenPair,
    ApiError, ApiResult, AppState,
};

shared::routes! {
    POST "/auth/register" => register,
    POST "/auth/login" => login,
    POST "/auth/refresh" => refresh,
    POST "/auth/logout" => logout,
    GET "/health" => health,
}

/// The function's router, ready for `lambda_http::run` or a test's `oneshot`.
pub fn app(state: AppState) -> Router {
    shared::http::finish(routes(), state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    username: String,
    email: String,
    #[serde(default)]
    phone: Option<String>,
    password: String,
}

/// A new session: the user and their tokens.
#[derive(Serialize)]
struct SessionBody {
    user: UserView,
    #[serde(flatten)]
    tokens: TokenPair,
}

/// Checks a registration and builds the user it describes (the password hashed).
pub async fn new_user(
    username: &str,
    email: &str,
    phone: Option<&str>,
    password: &str,
    role: Role,
) -> ApiResult<UserItem> {
    let mut c = Checker::default();
    let username = c.check("username", Username::parse(username));
    let email = c.check("email", Email::parse(email));
    let phone = phone.and_then(|p| c.check("phone", Phone::parse(p)));
    let password = c.check(
        "password",
        Password::parse(password, username.as_ref().map(Username::as_str), email.as_ref().map(Email::as_str)),
    );
    c.finish()?;
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        return Err(ApiError::internal("checker passed with missing values"));
    };
    let hash = password::hash(password).await?;
    Ok(UserItem::new(
        ulid::Ulid::new().to_string(),
        username.as_str().to_owned(),
        email.as_str().to_owned(),
        phone.map(|p| p.as_str().to_owned()),
        hash,
        role,
        chrono::Utc::now(),
    ))
}

async fn register(
    state: axum::extract::State<AppState>,
    Json(body): Json<RegisterBody>,
) -> ApiResult<impl IntoResponse> {
    let user = new_user(&body.username, &body.email, body.phone.as_deref(), &body.password, Role::User).await?;
    state.db.create_user(&user, &ProfileItem::empty(&user.user_id, user.created_at)).await?;
    let tokens = session::start(&state, &user).await?;
    Ok((StatusCode::CREATED, axum::Json(SessionBody { user: user.view(), tokens })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
    password: String,
}

const BAD_CREDENTIALS: ApiError = ApiError::Unauthorized("invalid credentials");

async fn login(state: axum::extract::State<AppState>, Json(body): Json<LoginBody>) -> ApiResult<impl IntoResponse> {
    let subject = match (&body.username, &body.email) {
        (Some(u), None) => {
            Username::parse(u).ok().map(|u| (keys::username_guard(u.as_str()), format!("NAME#{}", u.as_str())))
        }
        (None, Some(e)) => {
            Email::parse(e).ok().map(|e| (keys::email_guard(e.as_str()), format!("EMAIL#{}", e.as_str())))
        }
        _ => return Err(ApiError::invalid("username", "give either username or email, not both")),
    };
    if body.password.len() > 4 * Password::MAX {
        return Err(ApiError::invalid("password", "is too long"));
    }
    let now = shared::jwt::now_epoch() as i64;
    let lookup = match &subject {
        Some((guard, subject)) => Some(state.db.login_lookup(guard, subject).await?),
        None => None,
    };
    if let Some(secs) = lookup.as_ref().and_then(|l| l.throttle.as_ref()).and_then(|t| t.locked_for(now)) {
        return Err(ApiError::TooManyRequests { retry_after_secs: secs });
    }
    let user = lookup.as_ref().and_then(|l| l.user.clone());
    // Verify even when the user is unknown, so both cases take the same time and answer alike.
    let ok = password::verify(body.password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(lookup) = lookup else { return Err(BAD_CREDENTIALS) };
    let user = match user {
        Some(user) if ok && user.is_active => user,
        _ => {
            state.db.record_login_failure(&lookup.throttle_key, now).await?;
            return Err(BAD_CREDENTIALS);
        }
    };
    if lookup.throttle.is_some() {
        state.db.clear_login_failures(&lookup.throttle_key).await?;
    }
    let tokens = session::start(&state, &user).await?;
    Ok(axum::Json(SessionBody { user: user.view(), tokens }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh(
    state: axum::extract::State<AppState>,
    Json(body): Json<RefreshBody>,
) -> ApiResult<axum::Json<TokenPair>> {
    Ok(axum::Json(session::refresh(&state, &body.refresh_token).await?))
}

async fn logout(state: axum::extract::State<AppState>, Json(body): Json<RefreshBody>) -> ApiResult<StatusCode> {
    session::end(&state, &body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Liveness: answers without credentials and without touching DynamoDB.
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}
