//! `functions/challenges`: the challenge catalogue (admins), joining and leaving (everyone signed
//! in), and the leaderboard. Progress is the number of `done` entries of the member's habit dated
//! inside the challenge window, kept in step with every entry write (see `storage::habits`).
//!
//! Leaderboard order: progress (highest first), then the earlier join; both are folded into one
//! numeric GSI3 sort key, so a page of the ranking is one Query.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    auth::{AdminUser, AuthUser, Reader},
    domain::Checker,
    http::{is_ulid, noun, nullable, page_size, Id, Json, OptionalJson, PageBody, Paging, Query, Whole},
    idempotency::{created, IdempotencyHeader, Keyed},
    models::{ChallengeItem, HabitFields, HabitItem, MembershipItem},
    schedule::Frequency,
    storage::challenges::{Backing, When},
    ApiError, ApiJson, ApiResult, AppState,
};
use utoipa::ToSchema;

// The handlers by area; each module sees this one's imports and helpers, and the others' items.
mod catalogue;
mod membership;
mod ranking;
mod views;

use {catalogue::*, membership::*, ranking::*, views::*};

shared::routes![
    create_challenge,
    list_challenges,
    get_challenge,
    patch_challenge,
    delete_challenge,
    participants,
    join,
    leave,
    leaderboard,
    my_challenges,
];

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 1000;
const GOAL_MAX: u32 = 3650;
