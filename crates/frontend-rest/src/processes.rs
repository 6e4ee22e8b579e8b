//! `/apps/{app}/processes/{action}`: restart, stop or start an app's processes, all of
//! them or one type (`?type=web`). The change is made at once; the instances follow
//! within seconds (202).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use nubo_paas::process_control::ProcessAction;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Api;
use crate::auth::Authed;
use crate::extract::{Param, QueryParams};
use crate::problem::{ApiError, Problem};
use crate::views::AppView;

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().routes(routes!(act))
}

/// Which processes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Which {
    /// One process type (default: all of them).
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Restarts (`restart`: every instance replaced, the old serving until its successor is
/// up), stops (`stop`: instances taken away, quantities kept) or starts (`start`) the app's
/// processes.
#[utoipa::path(post, path = "/apps/{app}/processes/{action}", tag = "apps",
    params(("app" = String, Path, description = "The app's name"),
        ("action" = String, Path, description = "`restart`, `stop` or `start`"), Which),
    responses(
        (status = 202, description = "Under way", body = AppView),
        (status = 400, description = "Bad parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app or action", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such process type", body = Problem, content_type = "application/problem+json"),
    ))]
async fn act(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param((name, action)): Param<(String, String)>,
    QueryParams(which): QueryParams<Which>,
) -> Result<(StatusCode, Json<AppView>), ApiError> {
    let action = match action.as_str() {
        "restart" => ProcessAction::Restart,
        "stop" => ProcessAction::Stop,
        "start" => ProcessAction::Start,
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no process action {other:?}: restart, stop or start"),
            ));
        }
    };
    let app = api
        .paas
        .processes(&caller, &name, action, which.kind.as_deref())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(crate::apps::view(&api, &app))))
}
