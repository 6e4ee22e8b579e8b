//! Who is calling: HTTP Basic with a Nubo user's name and password (or a login token from
//! `one.user.login` in place of the password), checked by the core as an XML-RPC session
//! would be.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use nubo_core::Caller;

use crate::Api;
use crate::problem::ApiError;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Authed(pub Caller);

impl FromRequestParts<Api> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        api.paas
            .authenticate_basic(header)
            .map(Authed)
            .map_err(|e| ApiError::unauthenticated(e.to_string()))
    }
}
