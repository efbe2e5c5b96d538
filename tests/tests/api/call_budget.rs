//! DynamoDB calls per endpoint, counted for real (an SDK interceptor on the functions' client),
//! against the budgets of docs/ACCESS_PATTERNS.md. A change that makes an endpoint cost more
//! round trips than its budget fails here.

use chrono::{Days, Utc};
use habit_tests::TestApp;
use serde_json::{json, Value};

/// Calls `method path` and returns the response body and the DynamoDB requests it cost.
async fn cost(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    status: u16,
) -> (Value, u64) {
    app.calls.take();
    let r = app.call(method, path, token, body).await;
    let calls = app.calls.take();
    assert_eq!(r.status.as_u16(), status, "{method} {path}: {}", r.body);
    (r.body, calls)
}

#[tokio::test]
async fn every_endpoint_stays_within_its_dynamodb_call_budget() {
    let app = TestApp::spawn().await;
    let admin = app.admin("budgetadmin").await;
    let mut report: Vec<(String, u64, u64)> = Vec::new();
    let mut check = |what: &str, calls: u64, budget: u64| {
        report.push((what.to_owned(), calls, budget));
    };
    let day = |d: u64| (Utc::now().date_naive() - Days::new(d)).to_string();

    let (reg, c) = cost(
        &app,
        "POST",
        "/auth/register",
        None,
        Some(json!({"username": "budget", "email": "budget@example.com", "password": habit_tests::PASSWORD})),
        201,
    )
    .await;
    // Names free (one BatchGetItem, before any hashing), then the user's transaction, which holds
    // the session too. Behind API Gateway one more: the source address's budget (none here
    // without a source).
    check("POST /auth/register", c, 2);
    let token = reg["access_token"].as_str().unwrap().to_owned();
    let t = Some(token.as_str());
    let (login, c) = cost(
        &app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"username": "budget", "password": habit_tests::PASSWORD})),
        200,
    )
    .await;
    // Guard and throttle (BatchGetItem); the user and the attempt's count (in parallel); the
    // session and the count's clearing (in parallel): 3 round trips. Behind API Gateway one
    // more call, in parallel: the source address's budget.
    check("POST /auth/login", c, 5);
    let (_, c) =
        cost(&app, "POST", "/auth/refresh", None, Some(json!({"refresh_token": login["refresh_token"]})), 200).await;
    check("POST /auth/refresh", c, 3);
    let (_, c) = cost(&app, "GET", "/health", None, None, 200).await;
    check("GET /health", c, 0);
    let (_, c) = cost(&app, "GET", "/openapi.json", None, None, 200).await;
    check("GET /openapi.json", c, 0);
    let (_, c) = cost(&app, "GET", "/time-zones", None, None, 200).await;
    check("GET /time-zones", c, 0);
    let (_, c) = cost(&app, "GET", "/no/such/route", None, None, 404).await;
    check("any other path ($default)", c, 0);
    let (_, c) = cost(&app, "GET", "/me", t, None, 200).await;
    check("GET /me", c, 1);
    let (_, c) = cost(&app, "PATCH", "/me", t, Some(json!({"phone": "+4930123456"})), 200).await;
    check("PATCH /me", c, 2);
    let (_, c) = cost(&app, "GET", "/me/profile", t, None, 200).await;
    check("GET /me/profile", c, 2);
    let (_, c) = cost(&app, "PATCH", "/me/profile", t, Some(json!({"bio": "hi"})), 200).await;
    check("PATCH /me/profile", c, 3);
    let (habit, c) = cost(
        &app,
        "POST",
        "/habits",
        t,
        Some(json!({"title": "Read", "frequency": {"type": "daily"}, "start_date": day(10)})),
        201,
    )
    .await;
    check("POST /habits", c, 2);
    let h = habit["habit_id"].as_str().unwrap().to_owned();
    let (_, c) = cost(&app, "GET", "/habits", t, None, 200).await;
    check("GET /habits", c, 2);
    let (_, c) = cost(&app, "GET", &format!("/habits/{h}"), t, None, 200).await;
    check("GET /habits/{id} (no categories)", c, 2);
    let (_, c) =
        cost(&app, "PUT", &format!("/habits/{h}/entries/{}", day(1)), t, Some(json!({"status": "done"})), 200).await;
    check("PUT /habits/{id}/entries/{date}", c, 5);
    let (_, c) = cost(&app, "GET", &format!("/habits/{h}/entries"), t, None, 200).await;
    check("GET /habits/{id}/entries", c, 3);
    let (_, c) = cost(&app, "GET", &format!("/habits/{h}/stats"), t, None, 200).await;
    check("GET /habits/{id}/stats", c, 2);
    let (_, c) = cost(&app, "GET", "/me/today", t, None, 200).await;
    check("GET /me/today", c, 2);
    let (r, c) = cost(
        &app,
        "POST",
        "/reminders",
        t,
        Some(json!({"habit_id": h, "reminder_time": "07:30", "repeat_days": ["mon"], "message": "m"})),
        201,
    )
    .await;
    check("POST /reminders", c, 3);
    let (_, c) = cost(&app, "GET", &format!("/reminders/{}", r["reminder_id"].as_str().unwrap()), t, None, 200).await;
    check("GET /reminders/{id}", c, 2);
    let (_, c) = cost(&app, "GET", "/me/notifications", t, None, 200).await;
    check("GET /me/notifications", c, 2);
    let a = Some(admin.access.as_str());
    let (cat, c) = cost(&app, "POST", "/categories", a, Some(json!({"name": "Mind"})), 201).await;
    check("POST /categories", c, 2);
    let (_, c) = cost(&app, "GET", "/categories", t, None, 200).await;
    check("GET /categories", c, 2);
    let (_, c) =
        cost(&app, "PUT", &format!("/habits/{h}/categories/{}", cat["category_id"].as_str().unwrap()), t, None, 204)
            .await;
    check("PUT /habits/{id}/categories/{category_id}", c, 3);
    let (_, c) = cost(&app, "GET", &format!("/habits/{h}"), t, None, 200).await;
    check("GET /habits/{id} (with categories)", c, 3);
    let (ch, c) = cost(
        &app,
        "POST",
        "/challenges",
        a,
        Some(json!({"challenge_name": "C", "start_date": day(5), "end_date": day(0)})),
        201,
    )
    .await;
    check("POST /challenges", c, 2);
    let cid = ch["challenge_id"].as_str().unwrap().to_owned();
    let (_, c) = cost(&app, "POST", &format!("/challenges/{cid}/join"), t, Some(json!({"habit_id": h})), 201).await;
    check("POST /challenges/{id}/join", c, 5);
    let (_, c) = cost(&app, "GET", &format!("/challenges/{cid}/leaderboard"), t, None, 200).await;
    // The caller ‖ the challenge, then the ranking's 16 shards (one Query each, in parallel: a
    // big challenge's writes spread over them), + the members' current usernames (BatchGetItem).
    check("GET /challenges/{id}/leaderboard", c, 2 + u64::from(shared::keys::INDEX_SHARDS) + 1);
    let (_, c) =
        cost(&app, "PUT", &format!("/habits/{h}/entries/{}", day(0)), t, Some(json!({"status": "done"})), 200).await;
    check("PUT /habits/{id}/entries/{date} (in a challenge)", c, 5);
    let (_, c) = cost(&app, "DELETE", &format!("/habits/{h}/entries/{}", day(0)), t, None, 204).await;
    // As a write: the habit, then the entry and the memberships (in parallel), then one transaction.
    check("DELETE /habits/{id}/entries/{date} (in a challenge)", c, 5);
    let (_, c) = cost(&app, "GET", "/users", a, None, 200).await;
    // The caller, then the 16 shards of the users' index partition (in parallel, merged).
    check("GET /users", c, 1 + u64::from(shared::keys::INDEX_SHARDS));
    let (_, c) =
        cost(&app, "POST", "/auth/logout", None, Some(json!({"refresh_token": reg["refresh_token"]})), 204).await;
    check("POST /auth/logout", c, 2);
    // Last: it revokes every token issued before.
    let body = json!({"current_password": habit_tests::PASSWORD, "new_password": "another long passphrase"});
    let (_, c) = cost(&app, "PUT", "/me/password", t, Some(body), 200).await;
    check("PUT /me/password", c, 5);

    println!("| endpoint | DynamoDB calls | budget |\n|---|---|---|");
    for (what, calls, budget) in &report {
        println!("| {what} | {calls} | {budget} |");
    }
    let over: Vec<_> = report.iter().filter(|(_, calls, budget)| calls > budget).collect();
    assert!(over.is_empty(), "over budget: {over:?}");
}
