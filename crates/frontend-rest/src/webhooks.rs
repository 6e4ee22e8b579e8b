//! `/apps/{app}/webhook`: auto-deploy. Its owner (MANAGE) sets the repository and branch to
//! follow (`PUT`, which shows a new webhook's secret once), reads (`GET`, without the
//! secret), rotates the secret (`POST …/rotate`) or removes it (`DELETE`). GitHub, GitLab,
//! Gitea or anything else deliver pushes with `POST`, authenticated by their signature
//! alone ([`nubo_paas::webhooks`]).

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nubo_paas::webhooks::{Delivered, HookError, HookHeaders, Secret, Webhook, WebhookSettings};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::extract::{JsonBody, Param};
use crate::problem::{ApiError, Problem};
use crate::views::BuildView;
use crate::{Api, BASE};

/// Answers holding a secret are kept by no cache, nor for `Idempotency-Key` replays.
const NO_STORE: [(header::HeaderName, HeaderValue); 1] =
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];

pub(crate) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(get_webhook, put_webhook, delete_webhook, deliver))
        .routes(routes!(rotate_secret))
}

/// What a webhook is set to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPut {
    /// The repository to build (`file://`, `http(s)://`, `git://`).
    pub url: String,
    /// The branch to follow: pushes to other refs are ignored.
    pub branch: String,
    /// Seconds between looks at the branch's head (10 to 86400); absent or null: no
    /// polling.
    #[serde(default)]
    pub poll_interval: Option<u32>,
}

/// An app's webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// The repository built.
    pub url: String,
    /// The branch followed.
    pub branch: String,
    /// Seconds between polls of the branch; null: none.
    pub poll_interval: Option<u32>,
    /// Whether a secret is set (always: it is shown only when made).
    pub secret_set: bool,
    /// The secret, only in the answer that made it: sign deliveries with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Where pushes are delivered (`POST`), relative to the API's host.
    pub delivery_url: String,
    /// The commit last built from it.
    pub last_commit: Option<String>,
    /// The build it last started.
    pub last_build: Option<i64>,
    /// A push waiting for the app's running build to end (its commit, or `HEAD`).
    pub pending: Option<String>,
    /// When it was made (epoch seconds).
    pub created: i64,
    /// When it last changed (epoch seconds).
    pub updated: i64,
}

fn view(name: &str, hook: &Webhook, secret: Option<&Secret>) -> WebhookView {
    WebhookView {
        url: hook.url.clone(),
        branch: hook.branch.clone(),
        poll_interval: hook.poll_interval,
        secret_set: true,
        secret: secret.map(|s| s.expose().to_owned()),
        delivery_url: format!("{BASE}/apps/{name}/webhook"),
        last_commit: hook.last_commit.clone(),
        last_build: hook.last_build,
        pending: hook
            .pending
            .as_ref()
            .map(|p| p.commit.clone().unwrap_or_else(|| "HEAD".into())),
        created: hook.created,
        updated: hook.updated,
    }
}

/// What became of a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAnswer {
    /// `queued` (a build started), `pending` (built when the app's running build ends),
    /// `ignored` (not a push of the branch followed) or `pong` (a ping).
    pub status: String,
    /// Why it was ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The build started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildView>,
    /// The commit kept for later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The app's webhook (without its secret).
#[utoipa::path(get, path = "/apps/{app}/webhook", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "The webhook", body = WebhookView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed (MANAGE)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app, or no webhook", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_webhook(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Json<WebhookView>, ApiError> {
    let hook = api.paas.webhook_get(&caller, &name)?;
    Ok(Json(view(&name, &hook, None)))
}

/// Sets the app's webhook: the repository and branch to build on a push, and an optional
/// poll interval. A new webhook's answer (201) holds its secret, shown this once.
#[utoipa::path(put, path = "/apps/{app}/webhook", tag = "apps",
    request_body = WebhookPut,
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "Changed (the secret is kept, and not shown)", body = WebhookView),
        (status = 201, description = "Made, with its secret", body = WebhookView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed (MANAGE)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad URL, branch or interval", body = Problem, content_type = "application/problem+json"),
    ))]
async fn put_webhook(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
    JsonBody(body): JsonBody<WebhookPut>,
) -> Result<Response, ApiError> {
    let settings = WebhookSettings {
        url: body.url,
        branch: body.branch,
        poll_interval: body.poll_interval,
    };
    let (hook, secret) = api.paas.webhook_put(&caller, &name, settings).await?;
    let status = if secret.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, NO_STORE, Json(view(&name, &hook, secret.as_ref()))).into_response())
}

/// Removes the app's webhook: deliveries are refused and polling stops.
#[utoipa::path(delete, path = "/apps/{app}/webhook", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed (MANAGE)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app, or no webhook", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_webhook(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<StatusCode, ApiError> {
    api.paas.webhook_delete(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives the app's webhook a new secret, shown this once (`Cache-Control: no-store`; an
/// `Idempotency-Key` does not replay it); the old one is refused at once.
#[utoipa::path(post, path = "/apps/{app}/webhook/rotate", tag = "apps",
    params(("app" = String, Path, description = "The app's name")),
    responses(
        (status = 200, description = "The webhook with its new secret", body = WebhookView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed (MANAGE)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such app, or no webhook", body = Problem, content_type = "application/problem+json"),
    ))]
async fn rotate_secret(
    State(api): State<Api>,
    Authed(caller): Authed,
    Param(name): Param<String>,
) -> Result<Response, ApiError> {
    let (hook, secret) = api.paas.webhook_rotate(&caller, &name).await?;
    Ok((NO_STORE, Json(view(&name, &hook, Some(&secret)))).into_response())
}

/// Delivers a push (no HTTP authentication: the signature is the credential). GitHub:
/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` and `X-GitHub-Event`;
/// Gitea: `X-Gitea-Signature: <hex HMAC>` and `X-Gitea-Event`; GitLab: `X-Gitlab-Token:
/// <secret>` and `X-Gitlab-Event`; anything else: `X-Nubo-Signature-256: sha256=<hex
/// HMAC>` over an empty body (the branch's head) or `{"ref": …, "commit": …}`. The body is
/// JSON of at most 1 MiB. A push of the branch followed builds the pushed commit of the
/// configured repository (the payload's repository is not used); the build's release then
/// rolls out. No such app, no webhook and a bad signature get the same 401.
#[utoipa::path(post, path = "/apps/{app}/webhook", tag = "apps",
    security(()),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "A push event (GitHub's, GitLab's, Gitea's), or for X-Nubo-Signature-256 empty or {\"ref\": \"refs/heads/main\", \"commit\": \"<sha>\"}"),
    params(("app" = String, Path, description = "The app's name"),
        ("X-Hub-Signature-256" = Option<String>, Header, nullable = false, description = "GitHub's (and Gitea's): sha256=<hex HMAC-SHA256 of the body>"),
        ("X-Gitea-Signature" = Option<String>, Header, nullable = false, description = "Gitea's: <hex HMAC-SHA256 of the body>"),
        ("X-Gitlab-Token" = Option<String>, Header, nullable = false, description = "GitLab's: the secret"),
        ("X-Nubo-Signature-256" = Option<String>, Header, nullable = false, description = "sha256=<hex HMAC-SHA256 of the body>"),
        ("X-GitHub-Event" = Option<String>, Header, nullable = false, description = "push or ping; others are ignored"),
    ),
    responses(
        (status = 200, description = "A ping, or not a push of the branch followed (ignored)", body = DeliveryAnswer),
        (status = 202, description = "A build started, or kept until the app's running build ends", body = DeliveryAnswer),
        (status = 400, description = "Signed, but not a push this platform reads", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed with the webhook's secret, or no such webhook", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Whoever set the webhook may no longer build the app", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The app's stack is DISABLED", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 1 MiB", body = Problem, content_type = "application/problem+json"),
    ))]
async fn deliver(
    State(api): State<Api>,
    Param(name): Param<String>,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let body = axum::body::Bytes::from_request(req, &api)
        .await
        .map_err(|e| ApiError::new(e.status(), "body", e.body_text()))?;
    let get = |n: &str| headers.get(n).map(|v| v.as_bytes().to_vec());
    let hook_headers = HookHeaders {
        nubo_signature: get("x-nubo-signature-256"),
        hub_signature: get("x-hub-signature-256"),
        gitea_signature: get("x-gitea-signature"),
        gitlab_token: get("x-gitlab-token"),
        github_event: get("x-github-event"),
        gitea_event: get("x-gitea-event"),
        gitlab_event: get("x-gitlab-event"),
    };
    let answer = |status: &str| DeliveryAnswer {
        status: status.to_owned(),
        reason: None,
        build: None,
        commit: None,
    };
    match api.paas.webhook_deliver(&name, &hook_headers, &body).await {
        Ok(Delivered::Pong) => Ok(Json(answer("pong")).into_response()),
        Ok(Delivered::Ignored(reason)) => Ok(Json(DeliveryAnswer {
            reason: Some(reason),
            ..answer("ignored")
        })
        .into_response()),
        Ok(Delivered::Pending(commit)) => Ok((
            StatusCode::ACCEPTED,
            Json(DeliveryAnswer {
                commit,
                ..answer("pending")
            }),
        )
            .into_response()),
        Ok(Delivered::Queued(build)) => {
            let location =
                HeaderValue::from_str(&format!("{BASE}/apps/{name}/builds/{}", build.id))
                    .map_err(|_| ApiError::bad_request("the app name cannot be a URL"))?;
            Ok((
                StatusCode::ACCEPTED,
                [(header::LOCATION, location)],
                Json(DeliveryAnswer {
                    build: Some(BuildView::from(&*build)),
                    ..answer("queued")
                }),
            )
                .into_response())
        }
        Err(HookError::Unauthorized) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            HookError::Unauthorized.to_string(),
        )),
        Err(HookError::Malformed(detail)) => Err(ApiError::bad_request(detail)),
        Err(HookError::Paas(e)) => Err(e.into()),
    }
}
