//! Categories (admin-managed catalogue) with unique names.

use super::{item_key, n, s, values, Db, Item, Page, Query, SortKey, GSI1};
use crate::{
    error::ApiError,
    keys,
    models::{CategoryItem, GuardItem},
};

pub const CATEGORY_GUARD: &str = "CategoryNameGuard";

fn name_taken() -> ApiError {
    ApiError::conflict("name", "a category with this name already exists")
}

impl Db {
    /// Creates a category and its name guard in one transaction.
    pub async fn create_category(&self, category: &CategoryItem) -> Result<(), ApiError> {
        let guard = GuardItem::new(
            keys::category_name_guard(&category.name.to_lowercase()),
            CATEGORY_GUARD,
            &category.category_id,
        );
        let ops = vec![
            self.put_op(category, Some("attribute_not_exists(PK)"))?,
            self.put_op(&guard, Some("attribute_not_exists(PK)"))?,
        ];
        self.transact(ops).await.map_err(|e| match e.failed_condition() {
            Some(1) => name_taken(),
            _ => e.into(),
        })
    }

    pub async fn get_category(&self, category_id: &str) -> Result<Option<CategoryItem>, ApiError> {
        Ok(self
            .get::<CategoryItem>(&keys::category(category_id), true)
            .await?
            .filter(|c| c.status == CategoryItem::ACTIVE))
    }

    /// The active categories of `ids` (one `BatchGetItem` per 100; none for no ids), in order.
    pub async fn get_categories(&self, ids: &[String]) -> Result<Vec<CategoryItem>, ApiError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<_> = ids.iter().map(|c| keys::category(c)).collect();
        let mut categories: Vec<CategoryItem> = self.batch_get(&keys).await?;
        categories.retain(|c| c.status == CategoryItem::ACTIVE);
        Ok(categories)
    }

    /// Replaces a category read at `current.version`, swapping the name guard when the name changed.
    pub async fn update_category(&self, current: &CategoryItem, updated: &CategoryItem) -> Result<(), ApiError> {
        let mut put = self.put_op(updated, Some("version = :v"))?;
        if let Some(p) = put.put.as_mut() {
            p.expression_attribute_values = Some(values([(":v", n(current.version))]));
        }
        let mut ops = vec![put];
        let (old, new) = (current.name.to_lowercase(), updated.name.to_lowercase());
        if old != new {
            ops.push(self.delete_op(&keys::category_name_guard(&old), None, None)?);
            let guard = GuardItem::new(keys::category_name_guard(&new), CATEGORY_GUARD, &current.category_id);
            ops.push(self.put_op(&guard, Some("attribute_not_exists(PK)"))?);
        }
        self.transact(ops).await.map_err(|e| match e.failed_condition() {
            Some(0) => {
                ApiError::Conflict { detail: "the category was changed concurrently; retry".into(), field: None }
            }
            Some(2) => name_taken(),
            _ => e.into(),
        })
    }

    /// A page of categories by name (GSI1 `CATEGORIES`).
    pub async fn list_categories(&self, limit: i32, start: Option<Item>) -> Result<Page<CategoryItem>, ApiError> {
        let mut q = Query::new(GSI1, keys::CATEGORIES_GSI1PK, Some(SortKey::BeginsWith(keys::CATEGORY_NAME.into())));
        q.filter = Some(("#st = :active".into(), values([(":active", s(CategoryItem::ACTIVE))])));
        q.names = &[("#st", "status")];
        self.page(q, limit, start).await
    }

    /// Reads a category whatever its status (deletion may be resumed).
    pub async fn get_category_any(&self, category_id: &str) -> Result<Option<CategoryItem>, ApiError> {
        self.get::<CategoryItem>(&keys::category(category_id), true).await
    }

    /// Deletes a category and every habit link to it. The category is first marked `deleting` at
    /// the version read (a racing rename then fails, and no new link can be written), then its
    /// links are removed, then the category and its name guard. Links are found through GSI1,
    /// which lags writes slightly, so the sweep repeats until a pass finds none. An interrupted
    /// delete is resumed by deleting again.
    pub async fn delete_category(&self, category: &CategoryItem) -> Result<(), ApiError> {
        let key = keys::category(&category.category_id);
        if category.status != CategoryItem::DELETING {
            self.mark_deleting(&key, category.version).await?;
        }
        for pass in 0..3 {
            if pass > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            let links = self.query_all(Query::new(GSI1, keys::category_pk(&category.category_id), None)).await?;
            if links.is_empty() && pass > 0 {
                break;
            }
            self.batch_delete(links.iter().filter_map(item_key).collect()).await?;
        }
        let ops = vec![
            self.delete_op(&key, None, None)?,
            self.delete_op(&keys::category_name_guard(&category.name.to_lowercase()), None, None)?,
        ];
        self.transact(ops).await.map_err(ApiError::from)
    }
}
