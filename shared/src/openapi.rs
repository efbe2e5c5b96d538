//! The OpenAPI 3.1 document of the whole API, assembled from every function's part (each part
//! comes from its handlers' `#[utoipa::path]` attributes through [`crate::routes!`]).
//!
//! Handlers declare their success responses, their bodies, parameters and security. The error
//! responses follow from that shape and are added here, so that they are complete and uniform:
//! every operation can answer 500 and 503 (with `Retry-After`); one with parameters or a body 400;
//! one with a body 413 and 415; one with a bearer requirement 401; one that needs the `admin` role
//! 403; one with path parameters or a body that names another object (`*_id`) 404; a signed-in
//! write 409 (public writes declare their own). All of them
//! are `application/problem+json` ([`Problem`]).
//!
//! Conventions that hold across the API are also stated here, once, rather than on every field:
//! ids (`id`, `*_id`) are ULIDs, dates are ISO dates from 2000 (birth dates from 1900), a `date`
//! path segment is one, `time_zone` is one of the tz database's names, and `cursor` is opaque.
//! Creating a resource links (OpenAPI `links`) to the operations on it, so that clients and
//! stateful testers can follow the id it returns.

use crate::error::{FieldError, Problem, PROBLEM_JSON};
use utoipa::openapi::{
    path::{HttpMethod, Operation, ParameterIn},
    response::{Response, ResponseBuilder},
    security::{Http, HttpAuthScheme, SecurityScheme},
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr,
};
use utoipa::{PartialSchema, ToSchema};

/// The name of the bearer security scheme; its scope `admin` marks admin-only operations.
pub const BEARER: &str = "bearer";
/// The security requirement scope of admin-only operations.
pub const ADMIN_SCOPE: &str = "admin";

fn problem(description: &str) -> RefOr<Response> {
    problem_builder(description).into()
}

fn problem_builder(description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name(Problem::name()))).build())
}

/// A 503: problem+json with the seconds to wait in `Retry-After`.
fn unavailable(description: &str) -> RefOr<Response> {
    let seconds = utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Integer);
    let mut header = utoipa::openapi::header::Header::new(seconds);
    header.description = Some("Seconds to wait before retrying".into());
    problem_builder(description).header("Retry-After", header).into()
}

const NOT_FOUND: &str = "No such resource, or it is not the caller's.";

/// The error responses an operation can give, from its shape (see the module documentation).
fn error_responses(method: &HttpMethod, op: &Operation) -> Vec<(&'static str, &'static str)> {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_body = op.request_body.is_some();
    let security = op.security.as_deref().unwrap_or_default();
    let security = serde_json::to_value(security).unwrap_or_default();
    let secured = security.as_array().is_some_and(|reqs| reqs.iter().any(|r| r.get(BEARER).is_some()));
    let admin = security.as_array().is_some_and(|reqs| {
        reqs.iter().any(|r| r[BEARER].as_array().is_some_and(|scopes| scopes.iter().any(|s| s == ADMIN_SCOPE)))
    });
    let mut out = Vec::new();
    if has_body || !params.is_empty() {
        out.push(("400", "The request is malformed or breaks a rule; `errors` names the fields."));
    }
    if secured {
        out.push(("401", "The bearer token is missing, malformed, expired or revoked."));
    }
    if admin {
        out.push(("403", "The caller is not an admin."));
    }
    if params.iter().any(|p| p.parameter_in == ParameterIn::Path) {
        out.push(("404", NOT_FOUND));
    }
    // Public writes (the auth endpoints) declare their own: refresh and logout answer 401 instead.
    if secured && matches!(method, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch | HttpMethod::Delete) {
        out.push(("409", "The change conflicts with the current state (uniqueness, a concurrent change)."));
    }
    if params.iter().any(|p| p.name == "Idempotency-Key") {
        out.push(("422", "The `Idempotency-Key` was used before for a different request."));
    }
    if has_body {
        out.push(("413", "The request body is larger than 64 KiB."));
        out.push(("415", "The request body is not JSON."));
    }
    out.push(("500", "An internal error; the cause is logged, not returned."));
    out.push(("503", "A dependency is throttled or unavailable; retry after `Retry-After` seconds."));
    out
}

/// Dates from 2000-01-01 on (birth dates from 1900-01-01): the year is what a pattern can say.
const DATE_FROM_2000: &str = "^(2[0-9]{3}|[3-9][0-9]{3})-[0-9]{2}-[0-9]{2}$";
const DATE_FROM_1900: &str = "^(19[0-9]{2}|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}$";

/// A ULID, as every id of the API is.
pub const ULID_PATTERN: &str = "^[0-9A-HJKMNP-TV-Z]{26}$";

/// The whole API's document: every function's part, the problem schema, the bearer scheme, the
/// error responses of every operation and the API-wide conventions, as JSON.
pub fn document(parts: impl IntoIterator<Item = OpenApi>) -> serde_json::Value {
    let mut doc = serde_json::to_value(typed_document(parts)).expect("the document serializes");
    doc["servers"] = servers();
    conventions(&mut doc);
    doc
}

fn is_id(name: &str) -> bool {
    name == "id" || name.ends_with("_id")
}

/// Whether a JSON schema is a string (possibly nullable) with nothing more said of it.
fn plain_string(schema: &serde_json::Value) -> bool {
    let t = &schema["type"];
    (t == "string" || t.as_array().is_some_and(|t| t.contains(&"string".into())))
        && schema.get("pattern").is_none()
        && schema.get("enum").is_none()
}

/// The schema a `$ref` names (among `schemas`), or the schema itself.
fn resolve<'a>(schemas: &'a serde_json::Value, schema: &'a serde_json::Value) -> &'a serde_json::Value {
    schema["$ref"].as_str().map_or(schema, |r| &schemas[r.rsplit('/').next().unwrap_or_default()])
}

fn nullable(schema: &serde_json::Value) -> bool {
    schema["type"].as_array().is_some_and(|t| t.contains(&"null".into()))
}

/// Applies the conventions of the module documentation to every parameter and property.
fn conventions(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    fn property(name: &str, schema: &mut Value) {
        if !plain_string(schema) {
            return;
        }
        if schema["format"] == "date" {
            schema["pattern"] = if name == "dob" { DATE_FROM_1900 } else { DATE_FROM_2000 }.into();
        } else if is_id(name) {
            schema["pattern"] = ULID_PATTERN.into();
        } else if name == "time_zone" {
            let tz = json!({"$ref": "#/components/schemas/TimeZone"});
            let description = schema.get("description").cloned();
            *schema = if nullable(schema) { json!({"oneOf": [tz, {"type": "null"}]}) } else { tz };
            if let Some(d) = description {
                schema["description"] = d;
            }
        }
    }
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if let Some(Value::Object(props)) = map.get_mut("properties") {
                    for (name, schema) in props.iter_mut() {
                        property(name, schema);
                    }
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut doc["components"]);
    walk(&mut doc["paths"]);
    let schemas = doc["components"]["schemas"].clone();
    let not_found = serde_json::to_value(problem(NOT_FOUND)).expect("serializes");
    for item in doc["paths"].as_object_mut().into_iter().flat_map(|p| p.values_mut()) {
        for op in item.as_object_mut().into_iter().flat_map(|i| i.values_mut()) {
            // A body that names another object (`habit_id`) may name one that does not exist.
            let body = resolve(&schemas, &op["requestBody"]["content"]["application/json"]["schema"]);
            let body = resolve(&schemas, if body["oneOf"].is_array() { &body["oneOf"][0] } else { body });
            if body["properties"].as_object().is_some_and(|p| p.keys().any(|k| is_id(k))) {
                op["responses"].as_object_mut().expect("responses").entry("404").or_insert(not_found.clone());
            }
            for param in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                let name = param["name"].as_str().unwrap_or_default().to_owned();
                if param["in"] == "path" && name == "date" {
                    param["schema"]["format"] = "date".into();
                }
                if name == "cursor" {
                    param["description"] =
                        "Opaque: the `next_cursor` of the previous page, exactly as returned (it is signed).".into();
                }
                property(&name, &mut param["schema"]);
            }
        }
    }
    // Endpoints the API sends to (webhooks, push services): the form `check_url` takes.
    let endpoints = [
        ("CreateWebhook", "url"),
        ("PatchWebhook", "url"),
        ("WebhookView", "url"),
        ("CreatePushSubscription", "endpoint"),
        ("SubscriptionView", "endpoint"),
    ];
    for (schema, property) in endpoints {
        let p = &mut doc["components"]["schemas"][schema]["properties"][property];
        assert!(p.is_object(), "{schema}.{property} is documented");
        p["pattern"] = crate::webhooks::URL_PATTERN.into();
        p["format"] = "uri".into();
    }
    links(doc);
    // A name, not an enum of the 597 names: the tz database changes (a client generated before a
    // zone was added would fail to read a profile naming it), and names such as `Etc/GMT+1` and
    // `Etc/GMT-1` make no identifiers. `GET /time-zones` lists the names for pickers.
    use crate::domain::TimeZone;
    doc["components"]["schemas"]["TimeZone"] = json!({
        "type": "string",
        "description": "A time zone name of the IANA tz database, as browsers report it \
            (`Intl.DateTimeFormat().resolvedOptions().timeZone`). `GET /time-zones` lists the names \
            this API accepts; another name is a 400.",
        "pattern": TimeZone::PATTERN,
        "maxLength": TimeZone::MAX_LEN,
        "examples": ["Europe/Berlin"],
    });
    for_clients(doc);
}

/// Shapes that code generators name well (`make test` generates four clients from the document
/// and fails on a warning about it):
/// - a page's items are a `$ref` to the item's schema (the generic `PageBody<T>` inlines `T`,
///   which gives every client a copy of each item class);
/// - the variants of a `oneOf` are schemas of their own, named by their `title`, with a
///   `discriminator` when a property (a serde tag) tells them apart;
/// - an optional request body is `required: false` with the body's schema, not `oneOf` with
///   `null` (clients send no body, not `null`).
fn for_clients(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let schemas = doc["components"]["schemas"].as_object_mut().expect("schemas");
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in &names {
        let Some(item) = name.strip_prefix("PageBody_") else { continue };
        let inline = &schemas[name]["properties"]["items"]["items"];
        assert!(
            schemas.get(item) == Some(inline),
            "{name}'s items are not the {item} schema: a page lists its item type as it is"
        );
        schemas[name]["properties"]["items"]["items"] = json!({"$ref": format!("#/components/schemas/{item}")});
    }
    for name in &names {
        let Some(variants) = schemas[name]["oneOf"].as_array().cloned() else { continue };
        if !variants.iter().all(|v| v["title"].is_string()) {
            continue;
        }
        // The property every variant fixes to one value of its own (a serde tag), if any.
        let tag = variants[0]["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .find(|k| variants.iter().all(|v| v["properties"][k]["enum"].as_array().is_some_and(|e| e.len() == 1)));
        let mut refs = Vec::new();
        let mut mapping = serde_json::Map::new();
        for variant in variants {
            let title = variant["title"].as_str().expect("a title").to_owned();
            assert!(!schemas.contains_key(&title), "{name}: the variant title {title} names another schema");
            let reference = format!("#/components/schemas/{title}");
            if let Some(tag) = &tag {
                mapping.insert(
                    variant["properties"][tag]["enum"][0].as_str().expect("a string tag").into(),
                    reference.clone().into(),
                );
            }
            refs.push(json!({"$ref": reference}));
            schemas.insert(title, variant);
        }
        schemas[name]["oneOf"] = Value::Array(refs);
        if let Some(tag) = tag {
            schemas[name]["discriminator"] = json!({"propertyName": tag, "mapping": mapping});
        }
    }
    for op in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
        .flat_map(|i| i.as_object_mut())
        .flat_map(|i| i.values_mut())
    {
        let Some(body) = op.get_mut("requestBody") else { continue };
        let mut optional = false;
        for content in body["content"].as_object_mut().into_iter().flat_map(|c| c.values_mut()) {
            let null = json!({"type": "null"});
            let schema = &mut content["schema"];
            let other = match schema["oneOf"].as_array().map(Vec::as_slice) {
                Some([a, b]) if *a == null => b.clone(),
                Some([a, b]) if *b == null => a.clone(),
                _ => continue,
            };
            *schema = other;
            optional = true;
        }
        if optional {
            body["required"] = false.into();
        }
    }
}

/// Where the API is served: locally by `make dev`, and by a deployed stack (the template's
/// `ApiUrl` output; `tests/tests/api/openapi.rs` checks both against the Makefile and template).
fn servers() -> serde_json::Value {
    serde_json::json!([
        {"url": format!("http://localhost:{LOCAL_PORT}"), "description": "Local: `make dev` (cargo lambda watch)"},
        {
            "url": "https://{api_id}.execute-api.{region}.amazonaws.com",
            "description": "A deployed stack: its `ApiUrl` output",
            "variables": {
                "api_id": {"default": "your-api-id", "description": "The stack's HTTP API id"},
                "region": {"default": "us-east-1", "description": "The stack's AWS region"},
            },
        },
    ])
}

/// The port `make dev` serves the API on.
pub const LOCAL_PORT: u16 = 9000;

/// Adds `links` from every creating operation (`POST` answering 201) to the operations on what
/// it created: from `POST /habits` (its body's `habit_id`) to the `/habits/{id}...` operations,
/// and from `POST /challenges/{id}/join` (its path's `id`) to the other `/challenges/{id}...`.
fn links(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let schemas = doc["components"]["schemas"].clone();
    let ops: Vec<(String, String, String)> = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            item.as_object().into_iter().flatten().map(move |(method, op)| {
                (path.clone(), method.clone(), op["operationId"].as_str().unwrap_or_default().to_owned())
            })
        })
        .collect();
    for (path, method, _) in &ops {
        let created = &doc["paths"][path][method]["responses"]["201"];
        if method != "post" || created.is_null() {
            continue;
        }
        // Creating an item links to the item and to reads and creations below it; what changes or
        // removes a sub-resource (leaving a challenge) needs that sub-resource made first (joining).
        let (item, id, below) = if let Some(collection) = path.strip_suffix("/{id}/join").map(str::to_owned) {
            (format!("{collection}/{{id}}"), "$request.path.id".to_owned(), &["get", "post", "delete"][..])
        } else {
            let body = resolve(&schemas, &created["content"]["application/json"]["schema"]);
            let last = path.rsplit('/').next().unwrap_or_default();
            // Flattened views are `allOf` parts: their properties count too.
            let parts = std::iter::once(body).chain(body["allOf"].as_array().into_iter().flatten());
            let properties = parts.flat_map(|part| part["properties"].as_object().into_iter().flatten());
            let Some(field) = properties.map(|(k, _)| k).find(|k| {
                k.strip_suffix("_id").is_some_and(|s| {
                    last == format!("{s}s") || Some(last) == s.strip_suffix('y').map(|s| format!("{s}ies")).as_deref()
                })
            }) else {
                continue;
            };
            (format!("{path}/{{id}}"), format!("$response.body#/{field}"), &["get", "post"][..])
        };
        let links: serde_json::Map<String, Value> = ops
            .iter()
            .filter(|(p, m, _)| p == &item || (p.starts_with(&format!("{item}/")) && below.contains(&m.as_str())))
            .filter(|(p, m, _)| !(p == path && m == method))
            .filter(|(p, _, _)| p.matches('{').count() == 1)
            .map(|(_, _, op_id)| (op_id.clone(), json!({"operationId": op_id, "parameters": {"id": id}})))
            .collect();
        if !links.is_empty() {
            doc["paths"][path][method]["responses"]["201"]["links"] = Value::Object(links);
        }
    }
}

fn typed_document(parts: impl IntoIterator<Item = OpenApi>) -> OpenApi {
    let mut api = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Habit Tracker API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Habits, daily tracking, streaks, reminders and challenges. Errors are RFC 9457 \
                     `application/problem+json`. Operations whose bearer requirement lists the `admin` \
                     scope need the admin role.",
                ))
                .build(),
        )
        .build();
    for part in parts {
        // `merge` keeps the first of two schemas with one name: two different ones are a bug.
        if let (Some(have), Some(new)) = (&api.components, &part.components) {
            for (name, schema) in &new.schemas {
                if have.schemas.get(name).is_some_and(|s| s != schema) {
                    panic!("two different schemas are named {name}: rename one with #[schema(as = ...)]");
                }
            }
        }
        api.merge(part);
    }
    let components = api.components.get_or_insert_with(Default::default);
    components.schemas.insert(Problem::name().into(), Problem::schema());
    components.schemas.insert(FieldError::name().into(), FieldError::schema());
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.bearer_format = Some("JWT".into());
    components.security_schemes.insert(BEARER.into(), SecurityScheme::Http(bearer));
    for item in api.paths.paths.values_mut() {
        for (method, op) in [
            (HttpMethod::Get, &mut item.get),
            (HttpMethod::Post, &mut item.post),
            (HttpMethod::Put, &mut item.put),
            (HttpMethod::Patch, &mut item.patch),
            (HttpMethod::Delete, &mut item.delete),
        ] {
            let Some(op) = op else { continue };
            for (status, description) in error_responses(&method, op) {
                let response = if status == "503" { unavailable(description) } else { problem(description) };
                op.responses.responses.entry(status.into()).or_insert(response);
            }
        }
    }
    api
}
