//! Habit schedules and the statistics computed from a tracking history.
//!
//! A habit's frequency is structured: every day; specific weekdays; or N times per week / per
//! period of D days (as Loop Habit Tracker allows). Streaks and completion rates follow it:
//!
//! - **Day schedules** (daily, weekdays): the streak counts consecutive *scheduled* days that are
//!   `done`. Unscheduled days and `skipped` days neither count nor break it. A scheduled day that
//!   is `missed`, `partial` or has no entry breaks it, except *today*, which is still in progress
//!   (only an explicit `missed` breaks today).
//! - **Period schedules** (N per week, N per D days): the streak counts consecutive successful
//!   periods (at least N `done` days). Weeks are ISO weeks (Monday to Sunday); D-day periods start
//!   on the habit's start date. A period cut short by the start or end date needs at most as many
//!   done days as it has days. The period containing today is in progress: it counts once
//!   reached and never breaks the streak.
//! - **Completion rate** over the last W days (7, 30, 90) ending today, within the habit's dates:
//!   day schedules: done ÷ scheduled days not skipped (today counts only once it has an entry);
//!   period schedules: done days ÷ (N × days in window ÷ period length), at most 1.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How often a habit is meant to be done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frequency {
    #[schema(title = "DailyFrequency")]
    Daily,
    /// Specific days of the week, e.g. Mon/Wed/Fri.
    #[schema(title = "WeekdaysFrequency")]
    Weekdays {
        #[schema(min_items = 1, max_items = 7, value_type = std::collections::BTreeSet<Day>)]
        days: Vec<Day>,
    },
    /// Any N days of each ISO week (1–7).
    #[schema(title = "TimesPerWeekFrequency")]
    TimesPerWeek {
        #[schema(minimum = 1, maximum = 7)]
        #[serde(deserialize_with = "crate::http::whole_number")]
        times: u32,
    },
    /// Any N days of each period of `period_days` days (1 ≤ N ≤ period_days ≤ 365).
    #[schema(title = "TimesPerPeriodFrequency")]
    TimesPerPeriod {
        /// At most `period_days`.
        #[schema(minimum = 1, maximum = 365)]
        #[serde(deserialize_with = "crate::http::whole_number")]
        times: u32,
        #[schema(minimum = 1, maximum = 365)]
        #[serde(deserialize_with = "crate::http::whole_number")]
        period_days: u32,
    },
}

/// A weekday as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub fn of(date: NaiveDate) -> Day {
        match date.weekday() {
            Weekday::Mon => Day::Mon,
            Weekday::Tue => Day::Tue,
            Weekday::Wed => Day::Wed,
            Weekday::Thu => Day::Thu,
            Weekday::Fri => Day::Fri,
            Weekday::Sat => Day::Sat,
            Weekday::Sun => Day::Sun,
        }
    }
}

impl Frequency {
    /// Checks the frequency's own rules; returns `(field, message)` on failure.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match self {
            Frequency::Daily => Ok(()),
            Frequency::Weekdays { days } => {
                let mut sorted = days.clone();
                sorted.sort();
                sorted.dedup();
                if days.is_empty() || sorted.len() != days.len() {
                    return Err(("frequency.days", "must list each weekday at most once, at least one".into()));
                }
                Ok(())
            }
            Frequency::TimesPerWeek { times } if (1..=7).contains(times) => Ok(()),
            Frequency::TimesPerWeek { .. } => Err(("frequency.times", "must be between 1 and 7".into())),
            Frequency::TimesPerPeriod { period_days, .. } if !(1..=365).contains(period_days) => {
                Err(("frequency.period_days", "must be between 1 and 365".into()))
            }
            Frequency::TimesPerPeriod { times, period_days } if *times < 1 || times > period_days => {
                Err(("frequency.times", "must be between 1 and period_days".into()))
            }
            Frequency::TimesPerPeriod { .. } => Ok(()),
        }
    }

    /// Whether `date` is a scheduled day (period schedules: every day may count).
    pub fn is_scheduled(&self, date: NaiveDate) -> bool {
        match self {
            Frequency::Weekdays { days } => days.contains(&Day::of(date)),
            _ => true,
        }
    }

    fn period(&self) -> Option<(u32, u32)> {
        match self {
            Frequency::TimesPerWeek { times } => Some((*times, 7)),
            Frequency::TimesPerPeriod { times, period_days } => Some((*times, *period_days)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Done,
    Partial,
    Skipped,
    Missed,
}

/// What the statistics need of one tracking entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub status: Status,
    pub units: f64,
}

/// The schedule part of a habit.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub frequency: Frequency,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub current_streak: u32,
    pub longest_streak: u32,
    /// `days` for day schedules, `weeks` for N per week, `periods` for N per D days.
    pub streak_unit: &'static str,
    pub completion_rate_7d: Option<f64>,
    pub completion_rate_30d: Option<f64>,
    pub completion_rate_90d: Option<f64>,
    pub total_done: u32,
    pub total_units: f64,
    pub last_done_date: Option<NaiveDate>,
}

/// Today's date in the IANA time zone `tz` at instant `now`.
pub fn today_in(tz: chrono_tz::Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// Computes the statistics of a history (`entries` by date) as of `today`.
pub fn stats(schedule: &Schedule, entries: &BTreeMap<NaiveDate, Mark>, today: NaiveDate) -> Stats {
    let last = schedule.end_date.map_or(today, |end| end.min(today));
    let in_range = |d: &NaiveDate| *d >= schedule.start_date && *d <= last;
    let done: Vec<NaiveDate> =
        entries.iter().filter(|(d, m)| in_range(d) && m.status == Status::Done).map(|(d, _)| *d).collect();
    let total_units = entries.iter().filter(|(d, _)| in_range(d)).map(|(_, m)| m.units).sum();
    let (current, longest, unit) = match schedule.frequency.period() {
        None => day_streaks(schedule, entries, today, last),
        Some((times, len)) => {
            let (c, l) = period_streaks(schedule, entries, today, last, times, len);
            (c, l, if matches!(schedule.frequency, Frequency::TimesPerWeek { .. }) { "weeks" } else { "periods" })
        }
    };
    let rate = |w: i64| completion_rate(schedule, entries, today, last, w);
    Stats {
        current_streak: current,
        longest_streak: longest,
        streak_unit: unit,
        completion_rate_7d: rate(7),
        completion_rate_30d: rate(30),
        completion_rate_90d: rate(90),
        total_done: done.len() as u32,
        total_units,
        last_done_date: done.last().copied(),
    }
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

fn day_streaks(
    s: &Schedule,
    entries: &BTreeMap<NaiveDate, Mark>,
    today: NaiveDate,
    last: NaiveDate,
) -> (u32, u32, &'static str) {
    let (mut run, mut longest) = (0u32, 0u32);
    for d in days(s.start_date, last).filter(|d| s.frequency.is_scheduled(*d)) {
        match entries.get(&d).map(|m| m.status) {
            Some(Status::Done) => {
                run += 1;
                longest = longest.max(run);
            }
            Some(Status::Skipped) => {}
            Some(Status::Missed) => run = 0,
            _ if d == today => {}
            _ => run = 0,
        }
    }
    (run, longest, "days")
}

/// Start of the period containing `d`.
fn period_start(s: &Schedule, d: NaiveDate, len: u32) -> NaiveDate {
    if matches!(s.frequency, Frequency::TimesPerWeek { .. }) {
        d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday()))
    } else {
        let offset = (d - s.start_date).num_days().rem_euclid(i64::from(len)) as u64;
        d - chrono::Days::new(offset)
    }
}

fn period_streaks(
    s: &Schedule,
    entries: &BTreeMap<NaiveDate, Mark>,
    today: NaiveDate,
    last: NaiveDate,
    times: u32,
    len: u32,
) -> (u32, u32) {
    let (mut run, mut longest) = (0u32, 0u32);
    let mut start = period_start(s, s.start_date, len);
    let hard_end = s.end_date.unwrap_or(NaiveDate::MAX);
    while start <= last {
        let end = start + chrono::Days::new(u64::from(len) - 1);
        let from = start.max(s.start_date);
        let to = end.min(hard_end);
        let available = (to - from).num_days() as u32 + 1;
        let needed = times.min(available);
        let done = days(from, to.min(last)).filter(|d| entries.get(d).is_some_and(|m| m.status == Status::Done)).count()
            as u32;
        let in_progress = today >= start && today <= to;
        if done >= needed {
            run += 1;
            longest = longest.max(run);
        } else if !in_progress {
            run = 0;
        }
        start = end + chrono::Days::new(1);
    }
    (run, longest)
}

fn completion_rate(
    s: &Schedule,
    entries: &BTreeMap<NaiveDate, Mark>,
    today: NaiveDate,
    last: NaiveDate,
    window: i64,
) -> Option<f64> {
    let from = (today - chrono::Days::new(window as u64 - 1)).max(s.start_date);
    if from > last {
        return None;
    }
    let is_done = |d: &NaiveDate| entries.get(d).is_some_and(|m| m.status == Status::Done);
    match s.frequency.period() {
        None => {
            let (mut considered, mut done) = (0u32, 0u32);
            for d in days(from, last).filter(|d| s.frequency.is_scheduled(*d)) {
                match entries.get(&d).map(|m| m.status) {
                    Some(Status::Skipped) => {}
                    None if d == today => {}
                    status => {
                        considered += 1;
                        done += u32::from(status == Some(Status::Done));
                    }
                }
            }
            (considered > 0).then(|| f64::from(done) / f64::from(considered))
        }
        Some((times, len)) => {
            let span = (last - from).num_days() as f64 + 1.0;
            let expected = f64::from(times) * span / f64::from(len);
            let done = days(from, last).filter(is_done).count() as f64;
            Some((done / expected).min(1.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn hist(marks: &[(&str, Status)]) -> BTreeMap<NaiveDate, Mark> {
        marks.iter().map(|(d, s)| (date(d), Mark { status: *s, units: 1.0 })).collect()
    }

    fn sched(frequency: Frequency, start: &str) -> Schedule {
        Schedule { frequency, start_date: date(start), end_date: None }
    }

    use Status::*;

    #[test]
    fn daily_streaks_gaps_and_skips() {
        let s = sched(Frequency::Daily, "2026-03-01");
        let h = hist(&[
            ("2026-03-01", Done),
            ("2026-03-02", Done),
            ("2026-03-03", Done),
            // 03-04 missing: breaks
            ("2026-03-05", Done),
            ("2026-03-06", Skipped), // neutral
            ("2026-03-07", Done),
        ]);
        let st = stats(&s, &h, date("2026-03-08")); // today, no entry yet: in progress
        assert_eq!((st.current_streak, st.longest_streak), (2, 3));
        assert_eq!(st.streak_unit, "days");
        assert_eq!(st.total_done, 5);
        assert_eq!(st.last_done_date, Some(date("2026-03-07")));
        // 7-day window 03-02..03-08: scheduled not skipped, today pending excluded: 02,03,04,05,07 -> 4/5
        assert_eq!(st.completion_rate_7d, Some(4.0 / 5.0));
        let st = stats(&s, &h, date("2026-03-09")); // 03-08 now a past day with no entry
        assert_eq!(st.current_streak, 0);
        let mut h2 = h.clone();
        h2.insert(date("2026-03-08"), Mark { status: Missed, units: 0.0 });
        assert_eq!(stats(&s, &h2, date("2026-03-08")).current_streak, 0, "explicitly missed today breaks");
    }

    #[test]
    fn weekday_schedule_ignores_unscheduled_days() {
        // Mon/Wed/Fri from Monday 2026-03-02.
        let s = sched(Frequency::Weekdays { days: vec![Day::Mon, Day::Wed, Day::Fri] }, "2026-03-02");
        let h = hist(&[("2026-03-02", Done), ("2026-03-04", Done), ("2026-03-06", Done), ("2026-03-09", Done)]);
        let st = stats(&s, &h, date("2026-03-10")); // Tuesday: not scheduled
        assert_eq!((st.current_streak, st.longest_streak), (4, 4));
        let st = stats(&s, &h, date("2026-03-12")); // Thursday; Wed 03-11 missed
        assert_eq!(st.current_streak, 0);
        assert_eq!(st.longest_streak, 4);
        // Window 03-06..03-12: scheduled Fri 06, Mon 09, Wed 11 -> 2/3
        assert_eq!(st.completion_rate_7d, Some(2.0 / 3.0));
    }

    #[test]
    fn times_per_week_counts_iso_weeks() {
        // 3 per week, from Monday 2026-03-02.
        let s = sched(Frequency::TimesPerWeek { times: 3 }, "2026-03-02");
        let h = hist(&[
            ("2026-03-02", Done),
            ("2026-03-03", Done),
            ("2026-03-08", Done), // week 1: 3
            ("2026-03-10", Done),
            ("2026-03-11", Done),
            ("2026-03-13", Done), // week 2: 3
            ("2026-03-16", Done), // week 3: 1 (in progress on 03-18)
        ]);
        let st = stats(&s, &h, date("2026-03-18"));
        assert_eq!((st.current_streak, st.longest_streak, st.streak_unit), (2, 2, "weeks"));
        let st = stats(&s, &h, date("2026-03-22")); // Sunday, last day of week 3: still in progress
        assert_eq!((st.current_streak, st.longest_streak), (2, 2));
        let st = stats(&s, &h, date("2026-03-23")); // week 3 over with 1 of 3: broken
        assert_eq!((st.current_streak, st.longest_streak), (0, 2));
    }

    #[test]
    fn first_partial_week_needs_only_the_days_it_has() {
        // Starts Sunday: the first week has one day, so one done day completes it.
        let s = sched(Frequency::TimesPerWeek { times: 3 }, "2026-03-08");
        let h = hist(&[("2026-03-08", Done)]);
        assert_eq!(stats(&s, &h, date("2026-03-09")).current_streak, 1);
    }

    #[test]
    fn times_per_period_starts_at_the_start_date() {
        let s = sched(Frequency::TimesPerPeriod { times: 2, period_days: 3 }, "2026-03-01");
        let h = hist(&[("2026-03-01", Done), ("2026-03-03", Done), ("2026-03-04", Done), ("2026-03-05", Done)]);
        let st = stats(&s, &h, date("2026-03-07"));
        assert_eq!((st.current_streak, st.longest_streak, st.streak_unit), (2, 2, "periods"));
    }

    #[test]
    fn end_date_and_start_date_bound_everything() {
        let mut s = sched(Frequency::Daily, "2026-03-05");
        s.end_date = Some(date("2026-03-06"));
        let h = hist(&[("2026-03-04", Done), ("2026-03-05", Done), ("2026-03-06", Done), ("2026-03-07", Done)]);
        let st = stats(&s, &h, date("2026-03-20"));
        assert_eq!(st.total_done, 2);
        assert_eq!(st.current_streak, 2);
        assert_eq!(st.completion_rate_7d, None, "window after the end date");
        assert_eq!(stats(&sched(Frequency::Daily, "2026-04-01"), &h, date("2026-03-20")).completion_rate_30d, None);
    }

    #[test]
    fn today_follows_the_users_time_zone() {
        let now: DateTime<Utc> = "2026-03-01T20:00:00Z".parse().unwrap();
        assert_eq!(today_in(chrono_tz::Asia::Kolkata, now), date("2026-03-02"), "+05:30 is past midnight");
        assert_eq!(today_in(chrono_tz::America::New_York, now), date("2026-03-01"));
        let late: DateTime<Utc> = "2026-03-02T04:59:00Z".parse().unwrap();
        assert_eq!(today_in(chrono_tz::America::New_York, late), date("2026-03-01"), "23:59 EST");
        // DST: New York springs forward on 2026-03-08 (UTC-5 -> UTC-4), falls back on 2026-11-01.
        let after_spring: DateTime<Utc> = "2026-03-09T03:30:00Z".parse().unwrap();
        assert_eq!(today_in(chrono_tz::America::New_York, after_spring), date("2026-03-08"), "23:30 EDT");
        let fall: DateTime<Utc> = "2026-11-02T04:30:00Z".parse().unwrap();
        assert_eq!(today_in(chrono_tz::America::New_York, fall), date("2026-11-01"), "23:30 EST after fall-back");
        // Berlin: 2026-03-29 has 23 hours; 23:30 local is 21:30Z.
        let berlin: DateTime<Utc> = "2026-03-29T21:30:00Z".parse().unwrap();
        assert_eq!(today_in(chrono_tz::Europe::Berlin, berlin), date("2026-03-29"));
    }

    #[test]
    fn a_dst_day_is_one_calendar_day_for_streaks() {
        let s = sched(Frequency::Daily, "2026-03-07");
        let h = hist(&[("2026-03-07", Done), ("2026-03-08", Done), ("2026-03-09", Done)]);
        assert_eq!(stats(&s, &h, date("2026-03-09")).current_streak, 3);
    }

    #[test]
    fn frequency_validation() {
        assert!(Frequency::Weekdays { days: vec![] }.validate().is_err());
        assert!(Frequency::Weekdays { days: vec![Day::Mon, Day::Mon] }.validate().is_err());
        assert!(Frequency::TimesPerWeek { times: 0 }.validate().is_err());
        assert!(Frequency::TimesPerWeek { times: 8 }.validate().is_err());
        assert!(Frequency::TimesPerPeriod { times: 4, period_days: 3 }.validate().is_err());
        assert!(Frequency::TimesPerPeriod { times: 1, period_days: 0 }.validate().is_err());
        assert!(Frequency::TimesPerPeriod { times: 2, period_days: 10 }.validate().is_ok());
    }

    // ---- property test: the streaks against a deliberately naive reference ----------------------

    /// Day schedules, the obvious way: the statuses of scheduled days as a string, skipped days
    /// and a pending today removed, then runs of 'D'.
    fn reference_day(s: &Schedule, h: &BTreeMap<NaiveDate, Mark>, today: NaiveDate) -> (u32, u32) {
        let last = s.end_date.map_or(today, |e| e.min(today));
        let mut line = String::new();
        let mut d = s.start_date;
        while d <= last {
            if s.frequency.is_scheduled(d) {
                match h.get(&d).map(|m| m.status) {
                    Some(Done) => line.push('D'),
                    Some(Skipped) => {}
                    Some(Missed) => line.push('x'),
                    _ if d == today => {}
                    _ => line.push('x'),
                }
            }
            d = d.succ_opt().unwrap();
        }
        let runs: Vec<u32> = line.split('x').map(|r| r.len() as u32).collect();
        (*runs.last().unwrap(), runs.into_iter().max().unwrap())
    }

    /// Period schedules, the obvious way: bucket done days by period index, judge each period.
    fn reference_period(
        s: &Schedule,
        h: &BTreeMap<NaiveDate, Mark>,
        today: NaiveDate,
        times: u32,
        len: i64,
        weekly: bool,
    ) -> (u32, u32) {
        let last = s.end_date.map_or(today, |e| e.min(today));
        let anchor = if weekly {
            s.start_date - chrono::Days::new(s.start_date.weekday().num_days_from_monday() as u64)
        } else {
            s.start_date
        };
        let index = |d: NaiveDate| (d - anchor).num_days().div_euclid(len);
        let mut outcome: BTreeMap<i64, (u32, u32, bool)> = BTreeMap::new(); // done, available, in progress
        let mut d = s.start_date;
        let end = s.end_date.unwrap_or(NaiveDate::MAX);
        // Count available days of every period that has begun by `last`.
        while d <= end && index(d) <= index(last) {
            let e = outcome.entry(index(d)).or_default();
            e.1 += 1;
            if d >= today {
                e.2 = true;
            }
            if d <= last && h.get(&d).is_some_and(|m| m.status == Done) {
                e.0 += 1;
            }
            d = d.succ_opt().unwrap();
        }
        let mut line = String::new();
        for (done, available, open) in outcome.values() {
            line.push(if *done >= times.min(*available) {
                'D'
            } else if *open {
                '_'
            } else {
                'x'
            });
        }
        let line = line.replace('_', "");
        let runs: Vec<u32> = line.split('x').map(|r| r.len() as u32).collect();
        (*runs.last().unwrap(), runs.into_iter().max().unwrap())
    }

    fn arb_status() -> impl Strategy<Value = Option<Status>> {
        prop_oneof![
            Just(None),
            Just(Some(Done)),
            Just(Some(Done)),
            Just(Some(Partial)),
            Just(Some(Skipped)),
            Just(Some(Missed))
        ]
    }

    fn arb_frequency() -> impl Strategy<Value = Frequency> {
        let day = prop_oneof![
            Just(Day::Mon),
            Just(Day::Tue),
            Just(Day::Wed),
            Just(Day::Thu),
            Just(Day::Fri),
            Just(Day::Sat),
            Just(Day::Sun)
        ];
        prop_oneof![
            Just(Frequency::Daily),
            proptest::collection::btree_set(day, 1..=7)
                .prop_map(|d| Frequency::Weekdays { days: d.into_iter().collect() }),
            (1u32..=7).prop_map(|times| Frequency::TimesPerWeek { times }),
            (1u32..=10)
                .prop_flat_map(|p| (1..=p, Just(p)))
                .prop_map(|(times, period_days)| Frequency::TimesPerPeriod { times, period_days }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn streaks_match_the_reference(
            frequency in arb_frequency(),
            start_offset in 0u64..30,
            history in proptest::collection::vec(arb_status(), 1..80),
            end_len in proptest::option::of(0u64..90),
            today_offset in 0u64..100,
        ) {
            let base = date("2026-01-01");
            let start = base + chrono::Days::new(start_offset);
            let s = Schedule { frequency: frequency.clone(), start_date: start, end_date: end_len.map(|l| start + chrono::Days::new(l)) };
            let h: BTreeMap<NaiveDate, Mark> = history.iter().enumerate()
                .filter_map(|(i, st)| st.map(|st| (base + chrono::Days::new(i as u64), Mark { status: st, units: 1.0 })))
                .collect();
            let today = start + chrono::Days::new(today_offset);
            let got = stats(&s, &h, today);
            let want = match frequency {
                Frequency::TimesPerWeek { times } => reference_period(&s, &h, today, times, 7, true),
                Frequency::TimesPerPeriod { times, period_days } => reference_period(&s, &h, today, times, i64::from(period_days), false),
                _ => reference_day(&s, &h, today),
            };
            prop_assert_eq!((got.current_streak, got.longest_streak), want);
            for r in [got.completion_rate_7d, got.completion_rate_30d, got.completion_rate_90d].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&r));
            }
            let last = s.end_date.map_or(today, |e| e.min(today));
            let done = h.iter().filter(|(d, m)| **d >= start && **d <= last && m.status == Done).count() as u32;
            prop_assert_eq!(got.total_done, done);
        }
    }
}
