//! The HTTP edge shared by every function: the route table macro and the finishing layers
//! (fallbacks, body limit) here; the extractors that answer bad input with problem+json naming the
//! field (bodies, queries, path ids) in `extract`; listings' pages in `paging`.

use crate::{error::ApiError, state::AppState};
use axum::{extract::DefaultBodyLimit, routing::MethodFilter, Router};

mod extract;
mod paging;

pub use extract::*;
pub use paging::*;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One route of a function: the method and the path exactly as API Gateway declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
}

/// Declares a function's routes once, from its handlers' `#[utoipa::path]` attributes (the one
/// place a route's method, path, parameters, bodies, responses and security are written). It
/// defines `ROUTES` (checked against the SAM template and the local router by the tests),
/// `routes()`, the axum router serving exactly those, `app(state)`, that router finished and
/// ready for `lambda_http::run` or a test's `oneshot`, and `openapi()`, this function's part of
/// the OpenAPI document.
///
/// ```text
/// #[utoipa::path(get, path = "/me", ...)]
/// async fn get_me(...) { ... }
///
/// shared::routes![get_me, patch_me];
/// ```
#[macro_export]
macro_rules! routes {
    ($( $handler:ident ),* $(,)?) => {
        $crate::__pastey::paste! {
            /// The function's router, ready for `lambda_http::run` or a test's `oneshot`.
            pub fn app(state: $crate::state::AppState) -> ::axum::Router {
                $crate::http::finish(routes(), state)
            }

            /// Every route this function serves: method and path as API Gateway declares them.
            pub static ROUTES: ::std::sync::LazyLock<Vec<$crate::http::Route>> = ::std::sync::LazyLock::new(|| {
                let mut table = Vec::new();
                $( table.extend($crate::http::routes_of::<[<__path_ $handler>]>()); )*
                table
            });

            fn routes() -> ::axum::Router<$crate::state::AppState> {
                let router = ::axum::Router::new();
                $( let router = $crate::http::route::<[<__path_ $handler>], _, _>(router, $handler); )*
                router
            }

            /// This function's operations and the schemas they use.
            pub fn openapi() -> ::utoipa::openapi::OpenApi {
                let mut schemas = Vec::new();
                let paths = ::utoipa::openapi::path::PathsBuilder::new();
                $( let paths = $crate::http::document::<[<__path_ $handler>]>(paths); )*
                let paths = paths.build();
                $( <[<__path_ $handler>] as ::utoipa::__dev::SchemaReferences>::schemas(&mut schemas); )*
                ::utoipa::openapi::OpenApiBuilder::new()
                    .paths(paths)
                    .components(Some(::utoipa::openapi::ComponentsBuilder::new().schemas_from_iter(schemas).build()))
                    .build()
            }
        }
    };
}

fn method_name(m: &utoipa::openapi::path::HttpMethod) -> &'static str {
    use utoipa::openapi::path::HttpMethod as M;
    match m {
        M::Get => "GET",
        M::Post => "POST",
        M::Put => "PUT",
        M::Delete => "DELETE",
        M::Options => "OPTIONS",
        M::Head => "HEAD",
        M::Patch => "PATCH",
        M::Trace => "TRACE",
    }
}

/// The routes a handler's `#[utoipa::path]` declares (used by [`routes!`]).
pub fn routes_of<P: utoipa::Path>() -> Vec<Route> {
    let path: &'static str = String::leak(P::path());
    P::methods().iter().map(|m| Route { method: method_name(m), path }).collect()
}

/// Adds a handler's operation, with the tags of its `#[utoipa::path]`, to a document's paths.
pub fn document<P>(paths: utoipa::openapi::path::PathsBuilder) -> utoipa::openapi::path::PathsBuilder
where
    P: utoipa::Path + for<'t> utoipa::__dev::Tags<'t>,
{
    let mut operation = P::operation();
    operation.tags = Some(P::tags().into_iter().map(str::to_owned).collect());
    let item = P::methods().into_iter().fold(None, |item: Option<utoipa::openapi::PathItem>, m| {
        let next = utoipa::openapi::PathItem::new(m, operation.clone());
        Some(match item {
            Some(mut item) => {
                item.merge_operations(next);
                item
            }
            None => next,
        })
    });
    match item {
        Some(item) => paths.path(P::path(), item),
        None => paths,
    }
}

/// Adds a handler to the router at the method(s) and path its `#[utoipa::path]` declares.
pub fn route<P, H, T>(router: Router<AppState>, handler: H) -> Router<AppState>
where
    P: utoipa::Path,
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    P::methods().iter().fold(router, |router, m| {
        // A method axum cannot route is a mistake in an attribute: it fails at start, in every test.
        let filter =
            MethodFilter::try_from(axum::http::Method::from_bytes(method_name(m).as_bytes()).expect("a method"))
                .unwrap_or_else(|e| panic!("{} {}: {e}", method_name(m), P::path()));
        router.route(&P::path(), axum::routing::on(filter, handler.clone()))
    })
}

/// Adds what every function's router needs: problem+json 404 and 405 (axum adds `Allow`), the
/// body limit, the state.
pub fn finish(router: Router<AppState>, state: AppState) -> Router {
    router
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
