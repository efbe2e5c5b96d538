//! The reminder dispatcher, invoked by an EventBridge schedule every minute.
//!
//! Each run queries every shard of the due index (GSI1 `DUE#<shard>`, sort key = next fire time)
//! for reminders due at or before now, in parallel, and handles each due occurrence:
//!
//! - due within the late window (default 1 hour): **fired** in one conditional transaction (the
//!   reminder moves to its next occurrence only if it is still at this one, the notification is
//!   written only if it does not exist, habit and user are checked active). Two overlapping runs,
//!   or the same event delivered twice, can fire an occurrence only once. An occurrence fired in a
//!   later minute than it was due is marked `late`.
//! - older than the window: **skipped** (not fired in a burst after an outage), and the reminder
//!   moves to its next occurrence after now.
//! - habit inactive / ended / not started, or user deactivated: **suppressed**, moved on.
//!
//! A run stops taking new work when the Lambda deadline is near ([`shared::deadline`]); what is left
//! stays due in the index and the next run (a minute later) picks it up, marked late.
//!
//! **Fan-out.** One run cannot fire a million reminders in a minute (docs/REMINDERS.md, "Scale"),
//! so each minute starts [`SHARD_GROUPS`] runs at once: the template has one schedule per group,
//! each passing `{"dispatch_group": {"index": i, "of": n}}` as its event, and a run takes the due
//! shards `s` with `s mod n = i` ([`ShardGroup`]), each with its own deadline and concurrency.
//! Groups never share a shard, and were two runs to meet on one (a late run overlapping the next
//! minute's), the conditional transactions still fire each occurrence once. A plain scheduled
//! event (a manual invocation, `make fire`) dispatches every shard.

pub mod fixture;

use chrono::{DateTime, Utc};
use futures::{stream, StreamExt};
use serde::{Deserialize, Serialize};
use shared::{
    config::{ConfigError, Vars},
    models::ReminderItem,
    reminder_time,
    storage::{
        reminders::{FireOutcome, DUE_SHARDS},
        Db,
    },
    ApiError,
};
use std::{collections::HashMap, time::Duration};
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Occurrences older than this are skipped instead of fired.
    pub late_window: Duration,
    /// Reminders handled at once within one run.
    pub concurrency: usize,
    /// Due reminders read per Query page.
    pub page_size: i32,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig { late_window: Duration::from_secs(3600), concurrency: 32, page_size: 200 }
    }
}

impl DispatchConfig {
    /// `REMINDER_LATE_WINDOW_SECONDS` (60–86400, default 3600), `DISPATCH_CONCURRENCY` (1–256, default 32).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let (vars, d) = (Vars(vars), DispatchConfig::default());
        Ok(DispatchConfig {
            late_window: Duration::from_secs(vars.whole(
                "REMINDER_LATE_WINDOW_SECONDS",
                60..=86_400,
                d.late_window.as_secs(),
            )?),
            concurrency: vars.whole("DISPATCH_CONCURRENCY", 1..=256, d.concurrency as u64)? as usize,
            ..d
        })
    }
}

/// The dispatch groups of a minute: the template's schedules (`infra/template.yaml`, checked by
/// `tests/tests/api/infra.rs`).
pub const SHARD_GROUPS: u32 = 8;

/// The due shards one run takes: those with `shard mod of = index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShardGroup {
    pub index: u32,
    pub of: u32,
}

impl ShardGroup {
    /// Every shard: one run does it all.
    pub const ALL: ShardGroup = ShardGroup { index: 0, of: 1 };

    /// The group from an event's `dispatch_group`, checked.
    pub fn parse(value: &serde_json::Value) -> Result<Self, ApiError> {
        let g: ShardGroup =
            serde_json::from_value(value.clone()).map_err(|e| ApiError::BadRequest(format!("dispatch_group: {e}")))?;
        if g.of == 0 || g.of > DUE_SHARDS || g.index >= g.of {
            return Err(ApiError::BadRequest(format!(
                "dispatch_group: index {} of {} is not a group of the {DUE_SHARDS} shards",
                g.index, g.of
            )));
        }
        Ok(g)
    }

    pub fn shards(self) -> impl Iterator<Item = u32> {
        (0..DUE_SHARDS).filter(move |s| s % self.of == self.index)
    }
}

/// The time a run works when the invocation's deadline cannot be believed: the template's
/// `Timeout` of the dispatcher (55 s), which is also shorter than the schedule's minute.
pub const FALLBACK_TIMEOUT: Duration = Duration::from_secs(55);

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub due: usize,
    pub fired: usize,
    pub fired_late: usize,
    pub skipped_stale: usize,
    pub suppressed: usize,
    pub already_handled: usize,
    /// The run stopped at its deadline with due reminders left for the next one.
    pub left_for_next_run: bool,
    /// Deleted accounts whose items this run finished removing.
    pub accounts_swept: usize,
    /// Deleted accounts still holding items after this run (the next runs go on).
    pub accounts_left: usize,
}

/// Deleted accounts taken per run, after the reminders (a deletion that could not finish within
/// its own request).
pub const SWEEPS_PER_RUN: i32 = 25;

/// Sweeps deleted accounts until `deadline` (see `Db::sweep_user`).
pub async fn sweep_accounts(db: &Db, deadline: Option<Instant>) -> Result<(usize, usize), ApiError> {
    let pending = db.pending_sweeps(SWEEPS_PER_RUN).await?;
    let (mut swept, mut left) = (0, 0);
    for user_id in pending {
        match db.sweep_user(&user_id, deadline).await {
            Ok(true) => swept += 1,
            Ok(false) => left += 1,
            // One account's failure (throttling) must not hold up the others; it stays pending.
            Err(e) => {
                tracing::warn!(error = %e, %user_id, "account sweep failed; left for the next run");
                left += 1;
            }
        }
    }
    Ok((swept, left))
}

enum Outcome {
    Fired { late: bool },
    Skipped,
    Suppressed,
    AlreadyHandled,
}

async fn handle_one(db: &Db, cfg: &DispatchConfig, r: ReminderItem, now: DateTime<Utc>) -> Result<Outcome, ApiError> {
    let Some(occurrence) = r.next_fire_at else { return Ok(Outcome::AlreadyHandled) };
    let (Ok(tz), Ok(time)) = (r.time_zone.parse::<chrono_tz::Tz>(), reminder_time::parse_time(&r.reminder_time)) else {
        // Stored reminders are validated; an unreadable one is parked rather than retried forever.
        db.advance_reminder(&r, occurrence, None).await?;
        return Ok(Outcome::Suppressed);
    };
    let next = reminder_time::next_fire(tz, time, &r.repeat_days, now.max(occurrence));
    let age = (now - occurrence).to_std().unwrap_or_default();
    if age > cfg.late_window {
        return Ok(if db.advance_reminder(&r, occurrence, next).await? {
            Outcome::Skipped
        } else {
            Outcome::AlreadyHandled
        });
    }
    let local_date = occurrence.with_timezone(&tz).date_naive();
    Ok(match db.fire_reminder(&r, occurrence, local_date, next, now).await? {
        FireOutcome::Fired => Outcome::Fired { late: age >= Duration::from_secs(60) },
        FireOutcome::Suppressed => Outcome::Suppressed,
        FireOutcome::AlreadyHandled => Outcome::AlreadyHandled,
    })
}

/// One dispatcher run at `now` over every shard. `deadline`: when to stop taking new work.
pub async fn dispatch(
    db: &Db,
    cfg: &DispatchConfig,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> Result<Report, ApiError> {
    dispatch_group(db, cfg, ShardGroup::ALL, now, deadline).await
}

/// One dispatcher run at `now` over the shards of `group`, all at once, the run's concurrency
/// shared between them.
pub async fn dispatch_group(
    db: &Db,
    cfg: &DispatchConfig,
    group: ShardGroup,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> Result<Report, ApiError> {
    let count = group.shards().count();
    let per_shard = (cfg.concurrency / count.max(1)).max(1);
    let shards = stream::iter(group.shards()).map(|shard| dispatch_shard(db, cfg, shard, per_shard, now, deadline));
    let reports: Vec<Result<Report, ApiError>> = shards.buffer_unordered(count.max(1)).collect().await;
    let mut total = Report::default();
    for r in reports {
        let r = r?;
        total.due += r.due;
        total.fired += r.fired;
        total.fired_late += r.fired_late;
        total.skipped_stale += r.skipped_stale;
        total.suppressed += r.suppressed;
        total.already_handled += r.already_handled;
        total.left_for_next_run |= r.left_for_next_run;
    }
    Ok(total)
}

async fn dispatch_shard(
    db: &Db,
    cfg: &DispatchConfig,
    shard: u32,
    per_shard: usize,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> Result<Report, ApiError> {
    let mut report = Report::default();
    let mut start = None;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            report.left_for_next_run = true;
            return Ok(report);
        }
        let (due, next_page) = match db.due_page(shard, now, cfg.page_size, start).await {
            Ok(page) => page,
            // A throttled read must not cost the other shards their run: this shard's due
            // reminders stay in the index for the next run. Anything else is a fault to see.
            Err(e @ ApiError::Unavailable(_)) => {
                tracing::warn!(error = %e, shard, "due reminders of a shard left for the next run");
                report.left_for_next_run = true;
                return Ok(report);
            }
            Err(e) => return Err(e),
        };
        report.due += due.len();
        let outcomes: Vec<Result<Outcome, ApiError>> =
            stream::iter(due).map(|r| handle_one(db, cfg, r, now)).buffer_unordered(per_shard).collect().await;
        for o in outcomes {
            match o {
                Ok(Outcome::Fired { late }) => {
                    report.fired += 1;
                    report.fired_late += usize::from(late);
                }
                Ok(Outcome::Skipped) => report.skipped_stale += 1,
                Ok(Outcome::Suppressed) => report.suppressed += 1,
                Ok(Outcome::AlreadyHandled) => report.already_handled += 1,
                // One reminder's failure (throttling) must not stop the others; it stays due.
                Err(e) => {
                    tracing::warn!(error = %e, shard, "reminder left due after an error");
                    report.left_for_next_run = true;
                }
            }
        }
        match next_page {
            Some(k) => start = Some(k),
            None => return Ok(report),
        }
    }
}

/// Handles the event of one of the minute's schedules (the Lambda entry point's work): a
/// `dispatch_group` (the template's schedules), or an EventBridge scheduled event (every shard).
/// The first group, or a run of every shard, also sweeps deleted accounts.
pub async fn handle_event(
    db: &Db,
    cfg: &DispatchConfig,
    event: &serde_json::Value,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> Result<Report, ApiError> {
    let group = match event.get("dispatch_group") {
        Some(group) => ShardGroup::parse(group)?,
        None => {
            let source = event.get("source").and_then(|s| s.as_str());
            let kind = event.get("detail-type").and_then(|s| s.as_str());
            if source != Some("aws.events") || kind != Some("Scheduled Event") {
                return Err(ApiError::BadRequest(format!(
                    "neither a dispatch group nor an EventBridge scheduled event: source {source:?}, detail-type {kind:?}"
                )));
            }
            ShardGroup::ALL
        }
    };
    let mut report = dispatch_group(db, cfg, group, now, deadline).await?;
    if group.index == 0 {
        (report.accounts_swept, report.accounts_left) = sweep_accounts(db, deadline).await?;
    }
    if report.left_for_next_run || report.accounts_left > 0 {
        tracing::warn!(event_id = ?event.get("id"), ?group, ?report, "dispatch left work for the next run");
    } else {
        tracing::info!(event_id = ?event.get("id"), ?group, ?report, "dispatch finished");
    }
    Ok(report)
}
