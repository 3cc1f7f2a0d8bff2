//! Who is calling: the session token of a request, checked, and the refusals.
//!
//! A token is taken from the `X-Session` header (Iorio's), else `Authorization: Bearer …`
//! (the usual way), else the `jwt` query parameter (for clients that cannot set headers, such
//! as a browser's `EventSource`). A request without one is the anonymous caller's; a request
//! with a bad one (forged, expired, of a removed user) is refused, never taken as anonymous.

use super::ApiError;
use crate::access::{Access, AccessError, Caller, Permission, Resource};
use axum::http::{HeaderMap, StatusCode, header};
use std::collections::HashMap;

/// The session token a request carries, if any.
pub fn token_of<'a>(headers: &'a HeaderMap, query: &'a HashMap<String, String>) -> Option<&'a str> {
    if let Some(token) = headers.get("x-session").and_then(|v| v.to_str().ok()) {
        return Some(token.trim());
    }
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
    {
        return Some(token.trim());
    }
    query.get("jwt").map(|t| t.trim())
}

/// The caller of a request.
pub fn caller(
    access: &Access,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Caller, ApiError> {
    access
        .caller(token_of(headers, query))
        .map_err(ApiError::from)
}

/// The caller of a request, if they may do `permission` on `resource`; else a 401.
pub fn allowed(
    access: &Access,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    resource: &Resource,
    permission: Permission,
) -> Result<Caller, ApiError> {
    let caller = caller(access, headers, query)?;
    access.check(&caller, resource, permission)?;
    Ok(caller)
}

/// How access errors show: a refusal is 401 `no-perm` (with `WWW-Authenticate`, added to
/// every 401 by [`ApiError`]), a failed login 401 `unauthorized`, bad user input 400 with
/// Iorio's error names.
impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        let reason = error.to_string();
        let unauthorized = |kind| ApiError::new(StatusCode::UNAUTHORIZED, kind, reason.clone());
        match error {
            AccessError::NoPerm(_) | AccessError::BadToken(_) | AccessError::GoneUser(_) => {
                unauthorized("no-perm")
            }
            AccessError::Unauthorized => unauthorized("unauthorized"),
            AccessError::NoUserAndPass => ApiError::bad_request("no-user-and-pass", reason),
            AccessError::NoUser => ApiError::bad_request("no-user", reason),
            AccessError::NoPass => ApiError::bad_request("no-pass", reason),
            AccessError::UserExists(_) => ApiError::bad_request("user-exists", reason),
            AccessError::IllegalUsername(_) => ApiError::bad_request("illegal-username", reason),
            AccessError::UnknownUser(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown-user", reason)
            }
            AccessError::Cluster(error) => ApiError::from(error),
        }
    }
}

/// The caller of a route that shows no stream's data (stats, health, listings filtered by
/// permission): anyone, but the anonymous caller only when anonymous access is open.
pub fn open_to(
    access: &Access,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Caller, ApiError> {
    let caller = caller(access, headers, query)?;
    if caller.anonymous && access.config().anonymous == crate::access::Anonymous::None {
        return Err(AccessError::NoPerm(
            "an anonymous caller (no session token) may do nothing on this node".into(),
        )
        .into());
    }
    Ok(caller)
}

/// The bucket, and the stream if the route names one, of a route that takes either
/// (`/access/{bucket}/`, `/access/{bucket}/{stream}`): one handler serves both.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Place {
    pub bucket: String,
    #[serde(default)]
    pub stream: Option<String>,
}

impl Place {
    pub fn resource(&self) -> Resource {
        Resource::of(&self.bucket, self.stream.as_deref())
    }
}
