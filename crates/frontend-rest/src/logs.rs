//! `/apps/{app}/logs`: the app's log — its instances' output, the router's lines, the
//! platform's events — as text: the last lines, since a time, by source, or followed.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use nubo_paas::app_logs::{LINES_MAX, LogQuery};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Api;
use crate::auth::Authed;
use crate::extract::{Param, QueryParams};
use crate::problem::{ApiError, Problem};

/// How often a followed log is read again.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().routes(routes!(get_logs))
}

/// Which lines.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LogParams {
    /// The last so many lines (default 100, at most 10000).
    #[param(maximum = 10000)]
    lines: Option<usize>,
    /// Only lines from this time on (seconds since the epoch).
    since: Option<i64>,
    /// Only a process type (`web`), an instance (`web.1`), `router` or `nubo` (events).
    source: Option<String>,
    /// Keep the response open and stream new lines as they come.
    follow: Option<bool>,
}

/// The app's log: `<time> <source>: <text>` lines.
#[utoipa::path(get, path = "/apps/{app}/logs", tag = "apps",
    params(("app" = String, Path, description = "The app's name"), LogParams),
    responses(
        (status = 200, description = "Log lines (streamed on with `follow`)", body = String, content_type = "text/plain"),
        (status = 400, description = "Bad parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_logs(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    QueryParams(params): QueryParams<LogParams>,
) -> Result<Response, ApiError> {
    if params.lines.is_some_and(|n| n > LINES_MAX) {
        return Err(ApiError::bad_request(format!(
            "lines is at most {LINES_MAX}"
        )));
    }
    let query = LogQuery {
        lines: params.lines,
        since: params.since,
        source: params.source,
    };
    let (lines, cursor) = api.paas.logs(&caller, &name, &query).await?;
    let text_plain = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    )];
    if !params.follow.unwrap_or(false) {
        return Ok((text_plain, lines.concat()).into_response());
    }
    let stream = futures_util::stream::unfold(
        (api, caller, name, query, cursor, Some(lines.concat())),
        |(api, caller, name, query, cursor, first)| async move {
            if let Some(first) = first {
                return Some((
                    Ok::<_, std::io::Error>(first),
                    (api, caller, name, query, cursor, None),
                ));
            }
            loop {
                tokio::time::sleep(FOLLOW_POLL).await;
                // The app gone or no longer allowed: the stream ends.
                let (lines, next) = api
                    .paas
                    .logs_after(&caller, &name, &query, cursor)
                    .await
                    .ok()?;
                if !lines.is_empty() {
                    return Some((Ok(lines.concat()), (api, caller, name, query, next, None)));
                }
            }
        },
    );
    Ok((text_plain, Body::from_stream(stream)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's bounds of `lines` are the ones the handler enforces: a client that
    /// keeps to the document is not refused.
    #[test]
    fn the_documented_line_limit_is_the_enforced_one() {
        let doc = serde_json::to_value(crate::openapi()).expect("the document is JSON");
        let lines = doc["paths"]["/apps/{app}/logs"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "lines")
            .expect("lines")
            .clone();
        assert_eq!(lines["schema"]["maximum"], LINES_MAX as u64, "{lines}");
        assert_eq!(lines["schema"]["minimum"], 0, "{lines}");
    }
}
