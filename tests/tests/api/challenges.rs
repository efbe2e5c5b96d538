//! `functions/challenges` against DynamoDB Local: catalogue, joining and leaving, progress kept in
//! step with entry writes (checked against a recount from the raw entries), the leaderboard.

use chrono::{Days, NaiveDate, Utc};
use habit_tests::{Response, Session, TestApp};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

fn today() -> NaiveDate {
    Utc::now().date_naive()
}
fn day(offset: i64) -> String {
    if offset >= 0 { today() + Days::new(offset as u64) } else { today() - Days::new((-offset) as u64) }.to_string()
}

async fn challenge(app: &TestApp, admin: &Session, name: &str, from: i64, to: i64) -> String {
    let r = app
        .call(
            "POST",
            "/challenges",
            Some(&admin.access),
            Some(json!({"challenge_name": name, "start_date": day(from), "end_date": day(to), "goal_days": 5})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["challenge_id"].as_str().unwrap().to_owned()
}

async fn habit(app: &TestApp, s: &Session) -> String {
    let r = app
        .call(
            "POST",
            "/habits",
            Some(&s.access),
            Some(json!({"title": "Read", "frequency": {"type": "daily"}, "start_date": day(-30)})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["habit_id"].as_str().unwrap().to_owned()
}

/// A client's write: retried on 409 (a concurrent change), as the problem says.
async fn call_retrying(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Response {
    for _ in 0..20 {
        let r = app.call(method, path, Some(token), body.clone()).await;
        if r.status != 409 {
            return r;
        }
    }
    panic!("{method} {path} kept conflicting");
}

async fn mark(app: &TestApp, s: &Session, h: &str, offset: i64, status: &str) {
    let r = call_retrying(
        app,
        "PUT",
        &format!("/habits/{h}/entries/{}", day(offset)),
        &s.access,
        Some(json!({ "status": status })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn admins_manage_challenges_everyone_reads() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let user = app.register("reader").await;
    let active = challenge(&app, &admin, "30 days of reading", -5, 25).await;
    challenge(&app, &admin, "Upcoming", 3, 10).await;
    challenge(&app, &admin, "Over", -20, -2).await;
    let all = app.get("/challenges", &user.access).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 3);
    for (state, name) in [("active", "30 days of reading"), ("upcoming", "Upcoming"), ("ended", "Over")] {
        let r = app.get(&format!("/challenges?state={state}"), &user.access).await;
        let names: Vec<&str> =
            r.body["items"].as_array().unwrap().iter().map(|c| c["challenge_name"].as_str().unwrap()).collect();
        assert_eq!(names, [name], "{state}");
        assert_eq!(r.body["items"][0]["state"], state);
    }
    app.get("/challenges?state=soon", &user.access).await.names_field("state");
    let one = app.get(&format!("/challenges/{active}"), &user.access).await;
    assert_eq!(one.body["participant_count"], 0);
    assert_eq!(one.body["goal_days"], 5);
    let p = app
        .call(
            "PATCH",
            &format!("/challenges/{active}"),
            Some(&admin.access),
            Some(json!({"description": "Any book", "end_date": day(30)})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["description"], "Any book");
    // Users: 403 on admin routes; nothing changes.
    let before = app.items().await;
    app.call(
        "POST",
        "/challenges",
        Some(&user.access),
        Some(json!({"challenge_name": "x", "start_date": day(0), "end_date": day(1)})),
    )
    .await
    .problem(403);
    app.call("PATCH", &format!("/challenges/{active}"), Some(&user.access), Some(json!({"challenge_name": "x"})))
        .await
        .problem(403);
    app.call("DELETE", &format!("/challenges/{active}"), Some(&user.access), None).await.problem(403);
    app.get(&format!("/challenges/{active}/participants"), &user.access).await.problem(403);
    assert_eq!(app.items().await, before);
    // Validation and missing ids.
    for (body, field) in [
        (json!({"challenge_name": "", "start_date": day(0), "end_date": day(1)}), "challenge_name"),
        (json!({"challenge_name": "x", "start_date": day(2), "end_date": day(1)}), "end_date"),
        (json!({"challenge_name": "x", "start_date": day(0), "end_date": day(1), "goal_days": 0}), "goal_days"),
        (json!({"challenge_name": "x", "start_date": "2026-02-30", "end_date": day(1)}), "start_date"),
        (
            json!({"challenge_name": "x", "start_date": day(0), "end_date": day(1), "participant_count": 9}),
            "participant_count",
        ),
        (json!({"challenge_name": "x", "end_date": day(1)}), "start_date"),
    ] {
        app.call("POST", "/challenges", Some(&admin.access), Some(body)).await.names_field(field);
    }
    assert_eq!(app.items().await, before);
    let missing = ulid::Ulid::new().to_string();
    for (m, path) in [
        ("GET", format!("/challenges/{missing}")),
        ("GET", format!("/challenges/{missing}/leaderboard")),
        ("POST", format!("/challenges/{missing}/join")),
        ("DELETE", format!("/challenges/{missing}/membership")),
        ("DELETE", format!("/challenges/{missing}")),
    ] {
        app.call(m, &path, Some(&admin.access), None).await.problem(404);
    }
    for route in challenges::ROUTES.iter() {
        app.call(route.method, &route.path.replace("{id}", &active), None, None).await.problem(401);
    }
}

#[tokio::test]
async fn join_rules_and_progress_from_existing_entries() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let s = app.register("joiner").await;
    let other = app.register("stranger").await;
    let c = challenge(&app, &admin, "Read", -5, 10).await;
    let h = habit(&app, &s).await;
    // Entries inside the window count, outside do not; only `done` counts.
    for (offset, status) in [(-8, "done"), (-5, "done"), (-4, "missed"), (-3, "done"), (0, "done")] {
        mark(&app, &s, &h, offset, status).await;
    }
    let r = app.call("POST", &format!("/challenges/{c}/join"), Some(&s.access), Some(json!({"habit_id": h}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["progress"], 3);
    app.call("POST", &format!("/challenges/{c}/join"), Some(&s.access), Some(json!({"habit_id": h})))
        .await
        .problem(409);
    assert_eq!(app.get(&format!("/challenges/{c}"), &s.access).await.body["participant_count"], 1);
    // Another user's habit is not found; an unknown field is a 400.
    let theirs = habit(&app, &other).await;
    app.call("POST", &format!("/challenges/{c}/join"), Some(&s.access), Some(json!({"habit_id": theirs})))
        .await
        .problem(404);
    app.call(
        "POST",
        &format!("/challenges/{c}/join"),
        Some(&other.access),
        Some(json!({"habit_id": theirs, "progress": 99})),
    )
    .await
    .names_field("progress");
    // Without a habit: one is made from the challenge.
    let r = app.call("POST", &format!("/challenges/{c}/join"), Some(&other.access), None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let made = app.get(&format!("/habits/{}", r.body["habit_id"].as_str().unwrap()), &other.access).await;
    assert_eq!(made.body["title"], "Read");
    assert_eq!(made.body["end_date"], day(10));
    // An ended challenge cannot be joined.
    let over = challenge(&app, &admin, "Over", -10, -1).await;
    app.call("POST", &format!("/challenges/{over}/join"), Some(&s.access), Some(json!({"habit_id": h})))
        .await
        .problem(409);
    // Entry writes move progress; entries outside the window do not.
    mark(&app, &s, &h, -1, "done").await;
    mark(&app, &s, &h, -9, "done").await;
    mark(&app, &s, &h, 0, "skipped").await;
    let mine = app.get("/me/challenges", &s.access).await;
    assert_eq!(mine.body["items"][0]["progress"], 3, "{}", mine.body);
    assert_eq!(
        app.call("DELETE", &format!("/habits/{h}/entries/{}", day(-3)), Some(&s.access), None).await.status,
        204
    );
    assert_eq!(app.get("/me/challenges", &s.access).await.body["items"][0]["progress"], 2);
    // Leaving removes the user from the leaderboard.
    assert_eq!(app.call("DELETE", &format!("/challenges/{c}/membership"), Some(&s.access), None).await.status, 204);
    app.call("DELETE", &format!("/challenges/{c}/membership"), Some(&s.access), None).await.problem(404);
    let board = app.get(&format!("/challenges/{c}/leaderboard"), &s.access).await;
    let names: Vec<&str> =
        board.body["items"].as_array().unwrap().iter().map(|r| r["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["stranger"]);
    assert_eq!(app.get(&format!("/challenges/{c}"), &s.access).await.body["participant_count"], 1);
    // The window is fixed once someone has joined.
    app.call("PATCH", &format!("/challenges/{c}"), Some(&admin.access), Some(json!({"end_date": day(20)})))
        .await
        .problem(409);
}

#[tokio::test]
async fn leaderboard_orders_by_progress_then_earlier_join_and_shows_public_fields_only() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let c = challenge(&app, &admin, "Streaks", -10, 10).await;
    let mut people = Vec::new();
    for (name, done) in [("ann", 3), ("bob", 5), ("cat", 5), ("dan", 0)] {
        let s = app.register(name).await;
        let h = habit(&app, &s).await;
        let r = app.call("POST", &format!("/challenges/{c}/join"), Some(&s.access), Some(json!({"habit_id": h}))).await;
        assert_eq!(r.status, 201);
        for d in 0..done {
            mark(&app, &s, &h, -d, "done").await;
        }
        people.push(s);
    }
    let board = app.get(&format!("/challenges/{c}/leaderboard?limit=2"), &people[0].access).await;
    assert_eq!(board.status, 200, "{}", board.body);
    let page1 = board.body["items"].as_array().unwrap().clone();
    let next = app
        .get(
            &format!("/challenges/{c}/leaderboard?limit=2&cursor={}", board.body["next_cursor"].as_str().unwrap()),
            &people[0].access,
        )
        .await;
    let rows: Vec<Value> = page1.into_iter().chain(next.body["items"].as_array().unwrap().iter().cloned()).collect();
    let order: Vec<(u64, &str, u64)> = rows
        .iter()
        .map(|r| (r["rank"].as_u64().unwrap(), r["username"].as_str().unwrap(), r["progress"].as_u64().unwrap()))
        .collect();
    // bob and cat tie on 5: bob joined first.
    assert_eq!(order, [(1, "bob", 5), (2, "cat", 5), (3, "ann", 3), (4, "dan", 0)]);
    assert_eq!(rows[0]["goal_reached"], true);
    assert_eq!(rows[2]["goal_reached"], false);
    for r in &rows {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(!keys.iter().any(|k| ["email", "user_id", "habit_id", "phone"].contains(k)), "private field in {r}");
    }
    let admin_view = app.get(&format!("/challenges/{c}/participants"), &admin.access).await;
    assert_eq!(admin_view.body["items"].as_array().unwrap().len(), 4);
    assert!(admin_view.body["items"][0]["user_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn progress_always_equals_a_recount_of_the_raw_entries() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let window = (-12i64, 5i64);
    let c = challenge(&app, &admin, "Consistency", window.0, window.1).await;
    let mut users = Vec::new();
    for i in 0..4 {
        let s = app.register(&format!("player{i}")).await;
        let h = habit(&app, &s).await;
        assert_eq!(
            app.call("POST", &format!("/challenges/{c}/join"), Some(&s.access), Some(json!({"habit_id": h})))
                .await
                .status,
            201
        );
        users.push((s, h, true));
    }
    let mut rng = StdRng::seed_from_u64(7);
    let statuses = ["done", "done", "partial", "missed", "skipped"];
    for step in 0..120 {
        let u = rng.random_range(0..users.len());
        let (s, h, member) = users[u].clone();
        match rng.random_range(0..10) {
            0..=5 => {
                let offset = -rng.random_range(0..20i64);
                mark(&app, &s, &h, offset, statuses[rng.random_range(0..statuses.len())]).await;
            }
            6 | 7 => {
                let r = call_retrying(
                    &app,
                    "DELETE",
                    &format!("/habits/{h}/entries/{}", day(-rng.random_range(0..20i64))),
                    &s.access,
                    None,
                )
                .await;
                assert!(r.status == 204 || r.status == 404, "{}", r.body);
            }
            8 => {
                if member {
                    let r =
                        call_retrying(&app, "DELETE", &format!("/challenges/{c}/membership"), &s.access, None).await;
                    assert_eq!(r.status, 204, "{}", r.body);
                } else {
                    let r = call_retrying(
                        &app,
                        "POST",
                        &format!("/challenges/{c}/join"),
                        &s.access,
                        Some(json!({"habit_id": h})),
                    )
                    .await;
                    assert_eq!(r.status, 201, "{}", r.body);
                }
                users[u].2 = !member;
            }
            _ => {
                // Concurrent writes for one user: several days at once.
                let offsets: Vec<i64> = (0..4).map(|_| -rng.random_range(0..20i64)).collect();
                let paths: Vec<String> = offsets.iter().map(|o| format!("/habits/{h}/entries/{}", day(*o))).collect();
                let writes =
                    paths.iter().map(|p| call_retrying(&app, "PUT", p, &s.access, Some(json!({"status": "done"}))));
                for r in futures::future::join_all(writes).await {
                    assert_eq!(r.status, 200, "step {step}: {}", r.body);
                }
            }
        }
    }
    // Recount from the raw entries and compare with every membership and the leaderboard.
    let board = app.get(&format!("/challenges/{c}/leaderboard?limit=100"), &admin.access).await;
    let ranked: Vec<(String, u64)> = board.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["username"].as_str().unwrap().to_owned(), r["progress"].as_u64().unwrap()))
        .collect();
    let mut expected_members = 0;
    for (s, h, member) in &users {
        let entries = app
            .get(&format!("/habits/{h}/entries?from={}&to={}&limit=100", day(window.0), day(window.1)), &s.access)
            .await;
        let done = entries.body["items"].as_array().unwrap().iter().filter(|e| e["status"] == "done").count() as u64;
        let mine = app.get("/me/challenges", &s.access).await;
        let memberships = mine.body["items"].as_array().unwrap();
        if *member {
            expected_members += 1;
            assert_eq!(memberships[0]["progress"].as_u64(), Some(done), "{} membership", s.username);
            assert!(
                ranked.contains(&(s.username.clone(), done)),
                "{} on the leaderboard with {done}: {ranked:?}",
                s.username
            );
        } else {
            assert!(memberships.is_empty());
            assert!(!ranked.iter().any(|(n, _)| n == &s.username));
        }
    }
    assert_eq!(ranked.len(), expected_members);
    assert!(ranked.windows(2).all(|w| w[0].1 >= w[1].1), "ranked by progress: {ranked:?}");
    assert_eq!(
        app.get(&format!("/challenges/{c}"), &admin.access).await.body["participant_count"],
        expected_members as u64
    );
}

#[tokio::test]
async fn deleting_a_challenge_or_a_backing_habit_leaves_no_membership() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let s = app.register("member").await;
    let c1 = challenge(&app, &admin, "One", -3, 3).await;
    let c2 = challenge(&app, &admin, "Two", -3, 3).await;
    let h = habit(&app, &s).await;
    let other = habit(&app, &s).await;
    app.call("POST", &format!("/challenges/{c1}/join"), Some(&s.access), Some(json!({"habit_id": h}))).await;
    app.call("POST", &format!("/challenges/{c2}/join"), Some(&s.access), Some(json!({"habit_id": other}))).await;
    assert_eq!(app.count("Membership").await, 2);
    assert_eq!(app.call("DELETE", &format!("/challenges/{c1}"), Some(&admin.access), None).await.status, 204);
    assert_eq!(app.count("Membership").await, 1);
    assert_eq!(app.count("Challenge").await, 1);
    app.get(&format!("/challenges/{c1}"), &s.access).await.problem(404);
    // The habit is still usable: its entry writes no longer touch the deleted membership.
    mark(&app, &s, &h, 0, "done").await;
    // Deleting the habit that backs the other membership removes that membership too.
    assert_eq!(app.call("DELETE", &format!("/habits/{other}"), Some(&s.access), None).await.status, 204);
    assert_eq!(app.count("Membership").await, 0);
    assert_eq!(app.get(&format!("/challenges/{c2}"), &s.access).await.body["participant_count"], 0);
}

/// The leaderboard and the participant list show the member's current username, not the one
/// copied when they joined.
#[tokio::test]
async fn a_renamed_member_shows_the_new_name_on_the_leaderboard() {
    let app = TestApp::spawn().await;
    let admin = app.admin("judge").await;
    let s = app.register("oldname").await;
    let c = challenge(&app, &admin, "Rename", -5, 5).await;
    let h = habit(&app, &s).await;
    let r = app.call("POST", &format!("/challenges/{c}/join"), Some(&s.access), Some(json!({"habit_id": h}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app.call("PATCH", "/me", Some(&s.access), Some(json!({"username": "newname"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let board = app.get(&format!("/challenges/{c}/leaderboard"), &s.access).await;
    assert_eq!(board.body["items"][0]["username"], "newname", "{}", board.body);
    let members = app.get(&format!("/challenges/{c}/participants"), &admin.access).await;
    assert_eq!(members.body["items"][0]["username"], "newname", "{}", members.body);
}
