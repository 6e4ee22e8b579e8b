//! TLS (rustls) where configured. A process trusts the system's certificate authorities
//! and those it was given ([`trust`]) for every `https://` connection it makes: nubod to
//! its agents and to image servers, an agent to nubod and to other agents. A listener
//! serves TLS (through `nubo_listener::serve`) when given a certificate and key
//! ([`server_config`]); otherwise it speaks plain HTTP, whose messages the host secret
//! still authenticates.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper_util::rt::TokioIo;
pub use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// What went wrong setting TLS up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What happened.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("TLS: {0}")]
    Config(String),
}

/// How long a TLS handshake with a server may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

fn file_error(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

static CLIENT: OnceLock<Arc<ClientConfig>> = OnceLock::new();

/// Makes every TLS connection of this process trust, besides the system's authorities,
/// the certificates in `ca_files` (PEM). Call once, at start, before any connection.
pub fn trust(ca_files: &[PathBuf]) -> Result<(), TlsError> {
    let config = client_config(ca_files)?;
    CLIENT
        .set(Arc::new(config))
        .map_err(|_| TlsError::Config("the trusted authorities were set already".into()))
}

fn client_config(ca_files: &[PathBuf]) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    for path in ca_files {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| file_error(path, e))?;
        let mut any = false;
        for cert in certs {
            let cert = cert.map_err(|e| file_error(path, e))?;
            roots.add(cert).map_err(|e| file_error(path, e))?;
            any = true;
        }
        if !any {
            return Err(file_error(path, "no certificate in the file"));
        }
    }
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

fn client() -> Result<Arc<ClientConfig>, String> {
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    let config = Arc::new(client_config(&[]).map_err(|e| e.to_string())?);
    Ok(CLIENT.get_or_init(|| config).clone())
}

/// A byte stream, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connects to `authority` (`HOST:PORT`), over TLS when `tls` (the certificate must name
/// HOST and chain to a trusted authority).
pub async fn connect(authority: &str, tls: bool) -> Result<Box<dyn Io>, String> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("cannot reach {authority}: {e}"))?;
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    secure(stream, host, authority, tls).await
}

/// Connects to `address`, an address of `host` already looked up (and checked) by the
/// caller, over TLS when `tls` (the certificate must name `host`).
pub async fn connect_at(address: SocketAddr, host: &str, tls: bool) -> Result<Box<dyn Io>, String> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| format!("cannot reach {host} at {address}: {e}"))?;
    secure(stream, host, host, tls).await
}

/// `stream`, over TLS with server name `host` when `tls`; `label` names it in errors.
async fn secure(
    stream: TcpStream,
    host: &str,
    label: &str,
    tls: bool,
) -> Result<Box<dyn Io>, String> {
    let _ = stream.set_nodelay(true);
    if !tls {
        return Ok(Box::new(stream));
    }
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("{label}: not a TLS server name: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(client()?);
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, stream))
        .await
        .map_err(|_| format!("{label}: the TLS handshake timed out"))?
        .map_err(|e| format!("{label}: TLS: {e}"))?;
    Ok(Box::new(stream))
}

/// An HTTP/1.1 connection to `authority` (over TLS when `tls`), ready for requests; the
/// connection is driven in the background until the sender is dropped.
pub async fn http1<B>(
    authority: &str,
    tls: bool,
) -> Result<hyper::client::conn::http1::SendRequest<B>, String>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    handshake(connect(authority, tls).await?, authority).await
}

/// An HTTP/1.1 connection to `address` of `host` (see [`connect_at`]), ready for requests.
pub async fn http1_at<B>(
    address: SocketAddr,
    host: &str,
    tls: bool,
) -> Result<hyper::client::conn::http1::SendRequest<B>, String>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    handshake(connect_at(address, host, tls).await?, host).await
}

async fn handshake<B>(
    stream: Box<dyn Io>,
    label: &str,
) -> Result<hyper::client::conn::http1::SendRequest<B>, String>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{label}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A server configuration from a certificate chain and its private key (PEM files).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert, e))?;
    if chain.is_empty() {
        return Err(file_error(cert, "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e))?;
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map(Arc::new)
        .map_err(|e| TlsError::Config(e.to_string()))
}

/// Whether `url` starts with `https://` (else it must be `http://`); the rest.
pub fn scheme(url: &str) -> Option<(bool, &str)> {
    if let Some(rest) = url.strip_prefix("https://") {
        Some((true, rest))
    } else {
        url.strip_prefix("http://").map(|rest| (false, rest))
    }
}
