//! When a reminder fires: the next instant, strictly after a given one, at which the wall clock in
//! the reminder's IANA time zone shows `HH:MM` on one of its repeat days — computed with the real
//! tz database (chrono-tz).
//!
//! Daylight saving: a time that does not exist on a spring-forward day (02:30 in New York on the
//! second Sunday of March) fires at the first valid instant after it (03:00, when the clocks
//! resume); a time that occurs twice on a fall-back day (01:30) fires once, at its first
//! occurrence.

use crate::schedule::Day;
use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Parses `HH:MM` (24-hour clock).
pub fn parse_time(raw: &str) -> Result<NaiveTime, String> {
    let bad = || "must be a time of day like 07:30 (24-hour HH:MM)".to_owned();
    let (h, m) = raw.split_once(':').ok_or_else(bad)?;
    // Two ASCII digits each: `u32::from_str` alone would also take `+7`.
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(bad)
}

/// The instant the local wall-clock time `local` happens in `tz`: the earlier one when it happens
/// twice, the end of the gap when it does not happen at all.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(earliest, _) => earliest.with_timezone(&Utc),
        LocalResult::None => {
            // In a gap: the first wall-clock minute after it that exists is when the clocks
            // resume (gaps are whole minutes, at most a few hours).
            let mut probe = local;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

/// The next occurrence strictly after `after`, or `None` when `days` is empty.
pub fn next_fire(tz: Tz, time: NaiveTime, days: &[Day], after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if days.is_empty() {
        return None;
    }
    // Start a day early: `after` in local time may be just past midnight of the local date whose
    // occurrence (resolved through a gap) is still ahead.
    let start: NaiveDate = after.with_timezone(&tz).date_naive().pred_opt()?;
    for offset in 0..9 {
        let date = start + chrono::Days::new(offset);
        if !days.contains(&Day::of(date)) {
            continue;
        }
        let at = resolve(tz, date.and_time(time));
        if at > after {
            return Some(at);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Asia::Kolkata, Asia::Tokyo, Europe::Berlin};
    use Day::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }
    fn t(s: &str) -> NaiveTime {
        parse_time(s).unwrap()
    }
    const ALL: [Day; 7] = [Mon, Tue, Wed, Thu, Fri, Sat, Sun];

    #[test]
    fn parses_times() {
        assert_eq!(t("07:30"), NaiveTime::from_hms_opt(7, 30, 0).unwrap());
        assert_eq!(t("00:00"), NaiveTime::MIN);
        for bad in ["7:30", "24:00", "07:60", "0730", "07:30:00", "ab:cd", "", "-1:30"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn created_one_second_before_fires_the_same_day() {
        // 07:29:59 in Berlin (CET, UTC+1) on Tuesday 2026-11-24.
        let now = utc("2026-11-24T06:29:59Z");
        assert_eq!(next_fire(Berlin, t("07:30"), &ALL, now), Some(utc("2026-11-24T06:30:00Z")));
        // At 07:30:00 exactly, the next one is tomorrow.
        assert_eq!(next_fire(Berlin, t("07:30"), &ALL, utc("2026-11-24T06:30:00Z")), Some(utc("2026-11-25T06:30:00Z")));
    }

    #[test]
    fn repeat_days_are_local_days_even_across_midnight_utc() {
        // Tokyo (UTC+9): Monday 07:00 local is Sunday 22:00 UTC.
        let sunday_noon_utc = utc("2026-11-22T12:00:00Z");
        assert_eq!(next_fire(Tokyo, t("07:00"), &[Mon], sunday_noon_utc), Some(utc("2026-11-22T22:00:00Z")));
        // Mon/Wed/Fri 07:30 in New York from Friday evening: next is Monday.
        let friday_evening = utc("2026-11-27T23:00:00Z"); // 18:00 EST
        assert_eq!(
            next_fire(New_York, t("07:30"), &[Mon, Wed, Fri], friday_evening),
            Some(utc("2026-11-30T12:30:00Z"))
        );
    }

    #[test]
    fn half_hour_offset() {
        // Kolkata is UTC+05:30 all year.
        assert_eq!(
            next_fire(Kolkata, t("07:30"), &ALL, utc("2026-06-01T00:00:00Z")),
            Some(utc("2026-06-01T02:00:00Z"))
        );
    }

    #[test]
    fn new_york_spring_forward_and_fall_back() {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT. 02:30 does not exist: fire at 03:00 EDT = 07:00Z.
        let before = utc("2026-03-08T05:00:00Z"); // 00:00 EST
        assert_eq!(next_fire(New_York, t("02:30"), &ALL, before), Some(utc("2026-03-08T07:00:00Z")));
        // 07:30 that day is EDT (UTC-4).
        assert_eq!(next_fire(New_York, t("07:30"), &ALL, before), Some(utc("2026-03-08T11:30:00Z")));
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST. 01:30 happens twice: fire at the first (05:30Z) only.
        let fall = utc("2026-11-01T04:00:00Z"); // 00:00 EDT
        let first = next_fire(New_York, t("01:30"), &ALL, fall).unwrap();
        assert_eq!(first, utc("2026-11-01T05:30:00Z"));
        let second = next_fire(New_York, t("01:30"), &ALL, first).unwrap();
        assert_eq!(second, utc("2026-11-02T06:30:00Z"), "not again at 06:30Z the same day");
    }

    #[test]
    fn berlin_spring_forward_and_fall_back() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST. 02:15 fires at 03:00 CEST = 01:00Z.
        assert_eq!(next_fire(Berlin, t("02:15"), &ALL, utc("2026-03-28T23:00:00Z")), Some(utc("2026-03-29T01:00:00Z")));
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET. 02:30 twice: first at 00:30Z, then the next day.
        let first = next_fire(Berlin, t("02:30"), &ALL, utc("2026-10-24T22:00:00Z")).unwrap();
        assert_eq!(first, utc("2026-10-25T00:30:00Z"));
        assert_eq!(next_fire(Berlin, t("02:30"), &ALL, first), Some(utc("2026-10-26T01:30:00Z")));
        // An ordinary time across the change keeps its local wall-clock time.
        assert_eq!(next_fire(Berlin, t("07:30"), &ALL, utc("2026-10-25T00:00:00Z")), Some(utc("2026-10-25T06:30:00Z")));
        assert_eq!(next_fire(Berlin, t("07:30"), &ALL, utc("2026-10-24T00:00:00Z")), Some(utc("2026-10-24T05:30:00Z")));
    }

    #[test]
    fn every_occurrence_is_strictly_later_and_on_a_repeat_day() {
        let mut at = utc("2026-01-01T00:00:00Z");
        for _ in 0..400 {
            let next = next_fire(New_York, t("02:30"), &[Sun, Wed], at).unwrap();
            assert!(next > at);
            assert!(next - at <= chrono::Duration::days(5));
            let local = next.with_timezone(&New_York);
            assert!(matches!(Day::of(local.date_naive()), Sun | Wed), "{local}");
            at = next;
        }
        assert_eq!(next_fire(Berlin, t("07:30"), &[], at), None);
    }
}
