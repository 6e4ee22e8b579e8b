//! Forwarding one request to an instance and its answer back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use hyper_util::rt::TokioIo;

use crate::Shared;
use crate::pages::page;

/// Headers that belong to one hop, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub(crate) async fn forward(
    shared: &Shared,
    mut req: Request,
    peer: fn(&axum::http::Extensions) -> Option<SocketAddr>,
) -> Response {
    let started = Instant::now();
    let Some(host) = host_of(&req) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The request names no host, so no app can be chosen.",
        );
    };
    let Some((app, backends)) = shared.routes.lookup(&host) else {
        return page(
            StatusCode::NOT_FOUND,
            "No such app",
            &format!("No app is served at {host}."),
        );
    };
    if backends.is_empty() {
        record(shared, &app, &req, 503, started, None);
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Application unavailable",
            &format!("App {app} has no instance running; try again shortly."),
        );
    }
    let upgrade = is_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let client = peer(req.extensions());
    let original_host = req.headers().get(header::HOST).cloned();
    prepare_request(
        &mut req,
        client,
        original_host,
        shared.config.scheme,
        upgrade,
    );
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());

    let start = shared.next.fetch_add(1, Ordering::Relaxed);
    // A request without a body may go on an idle connection kept from an earlier one, and
    // be sent again on a new connection if that one turns out closed: it can be rebuilt.
    let reusable = !upgrade && bodiless(req.headers());
    let again = reusable.then(|| {
        (
            req.method().clone(),
            req.uri().clone(),
            req.headers().clone(),
        )
    });
    // Round robin: the instance whose turn it is, on a kept connection if it has one.
    let mut connected = None;
    if reusable {
        let addr = backends[start % backends.len()];
        connected = shared.idle.take(addr).map(|sender| (addr, sender, true));
    }
    if connected.is_none() {
        connected = connect_any(shared, &backends, start)
            .await
            .map(|(addr, sender)| (addr, sender, false));
    }
    let Some((mut addr, mut sender, pooled)) = connected else {
        note(shared, &app, &method, &path, 502, started, None);
        return page(
            StatusCode::BAD_GATEWAY,
            "Bad gateway",
            &format!("No instance of app {app} accepted the connection."),
        );
    };
    let mut answered =
        tokio::time::timeout(shared.config.response_timeout, sender.send_request(req)).await;
    if pooled
        && matches!(answered, Ok(Err(_)))
        && let Some((m, u, h)) = again
        && let Some((a, s)) = connect_any(shared, &backends, start).await
    {
        // The kept connection had been closed by the instance: once more, on a new one.
        (addr, sender) = (a, s);
        let mut retry = Request::new(Body::empty());
        *retry.method_mut() = m;
        *retry.uri_mut() = u;
        *retry.headers_mut() = h;
        answered =
            tokio::time::timeout(shared.config.response_timeout, sender.send_request(retry)).await;
    }
    let mut response = match answered {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::debug!(app, %addr, error = %e, "the instance failed");
            note(shared, &app, &method, &path, 502, started, Some(addr));
            return page(
                StatusCode::BAD_GATEWAY,
                "Bad gateway",
                &format!("An instance of app {app} closed the connection without a valid answer."),
            );
        }
        Err(_) => {
            note(shared, &app, &method, &path, 504, started, Some(addr));
            return page(
                StatusCode::GATEWAY_TIMEOUT,
                "Gateway timeout",
                &format!(
                    "App {app} did not answer within {} s.",
                    shared.config.response_timeout.as_secs()
                ),
            );
        }
    };
    let status = response.status();
    if reusable && status != StatusCode::SWITCHING_PROTOCOLS {
        // Once the answer is read to its end the connection is idle again: keep it.
        let idle = shared.idle.clone();
        tokio::spawn(async move {
            if sender.ready().await.is_ok() {
                idle.put(addr, sender);
            }
        });
    }
    if status == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_upgrade) = client_upgrade
    {
        let instance_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            match tokio::join!(client_upgrade, instance_upgrade) {
                (Ok(client), Ok(instance)) => {
                    let _ = tokio::io::copy_bidirectional(
                        &mut TokioIo::new(client),
                        &mut TokioIo::new(instance),
                    )
                    .await;
                }
                _ => tracing::debug!("an upgraded connection could not be joined"),
            }
        });
    } else {
        strip_hop_by_hop(response.headers_mut(), false);
    }
    note(
        shared,
        &app,
        &method,
        &path,
        status.as_u16(),
        started,
        Some(addr),
    );
    response.map(Body::new)
}

fn record(
    shared: &Shared,
    app: &str,
    req: &Request,
    status: u16,
    started: Instant,
    addr: Option<SocketAddr>,
) {
    note(
        shared,
        app,
        req.method(),
        req.uri().path(),
        status,
        started,
        addr,
    );
}

/// The line about one request: to tracing, and to the app's log through the routes.
fn note(
    shared: &Shared,
    app: &str,
    method: &axum::http::Method,
    path: &str,
    status: u16,
    started: Instant,
    addr: Option<SocketAddr>,
) {
    let took = started.elapsed();
    shared.routes.observe(app, status, took);
    let ms = took.as_millis();
    let instance = addr.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
    let path: String = path.chars().take(512).collect();
    tracing::debug!(target: "nubo_router", app, %method, path, instance, status, ms, "request");
    shared.routes.record(
        app,
        format!("method={method} path={path:?} status={status} instance={instance} ms={ms}"),
    );
}

/// A new connection to the first of `backends` (from `start`, round robin) that takes one.
async fn connect_any(
    shared: &Shared,
    backends: &[SocketAddr],
    start: usize,
) -> Option<(SocketAddr, Sender)> {
    for i in 0..backends.len() {
        let addr = backends[(start + i) % backends.len()];
        match tokio::time::timeout(
            shared.config.connect_timeout,
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
                    Ok((sender, conn)) => {
                        tokio::spawn(async move {
                            if let Err(e) = conn.with_upgrades().await {
                                tracing::debug!(%addr, error = %e, "instance connection ended badly");
                            }
                        });
                        return Some((addr, sender));
                    }
                    Err(e) => {
                        tracing::debug!(%addr, error = %e, "handshake with an instance failed")
                    }
                }
            }
            Ok(Err(e)) => tracing::debug!(%addr, error = %e, "an instance refused the connection"),
            Err(_) => tracing::debug!(%addr, "connecting to an instance timed out"),
        }
    }
    None
}

/// Whether a request carries no body.
fn bodiless(headers: &HeaderMap) -> bool {
    !headers.contains_key(header::TRANSFER_ENCODING)
        && headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0")
}

/// A connection to an instance, ready to send on.
pub(crate) type Sender = hyper::client::conn::http1::SendRequest<Body>;

/// Idle connections to instances, kept for the next requests without a body (as nginx's
/// upstream keepalive), at most [`IDLE_PER_INSTANCE`] per instance.
#[derive(Debug, Default, Clone)]
pub(crate) struct Idle(Arc<Mutex<HashMap<SocketAddr, Vec<Sender>>>>);

/// The most idle connections kept per instance.
const IDLE_PER_INSTANCE: usize = 32;

impl Idle {
    /// An idle connection to `addr` still open, if one is kept.
    fn take(&self, addr: SocketAddr) -> Option<Sender> {
        let mut map = self.0.lock().ok()?;
        let kept = map.get_mut(&addr)?;
        while let Some(sender) = kept.pop() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    fn put(&self, addr: SocketAddr, sender: Sender) {
        if let Ok(mut map) = self.0.lock() {
            let kept = map.entry(addr).or_default();
            if kept.len() < IDLE_PER_INSTANCE {
                kept.push(sender);
            }
        }
    }
}

/// The request's host, lowercase, without port: from `Host`, else the URI's authority.
fn host_of(req: &Request) -> Option<String> {
    let raw = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))?;
    let host = match raw.strip_prefix('[') {
        // An IPv6 literal: [addr] or [addr]:port.
        Some(rest) => format!("[{}]", rest.split_once(']')?.0),
        None => raw.split(':').next().unwrap_or_default().to_owned(),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty() && host.len() <= 253).then_some(host)
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Makes the request one for the instance: origin-form URI, no hop-by-hop headers (but the
/// upgrade ones for an upgrade), the `X-Forwarded-*` headers.
fn prepare_request(
    req: &mut Request,
    client: Option<SocketAddr>,
    original_host: Option<HeaderValue>,
    scheme: &'static str,
    upgrade: bool,
) {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    if let Ok(uri) = path.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
    let headers = req.headers_mut();
    let upgrade_to = headers.get(header::UPGRADE).cloned();
    strip_hop_by_hop(headers, upgrade);
    if upgrade && let Some(to) = upgrade_to {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, to);
    }
    if let Some(client) = client {
        let ip = client.ip().to_string();
        let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(before) => format!("{before}, {ip}"),
            None => ip,
        };
        if let Ok(v) = HeaderValue::from_str(&forwarded_for) {
            headers.insert(HeaderName::from_static("x-forwarded-for"), v);
        }
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(scheme),
    );
    if let Some(host) = original_host {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
}

/// Removes hop-by-hop headers, and the headers `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    for name in HOP_BY_HOP.iter().copied().map(str::to_owned).chain(named) {
        if keep_upgrade && (name == "upgrade" || name == "connection") {
            continue;
        }
        headers.remove(name.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(host: Option<&str>, uri: &str) -> Request {
        let mut b = axum::http::Request::builder().uri(uri);
        if let Some(h) = host {
            b = b.header(header::HOST, h);
        }
        b.body(Body::empty()).expect("request")
    }

    #[test]
    fn hosts_are_read_without_ports() {
        assert_eq!(
            host_of(&req(Some("Shop.Apps.Example:8080"), "/")).as_deref(),
            Some("shop.apps.example")
        );
        assert_eq!(
            host_of(&req(Some("shop.apps.example."), "/")).as_deref(),
            Some("shop.apps.example")
        );
        assert_eq!(
            host_of(&req(None, "http://a.b:9/x")).as_deref(),
            Some("a.b")
        );
        assert_eq!(
            host_of(&req(Some("[::1]:80"), "/")).as_deref(),
            Some("[::1]")
        );
        assert_eq!(host_of(&req(None, "/x")), None);
    }

    #[test]
    fn hop_by_hop_headers_go_and_forwarded_ones_come() {
        let mut r = axum::http::Request::builder()
            .uri("http://shop/a?b=1")
            .header(header::HOST, "shop")
            .header(header::CONNECTION, "keep-alive, x-secret")
            .header("x-secret", "1")
            .header("keep-alive", "timeout=5")
            .header("x-forwarded-for", "10.0.0.1")
            .header("te", "trailers")
            .body(Body::empty())
            .expect("request");
        prepare_request(
            &mut r,
            Some("192.0.2.7:4000".parse().expect("addr")),
            Some(HeaderValue::from_static("shop")),
            "http",
            false,
        );
        let h = r.headers();
        assert_eq!(r.uri().to_string(), "/a?b=1");
        assert!(
            h.get("x-secret").is_none() && h.get("keep-alive").is_none() && h.get("te").is_none()
        );
        assert!(h.get(header::CONNECTION).is_none());
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "shop");
    }

    #[test]
    fn upgrades_keep_their_headers() {
        let mut r = axum::http::Request::builder()
            .uri("/ws")
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "websocket")
            .body(Body::empty())
            .expect("request");
        assert!(is_upgrade(r.headers()));
        prepare_request(&mut r, None, None, "http", true);
        assert_eq!(r.headers()[header::UPGRADE], "websocket");
        assert_eq!(r.headers()[header::CONNECTION], "upgrade");
    }
}
