//! Per-user limits (OWASP API4): how many habits and reminders one user may keep, so that no
//! listing, "today" page, sweep or account deletion grows past what one invocation can do. The
//! counts live in one item of the user's partition (`USER#<id> / LIMITS`), changed in the same
//! transaction as the item they count; a create past its limit is a 409 that names the limit.
//!
//! Every count changes in the same transaction as its item, each item counted out once (a delete
//! is conditional on the item existing). Only items older than the counts were never counted:
//! deleting them lowers a count below what is held, which may let a user pass a limit by that
//! many, never keeps a user below it.

use super::{n, values, Db};
use crate::{error::ApiError, keys};
use aws_sdk_dynamodb::types::TransactWriteItem;

/// What is counted, and its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Habits,
    Reminders,
}

impl Counted {
    pub const fn max(self) -> u32 {
        match self {
            Counted::Habits => 200,
            Counted::Reminders => 50,
        }
    }

    fn attribute(self) -> &'static str {
        match self {
            Counted::Habits => "habits",
            Counted::Reminders => "reminders",
        }
    }

    /// The 409 of a create past the limit.
    pub fn exceeded(self) -> ApiError {
        ApiError::Conflict {
            detail: format!("a user may keep at most {} {}; delete some first", self.max(), self.attribute()),
            field: None,
        }
    }
}

impl Db {
    /// The transaction operation that counts one more of `what`: its condition fails at the limit.
    pub fn count_one_more(&self, user_id: &str, what: Counted) -> Result<TransactWriteItem, ApiError> {
        self.update_op(
            &keys::limits(user_id),
            "ADD #n :one SET entity = :entity",
            Some("attribute_not_exists(#n) OR #n < :max"),
            values([(":one", n(1)), (":max", n(what.max())), (":entity", super::s("Limits"))]),
            Some([("#n".to_owned(), what.attribute().to_owned())].into()),
        )
    }

    /// The transaction operation that counts `by` fewer of `what`.
    pub fn count_fewer(&self, user_id: &str, what: Counted, by: usize) -> Result<TransactWriteItem, ApiError> {
        self.update_op(
            &keys::limits(user_id),
            "ADD #n :minus SET entity = :entity",
            None,
            values([(":minus", n(-(by as i64))), (":entity", super::s("Limits"))]),
            Some([("#n".to_owned(), what.attribute().to_owned())].into()),
        )
    }
}
