//! The HTTP side: `POST /RPC2`, body size limit, `text/xml` replies with an exact
//! Content-Length, faults for bodies that are not XML-RPC.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use nubo_core::Core;
use nubo_xmlrpc::{MethodResponse, fault, parse_call, write_response};

use crate::handlers::dispatch;
use crate::params::Params;
use crate::reply::respond;

/// Largest request body accepted by default (bytes).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024 * 1024;

#[derive(Clone)]
struct Shared {
    core: Core,
    body_limit: usize,
}

/// The XML-RPC router over `core`, accepting bodies up to `body_limit` bytes.
pub fn router(core: Core, body_limit: usize) -> Router {
    Router::new()
        .route("/RPC2", post(rpc))
        .with_state(Shared { core, body_limit })
}

fn xml_response(resp: &MethodResponse) -> Response {
    let body = write_response(resp);
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}

async fn rpc(State(shared): State<Shared>, body: Body) -> Response {
    let bytes = match to_bytes(body, shared.body_limit).await {
        Ok(b) => b,
        Err(_) => {
            return xml_response(&MethodResponse::Fault {
                code: fault::TOO_LARGE,
                message: format!(
                    "The request is larger than the limit of {} bytes",
                    shared.body_limit
                ),
            });
        }
    };
    let call = match parse_call(&bytes) {
        Ok(c) => c,
        Err(e) => {
            return xml_response(&MethodResponse::Fault {
                code: fault::PARSE,
                message: format!("Cannot parse the XML-RPC request: {e}"),
            });
        }
    };
    let params = Params::new(call.params);
    let outcome = dispatch(&shared.core, &call.method, &params).await;
    if let Err(crate::params::CallError::Core(e, _)) = &outcome {
        tracing::debug!(method = %call.method, error = %e, "call failed");
    }
    xml_response(&respond(&call.method, outcome))
}
