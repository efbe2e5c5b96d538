//! The OpenAPI document: produced from the handlers' annotations, committed as
//! `docs/openapi.json`, served at `GET /openapi.json`, and complete (every route, every error
//! response as problem+json, security on every route that needs a token).

use habit_tests::{all_routes, openapi_document, openapi_path, TestApp};
use serde_json::Value;
use std::collections::BTreeSet;

fn generated() -> Value {
    openapi_document()
}

#[test]
fn committed_document_is_current() {
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(openapi_path()).unwrap()).unwrap();
    assert!(
        committed == generated(),
        "docs/openapi.json is out of date: run `make openapi` (cargo run -p habit-tests --bin openapi) and commit it"
    );
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.to_uppercase(), path.clone(), op));
        }
    }
    out
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let doc = generated();
    assert_eq!(doc["openapi"].as_str().unwrap().get(..3), Some("3.1"));
    let documented: BTreeSet<(String, String)> = operations(&doc).into_iter().map(|(m, p, _)| (m, p)).collect();
    let code: BTreeSet<(String, String)> =
        all_routes().into_iter().map(|(_, r)| (r.method.to_owned(), r.path.to_owned())).collect();
    assert_eq!(documented, code);
    assert!(code.len() > 40, "expected every route, found {}", code.len());
}

#[test]
fn every_operation_is_complete() {
    let doc = generated();
    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let name = format!("{method} {path}");
        assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()), "{name}: duplicate operationId");
        assert!(op["summary"].is_string(), "{name}: no summary");
        assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{name}: no tag");
        let responses = op["responses"].as_object().unwrap();
        assert!(responses.keys().any(|s| s.starts_with('2')), "{name}: no success response");
        for (status, r) in responses.iter().filter(|(s, _)| !s.starts_with('2')) {
            let schema = &r["content"]["application/problem+json"]["schema"]["$ref"];
            assert_eq!(schema, "#/components/schemas/Problem", "{name} {status}: not problem+json");
        }
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        assert!(!secured || responses.contains_key("401"), "{name}: a token is required but 401 is not documented");
        for param in op["parameters"].as_array().into_iter().flatten() {
            assert!(param["schema"].is_object(), "{name}: parameter without a schema");
        }
        let path_params: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let in_path: BTreeSet<&str> =
            path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        assert_eq!(path_params, in_path, "{name}: path parameters");
    }
    // Every $ref names a schema that exists.
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "missing schema {name}");
    }
}

#[tokio::test]
async fn the_api_serves_the_committed_document() {
    let app = TestApp::spawn().await;
    let r = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.body, generated());
}
