//! `/stacks`: the base root filesystems apps build and run on; everyone lists them (and
//! sees the apps on one they may see), the oneadmin group registers them, changes their
//! state and patches them (a new version: every app on it rolls out on the new image).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nubo_paas::model::Stack;
use nubo_paas::model::StackState;
use nubo_paas::{NewStack, NewStackVersion};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::extract::{JsonBody, Param};
use crate::problem::{ApiError, Problem};
use crate::views::{StackAppView, StackCreate, StackPatch, StackView};
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

/// Shows a stack, its earlier versions and the apps on it the caller may see.
#[utoipa::path(get, path = "/stacks/{stack}", tag = "stacks",
    params(("stack" = String, Path, description = "The stack's name")),
    responses(
        (status = 200, description = "The stack, with `apps`", body = StackView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stack", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_stack(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Json<StackView>, ApiError> {
    let stack = api.paas.stack_get(&caller, &name)?;
    Ok(Json(with_apps(&api, &caller, &stack)?))
}

/// The view of `stack` with the apps on it `caller` may see.
fn with_apps(api: &Api, caller: &nubo_core::Caller, stack: &Stack) -> Result<StackView, ApiError> {
    let apps = api.paas.stack_apps(caller, &stack.name)?;
    let mut view = StackView::from(stack);
    view.apps = Some(apps.iter().map(StackAppView::from).collect());
    Ok(view)
}

/// Changes a stack's state, or patches it (oneadmin group): with `version` and `image_id`,
/// the stack gets that version and image, and every app on it whose current release has a
/// slug gets a release `Stack NAME patched to VERSION` of the same slug, process types and
/// config vars on the new image — a deployment each, without a build. The same version and
/// image again changes nothing.
#[utoipa::path(patch, path = "/stacks/{stack}", tag = "stacks", request_body = StackPatch,
    params(("stack" = String, Path, description = "The stack's name")),
    responses(
        (status = 200, description = "The stack now, with `apps` (their releases)", body = StackView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stack or image", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A version the stack had, its current image, an image not READY or that an app's owner may not use", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such state, a version without an image (or the other way), an invalid version, or nothing to change", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_stack(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    JsonBody(body): JsonBody<StackPatch>,
) -> Result<Json<StackView>, ApiError> {
    let invalid =
        |detail: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail);
    let state = match body.state.as_deref() {
        None => None,
        Some("ACTIVE") => Some(StackState::Active),
        Some("DEPRECATED") => Some(StackState::Deprecated),
        Some("DISABLED") => Some(StackState::Disabled),
        Some(other) => {
            return Err(invalid(format!(
                "{other:?} is no stack state: ACTIVE, DEPRECATED or DISABLED"
            )));
        }
    };
    let patch = match (body.version, body.image_id) {
        (Some(version), Some(image)) => Some(NewStackVersion { version, image }),
        (None, None) => None,
        _ => {
            return Err(invalid(
                "a new version of a stack needs both version and image_id".into(),
            ));
        }
    };
    if state.is_none() && patch.is_none() {
        return Err(invalid(
            "nothing to change: give state, or version and image_id".into(),
        ));
    }
    let mut stack = None;
    if let Some(patch) = patch {
        stack = Some(api.paas.stack_patch(&caller, &name, patch).await?.0);
    }
    if let Some(state) = state {
        stack = Some(api.paas.stack_set_state(&caller, &name, state).await?);
    }
    match stack {
        Some(stack) => Ok(Json(with_apps(&api, &caller, &stack)?)),
        None => Err(invalid("nothing to change".into())),
    }
}
