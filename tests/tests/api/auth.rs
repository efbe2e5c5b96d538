//! `functions/auth` against DynamoDB Local: registration, login, refresh rotation, logout.

use habit_tests::{TestApp, PASSWORD};
use serde_json::json;
use shared::keys;
use shared::storage::throttle::{self, LoginThrottleItem};

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
    // Past the grace period of a retried refresh...
    let family_id = s.refresh.split('.').nth(2).unwrap();
    let mut family = app.state.db.get_refresh_family(&s.user_id, family_id).await.unwrap().unwrap();
    family.rotated_at -= shared::session::REFRESH_GRACE_SECS + 1;
    app.put_item(&family).await;
    // ...the rotated token is spent: using it again is reuse, which revokes the family...
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
    // The rotation, and at most one answer to a retry within the grace period: a second answer
    // only with the grace used up.
    let answered = results.iter().filter(|r| r.status == 200).count();
    assert!((1..=2).contains(&answered), "{answered}");
    // A request that read the family after both answers saw the token spent twice over: reuse,
    // and the session ended. Either way no third answer.
    let family_id = s.refresh.split('.').nth(2).unwrap();
    if let Some(family) = app.state.db.get_refresh_family(&s.user_id, family_id).await.unwrap() {
        assert_eq!(family.grace_used, answered == 2);
    }
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

fn wrong(name: &str) -> serde_json::Value {
    json!({"username": name, "password": "not the password"})
}

fn retry_after(r: &habit_tests::Response) -> i64 {
    r.problem(429);
    r.headers["retry-after"].to_str().unwrap().parse().unwrap()
}

/// The throttle item of a username as typed, read directly.
async fn throttle_of(app: &TestApp, username: &str) -> Option<LoginThrottleItem> {
    app.state.db.get(&keys::username_throttle(username), true).await.unwrap()
}

/// The count is taken before the password is checked and atomically: parallel guesses cannot
/// all pass a check that reads the count first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_five_parallel_wrong_logins_check_at_most_five_passwords() {
    let app = TestApp::spawn().await;
    app.register("target").await;
    let calls = (0..25).map(|_| app.call("POST", "/auth/login", None, Some(wrong("target"))));
    let results = futures::future::join_all(calls).await;
    let checked = results.iter().filter(|r| r.status == 401).count();
    assert!((1..=5).contains(&checked), "{checked} passwords checked");
    for r in results.iter().filter(|r| r.status != 401) {
        assert!(retry_after(r) >= 1);
    }
    assert_eq!(throttle_of(&app, "target").await.unwrap().failures as usize, checked);
}

/// No hard lock: after the free failures each attempt waits a delay that doubles, capped, so a
/// stranger's failures keep the right password waiting seconds, not minutes.
#[tokio::test]
async fn a_strangers_failures_delay_the_right_password_briefly_and_never_lock_it() {
    let app = TestApp::spawn().await;
    app.register("victim").await;
    for _ in 0..throttle::FREE_FAILURES {
        app.call("POST", "/auth/login", None, Some(wrong("victim"))).await.problem(401);
    }
    let right = json!({"username": "victim", "password": PASSWORD});
    let now = shared::jwt::now_epoch() as i64;
    let mut t = throttle_of(&app, "victim").await.unwrap();
    assert_eq!(t.failures, throttle::FREE_FAILURES);
    assert!(t.next_attempt_at <= now + 1, "the first delay after the free failures is a second");
    // A long attack: 500 failures, the identifier's slot taken again just now.
    t.failures = 500;
    t.next_attempt_at = now + throttle::delay_after(500);
    app.put_item(&t).await;
    let wait = retry_after(&app.call("POST", "/auth/login", None, Some(right.clone())).await);
    assert!(wait <= throttle::MAX_DELAY_SECS, "{wait}");
    // Once the slot is open the right password gets in, and the failures are forgotten.
    t.next_attempt_at = now - 1;
    app.put_item(&t).await;
    let r = app.call("POST", "/auth/login", None, Some(right)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(throttle_of(&app, "victim").await.is_none());
}

/// A username and its account's e-mail are throttled apart: a 429 on one tells nothing about
/// the other, and unknown identifiers behave exactly like known ones.
#[tokio::test]
async fn the_answers_do_not_tell_which_identifiers_share_an_account() {
    let app = TestApp::spawn().await;
    app.register("linked").await;
    for name in ["linked", "ghost"] {
        for _ in 0..throttle::FREE_FAILURES {
            app.call("POST", "/auth/login", None, Some(wrong(name))).await.problem(401);
        }
        let t = throttle_of(&app, name).await.unwrap();
        assert_eq!(t.failures, throttle::FREE_FAILURES, "{name}: a known and an unknown name count alike");
        // The username waits now (its delay placed where a test can see it).
        app.put_item(&LoginThrottleItem { next_attempt_at: t.next_attempt_at + 20, ..t }).await;
        retry_after(&app.call("POST", "/auth/login", None, Some(wrong(name))).await);
    }
    let by_mail = |mail: &str| json!({"email": mail, "password": "not the password"});
    let known = app.call("POST", "/auth/login", None, Some(by_mail("linked@example.com"))).await;
    let unknown = app.call("POST", "/auth/login", None, Some(by_mail("nobody@example.com"))).await;
    known.problem(401);
    assert_eq!(known.body, unknown.body);
    // The right password by e-mail is not held back by the username's failures.
    let r =
        app.call("POST", "/auth/login", None, Some(json!({"email": "linked@example.com", "password": PASSWORD}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Cheap refusals come before any argon2 work: an identifier that cannot name an account, a
/// taken name or e-mail; and one source address gets a bounded number of password checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_checks_per_source_are_bounded_and_cheap_refusals_cost_none() {
    let app = TestApp::spawn().await;
    app.register("taken").await;
    let (attacker, neighbour) = ("203.0.113.7", "198.51.100.9");
    app.call_from(attacker, "POST", "/auth/login", Some(json!({"username": "!!", "password": "x"})))
        .await
        .names_field("username");
    app.call_from(attacker, "POST", "/auth/login", Some(json!({"email": "not-an-email", "password": "x"})))
        .await
        .names_field("email");
    let limit = shared::storage::throttle::SOURCE_ATTEMPTS;
    let guesses = (0..limit).map(|i| app.call_from(attacker, "POST", "/auth/login", Some(wrong(&format!("user{i}")))));
    for r in futures::future::join_all(guesses).await {
        r.problem(401);
    }
    let over = app.call_from(attacker, "POST", "/auth/login", Some(wrong("another"))).await;
    assert!(retry_after(&over) <= throttle::SOURCE_WINDOW_SECS);
    let new_user = json!({"username": "fresh", "email": "fresh@example.com", "password": PASSWORD});
    retry_after(&app.call_from(attacker, "POST", "/auth/register", Some(new_user.clone())).await);
    // Which names are taken is not learned past the budget either.
    let taken = json!({"username": "taken", "email": "other@example.com", "password": PASSWORD});
    retry_after(&app.call_from(attacker, "POST", "/auth/register", Some(taken.clone())).await);
    let r = app.call_from(neighbour, "POST", "/auth/register", Some(taken)).await;
    assert_eq!(r.problem(409)["errors"][0]["field"], "username");
    // Other addresses are not affected.
    app.call_from(neighbour, "POST", "/auth/login", Some(wrong("another"))).await.problem(401);
    assert_eq!(app.call_from(neighbour, "POST", "/auth/register", Some(new_user)).await.status, 201);
}

#[tokio::test]
async fn a_successful_login_resets_the_failure_count() {
    let app = TestApp::spawn().await;
    app.register("forgetful").await;
    for _ in 0..2 {
        for _ in 0..throttle::FREE_FAILURES - 1 {
            app.call("POST", "/auth/login", None, Some(wrong("forgetful"))).await.problem(401);
        }
        app.login("forgetful").await;
    }
    assert_eq!(app.count("LoginThrottle").await, 0);
}

/// A client that lost the answer to a refresh and retries with the same token gets a valid pair
/// (once, within the grace period) instead of losing its session; a later reuse still revokes.
#[tokio::test]
async fn a_retried_refresh_within_the_grace_period_keeps_the_session() {
    let app = TestApp::spawn().await;
    let s = app.register("flaky").await;
    let refresh = |token: &str| app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": token})));
    let lost = refresh(&s.refresh).await;
    assert_eq!(lost.status, 200, "{}", lost.body);
    let retried = refresh(&s.refresh).await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    let pair = habit_tests::session_of(
        &json!({"user": {"user_id": s.user_id, "username": s.username, "email": s.email}, "access_token": retried.body["access_token"], "refresh_token": retried.body["refresh_token"]}),
    );
    assert_eq!(app.get("/me", &pair.access).await.status, 200);
    // The grace is used: the same token a third time is reuse, and ends the session.
    refresh(&s.refresh).await.problem(401);
    refresh(&pair.refresh).await.problem(401);
    assert_eq!(app.count("RefreshFamily").await, 0);
}

/// Refreshing does not push a session's end out forever: it ends at its absolute lifetime.
#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_often_it_is_refreshed() {
    let app = TestApp::spawn().await;
    let s = app.register("forever").await;
    let family_id = s.refresh.split('.').nth(2).unwrap();
    let max_age = app.state.auth.session_max_age.as_secs() as i64;
    let mut family = app.state.db.get_refresh_family(&s.user_id, family_id).await.unwrap().unwrap();
    family.created_at -= chrono::Duration::seconds(max_age - 60);
    app.put_item(&family).await;
    let r = app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": s.refresh}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let renewed = app.state.db.get_refresh_family(&s.user_id, family_id).await.unwrap().unwrap();
    assert!(renewed.expires_at_epoch <= family.created_at.timestamp() + max_age, "not past the absolute end");
    let mut ended = renewed;
    ended.created_at -= chrono::Duration::seconds(120);
    app.put_item(&ended).await;
    app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": r.body["refresh_token"]}))).await.problem(401);
}

/// An e-mail that only looks like a registered one is not a second account: full-width letters
/// are folded by NFKC, and a Cyrillic `а` has the Latin `a`'s confusable skeleton.
#[tokio::test]
async fn look_alike_e_mails_are_the_same_address() {
    let app = TestApp::spawn().await;
    app.register("alice").await;
    for (name, email) in
        [("alice2", "\u{ff41}lice@example.com"), ("alice3", "\u{430}lice@example.com"), ("alice4", "ALICE@EXAMPLE.COM")]
    {
        let r = app
            .call("POST", "/auth/register", None, Some(json!({"username": name, "email": email, "password": PASSWORD})))
            .await;
        assert_eq!(r.problem(409)["errors"][0]["field"], "email", "{email}");
    }
    // The full-width form is stored, and logs in, as the plain address.
    let r = app
        .call("POST", "/auth/login", None, Some(json!({"email": "\u{ff41}lice@example.com", "password": PASSWORD})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["email"], "alice@example.com");
    assert_eq!(app.count("User").await, 1);
}
