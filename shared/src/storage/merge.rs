//! Listings spread over several partitions of one index, merged into one page.
//!
//! An index partition that takes every tenant's writes (all habits, all users, a big challenge's
//! ranking) would throttle the table at about 1,000 writes/s, so such partitions are split into
//! shards (`keys::INDEX_SHARDS`, docs/ACCESS_PATTERNS.md, "Write rates at a million users").
//! A page of such a listing queries every shard at once and merges them in index order: by
//! the index's sort key, then by the table's `PK` for equal sort keys (a tie that only a
//! ranking can have: two members who joined in the same millisecond with the same progress).
//! The cursor is one position, the last item of the page (its sort key and `PK`), signed like
//! every cursor; each shard continues strictly after it.

use super::{from_item, Db, Item, Page, Query, SortKey};
use crate::{error::ApiError, keys};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use std::cmp::Ordering;

/// The greatest character of any sort key a sharded listing pages through (they are ASCII:
/// fixed prefixes, ULIDs, role names, digits): `prefix~` bounds a `begins_with(prefix)`.
const AFTER_ANY: char = '~';

/// Where an item stands in a merged listing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    sk: SortValue,
    pk: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    S(String),
    N(u128),
}

impl Position {
    fn of(index: &super::Index, item: &Item) -> Result<Self, ApiError> {
        let bad = || ApiError::internal(format!("an item of a merged listing lacks {} or PK", index.sk));
        let sk = match item.get(index.sk).ok_or_else(bad)? {
            AttributeValue::S(s) if !index.sk_numeric => SortValue::S(s.clone()),
            AttributeValue::N(n) if index.sk_numeric => SortValue::N(n.parse().map_err(|_| bad())?),
            _ => return Err(bad()),
        };
        let pk = item.get(keys::PK).and_then(|v| v.as_s().ok()).ok_or_else(bad)?.clone();
        Ok(Position { sk, pk })
    }

    /// The cursor's content: the index's sort key and the table's `PK`.
    fn to_item(&self, index: &super::Index) -> Item {
        let sk = match &self.sk {
            SortValue::S(s) => AttributeValue::S(s.clone()),
            SortValue::N(n) => AttributeValue::N(n.to_string()),
        };
        [(index.sk.to_owned(), sk), (keys::PK.to_owned(), AttributeValue::S(self.pk.clone()))].into()
    }

    fn sk_text(&self) -> String {
        match &self.sk {
            SortValue::S(s) => s.clone(),
            SortValue::N(n) => n.to_string(),
        }
    }
}

/// The listing's order: the sort key (descending if asked), then `PK`.
fn order(descending: bool, a: &Position, b: &Position) -> Ordering {
    let by_sk = if descending { b.sk.cmp(&a.sk) } else { a.sk.cmp(&b.sk) };
    by_sk.then_with(|| a.pk.cmp(&b.pk))
}

/// `q`'s sort-key condition narrowed to what does not come before `after` (ties included: they
/// are told apart by `PK` afterwards).
fn from_position(q: &Query, after: &Position) -> Result<Option<SortKey>, ApiError> {
    let at = after.sk_text();
    let unsupported = || ApiError::internal("a merged listing pages with no sort-key condition or begins_with only");
    match (&q.sk, q.descending) {
        (None, false) => Ok(Some(SortKey::AtLeast(at))),
        (None, true) => Ok(Some(SortKey::AtMost(at))),
        (Some(SortKey::BeginsWith(prefix)), false) => {
            Ok(Some(SortKey::Between(at.max(prefix.clone()), format!("{prefix}{AFTER_ANY}"))))
        }
        _ => Err(unsupported()),
    }
}

impl Db {
    /// One page of `q` over the partitions `shards` (each replaces `q.pk`), merged: at most
    /// `limit` items after `start` (a position this returned as the next page's start), and the
    /// next page's start unless this was the last page. Every shard is read at once.
    pub(crate) async fn merged_page<T: DeserializeOwned>(
        &self,
        q: Query,
        shards: impl IntoIterator<Item = String>,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<T>, ApiError> {
        let limit = limit.max(1) as usize;
        let after = start.as_ref().map(|s| Position::of(&q.index, s)).transpose()?;
        let reads = shards.into_iter().map(|pk| {
            let q = Query { pk, ..q.clone() };
            self.shard_after(q, limit, after.clone())
        });
        let mut more = false;
        let mut merged = Vec::new();
        for (items, exhausted) in futures::future::try_join_all(reads).await? {
            more |= !exhausted;
            merged.extend(items);
        }
        merged.sort_by(|a, b| order(q.descending, &a.0, &b.0));
        more |= merged.len() > limit;
        merged.truncate(limit);
        let next = if more { merged.last().map(|(p, _)| p.to_item(&q.index)) } else { None };
        let items = merged.into_iter().map(|(_, item)| from_item(item)).collect::<Result<_, _>>()?;
        Ok((items, next))
    }

    /// The first items of one shard strictly after `after`, in listing order: more than `limit`
    /// of them unless the shard has no more (`true`: exhausted). Reading goes on until the
    /// items up to the `limit`-th are certain: a filter may drop items, and items with equal
    /// sort keys come in no particular order, so a group of them is read whole.
    async fn shard_after(
        &self,
        mut q: Query,
        limit: usize,
        after: Option<Position>,
    ) -> Result<(Vec<(Position, Item)>, bool), ApiError> {
        if let Some(after) = &after {
            q.sk = from_position(&q, after)?;
        }
        q.limit = Some(limit as i32 + 1);
        let mut kept: Vec<(Position, Item)> = Vec::new();
        loop {
            let (items, last) = self.query_page(&q).await?;
            let mut last_read = None;
            for item in items {
                let p = Position::of(&q.index, &item)?;
                last_read = Some(p.clone());
                if after.as_ref().is_none_or(|a| order(q.descending, a, &p) == Ordering::Less) {
                    kept.push((p, item));
                }
            }
            let Some(last) = last else { return Ok((kept, true)) };
            kept.sort_by(|a, b| order(q.descending, &a.0, &b.0));
            // Certain once more than `limit` are kept and the shard has read past the sort key
            // of the `limit`-th (every item tied with it is in).
            let certain = kept.len() > limit && last_read.is_some_and(|r| r.sk != kept[limit - 1].0.sk);
            if certain {
                return Ok((kept, false));
            }
            q.start = Some(last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(sk: u128, pk: &str) -> Position {
        Position { sk: SortValue::N(sk), pk: pk.into() }
    }

    #[test]
    fn ties_are_ordered_by_pk_whatever_the_direction() {
        let (a, b, c) = (pos(5, "USER#a"), pos(5, "USER#b"), pos(7, "USER#a"));
        assert_eq!(order(true, &c, &a), Ordering::Less, "descending: the higher score first");
        assert_eq!(order(true, &a, &b), Ordering::Less, "a tie: the lower PK first");
        assert_eq!(order(false, &a, &b), Ordering::Less);
        assert_eq!(order(false, &a, &c), Ordering::Less);
    }

    #[test]
    fn a_position_narrows_the_sort_key_condition_without_losing_ties() {
        let after = Position { sk: SortValue::S("ROLE#user#ACTIVE#1#USER#01J".into()), pk: "USER#01J".into() };
        let mut q = Query::new(super::super::GSI1, "USERS#00", Some(SortKey::BeginsWith("ROLE#user#".into())));
        match from_position(&q, &after).unwrap() {
            Some(SortKey::Between(lo, hi)) => {
                assert_eq!((lo.as_str(), hi.as_str()), ("ROLE#user#ACTIVE#1#USER#01J", "ROLE#user#~"))
            }
            other => panic!("{other:?}"),
        }
        q.sk = None;
        q.descending = true;
        assert!(matches!(from_position(&q, &pos(9, "x")).unwrap(), Some(SortKey::AtMost(n)) if n == "9"));
        q.sk = Some(SortKey::Equals("x".into()));
        assert!(from_position(&q, &pos(9, "x")).is_err());
    }
}
