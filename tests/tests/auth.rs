//! `functions/auth` against DynamoDB Local: registration, login, refresh rotation, logout.

use habit_tests::{TestApp, PASSWORD};
use serde_json::json;

#[tokio::test]
async fn register_creates_user_profile_and_guards_and_returns_tokens() {
    let app = TestApp::spawn().await;
    let r = app
        .call("POST", "/auth/register", None, Some(json!({"username": "Alice", "email": "Alice@Example.com", "phone": "+1 415 555 0123", "password": PASSWORD})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["user"]["username"], "alice");
    assert_eq!(r.body["user"]["email"], "alice@example.com");
    assert_eq!(r.body["user"]["phone"], "+14155550123");
    assert_eq!(r.body["user"]["role"], "user");
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(r.body["user"].get("password_hash").is_none());
    for entity in ["User", "Profile", "UsernameGuard", "EmailGuard", "RefreshFamily"] {
        assert_eq!(app.count(entity).await, 1, "{entity}");
    }
    let me = app.get("/me", r.body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["user_id"], r.body["user"]["user_id"]);
}

#[tokio::test]
async fn stored_hash_is_argon2id_with_owasp_parameters() {
    let app = TestApp::spawn().await;
    let s = app.register("hashy").await;
    let user = app.state.db.get_user(&s.user_id, true).await.unwrap().unwrap();
    assert!(user.password_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", user.password_hash);
    assert!(!user.password_hash.contains(PASSWORD));
}

#[tokio::test]
async fn register_validation_names_every_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"username": "x", "email": "a@example.com", "password": PASSWORD}), "username"),
        (json!({"username": "okname", "email": "nope", "password": PASSWORD}), "email"),
        (json!({"username": "okname", "email": "a@example.com", "phone": "123", "password": PASSWORD}), "phone"),
        (json!({"username": "okname", "email": "a@example.com", "password": "short"}), "password"),
        (json!({"username": "okname", "email": "a@example.com"}), "password"),
        (json!({"username": "okname", "email": "a@example.com", "password": PASSWORD, "role": "admin"}), "role"),
        (
            json!({"username": "okname", "email": "a@example.com", "password": PASSWORD, "is_active": false}),
            "is_active",
        ),
        (json!({"username": 5, "email": "a@example.com", "password": PASSWORD}), "username"),
    ];
    for (body, field) in cases {
        let r = app.call("POST", "/auth/register", None, Some(body)).await;
        r.names_field(field);
    }
    let both = app
        .call("POST", "/auth/register", None, Some(json!({"username": "x", "email": "bad", "password": PASSWORD})))
        .await;
    both.names_field("username");
    both.names_field("email");
    assert!(app.items().await.is_empty(), "nothing written");
}

#[tokio::test]
async fn malformed_bodies_are_problems() {
    let app = TestApp::spawn().await;
    let req = |ct: &str, body: &str| {
        http::Request::builder()
            .method("POST")
            .uri("/auth/register")
            .header("content-type", ct)
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap()
    };
    app.send(req("application/json", "{not json")).await.problem(400);
    app.send(req("text/plain", "{}")).await.problem(415);
    app.send(req("application/json", &"x".repeat(70_000))).await.problem(413);
    app.call("GET", "/auth/register", None, None).await.problem(405);
    app.call("GET", "/nowhere", None, None).await.problem(404);
    assert!(app.items().await.is_empty());
}

#[tokio::test]
async fn duplicate_username_or_email_is_409_case_insensitively() {
    let app = TestApp::spawn().await;
    app.register("bob").await;
    let r = app
        .call(
            "POST",
            "/auth/register",
            None,
            Some(json!({"username": "BOB", "email": "other@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.problem(409)["errors"][0]["field"], "username");
    let r = app
        .call(
            "POST",
            "/auth/register",
            None,
            Some(json!({"username": "bobby", "email": "BOB@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.problem(409)["errors"][0]["field"], "email");
    assert_eq!(app.count("User").await, 1);
    assert_eq!(app.count("UsernameGuard").await, 1);
    assert_eq!(app.count("EmailGuard").await, 1);
}

async fn race(app: &TestApp, bodies: Vec<serde_json::Value>) -> (usize, usize) {
    let calls = bodies.into_iter().map(|b| app.call("POST", "/auth/register", None, Some(b)));
    let results = futures::future::join_all(calls).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    for r in results.iter().filter(|r| r.status != 201) {
        r.problem(409);
    }
    (created, results.len() - created)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_registrations_with_one_email_create_one_user() {
    let app = TestApp::spawn().await;
    let bodies = (0..50)
        .map(|i| json!({"username": format!("racer{i}"), "email": "same@example.com", "password": PASSWORD}))
        .collect();
    assert_eq!(race(&app, bodies).await, (1, 49));
    assert_eq!(app.count("User").await, 1);
    assert_eq!(app.count("EmailGuard").await, 1);
    assert_eq!(app.count("UsernameGuard").await, 1);
    assert_eq!(app.count("Profile").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_registrations_with_one_username_create_one_user() {
    let app = TestApp::spawn().await;
    let bodies = (0..50)
        .map(|i| json!({"username": "samename", "email": format!("r{i}@example.com"), "password": PASSWORD}))
        .collect();
    assert_eq!(race(&app, bodies).await, (1, 49));
    assert_eq!(app.count("User").await, 1);
    assert_eq!(app.count("UsernameGuard").await, 1);
    assert_eq!(app.count("EmailGuard").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rename_racing_a_registration_leaves_one_owner() {
    for round in 0..5 {
        let app = TestApp::spawn().await;
        let s = app.register("renamer").await;
        let target = format!("contested{round}");
        let (rename, register) = tokio::join!(
            app.call("PATCH", "/me", Some(&s.access), Some(json!({"username": target}))),
            app.call(
                "POST",
                "/auth/register",
                None,
                Some(json!({"username": target, "email": "late@example.com", "password": PASSWORD}))
            ),
        );
        let winners = [rename.status.as_u16(), register.status.as_u16()];
        assert!(winners == [200, 409] || winners == [409, 201], "{winners:?}");
        assert_eq!(app.count("UsernameGuard").await, app.count("User").await);
        let guard = app
            .state
            .db
            .get::<shared::models::GuardItem>(&shared::keys::username_guard(&target), true)
            .await
            .unwrap()
            .unwrap();
        let owner = app.state.db.get_user(&guard.user_id, true).await.unwrap().unwrap();
        assert_eq!(owner.username, target, "the guard points at the user who holds the name");
    }
}

#[tokio::test]
async fn login_by_username_or_email_and_identical_failures() {
    let app = TestApp::spawn().await;
    app.register("carol").await;
    let ok =
        app.call("POST", "/auth/login", None, Some(json!({"email": "CAROL@example.com", "password": PASSWORD}))).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["user"]["username"], "carol");
    let wrong =
        app.call("POST", "/auth/login", None, Some(json!({"username": "carol", "password": "wrong password!"}))).await;
    let unknown =
        app.call("POST", "/auth/login", None, Some(json!({"username": "nobody", "password": "wrong password!"}))).await;
    wrong.problem(401);
    unknown.problem(401);
    assert_eq!(wrong.body, unknown.body, "unknown user and wrong password answer alike");
    app.call(
        "POST",
        "/auth/login",
        None,
        Some(json!({"username": "carol", "email": "carol@example.com", "password": PASSWORD})),
    )
    .await
    .names_field("username");
    app.call("POST", "/auth/login", None, Some(json!({"username": "carol"}))).await.names_field("password");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    let s = app.register("dave").await;
    let first = app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": s.refresh}))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let r1 = first.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, s.refresh);
    assert_eq!(app.get("/me", first.body["access_token"].as_str().unwrap()).await.status, 200);
    // The rotated token is spent: using it again is reuse, which revokes the family...
    app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": s.refresh}))).await.problem(401);
    // ...so the newest token of that family is dead too.
    app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": r1}))).await.problem(401);
    assert_eq!(app.count("RefreshFamily").await, 0);
    // Garbage and access tokens are not refresh tokens.
    app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": "rt1.x.y.z"}))).await.problem(401);
    app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": s.access}))).await.problem(401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_token_is_single_use_under_races() {
    let app = TestApp::spawn().await;
    let s = app.register("erin").await;
    let calls = (0..8).map(|_| app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": s.refresh}))));
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().filter(|r| r.status == 200).count() <= 1);
    for r in results.iter().filter(|r| r.status != 200) {
        r.problem(401);
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let s = app.register("frank").await;
    let r = app.call("POST", "/auth/logout", None, Some(json!({"refresh_token": s.refresh}))).await;
    assert_eq!(r.status, 204);
    app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": s.refresh}))).await.problem(401);
    assert_eq!(app.count("RefreshFamily").await, 0);
    app.call("POST", "/auth/logout", None, Some(json!({}))).await.names_field("refresh_token");
}

#[tokio::test]
async fn deactivated_user_cannot_log_in_or_refresh() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let s = app.register("gina").await;
    let r = app
        .call("PATCH", &format!("/users/{}", s.user_id), Some(&admin.access), Some(json!({"is_active": false})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.call("POST", "/auth/login", None, Some(json!({"username": "gina", "password": PASSWORD}))).await.problem(401);
    app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": s.refresh}))).await.problem(401);
}

#[tokio::test]
async fn health_answers_without_credentials_or_table() {
    let app = TestApp::spawn().await;
    let r = app.call("GET", "/health", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
}

#[tokio::test]
async fn repeated_failed_logins_lock_the_account_for_a_while() {
    let app = TestApp::spawn().await;
    app.register("locked").await;
    app.register("bystander").await;
    let wrong = json!({"username": "locked", "password": "not the password"});
    for _ in 0..shared::storage::throttle::MAX_FAILURES {
        app.call("POST", "/auth/login", None, Some(wrong.clone())).await.problem(401);
    }
    // Now even the right password waits, by e-mail too (the same account).
    let r =
        app.call("POST", "/auth/login", None, Some(json!({"email": "locked@example.com", "password": PASSWORD}))).await;
    r.problem(429);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    // Other accounts are not affected.
    app.login("bystander").await;
    // Unknown users are throttled alike, so the answers do not tell them apart.
    let ghost = json!({"username": "ghost", "password": "not the password"});
    for _ in 0..shared::storage::throttle::MAX_FAILURES {
        app.call("POST", "/auth/login", None, Some(ghost.clone())).await.problem(401);
    }
    app.call("POST", "/auth/login", None, Some(ghost)).await.problem(429);
}

#[tokio::test]
async fn a_successful_login_resets_the_failure_count() {
    let app = TestApp::spawn().await;
    app.register("forgetful").await;
    let wrong = json!({"username": "forgetful", "password": "not the password"});
    for _ in 0..2 {
        for _ in 0..shared::storage::throttle::MAX_FAILURES - 1 {
            app.call("POST", "/auth/login", None, Some(wrong.clone())).await.problem(401);
        }
        app.login("forgetful").await;
    }
    assert_eq!(app.count("LoginThrottle").await, 0);
}
