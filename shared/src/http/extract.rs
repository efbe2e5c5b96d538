//! Extractors that answer bad input with problem+json naming the field: JSON bodies, query
//! parameters, path ids, the source address and the invocation's deadline.

use crate::{
    error::{ApiError, FieldError},
    state::AppState,
};
use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, StatusCode},
};
use serde::{de::DeserializeOwned, Deserialize};

/// Picks the field name out of serde messages such as "unknown field `role`, expected ...".
fn field_in_message(message: &str) -> Option<&str> {
    let rest =
        ["unknown field `", "missing field `", "duplicate field `"].iter().find_map(|p| message.strip_prefix(p))?;
    rest.split('`').next()
}

fn data_error(path: String, message: String) -> ApiError {
    let field = match field_in_message(&message) {
        Some(field) if path == "." => field.to_owned(),
        // serde_path_to_error already ends the path with an unknown field's name.
        Some(field) if path == field || path.ends_with(&format!(".{field}")) => path,
        Some(field) => format!("{path}.{field}"),
        None => path,
    };
    let message = if message.starts_with("unknown field") { "is not an accepted field".to_owned() } else { message };
    ApiError::Validation(vec![FieldError::new(field, message)])
}

/// A JSON request body of type `T`. Unlike `axum::Json`, every rejection is problem+json:
/// 415 without a JSON content type, 413 over the size limit, 400 for malformed JSON, and 400
/// naming the field for wrong types, missing or unknown fields.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(req, state).await?.ok_or(ApiError::UnsupportedMediaType)?;
        parse_json(&bytes).map(Json)
    }
}

/// A JSON body that may be absent: no body at all (or `null`) is `None`; a body is checked as
/// [`Json`] does.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match json_bytes(req, state).await? {
            Some(bytes) if !matches!(bytes.trim_ascii(), b"" | b"null") => {
                parse_json(&bytes).map(|v| OptionalJson(Some(v)))
            }
            _ => Ok(OptionalJson(None)),
        }
    }
}

/// The body of a request that declares JSON; `None` when there is no body and no JSON content
/// type. 415 for a body of another type, 413 over the size limit.
pub(crate) async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Option<axum::body::Bytes>, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false);
    let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest("the request body could not be read".into())
        }
    })?;
    match (bytes.is_empty(), is_json) {
        (true, false) => Ok(None),
        (_, false) => Err(ApiError::UnsupportedMediaType),
        (_, true) => Ok(Some(bytes)),
    }
}

/// Parses a request body into `T`, naming the offending field on failure. The body must be a
/// JSON object: serde would otherwise read a struct from an array by position.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::BadRequest("the request body must be a JSON object".into()));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => data_error(path, strip_position(&inner.to_string())),
            _ => ApiError::BadRequest(format!("malformed JSON: {inner}")),
        }
    })?;
    de.end().map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    Ok(value)
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// For integer fields: JSON does not tell `3` from `3.0` (JSON Schema calls both integers), serde
/// does. Use with `#[serde(deserialize_with = "shared::http::whole_number")]`, or [`Whole`].
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Whole::deserialize(d).map(|w| w.0)
}

/// A whole number from a body, written `3` or `3.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whole(pub u32);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        n.as_u64()
            .or_else(|| {
                n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX)).map(|f| f as u64)
            })
            .and_then(|n| u32::try_from(n).ok())
            .map(Whole)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid value: {n}, expected a whole number")))
    }
}

/// Query parameters of type `T`; bad or unknown parameters are a 400 naming them.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Query).map_err(|e| {
            let path = e.path().to_string();
            data_error(path, e.into_inner().to_string())
        })
    }
}

pub use crate::domain::is_ulid;

/// What a path id names: its 404 says "<NAME> not found", and it is read from the path
/// parameter `PARAM`.
pub trait Noun {
    const NAME: &'static str;
    const PARAM: &'static str = "id";
}

/// The nouns of path ids.
pub mod noun {
    macro_rules! nouns {
        ($($noun:ident = $name:literal $(in $param:literal)?),* $(,)?) => {$(
            #[doc = concat!("A ", $name, " (its id in the path)")]
            pub enum $noun {}
            impl super::Noun for $noun {
                const NAME: &'static str = $name;
                $(const PARAM: &'static str = $param;)?
            }
        )*};
    }
    nouns! {
        Habit = "habit", Category = "category", Challenge = "challenge", Membership = "membership",
        Reminder = "reminder", Notification = "notification", User = "user", Webhook = "webhook",
        PushSubscription = "push subscription",
        LinkedCategory = "category" in "category_id",
    }
}

/// A path id that can name something: a ULID, kept as sent. Anything else names nothing and is
/// the noun's 404 before any read (`/habits/abc` is "habit not found").
pub struct Id<N>(String, std::marker::PhantomData<N>);

impl<N> Id<N> {
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<N> std::fmt::Display for Id<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<N> std::ops::Deref for Id<N> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<N: Noun, S: Send + Sync> FromRequestParts<S> for Id<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound(N::NAME))?;
        params
            .iter()
            .find(|(name, _)| *name == N::PARAM)
            .map(|(_, value)| value)
            .filter(|value| is_ulid(value))
            .map(|value| Id(value.to_owned(), std::marker::PhantomData))
            .ok_or(ApiError::NotFound(N::NAME))
    }
}

/// For PATCH bodies: tells an absent field (`None`) from an explicit `null` (`Some(None)`).
/// Use with `#[serde(default, deserialize_with = "shared::http::nullable")]`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

/// The client's address as API Gateway saw it (`requestContext.http.sourceIp`), for per-source
/// limits. `None` where no API Gateway stands in front (a router called directly in a test).
pub struct SourceIp(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SourceIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        use lambda_http::request::RequestContext;
        let ip = parts.extensions.get::<RequestContext>().and_then(|context| match context {
            RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
            #[allow(unreachable_patterns)]
            _ => None,
        });
        Ok(SourceIp(ip.filter(|ip| !ip.is_empty())))
    }
}

impl SourceIp {
    /// Counts one password check from this source (a no-op without a known source): see
    /// [`crate::storage::throttle`].
    pub async fn reserve(&self, state: &AppState) -> Result<(), ApiError> {
        match &self.0 {
            Some(ip) => {
                let now = crate::jwt::now_epoch() as i64;
                state.db.reserve_source_attempt(ip, now, state.auth.login_source_attempts).await
            }
            None => Ok(()),
        }
    }
}

/// When a request handler should stop taking new work (long sweeps): shortly before the Lambda
/// invocation's deadline ([`crate::deadline`]; 10 s, the template's timeout, when the deadline
/// cannot be believed). `None` where no Lambda runtime stands behind (a test's router call).
pub struct StopAt(pub Option<tokio::time::Instant>);

/// The HTTP functions' timeout in `infra/template.yaml` (`Globals.Function.Timeout`).
pub const FUNCTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for StopAt {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let context = parts.extensions.get::<lambda_http::Context>();
        Ok(StopAt(context.map(|c| crate::deadline::stop_at(c.deadline, FUNCTION_TIMEOUT))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        age: Option<u8>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Count {
        #[serde(deserialize_with = "whole_number")]
        n: u32,
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_zero_fraction() {
        // JSON Schema's integers include 3.0.
        assert_eq!(parse_json::<Count>(br#"{"n":3.0}"#).unwrap().n, 3);
        assert_eq!(parse_json::<Count>(br#"{"n":3}"#).unwrap().n, 3);
        for bad in [r#"{"n":3.5}"#, r#"{"n":-1}"#, r#"{"n":1e20}"#, r#"{"n":"3"}"#] {
            assert_eq!(fields(parse_json::<Count>(bad.as_bytes()).unwrap_err()), ["n"], "{bad}");
        }
    }

    async fn through_extractor(content_type: &str, body: &'static str) -> Result<Option<Count>, ApiError> {
        let req =
            Request::builder().header(header::CONTENT_TYPE, content_type).body(axum::body::Body::from(body)).unwrap();
        OptionalJson::<Count>::from_request(req, &()).await.map(|j| j.0)
    }

    #[tokio::test]
    async fn extractors_answer_as_documented() {
        assert!(through_extractor("application/json", "null").await.unwrap().is_none());
        assert!(through_extractor("application/json", "").await.unwrap().is_none());
        assert_eq!(through_extractor("application/json", r#"{"n":2}"#).await.unwrap().unwrap().n, 2);
        assert!(matches!(through_extractor("text/plain", "x").await, Err(ApiError::UnsupportedMediaType)));
        assert!(matches!(through_extractor("application/json", "[1]").await, Err(ApiError::BadRequest(_))));
        let req = Request::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from("null"))
            .unwrap();
        assert!(matches!(Json::<Count>::from_request(req, &()).await, Err(ApiError::BadRequest(_))));
    }

    fn fields(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(fields(parse_json::<Body>(br#"{"email":"a","role":"admin"}"#).unwrap_err()), ["role"]);
        assert_eq!(fields(parse_json::<Body>(br#"{"age":3}"#).unwrap_err()), ["email"]);
        assert_eq!(fields(parse_json::<Body>(br#"{"email":"a","age":"old"}"#).unwrap_err()), ["age"]);
        assert!(matches!(parse_json::<Body>(br#"{"email":"#), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse_json::<Body>(br#"{"email":"a"} x"#), Err(ApiError::BadRequest(_))));
        assert!(parse_json::<Body>(br#"{"email":"a","age":3}"#).is_ok());
        // serde reads a struct from an array by position: a body must be an object.
        assert!(matches!(parse_json::<Body>(br#"["a", 3]"#), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse_json::<Body>(b" null"), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse_json::<Body>(b"\xf2\x38"), Err(ApiError::BadRequest(_))));
        assert_eq!(fields(parse_json::<Body>(br#"{"email":"a","email":"b"}"#).unwrap_err()), ["email"]);
        assert!(matches!(parse_json::<Body>(b"3"), Err(ApiError::BadRequest(_))));
    }
}
