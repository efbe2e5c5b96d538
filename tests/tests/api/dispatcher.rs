//! The reminder dispatcher against DynamoDB Local: on time in the reminder's zone, exactly once
//! under duplicates and overlap, late occurrences caught up once, stale ones skipped, and nothing
//! fired for inactive reminders, habits or users.

use chrono::{DateTime, Duration, Utc};
use dispatcher::{dispatch, handle_event, DispatchConfig, Report};
use habit_tests::{Session, TestApp};
use serde_json::json;
use shared::{
    models::{ReminderItem, ReminderSpec},
    schedule::Day,
};

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub(crate) async fn habit(app: &TestApp, s: &Session, extra: serde_json::Value) -> String {
    let mut body = json!({"title": "Gym", "frequency": {"type": "daily"}, "start_date": "2026-01-01"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let r = app.call("POST", "/habits", Some(&s.access), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["habit_id"].as_str().unwrap().to_owned()
}

/// A reminder armed as of `after` (written directly, so tests can place it anywhere in time).
pub(crate) async fn armed(
    app: &TestApp,
    s: &Session,
    habit_id: &str,
    time: &str,
    days: &[Day],
    tz: &str,
    after: DateTime<Utc>,
) -> ReminderItem {
    let spec = ReminderSpec {
        habit_id: habit_id.into(),
        reminder_time: time.into(),
        repeat_days: days.to_vec(),
        time_zone: tz.into(),
        message: "time".into(),
        is_active: true,
    };
    let mut r = ReminderItem::new(&s.user_id, spec, after);
    r.arm(after);
    app.put_item(&r).await;
    r
}

async fn run(app: &TestApp, now: DateTime<Utc>) -> Report {
    dispatch(&app.dispatcher, &DispatchConfig::default(), now, None).await.unwrap()
}

async fn reminder_now(app: &TestApp, r: &ReminderItem) -> ReminderItem {
    app.state.db.get_reminder(&r.user_id, &r.reminder_id).await.unwrap().unwrap()
}

pub(crate) const ALL: [Day; 7] = [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun];

/// Arms a reminder after `after`, checks its first fire time, fires it there, and returns it.
async fn fire_first(
    app: &TestApp,
    s: &Session,
    h: &str,
    (time, days, tz): (&str, &[Day], &str),
    after: &str,
    expect: &str,
) -> ReminderItem {
    let r = armed(app, s, h, time, days, tz, utc(after)).await;
    assert_eq!(r.next_fire_at, Some(utc(expect)), "{tz} {time} after {after}");
    let report = run(app, utc(expect)).await;
    assert_eq!((report.fired, report.fired_late), (1, 0), "{report:?}");
    r
}

#[tokio::test]
async fn fires_at_local_time_across_dst_in_new_york_and_berlin() {
    let app = TestApp::spawn().await;
    let s = app.register("dst").await;
    let h = habit(&app, &s, json!({})).await;
    // New York spring-forward, 2026-03-08: 02:30 does not exist, fires when clocks resume (03:00 EDT).
    let r =
        fire_first(&app, &s, &h, ("02:30", &ALL, "America/New_York"), "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z")
            .await;
    assert_eq!(reminder_now(&app, &r).await.next_fire_at, Some(utc("2026-03-09T06:30:00Z")), "02:30 EDT the next day");
    // New York fall-back, 2026-11-01: 01:30 happens twice, fires once.
    let r =
        fire_first(&app, &s, &h, ("01:30", &ALL, "America/New_York"), "2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z")
            .await;
    assert_eq!(run(&app, utc("2026-11-01T06:30:00Z")).await.fired, 0, "not at the second 01:30");
    assert_eq!(reminder_now(&app, &r).await.next_fire_at, Some(utc("2026-11-02T06:30:00Z")));
    // Berlin spring-forward, 2026-03-29: 02:15 fires at 03:00 CEST.
    fire_first(&app, &s, &h, ("02:15", &ALL, "Europe/Berlin"), "2026-03-28T23:00:00Z", "2026-03-29T01:00:00Z").await;
    // Berlin fall-back, 2026-10-25: 02:30 twice, fires once.
    let r = fire_first(&app, &s, &h, ("02:30", &ALL, "Europe/Berlin"), "2026-10-24T22:00:00Z", "2026-10-25T00:30:00Z")
        .await;
    assert_eq!(run(&app, utc("2026-10-25T01:30:00Z")).await.fired, 0);
    assert_eq!(reminder_now(&app, &r).await.next_fire_at, Some(utc("2026-10-26T01:30:00Z")));
    assert_eq!(app.count("Notification").await, 4);
}

#[tokio::test]
async fn half_hour_zones_one_second_before_and_days_across_midnight_utc() {
    let app = TestApp::spawn().await;
    let s = app.register("zones").await;
    let h = habit(&app, &s, json!({})).await;
    // Kolkata (UTC+05:30): 07:30 local is 02:00Z.
    fire_first(&app, &s, &h, ("07:30", &ALL, "Asia/Kolkata"), "2026-06-01T00:00:00Z", "2026-06-01T02:00:00Z").await;
    // Created at 07:29:59 local (Berlin, CET) for 07:30: fires the same day.
    fire_first(&app, &s, &h, ("07:30", &ALL, "Europe/Berlin"), "2026-11-24T06:29:59Z", "2026-11-24T06:30:00Z").await;
    // Tokyo Monday 07:00 is Sunday 22:00 UTC; then a week later, not on UTC Monday.
    let r =
        fire_first(&app, &s, &h, ("07:00", &[Day::Mon], "Asia/Tokyo"), "2026-11-22T12:00:00Z", "2026-11-22T22:00:00Z")
            .await;
    assert_eq!(reminder_now(&app, &r).await.next_fire_at, Some(utc("2026-11-29T22:00:00Z")));
    assert_eq!(run(&app, utc("2026-11-23T22:00:00Z")).await.fired, 0, "UTC Monday is not a repeat day");
}

#[tokio::test]
async fn the_same_event_twice_fires_once() {
    let app = TestApp::spawn().await;
    let s = app.register("twice").await;
    let h = habit(&app, &s, json!({})).await;
    let r = armed(&app, &s, &h, "07:30", &ALL, "UTC", utc("2026-11-24T07:00:00Z")).await;
    let sample = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(habit_tests::repo_root().join("events").join(name)).unwrap())
            .unwrap()
    };
    let event = sample("dispatcher-scheduled.json");
    let now = r.next_fire_at.unwrap();
    let cfg = DispatchConfig::default();
    let first = handle_event(&app.dispatcher, &cfg, &event, now, None).await.unwrap();
    let second = handle_event(&app.dispatcher, &cfg, &event, now, None).await.unwrap();
    assert_eq!((first.fired, second.fired), (1, 0));
    assert_eq!(app.count("Notification").await, 1);
    assert_eq!(
        handle_event(&app.dispatcher, &cfg, &sample("dispatcher-group.json"), now, None).await.unwrap().fired,
        0,
        "the sample group's event"
    );
    let not_scheduled = json!({"source": "aws.s3", "detail-type": "Object Created"});
    assert!(handle_event(&app.dispatcher, &cfg, &not_scheduled, now, None).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_dispatchers_in_parallel_fire_each_occurrence_once() {
    let app = TestApp::spawn().await;
    let s = app.register("parallel").await;
    let h = habit(&app, &s, json!({})).await;
    let after = utc("2026-11-24T07:00:00Z");
    for _ in 0..60 {
        armed(&app, &s, &h, "07:30", &ALL, "UTC", after).await;
    }
    let now = utc("2026-11-24T07:30:00Z");
    let (a, b) = tokio::join!(run(&app, now), run(&app, now));
    assert_eq!(a.fired + b.fired, 60, "{a:?} {b:?}");
    assert_eq!(app.count("Notification").await, 60);
    assert_eq!(run(&app, now).await.fired, 0);
}

/// The minute's runs as the template starts them: one per dispatch group, at once, each event
/// the schedule's `Input`. Each run fires exactly the due reminders of its shards; together, every
/// one once. A group that is none is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_minute_s_dispatch_groups_fire_their_own_shards_and_together_each_reminder_once() {
    let app = TestApp::spawn().await;
    let s = app.register("grouped").await;
    let h = habit(&app, &s, json!({})).await;
    let after = utc("2026-11-24T07:00:00Z");
    let mut reminders = Vec::new();
    for _ in 0..80 {
        reminders.push(armed(&app, &s, &h, "07:30", &ALL, "UTC", after).await);
    }
    let events: Vec<serde_json::Value> = habit_tests::template::functions(&habit_tests::template::template())
        .into_iter()
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == "dispatcher")
        .unwrap()
        .1["Properties"]["Events"]
        .as_mapping()
        .unwrap()
        .values()
        .filter_map(|e| e["Properties"]["Input"].as_str().map(|i| serde_json::from_str(i).unwrap()))
        .collect();
    assert_eq!(events.len() as u32, dispatcher::SHARD_GROUPS);
    let now = utc("2026-11-24T07:30:00Z");
    let cfg = DispatchConfig::default();
    let runs = events.iter().map(|e| handle_event(&app.dispatcher, &cfg, e, now, None));
    let reports = futures::future::join_all(runs).await;
    for (event, report) in events.iter().zip(&reports) {
        let group = dispatcher::ShardGroup::parse(&event["dispatch_group"]).unwrap();
        let mine =
            reminders.iter().filter(|r| group.shards().any(|s| s == shared::keys::due_shard(&r.reminder_id))).count();
        assert_eq!(report.as_ref().unwrap().fired, mine, "{group:?}");
    }
    assert_eq!(reports.iter().map(|r| r.as_ref().unwrap().fired).sum::<usize>(), 80);
    assert_eq!(app.count("Notification").await, 80);
    assert_eq!(run(&app, now).await.fired, 0, "a run of every shard finds nothing left");
    for bad in [
        json!({"index": 8, "of": 8}),
        json!({"index": 0, "of": 0}),
        json!({"index": 0}),
        json!({"index": 0, "of": 2, "x": 1}),
    ] {
        let r = handle_event(&app.dispatcher, &cfg, &json!({ "dispatch_group": bad }), now, None).await;
        assert!(r.is_err(), "{bad} was taken");
    }
}

#[tokio::test]
async fn twenty_minutes_late_fires_once_marked_late() {
    let app = TestApp::spawn().await;
    let s = app.register("late").await;
    let h = habit(&app, &s, json!({})).await;
    let r = armed(&app, &s, &h, "07:30", &ALL, "UTC", utc("2026-11-24T07:00:00Z")).await;
    let late = utc("2026-11-24T07:50:00Z");
    let report = run(&app, late).await;
    assert_eq!((report.fired, report.fired_late), (1, 1));
    assert_eq!(run(&app, late + Duration::minutes(1)).await.fired, 0);
    assert_eq!(reminder_now(&app, &r).await.next_fire_at, Some(utc("2026-11-25T07:30:00Z")));
    let list = app.get("/me/notifications", &s.access).await;
    assert_eq!(list.body["items"][0]["late"], true);
    assert_eq!(list.body["items"][0]["occurrence_at"], "2026-11-24T07:30:00Z");
}

#[tokio::test]
async fn a_day_late_fires_nothing_stale_and_schedules_the_next_occurrence() {
    let app = TestApp::spawn().await;
    let s = app.register("stale").await;
    let h = habit(&app, &s, json!({})).await;
    let mut rs = Vec::new();
    for _ in 0..5 {
        rs.push(
            armed(&app, &s, &h, "07:30", &[Day::Mon, Day::Wed], "Europe/Berlin", utc("2026-11-22T00:00:00Z")).await,
        );
    }
    // Due Monday 2026-11-23 06:30Z; the dispatcher comes back on Tuesday 08:00Z.
    let report = run(&app, utc("2026-11-24T08:00:00Z")).await;
    assert_eq!((report.fired, report.skipped_stale), (0, 5), "{report:?}");
    assert_eq!(app.count("Notification").await, 0);
    for r in &rs {
        assert_eq!(reminder_now(&app, r).await.next_fire_at, Some(utc("2026-11-25T06:30:00Z")), "Wednesday 07:30 CET");
    }
    assert_eq!(run(&app, utc("2026-11-25T06:30:00Z")).await.fired, 5);
}

#[tokio::test]
async fn nothing_fires_for_inactive_reminders_habits_ended_habits_or_deactivated_users() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let s = app.register("quiet").await;
    let other = app.register("gone").await;
    let after = utc("2026-11-24T07:00:00Z");
    let now = utc("2026-11-24T07:30:00Z");
    // Inactive reminder (through the API: it leaves the due index).
    let h = habit(&app, &s, json!({})).await;
    let r = armed(&app, &s, &h, "07:30", &ALL, "UTC", after).await;
    let off = app
        .call("PATCH", &format!("/reminders/{}", r.reminder_id), Some(&s.access), Some(json!({"is_active": false})))
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    // Inactive habit.
    let inactive = habit(&app, &s, json!({"is_active": false})).await;
    armed(&app, &s, &inactive, "07:30", &ALL, "UTC", after).await;
    // Ended habit.
    let ended = habit(&app, &s, json!({"end_date": "2026-11-23"})).await;
    armed(&app, &s, &ended, "07:30", &ALL, "UTC", after).await;
    // Deactivated user.
    let theirs = habit(&app, &other, json!({})).await;
    armed(&app, &other, &theirs, "07:30", &ALL, "UTC", after).await;
    let d = app
        .call("PATCH", &format!("/users/{}", other.user_id), Some(&admin.access), Some(json!({"is_active": false})))
        .await;
    assert_eq!(d.status, 200);
    let report = run(&app, now).await;
    assert_eq!(report.fired, 0, "{report:?}");
    assert_eq!(report.suppressed, 3, "{report:?}");
    assert_eq!(app.count("Notification").await, 0);
    // A control, so the above is not an accident: an active reminder fires.
    let live = habit(&app, &s, json!({})).await;
    armed(&app, &s, &live, "07:30", &ALL, "UTC", after).await;
    assert_eq!(run(&app, now).await.fired, 1);
}
