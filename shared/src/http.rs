//! The HTTP edge shared by every function: body and query extractors that answer bad input with
//! problem+json naming the field, the route table macro, and the finishing layers (fallbacks,
//! body limit).

use crate::{
    error::{ApiError, FieldError},
    state::AppState,
};
use axum::{
    extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, StatusCode},
    Router,
};
use serde::de::DeserializeOwned;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One route of a function: the method and the path exactly as API Gateway declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
}

/// Declares a function's routes once: it defines `ROUTES` (checked against the SAM template and
/// the local router by the tests) and `routes()`, the axum router serving exactly those.
///
/// ```text
/// shared::routes! {
///     GET "/me" => get_me,
///     PATCH "/me" => patch_me,
/// }
/// ```
#[macro_export]
macro_rules! routes {
    ($( $method:ident $path:literal => $handler:expr ),* $(,)?) => {
        /// Every route this function serves: method and path as API Gateway declares them.
        pub const ROUTES: &[$crate::http::Route] = &[$( $crate::http::Route { method: stringify!($method), path: $path } ),*];

        fn routes() -> ::axum::Router<$crate::state::AppState> {
            let router = ::axum::Router::new();
            $( let router = router.route($path, ::axum::routing::on(::axum::routing::MethodFilter::$method, $handler)); )*
            router
        }
    };
}

/// Adds what every function's router needs: problem+json 404/405, the body limit, the state.
pub fn finish(router: Router<AppState>, state: AppState) -> Router {
    router
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Picks the field name out of serde messages such as "unknown field `role`, expected ...".
fn field_in_message(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("missing field `"))?;
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
        match OptionalJson::<T>::from_request(req, state).await? {
            OptionalJson(Some(value)) => Ok(Json(value)),
            OptionalJson(None) => Err(ApiError::UnsupportedMediaType),
        }
    }
}

/// A JSON body that may be absent: no body at all is `None`; a body is checked as [`Json`] does.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
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
        if bytes.is_empty() && !is_json {
            return Ok(OptionalJson(None));
        }
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_json(&bytes).map(|v| OptionalJson(Some(v)))
    }
}

/// Parses a JSON document into `T`, naming the offending field on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
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

/// For PATCH bodies: tells an absent field (`None`) from an explicit `null` (`Some(None)`).
/// Use with `#[serde(default, deserialize_with = "shared::http::nullable")]`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

/// A page of a listing, as every list endpoint returns it.
#[derive(Debug, serde::Serialize)]
pub struct PageBody<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One page request of a listing: the checked page size and the decoded start key, bound to the
/// listing's `scope` (a cursor from another listing is rejected).
pub struct Paging<'a> {
    cursors: &'a crate::cursor::CursorKey,
    scope: String,
    pub limit: i32,
    /// Where the page starts; take it into the Query.
    pub start: Option<crate::storage::Item>,
}

impl<'a> Paging<'a> {
    pub fn new(
        state: &'a AppState,
        scope: impl Into<String>,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Self, ApiError> {
        let scope = scope.into();
        let limit = page_size(limit)?;
        let start = cursor.map(|c| state.cursors.decode(&scope, c)).transpose()?;
        Ok(Paging { cursors: &state.cursors, scope, limit, start })
    }

    /// The response body: the items and, unless this was the last page, the next cursor.
    pub fn finish<T>(&self, items: Vec<T>, last_key: Option<crate::storage::Item>) -> Result<PageBody<T>, ApiError> {
        let next_cursor = last_key.as_ref().map(|k| self.cursors.encode(&self.scope, k)).transpose()?;
        Ok(PageBody { items, next_cursor })
    }
}

/// Page-size bounds of every listing.
pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

/// Checks a requested page size (`limit`), defaulting when absent.
pub fn page_size(limit: Option<i64>) -> Result<i32, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=i64::from(MAX_PAGE_SIZE)).contains(&n) => Ok(n as i32),
        Some(_) => Err(ApiError::invalid("limit", format!("must be between 1 and {MAX_PAGE_SIZE}"))),
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
    }

    #[test]
    fn page_size_bounds() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(Some(100)).unwrap(), 100);
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(101)).is_err());
    }
}
