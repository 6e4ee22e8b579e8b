//! `/router`: what a router run apart from nubod (`nubo-router`) needs — the route table,
//! with an `ETag` (a digest of the body) so that polling it costs a 304 while nothing
//! changes, and a place to send its request lines into the apps' logs. The oneadmin group
//! only (the rule is the PaaS's, `nubo_paas::route_table`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nubo_paas::route_table::{RouteTable, RouterLine};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Api;
use crate::auth::Authed;
use crate::extract::JsonBody;
use crate::problem::{ApiError, Problem};

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(get_routes))
        .routes(routes!(post_log))
}

/// Every app's routes.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoutesView {
    /// The domain apps are named under (`shop` is `shop.apps.localhost`); null when nubod
    /// names no apps domain.
    pub apps_domain: Option<String>,
    /// The apps, by name.
    pub apps: Vec<AppRouteView>,
}

/// Where one app is served and by which instances.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppRouteView {
    /// The app's name.
    pub app: String,
    /// Its host names: `<app>.<apps domain>`, then its custom domains.
    pub hosts: Vec<String>,
    /// `IP:PORT` of each of its `web` instances that are up.
    pub backends: Vec<String>,
}

impl From<RouteTable> for RoutesView {
    fn from(t: RouteTable) -> Self {
        RoutesView {
            apps_domain: t.apps_domain,
            apps: t
                .apps
                .into_iter()
                .map(|a| AppRouteView {
                    app: a.app,
                    hosts: a.hosts,
                    backends: a.backends.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        }
    }
}

/// Lines for the apps' logs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterLog {
    /// At most 1000 lines.
    pub lines: Vec<RouterLogLine>,
}

/// One request's line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterLogLine {
    /// The app the request was for (lines of apps that do not exist are skipped).
    pub app: String,
    /// The text (at most 8 KiB), e.g. `GET / 200 10.247.0.5:5000 3 ms`.
    pub line: String,
}

/// The `ETag` of a body: a digest of it.
fn digest_tag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// The route table: every app's host names and `web` instances that are up (oneadmin
/// group). With `If-None-Match` naming the current `ETag`: 304, no body.
#[utoipa::path(get, path = "/router/routes", tag = "router",
    params(("If-None-Match" = Option<String>, Header, nullable = false, description = "The ETag last read")),
    responses(
        (status = 200, description = "The route table", body = RoutesView, headers(("ETag" = String))),
        (status = 304, description = "Unchanged since the ETag given", headers(("ETag" = String))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not in the oneadmin group", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_routes(
    State(api): State<Api>,
    Authed(caller): Authed,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let table = api.paas.route_table(&caller)?;
    let body = serde_json::to_vec(&RoutesView::from(table)).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("cannot write the route table: {e}"),
        )
    })?;
    let tag = digest_tag(&body);
    let etag = HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    if none_match(&headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok((
        [
            (header::ETAG, etag),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        Body::from(body),
    )
        .into_response())
}

/// Puts a router's request lines into their apps' logs, as nubod's router's (oneadmin
/// group): at most 1000 lines of at most 8 KiB; lines of unknown apps are skipped.
#[utoipa::path(post, path = "/router/log", tag = "router", request_body = RouterLog,
    responses(
        (status = 204, description = "Taken"),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not in the oneadmin group", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Too many lines, or one too long", body = Problem, content_type = "application/problem+json"),
    ))]
async fn post_log(
    State(api): State<Api>,
    Authed(caller): Authed,
    JsonBody(body): JsonBody<RouterLog>,
) -> Result<StatusCode, ApiError> {
    let lines = body
        .lines
        .into_iter()
        .map(|l| RouterLine {
            app: l.app,
            line: l.line,
        })
        .collect();
    api.paas.router_log_lines(&caller, lines)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_names_the_tag() {
        let tag = digest_tag(b"{}");
        assert_eq!(tag.len(), 34);
        let mut h = HeaderMap::new();
        assert!(!none_match(&h, &tag));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", W/{tag}")).expect("value"),
        );
        assert!(none_match(&h, &tag));
        assert!(!none_match(&h, &digest_tag(b"[]")));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&h, &tag));
    }
}
