//! What the API returns of habits and entries.

use super::*;

#[derive(Serialize, ToSchema)]
pub struct HabitView {
    pub habit_id: String,
    pub user_id: String,
    #[serde(flatten)]
    pub fields: HabitFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The categories the habit is filed under (single-habit reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<CategoryRef>>,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryRef {
    pub category_id: String,
    pub name: String,
}

pub(crate) fn view(h: &HabitItem) -> HabitView {
    HabitView {
        habit_id: h.habit_id.clone(),
        user_id: h.user_id.clone(),
        fields: h.fields.clone(),
        created_at: h.created_at,
        updated_at: h.updated_at,
        categories: None,
    }
}

#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub habit_id: String,
    pub date: NaiveDate,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_completed: Option<f64>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) fn entry_view(e: &EntryItem) -> EntryView {
    EntryView {
        habit_id: e.habit_id.clone(),
        date: e.date,
        status: e.status,
        note: e.note.clone(),
        unit_completed: e.unit_completed,
        updated_at: e.updated_at,
    }
}
