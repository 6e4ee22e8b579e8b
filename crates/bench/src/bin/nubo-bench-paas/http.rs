//! HTTP for the benchmark: raw requests to the REST API and the router, and port checks.

use super::*;

/// A raw HTTP/1.1 answer.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a new connection (`Connection: close`).
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Reply> {
    let sock: SocketAddr = addr.parse().context("address")?;
    let mut s = TcpStream::connect_timeout(&sock, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut out = req.into_bytes();
    out.extend_from_slice(body);
    s.write_all(&out)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .context("no status")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
    if reply
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        reply.body = dechunk(&reply.body)?;
    }
    Ok(reply)
}

pub(crate) fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("bad chunk")?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).context("short chunk")?);
        data = data.get(size + 2..).context("short chunk")?;
    }
}

/// `text` in base64 (for HTTP Basic).
pub(crate) fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The REST API as oneadmin.
pub(crate) struct Rest {
    pub(crate) addr: String,
    pub(crate) auth: String,
}

impl Rest {
    pub(crate) fn get(&self, path: &str) -> Result<(u16, String)> {
        let r = self.raw("GET", path, "", b"")?;
        Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
    }

    pub(crate) fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let (status, body) = self.get(path)?;
        if status != 200 {
            bail!("GET {path} answered {status}: {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        ctype: &str,
        body: &[u8],
    ) -> Result<(u16, String)> {
        let r = self.raw(method, path, ctype, body)?;
        Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
    }

    pub(crate) fn raw(&self, method: &str, path: &str, ctype: &str, body: &[u8]) -> Result<Reply> {
        let mut headers = vec![
            ("Authorization", self.auth.as_str()),
            ("Accept", "application/json"),
        ];
        if !ctype.is_empty() {
            headers.push(("Content-Type", ctype));
        }
        http(
            &self.addr,
            method,
            &format!("/api/v1{path}"),
            &headers,
            body,
            Duration::from_secs(60),
        )
    }
}

/// The status of `GET /` through `addr` with `Host: host` (0: no answer).
pub(crate) fn status_via(addr: SocketAddr, host: &str) -> u16 {
    http(
        &addr.to_string(),
        "GET",
        "/",
        &[("Host", host)],
        b"",
        Duration::from_secs(5),
    )
    .map_or(0, |r| r.status)
}

/// Whether `addr` accepts a TCP connection within 50 ms.
pub(crate) fn port_open(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_ok()
}
