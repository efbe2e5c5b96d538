//! `functions/habits`: habits, daily tracking entries, statistics, category assignment, the
//! caller's day (`/me/today`) and the admin view of every habit.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    auth::{AdminUser, AuthUser, Reader},
    domain::Checker,
    domain::Role,
    http::{is_ulid, noun, nullable, Id, Json, PageBody, Paging, Query},
    idempotency::{created, IdempotencyHeader, Keyed},
    models::{EntryFields, EntryItem, HabitCategoryItem, HabitFields, HabitItem, Target},
    schedule::{Frequency, Stats, Status},
    ApiError, ApiJson, ApiResult, AppState,
};
use utoipa::ToSchema;

// The handlers by area; each module sees this one's imports and helpers, and the others' items.
mod admin;
mod categories;
mod checks;
mod entries;
mod habits;
mod stats;
mod views;

use {admin::*, categories::*, checks::*, entries::*, habits::*, stats::*, views::*};

shared::routes![
    create_habit,
    list_habits,
    get_habit,
    patch_habit,
    delete_habit,
    list_entries,
    get_entry,
    put_entry,
    delete_entry,
    get_stats,
    assign_category,
    unassign_category,
    today,
    admin_list_habits,
];

const TITLE_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 1000;
const NOTE_MAX: usize = 500;
const UNIT_MAX: usize = 20;
const AMOUNT_MAX: f64 = 1_000_000.0;

/// Amounts (targets, units done) are kept to six decimal places: DynamoDB cannot store numbers
/// below 1e-130, and no habit counts finer than a millionth.
fn round_amount(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The fields as stored, once checked: the target rounded (see [`round_amount`]).
fn rounded(fields: HabitFields) -> HabitFields {
    HabitFields { target: fields.target.map(|t| Target { value: round_amount(t.value), ..t }), ..fields }
}
