//! `Idempotency-Key` on the creates whose ids the server makes (draft-ietf-httpapi-idempotency-
//! key-header): a client that repeats `POST /habits` after a 503 or a lost connection, with the
//! same key, gets the first answer again instead of a second habit.
//!
//! The first request stores a record, `REQUEST#<key>` in the caller's partition, in the same
//! transaction as what it creates: the key, a fingerprint of the request (method, path, body) and
//! the answer it gave. A repeat with the key finds the record and answers the same status and body
//! (with `Idempotent-Replayed: true`); a repeat with another body gets 422; a repeat racing the
//! first one loses the record's condition and gets 409 (retry: it then finds the record). Records
//! expire after [`KEEP_SECS`] (the table's TTL removes them). Creates with a natural key
//! (registration, categories by name, joining a challenge) need none: their repeat finds the
//! first one's item and answers 409 naming it.

use crate::{
    error::ApiError,
    http::{json_bytes, parse_json},
    keys,
    storage::Db,
};
use axum::{
    extract::{FromRequest, Request},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The answer header of a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";
/// How long a key is remembered.
pub const KEEP_SECS: i64 = 24 * 3600;

/// The header as the OpenAPI document describes it (`params(IdempotencyHeader)`).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyHeader {
    /// A key the client makes up for this one request (a UUID or ULID: 1 to 64 letters, digits,
    /// `-`, `_`, `.` or `:`). Repeating the request
    /// with the same key, after a 503 or a lost connection, answers the first answer again (with
    /// `Idempotent-Replayed: true`) instead of creating a second resource, for 24 hours. 422 if
    /// the key was used for a different request; 409 while the first is still in progress.
    #[serde(rename = "Idempotency-Key")]
    #[param(pattern = "^[A-Za-z0-9_.:-]{1,64}$", max_length = 64)]
    #[allow(dead_code)]
    idempotency_key: Option<String>,
}

/// A request's key and fingerprint.
#[derive(Debug, Clone)]
pub struct RequestKey {
    key: String,
    fingerprint: String,
}

/// A JSON body (as [`crate::http::Json`] checks it) with the request's `Idempotency-Key`, if any.
pub struct Keyed<T> {
    pub body: T,
    pub key: Option<RequestKey>,
}

fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    let invalid = || ApiError::invalid("Idempotency-Key", "must be 1 to 64 letters, digits, '-', '_', '.' or ':'");
    let text = value.to_str().map_err(|_| invalid())?.trim();
    // The draft makes the value a structured-field string ("..."); a bare token is taken too.
    let text = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
    let ok = (1..=64).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| text.to_owned()).ok_or_else(invalid)
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Keyed<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let key = req.headers().get(HEADER).map(parse_key).transpose()?;
        let line = format!("{} {}\n", req.method(), req.uri().path());
        let bytes = json_bytes(req, state).await?.ok_or(ApiError::UnsupportedMediaType)?;
        let body = parse_json(&bytes)?;
        let key = key.map(|key| {
            let fingerprint = Sha256::new().chain_update(line.as_bytes()).chain_update(&bytes).finalize();
            let fingerprint = fingerprint.iter().map(|b| format!("{b:02x}")).collect();
            RequestKey { key, fingerprint }
        });
        Ok(Keyed { body, key })
    }
}

/// The record of a request made with a key (in its user's partition).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub fingerprint: String,
    pub status: u16,
    /// The answer's JSON body.
    pub body: String,
    pub expires_at_epoch: i64,
}

impl RequestItem {
    pub const ENTITY: &'static str = "Request";
}

/// The answer a record replays.
pub struct Replay {
    status: StatusCode,
    body: String,
}

impl IntoResponse for Replay {
    fn into_response(self) -> Response {
        let headers = [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::HeaderName::from_static(REPLAYED), HeaderValue::from_static("true")),
        ];
        (self.status, headers, self.body).into_response()
    }
}

/// The answer to a create: `201` with `answer`, and the record to write with what it creates when
/// the request came with a key.
pub fn created<T: Serialize>(
    key: Option<RequestKey>,
    user_id: &str,
    answer: T,
) -> Result<(Option<RequestItem>, Response), ApiError> {
    let record = key.map(|k| k.record(user_id, StatusCode::CREATED, &answer)).transpose()?;
    Ok((record, (StatusCode::CREATED, axum::Json(answer)).into_response()))
}

impl RequestKey {
    /// The record of this request answering `status` with `body`, for `user_id`.
    pub fn record(&self, user_id: &str, status: StatusCode, body: &impl Serialize) -> Result<RequestItem, ApiError> {
        let key = keys::request(user_id, &self.key);
        Ok(RequestItem {
            pk: key.pk,
            sk: key.sk,
            entity: RequestItem::ENTITY.into(),
            fingerprint: self.fingerprint.clone(),
            status: status.as_u16(),
            body: serde_json::to_string(body).map_err(ApiError::internal)?,
            expires_at_epoch: chrono::Utc::now().timestamp() + KEEP_SECS,
        })
    }
}

impl Db {
    /// The answer to replay for `key` of `user_id`: `None` when the key is new (or expired),
    /// 422 when it was used for a different request. One consistent read, only when a key is sent.
    pub async fn replay(&self, user_id: &str, key: Option<&RequestKey>) -> Result<Option<Replay>, ApiError> {
        let Some(key) = key else { return Ok(None) };
        let Some(found) = self.get::<RequestItem>(&keys::request(user_id, &key.key), true).await? else {
            return Ok(None);
        };
        if found.expires_at_epoch <= chrono::Utc::now().timestamp() {
            return Ok(None);
        }
        if found.fingerprint != key.fingerprint {
            return Err(ApiError::Unprocessable(
                "this Idempotency-Key was used for a different request; use a new key for a new request".into(),
            ));
        }
        let status = StatusCode::from_u16(found.status).map_err(ApiError::internal)?;
        Ok(Some(Replay { status, body: found.body }))
    }

    /// The transaction operation that stores `record`, unless a live record of its key exists
    /// (its request is in progress or done: the transaction fails, a 409).
    pub fn request_op(&self, record: &RequestItem) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, ApiError> {
        let mut op = self.put_op(record, Some("attribute_not_exists(PK) OR expires_at_epoch <= :now"))?;
        if let Some(put) = op.put.as_mut() {
            let now = crate::storage::n(chrono::Utc::now().timestamp());
            put.expression_attribute_values = Some([(":now".to_owned(), now)].into());
        }
        Ok(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_tokens_or_quoted_strings_of_at_most_64_characters() {
        for good in ["01J9Z3", "\"9b2c-11\"", "a:b.c_d-e", &"k".repeat(64)] {
            assert!(parse_key(&HeaderValue::from_str(good).unwrap()).is_ok(), "{good}");
        }
        for bad in ["", "\"\"", "has space", "slash/", &"k".repeat(65), "é"] {
            let value = HeaderValue::from_bytes(bad.as_bytes()).unwrap();
            assert!(parse_key(&value).is_err(), "{bad}");
        }
        assert_eq!(parse_key(&HeaderValue::from_static("\"abc\"")).unwrap(), "abc");
    }
}
