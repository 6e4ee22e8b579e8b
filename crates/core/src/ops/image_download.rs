//! Images registered from an `http://` or `https://` URL (TLS with rustls, trusting the
//! system's authorities and those nubod was given): the host is looked up once and its
//! addresses checked ([`super::image_sources::resolve`]: no loopback, link-local or own
//! address unless configured), the connection goes to a checked address, and the file is
//! fetched straight into the datastore directory while its SHA-256 is computed; a `SHA256`
//! attribute in the image's template, when given, must match.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use nubo_types::{Error, ObjectKind, Result};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::image_files;
use super::image_sources::{self, ImageImports};

/// How long connecting and each wait for data may take.
const STALL: Duration = Duration::from_secs(60);

fn alloc(message: String) -> Error {
    Error::allocate(ObjectKind::Image, message)
}

/// Whether PATH names a URL rather than a file.
pub fn is_url(path: &str) -> bool {
    path.starts_with("http://") || path.starts_with("https://")
}

/// Host (without brackets) and port of a URL's authority; None if malformed.
fn host_port(authority: &str, tls: bool) -> Option<(&str, u16)> {
    let default = if tls { 443 } else { 80 };
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']')?;
            if after.is_empty() {
                (host, None)
            } else {
                (host, Some(after.strip_prefix(':')?))
            }
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default,
    };
    (!host.is_empty()).then_some((host, port))
}

/// Fetches `url` into a new file of datastore directory `dir`, connecting only to
/// addresses `imports` allows ([`image_sources::resolve`]). Redirects are not followed:
/// any answer but 200 fails.
pub async fn fetch(
    url: &str,
    dir: &Path,
    want_sha256: Option<&str>,
    imports: &ImageImports,
) -> Result<PathBuf> {
    let (tls, rest) = nubo_hostapi::tls::scheme(url).ok_or_else(|| {
        alloc(format!(
            "Cannot download \"{url}\": only http:// and https:// URLs are supported"
        ))
    })?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let path = path.split('#').next().unwrap_or("/").to_string();
    let bad_host = || alloc(format!("Cannot download \"{url}\": bad host"));
    if authority.contains('@') {
        return Err(bad_host());
    }
    let (host, port) = host_port(authority, tls).ok_or_else(bad_host)?;
    let addrs = image_sources::resolve(host, port, imports)
        .await
        .map_err(|why| alloc(format!("Not allowed to download \"{url}\": {why}")))?;
    let failed = |e: &dyn std::fmt::Display| alloc(format!("Cannot download \"{url}\": {e}"));
    let mut sender = None;
    let mut last = String::new();
    for addr in addrs {
        match tokio::time::timeout(STALL, nubo_hostapi::tls::http1_at(addr, host, tls)).await {
            Ok(Ok(s)) => {
                sender = Some(s);
                break;
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = "connection timed out".into(),
        }
    }
    let mut sender = sender.ok_or_else(|| failed(&last))?;
    let request = hyper::Request::get(&path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, "nubod")
        .body(Empty::<Bytes>::new())
        .map_err(|e| failed(&e))?;
    let response = tokio::time::timeout(STALL, sender.send_request(request))
        .await
        .map_err(|_| failed(&"no answer"))?
        .map_err(|e| failed(&e))?;
    if response.status() != hyper::StatusCode::OK {
        return Err(failed(&format!(
            "the server answered {}",
            response.status()
        )));
    }
    let dest = image_files::new_file_in(dir).await?;
    let result = async {
        let mut file = tokio::fs::File::create(&dest)
            .await
            .map_err(|e| failed(&e))?;
        let mut hasher = Sha256::new();
        let mut body = response.into_body();
        loop {
            let frame = tokio::time::timeout(STALL, body.frame())
                .await
                .map_err(|_| failed(&"the transfer stalled"))?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| failed(&e))?;
            if let Ok(data) = frame.into_data() {
                hasher.update(&data);
                file.write_all(&data).await.map_err(|e| failed(&e))?;
            }
        }
        file.sync_all().await.map_err(|e| failed(&e))?;
        let got = hex::encode(hasher.finalize());
        match want_sha256 {
            Some(want) if !want.eq_ignore_ascii_case(&got) => Err(alloc(format!(
                "Downloaded \"{url}\" has SHA-256 {got}, not the {want} its SHA256 says"
            ))),
            _ => Ok(()),
        }
    }
    .await;
    match result {
        Ok(()) => Ok(dest),
        Err(e) => {
            image_files::remove(&dest).await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(nubo_testkit::cases(4096))]

        /// Any authority text is taken apart without a panic, and one written from a host
        /// and a port reads back as them (IPv6 hosts in brackets).
        #[test]
        fn fuzz_url_authorities(
            text in ".{0,64}",
            host in "[a-z0-9.-]{1,20}|[0-9a-f:]{2,39}",
            port in any::<u16>(),
            tls in any::<bool>(),
        ) {
            let _ = host_port(&text, tls);
            let written = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            prop_assert_eq!(host_port(&written, tls), Some((host.as_str(), port)));
        }
    }

    #[tokio::test]
    async fn only_http_and_https_urls_are_fetched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = ImageImports::default();
        let err = fetch("ftp://example.org/x.qcow2", dir.path(), None, &none)
            .await
            .expect_err("no FTP");
        assert!(
            err.to_string().contains("only http:// and https://"),
            "{err}"
        );
        let err = fetch("https://user@example.org/x.qcow2", dir.path(), None, &none)
            .await
            .expect_err("no credentials in URLs");
        assert!(err.to_string().contains("bad host"), "{err}");
        assert!(is_url("http://a/b") && is_url("https://a/b") && !is_url("/var/tmp/x"));
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn authorities_are_split_into_host_and_port() {
        assert_eq!(host_port("example.org", false), Some(("example.org", 80)));
        assert_eq!(host_port("example.org", true), Some(("example.org", 443)));
        assert_eq!(host_port("10.0.0.1:8080", true), Some(("10.0.0.1", 8080)));
        assert_eq!(host_port("[::1]", false), Some(("::1", 80)));
        assert_eq!(host_port("[::1]:2633", false), Some(("::1", 2633)));
        for bad in ["", ":80", "h:x", "h:1:2", "[::1", "[::1]x", "h:99999"] {
            assert_eq!(host_port(bad, false), None, "{bad}");
        }
    }
}
