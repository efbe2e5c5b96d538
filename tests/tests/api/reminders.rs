//! `functions/reminders` against DynamoDB Local: reminder CRUD, validation, ownership, and the
//! notifications the dispatcher leaves.

use chrono::{DateTime, Duration, Utc};
use dispatcher::{dispatch, DispatchConfig};
use habit_tests::{Session, TestApp};
use serde_json::json;

async fn habit(app: &TestApp, s: &Session) -> String {
    let r = app
        .call(
            "POST",
            "/habits",
            Some(&s.access),
            Some(json!({"title": "Gym", "frequency": {"type": "daily"}, "start_date": "2026-01-01"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["habit_id"].as_str().unwrap().to_owned()
}

async fn reminder(app: &TestApp, s: &Session, body: serde_json::Value) -> serde_json::Value {
    let r = app.call("POST", "/reminders", Some(&s.access), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

#[tokio::test]
async fn create_defaults_to_the_profile_time_zone_and_computes_the_next_fire_time() {
    let app = TestApp::spawn().await;
    let s = app.register("remy").await;
    app.call("PATCH", "/me/profile", Some(&s.access), Some(json!({"time_zone": "Asia/Kolkata"}))).await;
    let h = habit(&app, &s).await;
    let r = reminder(
        &app,
        &s,
        json!({"habit_id": h, "reminder_time": "07:30", "repeat_days": ["mon", "wed", "fri"], "message": "Gym time"}),
    )
    .await;
    assert_eq!(r["time_zone"], "Asia/Kolkata");
    assert_eq!(r["is_active"], true);
    assert!(r["created_date"].is_string());
    let next: DateTime<Utc> = r["next_fire_at"].as_str().unwrap().parse().unwrap();
    let local = next.with_timezone(&chrono_tz::Asia::Kolkata);
    assert_eq!(local.format("%H:%M").to_string(), "07:30");
    assert!(matches!(local.format("%a").to_string().as_str(), "Mon" | "Wed" | "Fri"));
    assert!(next > Utc::now() && next - Utc::now() <= Duration::days(3));
    let explicit = reminder(&app, &s, json!({"habit_id": h, "reminder_time": "21:00", "repeat_days": ["sun"], "time_zone": "America/New_York", "message": "Plan the week", "is_active": false})).await;
    assert!(explicit["next_fire_at"].is_null(), "inactive reminders are not armed");
    assert_eq!(app.count("Reminder").await, 2);
}

#[tokio::test]
async fn bad_input_is_a_problem_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let s = app.register("badinput").await;
    let other = app.register("otheruser").await;
    let h = habit(&app, &s).await;
    let foreign = habit(&app, &other).await;
    let before = app.items().await;
    let ok = json!({"habit_id": h, "reminder_time": "07:30", "repeat_days": ["mon"], "message": "m"});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("reminder_time", json!("7:30")), "reminder_time"),
        (with("reminder_time", json!("24:00")), "reminder_time"),
        (with("reminder_time", json!("07:61")), "reminder_time"),
        (with("repeat_days", json!([])), "repeat_days"),
        (with("repeat_days", json!(["mon", "mon"])), "repeat_days"),
        (with("repeat_days", json!(["funday"])), "repeat_days[0]"),
        (with("time_zone", json!("Mars/Olympus_Mons")), "time_zone"),
        (with("message", json!("")), "message"),
        (with("message", json!("m".repeat(201))), "message"),
        (with("user_id", json!("x")), "user_id"),
        (with("next_fire_at", json!("2026-01-01T00:00:00Z")), "next_fire_at"),
    ] {
        app.call("POST", "/reminders", Some(&s.access), Some(body)).await.names_field(field);
    }
    app.call("POST", "/reminders", Some(&s.access), Some(with("habit_id", json!(foreign)))).await.problem(404);
    app.call("POST", "/reminders", Some(&s.access), Some(with("habit_id", json!("nope")))).await.problem(404);
    assert_eq!(app.items().await, before);
}

#[tokio::test]
async fn list_get_patch_delete_and_ownership() {
    let app = TestApp::spawn().await;
    let s = app.register("owner").await;
    let intruder = app.register("intruder").await;
    let h1 = habit(&app, &s).await;
    let h2 = habit(&app, &s).await;
    let r1 =
        reminder(&app, &s, json!({"habit_id": h1, "reminder_time": "07:30", "repeat_days": ["mon"], "message": "one"}))
            .await;
    reminder(&app, &s, json!({"habit_id": h2, "reminder_time": "08:30", "repeat_days": ["tue"], "message": "two"}))
        .await;
    let id = r1["reminder_id"].as_str().unwrap();
    assert_eq!(app.get("/reminders", &s.access).await.body["items"].as_array().unwrap().len(), 2);
    let only = app.get(&format!("/reminders?habit_id={h1}"), &s.access).await;
    assert_eq!(only.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.get(&format!("/reminders/{id}"), &s.access).await.body["message"], "one");
    // Changing the schedule recomputes the next fire time.
    let p = app
        .call(
            "PATCH",
            &format!("/reminders/{id}"),
            Some(&s.access),
            Some(json!({"reminder_time": "19:45", "time_zone": "Europe/Berlin"})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let next: DateTime<Utc> = p.body["next_fire_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next.with_timezone(&chrono_tz::Europe::Berlin).format("%a %H:%M").to_string(), "Mon 19:45");
    let off = app.call("PATCH", &format!("/reminders/{id}"), Some(&s.access), Some(json!({"is_active": false}))).await;
    assert!(off.body["next_fire_at"].is_null());
    app.call("PATCH", &format!("/reminders/{id}"), Some(&s.access), Some(json!({"repeat_days": []})))
        .await
        .names_field("repeat_days");
    app.call("PATCH", &format!("/reminders/{id}"), Some(&s.access), Some(json!({"habit_id": h2})))
        .await
        .names_field("habit_id");
    // Another user: 404 on every route, nothing changes.
    let before = app.items().await;
    app.get(&format!("/reminders/{id}"), &intruder.access).await.problem(404);
    app.call("PATCH", &format!("/reminders/{id}"), Some(&intruder.access), Some(json!({"message": "mine"})))
        .await
        .problem(404);
    app.call("DELETE", &format!("/reminders/{id}"), Some(&intruder.access), None).await.problem(404);
    assert!(app.get("/reminders", &intruder.access).await.body["items"].as_array().unwrap().is_empty());
    assert_eq!(app.items().await, before);
    assert_eq!(app.call("DELETE", &format!("/reminders/{id}"), Some(&s.access), None).await.status, 204);
    app.get(&format!("/reminders/{id}"), &s.access).await.problem(404);
    // Every route but the VAPID public key (which a browser reads before anyone signs in).
    for route in reminders::ROUTES.iter().filter(|r| r.path != "/push/public-key") {
        let path = route.path.replace("{id}", &ulid::Ulid::new().to_string());
        app.call(route.method, &path, None, None).await.problem(401);
    }
}

#[tokio::test]
async fn deleting_a_habit_removes_its_reminders() {
    let app = TestApp::spawn().await;
    let s = app.register("tidy").await;
    let h = habit(&app, &s).await;
    let keep = habit(&app, &s).await;
    for _ in 0..3 {
        reminder(&app, &s, json!({"habit_id": h, "reminder_time": "07:30", "repeat_days": ["mon"], "message": "m"}))
            .await;
    }
    reminder(&app, &s, json!({"habit_id": keep, "reminder_time": "07:30", "repeat_days": ["mon"], "message": "m"}))
        .await;
    assert_eq!(app.call("DELETE", &format!("/habits/{h}"), Some(&s.access), None).await.status, 204);
    assert_eq!(app.count("Reminder").await, 1);
}

#[tokio::test]
async fn notifications_newest_first_mark_read_and_read_all() {
    let app = TestApp::spawn().await;
    let s = app.register("notified").await;
    let other = app.register("nosy").await;
    let h = habit(&app, &s).await;
    let r = reminder(&app, &s, json!({"habit_id": h, "reminder_time": "06:00", "repeat_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "time_zone": "UTC", "message": "Go"})).await;
    // Three days of firing: run the dispatcher at each due time.
    let mut at: DateTime<Utc> = r["next_fire_at"].as_str().unwrap().parse().unwrap();
    for _ in 0..3 {
        let report = dispatch(&app.dispatcher, &DispatchConfig::default(), at, None).await.unwrap();
        assert_eq!(report.fired, 1, "{report:?}");
        at += Duration::days(1);
    }
    let list = app.get("/me/notifications", &s.access).await;
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items[0]["occurrence_at"].as_str() > items[1]["occurrence_at"].as_str(), "newest first");
    assert_eq!(items[0]["message"], "Go");
    assert_eq!(items[0]["read"], false);
    let nid = items[1]["notification_id"].as_str().unwrap();
    let marked =
        app.call("PATCH", &format!("/me/notifications/{nid}"), Some(&s.access), Some(json!({"read": true}))).await;
    assert_eq!(marked.status, 200, "{}", marked.body);
    assert_eq!(marked.body["read"], true);
    assert_eq!(app.get("/me/notifications?unread=true", &s.access).await.body["items"].as_array().unwrap().len(), 2);
    // Another user sees none of them and cannot mark them.
    assert!(app.get("/me/notifications", &other.access).await.body["items"].as_array().unwrap().is_empty());
    app.call("PATCH", &format!("/me/notifications/{nid}"), Some(&other.access), Some(json!({"read": false})))
        .await
        .problem(404);
    app.call("PATCH", &format!("/me/notifications/{nid}"), Some(&s.access), Some(json!({"read": "yes"})))
        .await
        .names_field("read");
    let all = app.call("POST", "/me/notifications/read-all", Some(&s.access), None).await;
    assert_eq!(all.body["updated"], 2);
    assert!(app.get("/me/notifications?unread=true", &s.access).await.body["items"].as_array().unwrap().is_empty());
    // They expire with DynamoDB TTL.
    let items = app.items().await;
    let n = items
        .iter()
        .find(|i| i.get("entity").and_then(|e| e.as_s().ok()).map(String::as_str) == Some("Notification"))
        .unwrap();
    let ttl: i64 = n["expires_at_epoch"].as_n().unwrap().parse().unwrap();
    assert!(ttl > Utc::now().timestamp() + 29 * 86_400);
}

/// A delete whose clean-up was cut short (the habit and its entries gone, its reminders not) is
/// finished by the retry, which answers 204; only then is the habit a 404.
#[tokio::test]
async fn a_retried_habit_delete_finishes_the_clean_up() {
    let app = TestApp::spawn().await;
    let s = app.register("retrier").await;
    let h = habit(&app, &s).await;
    reminder(&app, &s, json!({"habit_id": h, "reminder_time": "07:30", "repeat_days": ["mon"], "message": "m"})).await;
    // The first attempt got as far as the habit item, then failed.
    app.state.db.delete_existing(&shared::keys::habit(&s.user_id, &h)).await.unwrap();
    assert_eq!(app.count("Reminder").await, 1);
    let path = format!("/habits/{h}");
    assert_eq!(app.call("DELETE", &path, Some(&s.access), None).await.status, 204);
    assert_eq!(app.count("Reminder").await, 0, "the retry removed what was left");
    app.call("DELETE", &path, Some(&s.access), None).await.problem(404);
}

/// A reminder created while its habit is being deleted is either swept with the habit or not
/// written at all: never left behind for the dispatcher to cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reminders_created_racing_the_deletion_of_their_habit_leave_no_orphan() {
    let app = TestApp::spawn().await;
    let s = app.register("racer").await;
    for _ in 0..10 {
        let h = habit(&app, &s).await;
        let body = json!({"habit_id": h, "reminder_time": "07:30", "repeat_days": ["mon"], "message": "m"});
        let path = format!("/habits/{h}");
        let (created, deleted) = tokio::join!(
            app.call("POST", "/reminders", Some(&s.access), Some(body)),
            app.call("DELETE", &path, Some(&s.access), None),
        );
        assert_eq!(deleted.status, 204, "{}", deleted.body);
        assert!(created.status == 201 || created.status == 404, "{}: {}", created.status, created.body);
        let page = app.get("/reminders", &s.access).await;
        assert_eq!(page.body["items"], json!([]), "no reminder outlives its habit");
    }
    // The window itself, made certain: the habit checked a moment ago is gone when the reminder
    // is written. The write is refused, not left behind.
    let h = habit(&app, &s).await;
    let spec = shared::models::ReminderSpec {
        habit_id: h.clone(),
        reminder_time: "07:30".into(),
        repeat_days: vec![shared::schedule::Day::Mon],
        time_zone: "UTC".into(),
        message: "m".into(),
        is_active: true,
    };
    let r = shared::models::ReminderItem::new(&s.user_id, spec, Utc::now());
    assert_eq!(app.call("DELETE", &format!("/habits/{h}"), Some(&s.access), None).await.status, 204);
    let late = app.state.db.create_reminder(&r, None).await;
    assert!(matches!(late, Err(shared::ApiError::NotFound("habit"))), "{late:?}");
    assert_eq!(app.count("Reminder").await, 0);
}

/// OWASP API4: one user keeps at most 200 habits and 50 reminders; past that a create is a 409
/// naming the limit, and deleting makes room again (the counts follow deletes, sweeps included).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_keeps_at_most_the_limit_of_habits_and_reminders() {
    use shared::storage::limits::Counted;
    let app = TestApp::spawn().await;
    let s = app.register("collector").await;
    let mut habits = Vec::new();
    for chunk in 0..Counted::Habits.max() / 20 {
        let made = futures::future::join_all((0..20).map(|_| habit(&app, &s))).await;
        habits.extend(made);
        assert_eq!(habits.len() as u32, (chunk + 1) * 20);
    }
    let body = json!({"title": "One more", "frequency": {"type": "daily"}, "start_date": "2026-01-01"});
    let over = app.call("POST", "/habits", Some(&s.access), Some(body.clone())).await;
    assert!(over.problem(409)["detail"].as_str().unwrap().contains("at most 200 habits"), "{}", over.body);
    // Nor does joining a challenge make a 201st habit for it.
    let admin = app.admin("limitsadmin").await;
    let today = Utc::now().date_naive();
    let challenge = json!({"challenge_name": "Limits", "start_date": today.to_string(), "end_date": (today + Duration::days(9)).to_string()});
    let c = app.call("POST", "/challenges", Some(&admin.access), Some(challenge)).await;
    assert_eq!(c.status, 201, "{}", c.body);
    let join = format!("/challenges/{}/join", c.body["challenge_id"].as_str().unwrap());
    let over = app.call("POST", &join, Some(&s.access), None).await;
    assert!(over.problem(409)["detail"].as_str().unwrap().contains("at most 200 habits"), "{}", over.body);
    assert_eq!(app.count("Habit").await, 200);
    assert_eq!(app.count("Membership").await, 0);

    let h = habits.pop().unwrap();
    let rem = json!({"habit_id": h, "reminder_time": "07:30", "repeat_days": ["mon"], "message": "m"});
    let made = futures::future::join_all((0..Counted::Reminders.max()).map(|_| reminder(&app, &s, rem.clone()))).await;
    assert_eq!(made.len() as u32, Counted::Reminders.max());
    let over = app.call("POST", "/reminders", Some(&s.access), Some(rem)).await;
    assert!(over.problem(409)["detail"].as_str().unwrap().contains("at most 50 reminders"), "{}", over.body);
    // Deleting the habit sweeps its 50 reminders and frees its place.
    assert_eq!(app.call("DELETE", &format!("/habits/{h}"), Some(&s.access), None).await.status, 204);
    let again = app.call("POST", "/habits", Some(&s.access), Some(body)).await;
    assert_eq!(again.status, 201, "{}", again.body);
    let h2 = again.body["habit_id"].as_str().unwrap();
    reminder(&app, &s, json!({"habit_id": h2, "reminder_time": "07:30", "repeat_days": ["mon"], "message": "m"})).await;
    let one = app.get("/reminders", &s.access).await;
    let id = one.body["items"][0]["reminder_id"].as_str().unwrap().to_owned();
    assert_eq!(app.call("DELETE", &format!("/reminders/{id}"), Some(&s.access), None).await.status, 204);
}
