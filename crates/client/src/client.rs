//! [`Client`]: one endpoint and one session, and the raw [`Client::call`] every typed helper
//! goes through. Blocking, plain HTTP (ureq without TLS).

use std::fmt;
use std::time::Duration;

use nubo_xmlrpc::{MethodCall, Value, write_call};

use crate::ClientError;
use crate::env::Env;
use crate::reply::{self, HttpReply};
use crate::resource::{Noun, Resource};

/// Largest reply body read, in bytes: OpenNebula's own `MESSAGE_SIZE` (1 GiB).
const MAX_REPLY_BYTES: u64 = 1 << 30;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to one OpenNebula-compatible XML-RPC endpoint, as one user.
#[derive(Clone)]
pub struct Client {
    endpoint: String,
    session: String,
    agent: ureq::Agent,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("user", &self.username())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `endpoint` (e.g. `http://localhost:2633/RPC2`) with the session
    /// `user:password`, and no time limit per call.
    pub fn new(endpoint: &str, session: &str) -> Client {
        Client {
            endpoint: endpoint.to_owned(),
            session: session.to_owned(),
            agent: agent(None),
        }
    }

    /// A client configured like OpenNebula's: `ONE_XMLRPC`, `ONE_AUTH`, `ONE_XMLRPC_TIMEOUT`
    /// (see [`crate::env`]).
    pub fn from_env() -> Result<Client, ClientError> {
        Client::from_settings(&Env::from_process())
    }

    /// A client configured from explicit [`Env`] values.
    pub fn from_settings(env: &Env) -> Result<Client, ClientError> {
        Ok(Client::new(&env.endpoint(), &env.session()?).with_timeout(env.timeout()?))
    }

    /// The same client with a time limit for each whole call (None: no limit).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Client {
        self.agent = agent(timeout);
        self
    }

    /// The endpoint this client calls.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The user name part of the session.
    pub fn username(&self) -> &str {
        self.session.split_once(':').map_or("", |(user, _)| user)
    }

    /// Calls `method` with the session as parameter 0 followed by `params`, and returns the
    /// value of a successful reply (`[true, value, 0]`).
    pub fn call(&self, method: &str, params: Vec<Value>) -> Result<Value, ClientError> {
        if self
            .endpoint
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        {
            return Err(ClientError::TlsUnsupported {
                endpoint: self.endpoint.clone(),
            });
        }
        let mut all = Vec::with_capacity(params.len() + 1);
        all.push(Value::from(self.session.as_str()));
        all.extend(params);
        let body = write_call(&MethodCall {
            method: method.to_owned(),
            params: all,
        });
        let transport = |source| ClientError::Transport {
            endpoint: self.endpoint.clone(),
            source: Box::new(source),
        };
        let mut response = self
            .agent
            .post(&self.endpoint)
            .content_type("text/xml")
            .send(body.as_bytes())
            .map_err(transport)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = if status == 200 {
            response
                .body_mut()
                .with_config()
                .limit(MAX_REPLY_BYTES)
                .read_to_vec()
                .map_err(|source| ClientError::Body {
                    endpoint: self.endpoint.clone(),
                    source: Box::new(source),
                })?
        } else {
            Vec::new()
        };
        reply::interpret(
            &self.endpoint,
            method,
            HttpReply {
                status,
                content_type: content_type.as_deref(),
                body: &bytes,
            },
        )
    }

    /// Calls a method that answers with an object id.
    pub fn call_id(&self, method: &str, params: Vec<Value>) -> Result<i32, ClientError> {
        reply::id(method, self.call(method, params)?)
    }

    /// Calls a method that answers with a string (usually an XML document).
    pub fn call_string(&self, method: &str, params: Vec<Value>) -> Result<String, ClientError> {
        reply::string(method, self.call(method, params)?)
    }

    /// Calls on objects of kind `N`; [`Client::user`], [`Client::image`]… are shortcuts.
    pub fn resource<N: Noun>(&self) -> Resource<'_, N> {
        Resource::new(self)
    }

    /// `one.system.version`: the server's version, e.g. `7.4.0`.
    pub fn version(&self) -> Result<String, ClientError> {
        self.call_string("one.system.version", vec![])
    }

    /// `one.system.config`: the server's configuration as XML.
    pub fn config(&self) -> Result<String, ClientError> {
        self.call_string("one.system.config", vec![])
    }
}

/// An HTTP agent that reports every status itself and limits each call to `timeout`.
fn agent(timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(timeout)
        .user_agent(concat!("nubo-client/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let c = Client::new("http://h/RPC2", "alice:s3cret");
        let shown = format!("{c:?}");
        assert!(shown.contains("alice"));
        assert!(!shown.contains("s3cret"));
        assert_eq!(c.username(), "alice");
        assert_eq!(c.endpoint(), "http://h/RPC2");
    }

    #[test]
    fn https_is_refused_before_any_io() {
        let c = Client::new("HTTPS://h/RPC2", "a:b");
        assert!(matches!(
            c.call("one.system.version", vec![]),
            Err(ClientError::TlsUnsupported { .. })
        ));
    }

    /// Serves one canned HTTP answer on a free port; yields the request body it got.
    fn serve_once(
        status: &str,
        content_type: &str,
        body: String,
    ) -> (String, std::sync::mpsc::Receiver<Vec<u8>>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}/RPC2", listener.local_addr().expect("addr"));
        let (tx, rx) = std::sync::mpsc::channel();
        let status = status.to_owned();
        let content_type = content_type.to_owned();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("header");
                if line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().expect("length");
                }
            }
            let mut request = vec![0; length];
            reader.read_exact(&mut request).expect("body");
            let _ = tx.send(request);
            let mut stream = stream;
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).expect("write");
            stream.write_all(body.as_bytes()).expect("write");
        });
        (endpoint, rx)
    }

    #[test]
    fn calls_send_the_session_first_and_unwrap_the_reply() {
        let reply = nubo_xmlrpc::write_response(&nubo_xmlrpc::success(Value::Int(42)));
        let (endpoint, requests) = serve_once("200 OK", "text/xml", reply);
        let client = Client::new(&endpoint, "alice:pw");
        let id = client
            .call_id("one.user.allocate", vec![Value::from("bob")])
            .expect("call");
        assert_eq!(id, 42);
        let request = requests.recv().expect("request");
        let call = nubo_xmlrpc::parse_call(&request).expect("a valid call");
        assert_eq!(call.method, "one.user.allocate");
        assert_eq!(
            call.params,
            vec![Value::from("alice:pw"), Value::from("bob")]
        );
    }

    #[test]
    fn http_errors_and_foreign_servers_are_reported() {
        let (endpoint, _rx) = serve_once("500 Internal Server Error", "text/plain", "oops".into());
        let err = Client::new(&endpoint, "a:b").version().expect_err("500");
        assert!(
            matches!(err, ClientError::Http { status: 500, .. }),
            "{err:?}"
        );
        let (endpoint, _rx) = serve_once("200 OK", "text/html", "<html/>".into());
        let err = Client::new(&endpoint, "a:b").version().expect_err("html");
        assert!(matches!(err, ClientError::ContentType { .. }), "{err:?}");
    }

    #[test]
    fn unreachable_endpoints_are_transport_errors() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let c = Client::new(&format!("http://127.0.0.1:{port}/RPC2"), "a:b");
        let err = c.version().expect_err("nothing listens");
        assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
        assert_eq!(err.category(), crate::error::Category::Unreachable);
    }
}
