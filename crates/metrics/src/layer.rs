//! Instrumenting a front end's axum router: every request is timed and counted under the
//! [`Operation`] its front end put in the response, or under the route template it matched
//! (REST and CAMP), or as [`crate::UNMATCHED`].

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::{Interface, Metrics, Operation};

impl Metrics {
    /// `router` with its calls counted as `interface`'s. Only routes already on `router`
    /// are named by their template; its fallback's answers count as unmatched.
    pub fn instrument(&self, router: Router, interface: Interface) -> Router {
        router
            .route_layer(middleware::from_fn(name_route))
            .layer(middleware::from_fn_with_state(
                (self.clone(), interface),
                track,
            ))
    }
}

/// Names the call by the route it matched, unless its handler named it.
async fn name_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| Operation::route(request.method().as_str(), m.as_str()));
    let mut response = next.run(request).await;
    if let Some(route) = route
        && response.extensions().get::<Operation>().is_none()
    {
        response.extensions_mut().insert(route);
    }
    response
}

/// Times the call and counts it.
async fn track(
    State((metrics, interface)): State<(Metrics, Interface)>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe_call(
        interface,
        response.extensions().get::<Operation>(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::{CloudView, Format};

    async fn call(router: &Router, method: &str, uri: &str) -> StatusCode {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible")
            .status()
    }

    #[tokio::test]
    async fn routes_are_counted_by_template_and_strays_as_unmatched() {
        let metrics = Metrics::new();
        let named = || async {
            let mut r = Response::new(Body::empty());
            r.extensions_mut()
                .insert(Operation::named("one.vm.info").with_outcome(false));
            r
        };
        let inner = Router::new().route("/apps/{app}", get(|| async { "app" }));
        let router = Router::new()
            .nest("/api/v1", inner)
            .route("/RPC2", get(named));
        let router = metrics.instrument(router, Interface::Rest);
        assert_eq!(
            call(&router, "GET", "/api/v1/apps/shop").await,
            StatusCode::OK
        );
        assert_eq!(
            call(&router, "GET", "/api/v1/apps/cart").await,
            StatusCode::OK
        );
        assert_eq!(
            call(&router, "GET", "/api/v1/nothing/here").await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(&router, "DELETE", "/api/v1/apps/shop").await,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(call(&router, "GET", "/RPC2").await, StatusCode::OK);
        let text = metrics
            .render(&CloudView::default(), Format::OpenMetrics)
            .expect("render");
        for line in [
            r#"nubo_api_requests_total{interface="rest",operation="GET /api/v1/apps/{app}",result="ok",status="2xx"} 2"#,
            r#"nubo_api_requests_total{interface="rest",operation="unmatched",result="error",status="4xx"} 1"#,
            r#"nubo_api_requests_total{interface="rest",operation="DELETE /api/v1/apps/{app}",result="error",status="4xx"} 1"#,
            r#"nubo_api_requests_total{interface="rest",operation="one.vm.info",result="error",status="2xx"} 1"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(
            !text.contains("shop") && !text.contains("nothing"),
            "{text}"
        );
    }
}
