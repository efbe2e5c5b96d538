//! `functions/habits` against DynamoDB Local: habits, entries, statistics, today, assignment,
//! admin views, ownership and validation.

use chrono::{Days, NaiveDate, Utc};
use habit_tests::{Session, TestApp};
use serde_json::{json, Value};

fn today_utc() -> NaiveDate {
    Utc::now().date_naive()
}

fn ago(days: u64) -> String {
    (today_utc() - Days::new(days)).to_string()
}

async fn habit(app: &TestApp, s: &Session, body: Value) -> String {
    let r = app.call("POST", "/habits", Some(&s.access), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["habit_id"].as_str().unwrap().to_owned()
}

async fn daily(app: &TestApp, s: &Session, start: &str) -> String {
    habit(app, s, json!({"title": "Read 20 pages", "frequency": {"type": "daily"}, "start_date": start})).await
}

async fn admin_category(app: &TestApp, admin: &Session, name: &str) -> String {
    let r = app.call("POST", "/categories", Some(&admin.access), Some(json!({"name": name}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["category_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn create_habits_of_every_frequency() {
    let app = TestApp::spawn().await;
    let s = app.register("hana").await;
    let bodies = [
        json!({"title": "Read", "frequency": {"type": "daily"}}),
        json!({"title": "Gym", "frequency": {"type": "weekdays", "days": ["mon", "wed", "fri"]}, "start_date": ago(10)}),
        json!({"title": "Run", "frequency": {"type": "times_per_week", "times": 3}, "end_date": "2099-01-01"}),
        json!({"title": "Swim", "frequency": {"type": "times_per_period", "times": 2, "period_days": 10}}),
        json!({"title": "Drink", "description": "water", "frequency": {"type": "daily"}, "target": {"value": 8, "unit": "glasses"}, "is_active": false}),
    ];
    for body in bodies {
        let r = app.call("POST", "/habits", Some(&s.access), Some(body.clone())).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["frequency"], body["frequency"]);
        assert_eq!(r.body["user_id"], s.user_id.as_str());
        assert!(r.body["start_date"].is_string());
    }
    assert_eq!(app.count("Habit").await, 5);
    let r = app.get("/habits", &s.access).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 5);
    let active = app.get("/habits?is_active=false", &s.access).await;
    assert_eq!(active.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(active.body["items"][0]["target"]["unit"], "glasses");
}

#[tokio::test]
async fn habit_validation_names_the_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let s = app.register("vera").await;
    let before = app.items().await;
    let cases = [
        (json!({"title": "", "frequency": {"type": "daily"}}), "title"),
        (json!({"title": "x".repeat(101), "frequency": {"type": "daily"}}), "title"),
        (json!({"title": "t"}), "frequency"),
        (json!({"title": "t", "frequency": {"type": "hourly"}}), "frequency"),
        (json!({"title": "t", "frequency": "daily"}), "frequency"),
        (json!({"title": "t", "frequency": {"type": "weekdays", "days": []}}), "frequency.days"),
        (json!({"title": "t", "frequency": {"type": "weekdays", "days": ["mon", "mon"]}}), "frequency.days"),
        (json!({"title": "t", "frequency": {"type": "times_per_week", "times": 8}}), "frequency.times"),
        (
            json!({"title": "t", "frequency": {"type": "times_per_period", "times": 5, "period_days": 3}}),
            "frequency.times",
        ),
        (
            json!({"title": "t", "frequency": {"type": "times_per_period", "times": 1, "period_days": 400}}),
            "frequency.period_days",
        ),
        (
            json!({"title": "t", "frequency": {"type": "daily"}, "start_date": "2026-05-10", "end_date": "2026-05-09"}),
            "end_date",
        ),
        (json!({"title": "t", "frequency": {"type": "daily"}, "start_date": "1999-12-31"}), "start_date"),
        (json!({"title": "t", "frequency": {"type": "daily"}, "start_date": "2026-02-30"}), "start_date"),
        (
            json!({"title": "t", "frequency": {"type": "daily"}, "target": {"value": 0, "unit": "glasses"}}),
            "target.value",
        ),
        (json!({"title": "t", "frequency": {"type": "daily"}, "target": {"value": 3, "unit": ""}}), "target.unit"),
        (json!({"title": "t", "frequency": {"type": "daily"}, "user_id": s.user_id}), "user_id"),
        (json!({"title": "t", "frequency": {"type": "daily"}, "version": 3}), "version"),
    ];
    for (body, field) in cases {
        let r = app.call("POST", "/habits", Some(&s.access), Some(body.clone())).await;
        let b = r.problem(400);
        let fields: Vec<&str> = b["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
        assert!(fields.iter().any(|f| f.starts_with(field)), "{body}: expected {field} in {fields:?}");
    }
    assert_eq!(app.items().await, before);
}

#[tokio::test]
async fn another_users_habit_is_404_on_every_habit_route() {
    let app = TestApp::spawn().await;
    let admin = app.admin("boss").await;
    let owner = app.register("owner").await;
    let other = app.register("intruder").await;
    let id = daily(&app, &owner, &ago(3)).await;
    app.call("PUT", &format!("/habits/{id}/entries/{}", ago(1)), Some(&owner.access), Some(json!({"status": "done"})))
        .await;
    let cat = admin_category(&app, &admin, "Health").await;
    let before = app.items().await;
    let mut checked = 0;
    for route in habits::ROUTES.iter().filter(|r| r.path.starts_with("/habits/{id}")) {
        let path = route.path.replace("{id}", &id).replace("{date}", &ago(1)).replace("{category_id}", &cat);
        let body = match (route.method, route.path) {
            ("PATCH", _) => Some(json!({"title": "mine now"})),
            ("PUT", p) if p.contains("entries") => Some(json!({"status": "done"})),
            _ => None,
        };
        app.call(route.method, &path, Some(&other.access), body).await.problem(404);
        checked += 1;
    }
    assert!(checked >= 10);
    assert_eq!(app.items().await, before, "nothing changed");
    let mine = app.get("/habits", &other.access).await;
    assert!(mine.body["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn habit_routes_need_a_token_and_admin_routes_need_an_admin() {
    let app = TestApp::spawn().await;
    let s = app.register("plain").await;
    for route in habits::ROUTES.iter() {
        let path = route
            .path
            .replace("{id}", &ulid::Ulid::new().to_string())
            .replace("{date}", "2026-01-01")
            .replace("{category_id}", &ulid::Ulid::new().to_string());
        app.call(route.method, &path, None, matches!(route.method, "POST" | "PUT" | "PATCH").then(|| json!({})))
            .await
            .problem(401);
    }
    app.get("/admin/habits", &s.access).await.problem(403);
}

#[tokio::test]
async fn patch_habit_and_mass_assignment() {
    let app = TestApp::spawn().await;
    let s = app.register("pat").await;
    let id = daily(&app, &s, &ago(5)).await;
    let r = app
        .call("PATCH", &format!("/habits/{id}"), Some(&s.access), Some(json!({"title": "Read 30 pages", "frequency": {"type": "times_per_week", "times": 4}, "end_date": "2099-12-31", "description": "more"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["title"], "Read 30 pages");
    assert_eq!(r.body["frequency"]["times"], 4);
    let r = app
        .call("PATCH", &format!("/habits/{id}"), Some(&s.access), Some(json!({"end_date": null, "description": null})))
        .await;
    assert!(r.body.get("end_date").is_none() && r.body.get("description").is_none());
    let before = app.items().await;
    for field in ["user_id", "habit_id", "version", "created_at"] {
        app.call("PATCH", &format!("/habits/{id}"), Some(&s.access), Some(json!({ field: "x" })))
            .await
            .names_field(field);
    }
    app.call("PATCH", &format!("/habits/{id}"), Some(&s.access), Some(json!({"end_date": ago(10)})))
        .await
        .names_field("end_date");
    assert_eq!(app.items().await, before);
}

#[tokio::test]
async fn entries_create_replace_list_delete() {
    let app = TestApp::spawn().await;
    let s = app.register("ent").await;
    let id = daily(&app, &s, &ago(9)).await;
    for d in 0..7u64 {
        let status = if d == 3 { "missed" } else { "done" };
        let r = app
            .call(
                "PUT",
                &format!("/habits/{id}/entries/{}", ago(d)),
                Some(&s.access),
                Some(json!({"status": status, "note": format!("day {d}")})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["date"], ago(d));
    }
    // Replace: one entry per habit per day.
    let r = app
        .call("PUT", &format!("/habits/{id}/entries/{}", ago(3)), Some(&s.access), Some(json!({"status": "skipped"})))
        .await;
    assert_eq!(r.body["status"], "skipped");
    assert_eq!(app.count("Entry").await, 7);
    let one = app.get(&format!("/habits/{id}/entries/{}", ago(3)), &s.access).await;
    assert_eq!(one.body["status"], "skipped");
    assert!(one.body.get("note").is_none(), "PUT replaces the whole entry");
    // Range, oldest first, paginated.
    let r = app.get(&format!("/habits/{id}/entries?from={}&to={}&limit=2", ago(5), ago(1)), &s.access).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["items"][0]["date"], ago(5));
    let c = r.body["next_cursor"].as_str().unwrap();
    let r2 =
        app.get(&format!("/habits/{id}/entries?from={}&to={}&limit=10&cursor={c}", ago(5), ago(1)), &s.access).await;
    assert_eq!(r2.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(r2.body["items"][2]["date"], ago(1));
    app.get(&format!("/habits/{id}/entries?from={}&to={}", ago(1), ago(5)), &s.access).await.names_field("to");
    app.get(&format!("/habits/{id}/entries?to=%2B10000-01-01"), &s.access).await.names_field("to");
    app.get(&format!("/habits/{id}/entries?from=1999-12-31"), &s.access).await.names_field("from");
    app.get(&format!("/habits/{id}/entries?from=yesterday"), &s.access).await.names_field("from");
    // Delete.
    assert_eq!(
        app.call("DELETE", &format!("/habits/{id}/entries/{}", ago(0)), Some(&s.access), None).await.status,
        204
    );
    app.call("DELETE", &format!("/habits/{id}/entries/{}", ago(0)), Some(&s.access), None).await.problem(404);
    app.get(&format!("/habits/{id}/entries/{}", ago(0)), &s.access).await.problem(404);
    assert_eq!(app.count("Entry").await, 6);
}

#[tokio::test]
async fn entry_dates_and_bodies_are_checked_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let s = app.register("dates").await;
    let end = ago(2);
    let id =
        habit(&app, &s, json!({"title": "t", "frequency": {"type": "daily"}, "start_date": ago(5), "end_date": end}))
            .await;
    let numeric = habit(&app, &s, json!({"title": "Drink", "frequency": {"type": "daily"}, "start_date": ago(5), "target": {"value": 8, "unit": "glasses"}})).await;
    let before = app.items().await;
    let put = |h: &str, date: String, body: Value| {
        let path = format!("/habits/{h}/entries/{date}");
        let token = s.access.clone();
        let app = &app;
        async move { app.call("PUT", &path, Some(&token), Some(body)).await }
    };
    put(&id, ago(6), json!({"status": "done"})).await.names_field("date");
    put(&id, ago(1), json!({"status": "done"})).await.names_field("date");
    put(&numeric, (today_utc() + Days::new(2)).to_string(), json!({"unit_completed": 8})).await.names_field("date");
    put(&id, "2026-13-01".into(), json!({"status": "done"})).await.names_field("date");
    put(&id, ago(3), json!({})).await.names_field("status");
    put(&id, ago(3), json!({"status": "finished"})).await.names_field("status");
    put(&id, ago(3), json!({"status": "done", "unit_completed": 3})).await.names_field("unit_completed");
    put(&id, ago(3), json!({"status": "done", "note": "n".repeat(501)})).await.names_field("note");
    put(&id, ago(3), json!({"status": "done", "user_id": "x"})).await.names_field("user_id");
    put(&numeric, ago(3), json!({"status": "done"})).await.names_field("unit_completed");
    put(&numeric, ago(3), json!({"status": "done", "unit_completed": 3})).await.names_field("status");
    put(&numeric, ago(3), json!({"unit_completed": -1})).await.names_field("unit_completed");
    assert_eq!(app.items().await, before);
    // Numeric habits: units against the target decide done or partial.
    assert_eq!(put(&numeric, ago(3), json!({"unit_completed": 8})).await.body["status"], "done");
    assert_eq!(
        put(&numeric, ago(2), json!({"unit_completed": 5, "status": "partial"})).await.body["status"],
        "partial"
    );
    assert_eq!(put(&numeric, ago(1), json!({"status": "skipped"})).await.body["status"], "skipped");
}

#[tokio::test]
async fn today_is_the_users_time_zone_today() {
    let app = TestApp::spawn().await;
    let s = app.register("kiri").await;
    // UTC+14: "today" there is tomorrow in UTC for most of the day.
    let r = app.call("PATCH", "/me/profile", Some(&s.access), Some(json!({"time_zone": "Pacific/Kiritimati"}))).await;
    assert_eq!(r.status, 200);
    let local_today = Utc::now().with_timezone(&chrono_tz::Pacific::Kiritimati).date_naive();
    let id = daily(&app, &s, &ago(3)).await;
    let r = app
        .call("PUT", &format!("/habits/{id}/entries/{local_today}"), Some(&s.access), Some(json!({"status": "done"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tomorrow = local_today + Days::new(1);
    app.call("PUT", &format!("/habits/{id}/entries/{tomorrow}"), Some(&s.access), Some(json!({"status": "done"})))
        .await
        .names_field("date");
    let stats = app.get(&format!("/habits/{id}/stats"), &s.access).await;
    assert_eq!(stats.body["as_of"], local_today.to_string());
    assert_eq!(stats.body["time_zone"], "Pacific/Kiritimati");
    let today = app.get("/me/today", &s.access).await;
    assert_eq!(today.body["date"], local_today.to_string());
}

#[tokio::test]
async fn stats_follow_the_schedule() {
    let app = TestApp::spawn().await;
    let s = app.register("stats").await;
    let id = habit(&app, &s, json!({"title": "Drink", "frequency": {"type": "daily"}, "start_date": ago(9), "target": {"value": 8, "unit": "glasses"}})).await;
    // Days 9..0 ago: 9,8,7 done; 6 partial; 5 skipped; 4..0 done.
    for d in 0..=9u64 {
        let body = match d {
            6 => json!({"unit_completed": 4}),
            5 => json!({"status": "skipped"}),
            _ => json!({"unit_completed": 8}),
        };
        assert_eq!(
            app.call("PUT", &format!("/habits/{id}/entries/{}", ago(d)), Some(&s.access), Some(body)).await.status,
            200
        );
    }
    let r = app.get(&format!("/habits/{id}/stats"), &s.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["current_streak"], 5);
    assert_eq!(b["longest_streak"], 5);
    assert_eq!(b["streak_unit"], "days");
    assert_eq!(b["total_done"], 8);
    assert_eq!(b["total_units"], 8.0 * 8.0 + 4.0);
    assert_eq!(b["last_done_date"], ago(0));
    // Last 7 days: 6..0 → 6 considered (5 skipped), 5 done.
    assert_eq!(b["completion_rate_7d"], 5.0 / 6.0);
    assert_eq!(b["completion_rate_30d"], 8.0 / 9.0);
}

#[tokio::test]
async fn me_today_lists_active_habits_scheduled_today_with_their_entry() {
    let app = TestApp::spawn().await;
    let s = app.register("todd").await;
    let today = today_utc();
    let weekday = today.format("%a").to_string().to_lowercase();
    let other_day = (today + Days::new(1)).format("%a").to_string().to_lowercase();
    let daily_id = daily(&app, &s, &ago(2)).await;
    let on_today = habit(
        &app,
        &s,
        json!({"title": "today", "frequency": {"type": "weekdays", "days": [weekday]}, "start_date": ago(8)}),
    )
    .await;
    habit(
        &app,
        &s,
        json!({"title": "not today", "frequency": {"type": "weekdays", "days": [other_day]}, "start_date": ago(8)}),
    )
    .await;
    habit(&app, &s, json!({"title": "inactive", "frequency": {"type": "daily"}, "is_active": false})).await;
    habit(
        &app,
        &s,
        json!({"title": "ended", "frequency": {"type": "daily"}, "start_date": ago(8), "end_date": ago(1)}),
    )
    .await;
    habit(
        &app,
        &s,
        json!({"title": "future", "frequency": {"type": "daily"}, "start_date": (today + Days::new(3)).to_string()}),
    )
    .await;
    app.call(
        "PUT",
        &format!("/habits/{daily_id}/entries/{}", ago(0)),
        Some(&s.access),
        Some(json!({"status": "done"})),
    )
    .await;
    app.call(
        "PUT",
        &format!("/habits/{daily_id}/entries/{}", ago(1)),
        Some(&s.access),
        Some(json!({"status": "missed"})),
    )
    .await;
    let r = app.get("/me/today", &s.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i["habit"]["habit_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&daily_id.as_str()) && ids.contains(&on_today.as_str()));
    let d = items.iter().find(|i| i["habit"]["habit_id"] == daily_id.as_str()).unwrap();
    assert_eq!(d["entry"]["status"], "done");
    assert_eq!(d["entry"]["date"], ago(0));
    let t = items.iter().find(|i| i["habit"]["habit_id"] == on_today.as_str()).unwrap();
    assert!(t["entry"].is_null());
}

#[tokio::test]
async fn deleting_a_habit_leaves_nothing_of_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let s = app.register("deleter").await;
    let keep = daily(&app, &s, &ago(3)).await;
    let cat = admin_category(&app, &admin, "Mind").await;
    app.call("PUT", &format!("/habits/{keep}/entries/{}", ago(0)), Some(&s.access), Some(json!({"status": "done"})))
        .await;
    let before = app.items().await;
    let id = daily(&app, &s, &ago(40)).await;
    for d in 0..40u64 {
        app.call("PUT", &format!("/habits/{id}/entries/{}", ago(d)), Some(&s.access), Some(json!({"status": "done"})))
            .await;
    }
    assert_eq!(app.call("PUT", &format!("/habits/{id}/categories/{cat}"), Some(&s.access), None).await.status, 204);
    assert_eq!(app.count("Entry").await, 41);
    assert_eq!(app.call("DELETE", &format!("/habits/{id}"), Some(&s.access), None).await.status, 204);
    assert_eq!(app.items().await, before, "only the other habit's items remain");
    app.call("DELETE", &format!("/habits/{id}"), Some(&s.access), None).await.problem(404);
    app.get(&format!("/habits/{id}"), &s.access).await.problem(404);
}

#[tokio::test]
async fn category_assignment_by_owner_and_admin() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let s = app.register("filer").await;
    let id = daily(&app, &s, &ago(1)).await;
    let other = daily(&app, &s, &ago(1)).await;
    let health = admin_category(&app, &admin, "Health").await;
    let mind = admin_category(&app, &admin, "Mind").await;
    assert_eq!(app.call("PUT", &format!("/habits/{id}/categories/{health}"), Some(&s.access), None).await.status, 204);
    assert_eq!(
        app.call("PUT", &format!("/habits/{id}/categories/{health}"), Some(&s.access), None).await.status,
        204,
        "idempotent"
    );
    // Admins may file anyone's habit.
    assert_eq!(
        app.call("PUT", &format!("/habits/{id}/categories/{mind}"), Some(&admin.access), None).await.status,
        204
    );
    assert_eq!(app.count("HabitCategory").await, 2);
    let h = app.get(&format!("/habits/{id}"), &s.access).await;
    let mut names: Vec<&str> =
        h.body["categories"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["Health", "Mind"]);
    // Own listing filtered by category.
    let r = app.get(&format!("/habits?category_id={health}"), &s.access).await;
    let ids: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|h| h["habit_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id.as_str()]);
    assert!(!ids.contains(&other.as_str()));
    // Unknown category, unknown habit.
    let nope = ulid::Ulid::new().to_string();
    app.call("PUT", &format!("/habits/{id}/categories/{nope}"), Some(&s.access), None).await.problem(404);
    app.call("PUT", &format!("/habits/{nope}/categories/{health}"), Some(&admin.access), None).await.problem(404);
    // Unassign.
    assert_eq!(app.call("DELETE", &format!("/habits/{id}/categories/{mind}"), Some(&s.access), None).await.status, 204);
    app.call("DELETE", &format!("/habits/{id}/categories/{mind}"), Some(&s.access), None).await.problem(404);
    assert_eq!(app.count("HabitCategory").await, 1);
}

#[tokio::test]
async fn admin_views_every_habit_with_filters() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let a = app.register("usera").await;
    let b = app.register("userb").await;
    let cat = admin_category(&app, &admin, "Sport").await;
    let a1 = daily(&app, &a, &ago(1)).await;
    daily(&app, &a, &ago(1)).await;
    let b1 = daily(&app, &b, &ago(1)).await;
    app.call("PUT", &format!("/habits/{a1}/categories/{cat}"), Some(&a.access), None).await;
    app.call("PUT", &format!("/habits/{b1}/categories/{cat}"), Some(&b.access), None).await;
    let count = |r: &habit_tests::Response| r.body["items"].as_array().unwrap().len();
    let all = app.get("/admin/habits?limit=2", &admin.access).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(count(&all), 2);
    let rest = app
        .get(&format!("/admin/habits?limit=2&cursor={}", all.body["next_cursor"].as_str().unwrap()), &admin.access)
        .await;
    assert_eq!(count(&rest), 1);
    assert_eq!(count(&app.get(&format!("/admin/habits?user_id={}", a.user_id), &admin.access).await), 2);
    assert_eq!(count(&app.get(&format!("/admin/habits?category_id={cat}"), &admin.access).await), 2);
    assert_eq!(
        count(&app.get(&format!("/admin/habits?category_id={cat}&user_id={}", b.user_id), &admin.access).await),
        1
    );
    assert_eq!(count(&app.get(&format!("/categories/{cat}/habits"), &admin.access).await), 2);
    app.get("/admin/habits?user_id=nope", &admin.access).await.names_field("user_id");
    app.get("/admin/habits", &a.access).await.problem(403);
    app.get(&format!("/categories/{cat}/habits"), &a.access).await.problem(403);
}
