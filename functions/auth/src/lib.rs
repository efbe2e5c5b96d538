//! `functions/auth`: registration, login, token refresh and logout, plus the `/health` probe.

use axum::{http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use shared::{
    domain::Role,
    domain::{Checker, Email, Password, Phone, Username},
    email,
    http::{Json, SourceIp},
    models::{ProfileItem, UserItem, UserView},
    password, session,
    session::TokenPair,
    storage::throttle::LoginId,
    ApiError, ApiResult, AppState,
};
use utoipa::ToSchema;

shared::routes![
    register,
    login,
    refresh,
    logout,
    health,
    openapi_json,
    time_zones,
    verify_email,
    password_reset,
    password_reset_confirm
];

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    /// 3–30 characters of `a-z 0-9 _ . -`, starting with a letter or digit; trimmed and stored
    /// lower-case (unique case-insensitively).
    #[schema(min_length = 3, max_length = 30, pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,29}$", examples("alice_01"))]
    username: String,
    /// Trimmed and stored lower-case (unique case-insensitively).
    #[schema(format = Email, max_length = 254, examples("alice@example.com"))]
    email: String,
    /// An international number, `+` then 8 to 15 digits; spaces, dashes, dots and brackets are
    /// removed.
    #[serde(default)]
    #[schema(pattern = r"^[ ().-]*\+[ ().-]*[1-9](?:[ ().-]*[0-9]){7,14}[ ().-]*$", examples("+14155550123"))]
    phone: Option<String>,
    /// 10 to 128 characters, not all one character, and not the username or e-mail.
    #[schema(format = Password, min_length = 10, max_length = 128, examples("correct horse battery"))]
    password: String,
}

/// A new session: the user and their tokens.
#[derive(Serialize, ToSchema)]
struct SessionBody {
    user: UserView,
    #[serde(flatten)]
    tokens: TokenPair,
}

/// A registration whose fields are valid; its password not hashed yet.
pub struct Registration {
    username: Username,
    email: Email,
    phone: Option<Phone>,
    password: Password,
}

/// Checks a registration and builds the user it describes (the password hashed).
pub async fn new_user(
    username: &str,
    email: &str,
    phone: Option<&str>,
    password: &str,
    role: Role,
) -> ApiResult<UserItem> {
    check_registration(username, email, phone, password)?.into_user(role).await
}

/// Checks every field of a registration (cheap: no hashing), naming each bad one.
pub fn check_registration(username: &str, email: &str, phone: Option<&str>, password: &str) -> ApiResult<Registration> {
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
    Ok(Registration { username, email, phone, password })
}

impl Registration {
    /// The user, with the password hashed (the expensive part).
    pub async fn into_user(self, role: Role) -> ApiResult<UserItem> {
        let hash = password::hash(self.password).await?;
        Ok(UserItem::new(
            ulid::Ulid::new().to_string(),
            self.username.as_str().to_owned(),
            self.email.as_str().to_owned(),
            self.phone.map(|p| p.as_str().to_owned()),
            hash,
            role,
            chrono::Utc::now(),
        ))
    }
}

/// Registers a new user and starts a session.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterBody,
    responses((status = 201, description = "The new user and their tokens", body = SessionBody),
        (status = 409, description = "The username or e-mail is taken; `errors` names which",
            content_type = "application/problem+json", body = shared::error::Problem),
        (status = 429, description = "Too many password checks from this address; retry after `Retry-After` seconds",
            content_type = "application/problem+json", body = shared::error::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
async fn register(
    state: axum::extract::State<AppState>,
    source: SourceIp,
    Json(body): Json<RegisterBody>,
) -> ApiResult<impl IntoResponse> {
    // Cheap refusals first, before any hashing: the fields, the source's budget (which also
    // bounds how fast one client can learn which names are taken), a taken name or e-mail.
    let registration = check_registration(&body.username, &body.email, body.phone.as_deref(), &body.password)?;
    source.reserve(&state).await?;
    state.db.ensure_free(registration.username.as_str(), registration.email.as_str()).await?;
    let user = registration.into_user(Role::User).await?;
    let session = session::new_session(&state, &user);
    state.db.create_user(&user, &ProfileItem::empty(&user.user_id, user.created_at), Some(&session.family)).await?;
    if let Some(nonce) = &user.verify_nonce {
        email::send_link(&state, &user, email::Purpose::VerifyEmail, nonce).await;
    }
    let tokens = session.tokens(&state, &user)?;
    Ok((StatusCode::CREATED, axum::Json(SessionBody { user: user.view(), tokens })))
}

/// Credentials: exactly one of `username` and `email`, and the password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
    password: String,
}

/// Written by hand: "exactly one of `username` and `email`" is a `oneOf` the derive cannot say.
impl utoipa::PartialSchema for LoginBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        // The identifiers as registration states them: one that cannot name an account is a 400
        // before any password is checked.
        let by = |title: &str, id: &str, rule: serde_json::Value, example: &str| {
            serde_json::json!({
                "title": title,
                "type": "object",
                "additionalProperties": false,
                "required": [id, "password"],
                "properties": {
                    id: rule,
                    "password": {"type": "string", "format": "password", "maxLength": Password::MAX},
                },
                "examples": [{id: example, "password": "correct horse battery"}],
            })
        };
        let username = serde_json::json!({"type": "string", "minLength": 3, "maxLength": 30,
            "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,29}$"});
        let email = serde_json::json!({"type": "string", "format": "email", "maxLength": 254});
        let schema = serde_json::json!({"oneOf": [
            by("UsernameLogin", "username", username, "alice_01"),
            by("EmailLogin", "email", email, "alice@example.com"),
        ]});
        serde_json::from_value(schema).expect("a valid schema")
    }
}

impl ToSchema for LoginBody {}

const BAD_CREDENTIALS: ApiError = ApiError::Unauthorized("invalid credentials");

/// Logs in with a username or e-mail and a password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses(
        (status = 200, description = "The user and their tokens", body = SessionBody),
        (status = 401, description = "Unknown user, wrong password or deactivated account",
            content_type = "application/problem+json", body = shared::error::Problem),
        (status = 429, description = "This identifier, or this address, must wait; retry after `Retry-After` seconds",
            content_type = "application/problem+json", body = shared::error::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn login(
    state: axum::extract::State<AppState>,
    source: SourceIp,
    Json(body): Json<LoginBody>,
) -> ApiResult<impl IntoResponse> {
    // Cheap refusals first, before any password is hashed: an identifier that cannot name an
    // account is a 400, not a password check.
    let id = match (&body.username, &body.email) {
        (Some(u), None) => LoginId::Username(Username::parse(u).map_err(|e| ApiError::invalid("username", &e))?),
        (None, Some(e)) => LoginId::Email(Email::parse(e).map_err(|e| ApiError::invalid("email", &e))?),
        _ => return Err(ApiError::invalid("username", "give exactly one of username and email")),
    };
    if body.password.chars().count() > Password::MAX {
        return Err(ApiError::invalid("password", "is too long"));
    }
    let now = shared::jwt::now_epoch() as i64;
    let throttle_key = id.throttle();
    let (guard, throttle) = state.db.login_lookup(&id.guard(), &throttle_key).await?;
    // Counted before the password is checked, atomically: parallel guesses cannot pass together.
    let (user, ..) = tokio::try_join!(
        async {
            match &guard {
                Some(g) => state.db.get_user(&g.user_id, true).await,
                None => Ok(None),
            }
        },
        source.reserve(&state),
        state.db.reserve_login_attempt(&throttle_key, throttle.as_ref(), now),
    )?;
    // Verify even when the user is unknown, so both cases take the same time and answer alike.
    let ok = password::verify(body.password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let user = match user {
        Some(user) if ok && user.is_active => user,
        _ => return Err(BAD_CREDENTIALS),
    };
    let (tokens, _) = tokio::try_join!(session::start(&state, &user), state.db.clear_login_failures(&throttle_key))?;
    Ok(axum::Json(SessionBody { user: user.view(), tokens }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    /// The `refresh_token` of the session's latest token pair.
    refresh_token: String,
}

/// Exchanges a refresh token for a new token pair (the presented token is spent).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 401, description = "The refresh token is malformed, expired, spent or revoked",
            content_type = "application/problem+json", body = shared::error::Problem),
    ))]
async fn refresh(
    state: axum::extract::State<AppState>,
    Json(body): Json<RefreshBody>,
) -> ApiResult<axum::Json<TokenPair>> {
    Ok(axum::Json(session::refresh(&state, &body.refresh_token).await?))
}

/// Ends the session a refresh token belongs to.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshBody,
    responses(
        (status = 204, description = "Logged out (also for an unknown but well-formed token)"),
        (status = 401, description = "The refresh token is malformed",
            content_type = "application/problem+json", body = shared::error::Problem),
    ))]
async fn logout(state: axum::extract::State<AppState>, Json(body): Json<RefreshBody>) -> ApiResult<StatusCode> {
    session::end(&state, &body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The liveness answer.
#[derive(Serialize, ToSchema)]
struct Health {
    #[schema(inline)]
    status: HealthStatus,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum HealthStatus {
    Ok,
}

/// Liveness: answers without credentials and without touching DynamoDB.
#[utoipa::path(get, path = "/health", tag = "auth",
    responses((status = 200, description = "The service is up", body = Health)))]
async fn health() -> axum::Json<Health> {
    axum::Json(Health { status: HealthStatus::Ok })
}

/// The API's OpenAPI 3.1 document, generated from the handlers' annotations (`make openapi`
/// writes it; the tests fail while it is not current). Compiled in: serving it costs nothing at
/// start.
const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

/// An OpenAPI 3.1 document: what a client reads of it (the full form is the OpenAPI
/// specification's schema, <https://spec.openapis.org/oas/3.1/schema/2022-10-07>).
struct OpenApiDocument;

impl utoipa::PartialSchema for OpenApiDocument {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        // A map of objects: each value is an object the OpenAPI specification describes.
        let map = |description: &str| {
            let object = serde_json::json!({"type": "object", "additionalProperties": true});
            serde_json::json!({"type": "object", "description": description, "additionalProperties": object})
        };
        let schema = serde_json::json!({
            "type": "object",
            "description": "An OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0).",
            "required": ["openapi", "info", "paths"],
            "properties": {
                "openapi": {"type": "string", "pattern": r"^3\.1\.\d+$", "description": "The OpenAPI version"},
                "info": {
                    "type": "object",
                    "required": ["title", "version"],
                    "properties": {
                        "title": {"type": "string"},
                        "version": {"type": "string", "description": "The API's version; generated clients take it"},
                    },
                },
                "servers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["url"],
                        "properties": {"url": {"type": "string"}, "description": {"type": "string"}},
                    },
                },
                "paths": map("The operations, by path and method"),
                "components": map("Schemas and security schemes, by kind"),
            },
        });
        serde_json::from_value(schema).expect("a valid schema")
    }
}

impl ToSchema for OpenApiDocument {}

/// The OpenAPI 3.1 document describing this API.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = OpenApiDocument)))]
async fn openapi_json() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

/// The time zones the API accepts.
#[derive(Serialize, ToSchema)]
struct TimeZoneList {
    /// The tz database release the names come from, e.g. `2025b`.
    version: &'static str,
    /// Every accepted name, sorted: the tz database's zones and their aliases (links).
    #[schema(schema_with = time_zone_names)]
    time_zones: Vec<&'static str>,
}

fn time_zone_names() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new().items(utoipa::openapi::Ref::from_schema_name("TimeZone")).build()
}

/// Lists the time zone names the API accepts.
///
/// For a picker; a browser's own zone (`Intl.DateTimeFormat().resolvedOptions().timeZone`) is
/// among them. The same for everyone until the API's tz database is updated: cacheable for a day.
#[utoipa::path(get, path = "/time-zones", tag = "meta",
    responses((status = 200, description = "The accepted names", body = TimeZoneList,
        headers(("Cache-Control" = String, description = "`public, max-age=86400`")))))]
async fn time_zones() -> impl axum::response::IntoResponse {
    let body = TimeZoneList {
        version: shared::domain::TimeZone::DATABASE_VERSION,
        time_zones: shared::domain::TimeZone::names(),
    };
    ([(axum::http::header::CACHE_CONTROL, "public, max-age=86400")], axum::Json(body))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    /// The `token` of the link's query.
    #[schema(max_length = 1024)]
    token: String,
}

/// Confirms an e-mail address: the token of the link sent to it (at registration, at a change of
/// address, or on `POST /me/email-verification`). Each link works once, for 48 hours, and only
/// while the account still has that address.
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", request_body = TokenBody,
    responses((status = 204, description = "The address is verified")))]
async fn verify_email(state: axum::extract::State<AppState>, Json(body): Json<TokenBody>) -> ApiResult<StatusCode> {
    let claims = email::verify(&state.cursors, email::Purpose::VerifyEmail, &body.token, chrono::Utc::now())?;
    state.db.confirm_email(&claims).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    #[schema(format = Email, max_length = 254, examples("alice@example.com"))]
    email: String,
}

/// The answer to a reset request, whatever the address.
#[derive(Serialize, ToSchema)]
struct ResetAccepted {
    detail: &'static str,
}

const RESET_ACCEPTED: &str = "If an account has this address, a link to choose a new password is on its way.";

/// Asks for a password reset link. The answer is the same whether or not an account has the
/// address (nobody learns which addresses are registered); the link goes to the account's own
/// address, works once, for one hour; at most one every 5 minutes goes to an account. Counted
/// against the source address's budget, as logins are.
#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", request_body = ResetBody,
    responses((status = 202, description = "Accepted (the same for every address)", body = ResetAccepted),
        (status = 429, description = "Too many requests from this address; retry after `Retry-After` seconds",
            content_type = "application/problem+json", body = shared::error::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
async fn password_reset(
    state: axum::extract::State<AppState>,
    source: SourceIp,
    Json(body): Json<ResetBody>,
) -> ApiResult<impl IntoResponse> {
    let address = Email::parse(&body.email).map_err(|m| ApiError::invalid("email", m))?;
    source.reserve(&state).await?;
    if let Some(user) = state.db.user_by_email(address.as_str()).await?.filter(|u| u.is_active) {
        let nonce = email::nonce();
        // Within the cooldown of the last link nothing is sent, and the answer is the same.
        if state.db.start_link(&user, email::Purpose::ResetPassword, &nonce).await? {
            email::send_link(&state, &user, email::Purpose::ResetPassword, &nonce).await;
        }
    }
    Ok((StatusCode::ACCEPTED, axum::Json(ResetAccepted { detail: RESET_ACCEPTED })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResetConfirmBody {
    #[schema(max_length = 1024)]
    token: String,
    /// 10 to 128 characters, not all one character, and not the username or e-mail.
    #[schema(format = Password, min_length = 10, max_length = 128)]
    new_password: String,
}

/// Sets a new password with a reset link's token, and signs the account out everywhere (every
/// access and refresh token is revoked). Log in with the new password afterwards.
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirmBody,
    responses((status = 204, description = "The password is changed; every session has ended")))]
async fn password_reset_confirm(
    state: axum::extract::State<AppState>,
    Json(body): Json<ResetConfirmBody>,
) -> ApiResult<StatusCode> {
    let claims = email::verify(&state.cursors, email::Purpose::ResetPassword, &body.token, chrono::Utc::now())?;
    let user = state
        .db
        .get_user(&claims.user_id, true)
        .await?
        .ok_or_else(|| ApiError::invalid("token", "is not a valid link, or it has expired or been used"))?;
    let new = Password::parse(&body.new_password, Some(&user.username), Some(&user.email))
        .map_err(|m| ApiError::invalid("new_password", m))?;
    let hash = password::hash(new).await?;
    state.db.reset_password(&claims, &hash).await?;
    Ok(StatusCode::NO_CONTENT)
}
