//! Every DynamoDB key of the single table is built here, and only here.
//!
//! | entity          | PK                  | SK                   | GSI1PK  | GSI1SK                                    |
//! |-----------------|---------------------|----------------------|---------|-------------------------------------------|
//! | User            | `USER#<user_id>`    | `USER`               | `USERS#<shard>` | `ROLE#<role>#ACTIVE#<0/1>#USER#<user_id>` |
//! | Profile         | `USER#<user_id>`    | `PROFILE`            |         |                                           |
//! | RefreshFamily   | `USER#<user_id>`    | `REFRESH#<family>`   |         |                                           |
//! | UsernameGuard   | `USERNAME#<name>`   | `GUARD`              |         |                                           |
//! | EmailGuard      | `EMAIL#<email>`     | `GUARD`              |         |                                           |
//! | Habit           | `USER#<user_id>`    | `HABIT#<habit>`      | `HABITS#<shard>`| `HABIT#<habit>`                   |
//! | Entry           | `USER#<user_id>`    | `HABIT#<habit>#ENTRY#<yyyy-mm-dd>` |  |                                         |
//! | HabitCategory   | `USER#<user_id>`    | `HABIT#<habit>#CAT#<category>` | `CATEGORY#<category>` | `USER#<user_id>#HABIT#<habit>` |
//! | Category        | `CATEGORY#<cat>`    | `CATEGORY`           | `CATEGORIES` | `NAME#<lower name>#<cat>`            |
//! | CategoryGuard   | `CATEGORYNAME#<lower name>` | `GUARD`      |         |                                           |
//! | Webhook         | `USER#<user_id>`    | `WEBHOOK#<webhook>`  |         |                                           |
//! | Outbox          | `USER#<user_id>`    | `OUTBOX#<event>`     | `OUTBOX#<shard>` | `<next attempt>#<event>`         |
//! | PushSubscription | `USER#<user_id>`   | `PUSH#<subscription>` |        |                                           |
//! | Delivery        | `USER#<user_id>`    | `DELIVERY#<target>#<event>` | `DEAD_DELIVERIES` (given up) | `<when>#<SK>`   |
//!
//! GSI2 (`GSI2PK`, `GSI2SK`) holds a user's habits and entries by day: habits at
//! `GSI2PK = USER#<user_id>, GSI2SK = HABIT#<habit>`, entries at `DAY#<yyyy-mm-dd>#<habit>`. As no
//! entry is dated after today, `GSI2SK >= DAY#<today>` returns today's entries and every habit in
//! one Query (`GET /me/today`), and `begins_with(GSI2SK, HABIT#)` lists the habits alone.
//!
//! A habit's own items (`HABIT#<habit>`, its category links `...#CAT#`, its entries `...#ENTRY#`)
//! sort together, so the habit with its links, or the habit with its whole history, is one Query.
//! ULIDs have a fixed length, so the prefix `HABIT#<habit>` never matches another habit.
//!
//! GSI3 ranks a challenge's members: `GSI3PK = CHALLENGE#<challenge>#<shard>`, `GSI3SK` = score.
//!
//! `<shard>` (two digits, [`INDEX_SHARDS`] of them) spreads an index partition that every tenant
//! writes to: all habits (every tracked day rewrites the habit's counters), all users, one
//! challenge's ranking (every member's tracked day). Listings merge the shards
//! (`storage::merge`); docs/ACCESS_PATTERNS.md gives each key's write rate at a million users.
//!
//! Ids are ULIDs (26 characters, lexicographically sortable by creation time); guards use the
//! normalized (lower-case) username or e-mail so that uniqueness is case-insensitive.

use crate::domain::Role;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// GSI3 ranks challenge members: `GSI3PK = CHALLENGE#<id>`, numeric `GSI3SK` = score.
pub const GSI3: &str = "GSI3";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
/// Attribute holding an epoch-seconds expiry; DynamoDB TTL deletes expired items.
pub const TTL_ATTRIBUTE: &str = "expires_at_epoch";

const USER: &str = "USER#";
pub const USER_SK: &str = "USER";
pub const PROFILE_SK: &str = "PROFILE";
pub const GUARD_SK: &str = "GUARD";
const REFRESH: &str = "REFRESH#";

/// Shards of each index partition that all tenants write to (module docs).
pub const INDEX_SHARDS: u32 = 16;

fn shard_of(id: &str) -> u32 {
    fnv1a(id) % INDEX_SHARDS
}

/// GSI1 partition of a user (the admin listing of users), by the user's id.
pub fn users_gsi1pk(user_id: &str) -> String {
    format!("USERS#{:02}", shard_of(user_id))
}

/// Every GSI1 partition of users.
pub fn users_gsi1pks() -> impl Iterator<Item = String> {
    (0..INDEX_SHARDS).map(|n| format!("USERS#{n:02}"))
}

/// A primary key of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: impl Into<String>) -> Self {
        Key { pk, sk: sk.into() }
    }
}

/// The partition that holds everything a user owns.
pub fn user_pk(user_id: &str) -> String {
    format!("{USER}{user_id}")
}

pub fn user(user_id: &str) -> Key {
    Key::new(user_pk(user_id), USER_SK)
}

pub fn profile(user_id: &str) -> Key {
    Key::new(user_pk(user_id), PROFILE_SK)
}

pub fn refresh_family(user_id: &str, family_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{REFRESH}{family_id}"))
}

/// Guard item that makes a username unique (case-insensitive: callers pass the normalized name).
pub fn username_guard(username: &str) -> Key {
    Key::new(format!("USERNAME#{username}"), GUARD_SK)
}

/// Guard item that makes an e-mail address unique by what it looks like: keyed by its confusable
/// skeleton ([`crate::domain::skeleton`]), so a look-alike of a registered address is taken.
pub fn email_guard(email: &str) -> Key {
    Key::new(format!("EMAIL#{}", crate::domain::skeleton(email)), GUARD_SK)
}

/// GSI1 partition of a habit (the admin listing of habits), by the habit's id: an admin's
/// look-up by id reads one shard.
pub fn habits_gsi1pk(habit_id: &str) -> String {
    format!("HABITS#{:02}", shard_of(habit_id))
}

/// Every GSI1 partition of habits.
pub fn habits_gsi1pks() -> impl Iterator<Item = String> {
    (0..INDEX_SHARDS).map(|n| format!("HABITS#{n:02}"))
}
pub const CATEGORIES_GSI1PK: &str = "CATEGORIES";
pub const CATEGORY_SK: &str = "CATEGORY";

/// The prefix of a habit's sort key (and of its GSI2 sort key): `begins_with` it lists habits.
pub const HABIT: &str = "HABIT#";

pub fn habit_sk(habit_id: &str) -> String {
    format!("{HABIT}{habit_id}")
}

pub fn habit(user_id: &str, habit_id: &str) -> Key {
    Key::new(user_pk(user_id), habit_sk(habit_id))
}

/// A habit's tracking entry of one day (ISO dates sort chronologically).
pub fn entry(user_id: &str, habit_id: &str, date: chrono::NaiveDate) -> Key {
    Key::new(user_pk(user_id), entry_sk(habit_id, date))
}

pub fn entry_sk(habit_id: &str, date: chrono::NaiveDate) -> String {
    format!("HABIT#{habit_id}#ENTRY#{}", date.format("%Y-%m-%d"))
}

/// Sort-key bounds (inclusive) of a habit's items: the habit, its links and its entries.
pub fn habit_range(habit_id: &str) -> (String, String) {
    (habit_sk(habit_id), format!("HABIT#{habit_id}#~"))
}

/// Sort-key bounds of a habit and its category links (without entries: `CAT` < `ENTRY`).
pub fn habit_with_links_range(habit_id: &str) -> (String, String) {
    (habit_sk(habit_id), format!("HABIT#{habit_id}#CAT#~"))
}

/// Sort-key bounds of a habit's entries from `from` to `to` (inclusive).
pub fn entries_range(habit_id: &str, from: chrono::NaiveDate, to: chrono::NaiveDate) -> (String, String) {
    (entry_sk(habit_id, from), entry_sk(habit_id, to))
}

/// GSI2 sort key of an entry: by day, then habit.
pub fn entry_gsi2sk(date: chrono::NaiveDate, habit_id: &str) -> String {
    format!("DAY#{}#{habit_id}", date.format("%Y-%m-%d"))
}

pub fn day_gsi2sk_from(date: chrono::NaiveDate) -> String {
    format!("DAY#{}", date.format("%Y-%m-%d"))
}

pub fn habit_category(user_id: &str, habit_id: &str, category_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("HABIT#{habit_id}#CAT#{category_id}"))
}

pub fn category_pk(category_id: &str) -> String {
    format!("CATEGORY#{category_id}")
}

pub fn category(category_id: &str) -> Key {
    Key::new(category_pk(category_id), CATEGORY_SK)
}

/// The prefix of a category's GSI1 sort key.
pub const CATEGORY_NAME: &str = "NAME#";

/// GSI1 sort key of a category: listed by name.
pub fn category_gsi1sk(lower_name: &str, category_id: &str) -> String {
    format!("{CATEGORY_NAME}{lower_name}#{category_id}")
}

/// GSI1 sort key of a habit-category link within the category's partition.
pub fn link_gsi1sk(user_id: &str, habit_id: &str) -> String {
    format!("{}#{}", user_pk(user_id), habit_sk(habit_id))
}

/// The `begins_with` prefix of a category's links: every user's, or one user's.
pub fn links_gsi1sk_prefix(user_id: Option<&str>) -> String {
    match user_id {
        Some(u) => format!("{}#{HABIT}", user_pk(u)),
        None => USER.into(),
    }
}

pub fn category_name_guard(lower_name: &str) -> Key {
    Key::new(format!("CATEGORYNAME#{lower_name}"), GUARD_SK)
}

/// The login-throttle item of a subject (`USER#<id>`, or the identifier when no account has it).
/// GSI1 partition of the accounts whose items are still being swept after deletion.
pub const SWEEPS_GSI1PK: &str = "SWEEPS";

/// GSI1 sort key of a sweep: oldest first.
pub fn sweep_gsi1sk(at: chrono::DateTime<chrono::Utc>, user_id: &str) -> String {
    format!("{}#{user_id}", at.to_rfc3339())
}

/// The marker of an account being swept (`USER#<id> / DELETING`): written in the transaction that
/// deletes the account, removed with the last of its items.
pub fn sweep_marker(user_id: &str) -> Key {
    Key::new(user_pk(user_id), "DELETING")
}

/// The record of a request made with an `Idempotency-Key` (`crate::idempotency`).
pub fn request(user_id: &str, key: &str) -> Key {
    Key::new(user_pk(user_id), format!("REQUEST#{key}"))
}

/// A user's counts for the per-user limits (`crate::storage::limits`).
pub fn limits(user_id: &str) -> Key {
    Key::new(user_pk(user_id), "LIMITS")
}

/// The number of active admins (`active_admins`), kept in the same transaction as every change
/// that makes or unmakes one, so that no pair of concurrent changes can leave none.
pub fn admin_count() -> Key {
    Key::new("ADMINS".into(), "COUNT")
}

fn login_throttle(subject: &str) -> Key {
    Key::new(format!("LOGIN#{subject}"), "THROTTLE")
}

/// Failed logins naming a username, as typed (normalized).
pub fn username_throttle(username: &str) -> Key {
    login_throttle(&format!("NAME#{username}"))
}

/// Failed logins naming an e-mail address, counted by what it looks like as its guard is:
/// look-alikes share one count.
pub fn email_throttle(email: &str) -> Key {
    login_throttle(&format!("EMAIL#{}", crate::domain::skeleton(email)))
}

/// Failed password re-checks of a signed-in account (sensitive changes).
pub fn account_throttle(user_id: &str) -> Key {
    login_throttle(&user_pk(user_id))
}

/// Password checks from one source address.
pub fn source_throttle(source: &str) -> Key {
    login_throttle(&format!("SOURCE#{source}"))
}

/// Number of due-index shards. A reminder's shard is fixed by its id, so changing this needs a
/// re-index of every reminder; the dispatcher queries every shard, in parallel, each minute.
/// A million reminders firing in one minute rewrite their due keys at ~16,700/s: 64 shards keep
/// each index partition near 260 writes/s, under its 1,000 (docs/ACCESS_PATTERNS.md).
pub const DUE_SHARDS: u32 = 64;

pub fn reminder(user_id: &str, reminder_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{REMINDER}{reminder_id}"))
}

pub const REMINDER: &str = "REMINDER#";
pub const NOTIFICATION: &str = "NOTIF#";

pub fn notification(user_id: &str, notification_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{NOTIFICATION}{notification_id}"))
}

/// The due-index shard of a reminder (FNV-1a of its id): spreads one minute's reminders over
/// `DUE_SHARDS` GSI partitions.
pub fn due_shard(reminder_id: &str) -> u32 {
    fnv1a(reminder_id) % DUE_SHARDS
}

fn fnv1a(text: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// GSI1 partition of a due-index shard.
pub fn due_gsi1pk(shard: u32) -> String {
    format!("DUE#{shard:02}")
}

/// GSI1 sort key of an armed reminder: its next fire time (zero-padded epoch seconds), then id.
pub fn due_gsi1sk(at: chrono::DateTime<chrono::Utc>, reminder_id: &str) -> String {
    format!("{:012}#{reminder_id}", at.timestamp())
}

/// Upper bound (inclusive) of the due-index sort keys of everything due at `now`.
pub fn due_upper(now: chrono::DateTime<chrono::Utc>) -> String {
    format!("{:012}#~", now.timestamp())
}

/// A user's webhook endpoint.
pub fn webhook(user_id: &str, webhook_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{WEBHOOK}{webhook_id}"))
}

pub const WEBHOOK: &str = "WEBHOOK#";
pub const PUSH: &str = "PUSH#";

/// A browser's push subscription of a user.
pub fn push_subscription(user_id: &str, subscription_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{PUSH}{subscription_id}"))
}
pub const OUTBOX: &str = "OUTBOX#";
pub const DELIVERY: &str = "DELIVERY#";

/// An event waiting to be delivered (written in the transaction that made the event).
pub fn outbox(user_id: &str, event_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{OUTBOX}{event_id}"))
}

/// One event's delivery to one target (a webhook, a push subscription), with its attempts.
pub fn delivery(user_id: &str, target_id: &str, event_id: &str) -> Key {
    Key::new(user_pk(user_id), delivery_sk(target_id, event_id))
}

pub fn delivery_sk(target_id: &str, event_id: &str) -> String {
    format!("{DELIVERY}{target_id}#{event_id}")
}

/// The `begins_with` prefix of a target's deliveries (sorted by event id: oldest first).
pub fn deliveries_prefix(target_id: &str) -> String {
    format!("{DELIVERY}{target_id}#")
}

/// Number of shards of the outbox's due index (GSI1 `OUTBOX#<shard>`), as the reminders' due index:
/// each fired reminder writes (and its delivery deletes) one outbox item.
pub const OUTBOX_SHARDS: u32 = 64;

/// GSI1 partition of an outbox item: spread by its event id.
pub fn outbox_gsi1pk(event_id: &str) -> String {
    format!("OUTBOX#{:02}", fnv1a(event_id) % OUTBOX_SHARDS)
}

pub fn outbox_shard_gsi1pk(shard: u32) -> String {
    format!("OUTBOX#{shard:02}")
}

/// GSI1 partition of the deliveries that ran out of attempts (the dead-letter list).
pub const DEAD_DELIVERIES_GSI1PK: &str = "DEAD_DELIVERIES";

pub const CHALLENGES_GSI1PK: &str = "CHALLENGES";
pub const CHALLENGE_SK: &str = "CHALLENGE";
pub const MEMBER: &str = "MEMBER#";

pub fn challenge_pk(challenge_id: &str) -> String {
    format!("CHALLENGE#{challenge_id}")
}

/// GSI3 partition of a member's place in a challenge's ranking, by the member's id.
pub fn ranking_gsi3pk(challenge_id: &str, user_id: &str) -> String {
    format!("CHALLENGE#{challenge_id}#{:02}", shard_of(user_id))
}

/// Every GSI3 partition of a challenge's ranking.
pub fn ranking_gsi3pks(challenge_id: &str) -> impl Iterator<Item = String> + '_ {
    (0..INDEX_SHARDS).map(move |n| format!("CHALLENGE#{challenge_id}#{n:02}"))
}

pub fn challenge(challenge_id: &str) -> Key {
    Key::new(challenge_pk(challenge_id), CHALLENGE_SK)
}

/// The prefix of a challenge's GSI1 sort key: every challenge is between it and [`CHALLENGES_END`].
pub const CHALLENGE_START: &str = "START#";
/// Above every challenge's GSI1 sort key.
pub const CHALLENGES_END: &str = "START#~";

/// GSI1 sort key of a challenge: listed by start date.
pub fn challenge_gsi1sk(start: chrono::NaiveDate, challenge_id: &str) -> String {
    format!("{CHALLENGE_START}{}#{challenge_id}", start.format("%Y-%m-%d"))
}

/// Upper bound of the GSI1 sort keys of challenges starting on or before `day`.
pub fn challenges_started_by(day: chrono::NaiveDate) -> String {
    format!("{CHALLENGE_START}{}#~", day.format("%Y-%m-%d"))
}

/// A user's membership of a challenge (one per user and challenge).
pub fn membership(user_id: &str, challenge_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{MEMBER}{challenge_id}"))
}

/// Leaderboard score: progress first (higher is better), then the earlier join. Both fit one
/// number, so one Query on GSI3 (descending) returns the ranking.
pub fn member_score(progress: u64, joined_at_ms: i64) -> u64 {
    let joined = joined_at_ms.clamp(0, SCORE_PROGRESS_UNIT as i64 - 1) as u64;
    progress.min(MAX_PROGRESS) * SCORE_PROGRESS_UNIT + (SCORE_PROGRESS_UNIT - joined)
}

/// One unit of progress in the leaderboard score (above any epoch-milliseconds value).
pub const SCORE_PROGRESS_UNIT: u64 = 10_000_000_000_000;
/// Progress beyond this does not fit the score (a challenge has at most one day per day).
pub const MAX_PROGRESS: u64 = 1_000_000;

/// GSI1 sort key of a user: admin listings filter by role, or role and active, with `begins_with`.
pub fn users_gsi1sk(role: Role, is_active: bool, user_id: &str) -> String {
    format!("{}{}", users_gsi1sk_prefix(Some(role), Some(is_active)), user_id)
}

/// The `begins_with` prefix for an admin user listing. A filter on `is_active` alone cannot be a
/// prefix (role comes first) and is applied as a filter expression by the caller.
pub fn users_gsi1sk_prefix(role: Option<Role>, is_active: Option<bool>) -> String {
    match (role, is_active) {
        (None, _) => "ROLE#".to_owned(),
        (Some(role), None) => format!("ROLE#{}#", role.as_str()),
        (Some(role), Some(active)) => {
            format!("ROLE#{}#ACTIVE#{}#USER#", role.as_str(), u8::from(active))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_owned_items_share_one_partition() {
        let id = "01J0000000000000000000000A";
        assert_eq!(user(id).pk, format!("USER#{id}"));
        assert_eq!(profile(id).pk, user(id).pk);
        assert_eq!(refresh_family(id, "F1").pk, user(id).pk);
        assert_eq!(user(id).sk, "USER");
        assert_eq!(profile(id).sk, "PROFILE");
        assert_eq!(refresh_family(id, "F1").sk, "REFRESH#F1");
    }

    #[test]
    fn guards_have_their_own_partitions() {
        assert_eq!(username_guard("alice"), Key { pk: "USERNAME#alice".into(), sk: "GUARD".into() });
        assert_eq!(email_guard("a@b.co"), Key { pk: "EMAIL#a@b.co".into(), sk: "GUARD".into() });
    }

    #[test]
    fn gsi1_prefixes_select_role_then_activity() {
        let sk = users_gsi1sk(Role::Admin, true, "U1");
        assert_eq!(sk, "ROLE#admin#ACTIVE#1#USER#U1");
        assert!(sk.starts_with(&users_gsi1sk_prefix(None, None)));
        assert!(sk.starts_with(&users_gsi1sk_prefix(Some(Role::Admin), None)));
        assert!(sk.starts_with(&users_gsi1sk_prefix(Some(Role::Admin), Some(true))));
        assert!(!sk.starts_with(&users_gsi1sk_prefix(Some(Role::User), None)));
        assert!(!sk.starts_with(&users_gsi1sk_prefix(Some(Role::Admin), Some(false))));
    }

    #[test]
    fn habit_items_sort_together_and_ranges_select_them() {
        let (u, h) = ("U1", "01J00000000000000000000000");
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        let habit_key = habit(u, h).sk;
        let link = habit_category(u, h, "C1").sk;
        let e1 = entry(u, h, d("2026-01-09")).sk;
        let e2 = entry(u, h, d("2026-01-10")).sk;
        assert_eq!(e1, format!("HABIT#{h}#ENTRY#2026-01-09"));
        assert!(habit_key < link && link < e1 && e1 < e2, "habit, links, entries in date order");
        let (lo, hi) = habit_with_links_range(h);
        assert!(lo <= habit_key && link <= hi && e1 > hi, "links range excludes entries");
        let (lo, hi) = habit_range(h);
        assert!(lo <= habit_key && e2 <= hi);
        let other = habit(u, "01J00000000000000000000001").sk;
        assert!(!(lo <= other && other <= hi), "another habit is outside the range");
        let (lo, hi) = entries_range(h, d("2026-01-10"), d("2026-01-31"));
        assert!(e1 < lo && lo <= e2 && e2 <= hi);
        // GSI2: today's entries then habits, nothing of earlier days.
        let from = day_gsi2sk_from(d("2026-01-10"));
        assert!(entry_gsi2sk(d("2026-01-09"), h) < from);
        assert!(entry_gsi2sk(d("2026-01-10"), h) >= from);
        assert!(habit_sk(h) >= from);
    }

    #[test]
    fn due_index_orders_by_time_and_spreads_over_shards() {
        let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let a = due_gsi1sk(t("2026-11-24T07:30:00Z"), "01A");
        let b = due_gsi1sk(t("2026-11-24T07:31:00Z"), "01B");
        assert!(a < b);
        assert!(a <= due_upper(t("2026-11-24T07:30:00Z")) && b > due_upper(t("2026-11-24T07:30:59Z")));
        assert_eq!(due_gsi1pk(3), "DUE#03");
        let mut counts = [0u32; DUE_SHARDS as usize];
        for _ in 0..(DUE_SHARDS * 200) {
            counts[due_shard(&ulid::Ulid::new().to_string()) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (100..=300).contains(c)), "{counts:?}");
        let id = ulid::Ulid::new().to_string();
        assert_eq!(due_shard(&id), due_shard(&id));
    }

    #[test]
    fn shared_index_partitions_spread_evenly_over_their_shards_and_listings_name_them_all() {
        let all: Vec<String> = habits_gsi1pks().chain(users_gsi1pks()).chain(ranking_gsi3pks("C1")).collect();
        assert_eq!(all.len(), 3 * INDEX_SHARDS as usize);
        let mut counts = std::collections::HashMap::<String, u32>::new();
        for _ in 0..3200 {
            let id = ulid::Ulid::new().to_string();
            for pk in [habits_gsi1pk(&id), users_gsi1pk(&id), ranking_gsi3pk("C1", &id)] {
                assert!(all.contains(&pk), "{pk} is not listed");
                *counts.entry(pk).or_default() += 1;
            }
        }
        assert!(counts.values().all(|c| (100..=300).contains(c)), "{counts:?}");
        let id = ulid::Ulid::new().to_string();
        assert_eq!(habits_gsi1pk(&id), habits_gsi1pk(&id), "a look-up by id finds the shard again");
    }

    #[test]
    fn leaderboard_score_orders_by_progress_then_earlier_join() {
        let early = 1_700_000_000_000;
        let late = 1_800_000_000_000;
        assert!(member_score(5, late) > member_score(4, early));
        assert!(member_score(5, early) > member_score(5, late));
        assert_eq!(member_score(6, early) - member_score(5, early), SCORE_PROGRESS_UNIT);
        assert!(member_score(0, late) > 0);
    }

    #[test]
    fn category_keys() {
        assert_eq!(category("C1"), Key { pk: "CATEGORY#C1".into(), sk: "CATEGORY".into() });
        assert_eq!(category_name_guard("reading").pk, "CATEGORYNAME#reading");
        assert_eq!(link_gsi1sk("U1", "H1"), "USER#U1#HABIT#H1");
        assert!(category_gsi1sk("apple", "Z") < category_gsi1sk("banana", "A"));
    }

    #[test]
    fn ulid_sort_keys_order_by_creation() {
        let a = ulid::Ulid::from_parts(1_000, 5).to_string();
        let b = ulid::Ulid::from_parts(2_000, 1).to_string();
        assert!(refresh_family("U", &a).sk < refresh_family("U", &b).sk);
    }
}
