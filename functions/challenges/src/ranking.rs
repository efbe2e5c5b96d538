//! The leaderboard and the participants of a challenge.

use super::*;

shared::page_query! {
    pub(crate) struct PageQuery {}
}

/// A leaderboard row: public fields only.
#[derive(Serialize, ToSchema)]
pub(crate) struct Rank {
    pub(crate) rank: u64,
    pub(crate) username: String,
    pub(crate) progress: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) goal_reached: Option<bool>,
    pub(crate) joined_at: DateTime<Utc>,
}

/// The leaderboard: progress (highest first), then the earlier join.
#[utoipa::path(get, path = "/challenges/{id}/leaderboard", tag = "challenges", security(("bearer" = [])),
    params(("id" = String, Path, description = "Challenge id"), PageQuery),
    responses((status = 200, description = "A page of the ranking", body = PageBody<Rank>)))]
pub(crate) async fn leaderboard(
    State(state): State<AppState>,
    me: Reader,
    id: Id<noun::Challenge>,
    Query(q): Query<PageQuery>,
) -> ApiJson<PageBody<Rank>> {
    let (_, c) = me.read(&state, load(&state, &id)).await?;
    let limit = page_size(q.limit)?;
    let scope = format!("leaderboard:{id}");
    let (start, offset) = match q.cursor.as_deref() {
        Some(cur) => state.cursors.decode_at(&scope, cur).map(|(k, o)| (Some(k), o))?,
        None => (None, 0),
    };
    let (members, next) = state.db.leaderboard(&id, limit, start).await?;
    let names = state.db.usernames(members.iter().map(|m| m.user_id.as_str())).await?;
    let items: Vec<Rank> = members
        .iter()
        .enumerate()
        .map(|(i, m)| Rank {
            rank: offset + i as u64 + 1,
            username: names.get(&m.user_id).unwrap_or(&m.username).clone(),
            progress: m.progress,
            goal_reached: c.goal_days.map(|g| m.progress >= u64::from(g)),
            joined_at: m.joined_at,
        })
        .collect();
    let next_cursor =
        next.as_ref().map(|k| state.cursors.encode_at(&scope, k, offset + items.len() as u64)).transpose()?;
    Ok(axum::Json(PageBody { items, next_cursor }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Participant {
    pub(crate) user_id: String,
    pub(crate) username: String,
    pub(crate) habit_id: String,
    pub(crate) progress: u64,
    pub(crate) joined_at: DateTime<Utc>,
}

/// Every member (admins), in leaderboard order.
#[utoipa::path(get, path = "/challenges/{id}/participants", tag = "challenges", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Challenge id"), PageQuery),
    responses((status = 200, description = "A page of members", body = PageBody<Participant>)))]
pub(crate) async fn participants(
    State(state): State<AppState>,
    _admin: AdminUser,
    id: Id<noun::Challenge>,
    Query(q): Query<PageQuery>,
) -> ApiJson<PageBody<Participant>> {
    load(&state, &id).await?;
    let mut paging = Paging::new(&state, format!("participants:{id}"), q.limit, q.cursor.as_deref())?;
    let (members, next) = state.db.leaderboard(&id, paging.limit, paging.start.take()).await?;
    let names = state.db.usernames(members.iter().map(|m| m.user_id.as_str())).await?;
    let items = members
        .into_iter()
        .map(|m| Participant {
            username: names.get(&m.user_id).cloned().unwrap_or(m.username),
            user_id: m.user_id,
            habit_id: m.habit_id,
            progress: m.progress,
            joined_at: m.joined_at,
        })
        .collect();
    Ok(axum::Json(paging.finish(items, next)?))
}
