//! `functions/users` against DynamoDB Local: the caller's account and profile, admin management,
//! authentication and authorization failures, mass assignment.

use habit_tests::{Session, TestApp, PASSWORD};
use serde_json::json;

#[tokio::test]
async fn every_route_needs_a_valid_token() {
    let app = TestApp::spawn().await;
    let s = app.register("anna").await;
    for route in users::ROUTES.iter() {
        let path = route.path.replace("{id}", &s.user_id);
        let body = matches!(route.method, "PATCH" | "PUT" | "POST").then(|| json!({}));
        app.call(route.method, &path, None, body.clone()).await.problem(401);
        app.call(route.method, &path, Some("not-a-jwt"), body).await.problem(401);
    }
    assert_eq!(app.count("User").await, 1);
}

#[tokio::test]
async fn users_get_403_on_every_admin_route_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let s = app.register("ben").await;
    let other = app.register("other").await;
    let before = app.items().await;
    for route in users::ROUTES.iter().filter(|r| r.path.starts_with("/users")) {
        let path = route.path.replace("{id}", &other.user_id);
        let body = matches!(route.method, "PATCH" | "PUT").then(|| json!({"role": "admin"}));
        app.call(route.method, &path, Some(&s.access), body).await.problem(403);
    }
    assert_eq!(app.items().await, before);
}

#[tokio::test]
async fn me_shows_the_caller_only() {
    let app = TestApp::spawn().await;
    let a = app.register("cat").await;
    let b = app.register("dog").await;
    assert_eq!(app.get("/me", &a.access).await.body["username"], "cat");
    assert_eq!(app.get("/me", &b.access).await.body["username"], "dog");
}

#[tokio::test]
async fn patch_me_swaps_guards_in_one_transaction() {
    let app = TestApp::spawn().await;
    let s = app.register("eve").await;
    let r = app
        .call(
            "PATCH",
            "/me",
            Some(&s.access),
            Some(json!({"username": "Evelyn", "email": "evelyn@example.com", "phone": "+4930123456", "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["username"], "evelyn");
    assert_eq!(r.body["phone"], "+4930123456");
    assert_eq!(app.count("UsernameGuard").await, 1);
    assert_eq!(app.count("EmailGuard").await, 1);
    let db = &app.state.db;
    assert!(db.get::<shared::models::GuardItem>(&shared::keys::username_guard("eve"), true).await.unwrap().is_none());
    assert!(db
        .get::<shared::models::GuardItem>(&shared::keys::username_guard("evelyn"), true)
        .await
        .unwrap()
        .is_some());
    // The freed name can be registered again; the new one is taken.
    app.register("eve").await;
    let taken = app
        .call("PATCH", "/me", Some(&s.access), Some(json!({"email": "eve@example.com", "current_password": PASSWORD})))
        .await;
    assert_eq!(taken.problem(409)["errors"][0]["field"], "email");
    // null removes the phone.
    let r = app.call("PATCH", "/me", Some(&s.access), Some(json!({"phone": null}))).await;
    assert_eq!(r.status, 200);
    assert!(r.body["phone"].is_null());
}

#[tokio::test]
async fn mass_assignment_is_rejected_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let s = app.register("mallory").await;
    let before = app.items().await;
    for field in ["role", "is_active", "user_id", "version", "token_version", "password_hash", "created_at", "nonsense"]
    {
        let r =
            app.call("PATCH", "/me", Some(&s.access), Some(json!({ field: "admin", "username": "mallory2" }))).await;
        r.names_field(field);
        let r = app.call("PATCH", "/me/profile", Some(&s.access), Some(json!({ field: "x" }))).await;
        r.names_field(field);
        let r = app.call("PUT", "/me/profile", Some(&s.access), Some(json!({ field: "x" }))).await;
        r.names_field(field);
    }
    assert_eq!(app.items().await, before);
    assert_eq!(app.get("/me", &s.access).await.body["role"], "user");
}

#[tokio::test]
async fn patch_me_validation_names_fields() {
    let app = TestApp::spawn().await;
    let s = app.register("vick").await;
    let before = app.items().await;
    let r = app.call("PATCH", "/me", Some(&s.access), Some(json!({"username": "!", "email": "x", "phone": "1"}))).await;
    for f in ["username", "email", "phone"] {
        r.names_field(f);
    }
    assert_eq!(app.items().await, before);
}

#[tokio::test]
async fn password_change_revokes_other_tokens_and_returns_a_new_session() {
    let app = TestApp::spawn().await;
    let s = app.register("pat").await;
    let wrong = app
        .call(
            "PUT",
            "/me/password",
            Some(&s.access),
            Some(json!({"current_password": "not it at all", "new_password": "a brand new secret"})),
        )
        .await;
    wrong.names_field("current_password");
    let weak = app
        .call(
            "PUT",
            "/me/password",
            Some(&s.access),
            Some(json!({"current_password": PASSWORD, "new_password": "short"})),
        )
        .await;
    weak.names_field("new_password");
    let r = app
        .call(
            "PUT",
            "/me/password",
            Some(&s.access),
            Some(json!({"current_password": PASSWORD, "new_password": "a brand new secret"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.get("/me", &s.access).await.problem(401);
    app.call("POST", "/auth/refresh", None, Some(json!({"refresh_token": s.refresh}))).await.problem(401);
    assert_eq!(app.get("/me", r.body["access_token"].as_str().unwrap()).await.status, 200);
    app.call("POST", "/auth/login", None, Some(json!({"username": "pat", "password": PASSWORD}))).await.problem(401);
    let ok =
        app.call("POST", "/auth/login", None, Some(json!({"username": "pat", "password": "a brand new secret"}))).await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn delete_me_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let keep = app.register("keeper").await;
    let before = app.items().await;
    let s = app.register("leaver").await;
    app.login("leaver").await; // a second session: two refresh families
    let r = app.call("DELETE", "/me", Some(&s.access), Some(json!({"current_password": PASSWORD}))).await;
    assert_eq!(r.status, 204);
    assert_eq!(app.items().await, before, "only the other user's items remain");
    app.get("/me", &s.access).await.problem(401);
    assert_eq!(app.get("/me", &keep.access).await.status, 200);
    app.register("leaver").await; // name and e-mail are free again
}

#[tokio::test]
async fn delete_me_with_more_items_than_one_transaction_holds() {
    let app = TestApp::spawn().await;
    let s = app.register("hoarder").await;
    for _ in 0..110 {
        shared::session::start(&app.state, &app.state.db.get_user(&s.user_id, true).await.unwrap().unwrap())
            .await
            .unwrap();
    }
    assert_eq!(app.count("RefreshFamily").await, 111);
    assert_eq!(
        app.call("DELETE", "/me", Some(&s.access), Some(json!({"current_password": PASSWORD}))).await.status,
        204
    );
    assert!(app.items().await.is_empty());
}

#[tokio::test]
async fn profile_put_patch_and_validation() {
    let app = TestApp::spawn().await;
    let s = app.register("prof").await;
    let empty = app.get("/me/profile", &s.access).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["user_id"], s.user_id.as_str());
    let put = app.call("PUT", "/me/profile", Some(&s.access), Some(json!({"first_name": "Pro", "last_name": "Filer", "dob": "1990-02-03", "bio": "hi", "time_zone": "Asia/Kolkata"}))).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["time_zone"], "Asia/Kolkata");
    let patch =
        app.call("PATCH", "/me/profile", Some(&s.access), Some(json!({"bio": null, "first_name": "Pia"}))).await;
    assert_eq!(patch.status, 200);
    assert_eq!(patch.body["first_name"], "Pia");
    assert_eq!(patch.body["last_name"], "Filer");
    assert!(patch.body.get("bio").is_none());
    let before = app.items().await;
    let bad = app.call("PATCH", "/me/profile", Some(&s.access), Some(json!({"time_zone": "Mars/Base", "dob": "2999-01-01", "first_name": "x".repeat(51), "bio": "b".repeat(501)}))).await;
    for f in ["time_zone", "dob", "first_name", "bio"] {
        bad.names_field(f);
    }
    app.call("PATCH", "/me/profile", Some(&s.access), Some(json!({"dob": "1990-13-45"}))).await.names_field("dob");
    assert_eq!(app.items().await, before);
    // PUT replaces: left-out fields are cleared.
    let put = app.call("PUT", "/me/profile", Some(&s.access), Some(json!({"bio": "only"}))).await;
    assert!(put.body.get("first_name").is_none());
    assert_eq!(app.get("/me/profile", &s.access).await.body["bio"], "only");
}

async fn setup_admin() -> (TestApp, Session, Session) {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let user = app.register("plain").await;
    (app, admin, user)
}

#[tokio::test]
async fn admin_reads_users_and_profiles_and_gets_404_for_missing() {
    let (app, admin, user) = setup_admin().await;
    let r = app.get(&format!("/users/{}", user.user_id), &admin.access).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["username"], "plain");
    let p = app.get(&format!("/users/{}/profile", user.user_id), &admin.access).await;
    assert_eq!(p.status, 200);
    let missing = ulid::Ulid::new().to_string();
    for path in [format!("/users/{missing}"), format!("/users/{missing}/profile"), "/users/not-an-id".into()] {
        app.get(&path, &admin.access).await.problem(404);
    }
    app.call("PATCH", &format!("/users/{missing}"), Some(&admin.access), Some(json!({"role": "admin"})))
        .await
        .problem(404);
    app.call("DELETE", &format!("/users/{missing}"), Some(&admin.access), None).await.problem(404);
}

#[tokio::test]
async fn admin_lists_users_with_filters_and_cursor_pages() {
    let (app, admin, _) = setup_admin().await;
    for i in 0..4 {
        app.register(&format!("member{i}")).await;
    }
    let all = app.get("/users?limit=100", &admin.access).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.body["items"].as_array().unwrap().len(), 6);
    let admins = app.get("/users?role=admin", &admin.access).await;
    assert_eq!(admins.body["items"].as_array().unwrap().len(), 1);
    // Page through users two at a time; every user once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/users?role=user&limit=2&cursor={c}"),
            None => "/users?role=user&limit=2".into(),
        };
        let page = app.get(&path, &admin.access).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["member0", "member1", "member2", "member3", "plain"]);
    // A cursor is bound to its listing and cannot be forged.
    let first = app.get("/users?role=user&limit=2", &admin.access).await;
    let c = first.body["next_cursor"].as_str().unwrap();
    app.get(&format!("/users?role=admin&cursor={c}"), &admin.access).await.names_field("cursor");
    app.get("/users?cursor=abc.def", &admin.access).await.names_field("cursor");
    app.get("/users?limit=0", &admin.access).await.names_field("limit");
    app.get("/users?limit=101", &admin.access).await.names_field("limit");
    app.get("/users?role=king", &admin.access).await.names_field("role");
    app.get("/users?colour=red", &admin.access).await.names_field("colour");
}

#[tokio::test]
async fn deactivation_and_role_change_revoke_tokens_at_once() {
    let (app, admin, user) = setup_admin().await;
    let path = format!("/users/{}", user.user_id);
    let r = app.call("PATCH", &path, Some(&admin.access), Some(json!({"role": "admin"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["role"], "admin");
    app.get("/me", &user.access).await.problem(401);
    let relogged = app.login("plain").await;
    assert_eq!(app.get("/users", &relogged.access).await.status, 200, "now an admin");
    let r = app.call("PATCH", &path, Some(&admin.access), Some(json!({"is_active": false}))).await;
    assert_eq!(r.body["is_active"], false);
    app.get("/me", &relogged.access).await.problem(401);
    let inactive = app.get("/users?is_active=false", &admin.access).await;
    assert_eq!(inactive.body["items"].as_array().unwrap().len(), 1);
    let inactive_admins = app.get("/users?role=admin&is_active=false", &admin.access).await;
    assert_eq!(inactive_admins.body["items"][0]["user_id"], user.user_id.as_str());
}

#[tokio::test]
async fn admin_patch_validation_and_self_protection() {
    let (app, admin, user) = setup_admin().await;
    let before = app.items().await;
    let path = format!("/users/{}", user.user_id);
    app.call("PATCH", &path, Some(&admin.access), Some(json!({"role": "owner"}))).await.names_field("role");
    app.call("PATCH", &path, Some(&admin.access), Some(json!({"username": "x"}))).await.names_field("username");
    app.call("PATCH", &path, Some(&admin.access), Some(json!({"is_active": "no"}))).await.names_field("is_active");
    let own = format!("/users/{}", admin.user_id);
    app.call("PATCH", &own, Some(&admin.access), Some(json!({"is_active": false}))).await.problem(409);
    app.call("PATCH", &own, Some(&admin.access), Some(json!({"role": "user"}))).await.problem(409);
    app.call("DELETE", &own, Some(&admin.access), None).await.problem(409);
    app.call("DELETE", "/me", Some(&admin.access), Some(json!({"current_password": PASSWORD}))).await.problem(409);
    assert_eq!(app.items().await, before);
}

#[tokio::test]
async fn admin_delete_removes_everything_of_the_user() {
    let (app, admin, user) = setup_admin().await;
    let before_user = app.count("User").await;
    let r = app.call("DELETE", &format!("/users/{}", user.user_id), Some(&admin.access), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(app.count("User").await, before_user - 1);
    let pk = shared::keys::user_pk(&user.user_id);
    let left = app.items().await.into_iter().filter(|i| i.get("PK").and_then(|v| v.as_s().ok()) == Some(&pk)).count();
    assert_eq!(left, 0);
    assert_eq!(app.count("UsernameGuard").await, 1);
    app.get("/me", &user.access).await.problem(401);
}

/// A stolen access token alone cannot take the account: a new e-mail and deleting the account
/// need the current password, and guessing it through these routes is throttled like a login.
#[tokio::test]
async fn sensitive_changes_need_the_current_password_and_guessing_it_is_throttled() {
    let app = TestApp::spawn().await;
    let s = app.register("careful").await;
    let t = Some(s.access.as_str());
    app.call("PATCH", "/me", t, Some(json!({"email": "thief@example.com"}))).await.names_field("current_password");
    app.call("PATCH", "/me", t, Some(json!({"email": "thief@example.com", "current_password": "a wrong guess"})))
        .await
        .names_field("current_password");
    app.call("DELETE", "/me", t, Some(json!({"current_password": "a wrong guess"})))
        .await
        .names_field("current_password");
    app.call("DELETE", "/me", t, None).await.problem(415);
    // Other changes need nothing more.
    assert_eq!(app.call("PATCH", "/me", t, Some(json!({"phone": "+4930123456"}))).await.status, 200);
    // Guessing through the password change is counted with the rest: the 5 free failures are gone.
    let change = |current: &str| json!({"current_password": current, "new_password": "a brand new passphrase"});
    for _ in 0..3 {
        app.call("PUT", "/me/password", t, Some(change("another wrong guess"))).await.names_field("current_password");
    }
    let r = app.call("PUT", "/me/password", t, Some(change(PASSWORD))).await;
    r.problem(429);
    assert!(r.headers.contains_key("retry-after"));
    let user = app.state.db.get_user(&s.user_id, true).await.unwrap().unwrap();
    assert_eq!(user.email, "careful@example.com", "nothing changed");
}

/// Two admins demoting (or deleting) each other at the same moment: one wins, and an active
/// admin always remains (the count is kept in the same transactions).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_admins_removing_each_other_at_once_leave_one_admin() {
    for round in 0..5 {
        let app = TestApp::spawn().await;
        let (a, b) = (app.admin(&format!("ann{round}")).await, app.admin(&format!("bob{round}")).await);
        let demote = json!({"role": "user"});
        let (to_b, to_a) = (format!("/users/{}", b.user_id), format!("/users/{}", a.user_id));
        let (ab, ba) = if round % 2 == 0 {
            tokio::join!(
                app.call("PATCH", &to_b, Some(&a.access), Some(demote.clone())),
                app.call("PATCH", &to_a, Some(&b.access), Some(demote.clone())),
            )
        } else {
            tokio::join!(
                app.call("DELETE", &to_b, Some(&a.access), None),
                app.call("DELETE", &to_a, Some(&b.access), None)
            )
        };
        let won = [&ab, &ba].iter().filter(|r| r.status.is_success()).count();
        assert_eq!(won, 1, "round {round}: exactly one wins: {} / {}", ab.body, ba.body);
        let admins: Vec<_> = app
            .items()
            .await
            .into_iter()
            .filter(|i| {
                i.get("entity").and_then(|e| e.as_s().ok()).is_some_and(|e| e == "User")
                    && i.get("role").and_then(|r| r.as_s().ok()).is_some_and(|r| r == "admin")
                    && i.get("is_active").and_then(|a| a.as_bool().ok()).copied() == Some(true)
            })
            .collect();
        assert!(!admins.is_empty(), "round {round}: no active admin left");
        assert_eq!(admins.len(), 2 - won, "round {round}: the answers tell what happened");
    }
}

/// Deleting an account that holds more than one request can remove: the account ends at once
/// (tokens dead, name free), what is left is swept by the dispatcher's next runs, and nothing
/// of it remains afterwards.
#[tokio::test]
async fn a_deletion_cut_short_by_its_deadline_is_finished_by_the_dispatcher() {
    let app = TestApp::spawn().await;
    app.register("stayer").await;
    let before = app.items().await;
    let s = app.register("bigleaver").await;
    let user = app.state.db.get_user(&s.user_id, true).await.unwrap().unwrap();
    for _ in 0..250 {
        shared::session::start(&app.state, &user).await.unwrap();
    }
    app.state.db.delete_user(&user).await.unwrap();
    // The request's time is up before any sweeping: the account is gone, its items are not.
    assert!(!app.state.db.sweep_user(&s.user_id, Some(tokio::time::Instant::now())).await.unwrap());
    app.get("/me", &s.access).await.problem(401);
    assert!(app.items().await.len() > before.len() + 250);
    let event = json!({"source": "aws.events", "detail-type": "Scheduled Event", "id": "sweep"});
    let report =
        dispatcher::handle_event(&app.dispatcher, &Default::default(), &event, chrono::Utc::now(), None).await.unwrap();
    assert_eq!((report.accounts_swept, report.accounts_left), (1, 0));
    assert_eq!(app.items().await, before, "nothing of the account remains");
    app.register("bigleaver").await; // the name is free
}

/// The users' index partition is split in shards (`keys::users_gsi1pk`); a listing merges them.
/// Paged one, two or three at a time, with or without a filter, it gives the same users in the
/// same order as one page does, each once.
#[tokio::test]
async fn a_listing_merged_from_shards_pages_in_one_order() {
    let (app, admin, _) = setup_admin().await;
    let mut ids = Vec::new();
    for i in 0..9 {
        ids.push(app.register(&format!("sharded{i}")).await.user_id);
    }
    for id in &ids[..3] {
        let r =
            app.call("PATCH", &format!("/users/{id}"), Some(&admin.access), Some(json!({"is_active": false}))).await;
        assert_eq!(r.status, 200);
    }
    let names = |r: &habit_tests::Response| -> Vec<String> {
        r.body["items"].as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap().to_owned()).collect()
    };
    for filter in ["", "is_active=false&", "is_active=true&", "role=user&"] {
        let whole = names(&app.get(&format!("/users?{filter}limit=100"), &admin.access).await);
        assert!(whole.len() >= 3, "{filter}: {whole:?}");
        for limit in 1..=3 {
            let (mut seen, mut cursor) = (Vec::new(), None::<String>);
            loop {
                let c = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
                let page = app.get(&format!("/users?{filter}limit={limit}{c}"), &admin.access).await;
                assert_eq!(page.status, 200, "{}", page.body);
                let items = names(&page);
                assert!(items.len() <= limit);
                seen.extend(items);
                match page.body["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            assert_eq!(seen, whole, "{filter}limit={limit}");
        }
    }
}
