//! How long a client may take: the API's own HTTP/1 connection loop with a header read
//! timeout (a client that sends its headers a byte at a time is cut off), a deadline for
//! reading the body, and a deadline for the whole request. Without them one slow client holds
//! a connection, a task and, mid-transaction, a database connection for as long as it likes.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::problem::ApiError;

/// The API's time limits (`REFUNDD_API_*_TIMEOUT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// From the first byte of a request to the end of its headers.
    pub header_read: Duration,
    /// From the end of the headers to the end of the body.
    pub body_read: Duration,
    /// From the end of the headers to the end of the answer.
    pub request: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self::from_settings(&shared::config::Settings::default())
    }
}

impl ServerLimits {
    pub fn from_settings(s: &shared::config::Settings) -> Self {
        Self {
            header_read: s.api_header_timeout,
            body_read: s.api_body_timeout,
            request: s.api_request_timeout,
        }
    }
}

/// When the body of this request must have arrived (a request extension).
#[derive(Clone, Copy, Debug)]
pub struct BodyDeadline {
    pub at: Instant,
    pub limit: Duration,
}

impl BodyDeadline {
    /// The answer for a body that failed to arrive: 408 when the deadline passed.
    pub fn timed_out(deadline: Option<&BodyDeadline>) -> Option<ApiError> {
        let d = deadline?;
        (Instant::now() >= d.at).then(|| {
            ApiError::request_timeout(format!(
                "the request body did not arrive within {} s; send it at once (a slow or \
                 stalled upload is cut off)",
                d.limit.as_secs()
            ))
        })
    }
}

/// A body that fails once its deadline has passed, however slowly the bytes trickle in.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTooSlow;

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTooSlow))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: the body gets its deadline, the whole request its own.
pub async fn deadlines(State(limits): State<ServerLimits>, req: Request, next: Next) -> Response {
    let at = Instant::now() + limits.body_read;
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(BodyDeadline {
        at,
        limit: limits.body_read,
    });
    let body = Body::new(DeadlineBody {
        inner: body,
        deadline: Box::pin(tokio::time::sleep_until(at)),
    });
    let req = Request::from_parts(parts, body);
    match tokio::time::timeout(limits.request, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                limit_s = limits.request.as_secs(),
                "request not answered in time; cut off"
            );
            ApiError::answer_timeout(format!(
                "the request could not be answered within {} s; it may or may not have been applied: read the resource before trying again",
                limits.request.as_secs()
            ))
            .into_response()
        }
    }
}

/// Serves `app` on `listener` over HTTP/1 until `shutdown`, then lets requests in flight
/// finish. Each connection's client address is given to handlers as [`ConnectInfo`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(remote));
            tower_service::Service::call(&mut app.clone(), req.map(Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // Requests in flight finish (each has its own deadline); idle connections close now.
    graceful.shutdown().await;
    Ok(())
}
