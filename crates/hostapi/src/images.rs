//! Image transfer from the front-end to a host: the agent asks nubod for an image's file
//! (`GET /v1/images/<ID>`, signed with the host's secret), nubod streams it with its SHA-256
//! in a header and signs the answer over that digest; the agent writes it while hashing and
//! keeps it only if the digest it computed matches both. With the digest of the copy it
//! already holds, the agent is answered 304 when nothing changed. The other way, an agent
//! sends nubod a disk saved as a new image ([`upload`]).

use std::path::Path;

use futures_util::TryStreamExt;
use http_body_util::StreamBody;

use crate::auth;
use crate::client::{Answer, Endpoint, Signed, send, send_signed};

/// Where nubod serves image files (followed by the image's id).
pub const IMAGES_PATH: &str = "/v1/images/";
/// Request header: the SHA-256 of the copy the host has.
pub const HAVE_HEADER: &str = "x-nubo-have-sha256";
/// Response header: the SHA-256 of the file sent.
pub const SHA256_HEADER: &str = "x-nubo-sha256";

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The host's copy is current.
    Unchanged,
    /// A new copy was written; its SHA-256.
    Written(String),
}

/// A host's identity when it fetches from nubod.
#[derive(Debug, Clone)]
pub struct HostIdentity {
    /// The host's name.
    pub name: String,
    /// The host's secret.
    pub secret: String,
}

/// How long a download waits for nubod when it cannot be reached, and the first and the
/// longest pause between two attempts.
const UNREACHED_FOR: std::time::Duration = std::time::Duration::from_secs(60);
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(250);
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Splits `http(s)://HOST:PORT/PATH` into an endpoint and the path.
pub fn split_url(url: &str) -> Result<(Endpoint, String), String> {
    let (tls, rest) =
        crate::tls::scheme(url).ok_or_else(|| format!("\"{url}\" is not an http(s):// URL"))?;
    let (authority, path) = rest
        .split_once('/')
        .ok_or_else(|| format!("\"{url}\" has no path"))?;
    let mut endpoint = Endpoint::parse(authority)?;
    endpoint.tls = tls;
    Ok((endpoint, format!("/{path}")))
}

/// Fetches `url` into `dest` unless `have` (the SHA-256 of the current copy) is still
/// current.
pub async fn fetch(
    who: &HostIdentity,
    url: &str,
    dest: &Path,
    have: Option<&str>,
) -> Result<Fetched, String> {
    let (endpoint, path) = split_url(url)?;
    let headers: Vec<(&str, &str)> = have.map(|h| (HAVE_HEADER, h)).into_iter().collect();
    // nubod restarting is waited for (a minute): the download is only a GET.
    let give_up = tokio::time::Instant::now() + UNREACHED_FOR;
    let mut pause = RETRY_FIRST;
    let (signature, response) = loop {
        match send(
            &endpoint,
            &who.name,
            &who.secret,
            "GET",
            &path,
            Vec::new(),
            &headers,
        )
        .await
        {
            Err(e) if tokio::time::Instant::now() + pause < give_up => {
                tracing::debug!(url, error = e, "nubod unreached; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RETRY_MAX);
            }
            sent => break sent?,
        }
    };
    let status = response.status().as_u16();
    if status != 200 {
        let answer = Answer::from_nubod(response, &who.secret, &signature, url).await?;
        if status == 304 {
            return Ok(Fetched::Unchanged);
        }
        return Err(format!("{url}: {status} {}", answer.text()));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let answer_signature = header(auth::SIGNATURE_HEADER);
    let announced = header(SHA256_HEADER);
    let tmp = dest.with_extension("part");
    let got = crate::files::receive(response.into_body(), &tmp, url).await?;
    let checked = auth::verify_response_digest(
        &who.secret,
        &signature,
        status,
        answer_signature.as_deref(),
        &got,
    );
    if let Err(e) = checked {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(format!(
            "{url}: the image arrived damaged or not from nubod: {e}"
        ));
    }
    if announced.as_deref() != Some(got.as_str()) {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(format!("{url}: checksum mismatch"));
    }
    tokio::fs::rename(&tmp, dest)
        .await
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    Ok(Fetched::Written(got))
}

/// Sends `file` to nubod as the content of image `url` (`PUT /v1/images/<ID>`, the
/// image a disk-saveas makes): signed over the file's SHA-256, which nubod checks once
/// it has written the file.
pub async fn upload(who: &HostIdentity, url: &str, file: &Path) -> Result<(), String> {
    let (endpoint, path) = split_url(url)?;
    let sha = crate::files::sha256(file).await?;
    let length = tokio::fs::metadata(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?
        .len()
        .to_string();
    let handle = tokio::fs::File::open(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let body = StreamBody::new(crate::files::file_chunks(handle).map_ok(hyper::body::Frame::data));
    let date = crate::now();
    let signature = auth::sign_request_digest(&who.secret, "PUT", &path, date, &sha);
    let signed = Signed {
        name: &who.name,
        date,
        signature: &signature,
    };
    let headers = [
        (SHA256_HEADER, sha.as_str()),
        ("content-length", length.as_str()),
    ];
    let response = send_signed(&endpoint, &signed, "PUT", &path, body, &headers).await?;
    Answer::from_nubod(response, &who.secret, &signature, url)
        .await?
        .ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_endpoint_and_path() {
        let (e, p) = split_url("http://10.0.0.1:2635/v1/images/7").expect("ok");
        assert_eq!(
            (e.authority.as_str(), p.as_str()),
            ("10.0.0.1:2635", "/v1/images/7")
        );
        assert!(split_url("ftp://x/y").is_err());
        assert!(split_url("https://x:1/y").expect("ok").0.tls);
        assert!(split_url("http://x").is_err());
    }
}
