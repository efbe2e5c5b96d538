//! Working within a Lambda invocation's deadline: long work (a dispatcher run, an account's
//! sweep) stops taking new work shortly before it, and what is left is picked up later.

use std::time::Duration;

/// How long before the deadline to stop taking new work: a tenth of the time the invocation
/// has, at least 100 ms (one DynamoDB round trip and its retry) and at most 5 s (the slowest
/// transaction with the SDK's retries). A short deadline keeps most of its time for work.
pub fn stop_margin(remaining: Duration) -> Duration {
    (remaining / 10).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

/// How long an invocation may take new work, from its deadline (`Lambda-Runtime-Deadline-Ms`,
/// epoch milliseconds) at `now_ms`, less [`stop_margin`].
///
/// A deadline at or before the start of the invocation is not one Lambda hands out: `cargo
/// lambda watch` sends the constant `600000` (ten minutes as a duration, i.e. 00:10 on 1 January
/// 1970 as a date). Such an invocation works for `fallback` (the function's timeout) instead of
/// stopping at once.
pub fn work_budget(deadline_ms: u64, now_ms: u64, fallback: Duration) -> Duration {
    let remaining = match deadline_ms.checked_sub(now_ms) {
        Some(ms) if ms > 0 => Duration::from_millis(ms),
        _ => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    deadline_ms,
                    now_ms,
                    fallback_seconds = fallback.as_secs(),
                    "the invocation's deadline is already past (not a Lambda deadline, e.g. cargo lambda watch's); using the fallback timeout for every run of this process"
                );
            });
            fallback
        }
    };
    remaining.saturating_sub(stop_margin(remaining))
}

/// The instant to stop taking new work in an invocation whose deadline is `deadline_ms`.
pub fn stop_at(deadline_ms: u64, fallback: Duration) -> tokio::time::Instant {
    let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    tokio::time::Instant::now() + work_budget(deadline_ms, now_ms, fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FALLBACK: Duration = Duration::from_secs(55);

    #[test]
    fn the_margin_is_a_tenth_of_the_time_left_within_its_floor_and_ceiling() {
        let ms = Duration::from_millis;
        assert_eq!(stop_margin(Duration::from_secs(55)), Duration::from_secs(5));
        assert_eq!(stop_margin(Duration::from_secs(900)), Duration::from_secs(5));
        assert_eq!(stop_margin(Duration::from_secs(10)), Duration::from_secs(1));
        assert_eq!(stop_margin(ms(3000)), ms(300));
        assert_eq!(stop_margin(ms(500)), ms(100));
        assert_eq!(stop_margin(Duration::ZERO), ms(100));
    }

    #[test]
    fn a_real_deadline_leaves_work_time_less_the_margin() {
        let now = 1_764_600_000_000;
        assert_eq!(work_budget(now + 55_000, now, FALLBACK), Duration::from_secs(50));
        // A deadline shorter than the old fixed 5 s margin still fires what it can.
        assert_eq!(work_budget(now + 3_000, now, FALLBACK), Duration::from_millis(2_700));
        assert_eq!(work_budget(now + 1_000, now, FALLBACK), Duration::from_millis(900));
        // Less time than the floor: no new work.
        assert_eq!(work_budget(now + 50, now, FALLBACK), Duration::ZERO);
    }

    #[test]
    fn a_deadline_in_the_past_is_not_believed() {
        let now = 1_764_600_000_000;
        assert_eq!(work_budget(600_000, now, FALLBACK), Duration::from_secs(50));
        assert_eq!(work_budget(now, now, FALLBACK), Duration::from_secs(50));
        assert_eq!(work_budget(0, now, Duration::from_secs(10)), Duration::from_secs(9));
    }
}
