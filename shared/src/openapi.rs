//! The OpenAPI 3.1 document of the whole API, assembled from every function's part (each part
//! comes from its handlers' `#[utoipa::path]` attributes through [`crate::routes!`]).
//!
//! Handlers declare their success responses, their bodies, parameters and security. The error
//! responses follow from that shape and are added here, so that they are complete and uniform:
//! every operation can answer 500 and 503; one with parameters or a body 400; one with a body 413
//! and 415; one with a bearer requirement 401; one that needs the `admin` role 403; one with path
//! parameters 404; one that writes 409. All of them are `application/problem+json` ([`Problem`]).

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
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name(Problem::name()))).build())
        .into()
}

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
        out.push(("404", "No such resource, or it is not the caller's."));
    }
    if matches!(method, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch | HttpMethod::Delete) {
        out.push(("409", "The change conflicts with the current state (uniqueness, a concurrent change)."));
    }
    if has_body {
        out.push(("413", "The request body is larger than 64 KiB."));
        out.push(("415", "The request body is not JSON."));
    }
    out.push(("500", "An internal error; the cause is logged, not returned."));
    out.push(("503", "A dependency is throttled or unavailable; retry after `Retry-After` seconds."));
    out
}

/// The whole API's document: every function's part, the problem schema, the bearer scheme and
/// the error responses of every operation.
pub fn document(parts: impl IntoIterator<Item = OpenApi>) -> OpenApi {
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
                op.responses.responses.entry(status.into()).or_insert_with(|| problem(description));
            }
        }
    }
    api
}
