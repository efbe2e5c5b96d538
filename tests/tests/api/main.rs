//! The integration tests: one binary (one link of every function and the SDK, not one per file),
//! a module per area, each test in its own world against DynamoDB Local (`habit_tests::TestApp`).
//! Run one area with `cargo test -p habit-tests --test api users::`.

mod auth;
mod authz_matrix;
mod call_budget;
mod categories;
mod challenges;
mod dispatcher;
mod email;
mod faults;
mod habits;
mod ids;
mod infra;
mod jwt;
mod lambda_events;
mod openapi;
mod permissions;
mod push;
mod reminders;
mod tls;
mod users;
mod webhooks;
