//! The request body limit, applied before any route runs.
//!
//! A body larger than [`MAX_BODY_BYTES`] is answered 413, but only after the server has read
//! (and thrown away) the rest of it. A server that answers and closes the connection while the
//! client is still sending makes the client's kernel see a reset, and most clients then report
//! a broken pipe instead of the 413. Reading is bounded, in bytes and in time, so that a
//! client cannot make the server read forever: past the bound the 413 goes out anyway.
//!
//! Bodies within the limit are read here too, and handed on whole to the routes.

use super::{ApiError, MAX_BODY_BYTES};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::time::Duration;

/// The most of an oversized body read and thrown away before answering.
const DRAIN_BYTES: usize = 16 * MAX_BODY_BYTES;
/// How long an oversized body may take to arrive before the answer goes out anyway.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The middleware: see the module docs.
pub async fn limit_body(request: Request, next: Next) -> Response {
    if request.body().size_hint().exact() == Some(0) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let mut chunks = body.into_data_stream();
    let mut kept: Vec<Bytes> = Vec::new();
    let mut total = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => return cut_short(error),
        };
        total += chunk.len();
        if total > MAX_BODY_BYTES {
            drop(kept);
            let drained = tokio::time::timeout(DRAIN_TIME, async {
                while total <= DRAIN_BYTES {
                    match chunks.next().await {
                        Some(Ok(chunk)) => total += chunk.len(),
                        Some(Err(_)) | None => break,
                    }
                }
            });
            let _ = drained.await;
            return too_large();
        }
        kept.push(chunk);
    }
    let body = match kept.len() {
        0 => Body::empty(),
        1 => Body::from(kept.remove(0)),
        _ => Body::from(kept.concat()),
    };
    next.run(Request::from_parts(parts, body)).await
}

/// The answer to a body over the limit (the routes give the same one).
pub fn too_large() -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        format!("the body is larger than {MAX_BODY_BYTES} bytes"),
    )
    .into_response()
}

fn cut_short(error: axum::Error) -> Response {
    ApiError::bad_request(
        "invalid-body",
        format!("the body could not be read: {error}"),
    )
    .into_response()
}
