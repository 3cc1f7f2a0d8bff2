//! The API's errors: a status code and a JSON body `{"type": …, "reason": …}`.

use crate::error::Error;
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answer of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// A short, stable name for programs (`invalid-body`, `no-msg`, …).
    pub kind: &'static str,
    /// A sentence for people.
    pub reason: String,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, reason: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            reason: reason.into(),
        }
    }

    pub fn bad_request(kind: &'static str, reason: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, kind, reason)
    }

    pub fn not_found(reason: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", reason)
    }
}

/// The body of an error: `{"type": …, "reason": …}`, in that order.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    reason: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody {
            kind: self.kind,
            reason: &self.reason,
        });
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110: a 401 says how to authenticate. Iorio said `jwt`; a bearer token it is.
            let challenge = [(header::WWW_AUTHENTICATE, r#"Bearer realm="ringcore""#)];
            return (self.status, challenge, body).into_response();
        }
        (self.status, body).into_response()
    }
}

/// How the database's errors show over HTTP: a quorum not reached (or a timeout) is 503 and
/// says how many replicas answered; bad settings are 400; a hole of an exercise is 501; a
/// fault of the server (not of the request) is 500.
impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let reason = error.to_string();
        match error {
            Error::BadRequest(_) | Error::Refused(_) => {
                ApiError::bad_request("invalid-request", reason)
            }
            Error::NotImplemented(_) => {
                ApiError::new(StatusCode::NOT_IMPLEMENTED, "not-implemented", reason)
            }
            Error::Timeout { .. }
            | Error::Quorum { .. }
            | Error::Unreachable(_)
            | Error::WrongCookie { .. }
            | Error::ConnectionLost(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", reason)
            }
            Error::Stopping | Error::NotClaimant { .. } | Error::Unavailable(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", reason)
            }
            Error::VnodeFailed { .. } => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "vnode-failed", reason)
            }
            Error::Internal(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", reason)
            }
        }
    }
}
