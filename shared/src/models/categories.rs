//! Categories, and habits filed under them.

use crate::keys;
use chrono::{DateTime, Utc};

item! {
    /// `CATEGORY#<id> / CATEGORY`: an admin-managed category.
    pub struct CategoryItem [pk: "PK", sk: "SK", gsi1pk: "GSI1PK", gsi1sk: "GSI1SK"] {
        pub category_id: String,
        pub name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        /// `active`, or `deleting` while its links are being removed (no new links then).
        pub status: String,
        pub version: u64,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

impl CategoryItem {
    pub const ENTITY: &'static str = "Category";
    pub const ACTIVE: &'static str = "active";
    pub const DELETING: &'static str = "deleting";

    /// A new category with a new id.
    pub fn new(name: String, description: Option<String>, now: DateTime<Utc>) -> Self {
        let id = ulid::Ulid::new().to_string();
        let key = keys::category(&id);
        CategoryItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi1pk: keys::CATEGORIES_GSI1PK.into(),
            gsi1sk: keys::category_gsi1sk(&name.to_lowercase(), &id),
            category_id: id,
            name,
            description,
            status: Self::ACTIVE.into(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// The next revision with a new name and description (listed by the new name).
    pub fn edited(&self, name: String, description: Option<String>, now: DateTime<Utc>) -> Self {
        CategoryItem {
            gsi1sk: keys::category_gsi1sk(&name.to_lowercase(), &self.category_id),
            name,
            description,
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        }
    }
}

item! {
    /// `USER#<id> / HABIT#<habit>#CAT#<category>`: a habit filed under a category; GSI1 lists a
    /// category's habits.
    pub struct HabitCategoryItem [pk: "PK", sk: "SK", gsi1pk: "GSI1PK", gsi1sk: "GSI1SK"] {
        pub user_id: String,
        pub habit_id: String,
        pub category_id: String,
        pub created_at: DateTime<Utc>,
    }
}

impl HabitCategoryItem {
    pub const ENTITY: &'static str = "HabitCategory";

    pub fn new(user_id: &str, habit_id: &str, category_id: &str, now: DateTime<Utc>) -> Self {
        let key = keys::habit_category(user_id, habit_id, category_id);
        HabitCategoryItem {
            pk: key.pk,
            sk: key.sk,
            entity: Self::ENTITY.into(),
            gsi1pk: keys::category_pk(category_id),
            gsi1sk: keys::link_gsi1sk(user_id, habit_id),
            user_id: user_id.into(),
            habit_id: habit_id.into(),
            category_id: category_id.into(),
            created_at: now,
        }
    }
}
