//! Images registered from an `http://` or `https://` URL (TLS with rustls, trusting the
//! system's authorities and those nubod was given): the file is fetched straight into the
//! datastore directory while its SHA-256 is computed; a `SHA256` attribute in the image's
//! template, when given, must match.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use nubo_types::{Error, ObjectKind, Result};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::image_files;

/// How long connecting and each wait for data may take.
const STALL: Duration = Duration::from_secs(60);

fn alloc(message: String) -> Error {
    Error::allocate(ObjectKind::Image, message)
}

/// Whether PATH names a URL rather than a file.
pub fn is_url(path: &str) -> bool {
    path.starts_with("http://") || path.starts_with("https://")
}

/// Fetches `url` into a new file of datastore directory `dir`; the file and its SHA-256.
pub async fn fetch(url: &str, dir: &Path, want_sha256: Option<&str>) -> Result<PathBuf> {
    let (tls, rest) = nubo_hostapi::tls::scheme(url).ok_or_else(|| {
        alloc(format!(
            "Cannot download \"{url}\": only http:// and https:// URLs are supported"
        ))
    })?;
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{p}")),
        None => (rest, "/".to_string()),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(alloc(format!("Cannot download \"{url}\": bad host")));
    }
    let address = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else if tls {
        format!("{authority}:443")
    } else {
        format!("{authority}:80")
    };
    let failed = |e: &dyn std::fmt::Display| alloc(format!("Cannot download \"{url}\": {e}"));
    let mut sender = tokio::time::timeout(STALL, nubo_hostapi::tls::http1(&address, tls))
        .await
        .map_err(|_| failed(&"connection timed out"))?
        .map_err(|e| failed(&e))?;
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

    #[tokio::test]
    async fn only_http_and_https_urls_are_fetched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = fetch("ftp://example.org/x.qcow2", dir.path(), None)
            .await
            .expect_err("no FTP");
        assert!(
            err.to_string().contains("only http:// and https://"),
            "{err}"
        );
        let err = fetch("https://user@example.org/x.qcow2", dir.path(), None)
            .await
            .expect_err("no credentials in URLs");
        assert!(err.to_string().contains("bad host"), "{err}");
        assert!(is_url("http://a/b") && is_url("https://a/b") && !is_url("/var/tmp/x"));
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
