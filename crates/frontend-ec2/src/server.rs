//! The HTTP side: `GET /` and `POST /` with a size-limited body, parameters from the query
//! and the form body, authentication, the action, and the reply: `<ActionResponse>` in
//! EC2's namespace with a `requestId`, or EC2's error XML with its HTTP status. Every reply
//! carries `x-amzn-RequestId`.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use nubo_core::Core;
use nubo_listener::{BodyError, BodyRules};

use crate::actions::{ACTIONS, Ctx, dispatch};
use crate::auth::authenticate;
use crate::error::Ec2Error;
use crate::params::Params;
use crate::sigv4::Incoming;
use crate::xml::Xml;

/// Largest request body accepted by default (bytes): EC2 requests are small (user data is
/// at most 16 KiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The API version whose namespace replies use when a request names none.
const API_VERSION: &str = "2016-11-15";

/// Settings of the EC2 front end.
#[derive(Debug, Clone)]
pub struct Ec2Config {
    /// The one region this cloud is (requests must be signed for it).
    pub region: String,
    /// How request bodies are read (size, time, the process's memory budget).
    pub bodies: BodyRules,
}

#[derive(Clone)]
struct Shared {
    core: Core,
    config: Ec2Config,
}

/// The EC2 router over `core`.
pub fn router(core: Core, config: Ec2Config) -> Router {
    Router::new()
        .route("/", get(handle).post(handle))
        .with_state(Shared { core, config })
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = request_id();
    let (action, version, outcome) = serve(&shared, &method, &uri, &headers, body).await;
    // Actions outside the table are one label value: a client cannot make up others.
    let operation = nubo_metrics::Operation::from_table(action.as_deref().unwrap_or(""), ACTIONS)
        .with_outcome(outcome.is_ok());
    let mut response = match outcome {
        Ok(inner) => {
            let action = action.unwrap_or_default();
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"http://ec2.amazonaws.com/doc/{version}/\"><requestId>{request_id}</requestId>{inner}</{action}Response>"
            );
            reply(StatusCode::OK, body, &request_id)
        }
        Err(e) => {
            tracing::debug!(action = action.as_deref().unwrap_or(""), code = %e.code, "EC2 call failed");
            let mut x = Xml::new();
            x.open("Response")
                .open("Errors")
                .open("Error")
                .text("Code", &e.code)
                .text("Message", &e.message)
                .close("Error")
                .close("Errors")
                .text("RequestID", &request_id)
                .close("Response");
            let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", x.finish());
            reply(e.status, body, &request_id)
        }
    };
    response.extensions_mut().insert(operation);
    response
}

/// Reads, authenticates and runs one request: (action, API version, inner XML or error).
async fn serve(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> (Option<String>, String, Result<String, Ec2Error>) {
    let mut version = API_VERSION.to_string();
    let body = match shared.config.bodies.read(body).await {
        Ok(b) => b,
        Err(e) => {
            let code = match e {
                BodyError::TooLarge { .. } => "RequestEntityTooLarge",
                BodyError::Truncated => "MalformedQueryString",
                BodyError::TimedOut => "RequestTimeout",
                BodyError::Busy => "RequestLimitExceeded",
            };
            let message = format!("The request was not read: {e}");
            return (
                None,
                version,
                Err(Ec2Error::with_status(e.status(), code, message)),
            );
        }
    };
    let query = uri.query().unwrap_or("");
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if *method == Method::POST {
        pairs.extend(form_urlencoded::parse(&body).into_owned());
    }
    let params = Params::from_pairs(pairs);
    if let Some(v) = params.get("Version").filter(|v| is_version(v)) {
        version = v.to_string();
    }
    let action = params.get("Action").map(str::to_string);
    let incoming = Incoming {
        method: method.as_str(),
        path: uri.path(),
        query,
        headers,
        body: &body,
    };
    let outcome = async {
        let caller = authenticate(
            &shared.core,
            &incoming,
            &params,
            &shared.config.region,
            nubo_core::now(),
        )?;
        let action = action.as_deref().filter(|a| !a.is_empty()).ok_or_else(|| {
            Ec2Error::client(
                "MissingAction",
                "The request must contain the parameter Action",
            )
        })?;
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string();
        let ctx = Ctx {
            core: shared.core.clone(),
            caller,
            region: shared.config.region.clone(),
            host,
            dry_run: params.bool("DryRun")?.unwrap_or(false),
        };
        let mut x = Xml::new();
        dispatch(&ctx, action, &params, &mut x).await?;
        Ok(x.finish())
    }
    .await;
    (action.filter(|a| is_name(a)), version, outcome)
}

/// `yyyy-mm-dd`.
fn is_version(v: &str) -> bool {
    v.len() == 10 && v.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// An action name fit to be an element name.
fn is_name(a: &str) -> bool {
    !a.is_empty() && a.len() <= 64 && a.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn reply(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml;charset=UTF-8"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

/// A random UUID (version 4) for the request.
fn request_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        b = nubo_core::now()
            .to_be_bytes()
            .repeat(2)
            .try_into()
            .unwrap_or([0; 16]);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
