//! The accept loop and each connection: the connection limit, TLS with a handshake
//! deadline, HTTP/1.1 with header and keep-alive timeouts, and a stop that lets requests
//! in progress finish for a bounded time.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::rustls::ServerConfig;

use crate::Limits;

/// Largest request head (request line and headers) a connection buffers.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Most headers in one request.
const MAX_HEADERS: usize = 100;

/// What a client over the connection limit is told before its connection is closed.
const BUSY_REPLY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Type: text/plain\r\nContent-Length: 30\r\n\r\ntoo many connections, retry\r\n\r\n";

/// Time to tell a client over the limit that it is refused.
const BUSY_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves `router` on `listener` (over TLS with `tls`) within `limits` until `shutdown`
/// resolves; then stops accepting and returns once the connections are done or
/// [`Limits::stop_grace`] has passed.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    router: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait for connections to close.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse(stream, acceptor.is_some());
            continue;
        };
        tokio::spawn(connection(Connection {
            stream,
            peer,
            acceptor: acceptor.clone(),
            router: router.clone(),
            limits: limits.clone(),
            stop: stop_rx.clone(),
            _slot: slot,
        }));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.stop_grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::info!(
            busy = max - slots.available_permits(),
            "stopped with requests still in progress"
        );
    }
    Ok(())
}

/// Answers a client over the connection limit with a 503 (plain HTTP only: a TLS client
/// is just closed) and closes its connection, without holding up the accept loop.
fn refuse(mut stream: TcpStream, tls: bool) {
    tracing::debug!("connection limit reached: refusing a connection");
    if tls {
        return;
    }
    tokio::spawn(async move {
        let _ = tokio::time::timeout(BUSY_WRITE_TIMEOUT, async {
            let _ = stream.write_all(BUSY_REPLY).await;
            let _ = stream.shutdown().await;
        })
        .await;
    });
}

/// One accepted connection and what serving it needs.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
    limits: Limits,
    stop: watch::Receiver<bool>,
    /// Held while the connection lives.
    _slot: OwnedSemaphorePermit,
}

async fn connection(c: Connection) {
    let _ = c.stream.set_nodelay(true);
    let Some(acceptor) = c.acceptor.clone() else {
        return http(c.stream, c.peer, c.router, &c.limits, c.stop).await;
    };
    match tokio::time::timeout(c.limits.handshake_timeout, acceptor.accept(c.stream)).await {
        Ok(Ok(tls)) => http(tls, c.peer, c.router, &c.limits, c.stop).await,
        Ok(Err(e)) => tracing::debug!(peer = %c.peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(peer = %c.peer, "TLS handshake timed out"),
    }
}

/// Answers a request that carried a body with an error `Connection: close`: a front end
/// that refuses a request (415, 401, 413, …) may not have read its body, and a connection
/// with an unread body cannot carry the next request; saying so keeps clients from sending
/// their next request on a connection that is about to close.
async fn close_after_refusal(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header;
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let mut response = next.run(req).await;
    if has_body && response.status().as_u16() >= 400 {
        response.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// The address a request came from, as an extension of every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

async fn http<I>(
    io: I,
    peer: SocketAddr,
    router: axum::Router,
    limits: &Limits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    let router = router
        .layer(axum::middleware::from_fn(close_after_refusal))
        .layer(axum::Extension(Peer(peer)));
    let conn = builder
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(router))
        .with_upgrades();
    tokio::pin!(conn);
    let stopping = async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    };
    let served = tokio::select! {
        served = conn.as_mut() => served,
        () = stopping => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "connection ended badly");
    }
}
