//! The router against real TCP instances: round robin, skipping an instance that refuses,
//! streaming bodies, forwarded headers, upgrades, and its own 404, 502 and 503 answers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nubo_router::{RouterConfig, Routes};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Default)]
struct Table(
    Mutex<HashMap<String, Vec<SocketAddr>>>,
    Mutex<Vec<(String, String)>>,
);

impl Routes for Table {
    fn lookup(&self, host: &str) -> Option<(String, Vec<SocketAddr>)> {
        let app = host.strip_suffix(".apps.test")?;
        let map = self.0.lock().expect("lock");
        map.get(app).map(|b| (app.to_owned(), b.clone()))
    }

    fn record(&self, app: &str, line: String) {
        self.1.lock().expect("lock").push((app.to_owned(), line));
    }
}

/// An instance answering every request with its name, the request's X-Forwarded-For and
/// the length of the body it read; `/echo` sends the body back; `/ws` answers 101 and then
/// echoes bytes.
async fn instance(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(serve(stream, name));
        }
    });
    addr
}

async fn serve(stream: TcpStream, name: &'static str) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).await.expect("header");
            let h = h.trim_end().to_owned();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').expect("header line");
            headers.insert(k.to_ascii_lowercase(), v.trim().to_owned());
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).await.expect("body");
        let stream = reader.get_mut();
        if path == "/ws" {
            stream
                .write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
                .await
                .expect("101");
            let mut buf = [0u8; 1024];
            loop {
                let n = reader.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                reader.get_mut().write_all(&buf[..n]).await.expect("echo");
            }
        }
        let reply = if path == "/echo" {
            body
        } else {
            format!(
                "{name} xff={} xfp={} xfh={} len={length}",
                headers.get("x-forwarded-for").cloned().unwrap_or_default(),
                headers
                    .get("x-forwarded-proto")
                    .cloned()
                    .unwrap_or_default(),
                headers.get("x-forwarded-host").cloned().unwrap_or_default(),
            )
            .into_bytes()
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            reply.len()
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        stream.write_all(&reply).await.expect("reply");
    }
}

async fn start_router(table: Arc<Table>) -> SocketAddr {
    let router = nubo_router::router(table, RouterConfig::default(), |ext| {
        ext.get::<nubo_listener::Peer>().map(|p| p.0)
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(nubo_listener::serve(
        listener,
        None,
        router,
        nubo_listener::Limits::default(),
        std::future::pending(),
    ));
    addr
}

/// One request over a new connection; the status and body.
async fn request(
    router: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(router).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write body");
    let mut all = Vec::new();
    stream.read_to_end(&mut all).await.expect("read");
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head end");
    let head = String::from_utf8_lossy(&all[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .expect("status")
        .parse()
        .expect("number");
    let mut rest = all[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        rest = dechunk(&rest);
    }
    (status, rest)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..line_end]).expect("utf8").trim(),
            16,
        )
        .expect("hex");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[tokio::test]
async fn requests_reach_the_apps_instances_in_turn() {
    let (a, b) = (instance("a").await, instance("b").await);
    let refusing = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr")
    };
    let table = Arc::new(Table::default());
    table
        .0
        .lock()
        .expect("lock")
        .insert("shop".into(), vec![a, refusing, b]);
    table.0.lock().expect("lock").insert("empty".into(), vec![]);
    table
        .0
        .lock()
        .expect("lock")
        .insert("dead".into(), vec![refusing]);
    let router = start_router(table.clone()).await;

    let mut seen = Vec::new();
    for _ in 0..6 {
        let (status, body) = request(router, "shop.apps.test:8080", "GET", "/", b"").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let text = String::from_utf8(body).expect("utf8");
        assert!(text.contains("xff=127.0.0.1"), "{text}");
        assert!(
            text.contains("xfp=http") && text.contains("xfh=shop.apps.test:8080"),
            "{text}"
        );
        seen.push(text.split(' ').next().expect("name").to_owned());
    }
    assert!(
        seen.contains(&"a".to_owned()) && seen.contains(&"b".to_owned()),
        "{seen:?}"
    );

    let (status, body) = request(router, "nope.apps.test", "GET", "/", b"").await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("No app is served at nope.apps.test"));
    assert_eq!(
        request(router, "empty.apps.test", "GET", "/", b"").await.0,
        503
    );
    assert_eq!(
        request(router, "dead.apps.test", "GET", "/", b"").await.0,
        502
    );
    // A hostile host is escaped in the page.
    let (status, body) = request(router, "<script>", "GET", "/", b"").await;
    assert_eq!(status, 404);
    assert!(!String::from_utf8_lossy(&body).contains("<script>"));
    // Every routed request left a line for its app's log.
    let lines = table.1.lock().expect("lock").clone();
    let of = |app: &str, status: &str| {
        lines
            .iter()
            .filter(|(a, l)| a == app && l.contains(&format!("status={status} ")))
            .count()
    };
    assert_eq!(of("shop", "200"), 6, "{lines:?}");
    assert_eq!((of("empty", "503"), of("dead", "502")), (1, 1), "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|(_, l)| l.starts_with("method=GET path=\"/\" ")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn bodies_stream_both_ways() {
    let a = instance("a").await;
    let table = Arc::new(Table::default());
    table.0.lock().expect("lock").insert("shop".into(), vec![a]);
    let router = start_router(table).await;
    let body: Vec<u8> = (0..8 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let (status, back) = tokio::time::timeout(
        Duration::from_secs(60),
        request(router, "shop.apps.test", "POST", "/echo", &body),
    )
    .await
    .expect("in time");
    assert_eq!(status, 200);
    assert!(
        back == body,
        "the body came back changed ({} bytes)",
        back.len()
    );
}

#[tokio::test]
async fn upgraded_connections_are_joined() {
    let a = instance("a").await;
    let table = Arc::new(Table::default());
    table.0.lock().expect("lock").insert("shop".into(), vec![a]);
    let router = start_router(table).await;
    let mut stream = TcpStream::connect(router).await.expect("connect");
    stream
        .write_all(b"GET /ws HTTP/1.1\r\nHost: shop.apps.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("head");
        head.push(byte[0]);
    }
    assert!(
        String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    for message in [&b"hello"[..], b"world, twice"] {
        stream.write_all(message).await.expect("send");
        let mut back = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut back))
            .await
            .expect("in time")
            .expect("echo");
        assert_eq!(back, message);
    }
}

/// An instance that counts its connections; with `close_idle`, it closes each connection
/// after its first answer without saying so (as an idle timeout does).
async fn counting_instance(close_idle: bool) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).await.unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    let _ = reader
                        .get_mut()
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await;
                    if close_idle {
                        return;
                    }
                }
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn connections_to_instances_are_kept_and_a_closed_one_is_replaced() {
    use std::sync::atomic::Ordering;
    for close_idle in [false, true] {
        let (addr, connections) = counting_instance(close_idle).await;
        let table = Arc::new(Table::default());
        table
            .0
            .lock()
            .expect("lock")
            .insert("shop".into(), vec![addr]);
        let router = start_router(table).await;
        for _ in 0..10 {
            let (status, body) = request(router, "shop.apps.test", "GET", "/", b"").await;
            assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
            // Let the router put the connection back (and the instance close it).
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let n = connections.load(Ordering::SeqCst);
        if close_idle {
            // Every kept connection was found closed and the request sent again on a new one.
            assert!(n >= 10, "{n}");
        } else {
            assert!(n < 5, "{n} connections for 10 requests");
        }
        // A request with a body never takes a kept connection (it could not be sent again).
        let (status, _) = request(router, "shop.apps.test", "POST", "/", b"data").await;
        assert_eq!(status, 200);
    }
}
