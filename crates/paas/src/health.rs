//! Health checks of process types: what the owner may set (checked here), and the probes
//! that tell whether a new instance is up — its process runs (`process`), `$PORT` accepts
//! connections (`port`, the default of `web`), `GET <path>` answers 2xx (`http`), or a
//! command run in it exits 0 (`command`, run by [`crate::check_command`]).
//! The reconciler ([`crate::instances`]) runs the probes; an instance that does not pass
//! within the check's timeout fails its release.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use nubo_core::Caller;
use nubo_types::AuthOp;

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::instances::WEB_PORT;
use crate::model::{App, HealthCheck, HealthCheckType};
use crate::names;

/// How long a new instance has by default (Heroku's and Cloud Foundry's 60 s).
pub const DEFAULT_TIMEOUT: u32 = 60;
/// Seconds between checks of an instance that is up, by default.
pub const DEFAULT_INTERVAL: u32 = 2;
/// The longest interval an owner may set.
pub const INTERVAL_MAX: u32 = 600;
/// Failed checks in a row that replace an instance, by default.
pub const DEFAULT_FAILURES: u32 = 3;
/// The most failed checks in a row an owner may allow.
pub const FAILURES_MAX: u32 = 100;

/// [`DEFAULT_INTERVAL`], for checks kept before intervals existed.
pub(crate) fn default_interval() -> u32 {
    DEFAULT_INTERVAL
}

/// [`DEFAULT_FAILURES`], for checks kept before thresholds existed.
pub(crate) fn default_failures() -> u32 {
    DEFAULT_FAILURES
}
/// The longest timeout an owner may set.
pub const TIMEOUT_MAX: u32 = 600;
/// The longest path of an `http` check.
pub const PATH_MAX: usize = 1024;
/// The most health checks an app may set.
pub const COUNT_MAX: usize = 32;
/// How long a probe waits for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long an `http` probe waits for the answer's head (Cloud Foundry's 1 s).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// Health check changes: a check sets it, `None` goes back to the default.
pub type HealthCheckEdit = BTreeMap<String, Option<HealthCheck>>;

impl HealthCheck {
    /// The check a process type has unless its owner set one.
    pub fn default_for(process_type: &str) -> HealthCheck {
        HealthCheck {
            kind: if process_type == "web" {
                HealthCheckType::Port
            } else {
                HealthCheckType::Process
            },
            path: None,
            command: None,
            timeout: DEFAULT_TIMEOUT,
            status: None,
            interval: DEFAULT_INTERVAL,
            failures: DEFAULT_FAILURES,
        }
    }

    /// The check of `process_type` in `app`.
    pub fn of(app: &App, process_type: &str) -> HealthCheck {
        app.health_checks
            .get(process_type)
            .cloned()
            .unwrap_or_else(|| HealthCheck::default_for(process_type))
    }

    /// Whether an owner may set this check on `process_type`.
    pub fn validate(&self, process_type: &str) -> Result<()> {
        names::check_process_type(process_type)?;
        if !(1..=TIMEOUT_MAX).contains(&self.timeout) {
            return Err(PaasError::Invalid(format!(
                "a health check's timeout is 1 to {TIMEOUT_MAX} seconds, not {}",
                self.timeout
            )));
        }
        if !(1..=INTERVAL_MAX).contains(&self.interval) {
            return Err(PaasError::Invalid(format!(
                "a health check's interval is 1 to {INTERVAL_MAX} seconds, not {}",
                self.interval
            )));
        }
        if !(1..=FAILURES_MAX).contains(&self.failures) {
            return Err(PaasError::Invalid(format!(
                "a health check's failure threshold is 1 to {FAILURES_MAX}, not {}",
                self.failures
            )));
        }
        if let Some(status) = self.status
            && (self.kind != HealthCheckType::Http || !(100..=599).contains(&status))
        {
            return Err(PaasError::Invalid(format!(
                "only an http health check expects a status, 100 to 599 (not {status})"
            )));
        }
        let needs_port = matches!(self.kind, HealthCheckType::Port | HealthCheckType::Http);
        if needs_port && process_type != "web" {
            return Err(PaasError::Invalid(format!(
                "only web processes get a $PORT: a {process_type} process's health check can \
                 only be of type process or command"
            )));
        }
        match (self.kind, &self.command) {
            (HealthCheckType::Command, None) => {
                return Err(PaasError::Invalid(
                    "a command health check needs a command, such as `test -f /tmp/ready`".into(),
                ));
            }
            (HealthCheckType::Command, Some(command)) => {
                crate::check_command::check_command(command).map_err(PaasError::Invalid)?;
            }
            (_, Some(_)) => {
                return Err(PaasError::Invalid(
                    "only a command health check has a command".into(),
                ));
            }
            (_, None) => {}
        }
        match (self.kind, &self.path) {
            (HealthCheckType::Http, None) => Err(PaasError::Invalid(
                "an http health check needs a path, such as /health".into(),
            )),
            (HealthCheckType::Http, Some(path)) => check_path(path),
            (_, Some(_)) => Err(PaasError::Invalid(
                "only an http health check has a path".into(),
            )),
            (_, None) => Ok(()),
        }
    }

    /// What the check waits for, as a reason's words: "accept connections on port 5000".
    pub(crate) fn expectation(&self) -> String {
        match (self.kind, &self.path) {
            (HealthCheckType::Http, Some(path)) => {
                let status = self.status.map_or("2xx".to_owned(), |s| s.to_string());
                format!("answer GET {path} on port {WEB_PORT} ($PORT) with {status}")
            }
            (HealthCheckType::Process, _) => "keep its process running".into(),
            (HealthCheckType::Command, _) => format!(
                "pass its check command ({})",
                self.command.as_deref().unwrap_or_default()
            ),
            _ => format!("accept connections on port {WEB_PORT} ($PORT)"),
        }
    }
}

/// A path an `http` check may ask for: absolute, visible ASCII, bounded.
fn check_path(path: &str) -> Result<()> {
    if !path.starts_with('/')
        || path.len() > PATH_MAX
        || !path.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(PaasError::Invalid(format!(
            "a health check's path starts with / and is at most {PATH_MAX} visible ASCII \
             characters (no spaces)"
        )));
    }
    if path.parse::<hyper::Uri>().map_or(true, |uri| {
        uri.path_and_query().map(|p| p.as_str()) != Some(path)
    }) {
        return Err(PaasError::Invalid(format!(
            "{path:?} is not a request path"
        )));
    }
    Ok(())
}

/// Whether an instance at `ip` (if it has an address yet) passes `check`; else what it
/// did instead. `host` is the Host header an `http` probe sends.
pub(crate) async fn probe(
    check: &HealthCheck,
    ip: Option<IpAddr>,
    host: &str,
) -> std::result::Result<(), String> {
    match check.kind {
        HealthCheckType::Process => return Ok(()),
        HealthCheckType::Command => return Err("a check command runs in the instance".into()),
        HealthCheckType::Port | HealthCheckType::Http => {}
    }
    let ip = ip.ok_or("it has no address yet")?;
    let stream = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect(SocketAddr::new(ip, WEB_PORT)),
    )
    .await
    .map_err(|_| "connecting timed out".to_owned())?
    .map_err(|e| format!("connecting: {e}"))?;
    let (HealthCheckType::Http, Some(path)) = (check.kind, &check.path) else {
        return Ok(());
    };
    tokio::time::timeout(ANSWER_TIMEOUT, http_get(stream, host, path, check.status))
        .await
        .map_err(|_| format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()))?
}

/// `GET path` over `stream`: Ok on 2xx, else the status or the error.
async fn http_get(
    stream: tokio::net::TcpStream,
    host: &str,
    path: &str,
    wanted: Option<u16>,
) -> std::result::Result<(), String> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let connection = tokio::spawn(connection);
    let request = Request::get(path)
        .header(HOST, host)
        .header(USER_AGENT, "nubo-health-check")
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("HTTP: {e}"))?;
    let answer = sender.send_request(request).await;
    connection.abort();
    let status = answer.map_err(|e| format!("HTTP: {e}"))?.status();
    if wanted.map_or(status.is_success(), |w| status.as_u16() == w) {
        Ok(())
    } else {
        Err(format!("GET {path} answered {status}"))
    }
}

impl Paas {
    /// Every process type's health check (USE): those the current release declares and
    /// those set, each as set or by default.
    pub fn health_checks_get(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(App, BTreeMap<String, HealthCheck>)> {
        self.read(|state| {
            let app = self.app_for(state, caller, name, AuthOp::Use)?;
            let mut checks: BTreeMap<String, HealthCheck> = state
                .releases
                .get(&(app.id, app.release))
                .map(|r| {
                    r.process_types
                        .keys()
                        .map(|t| (t.clone(), HealthCheck::of(&app, t)))
                        .collect()
                })
                .unwrap_or_default();
            checks.extend(app.health_checks.clone());
            Ok((app, checks))
        })
    }

    /// Sets and unsets health checks (MANAGE); they apply to instances not yet up.
    pub async fn health_checks_update(
        &self,
        caller: &Caller,
        name: &str,
        edit: HealthCheckEdit,
        if_match: Option<u64>,
    ) -> Result<App> {
        for (kind, check) in &edit {
            names::check_process_type(kind)?;
            if let Some(check) = check {
                check.validate(kind)?;
            }
        }
        let now = nubo_core::now();
        let app = self
            .write(|staged| {
                let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
                crate::apps::check_revision(&app, if_match)?;
                for (kind, check) in edit.clone() {
                    match check {
                        Some(check) if check != HealthCheck::default_for(&kind) => {
                            app.health_checks.insert(kind, check)
                        }
                        _ => app.health_checks.remove(&kind),
                    };
                }
                if app.health_checks.len() > COUNT_MAX {
                    return Err(PaasError::Invalid(format!(
                        "an app sets at most {COUNT_MAX} health checks"
                    )));
                }
                staged.put_changed_app(&mut app, now);
                Ok(app)
            })
            .await?;
        self.clear_failed(app.id);
        self.wake();
        for kind in edit.keys() {
            let check = HealthCheck::of(&app, kind);
            self.app_event(
                app.id,
                &format!(
                    "Health check of {kind} set by {}: a new instance is up once it can {} \
                     (it has {} s)",
                    caller.uname,
                    check.expectation(),
                    check.timeout
                ),
            )
            .await;
        }
        Ok(app)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(path: &str) -> HealthCheck {
        HealthCheck {
            kind: HealthCheckType::Http,
            path: Some(path.into()),
            timeout: 30,
            ..HealthCheck::default_for("web")
        }
    }

    #[test]
    fn web_may_have_any_check_other_types_only_process() {
        assert!(http("/health").validate("web").is_ok());
        assert!(http("/health?full=1").validate("web").is_ok());
        assert!(HealthCheck::default_for("web").validate("web").is_ok());
        assert!(
            HealthCheck::default_for("worker")
                .validate("worker")
                .is_ok()
        );
        let err = http("/health")
            .validate("worker")
            .expect_err("worker http")
            .to_string();
        assert!(err.contains("only web processes get a $PORT"), "{err}");
        let port = HealthCheck::default_for("web");
        assert!(port.validate("clock").is_err());
    }

    #[test]
    fn any_type_may_have_a_command_check_and_only_it_a_command() {
        let command = |c: Option<&str>| HealthCheck {
            kind: HealthCheckType::Command,
            command: c.map(str::to_owned),
            ..HealthCheck::default_for("worker")
        };
        for kind in ["web", "worker", "clock"] {
            assert!(command(Some("test -f /tmp/ready")).validate(kind).is_ok());
        }
        let none = command(None).validate("worker").expect_err("no command");
        assert!(none.to_string().contains("needs a command"), "{none}");
        assert!(command(Some("a\nb")).validate("worker").is_err());
        assert!(command(Some(" ")).validate("worker").is_err());
        let port_with_command = HealthCheck {
            command: Some("true".into()),
            ..HealthCheck::default_for("web")
        };
        let err = port_with_command
            .validate("web")
            .expect_err("port + command");
        assert!(
            err.to_string().contains("only a command health check"),
            "{err}"
        );
        assert_eq!(
            command(Some("test -f /tmp/ready")).expectation(),
            "pass its check command (test -f /tmp/ready)"
        );
    }

    #[test]
    fn bad_paths_timeouts_and_types_are_refused() {
        for path in [
            "health",
            "/a b",
            "/\u{e9}",
            "/x\n",
            "",
            "//evil.example/x#frag",
        ] {
            assert!(http(path).validate("web").is_err(), "{path:?}");
        }
        assert!(
            http(&format!("/{}", "a".repeat(PATH_MAX)))
                .validate("web")
                .is_err()
        );
        let no_path = HealthCheck {
            path: None,
            ..http("/")
        };
        assert!(no_path.validate("web").is_err());
        let port_with_path = HealthCheck {
            kind: HealthCheckType::Port,
            ..http("/")
        };
        assert!(port_with_path.validate("web").is_err());
        for timeout in [0, TIMEOUT_MAX + 1] {
            assert!(
                HealthCheck {
                    timeout,
                    ..http("/")
                }
                .validate("web")
                .is_err()
            );
        }
        assert!(http("/").validate("Web!").is_err());
        for interval in [0, INTERVAL_MAX + 1] {
            let check = HealthCheck {
                interval,
                ..http("/")
            };
            assert!(check.validate("web").is_err(), "interval {interval}");
        }
        for failures in [0, FAILURES_MAX + 1] {
            let check = HealthCheck {
                failures,
                ..http("/")
            };
            assert!(check.validate("web").is_err(), "failures {failures}");
        }
        let expects = |status| HealthCheck {
            status: Some(status),
            ..http("/")
        };
        assert!(expects(204).validate("web").is_ok());
        assert!(expects(99).validate("web").is_err());
        assert!(expects(600).validate("web").is_err());
        let port_with_status = HealthCheck {
            status: Some(200),
            ..HealthCheck::default_for("web")
        };
        assert!(port_with_status.validate("web").is_err());
    }

    proptest::proptest! {
        /// Any path an owner sends is refused, or is one an HTTP request line carries as is.
        #[test]
        fn any_path_is_refused_or_a_request_path(path in "\\PC{0,40}|/[!-~]{0,1100}") {
            let check = http(&path);
            if check.validate("web").is_ok() {
                proptest::prop_assert!(path.starts_with('/') && path.len() <= PATH_MAX);
                proptest::prop_assert!(path.bytes().all(|b| b.is_ascii_graphic()));
                let uri: hyper::Uri = path.parse().expect("accepted paths parse");
                proptest::prop_assert_eq!(uri.path_and_query().map(|p| p.as_str()), Some(path.as_str()));
            }
        }
    }

    /// A server on `ip`:5000 answering `/ok` with 204 and anything else with 503, and
    /// saying which Host it was asked for in a header.
    async fn serve(ip: IpAddr) -> tokio::task::JoinHandle<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, WEB_PORT))
            .await
            .expect("bind");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = vec![0; 4096];
                let n = stream.read(&mut head).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&head[..n]).to_string();
                let status = if head.starts_with("GET /ok HTTP/1.1\r\n")
                    && head
                        .to_ascii_lowercase()
                        .contains("\r\nhost: app.example\r\n")
                {
                    "204 No Content"
                } else {
                    "503 Service Unavailable"
                };
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        })
    }

    #[tokio::test]
    async fn probes_tell_up_from_not_up() {
        let process = HealthCheck::default_for("worker");
        assert_eq!(probe(&process, None, "a").await, Ok(()));
        let port = HealthCheck::default_for("web");
        assert!(probe(&port, None, "a").await.is_err());
        // A loopback address of its own, so that port 5000 is free.
        let ip: IpAddr = format!(
            "127.91.{}.{}",
            std::process::id() % 250,
            1 + std::process::id() % 7
        )
        .parse()
        .expect("ip");
        let closed = probe(&port, Some(ip), "app.example")
            .await
            .expect_err("nothing listens");
        assert!(closed.starts_with("connecting"), "{closed}");
        let server = serve(ip).await;
        assert_eq!(probe(&port, Some(ip), "app.example").await, Ok(()));
        assert_eq!(probe(&http("/ok"), Some(ip), "app.example").await, Ok(()));
        let other = probe(&http("/health"), Some(ip), "app.example").await;
        assert_eq!(
            other,
            Err("GET /health answered 503 Service Unavailable".into())
        );
        let wants_503 = HealthCheck {
            status: Some(503),
            ..http("/health")
        };
        assert_eq!(probe(&wants_503, Some(ip), "app.example").await, Ok(()));
        let wants_200 = HealthCheck {
            status: Some(200),
            ..http("/ok")
        };
        assert_eq!(
            probe(&wants_200, Some(ip), "app.example").await,
            Err("GET /ok answered 204 No Content".into())
        );
        let wrong_host = probe(&http("/ok"), Some(ip), "other.example").await;
        assert!(wrong_host.is_err(), "{wrong_host:?}");
        server.abort();
        let _ = server.await;
        // A server that accepts and never answers.
        let silent = tokio::net::TcpListener::bind(SocketAddr::new(ip, WEB_PORT))
            .await
            .expect("bind again");
        let held = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = silent.accept().await {
                held.push(stream);
            }
        });
        let mute = probe(&http("/ok"), Some(ip), "app.example").await;
        assert_eq!(mute, Err("no answer within 1 s".into()));
        held.abort();
    }
}
