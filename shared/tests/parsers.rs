//! Property tests of every parser that takes untrusted input: whatever arrives, the answer is a
//! clean error (or a value that says exactly what was sent), never a panic.

use chrono::{NaiveDate, Timelike, Utc};
use proptest::prelude::*;
use serde::Deserialize;
use shared::{
    config::AuthConfig,
    cursor::CursorKey,
    domain::Role,
    domain::TimeZone,
    error::ApiError,
    http::parse_json,
    jwt::JwtKeys,
    reminder_time::{next_fire, parse_time},
    schedule::{Day, Frequency},
};
use std::collections::HashMap;

fn keys() -> JwtKeys {
    let vars: HashMap<String, String> = [("JWT_SECRET", "0123456789abcdef0123456789abcdef")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    JwtKeys::new(&AuthConfig::from_vars(&vars).unwrap())
}

/// A client error: what bad input must become (never a 500).
fn is_client_error(e: &ApiError) -> bool {
    e.status().is_client_error()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct HabitLike {
    frequency: Frequency,
    #[serde(default)]
    start_date: Option<NaiveDate>,
}

fn days() -> impl Strategy<Value = Vec<Day>> {
    prop::collection::btree_set(
        prop::sample::select(vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun]),
        1..=7,
    )
    .prop_map(|s| s.into_iter().collect())
}

/// JSON-looking text: fragments of the shapes the API takes, shuffled, plus noise.
fn jsonish() -> impl Strategy<Value = String> {
    let fragment = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"frequency\"",
        "\"type\"",
        "\"daily\"",
        "\"weekdays\"",
        "\"days\"",
        "\"times_per_week\"",
        "\"times_per_period\"",
        "\"times\"",
        "\"period_days\"",
        "\"mon\"",
        "\"start_date\"",
        "\"2026-02-29\"",
        "\"2024-02-29\"",
        "0",
        "-1",
        "7",
        "366",
        "4294967296",
        "1e400",
        "3.0",
        "null",
        "true",
        "\"\\u0000\"",
        " ",
    ]);
    (prop::collection::vec(fragment, 0..40), ".{0,5}").prop_map(|(parts, noise)| parts.concat() + &noise)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn jwt_garbage_is_refused(token in ".{0,600}") {
        prop_assert!(matches!(keys().verify(&token), Err(ApiError::Unauthorized(_))));
    }

    #[test]
    fn jwt_any_change_to_a_real_token_is_refused(at in 0usize..400, with in prop::char::range('!', '~')) {
        let k = keys();
        let token = k.issue("01HZY3K9Q8W2V4N6M8P0R2T4X6", Role::User, 3, Utc::now().timestamp() as u64).unwrap();
        prop_assert!(k.verify(&token).is_ok());
        let at = at % token.len();
        prop_assume!(token.as_bytes()[at] != with as u8);
        let mut forged = token.clone().into_bytes();
        forged[at] = with as u8;
        let forged = String::from_utf8(forged).unwrap();
        // base64url's last character can carry unused bits: a change there may decode the same.
        if let Ok(claims) = k.verify(&forged) {
            prop_assert_eq!(claims, k.verify(&token).unwrap());
        }
    }

    #[test]
    fn jwt_segments_of_base64_are_refused(a in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,60}") {
        let token = [a, b, c].join(".");
        prop_assert!(keys().verify(&token).is_err());
    }

    #[test]
    fn cursors_of_base64_are_refused(a in "[A-Za-z0-9_-]{0,300}", b in "[A-Za-z0-9_-]{0,60}") {
        let k = CursorKey::derive(&shared::signing::SigningKeys::single(b"secret-secret-secret-secret-secret").unwrap());
        let cursor = [a, b].join(".");
        let e = k.decode("users", &cursor).unwrap_err();
        prop_assert!(is_client_error(&e));
    }

    #[test]
    fn times_parse_exactly_hh_mm(s in ".{0,12}") {
        if let Ok(t) = parse_time(&s) {
            prop_assert_eq!(t.format("%H:%M").to_string(), s);
        }
    }

    #[test]
    fn every_time_of_day_round_trips(h in 0u32..24, m in 0u32..60) {
        let t = parse_time(&format!("{h:02}:{m:02}")).unwrap();
        prop_assert_eq!((t.hour(), t.minute()), (h, m));
    }

    #[test]
    fn time_zones_are_exactly_the_tz_database(s in "[A-Za-z/_+-]{0,30}") {
        match TimeZone::parse(&s) {
            Ok(tz) => prop_assert_eq!(tz.0.name(), s),
            Err(_) => prop_assert!(s.parse::<chrono_tz::Tz>().is_err()),
        }
    }

    #[test]
    fn the_next_firing_is_soon_after_and_on_a_repeat_day(
        zone in prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec()),
        h in 0u32..24, m in 0u32..60,
        days in days(),
        after in 946_684_800i64..4_102_444_800,
    ) {
        let after = chrono::DateTime::from_timestamp(after, 0).unwrap();
        let time = chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let next = next_fire(zone, time, &days, after).expect("a next firing");
        prop_assert!(next > after);
        // Within eight days (a week, plus a day of DST and zone changes).
        prop_assert!(next - after <= chrono::Duration::days(8), "{next} after {after}");
        let local = next.with_timezone(&zone);
        // On a repeat day, at the time, or just after it where a clock change skipped it.
        prop_assert!(days.contains(&Day::of(local.date_naive())), "{} is not on {:?}", local, days);
        let late = local.time() - time;
        prop_assert!(late >= chrono::Duration::zero() && late <= chrono::Duration::hours(3), "{} for {}", local, time);
    }

    #[test]
    fn frequencies_from_any_json_are_clean(body in jsonish()) {
        match parse_json::<HabitLike>(body.as_bytes()) {
            Ok(h) => {
                // What parses can be validated and scheduled without panicking.
                if h.frequency.validate().is_ok() {
                    let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
                    let _ = h.frequency.is_scheduled(day);
                }
            }
            Err(e) => prop_assert!(is_client_error(&e), "{e:?}"),
        }
    }

    #[test]
    fn dates_parse_exactly_iso(y in 0i32..10000, mo in 0u32..14, d in 0u32..33) {
        let raw = format!("{y:04}-{mo:02}-{d:02}");
        let body = format!(r#"{{"frequency":{{"type":"daily"}},"start_date":"{raw}"}}"#);
        match parse_json::<HabitLike>(body.as_bytes()) {
            Ok(h) => prop_assert_eq!(h.start_date.unwrap().format("%Y-%m-%d").to_string(), raw),
            Err(e) => {
                prop_assert!(NaiveDate::from_ymd_opt(y, mo, d).is_none());
                prop_assert!(matches!(e, ApiError::Validation(_)));
            }
        }
    }

    #[test]
    fn any_bytes_as_a_body_are_a_clean_error(body in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Err(e) = parse_json::<HabitLike>(&body) {
            prop_assert!(is_client_error(&e));
        }
    }
}
