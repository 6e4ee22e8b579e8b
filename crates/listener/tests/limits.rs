//! The listener's limits against real sockets: idle and slow clients are cut off, clients
//! over the connection limit are refused with a 503 while others are still served, and a
//! stop returns within its grace even while a request hangs.

use std::time::Duration;

use axum::routing::get;
use nubo_listener::{Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn limits() -> Limits {
    Limits {
        max_connections: 3,
        header_timeout: Duration::from_millis(500),
        handshake_timeout: Duration::from_millis(500),
        stop_grace: Duration::from_millis(500),
    }
}

async fn start(
    limits: Limits,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let router = axum::Router::new()
        .route("/", get(|| async { "hello" }))
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, None, router, limits, async {
        let _ = rx.await;
    }));
    (addr, tx, task)
}

/// Everything the server sends until it closes the connection (or `wait` passes).
async fn until_closed(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&out).into_owned())
}

async fn get_root(addr: std::net::SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("an answer")
}

#[tokio::test]
async fn idle_and_slow_clients_are_cut_off() {
    let (addr, _stop, _task) = start(limits()).await;
    // Says nothing at all.
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    // Sends half a request line, then nothing (slowloris).
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    // Keeps the connection after a request.
    let mut kept = TcpStream::connect(addr).await.expect("connect");
    kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    for (name, s) in [
        ("idle", &mut idle),
        ("slow", &mut slow),
        ("kept", &mut kept),
    ] {
        let got = until_closed(s, Duration::from_secs(5)).await;
        assert!(got.is_some(), "the {name} connection was not closed");
        if name == "kept" {
            assert!(got.unwrap_or_default().contains("hello"), "answered first");
        }
    }
}

#[tokio::test]
async fn clients_over_the_limit_are_refused_cleanly() {
    let mut l = limits();
    l.header_timeout = Duration::from_secs(30);
    let (addr, _stop, _task) = start(l).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = get_root(addr).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = get_root(addr).await;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("hello"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_stop_returns_within_its_grace() {
    let (addr, stop, task) = start(limits()).await;
    let mut hanging = TcpStream::connect(addr).await.expect("connect");
    hanging
        .write_all(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = stop.send(());
    let stopped = tokio::time::timeout(Duration::from_secs(5), task).await;
    assert!(stopped.is_ok(), "serve did not return after its grace");
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

#[tokio::test]
async fn a_call_whose_client_hangs_up_is_dropped() {
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = finished.clone();
    let router = axum::Router::new().route(
        "/slow",
        get(move || {
            let flag = flag.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(800)).await;
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                "done"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _task = tokio::spawn(serve(
        listener,
        None,
        router,
        limits(),
        std::future::pending(),
    ));
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client
        .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(client);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !finished.load(std::sync::atomic::Ordering::SeqCst),
        "the call went on after its client had gone"
    );
}
