//! Ids in paths (`shared::http::Id`): every id is a ULID, so a path id that is not one names
//! nothing. Every route with an id answers it with the problem+json 404 of what the id names,
//! before any read or body check, and writes nothing.

use habit_tests::{all_routes, TestApp};
use serde_json::json;

/// What the path parameter `param` of `path` names, as its 404 says.
fn noun(path: &str, param: &str) -> &'static str {
    match (param, path.split('/').nth(1), path.split('/').nth(2)) {
        ("category_id", ..) => "category",
        (_, Some("habits"), _) => "habit",
        (_, Some("categories"), _) => "category",
        (_, Some("challenges"), _) if path.ends_with("/membership") => "membership",
        (_, Some("challenges"), _) => "challenge",
        (_, Some("reminders"), _) => "reminder",
        (_, Some("me"), Some("notifications")) => "notification",
        (_, Some("me"), Some("webhooks")) => "webhook",
        (_, Some("me"), Some("push-subscriptions")) => "push subscription",
        (_, Some("users"), _) => "user",
        _ => panic!("{path}: which noun does {{{param}}} name? (add it here)"),
    }
}

#[tokio::test]
async fn a_path_id_that_is_not_a_ulid_is_the_404_of_what_it_names() {
    let app = TestApp::spawn().await;
    let admin = app.admin("ids_admin").await;
    // An existing habit of the caller's, for the routes whose other id is the one tried.
    let r = app
        .call("POST", "/habits", Some(&admin.access), Some(json!({"title": "Walk", "frequency": {"type": "daily"}})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let habit = r.body["habit_id"].as_str().unwrap().to_owned();
    let before = app.items().await;

    let mut checked = 0;
    for (_, route) in all_routes() {
        let params: Vec<&str> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .filter(|p| *p != "date")
            .collect();
        for tried in &params {
            // Too short, too long, not Crockford base 32: none can be an id.
            for bad in
                ["not-an-id", "01ARZ3NDEKTSV4RRFFQ69G5FA", "01ARZ3NDEKTSV4RRFFQ69G5FAVX", "01ARZ3NDEKTSV4RRFFQ69G5FAU"]
            {
                let mut path = route.path.replace(&format!("{{{tried}}}"), bad).replace("{date}", "2026-01-01");
                for other in params.iter().filter(|p| *p != tried) {
                    path = path.replace(&format!("{{{other}}}"), &habit);
                }
                let r = app.call(route.method, &path, Some(&admin.access), None).await;
                let problem = r.problem(404);
                assert_eq!(
                    problem["detail"],
                    format!("{} not found", noun(route.path, tried)),
                    "{} {path}",
                    route.method
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 * 25, "every route with an id is tried ({checked} requests)");
    assert!(app.items().await == before, "a request naming no id changed the table");
}

/// The id is checked before the body and before any read: a malformed id with a malformed body
/// is the id's 404, and in a path of two ids the malformed one is named even when the other
/// names nothing.
#[tokio::test]
async fn the_id_is_checked_before_the_body_and_before_any_read() {
    let app = TestApp::spawn().await;
    let s = app.register("ids_owner").await;
    let r = app.call("PATCH", "/habits/not-an-id", Some(&s.access), Some(json!({"title": 5}))).await;
    assert_eq!(r.problem(404)["detail"], "habit not found");
    let r = app.call("PATCH", "/me/notifications/not-an-id", Some(&s.access), Some(json!({"read": "yes"}))).await;
    assert_eq!(r.problem(404)["detail"], "notification not found");
    let nobody = ulid::Ulid::new().to_string();
    let r = app.call("PUT", &format!("/habits/{nobody}/categories/not-an-id"), Some(&s.access), None).await;
    assert_eq!(r.problem(404)["detail"], "category not found");
    let r = app.call("PUT", &format!("/habits/not-an-id/categories/{nobody}"), Some(&s.access), None).await;
    assert_eq!(r.problem(404)["detail"], "habit not found");
}
