//! Nubo's REST/JSON API (`nubod --api`, under [`BASE`]): the PaaS's stacks, apps, config
//! vars, formation and releases as resources, authenticated as Nubo users (HTTP Basic) and
//! authorized by the core's rules. Errors are RFC 9457 problem details; updates take
//! `If-Match` with the `ETag` they were read with (412 when it changed); creates take
//! `Idempotency-Key` ([`idempotency`]). The OpenAPI
//! document is generated from the handlers and their types ([`openapi`]), served at
//! `/api/v1/openapi.json` and checked in as `docs/openapi.json`.
//!
//! The front end translates, nothing more: every rule lives in `nubo-paas` or the core.

mod app_metrics;
mod apps;
mod auth;
mod autoscale;
mod builds;
mod deployments;
mod domains;
mod extract;
mod health;
mod idempotency;
mod job_log;
mod logs;
pub mod problem;
mod processes;
mod rollback;
mod router_api;
mod runs;
mod stacks;
mod upload;
pub mod views;
mod webhooks;

use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use nubo_paas::Paas;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Where the API lives.
pub const BASE: &str = "/api/v1";

/// The largest request body the API reads.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler gets.
#[derive(Debug, Clone)]
pub struct Api {
    paas: Paas,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Nubo API",
        description = "Nubo's PaaS: stacks, apps, builds, config vars, process formation and releases. Errors are RFC 9457 problem details. A POST with a JSON body and an `Idempotency-Key` header is carried out once: the same key again (same credentials, same body) gets the first answer back with `Idempotency-Replayed: true` for 24 hours; another body with it, 422; while the first is answered, 409.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/api/v1")),
    modifiers(&BasicAuth),
    security(("basic" = [])),
    tags(
        (name = "apps", description = "Applications"),
        (name = "builds", description = "Builds of apps from source"),
        (name = "stacks", description = "Base root filesystems apps build and run on"),
        (name = "router", description = "For routers run apart from nubod: the route table and the apps' logs"),
    ),
)]
struct ApiDoc;

/// Declares HTTP Basic as the API's security scheme.
struct BasicAuth;

impl utoipa::Modify for BasicAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(app_metrics::routes())
        .merge(apps::routes())
        .merge(autoscale::routes())
        .merge(builds::routes())
        .merge(logs::routes())
        .merge(deployments::routes())
        .merge(domains::routes())
        .merge(health::routes())
        .merge(processes::routes())
        .merge(rollback::routes())
        .merge(router_api::routes())
        .merge(runs::routes())
        .merge(stacks::routes())
        .merge(webhooks::routes())
}

/// The OpenAPI document of the API (paths relative to [`BASE`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

/// The OpenAPI document as the API serves it and `docs/openapi.json` holds it.
pub fn openapi_json() -> String {
    let mut text = openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// The API's router, to be served under [`BASE`] by nubod's listener.
pub fn router(paas: Paas) -> axum::Router {
    let (api_router, _) = routes().split_for_parts();
    let document = openapi_json();
    let api_router = api_router
        .route(
            "/openapi.json",
            axum::routing::get(move || async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    document,
                )
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            idempotency::Keys::new(paas.store().clone()),
            idempotency::layer,
        ))
        .with_state(Api { paas });
    axum::Router::new()
        .nest(BASE, api_router)
        .fallback(not_found)
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    problem::ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!("no resource at {}", uri.path()),
    )
}

async fn method_not_allowed(uri: Uri) -> impl IntoResponse {
    problem::ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take this method", uri.path()),
    )
}
