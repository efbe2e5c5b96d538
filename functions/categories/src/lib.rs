//! `functions/categories`: the category catalogue. Admins create, rename and delete categories;
//! every signed-in user reads them. Names are unique, case-insensitively (guard item).

use axum::{extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    auth::{AdminUser, Reader},
    domain::Checker,
    http::{noun, nullable, Id, Json, PageBody, Paging, Query},
    models::{CategoryItem, HabitFields, HabitItem},
    ApiError, ApiJson, ApiResult, AppState,
};
use utoipa::ToSchema;

shared::routes![create_category, list_categories, get_category, patch_category, delete_category, category_habits];

const NAME_MAX: usize = 50;
const DESCRIPTION_MAX: usize = 500;

#[derive(Serialize, ToSchema)]
struct CategoryView {
    category_id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn view(c: &CategoryItem) -> CategoryView {
    CategoryView {
        category_id: c.category_id.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

fn check(c: &mut Checker, name: &str, description: Option<&str>) {
    let len = name.chars().count();
    if len == 0 || len > NAME_MAX {
        c.fail("name", format!("must be 1 to {NAME_MAX} characters"));
    }
    if name.chars().any(char::is_control) {
        c.fail("name", "must not contain control characters");
    }
    c.text("description", description, DESCRIPTION_MAX);
}

async fn load(state: &AppState, id: &str) -> ApiResult<CategoryItem> {
    state.db.get_category(id).await?.ok_or(ApiError::NotFound("category"))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateCategory)]
struct CreateBody {
    /// Unique among categories, case-insensitively.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    name: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    description: Option<String>,
}

/// Creates a category.
#[utoipa::path(post, path = "/categories", tag = "categories", security(("bearer" = ["admin"])),
    request_body = CreateBody,
    responses((status = 201, description = "Created", body = CategoryView)))]

async fn create_category(
    State(state): State<AppState>,
    _admin: AdminUser,
    Json(b): Json<CreateBody>,
) -> ApiResult<(StatusCode, axum::Json<CategoryView>)> {
    let name = b.name.trim().to_owned();
    let mut c = Checker::default();
    check(&mut c, &name, b.description.as_deref());
    c.finish()?;
    let category = CategoryItem::new(name, b.description, Utc::now());
    state.db.create_category(&category).await?;
    Ok((StatusCode::CREATED, axum::Json(view(&category))))
}

shared::page_query! {
    struct ListQuery {}
}

/// Lists categories by name.
#[utoipa::path(get, path = "/categories", tag = "categories", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of categories", body = PageBody<CategoryView>)))]

async fn list_categories(
    State(state): State<AppState>,
    me: Reader,
    Query(q): Query<ListQuery>,
) -> ApiJson<PageBody<CategoryView>> {
    let mut paging = Paging::new(&state, "categories", q.limit, q.cursor.as_deref())?;
    let (_, (items, next)) = me.read(&state, state.db.list_categories(paging.limit, paging.start.take())).await?;
    Ok(axum::Json(paging.finish(items.iter().map(view).collect(), next)?))
}

/// One category.
#[utoipa::path(get, path = "/categories/{id}", tag = "categories", security(("bearer" = [])),
    params(("id" = String, Path, description = "Category id")),
    responses((status = 200, description = "The category", body = CategoryView)))]
async fn get_category(State(state): State<AppState>, me: Reader, id: Id<noun::Category>) -> ApiJson<CategoryView> {
    let (_, category) = me.read(&state, load(&state, &id)).await?;
    Ok(axum::Json(view(&category)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PatchCategory)]
struct PatchBody {
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 500)]
    description: Option<Option<String>>,
}

/// Renames a category or changes its description.
#[utoipa::path(patch, path = "/categories/{id}", tag = "categories", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Category id")), request_body = PatchBody,
    responses((status = 200, description = "The updated category", body = CategoryView)))]

async fn patch_category(
    State(state): State<AppState>,
    _admin: AdminUser,
    id: Id<noun::Category>,
    Json(p): Json<PatchBody>,
) -> ApiJson<CategoryView> {
    let current = load(&state, &id).await?;
    let name = p.name.map(|n| n.trim().to_owned()).unwrap_or_else(|| current.name.clone());
    let description = p.description.unwrap_or_else(|| current.description.clone());
    let mut c = Checker::default();
    check(&mut c, &name, description.as_deref());
    c.finish()?;
    if name == current.name && description == current.description {
        return Ok(axum::Json(view(&current)));
    }
    let updated = current.edited(name, description, Utc::now());
    state.db.update_category(&current, &updated).await?;
    Ok(axum::Json(view(&updated)))
}

/// Deletes a category and every habit's link to it (the habits stay).
#[utoipa::path(delete, path = "/categories/{id}", tag = "categories", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Category id")),
    responses((status = 204, description = "Deleted")))]
async fn delete_category(
    State(state): State<AppState>,
    _admin: AdminUser,
    id: Id<noun::Category>,
) -> ApiResult<StatusCode> {
    // A delete that was interrupted (status `deleting`) can be resumed.
    let category = state.db.get_category_any(&id).await?.ok_or(ApiError::NotFound("category"))?;
    state.db.delete_category(&category).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
struct HabitSummary {
    habit_id: String,
    user_id: String,
    #[serde(flatten)]
    fields: HabitFields,
}

shared::page_query! {
    struct HabitsQuery {}
}

/// The habits filed under a category (admins).
#[utoipa::path(get, path = "/categories/{id}/habits", tag = "categories", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Category id"), HabitsQuery),
    responses((status = 200, description = "A page of habits", body = PageBody<HabitSummary>)))]
async fn category_habits(
    State(state): State<AppState>,
    _admin: AdminUser,
    id: Id<noun::Category>,
    Query(q): Query<HabitsQuery>,
) -> ApiJson<PageBody<HabitSummary>> {
    load(&state, &id).await?;
    let mut paging = Paging::new(&state, format!("category-habits:{id}"), q.limit, q.cursor.as_deref())?;
    let (habits, next) = state.db.list_category_habits(&id, None, paging.limit, paging.start.take()).await?;
    let items = habits
        .into_iter()
        .map(|h: HabitItem| HabitSummary { habit_id: h.habit_id, user_id: h.user_id, fields: h.fields })
        .collect();
    Ok(axum::Json(paging.finish(items, next)?))
}
