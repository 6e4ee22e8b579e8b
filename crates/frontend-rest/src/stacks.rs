//! `/stacks`: the base root filesystems apps build and run on; everyone lists them, the
//! oneadmin group registers them and changes their state.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nubo_paas::NewStack;
use nubo_paas::model::StackState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::extract::{JsonBody, Param};
use crate::problem::{ApiError, Problem};
use crate::views::{StackCreate, StackPatch, StackView};
use crate::{Api, BASE};

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_stacks, create_stack))
        .routes(routes!(get_stack, update_stack))
}

/// Lists the stacks.
#[utoipa::path(get, path = "/stacks", tag = "stacks",
    responses(
        (status = 200, description = "Every stack", body = Vec<StackView>),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_stacks(
    State(api): State<Api>,
    Authed(caller): Authed,
) -> Result<Json<Vec<StackView>>, ApiError> {
    let stacks = api.paas.stack_list(&caller)?;
    Ok(Json(stacks.iter().map(StackView::from).collect()))
}

/// Registers a stack (oneadmin group).
#[utoipa::path(post, path = "/stacks", tag = "stacks", request_body = StackCreate,
    responses(
        (status = 201, description = "Registered", body = StackView, headers(("Location" = String))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such image", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name or version", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_stack(
    State(api): State<Api>,
    Authed(caller): Authed,
    JsonBody(body): JsonBody<StackCreate>,
) -> Result<Response, ApiError> {
    let stack = api
        .paas
        .stack_create(
            &caller,
            NewStack {
                name: body.name,
                version: body.version,
                image: body.image_id,
                description: body.description,
            },
        )
        .await?;
    let location = HeaderValue::from_str(&format!("{BASE}/stacks/{}", stack.name))
        .map_err(|_| ApiError::bad_request("the stack name cannot be a URL"))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(StackView::from(&stack)),
    )
        .into_response())
}

/// Shows a stack.
#[utoipa::path(get, path = "/stacks/{stack}", tag = "stacks",
    params(("stack" = String, Path, description = "The stack's name")),
    responses(
        (status = 200, description = "The stack", body = StackView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stack", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_stack(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Json<StackView>, ApiError> {
    Ok(Json(StackView::from(&api.paas.stack_get(&caller, &name)?)))
}

/// Changes a stack's state (oneadmin group).
#[utoipa::path(patch, path = "/stacks/{stack}", tag = "stacks", request_body = StackPatch,
    params(("stack" = String, Path, description = "The stack's name")),
    responses(
        (status = 200, description = "The stack now", body = StackView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stack", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such state", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_stack(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    JsonBody(body): JsonBody<StackPatch>,
) -> Result<Json<StackView>, ApiError> {
    let state = match body.state.as_str() {
        "ACTIVE" => StackState::Active,
        "DEPRECATED" => StackState::Deprecated,
        "DISABLED" => StackState::Disabled,
        other => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("{other:?} is no stack state: ACTIVE, DEPRECATED or DISABLED"),
            ));
        }
    };
    Ok(Json(StackView::from(
        &api.paas.stack_set_state(&caller, &name, state).await?,
    )))
}
