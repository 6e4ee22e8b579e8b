//! `nubo-router`'s routes against a fake REST API: the table is read, polled again with
//! `If-None-Match` (a 304 keeps it), kept when the API fails, replaced when it changes;
//! requests are proxied to a real instance by it; their lines reach the API in batches.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use nubo_router::Routes;
use nubo_router_agent::api::{ApiClient, AppDoc, RoutesDoc};
use nubo_router_agent::remote::{Poller, RemoteRoutes};
use nubo_router_agent::shipper::{LogQueue, Shipper};

/// What the fake API serves and saw.
#[derive(Debug, Default)]
struct Fake {
    table: RoutesDoc,
    etag: String,
    failing: bool,
    /// `If-None-Match` of each GET.
    polls: Vec<Option<String>>,
    /// Lines posted, per call.
    posted: Vec<Vec<(String, String)>>,
}

type Shared = Arc<Mutex<Fake>>;

const AUTH: &str = "Basic b25lYWRtaW46cHc="; // oneadmin:pw

async fn get_routes(State(fake): State<Shared>, headers: HeaderMap) -> Response {
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(AUTH)
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut f = fake.lock().expect("lock");
    let asked = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    f.polls.push(asked.clone());
    if f.failing {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    if asked.as_deref() == Some(f.etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let body = serde_json::to_string(&f.table).expect("json");
    ([(header::ETAG, f.etag.clone())], body).into_response()
}

async fn post_log(State(fake): State<Shared>, body: Bytes) -> StatusCode {
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let lines = v["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["app"].as_str().expect("app").to_owned(),
                l["line"].as_str().expect("line").to_owned(),
            )
        })
        .collect();
    let mut f = fake.lock().expect("lock");
    if f.failing {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    f.posted.push(lines);
    StatusCode::NO_CONTENT
}

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

async fn fake_api(fake: Shared) -> String {
    let router = axum::Router::new()
        .route("/api/v1/router/routes", axum::routing::get(get_routes))
        .route("/api/v1/router/log", axum::routing::post(post_log))
        .with_state(fake);
    format!("http://{}/api/v1", serve(router).await)
}

fn table(app: &str, hosts: &[&str], backends: &[SocketAddr]) -> RoutesDoc {
    RoutesDoc {
        apps_domain: Some("apps.localhost".into()),
        apps: vec![AppDoc {
            app: app.into(),
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            backends: backends.to_vec(),
        }],
    }
}

async fn get(router: SocketAddr, host: &str) -> (StatusCode, String) {
    let mut sender = nubo_hostapi::tls::http1::<Full<Bytes>>(&router.to_string(), false)
        .await
        .expect("connect");
    let req = axum::http::Request::get("/")
        .header(header::HOST, host)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let reply = sender.send_request(req).await.expect("answer");
    let status = reply.status();
    let body = reply.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_table_is_polled_with_its_etag_and_kept_while_the_api_fails() {
    let backend =
        serve(axum::Router::new().route("/", axum::routing::get(|| async { "hi" }))).await;
    let fake: Shared = Arc::default();
    {
        let mut f = fake.lock().expect("lock");
        f.table = table(
            "shop",
            &["shop.apps.localhost", "www.example.com"],
            &[backend],
        );
        f.etag = "\"t1\"".into();
    }
    let api = fake_api(fake.clone()).await;
    let (queue, _rx) = LogQueue::new();
    let routes = Arc::new(RemoteRoutes::new(queue));
    let mut poller = Poller::new(
        ApiClient::new(&api, "oneadmin", "pw").expect("client"),
        routes.clone(),
    );
    assert_eq!(routes.lookup("shop.apps.localhost"), None);
    assert!(poller.poll().await.expect("first poll"));
    let shop = Some(("shop".to_owned(), vec![backend]));
    assert_eq!(routes.lookup("shop.apps.localhost"), shop);
    assert_eq!(routes.lookup("www.example.com"), shop);
    // Unchanged: a 304, the table stays.
    assert!(!poller.poll().await.expect("second poll"));
    assert_eq!(routes.lookup("www.example.com"), shop);
    // The API fails: the last table is kept.
    fake.lock().expect("lock").failing = true;
    assert!(poller.poll().await.is_err());
    assert!(poller.poll().await.is_err());
    assert_eq!(routes.lookup("shop.apps.localhost"), shop);
    // It comes back with a new table.
    {
        let mut f = fake.lock().expect("lock");
        f.failing = false;
        f.table = table("shop", &["shop.apps.localhost"], &[]);
        f.etag = "\"t2\"".into();
    }
    assert!(poller.poll().await.expect("poll"));
    assert_eq!(routes.lookup("www.example.com"), None);
    assert_eq!(
        routes.lookup("shop.apps.localhost"),
        Some(("shop".to_owned(), vec![]))
    );
    let polls = fake.lock().expect("lock").polls.clone();
    assert_eq!(polls[0], None);
    assert_eq!(polls[1].as_deref(), Some("\"t1\""));
    assert_eq!(polls.last().expect("last").as_deref(), Some("\"t1\""));

    // Wrong credentials are a refusal.
    let mut wrong = Poller::new(
        ApiClient::new(&api, "oneadmin", "nope").expect("client"),
        routes.clone(),
    );
    assert!(wrong.poll().await.expect_err("refused").is_refusal());
}

#[tokio::test]
async fn requests_are_routed_by_the_table_and_their_lines_shipped() {
    let backend =
        serve(axum::Router::new().route("/", axum::routing::get(|| async { "hello from shop" })))
            .await;
    let fake: Shared = Arc::default();
    {
        let mut f = fake.lock().expect("lock");
        f.table = table("shop", &["shop.apps.localhost"], &[backend]);
        f.etag = "\"t1\"".into();
    }
    let api = fake_api(fake.clone()).await;
    let (queue, rx) = LogQueue::new();
    let routes = Arc::new(RemoteRoutes::new(queue.clone()));
    let mut poller = Poller::new(
        ApiClient::new(&api, "oneadmin", "pw").expect("client"),
        routes.clone(),
    );
    poller.poll().await.expect("poll");
    let router = serve(nubo_router::router(
        routes,
        nubo_router::RouterConfig::default(),
        |_| None,
    ))
    .await;
    assert_eq!(
        get(router, "shop.apps.localhost").await,
        (StatusCode::OK, "hello from shop".into())
    );
    assert_eq!(
        get(router, "nobody.apps.localhost").await.0,
        StatusCode::NOT_FOUND
    );

    let mut shipper = Shipper::new(
        ApiClient::new(&api, "oneadmin", "pw").expect("client"),
        queue.clone(),
        rx,
    );
    assert_eq!(shipper.flush().await, 1);
    let posted = fake.lock().expect("lock").posted.clone();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0][0].0, "shop");
    assert!(
        posted[0][0].1.contains("method=GET") && posted[0][0].1.contains("status=200"),
        "{posted:?}"
    );

    // 2,500 lines go in three calls; while the API fails they are lost, not kept.
    for i in 0..2500 {
        queue.push("shop", format!("line {i}"));
    }
    assert_eq!(shipper.flush().await, 2500);
    let sizes: Vec<usize> = fake.lock().expect("lock").posted[1..]
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    fake.lock().expect("lock").failing = true;
    queue.push("shop", "lost".into());
    assert_eq!(shipper.flush().await, 0);
    fake.lock().expect("lock").failing = false;
    assert_eq!(shipper.flush().await, 0);
    assert_eq!(fake.lock().expect("lock").posted.len(), 4);
}
