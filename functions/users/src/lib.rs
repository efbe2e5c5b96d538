//! `functions/users`: the caller's own account and profile (`/me...`), and admin user management
//! (`/users...`).

use axum::{extract::State, http::StatusCode};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    auth::{AdminUser, AuthUser, Reader},
    domain::Role,
    domain::{Checker, Email, Password, Phone, TimeZone, Username},
    http::{noun, nullable, Id, Json, PageBody, Paging, Query, SourceIp, StopAt},
    models::{ProfileFields, ProfileItem, ProfileView, UserItem, UserView},
    password, session,
    session::TokenPair,
    ApiError, ApiJson, ApiResult, AppState,
};
use utoipa::ToSchema;

// The handlers by area; each module sees this one's imports and helpers, and the others' items.
mod admin;
mod me;

use {admin::*, me::*};

shared::routes![
    get_me,
    patch_me,
    delete_me,
    change_password,
    resend_verification,
    get_my_profile,
    put_my_profile,
    patch_my_profile,
    list_users,
    get_user,
    patch_user,
    delete_user,
    get_user_profile,
];
