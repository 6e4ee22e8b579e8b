//! Who is calling: HTTP Basic with a Nubo user's name and password (or a login token), as
//! the REST API takes it, checked by the core through `Paas::authenticate`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use nubo_core::Caller;

use crate::Camp;
use crate::error::CampError;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Authed(pub Caller);

impl FromRequestParts<Camp> for Authed {
    type Rejection = CampError;

    async fn from_request_parts(parts: &mut Parts, camp: &Camp) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        camp.paas
            .authenticate_basic(header)
            .map(Authed)
            .map_err(|e| CampError::new(StatusCode::UNAUTHORIZED, e.to_string()))
    }
}
