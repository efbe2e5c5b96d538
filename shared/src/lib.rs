//! Shared library of the Habit Tracker API functions: configuration, telemetry, the error type,
//! keys and storage of the single DynamoDB table, domain types, passwords, tokens and the
//! authorization extractors. Function crates stay thin on top of it.

pub mod auth;
pub mod config;
pub mod cursor;
pub mod deadline;
pub mod domain;
pub mod email;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod jwt;
pub mod keys;
pub mod models;
pub mod openapi;
pub mod password;
pub mod push;
pub mod reminder_time;
pub mod schedule;
pub mod session;
pub mod signing;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod webhooks;

pub use error::{ApiError, ApiJson, ApiResult};
#[doc(hidden)]
pub use pastey as __pastey;
pub use state::AppState;

/// Runs a function's router on the Lambda runtime (the whole of a function's `main`).
pub async fn run(app: axum::Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(app).await
}
