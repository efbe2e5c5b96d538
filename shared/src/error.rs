//! The one error type of the API, rendered as RFC 9457 `application/problem+json`.
//!
//! Handlers return `Result<_, ApiError>`; storage maps DynamoDB failures into it (conditional check
//! → 409/404, throttling → 503 with `Retry-After`). Internal causes are logged, never sent.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request: `field` is the JSON name (dotted for nested fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body or query is well-formed but breaks the rules (400, names every field).
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// The request cannot be read at all (bad JSON, wrong content type ...).
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge,
    /// Missing, malformed, expired or revoked credentials (401).
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// Authenticated, but the role does not allow it (403).
    #[error("forbidden")]
    Forbidden,
    /// The resource does not exist, or is not the caller's (404; the two are indistinguishable).
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("no route for this path")]
    NoRoute,
    /// The path exists, the method does not (axum adds `Allow`).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Uniqueness or a version condition failed (409).
    #[error("conflict: {detail}")]
    Conflict { detail: String, field: Option<&'static str> },
    /// Well-formed, but cannot be processed as it stands (422): an `Idempotency-Key` used before
    /// for a different request.
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// DynamoDB throttled us or is unreachable: the client may retry (503).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure (500). The cause is logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn conflict(field: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Conflict { detail: detail.into(), field: Some(field) }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem `type` slug; the full `type` is `/problems/<slug>`.
    fn slug(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation-error",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::PayloadTooLarge => "payload-too-large",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound(_) | ApiError::NoRoute => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::Conflict { .. } => "conflict",
            ApiError::Unprocessable(_) => "unprocessable-content",
            ApiError::TooManyRequests { .. } => "too-many-requests",
            ApiError::Unavailable(_) => "service-unavailable",
            ApiError::Internal(_) => "internal-error",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid fields: {}", fields.join(", "))
            }
            ApiError::BadRequest(d) => d.clone(),
            ApiError::UnsupportedMediaType => "request body must be JSON (Content-Type: application/json)".into(),
            ApiError::PayloadTooLarge => "request body is too large".into(),
            ApiError::Unauthorized(why) => (*why).into(),
            ApiError::Forbidden => "your role does not allow this operation".into(),
            ApiError::NotFound(what) => format!("{what} not found"),
            ApiError::NoRoute => "no such route".into(),
            ApiError::MethodNotAllowed => "method not allowed on this route".into(),
            ApiError::Conflict { detail, .. } => detail.clone(),
            ApiError::Unprocessable(detail) => detail.clone(),
            ApiError::TooManyRequests { .. } => "too many requests; retry later".into(),
            ApiError::Unavailable(_) => "the service is temporarily unavailable; retry later".into(),
            ApiError::Internal(_) => "an internal error occurred".into(),
        }
    }
}

/// An RFC 9457 problem: the body of every error the API answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    /// A URI reference naming the kind of problem, e.g. `/problems/validation-error`.
    #[serde(rename = "type")]
    type_: String,
    /// The HTTP reason phrase of `status`.
    title: &'a str,
    /// The HTTP status code, equal to the response's.
    #[schema(minimum = 400, maximum = 599)]
    status: u16,
    /// What went wrong, for a person to read.
    detail: String,
    /// The fields at fault (validation errors and uniqueness conflicts).
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(cause) => tracing::error!(error = %cause, "internal error"),
            ApiError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "dependency unavailable")
            }
            _ => tracing::debug!(status = status.as_u16(), error = %self, "request rejected"),
        }
        let conflict_field;
        let errors = match &self {
            ApiError::Validation(errors) => Some(errors.as_slice()),
            ApiError::Conflict { field: Some(field), detail } => {
                conflict_field = [FieldError::new(*field, detail.clone())];
                Some(conflict_field.as_slice())
            }
            _ => None,
        };
        let body = Problem {
            type_: format!("/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail(),
            errors,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Unavailable(_) => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if matches!(self, ApiError::Unauthorized(_)) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// What a handler answering a JSON body returns.
pub type ApiJson<T> = ApiResult<axum::Json<T>>;

#[cfg(test)]
mod tests {
    use super::*;

    async fn render(e: ApiError) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let r = e.into_response();
        let (parts, body) = r.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn validation_names_fields_and_status_matches() {
        let (status, headers, body) =
            render(ApiError::Validation(vec![FieldError::new("email", "bad"), FieldError::new("username", "short")]))
                .await;
        assert_eq!(status, 400);
        assert_eq!(headers[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(body["status"], 400);
        assert_eq!(body["type"], "/problems/validation-error");
        assert_eq!(body["errors"][0]["field"], "email");
        assert_eq!(body["errors"][1]["field"], "username");
        assert!(body["detail"].as_str().unwrap().contains("email"));
    }

    #[tokio::test]
    async fn internal_cause_is_not_leaked_and_throttling_sets_retry_after() {
        let (status, _, body) = render(ApiError::internal("secret table name xyz")).await;
        assert_eq!(status, 500);
        assert!(!body.to_string().contains("xyz"));
        let (status, headers, body) = render(ApiError::Unavailable("ProvisionedThroughputExceeded".into())).await;
        assert_eq!(status, 503);
        assert_eq!(headers[header::RETRY_AFTER], "1");
        assert!(!body.to_string().contains("Provisioned"));
        let (status, headers, _) = render(ApiError::Unauthorized("missing bearer token")).await;
        assert_eq!(status, 401);
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    }
}
