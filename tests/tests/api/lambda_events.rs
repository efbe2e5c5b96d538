//! Lambda integration: every sample event in `events/` is parsed exactly as Lambda delivers it
//! (`lambda_http`'s own deserializer) and handled by the function its `routeKey` routes to.

use habit_tests::TestApp;
use serde_json::Value;

fn events() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "sample events are missing");
    files
}

#[tokio::test]
async fn every_sample_event_is_parsed_and_handled() {
    let app = TestApp::spawn().await;
    let admin = app.admin("eventadmin").await;
    let mut user: Option<habit_tests::Session> = None;
    // Events that create what others refer to go first: the user, a category, a habit.
    let mut files = events();
    let rank = |name: &str| {
        ["auth-register", "categories-create", "habits-create"].iter().position(|p| name.starts_with(p)).unwrap_or(9)
    };
    files.sort_by_key(|(name, _)| rank(name));
    let (mut habit_id, mut category_id, mut challenge_id) = (String::new(), String::new(), String::new());
    let today = chrono::Utc::now().date_naive().to_string();
    for (name, raw) in files {
        let mut raw = raw
            .replace("{{admin_access_token}}", &admin.access)
            .replace("{{habit_id}}", &habit_id)
            .replace("{{category_id}}", &category_id)
            .replace("{{challenge_id}}", &challenge_id)
            .replace("{{today}}", &today);
        if let Some(u) = &user {
            raw = raw.replace("{{access_token}}", &u.access).replace("{{user_id}}", &u.user_id);
        }
        let event: Value = serde_json::from_str(&raw).unwrap();
        if event.get("routeKey").is_none() {
            continue; // not an HTTP event: see tests/tests/api/dispatcher.rs
        }
        let route_key = event["routeKey"].as_str().unwrap().to_owned();
        // Every path is one `ANY` route to the function serving it (infra/template.yaml).
        let (any, route) = route_key.split_once(' ').unwrap();
        assert_eq!(any, "ANY", "{name}: routeKey");
        let function = app
            .functions
            .iter()
            .find(|f| f.routes.iter().any(|r| r.path == route))
            .unwrap_or_else(|| panic!("{name}: no function serves {route_key}"));
        let request =
            lambda_http::request::from_str(&raw).unwrap_or_else(|e| panic!("{name}: not a Lambda HTTP event: {e}"));
        let request = request.map(|body| axum::body::Body::from(body.to_vec()));
        let response = tower::ServiceExt::oneshot(function.router.clone(), request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert!(status.is_success(), "{name} via {}: {status} {}", function.name, String::from_utf8_lossy(&bytes));
        if name.starts_with("auth-register") {
            user = Some(habit_tests::session_of(&serde_json::from_slice(&bytes).unwrap()));
        }
        if name.starts_with("habits-create") {
            habit_id = serde_json::from_slice::<Value>(&bytes).unwrap()["habit_id"].as_str().unwrap().to_owned();
        }
        if name.starts_with("challenges-create") {
            challenge_id =
                serde_json::from_slice::<Value>(&bytes).unwrap()["challenge_id"].as_str().unwrap().to_owned();
        }
        if name.starts_with("challenges-leaderboard") {
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body["items"][0]["username"], "eventuser", "the joined user is ranked: {body}");
        }
        if name.starts_with("categories-create") {
            category_id = serde_json::from_slice::<Value>(&bytes).unwrap()["category_id"].as_str().unwrap().to_owned();
        }
        if name.starts_with("habits-stats") {
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body["current_streak"], 1, "the entry event was recorded: {body}");
        }
        if name.starts_with("users-get-by-id") {
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body["username"], "eventuser", "path parameter reached the handler");
        }
    }
}

/// Sends an API Gateway event (the `health.json` sample, changed by `edit`) to `function`'s router.
async fn deliver(app: &TestApp, function: &str, edit: impl FnOnce(&mut Value)) -> (u16, http::HeaderMap, Value) {
    let raw = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/health.json"))
        .unwrap();
    let mut event: Value = serde_json::from_str(&raw).unwrap();
    edit(&mut event);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let request = request.map(|body| axum::body::Body::from(body.to_vec()));
    let router = app.functions.iter().find(|f| f.name == function).unwrap().router.clone();
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (parts.status.as_u16(), parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn set_route(event: &mut Value, method: &str, path: &str, route_key: &str) {
    event["routeKey"] = route_key.into();
    event["requestContext"]["routeKey"] = route_key.into();
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["path"] = path.into();
    event["requestContext"]["http"]["method"] = method.into();
}

#[tokio::test]
async fn the_default_route_and_wrong_methods_answer_problem_json() {
    let app = TestApp::spawn().await;
    // `$default` (no route matched) goes to auth: a problem+json 404.
    let (status, headers, body) = deliver(&app, "auth", |e| set_route(e, "GET", "/no/such/path", "$default")).await;
    assert_eq!((status, &headers["content-type"]), (404, &"application/problem+json".parse().unwrap()));
    assert_eq!(body["status"], 404);
    // `ANY /habits` with a method /habits does not have: 405 naming the ones it has.
    let (status, headers, body) = deliver(&app, "habits", |e| set_route(e, "TRACE", "/habits", "ANY /habits")).await;
    assert_eq!(status, 405);
    let allow = headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST") && !allow.contains("PUT"), "{allow}");
    assert_eq!(body["status"], 405);
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_a_400() {
    // API Gateway delivers such a body base64-encoded; it must be refused cleanly, not panic.
    let app = TestApp::spawn().await;
    let (status, headers, body) = deliver(&app, "auth", |e| {
        set_route(e, "POST", "/auth/login", "ANY /auth/login");
        e["headers"]["content-type"] = "application/json".into();
        e["body"] = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0xf2u8, 0x38, 0x7b]).into();
        e["isBase64Encoded"] = true.into();
    })
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
}
