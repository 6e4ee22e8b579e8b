//! The HTTP side: `POST /RPC2`, the body read within its rules (size, time, the process's
//! memory budget), `text/xml` replies with an exact Content-Length, faults for bodies that
//! are not XML-RPC or did not arrive whole. Served by `nubo_listener::serve`.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use nubo_core::Core;
use nubo_listener::{BodyError, BodyRules};
use nubo_metrics::Operation;
use nubo_xmlrpc::{MethodResponse, Value, fault, parse_call, write_response};

use crate::handlers::dispatch;
use crate::handlers::methods::{METHODS, reads_a_pool};
use crate::params::Params;
use crate::reply::respond;

/// Largest request body accepted by default (bytes).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024 * 1024;

#[derive(Clone)]
struct Shared {
    core: Core,
    bodies: BodyRules,
}

/// The XML-RPC router over `core`, reading bodies within `bodies`.
pub fn router(core: Core, bodies: BodyRules) -> Router {
    Router::new()
        .route("/RPC2", post(rpc))
        .with_state(Shared { core, bodies })
}

fn xml_response(resp: &MethodResponse) -> Response {
    let body = write_response(resp);
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}

async fn rpc(State(shared): State<Shared>, body: Body) -> Response {
    let bytes = match shared.bodies.read(body).await {
        Ok(b) => b,
        Err(e) => {
            let code = match e {
                BodyError::TooLarge { .. } => fault::TOO_LARGE,
                BodyError::Truncated | BodyError::TimedOut | BodyError::Busy => fault::PARSE,
            };
            let mut r = xml_response(&MethodResponse::Fault {
                code,
                message: format!("The request was not read: {e}"),
            });
            if !matches!(e, BodyError::TooLarge { .. }) {
                *r.status_mut() = e.status();
            }
            return named(
                r,
                Operation::named(nubo_metrics::UNKNOWN).with_outcome(false),
            );
        }
    };
    let call = match parse_call(&bytes) {
        Ok(c) => c,
        Err(e) => {
            let r = xml_response(&MethodResponse::Fault {
                code: fault::PARSE,
                message: format!("Cannot parse the XML-RPC request: {e}"),
            });
            return named(
                r,
                Operation::named(nubo_metrics::UNKNOWN).with_outcome(false),
            );
        }
    };
    if call.method == "system.listMethods" {
        // XML-RPC introspection, as xmlrpc-c answers it for oned: the plain list, no session.
        let names = METHODS.iter().map(|m| Value::String(m.to_string()));
        let r = xml_response(&MethodResponse::Success(Value::Array(names.collect())));
        return named(r, Operation::named("system.listMethods").with_outcome(true));
    }
    let params = Params::new(call.params);
    let work = dispatch(&shared.core, &call.method, &params);
    let outcome = if reads_a_pool(&call.method) && on_many_threads() {
        // A pool read grows with the cloud: this thread does it alone while the runtime
        // gives the other calls to its other threads.
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(work))
    } else {
        work.await
    };
    if let Err(crate::params::CallError::Core(e, _)) = &outcome {
        tracing::debug!(method = %call.method, error = %e, "call failed");
    }
    let operation = Operation::from_table(&call.method, METHODS).with_outcome(outcome.is_ok());
    named(xml_response(&respond(&call.method, outcome)), operation)
}

/// `response`, naming the call it answers for the metrics (method names outside
/// [`METHODS`] are all one, so a client cannot make up label values).
fn named(mut response: Response, operation: Operation) -> Response {
    response.extensions_mut().insert(operation);
    response
}

/// Whether this runs on a multi-threaded runtime (nubod's), where a thread may block.
fn on_many_threads() -> bool {
    tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
}
