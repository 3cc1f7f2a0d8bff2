//! Serving the HTTP API: connections accepted within [`HttpLimits`] (a WebSocket counts until
//! it closes, see [`Admitted`]), each served by hyper with
//! a deadline for its request headers, every request with a deadline for its answer, and all
//! of it wound down when the node stops (a request under way is answered first; a live feed
//! ends with the node).

use super::body_limit;
use super::error::ApiError;
use crate::metrics::ConnectionGuard;
use crate::net::limits::{Bites, HttpLimits};
use crate::net::server::accept_until;
use crate::node::Node;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

/// Serves `router` on `addr` until the node stops; returns the address it listens on. A
/// request body over [`super::MAX_BODY_BYTES`] is answered 413 before any route sees it, once
/// the client has sent it (see `body_limit.rs`). Beside the application's routes, the node's
/// own: the operator's (`ops.rs`) and the ring page (`ring_page`).
pub async fn serve(node: &Node, addr: SocketAddr, router: Router) -> std::io::Result<SocketAddr> {
    serve_with(node, addr, router, true).await
}

/// Serves only the node's own routes on `addr` (the ring page, `/metrics`, `/ready`), for an
/// application with no HTTP API of its own (exercises 0 to 4): the command line starts it for
/// them. It makes no `admin` user, which only the API's users need.
pub async fn serve_node_pages(node: &Node, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let router = Router::new().fallback(super::routes::not_found);
    serve_with(node, addr, router, false).await
}

async fn serve_with(
    node: &Node,
    addr: SocketAddr,
    router: Router,
    with_users: bool,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot serve HTTP on {addr}: {e}")))?;
    let local = listener.local_addr()?;
    if with_users {
        admit_admin(node).await;
    }
    let limits = node.config().http_limits;
    // The limits wrap every route, an exercise's own included: the body limit first, and
    // around it the request's deadline, which so covers a body sent slowly.
    let router = router
        .merge(super::ops::routes(node.clone()))
        .merge(super::ring_page::routes(node.clone()))
        .layer(axum::middleware::from_fn(body_limit::limit_body))
        .layer(axum::middleware::from_fn_with_state(
            limits.request_timeout,
            within_deadline,
        ))
        // Browsers may call the API from pages of any origin: see `cors_for_browsers`.
        .layer(axum::middleware::from_fn(cors_for_browsers))
        // The access log: a span per request and a line when it is answered (status and
        // latency), at debug level: `RUST_LOG=tower_http=debug` shows them.
        .layer(TraceLayer::new_for_http());
    let lifecycle = node.lifecycle().clone();
    let stop = lifecycle.token().clone();
    let name = node.name().clone();
    let metrics = Arc::clone(node.metrics());
    // The listener and every connection are tasks of the node, so that its stop waits for
    // the answers under way, and a live feed ends with its last chunk rather than cut off.
    node.spawn(async move {
        let open = Arc::new(Semaphore::new(limits.max_connections));
        let refused = Bites::new(Duration::from_secs(10));
        let slow = Arc::new(Bites::new(Duration::from_secs(10)));
        accept_until(&listener, &stop, "an HTTP connection", |stream, from| {
            let Ok(slot) = Arc::clone(&open).try_acquire_owned() else {
                if let Some(times) = refused.bite(crate::clock::now_ms()) {
                    tracing::warn!(
                        node = %name,
                        %from,
                        "refused {times} HTTP connection(s): {} are open, the most this node \
                         takes (--http-max-connections)",
                        limits.max_connections
                    );
                }
                return;
            };
            let (router, stop, slow) = (router.clone(), stop.clone(), Arc::clone(&slow));
            let stream = Admitted {
                stream,
                _slot: slot,
                _counted: metrics.connection("http"),
            };
            lifecycle.spawn(async move {
                serve_connection(stream, from, router, limits, &stop, &slow).await;
            });
        })
        .await;
    });
    tracing::info!(node = %node.name(), addr = %local, "HTTP server listening");
    Ok(local)
}

/// An accepted connection's socket, holding its place among the `--http-max-connections`
/// and its count in `ring_connections{listener="http"}` for as long as it is open. They go
/// with the socket rather than with the task that serves it: a WebSocket takes the socket
/// over (hyper's connection ends at the upgrade), and must still count until it closes, or a
/// client could open any number of them.
struct Admitted {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    _counted: ConnectionGuard,
}

impl AsyncRead for Admitted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Serves one connection until the client closes it, breaks a limit, or the node stops.
async fn serve_connection(
    stream: Admitted,
    from: SocketAddr,
    router: Router,
    limits: HttpLimits,
    stop: &CancellationToken,
    slow: &Bites,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // With upgrades: a WebSocket (`GET /listen`) takes the connection over once answered 101,
    // and lives on in a task of its own that ends with the node (see `listen_ws.rs`); the
    // socket, and so the connection's place, goes with it.
    let connection = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router))
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stop.cancelled() => {
            // Answer what is under way, take nothing new.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result
        && error.is_timeout()
        && let Some(times) = slow.bite(crate::clock::now_ms())
    {
        tracing::warn!(
            %from,
            "closed {times} HTTP connection(s) whose request headers did not arrive within \
             {:?} (--http-header-timeout)",
            limits.header_timeout
        );
    }
}

/// The middleware that answers `408 {"type": "timeout"}` to a request not answered within
/// `deadline`.
async fn within_deadline(
    State(deadline): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request was not complete within {deadline:?} (--http-request-timeout)"),
        )
        .into_response(),
    }
}

/// CORS, for the requests of browsers: those with an `Origin` header (a browser sends it with
/// every cross-origin request, and with its preflight, `OPTIONS` with
/// `Access-Control-Request-Method`, which is answered here before any route). Other clients
/// (curl, programs) get none of its headers, which would only lengthen every answer. The
/// session token goes in a header, never in a cookie, so no credentials mode is needed.
async fn cors_for_browsers(request: Request, next: Next) -> Response {
    if !request.headers().contains_key(axum::http::header::ORIGIN) {
        return next.run(request).await;
    }
    static CORS: std::sync::OnceLock<CorsLayer> = std::sync::OnceLock::new();
    let mut service = tower_layer::Layer::layer(CORS.get_or_init(cors), next);
    use tower_service::Service;
    let ready = std::future::poll_fn(|cx| service.poll_ready(cx)).await;
    let answered = match ready {
        Ok(()) => service.call(request).await,
        Err(never) => match never {},
    };
    match answered {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// What browsers may do from other origins: every method of the API, the session headers,
/// and read the headers the API answers with.
fn cors() -> CorsLayer {
    use axum::http::{HeaderName, Method, header};
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-session"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::LOCATION,
            header::WWW_AUTHENTICATE,
            HeaderName::from_static("x-partial-result"),
            HeaderName::from_static("x-concurrent-entries"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Makes the cluster's `admin` user if there is none yet (the API's users need one to start
/// from), and says its password in the log when nobody configured it.
async fn admit_admin(node: &Node) {
    match node.access().bootstrap().await {
        Ok(Some(password)) => tracing::info!(
            node = %node.name(),
            "made the admin user, with the password {password} (derived from the cluster's \
             cookie; --admin-password or RING_ADMIN_PASSWORD sets another at a first start)"
        ),
        Ok(None) => {}
        Err(error) => tracing::warn!(node = %node.name(), %error, "cannot make the admin user"),
    }
}
