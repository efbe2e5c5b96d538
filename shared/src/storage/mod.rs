//! The DynamoDB storage layer: one table, items (de)serialized with serde_dynamo, multi-item
//! writes as one transaction, failures mapped into [`ApiError`].

pub mod categories;
pub mod challenges;
pub mod counter;
pub mod delivery;
pub mod habits;
pub mod limits;
mod merge;
pub mod reminders;
mod sdk;
pub mod table;
pub mod throttle;
pub mod tls;
pub mod tokens;
pub mod users;

use crate::{error::ApiError, keys::Key};
use aws_sdk_dynamodb::{
    error::{ProvideErrorMetadata, SdkError},
    operation::transact_write_items::TransactWriteItemsError,
    types::{AttributeValue, Delete, Put, TransactWriteItem, Update},
    Client,
};
use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;

pub use sdk::{client, operator_sdk_config, sdk_config, Tuning};
pub use table::{Index, GSI1, GSI2, GSI3, TABLE};

pub type Item = HashMap<String, AttributeValue>;

/// The table and the client that reaches it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pub client: Client,
    pub table: String,
}

/// Maps any SDK failure: throttling and transport problems are retryable (503), a failed
/// condition is a conflict (409), the rest is internal (500).
pub fn sdk_error<E, R>(e: SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &e {
        // No answer, or none that could be read: the request may or may not have been applied,
        // and a repeat of it is safe (README, "Timeouts, retries and lost answers").
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return ApiError::Unavailable(format!("{e:?}"))
        }
        SdkError::ServiceError(se) => match se.err().code() {
            // A single-item write on an item that a transaction is using at that moment.
            Some("TransactionConflictException") => {
                return ApiError::Conflict {
                    detail: "the resource is being changed by another request; retry".into(),
                    field: None,
                }
            }
            Some("ConditionalCheckFailedException") => {
                return ApiError::Conflict {
                    detail: "the resource was changed concurrently; retry".into(),
                    field: None,
                }
            }
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable",
            ) => return ApiError::Unavailable(format!("{:?}", se.err())),
            _ => {}
        },
        _ => {}
    }
    ApiError::Internal(format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))
}

/// Outcome of a failed transaction.
#[derive(Debug)]
pub enum TxError {
    /// Cancelled: one cancellation reason code per item, in request order (`"None"` for items
    /// that were fine, `"ConditionalCheckFailed"` for a failed condition).
    Cancelled(Vec<String>),
    Other(ApiError),
}

impl TxError {
    /// Index of the first item whose condition failed.
    pub fn failed_condition(&self) -> Option<usize> {
        match self {
            TxError::Cancelled(reasons) => reasons.iter().position(|r| r == "ConditionalCheckFailed"),
            TxError::Other(_) => None,
        }
    }
}

impl From<TxError> for ApiError {
    fn from(e: TxError) -> Self {
        match e {
            TxError::Cancelled(reasons) if reasons.iter().any(|r| r == "ConditionalCheckFailed") => {
                ApiError::Conflict { detail: "the resource was changed concurrently; retry".into(), field: None }
            }
            TxError::Cancelled(reasons)
                if reasons.iter().any(|r| r == "ThrottlingError" || r == "ProvisionedThroughputExceeded") =>
            {
                ApiError::Unavailable(format!("transaction throttled: {reasons:?}"))
            }
            TxError::Cancelled(reasons) => ApiError::Conflict {
                detail: format!("the request conflicted with another one in progress; retry ({})", reasons.join(",")),
                field: None,
            },
            TxError::Other(e) => e,
        }
    }
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, ApiError> {
    serde_dynamo::to_item(value).map_err(ApiError::internal)
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, ApiError> {
    serde_dynamo::from_item(item).map_err(ApiError::internal)
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Builds `:name → value` maps for expressions.
pub fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn key_map(key: &Key) -> Item {
    values([(crate::keys::PK, s(&key.pk)), (crate::keys::SK, s(&key.sk))])
}

/// A conditional write's outcome where a failed condition means "nothing to do": `Ok(false)`.
pub fn unless_condition_failed<T, E, R>(out: Result<T, SdkError<E, R>>) -> Result<bool, ApiError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match out {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException") => Ok(false),
        Err(e) => Err(sdk_error(e)),
    }
}

impl Db {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Db { client, table: table.into() }
    }

    /// An `UpdateItem` of the item at `key` (the caller adds the expressions).
    pub fn update_at(&self, key: &Key) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client.update_item().table_name(&self.table).set_key(Some(key_map(key)))
    }

    /// Reads one item. `consistent` for reads that must see the latest write (auth checks).
    pub async fn get<T: DeserializeOwned>(&self, key: &Key, consistent: bool) -> Result<Option<T>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(from_item).transpose()
    }

    /// Writes a new item whose key was just made (a fresh ULID): a 409 only if another item holds
    /// that key, never for this write's own earlier attempt (see [`put_if`](Self::put_if)).
    pub async fn put_new<T: Serialize>(&self, item: &T) -> Result<(), ApiError> {
        self.put_if(&to_item(item)?, "attribute_not_exists(PK)", None).await
    }

    /// Puts `item` if `condition` (with `vals`) holds on the item it replaces, else a 409. When the
    /// condition fails because the item found *is* `item`, that is this write's own earlier attempt,
    /// committed although its answer was lost and the SDK retried it: a success, not a conflict.
    /// (Every item a request writes carries something of that request, a fresh id, a new version
    /// or timestamp, so nobody else writes the same item by chance.)
    pub async fn put_if(
        &self,
        item: &Item,
        condition: &str,
        vals: Option<HashMap<String, AttributeValue>>,
    ) -> Result<(), ApiError> {
        use aws_sdk_dynamodb::{operation::put_item::PutItemError, types::ReturnValuesOnConditionCheckFailure};
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression(condition)
            .set_expression_attribute_values(vals)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(found)) if found.item.as_ref() == Some(item) => {
                    tracing::info!("a put's lost answer: its retry found the item written");
                    Ok(())
                }
                _ => Err(sdk_error(e)),
            },
        }
    }

    /// Deletes an item; `false` when there was none.
    pub async fn delete_existing(&self, key: &Key) -> Result<bool, ApiError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.attributes.is_some())
    }

    /// Marks a catalogue item (category, challenge) `deleting` at the version read, bumping the
    /// version: a racing change fails, and no new link or membership can be made to it. A retry
    /// that finds the item already marked at the next version is this call's own earlier attempt.
    pub async fn mark_deleting(&self, key: &Key, version: u64) -> Result<(), ApiError> {
        use aws_sdk_dynamodb::{operation::update_item::UpdateItemError, types::ReturnValuesOnConditionCheckFailure};
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .update_expression("SET #st = :deleting, version = version + :one")
            .condition_expression("version = :v")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":deleting", s("deleting"))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":v", n(version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(found))
                    if found.item.as_ref().is_some_and(|i| {
                        i.get("status") == Some(&s("deleting")) && i.get("version") == Some(&n(version + 1))
                    }) =>
                {
                    Ok(())
                }
                _ => Err(sdk_error(e)),
            },
        }
    }

    /// A `Put` of a transaction, optionally conditional.
    pub fn put_op<T: Serialize>(&self, item: &T, condition: Option<&str>) -> Result<TransactWriteItem, ApiError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(ApiError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A `ConditionCheck` of a transaction: `condition` (with the attribute `names` it uses)
    /// must hold on the item at `key`.
    pub fn check_op(
        &self,
        key: &Key,
        condition: &str,
        names: &[(&str, &str)],
        vals: Option<HashMap<String, AttributeValue>>,
    ) -> Result<TransactWriteItem, ApiError> {
        let names: HashMap<String, String> = names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values(vals)
            .build()
            .map_err(ApiError::internal)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// A `Delete` of a transaction, optionally conditional on `condition` with `vals`.
    pub fn delete_op(
        &self,
        key: &Key,
        condition: Option<&str>,
        vals: Option<HashMap<String, AttributeValue>>,
    ) -> Result<TransactWriteItem, ApiError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(vals)
            .build()
            .map_err(ApiError::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// An `Update` of a transaction.
    pub fn update_op(
        &self,
        key: &Key,
        update: &str,
        condition: Option<&str>,
        vals: HashMap<String, AttributeValue>,
        names: Option<HashMap<String, String>>,
    ) -> Result<TransactWriteItem, ApiError> {
        let op = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(Some(vals))
            .set_expression_attribute_names(names)
            .build()
            .map_err(ApiError::internal)?;
        Ok(TransactWriteItem::builder().update(op).build())
    }

    /// Writes all `items` or none, once. The transaction carries a `ClientRequestToken` that the
    /// SDK keeps through its retries: once an attempt has committed, DynamoDB answers that token
    /// with success and writes nothing again (for 10 minutes), so a lost answer never turns into
    /// a failed condition. `TransactionInProgress` (an earlier attempt with the token still
    /// being applied) is asked again with the same token, for about 3 s, then a 503. A
    /// cancellation caused only by a concurrent transaction on the same items
    /// (`TransactionConflict`) is retried a few times with a new token: a cancelled token
    /// committed nothing (had it committed, DynamoDB would have answered success). A failed
    /// condition is returned.
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TxError> {
        let mut token = ulid::Ulid::new().to_string();
        let (mut conflicts, mut in_progress) = (0u32, 0u32);
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(&token)
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let reasons = match &err {
                SdkError::ServiceError(se) => match se.err() {
                    TransactWriteItemsError::TransactionCanceledException(tc) => Some(
                        tc.cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_owned())
                            .collect::<Vec<_>>(),
                    ),
                    TransactWriteItemsError::TransactionInProgressException(_) => {
                        if in_progress == 5 {
                            return Err(TxError::Other(ApiError::Unavailable(
                                "a transaction with this token stayed in progress".into(),
                            )));
                        }
                        in_progress += 1;
                        // 0.2, 0.4, 0.8, 1, 1 s.
                        tokio::time::sleep(std::time::Duration::from_millis((100 << in_progress).min(1000))).await;
                        continue;
                    }
                    _ => None,
                },
                _ => None,
            };
            let Some(reasons) = reasons else {
                return Err(TxError::Other(sdk_error(err)));
            };
            let only_conflicts = !reasons.iter().any(|r| r == "ConditionalCheckFailed")
                && reasons.iter().any(|r| r == "TransactionConflict");
            // Up to 6 retries with growing, jittered waits (about 0.4 s in all at most).
            if only_conflicts && conflicts < 6 {
                conflicts += 1;
                token = ulid::Ulid::new().to_string();
                let jitter = rand::random::<u64>() % (10 * u64::from(conflicts));
                tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(conflicts) + jitter)).await;
                continue;
            }
            return Err(TxError::Cancelled(reasons));
        }
    }

    /// One page of a listing: at most `limit` items of `q` from `start` (a page's `next`).
    pub async fn page<T: DeserializeOwned>(
        &self,
        mut q: Query,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page<T>, ApiError> {
        q.limit = Some(limit);
        q.start = start;
        let (items, next) = self.query_page(&q).await?;
        Ok((items.into_iter().map(from_item).collect::<Result<_, _>>()?, next))
    }

    /// One page of a Query, raw: the items and the key to continue from. Table queries read
    /// consistently; GSI queries cannot.
    pub(crate) async fn query_page(&self, q: &Query) -> Result<Page<Item>, ApiError> {
        let mut vals = values([(":pk", s(&q.pk))]);
        // The sort key's values, as the index types it.
        let s = |v: &str| if q.index.sk_numeric { AttributeValue::N(v.to_owned()) } else { s(v) };
        let sk_expr = match &q.sk {
            None => String::new(),
            Some(SortKey::BeginsWith(p)) => {
                vals.insert(":sk".into(), s(p));
                format!(" AND begins_with({}, :sk)", q.index.sk)
            }
            Some(SortKey::Between(a, b)) => {
                vals.insert(":sk".into(), s(a));
                vals.insert(":sk2".into(), s(b));
                format!(" AND {} BETWEEN :sk AND :sk2", q.index.sk)
            }
            Some(SortKey::AtLeast(a)) => {
                vals.insert(":sk".into(), s(a));
                format!(" AND {} >= :sk", q.index.sk)
            }
            Some(SortKey::AtMost(a)) => {
                vals.insert(":sk".into(), s(a));
                format!(" AND {} <= :sk", q.index.sk)
            }
            Some(SortKey::Equals(a)) => {
                vals.insert(":sk".into(), s(a));
                format!(" AND {} = :sk", q.index.sk)
            }
        };
        let mut filter = None;
        if let Some((expr, fv)) = &q.filter {
            vals.extend(fv.clone());
            filter = Some(expr.clone());
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.name.map(str::to_owned))
            .key_condition_expression(format!("{} = :pk{sk_expr}", q.index.pk))
            .set_filter_expression(filter)
            .set_expression_attribute_values(Some(vals))
            .set_expression_attribute_names(
                (!q.names.is_empty()).then(|| q.names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            )
            .set_limit(q.limit)
            .set_exclusive_start_key(q.start.clone())
            .set_consistent_read(q.index.name.is_none().then_some(true))
            .set_scan_index_forward(q.descending.then_some(false))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    /// Every item a Query selects (all pages).
    pub(crate) async fn query_all(&self, mut q: Query) -> Result<Vec<Item>, ApiError> {
        let mut out = Vec::new();
        loop {
            let (items, next) = self.query_page(&q).await?;
            out.extend(items);
            match next {
                Some(next) => q.start = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Reads many items by key (`BatchGetItem`, 100 a call), retrying unprocessed keys. Missing
    /// items are left out; the order of `keys` is kept.
    pub async fn batch_get<T: DeserializeOwned>(&self, keys: &[Key]) -> Result<Vec<T>, ApiError> {
        self.batch_get_raw(keys).await?.into_iter().map(from_item).collect()
    }

    /// [`batch_get`](Self::batch_get) returning raw items (of any entity).
    pub async fn batch_get_raw(&self, keys: &[Key]) -> Result<Vec<Item>, ApiError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        for chunk in keys.chunks(100) {
            let mut pending: Vec<Item> = chunk.iter().map(key_map).collect();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(ApiError::internal)?;
                let out =
                    self.client.batch_get_item().request_items(&self.table, ka).send().await.map_err(sdk_error)?;
                for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                    if let Some(k) = item_key(&item) {
                        found.insert((k.pk, k.sk), item);
                    }
                }
                pending =
                    out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|ka| ka.keys).unwrap_or_default();
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt > 8 {
                        return Err(ApiError::Unavailable("batch get kept returning unprocessed keys".into()));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25 << attempt.min(5))).await;
                }
            }
        }
        Ok(keys.iter().filter_map(|k| found.remove(&(k.pk.clone(), k.sk.clone()))).collect())
    }

    /// Deletes many items with `BatchWriteItem` (25 a call), retrying unprocessed items until
    /// none are left (with backoff).
    pub async fn batch_delete(&self, keys: Vec<Key>) -> Result<(), ApiError> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        for chunk in keys.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(key_map(k)))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(ApiError::internal)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut attempt = 0u32;
            while !requests.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                requests = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                if !requests.is_empty() {
                    attempt += 1;
                    if attempt > 8 {
                        return Err(ApiError::Unavailable("batch delete kept returning unprocessed items".into()));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25 << attempt.min(5))).await;
                }
            }
        }
        Ok(())
    }
}

/// A sort-key condition of a Query.
#[derive(Debug, Clone)]
pub enum SortKey {
    BeginsWith(String),
    /// Inclusive bounds.
    Between(String, String),
    AtLeast(String),
    AtMost(String),
    Equals(String),
}

/// One page of a listing: the items and the key the next page starts from (`None`: the last).
pub type Page<T> = (Vec<T>, Option<Item>);

/// One Query: partition `pk` of `index`, optional sort-key condition, page size, start key and
/// filter (expression, values, and the names it uses for reserved words).
#[derive(Debug, Clone)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: Option<SortKey>,
    pub limit: Option<i32>,
    pub start: Option<Item>,
    pub filter: Option<(String, HashMap<String, AttributeValue>)>,
    /// Only the names the filter uses: DynamoDB refuses unused ones.
    pub names: &'static [(&'static str, &'static str)],
    /// Newest (highest sort key) first.
    pub descending: bool,
}

impl Query {
    pub fn new(index: Index, pk: impl Into<String>, sk: Option<SortKey>) -> Self {
        Query { index, pk: pk.into(), sk, limit: None, start: None, filter: None, names: &[], descending: false }
    }
}

/// The primary key of a raw item.
pub fn item_key(item: &Item) -> Option<Key> {
    match (item.get(crate::keys::PK), item.get(crate::keys::SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some(Key { pk: pk.clone(), sk: sk.clone() }),
        _ => None,
    }
}
