//! `POST /apps/{app}/rollback`: a new release that runs an earlier release's slug with its
//! process types and config vars, without a build (Heroku's `releases:rollback`). The body
//! names the release (`{"release": 3}`); without one (or with no body), the release before
//! the current one that has a slug.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::extract::{JsonBody, Param};
use crate::problem::{ApiError, Problem};
use crate::views::ReleaseView;
use crate::{Api, BASE, BODY_LIMIT};

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().routes(routes!(rollback))
}

/// Which release to roll back to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackCreate {
    /// The release's version (default: the release before the current one that has a
    /// slug).
    #[serde(default)]
    pub release: Option<u32>,
}

/// Rolls the app back: a new release (`Rollback to vN`) with release N's slug, process
/// types and config vars, which become the app's; its instances replace the current ones.
/// Refused for the current release, a release without a slug and one whose slug retention
/// deleted (`[paas] releases_kept`).
#[utoipa::path(post, path = "/apps/{app}/rollback", tag = "apps",
    request_body(content = Option<RollbackCreate>, description = "The release to roll back to (optional)"),
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 201, description = "The new release", body = ReleaseView,
            headers(("Location" = String, description = "The new release's URL"),
                ("Nubo-Release" = u32, description = "The app's release now"))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app or release", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The release is the current one, has no slug, or its slug was deleted by retention", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
async fn rollback(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    request: Request,
) -> Result<Response, ApiError> {
    // No body, `null` and `{}` all ask for the default release.
    let body = optional_json::<Option<RollbackCreate>>(request).await?;
    let version = body.flatten().and_then(|b| b.release);
    let release = api.paas.rollback(&caller, &name, version).await?;
    let location =
        HeaderValue::from_str(&format!("{BASE}/apps/{name}/releases/{}", release.version))
            .map_err(|_| ApiError::bad_request("the app name cannot be a URL"))?;
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, location),
            (
                header::HeaderName::from_static("nubo-release"),
                HeaderValue::from(release.version),
            ),
        ],
        Json(ReleaseView::of(&release, release.version)),
    )
        .into_response())
}

/// The JSON body, or `None` when the request has none.
async fn optional_json<T: serde::de::DeserializeOwned>(
    request: Request,
) -> Result<Option<T>, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|e| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body",
            format!("cannot read the body: {e}"),
        )
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let request = Request::from_parts(parts, axum::body::Body::from(bytes));
    let JsonBody(value) = JsonBody::<T>::from_request(request, &()).await?;
    Ok(Some(value))
}
