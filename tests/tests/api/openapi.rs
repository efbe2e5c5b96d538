//! The OpenAPI document: produced from the handlers' annotations, committed as
//! `docs/openapi.json`, served at `GET /openapi.json`, and complete (every route, every error
//! response as problem+json, security on every route that needs a token).

use habit_tests::{all_routes, openapi_document, openapi_path, TestApp};
use serde_json::{json, Value};
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

#[tokio::test]
async fn the_time_zones_listed_are_those_accepted_and_of_the_documented_form() {
    let app = TestApp::spawn().await;
    let r = app.call("GET", "/time-zones", None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["cache-control"], "public, max-age=86400");
    assert_eq!(r.body["version"], chrono_tz::IANA_TZDB_VERSION);
    let listed: Vec<&str> = r.body["time_zones"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let mut database: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    database.sort_unstable();
    assert_eq!(listed, database, "every name of the tz database, sorted");
    // The document states the names' form: every listed name has it, so a client that checks
    // the pattern never refuses one the API takes.
    let doc = generated();
    let schema = &doc["components"]["schemas"]["TimeZone"];
    let pattern = regex_lite::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
    let max = schema["maxLength"].as_u64().unwrap() as usize;
    for name in &listed {
        assert!(pattern.is_match(name) && name.len() <= max, "{name} is not of the documented form");
    }
    // A listed name is taken; one of the right form that is not listed is a 400 naming the field.
    let s = app.register("zoned").await;
    let put = |tz: &str| json!({"time_zone": tz});
    let r = app.call("PATCH", "/me/profile", Some(&s.access), Some(put("America/Argentina/Buenos_Aires"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["time_zone"], "America/Argentina/Buenos_Aires");
    assert!(pattern.is_match("Mars/Olympus"));
    app.call("PATCH", "/me/profile", Some(&s.access), Some(put("Mars/Olympus"))).await.names_field("time_zone");
}

/// Servers: `make dev`'s address and the deployed stack's `ApiUrl` output, as the document
/// gives them to clients.
#[test]
fn the_servers_are_where_the_api_is_served() {
    let doc = generated();
    let servers = doc["servers"].as_array().unwrap();
    let local = format!("http://localhost:{}", shared::openapi::LOCAL_PORT);
    assert_eq!(servers[0]["url"], local);
    let dev = std::fs::read_to_string(habit_tests::repo_root().join("scripts/dev.sh")).unwrap();
    assert!(dev.contains(&format!("--invoke-port \"${{PORT:-{}}}\"", shared::openapi::LOCAL_PORT)), "make dev's port");
    let template = habit_tests::template::template();
    let api_url = habit_tests::template::untag(&template["Outputs"]["ApiUrl"]["Value"]).as_str().unwrap().to_owned();
    let deployed = servers[1]["url"].as_str().unwrap();
    let as_template = deployed
        .replace("{api_id}", "${HttpApi}")
        .replace("{region}", "${AWS::Region}")
        .replace("amazonaws.com", "${AWS::URLSuffix}");
    assert_eq!(as_template, api_url, "the deployed server is the template's ApiUrl");
    for variable in ["api_id", "region"] {
        assert!(servers[1]["variables"][variable]["default"].is_string(), "{variable} has a default");
    }
}

/// What code generators need to name things well (README, "Generated clients"; `make test`
/// generates four clients and fails on their warnings): no schema copied inline where one of
/// the same shape exists, `oneOf` variants that are schemas of their own, optional bodies that
/// are not `null`, and a schema for every answer.
#[test]
fn the_document_gives_generators_named_types() {
    let doc = generated();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for (name, schema) in schemas {
        // An object copied inline (not a `$ref`) elsewhere: a second class for one type. (Two
        // schemas may have one shape: the PUT and PATCH bodies of a profile.)
        if schema["type"] == "object" && schema["properties"].is_object() {
            let properties = schema["properties"].to_string();
            let named = schemas.values().filter(|s| s["properties"] == schema["properties"]).count();
            let copies = text.matches(&properties).count() - named;
            assert_eq!(copies, 0, "{name} is copied inline {copies} time(s): use a $ref");
        }
        for variant in schema["oneOf"].as_array().into_iter().flatten() {
            assert!(variant["$ref"].is_string(), "{name}: a oneOf variant without a name of its own");
        }
    }
    for (method, path, op) in operations(&doc) {
        let body = &op["requestBody"];
        for content in body["content"].as_object().into_iter().flat_map(|c| c.values()) {
            assert!(!content.to_string().contains(r#"{"type":"null"}"#), "{method} {path}: a body that may be null");
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            for content in response["content"].as_object().into_iter().flat_map(|c| c.values()) {
                let schema = &content["schema"];
                let named = schema["$ref"].is_string() || schema["properties"].is_object();
                assert!(named, "{method} {path} {status}: an answer without a described shape: {schema}");
            }
        }
    }
}
