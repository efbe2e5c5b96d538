//! `functions/categories` against DynamoDB Local: the admin-managed catalogue.

use habit_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn admins_manage_categories_users_read_them() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let user = app.register("reader").await;
    let r = app
        .call("POST", "/categories", Some(&admin.access), Some(json!({"name": " Health ", "description": "body"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["name"], "Health");
    let id = r.body["category_id"].as_str().unwrap().to_owned();
    for name in ["mind", "Art", "Zen"] {
        app.call("POST", "/categories", Some(&admin.access), Some(json!({ "name": name }))).await;
    }
    // Everyone signed in reads, ordered by name (case-insensitive), paginated.
    let page = app.get("/categories?limit=3", &user.access).await;
    let names: Vec<&str> = page.body["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Art", "Health", "mind"]);
    let rest = app
        .get(&format!("/categories?limit=3&cursor={}", page.body["next_cursor"].as_str().unwrap()), &user.access)
        .await;
    assert_eq!(rest.body["items"][0]["name"], "Zen");
    assert_eq!(app.get(&format!("/categories/{id}"), &user.access).await.body["description"], "body");
    app.call("GET", "/categories", None, None).await.problem(401);
    // Rename and re-describe.
    let r = app
        .call(
            "PATCH",
            &format!("/categories/{id}"),
            Some(&admin.access),
            Some(json!({"name": "Fitness", "description": null})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "Fitness");
    assert!(r.body.get("description").is_none());
    // The old name is free again, the new one is taken.
    assert_eq!(app.call("POST", "/categories", Some(&admin.access), Some(json!({"name": "health"}))).await.status, 201);
    let dup = app.call("POST", "/categories", Some(&admin.access), Some(json!({"name": "FITNESS"}))).await;
    assert_eq!(dup.problem(409)["errors"][0]["field"], "name");
    let clash =
        app.call("PATCH", &format!("/categories/{id}"), Some(&admin.access), Some(json!({"name": "ART"}))).await;
    assert_eq!(clash.problem(409)["errors"][0]["field"], "name");
    assert_eq!(app.count("CategoryNameGuard").await, app.count("Category").await);
}

#[tokio::test]
async fn users_get_403_on_admin_category_routes_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let user = app.register("someone").await;
    let id = app.call("POST", "/categories", Some(&admin.access), Some(json!({"name": "Health"}))).await.body
        ["category_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = app.items().await;
    app.call("POST", "/categories", Some(&user.access), Some(json!({"name": "Mine"}))).await.problem(403);
    app.call("PATCH", &format!("/categories/{id}"), Some(&user.access), Some(json!({"name": "Mine"})))
        .await
        .problem(403);
    app.call("DELETE", &format!("/categories/{id}"), Some(&user.access), None).await.problem(403);
    app.get(&format!("/categories/{id}/habits"), &user.access).await.problem(403);
    assert_eq!(app.items().await, before);
}

#[tokio::test]
async fn category_validation_and_missing_ids() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let before = app.items().await;
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(51)}), "name"),
        (json!({"name": "ok", "description": "d".repeat(501)}), "description"),
        (json!({"name": "ok", "category_id": "x"}), "category_id"),
        (json!({}), "name"),
    ] {
        app.call("POST", "/categories", Some(&admin.access), Some(body)).await.names_field(field);
    }
    assert_eq!(app.items().await, before);
    let missing = ulid::Ulid::new().to_string();
    app.get(&format!("/categories/{missing}"), &admin.access).await.problem(404);
    app.get("/categories/not-an-id", &admin.access).await.problem(404);
    app.call("PATCH", &format!("/categories/{missing}"), Some(&admin.access), Some(json!({"name": "x"})))
        .await
        .problem(404);
    app.call("DELETE", &format!("/categories/{missing}"), Some(&admin.access), None).await.problem(404);
    app.get(&format!("/categories/{missing}/habits"), &admin.access).await.problem(404);
    app.get("/categories?limit=500", &admin.access).await.names_field("limit");
}

#[tokio::test]
async fn deleting_a_category_removes_its_links_but_not_the_habits() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let user = app.register("linker").await;
    let id = app.call("POST", "/categories", Some(&admin.access), Some(json!({"name": "Health"}))).await.body
        ["category_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..30 {
        let h = app
            .call(
                "POST",
                "/habits",
                Some(&user.access),
                Some(json!({"title": format!("h{i}"), "frequency": {"type": "daily"}})),
            )
            .await;
        let hid = h.body["habit_id"].as_str().unwrap();
        assert_eq!(
            app.call("PUT", &format!("/habits/{hid}/categories/{id}"), Some(&user.access), None).await.status,
            204
        );
    }
    assert_eq!(app.count("HabitCategory").await, 30);
    assert_eq!(app.call("DELETE", &format!("/categories/{id}"), Some(&admin.access), None).await.status, 204);
    assert_eq!(app.count("HabitCategory").await, 0);
    assert_eq!(app.count("Category").await, 0);
    assert_eq!(app.count("CategoryNameGuard").await, 0);
    assert_eq!(app.count("Habit").await, 30);
    app.get(&format!("/categories/{id}"), &admin.access).await.problem(404);
    // The name can be used again.
    assert_eq!(app.call("POST", "/categories", Some(&admin.access), Some(json!({"name": "health"}))).await.status, 201);
}

#[tokio::test]
async fn an_interrupted_delete_can_be_resumed_and_blocks_new_links_meanwhile() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let user = app.register("resumer").await;
    let id = app.call("POST", "/categories", Some(&admin.access), Some(json!({"name": "Sleep"}))).await.body
        ["category_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let h = app
        .call(
            "POST",
            "/habits",
            Some(&user.access),
            Some(json!({"title": "Bed by 11", "frequency": {"type": "daily"}})),
        )
        .await;
    let hid = h.body["habit_id"].as_str().unwrap().to_owned();
    assert_eq!(app.call("PUT", &format!("/habits/{hid}/categories/{id}"), Some(&user.access), None).await.status, 204);
    // As if a delete had stopped right after marking the category.
    let key = shared::keys::category(&id);
    app.client
        .update_item()
        .table_name(&app.table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(key.pk))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(key.sk))
        .update_expression("SET #st = :d")
        .expression_attribute_names("#st", "status")
        .expression_attribute_values(":d", aws_sdk_dynamodb::types::AttributeValue::S("deleting".into()))
        .send()
        .await
        .unwrap();
    app.get(&format!("/categories/{id}"), &user.access).await.problem(404);
    let other = app
        .call("POST", "/habits", Some(&user.access), Some(json!({"title": "Nap", "frequency": {"type": "daily"}})))
        .await;
    let other = other.body["habit_id"].as_str().unwrap().to_owned();
    app.call("PUT", &format!("/habits/{other}/categories/{id}"), Some(&user.access), None).await.problem(404);
    assert!(app.get(&format!("/habits/{hid}"), &user.access).await.body["categories"].as_array().unwrap().is_empty());
    assert_eq!(app.call("DELETE", &format!("/categories/{id}"), Some(&admin.access), None).await.status, 204);
    assert_eq!(app.count("HabitCategory").await, 0);
    assert_eq!(app.count("Category").await, 0);
    assert_eq!(app.count("CategoryNameGuard").await, 0);
}
